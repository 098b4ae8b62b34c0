/**
 * A local OpenAI-compatible HTTP server for integration tests and benchmarks. The real
 * `openai` client (and `ai` / `@ai-sdk/openai`) talk to it over HTTP on 127.0.0.1.
 *
 *   const server = await startOpenAIServer({ seed: 7 });
 *   const client = new OpenAI({ baseURL: server.baseURL, apiKey: 'test' });
 *   ...
 *   await server.close();
 *
 * Routes (under `/v1`, or `/r/<i>/v1` to pin replica i):
 *   POST chat/completions (JSON and SSE), embeddings, images/generations,
 *   audio/transcriptions, audio/translations, audio/speech, files; GET models, models/:id,
 *   files, files/:id, files/:id/content; DELETE files/:id; POST batches,
 *   batches/:id/cancel; GET batches, batches/:id.
 *   Control routes for a server in another process (see standalone.ts): GET
 *   /__control/requests, POST /__control/script {route, steps}, /__control/reset,
 *   /__control/advance-batches {items?}, /__control/expire-batches, /__control/replicas {count}.
 *
 * Handle (`OpenAIServer`):
 *   url, baseURL, replicaURL(i)       'http://127.0.0.1:PORT', + '/v1', + '/r/<i>/v1'
 *   requests                          every RecordedRequest, in arrival order
 *   script(route, steps | fn)         faults and latency per route ('/chat/completions', '*')
 *   reset()                           forget requests, scripts, caches, files and batches
 *   addRoutes(handler)                extra routes, tried before the built-in ones
 *   setReplicas(n)                    replicas that /v1 requests hash over (a pinned /r/<i>
 *                                     beyond n gets its own cache on first use)
 *   onRequest(fn), waitFor(pred), waitForRequests(n)   event-driven waits, no polling
 *   advanceBatches(opts), runBatches(), expireBatches(id?)   move the Batch API's clock
 *   files, batches                    the in-memory stores (batches.ts)
 *   close()                           ends every connection and the listener
 *
 * Faults come from, in order: the `x-test-script` request header (a preset name such as
 * `hang`, `429`, `truncate`, or a JSON ScriptStep), the route's script, the '*' script.
 * `x-test-reply` picks the reply text of one chat completion.
 *
 * Prompt cache: each replica keeps hashes of prompt prefixes at 1,024 tokens and every 128
 * tokens above (OpenAI's rule), keyed by model and `prompt_cache_key`, forgotten after an
 * idle TTL on the injected clock. `/v1` requests go to replica hash(first 256 tokens +
 * key) mod n, as OpenAI routes; `/r/<i>/v1` pins one. Hits report
 * `usage.prompt_tokens_details.cached_tokens` and answer sooner under the `timing` model.
 *
 * Imports: node built-ins, ./scripts.js, ./batches.js.
 */
import { EventEmitter } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { BatchRequestError, BatchStore, FileStore, type BatchTimeline, type BatchItem, type ItemAnswer } from './batches.js';
import {
  audioSecondsFor,
  countTokens,
  defaultMaxReplyWords,
  drawLatency,
  embeddingToBase64,
  expectedEmbedding,
  hash32,
  messageText,
  openAIErrorBody,
  parseMultipart,
  parseScriptHeader,
  replyFor,
  seededRandom,
  serializePrompt,
  speechFor,
  splitIntoDeltas,
  tinyPngBase64,
  transcriptFor,
  type ChatMessageBody,
  type LatencyModel,
  type Random,
  type ScriptStep,
} from './scripts.js';

export { expectedEmbedding } from './scripts.js';

// ---------------------------------------------------------------- public types

export interface TimingModel {
  /** Time to first token before any prompt work, ms. @default 0 */
  firstTokenBaseMs?: number;
  /** Added to the first-token time per prompt token not served from cache, ms. @default 0 */
  perUncachedTokenMs?: number;
  /** Added per prompt token served from cache, ms. @default 0 */
  perCachedTokenMs?: number;
  /** Wait between stream chunks, ms; non-stream answers wait it once per chunk too. @default 0 */
  interChunkMs?: number;
}

export interface PromptCacheOptions {
  /** Idle time after which a cached prefix is forgotten, ms. @default 300,000 (OpenAI: 5 to 10 min) */
  ttlMs?: number;
  /** Shortest prompt that can be cached, tokens. @default 1024 */
  minTokens?: number;
  /** Cached lengths are multiples of this, tokens. @default 128 */
  stepTokens?: number;
  /** Prefix entries kept per replica before the least recently used go. @default 200,000 */
  maxEntries?: number;
}

export interface OpenAIServerOptions {
  /** @default 0 (a free port) */
  port?: number;
  /** Seeds scripted latency draws and batch output shuffles. @default 1 */
  seed?: number;
  /** Epoch ms, for the prompt cache TTL and batch timestamps. @default Date.now */
  now?: () => number;
  /** Latency added to every request before it is answered, ms or a seeded draw. @default 0 */
  latency?: LatencyModel;
  /** Requests served at once; the rest wait in arrival order. @default unlimited */
  maxConcurrent?: number;
  /** Prompt-cache replicas. @default 1 */
  replicas?: number;
  promptCache?: PromptCacheOptions;
  timing?: TimingModel;
  /** Embedding service time: perRequestMs + perInputMs x inputs. @default 0 and 0 */
  embeddingCost?: { perRequestMs?: number; perInputMs?: number };
  /** Words per stream delta. @default 1 */
  wordsPerDelta?: number;
  /** Words of the echoed user message in the default reply. @default 32 */
  maxReplyWords?: number;
  /** Embedding size when the request sets no `dimensions`. @default 8 */
  embeddingDimensions?: number;
  /** Ids served by GET /v1/models. */
  models?: string[];
  /** When set, requests without `authorization: Bearer <apiKey>` get a 401. */
  apiKey?: string;
  /** Keep a RecordedRequest per request (benches may turn it off). @default true */
  recordRequests?: boolean;
  batches?: {
    /** Stages follow the `now` clock when set; else only advanceBatches() moves them. */
    timeline?: BatchTimeline;
    /** Items to fail (error file): a pattern on custom_id or the raw line, or a function. */
    failItems?: RegExp | ((item: BatchItem) => boolean | { status: number; message?: string });
    /** @default 50,000 (OpenAI's limit) */
    maxLines?: number;
    /** Lines that fail validation: the batch ends `failed`, `errors.data` naming each line. */
    rejectLines?: RegExp;
  };
}

