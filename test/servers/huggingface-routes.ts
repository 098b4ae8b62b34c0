/**
 * The HTTP routes the real `@huggingface/inference` client (v4.13.30) calls, served locally so no
 * test touches the internet. Routes were read from the client's source (lib/makeRequestOptions.ts,
 * providers/hf-inference.ts, providers/providerHelper.ts):
 *
 *   with `endpointUrl: <base>/hf/endpoints/<task>`
 *     POST <endpointUrl>                          feature-extraction | text-to-image (JSON `{ inputs }`)
 *                                                 automatic-speech-recognition (raw audio body)
 *     POST <endpointUrl>/v1/chat/completions      chat, JSON or SSE
 *   through the router (origins rewritten by `huggingFaceOriginRewrite`)
 *     POST /hf/router/v1/chat/completions                              provider 'auto'
 *     POST /hf/router/<provider>/models/<model>/pipeline/<task>        feature-extraction
 *     POST /hf/router/<provider>/models/<model>                        text-to-image, ASR
 *     POST /hf/router/<provider>/models/<model>/v1/chat/completions    hf-inference chat
 *     GET  /hf/hub/api/models/<model>?expand[]=inferenceProviderMapping
 *
 * Response shapes are HF's: feature-extraction number[][] (pooled) or number[][][] (token level),
 * text-to-image image bytes, ASR `{ text }`, errors `{ error }` (503 adds `estimated_time`).
 * Faults come from the shared ScriptStep (scripts.ts). Imports: node built-ins and scripts.ts.
 */
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  countTokens,
  expectedEmbedding,
  replyFor,
  serializePrompt,
  splitIntoDeltas,
  tinyPngBase64,
  transcriptFor,
  type ChatMessageBody,
  type ScriptStep,
} from './scripts.js';

export type HuggingFaceTask = 'chat' | 'feature-extraction' | 'text-to-image' | 'automatic-speech-recognition' | 'hub-mapping';

/**
 * The handler shape of `addRoutes` on the OpenAI-compatible test server: true when it answered.
 * That server passes the parsed body plus a context whose `rawBody` we prefer (audio is not JSON).
 */
export type RouteHandler = (request: IncomingMessage, response: ServerResponse, body: unknown, context?: { rawBody?: Buffer }) => boolean;

export interface HuggingFaceRequestRecord {
  method: string;
  /** Path without the query. */
  path: string;
  task: HuggingFaceTask;
  /** The model named in the path or the body, when there is one. */
  model?: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
  /** The parsed body, for JSON requests. */
  json?: Record<string, unknown>;
  /** Resolves when the response finished or the client closed the connection. */
  closed: Promise<void>;
  /** True once the client closed the connection before the response was complete. */
  closedByClient: boolean;
}

export interface HuggingFaceRoutesOptions {
  /** Path prefix of every route. @default '/hf' */
  prefix?: string;
  /** Bearer tokens accepted; any other (or none) gets 401. @default undefined (no check) */
  acceptedTokens?: string[];
  /** Embedding width when the request does not ask for `dimensions`. @default 8 */
  dimensions?: number;
  /**
   * What the Hub reports for a model's provider mapping: task per model, served by the first of
   * `providers`. @default {} (unknown models get 404 from the Hub route)
   */
  models?: Record<string, { task: string; providers?: string[] }>;
}

export interface HuggingFaceRoutes {
  /** Register this on a server, or use `startHuggingFaceServer`. */
  handle: RouteHandler;
  /** Every request served, in arrival order. */
  readonly requests: HuggingFaceRequestRecord[];
  /** Queues steps for the next requests (of `task` only, when given). Steps with `times` repeat. */
  script(steps: ScriptStep | ScriptStep[], task?: HuggingFaceTask): void;
  /** `tokens`: feature-extraction answers one vector per word of each input (no pooling). */
  setEmbeddingShape(shape: 'pooled' | 'tokens'): void;
  /** Resolves with the next request to arrive. */
  nextRequest(): Promise<HuggingFaceRequestRecord>;
  /** Forgets recorded requests and queued steps. */
  reset(): void;
}

