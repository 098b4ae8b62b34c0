/**
 * A local emulation of OpenAI's Realtime API over WebSocket, for tests and benchmarks: the real
 * adapter (providers/openai/realtime.ts) connects to it through `ws` in Node or the page's
 * WebSocket in Chromium.
 *
 *   const server = await startRealtimeServer({ firstAudioDelayMs: 20 });
 *   openaiRealtime({ baseURL: server.baseURL, apiKey: server.apiKey })
 *   ...
 *   await server.close();
 *
 * Routes: GET (upgrade) /v1/realtime?model=..., POST /v1/realtime/client_secrets (mints an
 * ephemeral `ek_...` secret; needs the secret key). A socket authenticates with
 * `Authorization: Bearer <key>` (servers) or the subprotocol `openai-insecure-api-key.<key>`
 * (browsers), with the secret key or a minted secret.
 *
 * Client events handled: session.update, input_audio_buffer.append / commit / clear,
 * conversation.item.create (messages and function_call_output), response.create,
 * response.cancel. Server events sent, named per `dialect` ('ga' or 'beta' where the API renamed
 * them): session.created / updated, input_audio_buffer.speech_started / speech_stopped /
 * committed / cleared, conversation.item.added (beta: conversation.item.created),
 * conversation.item.input_audio_transcription.completed, response.created,
 * response.output_item.added, response.output_audio_transcript.delta
 * (response.audio_transcript.delta), response.output_audio.delta (response.audio.delta),
 * response.function_call_arguments.delta / done, response.done, error.
 *
 * It hears and speaks the tone alphabet (tone-codec.ts): input audio is decoded into the user's
 * words, replies are spoken as tones, so a test can read what went each way. Server VAD is an
 * energy detector over 20 ms frames, timed by the audio's own length (not the wall clock).
 *
 * Scripts (`options`, changeable with `script()` between cases): refusals (an HTTP status for
 * the upgrade), latencies (before session.created, before the first audio of a response, between
 * deltas), hung responses, socket drops after N audio deltas (once per `dropNext`), and the
 * session limit (error `session_expired`, close 1001). Every connection's client events are
 * recorded (audio as byte counts).
 *
 * Imports: node built-ins, ws, ./tone-codec.js.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import { decodeTones, toneSpeech } from './tone-codec.js';

export type RealtimeDialect = 'ga' | 'beta';

/** What the emulated model answers: words to speak, or a function call. */
export type RealtimeReply = { text: string } | { toolCall: { name: string; arguments: string } };

export interface ReplyContext {
  /** The conversation so far, oldest first (the newest user message last). */
  items: ConversationItem[];
  tools: { name: string }[];
  instructions?: string;
}

export interface ConversationItem {
  type: 'message' | 'function_call' | 'function_call_output';
  role?: 'system' | 'user' | 'assistant';
  text?: string;
  callId?: string;
  name?: string;
  output?: string;
}

export interface RealtimeServerOptions {
  /** The secret key the server accepts (and needs to mint client secrets). @default 'sk-emulated-realtime-key' */
  apiKey?: string;
  /** Event names it sends. @default 'ga' */
  dialect?: RealtimeDialect;
  /** Refuse every upgrade with this HTTP status (e.g. 503, 401). @default none */
  refuseStatus?: number;
  /** Wait before `session.created`, ms. @default 0 */
  connectDelayMs?: number;
  /** Wait between `response.created` and the first audio, ms. @default 0 */
  firstAudioDelayMs?: number;
  /** Wait between two deltas, ms. @default 0 */
  interDeltaMs?: number;
  /** Responses start but never send audio nor finish (a hung model). @default false */
  hangResponses?: boolean;
  /** Sends `session_expired` and closes with 1001 this long after the session starts, ms. @default none */
  maxSessionMs?: number;
  /** Sample rate of input and output audio, Hz. @default 24,000 */
  sampleRate?: number;
  /** Words per transcript delta; each word's audio follows its transcript. @default 1 */
  wordsPerDelta?: number;
  /** Frames of silence after speech before the server VAD says it stopped. @default the session's silence_duration_ms / 20, else 10 */
  vadSilenceFrames?: number;
  /** The model. @default echoes: "you said <words>"; "call <words>" calls the first tool; after a tool output: "the tool said <output>" */
  reply?: (context: ReplyContext) => RealtimeReply;
}

/** One client event as recorded (audio replaced by its byte count). */
export interface RecordedEvent {
  type: string;
  event: Record<string, unknown>;
  at: number;
}