/** A cache breakpoint found in a message's content parts (Anthropic-style `cache_control`). */
export interface CacheBreakpoint {
  message: number;
  part: number;
  type: string;
  ttl?: string;
}

export interface RecordedRequest {
  /** 1, 2, 3... in arrival order. */
  id: number;
  method: string;
  /** The path without the replica prefix and query, e.g. '/v1/chat/completions'. */
  path: string;
  /** The route key scripts use, e.g. '/chat/completions', '/batches/:id'. */
  route: string;
  query: Record<string, string>;
  /** Lower-cased names. `authorization` is kept so tests can check where secrets go. */
  headers: Record<string, string>;
  /** Parsed JSON, or for multipart the text fields plus `{ filename, bytes }` per file. */
  body?: unknown;
  /** Multipart field names, in order. */
  multipartFields?: string[];
  /** Request body size, bytes. */
  bytes: number;
  replica: number;
  /** performance.now() when the body was read, ms. */
  receivedAt: number;
  /** performance.now() when the connection or the response closed, ms. */
  finishedAt?: number;
  /** The client closed the connection before the response ended (or the server reset it). */
  aborted: boolean;
  status?: number;
  /** The fault applied, if any. */
  fault?: 'hang' | 'reset' | 'status' | 'stream';
  promptTokens?: number;
  cachedTokens?: number;
  /** Chat: the first-token time the timing model gave this request, ms. */
  firstTokenMs?: number;
  cacheBreakpoints?: CacheBreakpoint[];
}

/** What an extra route handler receives besides `req`, `res` and the parsed body. */
export interface RouteContext {
  record: RecordedRequest;
  rawBody: Buffer;
  /** Path without the replica prefix. */
  path: string;
  query: URLSearchParams;
  replica: number;
  step?: ScriptStep;
  random: Random;
  server: OpenAIServer;
  /** Waits ms (or not at all), resolving false early if the client went away. */
  wait(ms: number): Promise<boolean>;
  sendJson(status: number, body: unknown, headers?: Record<string, string>): void;
  /** Streams payloads as SSE `data:` events with the step's stream faults applied. */
  sendEventStream(payloads: unknown[], options?: EventStreamOptions): Promise<void>;
}

export interface EventStreamOptions {
  /** Wait between events after the second, ms. @default the step's, else timing.interChunkMs, else 0 */
  interChunkMs?: number;
  /** The closing event's data; false for none. @default '[DONE]' */
  done?: string | false;
  headers?: Record<string, string>;
}

/** Returns true (or a promise of it) when it handled the request. */
export type RouteHandler = (req: IncomingMessage, res: ServerResponse, body: unknown, context: RouteContext) => boolean | Promise<boolean>;

export type RouteScript = ScriptStep | ScriptStep[] | ((request: RecordedRequest, random: Random) => ScriptStep | undefined);

export interface OpenAIServer {
  url: string;
  baseURL: string;
  replicaURL(replica: number): string;
  requests: RecordedRequest[];
  /** Replaces the script of `route` ('/chat/completions', '/v1/embeddings', '*'...). */
  script(route: string, steps: RouteScript): void;
  reset(): void;
  addRoutes(handler: RouteHandler): void;
  setReplicas(count: number): void;
  onRequest(listener: (request: RecordedRequest) => void): () => void;
  /** Resolves when `predicate(requests)` holds, re-checked on every arrival and close. */
  waitFor(predicate: (requests: RecordedRequest[]) => boolean): Promise<void>;
  /** Resolves when at least `count` requests (matching `route`, if given) arrived. */
  waitForRequests(count: number, route?: string): Promise<RecordedRequest[]>;
  advanceBatches(options?: { items?: number; id?: string }): void;
  runBatches(): void;
  expireBatches(id?: string): void;
  files: FileStore;
  batches: BatchStore;
  /** Requests being served right now. */
  readonly active: number;
  close(): Promise<void>;
}

// ---------------------------------------------------------------- chat and embeddings logic

export interface ChatAnswerOptions {
  reply?: string;
  /** The model declines with this text (`message.refusal`, content null). */
  refusal?: string;
  /** Fields merged into `usage`. */
  usage?: Record<string, unknown>;
  cachedTokens?: number;
  maxReplyWords?: number;
  idPrefix?: string;
}

export interface ChatAnswer extends ItemAnswer {
  reply: string;
  /** The reply is a refusal (`message.refusal`). */
  refused?: boolean;
  finishReason: 'stop' | 'length';
  usage?: ChatUsage;
}

export interface ChatUsage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
  prompt_tokens_details: { cached_tokens: number; audio_tokens: number };
  completion_tokens_details: { reasoning_tokens: number; audio_tokens: number; accepted_prediction_tokens: number; rejected_prediction_tokens: number };
}

let completionSequence = 0;

/** Validates a chat body; returns the error answer, or undefined when it is usable. */
export function validateChat(body: Record<string, unknown> | undefined): ItemAnswer | undefined {
  if (!body || typeof body !== 'object') return { status: 400, body: openAIErrorBody(400, { message: 'The body must be a JSON object.' }) };
  if (typeof body.model !== 'string' || body.model === '') {
    return { status: 400, body: openAIErrorBody(400, { message: 'you must provide a model parameter', param: 'model' }) };
  }
  const messages = body.messages;
  if (!Array.isArray(messages) || messages.length === 0) {
    return { status: 400, body: openAIErrorBody(400, { message: "'messages' must be a non-empty array.", param: 'messages' }) };
  }
  for (let index = 0; index < messages.length; index++) {
    const message = messages[index] as ChatMessageBody | null;
    if (!message || typeof message.role !== 'string') {
      return { status: 400, body: openAIErrorBody(400, { message: 'Each message needs a role.', param: `messages[${index}].role` }) };
    }
  }
  return undefined;
}

/**
 * The chat completion the server answers for `body` (shared by the online route and
 * batch items): reply, finish reason for `max_completion_tokens`/`max_tokens`, usage.
 */