/** The image the text-to-image route returns: a 1x1 PNG whose tEXt chunk names the prompt hash and size. */
export function imageFor(prompt: string, width?: number, height?: number): Buffer {
  const png = Buffer.from(tinyPngBase64, 'base64');
  const text = Buffer.from(`Comment\0prompt ${hashHex(prompt)} size ${width ?? 'default'}x${height ?? 'default'}`, 'latin1');
  const chunk = Buffer.alloc(12 + text.length);
  chunk.writeUInt32BE(text.length, 0);
  chunk.write('tEXt', 4, 'ascii');
  text.copy(chunk, 8);
  chunk.writeUInt32BE(crc32(chunk.subarray(4, 8 + text.length)), 8 + text.length);
  // After IHDR (8-byte signature + 25-byte chunk), before IDAT.
  return Buffer.concat([png.subarray(0, 33), chunk, png.subarray(33)]);
}

/** The token-level vectors the `tokens` shape returns for one input: one per word. */
export function tokenVectorsFor(text: string, dimensions = 8): number[][] {
  const words = text.split(/\s+/).filter(Boolean);
  return (words.length > 0 ? words : ['']).map((word) => expectedEmbedding(word, dimensions));
}

export function createHuggingFaceRoutes(options: HuggingFaceRoutesOptions = {}): HuggingFaceRoutes {
  const prefix = (options.prefix ?? '/hf').replace(/\/+$/, '');
  const requests: HuggingFaceRequestRecord[] = [];
  let queue: { step: ScriptStep; remaining: number; task?: HuggingFaceTask }[] = [];
  let embeddingShape: 'pooled' | 'tokens' = 'pooled';
  let waiters: ((record: HuggingFaceRequestRecord) => void)[] = [];

  function takeStep(task: HuggingFaceTask): ScriptStep | undefined {
    const index = queue.findIndex((entry) => entry.task === undefined || entry.task === task);
    if (index === -1) return undefined;
    const entry = queue[index];
    entry.remaining -= 1;
    if (entry.remaining <= 0) queue.splice(index, 1);
    return entry.step;
  }

  const handle: RouteHandler = (request, response, parsedBody, context) => {
    const url = new URL(request.url ?? '/', 'http://localhost');
    const path = url.pathname;
    if (path !== prefix && !path.startsWith(`${prefix}/`)) return false;
    const classified = classify(path.slice(prefix.length), request.method ?? 'GET', request.headers);
    if (!classified) return false;

    const body = context?.rawBody ?? toBuffer(parsedBody);
    const json = parseJson(body, request.headers['content-type']);
    let markClosed!: () => void;
    const record: HuggingFaceRequestRecord = {
      method: request.method ?? 'GET',
      path,
      task: classified.task,
      model: classified.model ?? (typeof json?.model === 'string' ? json.model : undefined),
      headers: request.headers,
      body,
      json,
      closed: new Promise<void>((resolve) => (markClosed = resolve)),
      closedByClient: false,
    };
    const timers = new Set<NodeJS.Timeout>();
    response.on('close', () => {
      if (!response.writableFinished) record.closedByClient = true;
      for (const timer of timers) clearTimeout(timer);
      markClosed();
    });
    requests.push(record);
    const pending = waiters;
    waiters = [];
    for (const resolve of pending) resolve(record);

    const later = (ms: number, action: () => void) => {
      if (ms <= 0) return action();
      const timer = setTimeout(() => {
        timers.delete(timer);
        if (!response.destroyed) action();
      }, ms);
      timer.unref();
      timers.add(timer);
    };

    const step = takeStep(classified.task) ?? {};
    later(step.latencyMs ?? 0, () => {
      if (step.hang) return;
      if (step.reset) return void response.socket?.destroy();
      // The Hub serves public model info anonymously (the client's 'auto' lookup sends no token).
      const anonymousHubRead = classified.task === 'hub-mapping' && request.headers.authorization === undefined;
      if (!anonymousHubRead && !authorized(request.headers, options.acceptedTokens)) {
        return sendJson(response, 401, { error: 'Invalid credentials in Authorization header' });
      }
      if (step.status !== undefined && step.status >= 400) return sendFault(response, step, record);
      answer(record, step, response, later);
    });
    return true;
  };

  function answer(record: HuggingFaceRequestRecord, step: ScriptStep, response: ServerResponse, later: (ms: number, action: () => void) => void): void {
    const headers = step.headers ?? {};
    switch (record.task) {
      case 'hub-mapping': {
        const known = record.model ? options.models?.[record.model] : undefined;
        if (!known) return sendJson(response, 404, { error: `Repository Not Found for url: ${record.path}.` });
        const mapping = (known.providers ?? ['hf-inference']).map((provider) => ({
          provider,
          hfModelId: record.model,
          providerId: record.model,
          status: 'live',
          task: known.task,
        }));
        return sendJson(response, 200, step.body ?? { _id: record.model, id: record.model, inferenceProviderMapping: mapping }, headers);
      }
      case 'feature-extraction': {
        const inputs = record.json?.inputs;
        const dimensions = typeof record.json?.dimensions === 'number' ? record.json.dimensions : (options.dimensions ?? 8);
        const one = (text: string) => (embeddingShape === 'tokens' ? tokenVectorsFor(text, dimensions) : expectedEmbedding(text, dimensions));
        if (typeof inputs === 'string') return sendJson(response, 200, step.body ?? one(inputs), headers);
        if (!Array.isArray(inputs) || !inputs.every((item) => typeof item === 'string')) {
          return sendJson(response, 422, { error: 'Input validation error: `inputs` must be a string or a list of strings' });
        }
        return sendJson(response, 200, step.body ?? inputs.map(one), headers);
      }
      case 'text-to-image': {
        const prompt = record.json?.inputs;
        if (typeof prompt !== 'string') return sendJson(response, 422, { error: 'Input validation error: `inputs` must be a string' });
        const parameters = (record.json?.parameters ?? {}) as { width?: number; height?: number };
        const image = imageFor(prompt, parameters.width, parameters.height);
        response.writeHead(200, { 'content-type': 'image/png', 'content-length': String(image.length), ...headers });
        return void response.end(image);
      }
      case 'automatic-speech-recognition': {
        if (record.body.length === 0) return sendJson(response, 400, { error: 'Malformed soundfile' });
        return sendJson(response, 200, step.body ?? { text: transcriptFor(record.body) }, headers);
      }
      case 'chat':
        return answerChat(record, step, response, later);
    }
  }

  function answerChat(record: HuggingFaceRequestRecord, step: ScriptStep, response: ServerResponse, later: (ms: number, action: () => void) => void): void {
    const json = record.json ?? {};
    const messages = Array.isArray(json.messages) ? (json.messages as ChatMessageBody[]) : undefined;
    if (!messages) return sendJson(response, 422, { error: 'Input validation error: `messages` is required' });
    const model = typeof json.model === 'string' ? json.model : 'tgi';
    let reply = step.reply ?? replyFor(messages);
    let finishReason = 'stop';
    const maxTokens = typeof json.max_tokens === 'number' ? json.max_tokens : undefined;
    if (maxTokens !== undefined && countTokens(reply) > maxTokens) {
      reply = reply.slice(0, maxTokens * 4);
      finishReason = 'length';
    }
    const usage = {
      prompt_tokens: countTokens(serializePrompt(messages)),
      completion_tokens: countTokens(reply),
      total_tokens: countTokens(serializePrompt(messages)) + countTokens(reply),
    };
    const base = { id: `chatcmpl-hf-${requests.indexOf(record)}`, created: 1_700_000_000, model, system_fingerprint: 'hf-test' };
    if (json.stream !== true) {
      return sendJson(response, 200, step.body ?? {
        ...base,
        object: 'chat.completion',
        choices: [{ index: 0, message: { role: 'assistant', content: reply }, finish_reason: finishReason, logprobs: null }],
        usage,
      }, step.headers);
    }

    const faults = step.stream ?? {};
    const events: string[] = splitIntoDeltas(reply).map((text) =>
      JSON.stringify({ ...base, object: 'chat.completion.chunk', choices: [{ index: 0, delta: { role: 'assistant', content: text }, finish_reason: null }] }),
    );
    events.push(JSON.stringify({ ...base, object: 'chat.completion.chunk', choices: [{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: finishReason }] }));
    const includeUsage = (json.stream_options as { include_usage?: boolean } | undefined)?.include_usage === true;
    if (includeUsage) events.push(JSON.stringify({ ...base, object: 'chat.completion.chunk', choices: [], usage }));
    events.push('[DONE]');

    response.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive', ...step.headers });
    let sent = 0;
    const writeNext = () => {
      // Destroy only once earlier chunks left the process, so the client does see them first.
      if (faults.resetAfterChunks !== undefined && sent >= faults.resetAfterChunks) return void response.socket?.destroy();
      if (faults.truncateAfterChunks !== undefined && sent >= faults.truncateAfterChunks) return void response.end();
      if (faults.malformedAfterChunks !== undefined && sent === faults.malformedAfterChunks) response.write('data: {"choices": [\n\n');
      if (sent >= events.length) return void response.end();
      const event = events[sent];
      sent += 1;
      response.write(`data: ${event}\n\n`, () => later(faults.interChunkMs ?? 0, writeNext));
    };
    later(faults.firstChunkDelayMs ?? 0, writeNext);
  }

  return {
    handle,
    requests,
    script(steps, task) {
      for (const step of Array.isArray(steps) ? steps : [steps]) queue.push({ step, remaining: step.times ?? 1, task });
    },
    setEmbeddingShape(shape) {
      embeddingShape = shape;
    },
    nextRequest() {
      return new Promise((resolve) => waiters.push(resolve));
    },
    reset() {
      requests.length = 0;
      queue = [];
      embeddingShape = 'pooled';
    },
  };
}