export interface RealtimeConnectionRecord {
  id: number;
  /** How the socket authenticated. */
  auth: 'header' | 'subprotocol';
  /** Which key: the secret key or a minted client secret. */
  credential: 'secret-key' | 'client-secret';
  model: string | null;
  events: RecordedEvent[];
  /** Items in the server's conversation, in order. */
  items: ConversationItem[];
  closed: boolean;
  /** Set when the server dropped the socket on purpose (a scripted drop). */
  dropped: boolean;
}

export interface RealtimeEmulation {
  /** 'http://127.0.0.1:PORT' */
  url: string;
  /** 'ws://127.0.0.1:PORT/v1': the adapter's `baseURL`. */
  baseURL: string;
  apiKey: string;
  connections: RealtimeConnectionRecord[];
  /** Upgrade attempts, refused ones included. */
  upgrades: number;
  /** Changes the scripted behaviour for the connections and responses that follow. */
  script(options: Partial<RealtimeServerOptions>): void;
  /** The next connection's socket is cut (no close frame) after its Nth audio delta. */
  dropNext(afterAudioDeltas: number): void;
  /** Mints a client secret as POST /v1/realtime/client_secrets does. */
  mintSecret(): { value: string; expires_at: number };
  /** Resolves when `predicate` holds for some connection (checked on every recorded event). */
  waitFor(predicate: (connection: RealtimeConnectionRecord) => boolean): Promise<RealtimeConnectionRecord>;
  /** Open sockets right now. */
  openSockets(): number;
  close(): Promise<void>;
}

const defaultKey = 'sk-emulated-realtime-key';

/** The default model: an echo that can call a tool. */
export function echoReply(context: ReplyContext): RealtimeReply {
  const last = context.items.at(-1);
  if (last?.type === 'function_call_output') return { text: `the tool said ${last.output ?? ''}` };
  const userText = [...context.items].reverse().find((item) => item.type === 'message' && item.role === 'user')?.text ?? '';
  if (context.tools.length > 0 && userText.startsWith('call ')) {
    return { toolCall: { name: context.tools[0].name, arguments: JSON.stringify({ text: userText.slice('call '.length) }) } };
  }
  return { text: `you said ${userText}` };
}

export async function startRealtimeServer(initial: RealtimeServerOptions = {}): Promise<RealtimeEmulation> {
  const options: RealtimeServerOptions = { ...initial };
  const apiKey = options.apiKey ?? defaultKey;
  const secrets = new Map<string, number>();
  const connections: RealtimeConnectionRecord[] = [];
  const waiters: { predicate: (c: RealtimeConnectionRecord) => boolean; resolve: (c: RealtimeConnectionRecord) => void }[] = [];
  const pendingDrops: number[] = [];
  const sockets = new Set<Socket>();
  const live = new Set<WebSocket>();
  let upgrades = 0;

  const notify = (record: RealtimeConnectionRecord): void => {
    for (const waiter of [...waiters]) {
      if (waiter.predicate(record)) {
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve(record);
      }
    }
  };

  const mintSecret = () => {
    const value = `ek_${randomBytes(12).toString('hex')}`;
    const expiresAt = Math.floor(Date.now() / 1000) + 600;
    secrets.set(value, expiresAt);
    return { value, expires_at: expiresAt };
  };

  const credentialOf = (key: string | undefined): RealtimeConnectionRecord['credential'] | undefined => {
    if (key === apiKey) return 'secret-key';
    if (key !== undefined && (secrets.get(key) ?? 0) * 1000 > Date.now()) return 'client-secret';
    return undefined;
  };

  const http: Server = createServer((request: IncomingMessage, response: ServerResponse) => {
    const path = new URL(request.url ?? '/', 'http://127.0.0.1').pathname;
    if (request.method === 'POST' && path === '/v1/realtime/client_secrets') {
      request.resume();
      request.on('end', () => {
        if (request.headers.authorization !== `Bearer ${apiKey}`) {
          response.writeHead(401, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { message: 'Incorrect API key provided', type: 'invalid_request_error', code: 'invalid_api_key' } }));
          return;
        }
        const secret = mintSecret();
        response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ ...secret, session: { type: 'realtime', object: 'realtime.session' } }));
      });
      return;
    }
    response.writeHead(404).end();
  });
  http.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });

  const wss = new WebSocketServer({
    noServer: true,
    // Browsers offer ['realtime', 'openai-insecure-api-key.<key>']: the server must pick one.
    handleProtocols: (protocols) => (protocols.has('realtime') ? 'realtime' : false),
  });

  http.on('upgrade', (request: IncomingMessage, socket: Socket, head: Buffer) => {
    upgrades++;
    const url = new URL(request.url ?? '/', 'http://127.0.0.1');
    const refuse = (status: number, text: string) => {
      socket.end(`HTTP/1.1 ${status} ${text}\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n`);
    };
    if (url.pathname !== '/v1/realtime') return refuse(404, 'Not Found');
    if (options.refuseStatus !== undefined) return refuse(options.refuseStatus, 'Refused');
    const header = request.headers.authorization?.match(/^Bearer (.+)$/)?.[1];
    const offered = String(request.headers['sec-websocket-protocol'] ?? '').split(',').map((p) => p.trim());
    const fromProtocol = offered.find((p) => p.startsWith('openai-insecure-api-key.'))?.slice('openai-insecure-api-key.'.length);
    const credential = credentialOf(header ?? fromProtocol);
    if (!credential) return refuse(401, 'Unauthorized');
    wss.handleUpgrade(request, socket, head, (ws) => {
      live.add(ws);
      const record: RealtimeConnectionRecord = {
        id: connections.length + 1,
        auth: header ? 'header' : 'subprotocol',
        credential,
        model: url.searchParams.get('model'),
        events: [],
        items: [],
        closed: false,
        dropped: false,
      };
      connections.push(record);
      runSession(ws, record, options, pendingDrops.shift(), notify, () => live.delete(ws));
      notify(record);
    });
  });

  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  const { port } = http.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    baseURL: `ws://127.0.0.1:${port}/v1`,
    apiKey,
    connections,
    get upgrades() {
      return upgrades;
    },
    script: (changes) => Object.assign(options, changes),
    dropNext: (afterAudioDeltas) => pendingDrops.push(afterAudioDeltas),
    mintSecret,
    waitFor: (predicate) => {
      const found = connections.find(predicate);
      if (found) return Promise.resolve(found);
      return new Promise((resolve) => waiters.push({ predicate, resolve }));
    },
    openSockets: () => live.size,
    close: async () => {
      for (const ws of live) ws.terminate();
      wss.close();
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => http.close(() => resolve()));
    },
  };
}

