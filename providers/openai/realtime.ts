/**
 * `openaiRealtime(settings)`: OpenAI's Realtime API (speech to speech over WebSocket) as a
 * `realtime` target, the capability `client.realtime()` sessions run on
 * (`inferlane/providers/openai-realtime`).
 *
 * Node: the `ws` package (an optional peer dependency, imported on the first connection; Node 20
 * has no WebSocket of its own), authenticated with an `Authorization` header. Browsers and other
 * runtimes with a WHATWG WebSocket: the page's own, authenticated with the subprotocol
 * `openai-insecure-api-key.<key>`, as OpenAI documents for browsers. A page uses an ephemeral
 * client secret (`clientSecret`, minted by your server with `createClientSecret`), never the
 * secret key: a key is refused in a browser unless `dangerouslyAllowBrowser` says otherwise.
 *
 * Imports: src/target.ts and src/errors.ts only, and this folder's realtime-wire.ts.
 */
import { AbortedError, InvalidRequestError, NetworkError, redact } from '../../src/provider.js';
import type { RealtimeCapability, RealtimeConnection, RealtimeConnectOptions, RealtimeContext, RealtimeServerEvent, Target } from '../../src/provider.js';
import { commandEvent, historyItem, refusedError, type RealtimeDialect, ServerEventReader, sessionUpdate } from './realtime-wire.js';

export { createClientSecret, type ClientSecret, type CreateClientSecretOptions } from './realtime-secrets.js';
export type { RealtimeDialect } from './realtime-wire.js';

/** The WHATWG WebSocket surface used here (the browser's, Node 22's, and `ws`'s all have it). */
export interface WebSocketLike {
  readonly readyState: number;
  binaryType: string;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  addEventListener(type: 'open' | 'message' | 'close' | 'error', listener: (event: { data?: unknown; code?: number; reason?: string; message?: string; error?: unknown }) => void): void;
  /** `ws` only: drops the socket at once (no closing handshake, no timer left behind). */
  terminate?(): void;
}
export type WebSocketConstructor = new (url: string, protocols?: string | string[], options?: { headers?: Record<string, string> }) => WebSocketLike;

export interface OpenAIRealtimeSettings {
  /** Unique in a client. @default `openai-realtime:<model>` */
  id?: string;
  /** @default 'gpt-realtime' */
  model?: string;
  /** Where the API lives; http(s) is read as ws(s). @default 'wss://api.openai.com/v1' */
  baseURL?: string;
  /** The secret key: for servers. @default process.env.OPENAI_API_KEY when `process` exists and no clientSecret is given */
  apiKey?: string;
  /**
   * An ephemeral client secret (`ek_...`), or a function that fetches a fresh one from your server
   * before every connection (secrets expire: 10 minutes by default). What pages use.
   */
  clientSecret?: string | (() => Promise<string> | string);
  /** Allows the secret key in a browser-like runtime, where anyone can read it. @default false */
  dangerouslyAllowBrowser?: boolean;
  /** Wire dialect: `ga` (gpt-realtime) or `beta` (preview models, `OpenAI-Beta: realtime=v1`). @default 'ga' */
  dialect?: RealtimeDialect;
  /** Default voice. @default 'alloy' */
  voice?: string;
  /** Model that transcribes the user's audio (the session's `input-transcript` events). @default 'gpt-4o-mini-transcribe' ('whisper-1' on beta) */
  transcriptionModel?: string;
  /** The provider's longest session, ms; sessions close themselves then. @default 3,600,000 (OpenAI: 60 minutes) */
  maxSessionMs?: number;
  /** PCM16 sample rate both ways, Hz. @default 24,000 (the API's `audio/pcm` rate) */
  sampleRate?: number;
  /** Latency priors, ms (time to the first audio), replaced by measurements. @default none */
  expected?: { ttftMs?: number; totalMs?: number };
  /** A WebSocket implementation (WHATWG-shaped; authenticates with the subprotocol). @default globalThis.WebSocket in browsers, `ws` in Node */
  WebSocket?: WebSocketConstructor;
  /** How long `close()` waits for the server's closing handshake before dropping the socket, ms. @default 1,000 */
  closeTimeoutMs?: number;
}