/**
 * Registers the routes on a server exposing `addRoutes` (test/servers/openai-compatible.ts). That
 * server applies its own scripts and `apiKey` check first; ours then apply to the /hf routes.
 */
export function registerHuggingFaceRoutes(server: { addRoutes(handler: RouteHandler): unknown }, options: HuggingFaceRoutesOptions = {}): HuggingFaceRoutes {
  const routes = createHuggingFaceRoutes(options);
  server.addRoutes(routes.handle);
  return routes;
}

export interface HuggingFaceServer {
  /** e.g. 'http://127.0.0.1:40123' */
  url: string;
  routes: HuggingFaceRoutes;
  close(): Promise<void>;
}

/** A small server of its own on a free loopback port, serving only these routes. */
export async function startHuggingFaceServer(options: HuggingFaceRoutesOptions = {}): Promise<HuggingFaceServer> {
  const routes = createHuggingFaceRoutes(options);
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      if (!routes.handle(request, response, Buffer.concat(chunks))) sendJson(response, 404, { error: 'Not Found' });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    routes,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  };
}

/**
 * A fetch for the client's `fetch` option that sends what it would send to the HF router and Hub
 * to a local base instead, changing only the origin (plus our path prefix). A process-edge double.
 */
export function huggingFaceOriginRewrite(localBase: string, prefix = '/hf', inner: typeof fetch = fetch): typeof fetch {
  const origins: [string, string][] = [
    ['https://router.huggingface.co', `${localBase}${prefix}/router`],
    ['https://huggingface.co', `${localBase}${prefix}/hub`],
  ];
  return (input, init) => {
    const href = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
    for (const [origin, replacement] of origins) {
      if (href === origin || href.startsWith(`${origin}/`)) return inner(replacement + href.slice(origin.length), init);
    }
    return inner(input, init);
  };
}