export function answerChat(body: Record<string, unknown>, options: ChatAnswerOptions = {}): ChatAnswer {
  const invalid = validateChat(body);
  if (invalid) return { ...invalid, reply: '', finishReason: 'stop' };
  const messages = body.messages as ChatMessageBody[];
  const refused = options.refusal !== undefined;
  let reply = options.refusal ?? options.reply ?? replyFor(messages, options.maxReplyWords ?? defaultMaxReplyWords);
  let finishReason: 'stop' | 'length' = 'stop';
  const limit = (body.max_completion_tokens ?? body.max_tokens) as number | undefined;
  if (typeof limit === 'number' && limit >= 0 && countTokens(reply) > limit) {
    reply = reply.slice(0, limit * 4);
    finishReason = 'length';
  }
  const promptTokens = countTokens(serializePrompt(messages));
  const completionTokens = countTokens(reply);
  const usage: ChatUsage = Object.assign(
    {
      prompt_tokens: promptTokens,
      completion_tokens: completionTokens,
      total_tokens: promptTokens + completionTokens,
      prompt_tokens_details: { cached_tokens: options.cachedTokens ?? 0, audio_tokens: 0 },
      completion_tokens_details: { reasoning_tokens: 0, audio_tokens: 0, accepted_prediction_tokens: 0, rejected_prediction_tokens: 0 },
    },
    options.usage,
  );

  const id = `${options.idPrefix ?? 'chatcmpl-'}${(++completionSequence).toString(36).padStart(8, '0')}`;
  return {
    status: 200,
    reply,
    refused,
    finishReason,
    usage,
    body: {
      id,
      object: 'chat.completion',
      created: Math.floor(Date.now() / 1000),
      model: body.model,
      choices: [{ index: 0, message: { role: 'assistant', content: refused ? null : reply, refusal: refused ? reply : null, annotations: [] }, logprobs: null, finish_reason: finishReason }],
      usage,
      // OpenAI answers the tier that served the call: the one asked for, else 'default'.
      service_tier: typeof body.service_tier === 'string' && body.service_tier !== 'auto' ? body.service_tier : 'default',
      system_fingerprint: 'fp_inferlane_test',
    },
  };
}

/** The embeddings answer for `body` (shared by the online route and batch items). */
export function answerEmbeddings(body: Record<string, unknown> | undefined, defaultDimensions = 8): ItemAnswer & { inputs: number } {
  const inputs = embeddingInputs(body?.input);
  if (!inputs) return { status: 400, inputs: 0, body: openAIErrorBody(400, { message: "'input' must be a string or a non-empty array.", param: 'input' }) };
  if (inputs.length > 2048) return { status: 400, inputs: 0, body: openAIErrorBody(400, { message: 'At most 2048 inputs per request.', param: 'input' }) };
  if (typeof body!.model !== 'string') return { status: 400, inputs: 0, body: openAIErrorBody(400, { message: 'you must provide a model parameter', param: 'model' }) };
  const dimensions = body!.dimensions ?? defaultDimensions;
  if (typeof dimensions !== 'number' || !Number.isInteger(dimensions) || dimensions < 1 || dimensions > 4096) {
    return { status: 400, inputs: 0, body: openAIErrorBody(400, { message: "'dimensions' must be an integer from 1 to 4096.", param: 'dimensions' }) };
  }
  const base64 = body!.encoding_format === 'base64';
  let tokens = 0;
  const data = inputs.map((text, index) => {
    tokens += countTokens(text);
    const vector = expectedEmbedding(text, dimensions);
    return { object: 'embedding', index, embedding: base64 ? embeddingToBase64(vector) : vector };
  });
  return { status: 200, inputs: inputs.length, body: { object: 'list', data, model: body!.model, usage: { prompt_tokens: tokens, total_tokens: tokens } } };
}

function embeddingInputs(input: unknown): string[] | undefined {
  if (typeof input === 'string') return [input];
  if (!Array.isArray(input) || input.length === 0) return undefined;
  // Token arrays (number[] or number[][]) are accepted by OpenAI; they embed as their digits.
  if (input.every((item) => typeof item === 'number')) return [input.join(' ')];
  const texts: string[] = [];
  for (const item of input) {
    if (typeof item === 'string') texts.push(item);
    else if (Array.isArray(item) && item.every((token) => typeof token === 'number')) texts.push(item.join(' '));
    else return undefined;
  }
  return texts;
}

// ---------------------------------------------------------------- prompt cache

/** One replica's prefix cache: prefix hash -> last use (epoch ms), in least-recently-used order. */
export class PromptCache {
  private readonly entries = new Map<string, number>();

  constructor(private readonly options: Required<PromptCacheOptions>) {}

  /** Returns the cached prefix length in tokens, then stores (and refreshes) every prefix of this prompt. */
  lookupAndStore(scope: string, prompt: string, promptTokens: number, now: number): number {
    const { minTokens, stepTokens, ttlMs, maxEntries } = this.options;
    if (promptTokens < minTokens) return 0;
    const keys: string[] = [];
    const lengths: number[] = [];
    // Two FNV-1a passes with different seeds, snapshotted at each boundary: one O(n) walk.
    let first = hash32(scope);
    let second = hash32(scope, 0x9747b28c);
    let position = 0;
    for (let tokens = minTokens; tokens <= promptTokens; tokens += stepTokens) {
      const end = Math.min(prompt.length, tokens * 4);
      for (; position < end; position++) {
        const code = prompt.charCodeAt(position);
        first = Math.imul(first ^ code, 0x01000193) >>> 0;
        second = Math.imul(second ^ code, 0x01000193 + 2) >>> 0;
      }
      keys.push(`${first.toString(36)}.${second.toString(36)}.${tokens}`);
      lengths.push(tokens);
    }
    let cached = 0;
    for (let index = keys.length - 1; index >= 0; index--) {
      const lastUsed = this.entries.get(keys[index]);
      if (lastUsed !== undefined && now - lastUsed <= ttlMs) {
        cached = lengths[index];
        break;
      }
    }
    for (const key of keys) {
      this.entries.delete(key);
      this.entries.set(key, now);
    }
    while (this.entries.size > maxEntries) this.entries.delete(this.entries.keys().next().value as string);
    return cached;
  }