export interface OpenAIRealtimeTarget extends Target {
  kind: 'realtime';
  provider: 'openai';
  realtime: RealtimeCapability;
}

/** OPEN in every WebSocket implementation. */
const open = 1;

export function openaiRealtime(settings: OpenAIRealtimeSettings = {}): OpenAIRealtimeTarget {
  if (typeof settings !== 'object' || settings === null) throw new InvalidRequestError('settings', 'openaiRealtime() takes an options object');
  const model = settings.model ?? 'gpt-realtime';
  if (typeof model !== 'string' || model.trim() === '') throw new InvalidRequestError('model', 'must be a non-empty model id, e.g. "gpt-realtime"');
  const dialect = settings.dialect ?? 'ga';
  if (dialect !== 'ga' && dialect !== 'beta') throw new InvalidRequestError('dialect', `must be 'ga' or 'beta', got '${String(dialect)}'`);
  if (settings.clientSecret !== undefined && typeof settings.clientSecret !== 'string' && typeof settings.clientSecret !== 'function') {
    throw new InvalidRequestError('clientSecret', 'must be a string or a function returning one');
  }
  const id = settings.id ?? `openai-realtime:${model}`;
  const maxSessionMs = positive(settings.maxSessionMs, 'maxSessionMs') ?? 3_600_000;
  const sampleRate = positive(settings.sampleRate, 'sampleRate') ?? 24_000;
  const closeTimeoutMs = positive(settings.closeTimeoutMs, 'closeTimeoutMs') ?? 1_000;
  const url = `${webSocketBase(settings.baseURL ?? 'wss://api.openai.com/v1')}/realtime?model=${encodeURIComponent(model)}`;
  const apiKey = settings.clientSecret === undefined ? resolveApiKey(settings) : undefined;
  const wire = { dialect, model, sampleRate, voice: settings.voice ?? 'alloy', transcriptionModel: settings.transcriptionModel ?? (dialect === 'beta' ? 'whisper-1' : 'gpt-4o-mini-transcribe') };

  const secretFor = async (): Promise<string> => {
    const source = settings.clientSecret;
    if (source === undefined) return apiKey!;
    const secret = typeof source === 'function' ? await source() : source;
    if (typeof secret !== 'string' || secret === '') throw new InvalidRequestError('clientSecret', 'gave no secret (expected a non-empty string such as "ek_...")');
    return secret;
  };

  const connect = async (options: RealtimeConnectOptions, ctx: RealtimeContext): Promise<RealtimeConnection> => {
    if (ctx.signal.aborted) throw abortedError(id, ctx.signal);
    const secret = await secretFor();
    const socketClass = await webSocketClass(settings.WebSocket);
    if (ctx.signal.aborted) throw abortedError(id, ctx.signal);
    const socket = socketClass.viaHeaders
      ? new socketClass.constructor(url, undefined, { headers: dialect === 'beta' ? { Authorization: `Bearer ${secret}`, 'OpenAI-Beta': 'realtime=v1' } : { Authorization: `Bearer ${secret}` } })
      : new socketClass.constructor(url, ['realtime', `openai-insecure-api-key.${secret}`, ...(dialect === 'beta' ? ['openai-beta.realtime-v1'] : [])]);
    return openConnection(socket, options, ctx, { id, dialect, closeTimeoutMs, session: sessionUpdate(options, wire) });
  };

  return {
    id,
    kind: 'realtime',
    provider: 'openai',
    // Transcripts and speech come out of a session; the router never sends one-shot calls here
    // (no do* method), so these only describe what sessions produce.
    modalities: ['speech', 'transcription'],
    expected: settings.expected,
    realtime: { maxSessionMs, sampleRate, connect },
  };
}