// ---------------------------------------------------------------- helpers

function classify(rest: string, method: string, headers: IncomingHttpHeaders): { task: HuggingFaceTask; model?: string } | undefined {
  if (method === 'GET') {
    const hub = /^\/hub\/api\/models\/(.+)$/.exec(rest);
    return hub ? { task: 'hub-mapping', model: decodeURIComponent(hub[1]) } : undefined;
  }
  if (method !== 'POST') return undefined;
  if (rest.endsWith('/chat/completions')) {
    const model = /\/models\/(.+)\/v1\/chat\/completions$/.exec(rest)?.[1];
    return { task: 'chat', model };
  }
  const endpoint = /^\/endpoints\/([a-z-]+)$/.exec(rest);
  if (endpoint) return isTask(endpoint[1]) ? { task: endpoint[1] } : undefined;
  const pipeline = /^\/router\/[^/]+\/models\/(.+)\/pipeline\/([a-z-]+)$/.exec(rest);
  if (pipeline) {
    const task = pipeline[2] === 'sentence-similarity' ? 'feature-extraction' : pipeline[2];
    return isTask(task) ? { task, model: pipeline[1] } : undefined;
  }
  const modelRoute = /^\/router\/[^/]+\/models\/(.+)$/.exec(rest);
  if (modelRoute) {
    // One route serves every task of a model on hf-inference: JSON asks for an image, raw audio for a transcript.
    const isJson = (headers['content-type'] ?? '').startsWith('application/json');
    return { task: isJson ? 'text-to-image' : 'automatic-speech-recognition', model: modelRoute[1] };
  }
  return undefined;
}