  clear(): void {
    this.entries.clear();
  }

  get size(): number {
    return this.entries.size;
  }
}

// ---------------------------------------------------------------- server

interface Exchange {
  req: IncomingMessage;
  res: ServerResponse;
  record: RecordedRequest;
  rawBody: Buffer;
  body: unknown;
  path: string;
  params: string[];
  query: URLSearchParams;
  step?: ScriptStep;
  replicaPinned: boolean;
}

type BuiltinHandler = (exchange: Exchange) => void | Promise<void>;

interface RouteDefinition {
  method: string;
  /** Segments after /v1; ':id' matches one segment. */
  pattern: string[];
  key: string;
  handler: BuiltinHandler;
}

const defaultModels = ['gpt-4.1-mini', 'gpt-4.1-nano', 'text-embedding-3-small', 'gpt-image-1', 'whisper-1', 'gpt-4o-mini-tts'];
const filePurposes = new Set(['batch', 'assistants', 'fine-tune', 'vision', 'user_data', 'evals']);

/** Starts the server on 127.0.0.1 and resolves once it listens. */
export async function startOpenAIServer(options: OpenAIServerOptions = {}): Promise<OpenAIServer> {
  const now = options.now ?? Date.now;
  const random = seededRandom(options.seed ?? 1);
  const recordRequests = options.recordRequests ?? true;
  const cacheOptions: Required<PromptCacheOptions> = {
    ttlMs: options.promptCache?.ttlMs ?? 300_000,
    minTokens: options.promptCache?.minTokens ?? 1024,
    stepTokens: options.promptCache?.stepTokens ?? 128,
    maxEntries: options.promptCache?.maxEntries ?? 200_000,
  };
  const timing = options.timing ?? {};
  const events = new EventEmitter();
  events.setMaxListeners(0);
  const requests: RecordedRequest[] = [];
  /** Per route: a queue of steps with their remaining uses, or a function asked every time. */
  const scripts = new Map<string, { step: ScriptStep; remaining: number }[] | Exclude<RouteScript, ScriptStep | ScriptStep[]>>();
  const extraRoutes: RouteHandler[] = [];
  let caches: PromptCache[] = [];
  /** Replicas that unpinned `/v1` requests are hashed over (caches may grow past it when pinned). */
  let replicaCount = 1;
  let sequence = 0;
  let active = 0;
  const waiting: (() => void)[] = [];
  const sockets = new Set<Socket>();

  const setReplicas = (count: number) => {
    if (!Number.isInteger(count) || count < 1) throw new RangeError('replicas must be an integer of at least 1');
    caches = Array.from({ length: count }, (_, index) => caches[index] ?? new PromptCache(cacheOptions));
    replicaCount = count;
  };
  setReplicas(options.replicas ?? 1);

  const files = new FileStore(now);
  const batchProcessor = (endpoint: string, body: Record<string, unknown>): ItemAnswer => {
    if (endpoint === '/v1/chat/completions') {
      const answer = answerChat(body, { maxReplyWords: options.maxReplyWords });
      return { status: answer.status, body: answer.body };
    }
    if (endpoint === '/v1/embeddings') return answerEmbeddings(body, options.embeddingDimensions);
    return { status: 400, body: openAIErrorBody(400, { message: `The test server does not emulate ${endpoint} in batches.`, param: 'url' }) };
  };
  const batchOptions = () => ({
    now,
    seed: options.seed ?? 1,
    processItem: batchProcessor,
    timeline: options.batches?.timeline,
    failItems: options.batches?.failItems,
    rejectLines: options.batches?.rejectLines,
    maxLines: options.batches?.maxLines,
  });
  let batches = new BatchStore(files, batchOptions());

  // ------------------------------------------------------------ helpers

  const sendJson = (exchange: Exchange, status: number, body: unknown, headers: Record<string, string> = {}) => {
    const { res, record } = exchange;
    if (res.destroyed || res.headersSent) return;
    record.status = status;
    const text = JSON.stringify(body);
    res.writeHead(status, {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(text),
      'x-request-id': `req_${record.id}`,
      ...exchange.step?.headers,
      ...headers,
    });
    res.end(text);
  };

  const sendBytes = (exchange: Exchange, status: number, data: Buffer | string, contentType: string) => {
    const { res, record } = exchange;
    if (res.destroyed || res.headersSent) return;
    record.status = status;
    res.writeHead(status, { 'content-type': contentType, 'content-length': Buffer.byteLength(data), 'x-request-id': `req_${record.id}`, ...exchange.step?.headers });
    res.end(data);
  };

  const sendError = (exchange: Exchange, status: number, message?: string, param?: string | null, code?: string) =>
    sendJson(exchange, status, openAIErrorBody(status, { message, param, code }));

  /** Resolves true after ms, or false as soon as the response closes; no timer for ms <= 0. */
  const wait = (res: ServerResponse, ms: number): Promise<boolean> => {
    if (res.destroyed || res.writableEnded) return Promise.resolve(false);
    if (!(ms > 0)) return Promise.resolve(true);
    return new Promise((resolve) => {
      const onClose = () => {
        clearTimeout(timer);
        resolve(false);
      };
      const timer = setTimeout(() => {
        res.off('close', onClose);
        resolve(true);
      }, ms);
      timer.unref();
      res.once('close', onClose);
    });
  };

  const acquire = (res: ServerResponse): Promise<boolean> => {
    const limit = options.maxConcurrent;
    if (limit === undefined || active < limit) {
      active++;
      return Promise.resolve(true);
    }
    return new Promise((resolve) => {
      const grant = () => {
        res.off('close', onClose);
        active++;
        resolve(true);
      };
      const onClose = () => {
        const index = waiting.indexOf(grant);
        if (index !== -1) waiting.splice(index, 1);
        resolve(false);
      };
      res.once('close', onClose);
      waiting.push(grant);
    });
  };

  const release = () => {
    active--;
    const next = waiting.shift();
    if (next) next();
  };

  const stepFor = (record: RecordedRequest, headerValue: string | undefined): ScriptStep | undefined => {
    const fromHeader = parseScriptHeader(headerValue);
    if (fromHeader) return fromHeader;
    for (const key of [record.route, '*']) {
      const script = scripts.get(key);
      if (script === undefined) continue;
      if (typeof script === 'function') {
        const step = script(record, random);
        if (step) return step;
        continue;
      }
      const head = script[0];
      if (!head) continue;
      if (--head.remaining <= 0) script.shift();
      return head.step;
    }
    return undefined;
  };

  // ------------------------------------------------------------ built-in routes

  const chatCompletions: BuiltinHandler = async (exchange) => {
    const { req, res, record, step } = exchange;
    const body = exchange.body as Record<string, unknown>;
    const invalid = validateChat(body);
    if (invalid) return sendJson(exchange, invalid.status, invalid.body);
    const messages = body.messages as ChatMessageBody[];
    const prompt = serializePrompt(messages);
    const promptTokens = countTokens(prompt);
    const breakpoints = findBreakpoints(messages);
    if (breakpoints.length > 0) record.cacheBreakpoints = breakpoints;
    const cacheKey = typeof body.prompt_cache_key === 'string' ? body.prompt_cache_key : '';
    if (!exchange.replicaPinned) {
      // OpenAI routes by a hash of the first ~256 tokens plus the cache key.
      record.replica = hash32(prompt.slice(0, 1024), hash32(cacheKey)) % replicaCount;
    }
    const cache = caches[record.replica];
    const cachedTokens = cache.lookupAndStore(`${String(body.model)}\u0000${cacheKey}`, prompt, promptTokens, now());
    record.promptTokens = promptTokens;
    record.cachedTokens = cachedTokens;
    const replyHeader = req.headers['x-test-reply'];
    const answer = answerChat(body, {
      reply: typeof replyHeader === 'string' ? decodeHeader(replyHeader) : step?.reply,
      refusal: step?.refusal,
      usage: step?.usage,
      cachedTokens,
      maxReplyWords: options.maxReplyWords,
    });
    const firstTokenMs =
      (timing.firstTokenBaseMs ?? 0) +
      (promptTokens - cachedTokens) * (timing.perUncachedTokenMs ?? 0) +
      cachedTokens * (timing.perCachedTokenMs ?? 0);
    record.firstTokenMs = firstTokenMs;
    const deltas = splitIntoDeltas(answer.reply, options.wordsPerDelta);
    const interChunkMs = step?.stream?.interChunkMs ?? timing.interChunkMs ?? 0;

    if (body.stream !== true || step?.ignoreStream) {
      if (!(await wait(res, firstTokenMs + interChunkMs * deltas.length))) return;
      return sendJson(exchange, 200, step?.body ?? answer.body);
    }

    if (!(await wait(res, firstTokenMs))) return;
    const completion = answer.body as { id: string; created: number; model: string; service_tier: string };
    const base = { id: completion.id, object: 'chat.completion.chunk', created: completion.created, model: completion.model, service_tier: completion.service_tier, system_fingerprint: 'fp_inferlane_test' };
    const includeUsage = (body.stream_options as { include_usage?: boolean } | undefined)?.include_usage === true;
    const chunks: unknown[] = [{ ...base, choices: [{ index: 0, delta: { role: 'assistant', content: '', refusal: null }, logprobs: null, finish_reason: null }] }];
    // A refusal streams as `delta.refusal` (content stays null), as OpenAI's does.
    for (const delta of deltas) chunks.push({ ...base, choices: [{ index: 0, delta: answer.refused ? { content: null, refusal: delta } : { content: delta }, logprobs: null, finish_reason: null }] });
    chunks.push({ ...base, choices: [{ index: 0, delta: {}, logprobs: null, finish_reason: answer.finishReason }] });
    if (includeUsage) chunks.push({ ...base, choices: [], usage: answer.usage });
    await sendEventStream(exchange, chunks, { interChunkMs });
  };

  /**
   * Writes `payloads` as server-sent events (`data: <json>`), then `data: [DONE]`, applying
   * the step's stream faults. The first two events (role, first words) go out together;
   * later ones wait `interChunkMs`.
   */
  const sendEventStream = async (exchange: Exchange, payloads: unknown[], streamOptions: EventStreamOptions = {}) => {
    const { req, res, record, step } = exchange;
    const faults = step?.stream ?? {};
    if (step?.stream) record.fault = 'stream';
    const interChunkMs = streamOptions.interChunkMs ?? faults.interChunkMs ?? timing.interChunkMs ?? 0;
    if (!(await wait(res, faults.firstChunkDelayMs ?? 0))) return;
    if (res.destroyed || res.headersSent) return;
    record.status = 200;
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache',
      'x-request-id': `req_${record.id}`,
      ...step?.headers,
      ...streamOptions.headers,
    });
    // Writes resolve when handed to the socket, so a reset never drops earlier chunks.
    let lastWrite: Promise<unknown> = Promise.resolve();
    const write = (text: string) => {
      lastWrite = new Promise((resolve) => res.write(text, resolve));
    };
    for (let index = 0; index <= payloads.length; index++) {
      if (index > 1 && index < payloads.length && !(await wait(res, interChunkMs))) return;
      if (res.destroyed) return;
      if (faults.resetAfterChunks !== undefined && index === faults.resetAfterChunks) {
        await lastWrite;
        req.socket.destroy();
        return;
      }
      if (faults.truncateAfterChunks !== undefined && index === faults.truncateAfterChunks) {
        res.end();
        return;
      }
      if (faults.malformedAfterChunks !== undefined && index === faults.malformedAfterChunks) {
        write('data: {"id":"broken","choices":[{"delta":{"content":\n\n');
      }
      if (index === payloads.length) break;
      write(`data: ${JSON.stringify(payloads[index])}\n\n`);
    }
    const done = streamOptions.done === undefined ? '[DONE]' : streamOptions.done;
    res.end(done === false ? undefined : `data: ${done}\n\n`);
  };

  const embeddings: BuiltinHandler = async (exchange) => {
    const answer = answerEmbeddings(exchange.body as Record<string, unknown>, options.embeddingDimensions);
    const cost = options.embeddingCost;
    if (answer.status === 200 && cost && !(await wait(exchange.res, (cost.perRequestMs ?? 0) + (cost.perInputMs ?? 0) * answer.inputs))) return;
    sendJson(exchange, answer.status, exchange.step?.body ?? answer.body);
  };

  const images: BuiltinHandler = (exchange) => {
    const body = exchange.body as Record<string, unknown> | undefined;
    if (typeof body?.prompt !== 'string' || body.prompt === '') return sendError(exchange, 400, "'prompt' is required.", 'prompt');
    const count = body.n ?? 1;
    if (typeof count !== 'number' || !Number.isInteger(count) || count < 1 || count > 10) return sendError(exchange, 400, "'n' must be from 1 to 10.", 'n');
    const asUrl = body.response_format === 'url';
    const data = Array.from({ length: count }, () => (asUrl ? { url: `data:image/png;base64,${tinyPngBase64}` } : { b64_json: tinyPngBase64 }));
    const promptTokens = countTokens(body.prompt);
    if (exchange.step?.body !== undefined) return sendJson(exchange, 200, exchange.step.body);
    sendJson(exchange, 200, {
      created: Math.floor(now() / 1000),
      data,
      usage: { input_tokens: promptTokens, output_tokens: 0, total_tokens: promptTokens, input_tokens_details: { text_tokens: promptTokens, image_tokens: 0 } },
    });
  };

  const transcriptions: BuiltinHandler = (exchange) => {
    const parts = (exchange.body as { __parts?: ReturnType<typeof parseMultipart> } | undefined)?.__parts;
    const file = parts?.find((part) => part.name === 'file');
    const fields = multipartText(parts);
    if (!file) return sendError(exchange, 400, "'file' is required.", 'file');
    if (!fields.model) return sendError(exchange, 400, "'model' is required.", 'model');
    const text = transcriptFor(file.data);
    const seconds = audioSecondsFor(file.data.length);
    const format = fields.response_format ?? 'json';
    if (exchange.step?.body !== undefined) return sendJson(exchange, 200, exchange.step.body);
    if (format === 'text' || format === 'srt' || format === 'vtt') return sendBytes(exchange, 200, text, 'text/plain; charset=utf-8');
    if (format === 'verbose_json') {
      return sendJson(exchange, 200, {
        task: 'transcribe',
        language: fields.language ?? 'english',
        duration: seconds,
        text,
        segments: [{ id: 0, seek: 0, start: 0, end: seconds, text, tokens: [], temperature: 0, avg_logprob: 0, compression_ratio: 1, no_speech_prob: 0 }],
        usage: { type: 'duration', seconds: Math.ceil(seconds) },
      });
    }
    sendJson(exchange, 200, { text, usage: { type: 'duration', seconds: Math.ceil(seconds) } });
  };

  const speech: BuiltinHandler = (exchange) => {
    const body = exchange.body as Record<string, unknown> | undefined;
    if (typeof body?.input !== 'string' || body.input === '') return sendError(exchange, 400, "'input' is required.", 'input');
    if (typeof body.model !== 'string') return sendError(exchange, 400, "'model' is required.", 'model');
    const format = (body.response_format as string | undefined) ?? 'mp3';
    const types: Record<string, string> = { mp3: 'audio/mpeg', wav: 'audio/wav', pcm: 'audio/pcm', opus: 'audio/opus', aac: 'audio/aac', flac: 'audio/flac' };
    // Always a WAV payload: valid for decoders that sniff, and its size follows the input text.
    sendBytes(exchange, 200, speechFor(body.input), types[format] ?? 'application/octet-stream');
  };

  const modelObject = (id: string) => ({ id, object: 'model', created: 1_700_000_000, owned_by: 'inferlane-test' });
  const models = options.models ?? defaultModels;
  const listModels: BuiltinHandler = (exchange) => sendJson(exchange, 200, { object: 'list', data: models.map(modelObject) });
  const getModel: BuiltinHandler = (exchange) => {
    const id = decodeURIComponent(exchange.params[0]);
    if (!models.includes(id)) return sendError(exchange, 404, `The model '${id}' does not exist`, 'model', 'model_not_found');
    sendJson(exchange, 200, modelObject(id));
  };

  const uploadFile: BuiltinHandler = (exchange) => {
    const parts = (exchange.body as { __parts?: ReturnType<typeof parseMultipart> } | undefined)?.__parts;
    const file = parts?.find((part) => part.name === 'file');
    const purpose = multipartText(parts).purpose;
    if (!file) return sendError(exchange, 400, "'file' is required.", 'file');
    if (!purpose || !filePurposes.has(purpose)) return sendError(exchange, 400, `'purpose' must be one of ${[...filePurposes].join(', ')}.`, 'purpose');
    // The part is a view into the request body: a tens-of-MB upload is stored without a copy.
    sendJson(exchange, 200, files.create(file.data, file.filename ?? 'upload', purpose));
  };

  const fileById = (exchange: Exchange) => {
    const id = exchange.params[0];
    const file = files.get(id);
    if (!file) sendError(exchange, 404, `No such File object: ${id}`, 'id');
    return file;
  };

  const batchCall = (exchange: Exchange, run: () => unknown) => {
    try {
      sendJson(exchange, 200, run());
    } catch (error) {
      if (!(error instanceof BatchRequestError)) throw error;
      sendError(exchange, error.status, error.message, error.param);
    }
  };

  const routes: RouteDefinition[] = [];
  const route = (method: string, path: string, handler: BuiltinHandler) =>
    routes.push({ method, pattern: path.split('/').filter(Boolean), key: path, handler });
  route('POST', '/chat/completions', chatCompletions);
  route('POST', '/embeddings', embeddings);
  route('POST', '/images/generations', images);
  route('POST', '/audio/transcriptions', transcriptions);
  route('POST', '/audio/translations', transcriptions);
  route('POST', '/audio/speech', speech);
  route('GET', '/models', listModels);
  route('GET', '/models/:id', getModel);
  route('POST', '/files', uploadFile);
  route('GET', '/files', (exchange) => {
    const data = files.list(exchange.query.get('purpose') ?? undefined);
    sendJson(exchange, 200, { object: 'list', data, first_id: data[0]?.id ?? null, last_id: data.at(-1)?.id ?? null, has_more: false });
  });
  route('GET', '/files/:id', (exchange) => {
    const file = fileById(exchange);
    if (file) sendJson(exchange, 200, file);
  });
  route('DELETE', '/files/:id', (exchange) => {
    const file = fileById(exchange);
    if (file) sendJson(exchange, 200, { id: file.id, object: 'file', deleted: files.delete(file.id) });
  });
  route('GET', '/files/:id/content', (exchange) => {
    const file = fileById(exchange);
    if (file) sendBytes(exchange, 200, files.content(file.id)!, 'application/octet-stream');
  });
  route('POST', '/batches', (exchange) => batchCall(exchange, () => batches.create((exchange.body ?? {}) as Record<string, unknown>)));
  route('GET', '/batches', (exchange) => {
    const limit = Number(exchange.query.get('limit') ?? 20);
    if (!Number.isInteger(limit) || limit < 1 || limit > 100) return sendError(exchange, 400, "'limit' must be from 1 to 100.", 'limit');
    const page = batches.list(limit, exchange.query.get('after') ?? undefined);
    sendJson(exchange, 200, { object: 'list', data: page.data, first_id: page.data[0]?.id ?? null, last_id: page.data.at(-1)?.id ?? null, has_more: page.has_more });
  });
  route('GET', '/batches/:id', (exchange) =>
    batchCall(exchange, () => {
      const batch = batches.get(exchange.params[0]);
      if (!batch) throw new BatchRequestError(404, `No such Batch object: ${exchange.params[0]}`, 'batch_id');
      return batch;
    }),
  );
  route('POST', '/batches/:id/cancel', (exchange) => batchCall(exchange, () => batches.cancel(exchange.params[0])));

  const matchRoute = (method: string, segments: string[]): { definition?: RouteDefinition; params: string[]; methodMismatch: boolean } => {
    let methodMismatch = false;
    for (const definition of routes) {
      if (definition.pattern.length !== segments.length) continue;
      const params: string[] = [];
      let matched = true;
      for (let index = 0; index < segments.length; index++) {
        const expected = definition.pattern[index];
        if (expected === ':id') params.push(segments[index]);
        else if (expected !== segments[index]) {
          matched = false;
          break;
        }
      }
      if (!matched) continue;
      if (definition.method === method) return { definition, params, methodMismatch: false };
      methodMismatch = true;
    }
    return { params: [], methodMismatch };
  };

  // ------------------------------------------------------------ control routes (another process drives the server)

  const control = async (exchange: Exchange, name: string): Promise<void> => {
    const body = (exchange.body ?? {}) as Record<string, unknown>;
    switch (name) {
      case 'requests':
        return sendJson(exchange, 200, requests);
      case 'script':
        handle.script(String(body.route ?? '*'), (body.steps ?? []) as ScriptStep[]);
        return sendJson(exchange, 200, { ok: true });
      case 'reset':
        handle.reset();
        return sendJson(exchange, 200, { ok: true });
      case 'advance-batches':
        handle.advanceBatches({ items: typeof body.items === 'number' ? body.items : undefined });
        return sendJson(exchange, 200, { ok: true });
      case 'run-batches':
        handle.runBatches();
        return sendJson(exchange, 200, { ok: true });
      case 'expire-batches':
        handle.expireBatches(typeof body.id === 'string' ? body.id : undefined);
        return sendJson(exchange, 200, { ok: true });
      case 'replicas':
        handle.setReplicas(Number(body.count));
        return sendJson(exchange, 200, { ok: true });
      default:
        return sendError(exchange, 404, `Unknown control route: ${name}`);
    }
  };

  // ------------------------------------------------------------ request pipeline

  const onRequest = async (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    let bytes = 0;
    for await (const chunk of req as AsyncIterable<Buffer>) {
      chunks.push(chunk);
      bytes += chunk.length;
    }
    const rawBody = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, bytes);
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    let path = url.pathname;
    let replica = 0;
    let replicaPinned = false;
    const pinned = /^\/r\/(\d+)(\/.*)$/.exec(path);
    if (pinned) {
      replica = Number(pinned[1]);
      replicaPinned = true;
      path = pinned[2];
    }
    const segments = path.split('/').filter(Boolean);
    const versioned = segments[0] === 'v1';
    const method = req.method ?? 'GET';
    const match = versioned ? matchRoute(method, segments.slice(1)) : { params: [], methodMismatch: false };
    const routeKey = match.definition?.key ?? (versioned ? `/${segments.slice(1).join('/')}` : path);

    const contentType = req.headers['content-type'] ?? '';
    let body: unknown;
    let recordedBody: unknown;
    let multipartFields: string[] | undefined;
    if (contentType.includes('multipart/form-data')) {
      const parts = parseMultipart(rawBody, contentType);
      multipartFields = parts.map((part) => part.name);
      const view: Record<string, unknown> = {};
      for (const part of parts) view[part.name] = part.filename !== undefined ? { filename: part.filename, bytes: part.data.length } : part.data.toString('utf8');
      recordedBody = view;
      body = { ...view, __parts: parts };
    } else if (rawBody.length > 0 && (contentType.includes('json') || rawBody[0] === 0x7b || rawBody[0] === 0x5b)) {
      try {
        body = JSON.parse(rawBody.toString('utf8'));
      } catch {
        body = undefined;
      }
      recordedBody = body;
    }

    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(req.headers)) if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(', ') : value;
    const record: RecordedRequest = {
      id: ++sequence,
      method,
      path,
      route: routeKey,
      query: Object.fromEntries(url.searchParams),
      headers,
      body: recordedBody,
      multipartFields,
      bytes,
      replica,
      receivedAt: performance.now(),
      aborted: false,
    };
    const exchange: Exchange = { req, res, record, rawBody, body, path, params: match.params, query: url.searchParams, replicaPinned };

    if (segments[0] === '__control') return control(exchange, segments[1] ?? '');

    if (recordRequests) requests.push(record);
    res.once('close', () => {
      record.finishedAt = performance.now();
      if (!res.writableFinished) record.aborted = true;
      events.emit('change');
    });
    events.emit('request', record);
    events.emit('change');

    if (!(await acquire(res))) return;
    res.once('close', release);

    if (options.apiKey !== undefined && headers.authorization !== `Bearer ${options.apiKey}`) return sendError(exchange, 401);
    // A pinned replica past the configured count gets its own cache on first use, so a
    // client given N replica URLs works whatever `replicas` says; hash routing keeps N.
    while (replica >= caches.length) caches.push(new PromptCache(cacheOptions));

    const step = stepFor(record, headers['x-test-script']);
    exchange.step = step;
    const delay = drawLatency(options.latency, random) + (step?.latencyMs ?? 0) + (step?.latency ? Math.max(0, step.latency(random)) : 0);
    if (!(await wait(res, delay))) return;
    if (step?.reset) {
      record.fault = 'reset';
      req.socket.destroy();
      return;
    }
    if (step?.hang) {
      record.fault = 'hang';
      return;
    }
    if (step?.rawBody !== undefined) {
      record.fault = 'status';
      return sendBytes(exchange, step.status ?? 200, step.rawBody, step.contentType ?? 'text/plain');
    }
    if (step?.status !== undefined && step.status >= 400) {
      record.fault = 'status';
      const retryHeaders: Record<string, string> = {};
      if (step.retryAfterMs !== undefined) {
        retryHeaders['retry-after'] = String(Math.ceil(step.retryAfterMs / 1000));
        retryHeaders['retry-after-ms'] = String(step.retryAfterMs);
      }
      return sendJson(exchange, step.status, step.body ?? openAIErrorBody(step.status, { message: step.message, code: step.code }), retryHeaders);
    }

    const context: RouteContext = {
      record,
      rawBody,
      path,
      query: url.searchParams,
      replica,
      step,
      random,
      server: handle,
      wait: (ms) => wait(res, ms),
      sendJson: (status, json, extraHeaders) => sendJson(exchange, status, json, extraHeaders),
      sendEventStream: (payloads, streamOptions) => sendEventStream(exchange, payloads, streamOptions),
    };
    for (const handler of extraRoutes) if (await handler(req, res, body, context)) return;
    if (match.definition) return match.definition.handler(exchange);
    if (match.methodMismatch) return sendError(exchange, 405, `Method ${method} is not allowed on ${path}.`);
    sendError(exchange, 404, `Unknown request URL: ${method} ${path}.`, null, 'unknown_url');
  };

  const server: Server = createServer((req, res) => {
    onRequest(req, res).catch(() => {
      // A bug in a handler must not crash the test process; the client sees a 500.
      if (!res.headersSent && !res.destroyed) {
        res.writeHead(500, { 'content-type': 'application/json' });
        res.end(JSON.stringify(openAIErrorBody(500)));
      } else res.destroy();
    });
  });
  // Longer than any client's idle timeout (undici: 4 s), so the client, never the server,
  // closes idle keep-alive sockets: no race where a reused socket is reset under a request
  // (likely when a test blocks the shared event loop, e.g. runBatches on 120,000 lines).
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const url = `http://127.0.0.1:${port}`;

  const handle: OpenAIServer = {
    url,
    baseURL: `${url}/v1`,
    replicaURL: (replica) => `${url}/r/${replica}/v1`,
    requests,
    script(routeName, steps) {
      const key = normaliseRoute(routeName);
      if (typeof steps === 'function') return void scripts.set(key, steps);
      // A private queue, so consuming steps never mutates the caller's array.
      const queue = (Array.isArray(steps) ? steps : [steps]).map((step) => ({ step, remaining: Math.max(1, step.times ?? 1) }));
      scripts.set(key, queue);
    },
    reset() {
      requests.length = 0;
      scripts.clear();
      for (const cache of caches) cache.clear();
      files.clear();
      batches = new BatchStore(files, batchOptions());
      handle.batches = batches;
    },
    addRoutes(handler) {
      extraRoutes.push(handler);
    },
    setReplicas,
    onRequest(listener) {
      events.on('request', listener);
      return () => events.off('request', listener);
    },
    waitFor(predicate) {
      return new Promise((resolve) => {
        if (predicate(requests)) return resolve();
        const check = () => {
          if (!predicate(requests)) return;
          events.off('change', check);
          resolve();
        };
        events.on('change', check);
      });
    },
    async waitForRequests(count, routeName) {
      const key = routeName === undefined ? undefined : normaliseRoute(routeName);
      const matching = () => (key === undefined ? requests : requests.filter((request) => request.route === key));
      await handle.waitFor(() => matching().length >= count);
      return matching();
    },
    advanceBatches: (advanceOptions) => void batches.advance(advanceOptions),
    runBatches: () => batches.runToCompletion(),
    expireBatches: (id) => batches.expire(id),
    files,
    batches,
    get active() {
      return active;
    },
    close() {
      return new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const socket of sockets) socket.destroy();
        server.closeAllConnections();
      });
    },
  };
  return handle;
}