interface ConnectionSettings {
  id: string;
  dialect: RealtimeDialect;
  closeTimeoutMs: number;
  session: Record<string, unknown>;
}

/** Runs one socket: configures the session, resolves when it is ready, then reports events until it closes. */
function openConnection(socket: WebSocketLike, options: RealtimeConnectOptions, ctx: RealtimeContext, settings: ConnectionSettings): Promise<RealtimeConnection> {
  const { id, dialect } = settings;
  const reader = new ServerEventReader(id);
  let state: 'connecting' | 'ready' | 'closing' | 'closed' = 'connecting';
  let closeTimer: ReturnType<typeof setTimeout> | undefined;
  let resolveClosed!: () => void;
  const closed = new Promise<void>((resolve) => (resolveClosed = resolve));
  let refusedStatus: number | undefined;
  let failure: unknown;
  /** The caller holds the connection: from then on its end is reported as a `closed` event. */
  let handedOut = false;

  return new Promise<RealtimeConnection>((resolve, reject) => {
    // A failed attempt rejects once its socket is gone (its 'close' event), so nothing outlives it.
    let failedWith: { error: unknown } | undefined;
    const onAbort = () => {
      if (state !== 'connecting') return;
      failedWith = { error: abortedError(id, ctx.signal) };
      state = 'closing';
      drop();
    };
    const drop = () => {
      if (socket.terminate) socket.terminate();
      else socket.close();
    };
    const sendWire = (event: Record<string, unknown>) => {
      if (socket.readyState === open) socket.send(JSON.stringify(event));
    };
    const connection: RealtimeConnection = {
      send(command) {
        if (state !== 'ready') return;
        sendWire(commandEvent(command, dialect));
      },
      close() {
        if (state === 'ready') {
          state = 'closing';
          socket.close(1000, 'closed by the client');
          // A server that never answers the closing handshake must not hold the session (ws would wait 30 s).
          closeTimer = setTimeout(drop, settings.closeTimeoutMs);
        }
        return closed;
      },
    };
    ctx.signal.addEventListener('abort', onAbort, { once: true });

    socket.addEventListener('open', () => {
      sendWire(settings.session);
      for (const item of options.history ?? []) sendWire(historyItem(item.role, item.content, dialect));
    });
    socket.addEventListener('message', (message) => {
      let event: Record<string, unknown>;
      try {
        event = JSON.parse(typeof message.data === 'string' ? message.data : new TextDecoder().decode(message.data as ArrayBuffer)) as Record<string, unknown>;
      } catch {
        return; // not JSON: nothing the protocol defines; ignore rather than fail the session
      }
      for (const neutral of reader.read(event)) {
        if (neutral.type === 'session-ready' && state === 'connecting') {
          state = 'ready';
          handedOut = true;
          ctx.signal.removeEventListener('abort', onAbort);
          resolve(connection);
        }
        if (neutral.type === 'error' && state === 'connecting') failure = neutral.error;
        if (state !== 'closed') options.onEvent(neutral);
      }
    });
    socket.addEventListener('error', (event) => {
      // ws reports a refused upgrade as "Unexpected server response: 503"; browsers say nothing.
      const status = /Unexpected server response: (\d{3})/.exec(String(event.message ?? (event.error as Error | undefined)?.message ?? ''))?.[1];
      if (status) refusedStatus = Number(status);
      failure ??= event.error;
    });
    socket.addEventListener('close', (event) => {
      const expected = state === 'closing';
      if (!handedOut) {
        failedWith ??= { error: refusedStatus !== undefined || failure === undefined ? refusedError(refusedStatus, id, failure) : networkError(id, failure) };
        reject(failedWith.error);
      }
      state = 'closed';
      if (closeTimer !== undefined) clearTimeout(closeTimer);
      ctx.signal.removeEventListener('abort', onAbort);
      if (handedOut) {
        const closedEvent: RealtimeServerEvent = { type: 'closed', expected, code: event.code, reason: event.reason ? redact(String(event.reason)) : undefined };
        if (event.code === 1001 || /session expired|maximum duration/i.test(String(event.reason ?? ''))) closedEvent.sessionExpired = true;
        options.onEvent(closedEvent);
      }
      resolveClosed();
    });
  });
}