function isTask(value: string): value is Exclude<HuggingFaceTask, 'chat' | 'hub-mapping'> {
  return value === 'feature-extraction' || value === 'text-to-image' || value === 'automatic-speech-recognition';
}

function authorized(headers: IncomingHttpHeaders, accepted: string[] | undefined): boolean {
  if (!accepted) return true;
  const match = /^Bearer (.+)$/.exec(headers.authorization ?? '');
  return match !== null && accepted.includes(match[1]);
}

function sendFault(response: ServerResponse, step: ScriptStep, record: HuggingFaceRequestRecord): void {
  const status = step.status ?? 500;
  const headers: Record<string, string> = { ...step.headers };
  if (step.retryAfterMs !== undefined) headers['retry-after'] = String(Math.ceil(step.retryAfterMs / 1000));
  const defaultMessage =
    status === 503 ? `Model ${record.model ?? 'endpoint'} is currently loading` : status === 429 ? 'Rate limit reached. Please slow down.' : `HTTP ${status}`;
  const body =
    step.body ??
    (status === 503
      ? { error: step.message ?? defaultMessage, estimated_time: (step.retryAfterMs ?? 20_000) / 1000 }
      : { error: step.message ?? defaultMessage });
  sendJson(response, status, body, headers);
}

function sendJson(response: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  response.writeHead(status, { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(text)), ...headers });
  response.end(text);
}

function toBuffer(body: unknown): Buffer {
  if (Buffer.isBuffer(body)) return body;
  if (body instanceof Uint8Array) return Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  if (typeof body === 'string') return Buffer.from(body);
  if (body === undefined || body === null) return Buffer.alloc(0);
  return Buffer.from(JSON.stringify(body));
}

function parseJson(body: Buffer, contentType: string | undefined): Record<string, unknown> | undefined {
  if (!(contentType ?? '').startsWith('application/json') || body.length === 0) return undefined;
  try {
    const parsed = JSON.parse(body.toString('utf8')) as unknown;
    return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

function hashHex(text: string): string {
  let hash = 0x811c9dc5;
  for (let index = 0; index < text.length; index++) {
    hash ^= text.charCodeAt(index);
    hash = Math.imul(hash, 0x01000193);
  }
  return (hash >>> 0).toString(16).padStart(8, '0');
}

/** CRC-32 (PNG chunks), bitwise: images here are a few bytes. */
function crc32(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (const byte of bytes) {
    crc ^= byte;
    for (let bit = 0; bit < 8; bit++) crc = crc & 1 ? (crc >>> 1) ^ 0xedb88320 : crc >>> 1;
  }
  return (crc ^ 0xffffffff) >>> 0;
}