/** '/v1/chat/completions', 'chat/completions' and '/chat/completions' name the same route. */
function normaliseRoute(route: string): string {
  if (route === '*') return route;
  let key = route.startsWith('/') ? route : `/${route}`;
  if (key.startsWith('/v1/')) key = key.slice(3);
  return key;
}

/** `x-test-reply` may be percent-encoded so tests can send any text in an ASCII header. */
function decodeHeader(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}

function multipartText(parts: ReturnType<typeof parseMultipart> | undefined): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const part of parts ?? []) if (part.filename === undefined) fields[part.name] = part.data.toString('utf8');
  return fields;
}

function findBreakpoints(messages: ChatMessageBody[]): CacheBreakpoint[] {
  const found: CacheBreakpoint[] = [];
  messages.forEach((message, messageIndex) => {
    if (!Array.isArray(message.content)) return;
    message.content.forEach((part, partIndex) => {
      const control = part?.cache_control;
      if (control && typeof control === 'object') found.push({ message: messageIndex, part: partIndex, type: control.type ?? 'ephemeral', ttl: control.ttl });
    });
  });
  return found;
}

// Re-exported so huggingface-routes.ts and benches need one import.
export {
  countTokens,
  messageText,
  openAIErrorBody,
  replyFor,
  serializePrompt,
  splitIntoDeltas,
  transcriptFor,
  speechFor,
  tinyPngBase64,
  seededRandom,
  parseMultipart,
};
export { latency, parseScriptHeader, scriptPresets, cosineSimilarity, embeddingToBase64 } from './scripts.js';
export type { ScriptStep, StreamFaults, LatencyModel, Random } from './scripts.js';