function abortedError(target: string, signal: AbortSignal): unknown {
  // The session's budget aborts with its own DeadlineExceededError: keep it.
  return signal.reason !== undefined && typeof signal.reason === 'object' ? signal.reason : new AbortedError(`the realtime connection to ${target} was aborted`, { target });
}

function networkError(target: string, cause: unknown): NetworkError {
  const detail = cause instanceof Error ? `: ${redact(cause.message)}` : '';
  return new NetworkError(`${target} could not be reached${detail}`, { target, cause });
}

function positive(value: number | undefined, field: string): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !(value > 0) || !Number.isFinite(value)) throw new InvalidRequestError(field, 'must be a positive number');
  return value;
}

/** 'https://host/v1' -> 'wss://host/v1', without a trailing slash. */
function webSocketBase(baseURL: string): string {
  let parsed: URL;
  try {
    parsed = new URL(baseURL);
  } catch {
    throw new InvalidRequestError('baseURL', 'must be an absolute URL, e.g. "wss://api.openai.com/v1"');
  }
  if (parsed.protocol === 'http:') parsed.protocol = 'ws:';
  else if (parsed.protocol === 'https:') parsed.protocol = 'wss:';
  else if (parsed.protocol !== 'ws:' && parsed.protocol !== 'wss:') throw new InvalidRequestError('baseURL', `must be ws(s) or http(s), got '${parsed.protocol}'`);
  return parsed.href.replace(/\/+$/, '');
}

/** Pages, workers and Deno-like runtimes: anything that is not Node. */
function isBrowserLike(): boolean {
  const g = globalThis as { window?: unknown; document?: unknown; process?: { versions?: { node?: string } } };
  return typeof g.window !== 'undefined' || typeof g.document !== 'undefined' || typeof g.process?.versions?.node !== 'string';
}

function resolveApiKey(settings: OpenAIRealtimeSettings): string {
  const env = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env;
  const apiKey = settings.apiKey ?? env?.OPENAI_API_KEY;
  if (!apiKey) throw new InvalidRequestError('apiKey', 'openaiRealtime() needs apiKey (servers) or clientSecret (browsers); OPENAI_API_KEY is not set');
  if (isBrowserLike() && !settings.dangerouslyAllowBrowser) {
    throw new InvalidRequestError(
      'apiKey',
      'a secret key would be exposed in this browser; mint an ephemeral client secret on your server (createClientSecret) and pass clientSecret, or pass dangerouslyAllowBrowser: true if the key is meant to be public',
    );
  }
  return apiKey;
}

/** The WebSocket to use: the caller's, the runtime's in browsers, `ws` in Node (loaded once). */
async function webSocketClass(given: WebSocketConstructor | undefined): Promise<{ constructor: WebSocketConstructor; viaHeaders: boolean }> {
  if (given) return { constructor: given, viaHeaders: false };
  const native = (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
  if (isBrowserLike()) {
    if (!native) throw new InvalidRequestError('WebSocket', 'this runtime has no WebSocket; pass settings.WebSocket');
    return { constructor: native, viaHeaders: false };
  }
  try {
    wsModule ??= import('ws') as Promise<{ WebSocket: WebSocketConstructor }>;
    return { constructor: (await wsModule).WebSocket, viaHeaders: true };
  } catch (error) {
    wsModule = undefined;
    if (native) return { constructor: native, viaHeaders: false };
    throw new InvalidRequestError('WebSocket', `realtime sessions in Node need the 'ws' package (npm install ws): ${error instanceof Error ? error.message : String(error)}`);
  }
}
let wsModule: Promise<{ WebSocket: WebSocketConstructor }> | undefined;