interface SessionConfig {
  instructions?: string;
  tools: { name: string }[];
  vad: { createResponse: boolean; silenceFrames?: number } | null;
}

/** One emulated session on one socket. */
function runSession(
  ws: WebSocket,
  record: RealtimeConnectionRecord,
  options: RealtimeServerOptions,
  dropAfterAudioDeltas: number | undefined,
  notify: (record: RealtimeConnectionRecord) => void,
  onClose: () => void,
): void {
  const dialect = options.dialect ?? 'ga';
  const sampleRate = options.sampleRate ?? 24_000;
  const frameBytes = (sampleRate / 50) * 2;
  const config: SessionConfig = { tools: [], vad: { createResponse: true } };
  const timers = new Set<ReturnType<typeof setTimeout>>();
  let eventCounter = 0;
  let responseCounter = 0;
  let itemCounter = 0;
  let audioDeltas = 0;
  let buffer: Uint8Array[] = [];
  let pendingFrame = new Uint8Array(0);
  let speaking = false;
  let silentFrames = 0;
  let active: { id: string; cancel: () => void } | undefined;
  let ready = false;
  const early: Buffer[] = [];

  const later = (ms: number, run: () => void): void => {
    const timer = setTimeout(() => {
      timers.delete(timer);
      run();
    }, ms);
    timers.add(timer);
  };
  const send = (event: Record<string, unknown>): void => {
    if (ws.readyState !== ws.OPEN) return;
    ws.send(JSON.stringify({ event_id: `event_${++eventCounter}`, ...event }));
  };
  const error = (code: string, message: string): void => send({ type: 'error', error: { type: 'invalid_request_error', code, message } });
  const finish = () => {
    for (const timer of timers) clearTimeout(timer);
    timers.clear();
    record.closed = true;
    onClose(); // before notify: a waiter may count open sockets
    notify(record);
  };
  ws.on('close', finish);
  ws.on('error', () => undefined);

  const addItem = (item: ConversationItem): void => {
    record.items.push(item);
    send({ type: dialect === 'ga' ? 'conversation.item.added' : 'conversation.item.created', item: { id: `item_${++itemCounter}`, type: item.type, role: item.role } });
  };

  const commit = (): void => {
    const audio = Buffer.concat(buffer);
    buffer = [];
    send({ type: 'input_audio_buffer.committed', item_id: `item_${itemCounter + 1}` });
    const transcript = decodeTones(audio, sampleRate);
    addItem({ type: 'message', role: 'user', text: transcript });
    send({ type: 'conversation.item.input_audio_transcription.completed', item_id: `item_${itemCounter}`, content_index: 0, transcript });
  };

  const respond = (): void => {
    if (active) return error('conversation_already_has_active_response', 'Conversation already has an active response');
    const id = `resp_${++responseCounter}`;
    let cancelled = false;
    let outputText = '';
    const outputItems: Record<string, unknown>[] = [];
    const done = (status: string) => {
      active = undefined;
      send({ type: 'response.done', response: { id, object: 'realtime.response', status, output: outputItems, usage: { input_tokens: 10 * record.items.length, output_tokens: outputText.split(' ').length, total_tokens: 10 * record.items.length + outputText.split(' ').length } } });
    };
    active = {
      id,
      cancel: () => {
        cancelled = true;
        done('cancelled');
      },
    };
    send({ type: 'response.created', response: { id, object: 'realtime.response', status: 'in_progress', output: [] } });
    if (options.hangResponses) return;
    const reply = (options.reply ?? echoReply)({ items: record.items, tools: config.tools, instructions: config.instructions });
    if ('toolCall' in reply) {
      const itemId = `item_${++itemCounter}`;
      const callId = `call_${responseCounter}`;
      later(options.firstAudioDelayMs ?? 0, () => {
        if (cancelled) return;
        send({ type: 'response.output_item.added', response_id: id, output_index: 0, item: { id: itemId, type: 'function_call', name: reply.toolCall.name, call_id: callId, arguments: '' } });
        send({ type: 'response.function_call_arguments.delta', response_id: id, item_id: itemId, call_id: callId, delta: reply.toolCall.arguments });
        send({ type: 'response.function_call_arguments.done', response_id: id, item_id: itemId, call_id: callId, name: reply.toolCall.name, arguments: reply.toolCall.arguments });
        record.items.push({ type: 'function_call', callId, name: reply.toolCall.name });
        outputItems.push({ id: itemId, type: 'function_call', name: reply.toolCall.name, call_id: callId, arguments: reply.toolCall.arguments });
        done('completed');
      });
      return;
    }
    const itemId = `item_${++itemCounter}`;
    send({ type: 'response.output_item.added', response_id: id, output_index: 0, item: { id: itemId, type: 'message', role: 'assistant', content: [] } });
    const words = reply.text.split(' ').filter(Boolean);
    const perDelta = options.wordsPerDelta ?? 1;
    const chunks: string[] = [];
    for (let index = 0; index < words.length; index += perDelta) chunks.push(words.slice(index, index + perDelta).join(' ') + (index + perDelta < words.length ? ' ' : ''));
    const audioName = dialect === 'ga' ? 'response.output_audio.delta' : 'response.audio.delta';
    const transcriptName = dialect === 'ga' ? 'response.output_audio_transcript.delta' : 'response.audio_transcript.delta';
    const step = (index: number) => {
      if (cancelled || ws.readyState !== ws.OPEN) return;
      if (index === chunks.length) {
        send({ type: dialect === 'ga' ? 'response.output_audio.done' : 'response.audio.done', response_id: id, item_id: itemId });
        send({ type: dialect === 'ga' ? 'response.output_audio_transcript.done' : 'response.audio_transcript.done', response_id: id, item_id: itemId, transcript: outputText });
        record.items.push({ type: 'message', role: 'assistant', text: outputText });
        outputItems.push({ id: itemId, type: 'message', role: 'assistant', status: 'completed' });
        done('completed');
        return;
      }
      outputText += chunks[index];
      send({ type: transcriptName, response_id: id, item_id: itemId, output_index: 0, content_index: 0, delta: chunks[index] });
      send({ type: audioName, response_id: id, item_id: itemId, output_index: 0, content_index: 0, delta: Buffer.from(toneSpeech(chunks[index], sampleRate)).toString('base64') });
      audioDeltas++;
      if (dropAfterAudioDeltas !== undefined && audioDeltas >= dropAfterAudioDeltas) {
        record.dropped = true;
        ws.terminate(); // no close frame: what a lost network looks like
        return;
      }
      later(options.interDeltaMs ?? 0, () => step(index + 1));
    };
    later(options.firstAudioDelayMs ?? 0, () => step(0));
  };

  /** Server VAD: an energy detector over 20 ms frames of the appended audio. */
  const listen = (audio: Uint8Array): void => {
    const joined = new Uint8Array(pendingFrame.length + audio.length);
    joined.set(pendingFrame);
    joined.set(audio, pendingFrame.length);
    let offset = 0;
    const view = new DataView(joined.buffer);
    for (; offset + frameBytes <= joined.length; offset += frameBytes) {
      let energy = 0;
      for (let at = offset; at < offset + frameBytes; at += 2) {
        const sample = view.getInt16(at, true) / 32767;
        energy += sample * sample;
      }
      const voiced = Math.sqrt(energy / (frameBytes / 2)) > 0.05;
      if (voiced) {
        silentFrames = 0;
        if (!speaking) {
          speaking = true;
          send({ type: 'input_audio_buffer.speech_started', audio_start_ms: 0, item_id: `item_${itemCounter + 1}` });
        }
      } else if (speaking && ++silentFrames >= (options.vadSilenceFrames ?? config.vad?.silenceFrames ?? 10)) {
        speaking = false;
        silentFrames = 0;
        send({ type: 'input_audio_buffer.speech_stopped', audio_end_ms: 0, item_id: `item_${itemCounter + 1}` });
        commit();
        if (config.vad?.createResponse) respond();
      }
    }
    pendingFrame = joined.slice(offset);
  };

  const handle = (raw: Buffer): void => {
    let event: Record<string, unknown>;
    try {
      event = JSON.parse(raw.toString('utf8')) as Record<string, unknown>;
    } catch {
      return error('invalid_json', 'The event is not valid JSON');
    }
    const type = String(event.type ?? '');
    const recorded = type === 'input_audio_buffer.append' ? { ...event, audio: (typeof event.audio === 'string' ? Buffer.from(event.audio, 'base64').length : 0) } : event;
    record.events.push({ type, event: recorded, at: Date.now() });
    switch (type) {
      case 'session.update': {
        const session = (event.session ?? {}) as Record<string, unknown>;
        // GA nests turn detection under audio.input; the beta kept it at the top.
        const audio = session.audio as { input?: { turn_detection?: unknown } } | undefined;
        const turn = (audio?.input && 'turn_detection' in audio.input ? audio.input.turn_detection : session.turn_detection) as { create_response?: boolean; silence_duration_ms?: number } | null | undefined;
        if (typeof session.instructions === 'string') config.instructions = session.instructions;
        if (Array.isArray(session.tools)) config.tools = (session.tools as { name: string }[]).map((tool) => ({ name: tool.name }));
        if (turn === null) config.vad = null;
        else if (turn) config.vad = { createResponse: turn.create_response !== false, silenceFrames: turn.silence_duration_ms ? Math.ceil(turn.silence_duration_ms / 20) : undefined };
        send({ type: 'session.updated', session: { ...session, id: `sess_${record.id}` } });
        break;
      }
      case 'input_audio_buffer.append': {
        if (typeof event.audio !== 'string') return error('invalid_value', "input_audio_buffer.append needs 'audio'");
        const audio = new Uint8Array(Buffer.from(event.audio, 'base64'));
        buffer.push(audio);
        if (config.vad) listen(audio);
        break;
      }
      case 'input_audio_buffer.commit':
        if (buffer.length === 0) return error('input_audio_buffer_commit_empty', 'The input audio buffer is empty');
        commit();
        break;
      case 'input_audio_buffer.clear':
        buffer = [];
        send({ type: 'input_audio_buffer.cleared' });
        break;
      case 'conversation.item.create': {
        const item = (event.item ?? {}) as { type?: string; role?: ConversationItem['role']; content?: { text?: string }[]; call_id?: string; output?: string };
        if (item.type === 'function_call_output') addItem({ type: 'function_call_output', callId: item.call_id, output: item.output });
        else addItem({ type: 'message', role: item.role ?? 'user', text: (item.content ?? []).map((part) => part.text ?? '').join('') });
        break;
      }
      case 'response.create':
        respond();
        break;
      case 'response.cancel':
        if (!active) return error('response_cancel_not_active', 'Cancellation failed: no active response found');
        active.cancel();
        break;
      default:
        error('invalid_event', `Unknown event type '${type}'`);
    }
    notify(record);
  };

  // Events that arrive before session.created are handled after it, in order.
  ws.on('message', (raw: Buffer) => {
    if (ready) handle(raw);
    else early.push(raw);
  });
  later(options.connectDelayMs ?? 0, () => {
    ready = true;
    send({ type: 'session.created', session: { id: `sess_${record.id}`, object: 'realtime.session', type: 'realtime', model: record.model } });
    for (const raw of early.splice(0)) handle(raw);
    if (options.maxSessionMs !== undefined) {
      later(options.maxSessionMs, () => {
        error('session_expired', `Your session hit the maximum duration of ${options.maxSessionMs} ms.`);
        ws.close(1001, 'session expired');
      });
    }
  });
}
