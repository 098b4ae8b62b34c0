/**
 * `openai(settings)`: one OpenAI (or OpenAI-compatible) model at one place, as a `Target`.
 *
 * Built on the official `openai` client with its retries off (the executor owns retries,
 * deadlines and fallbacks) and the attempt's signal on every request, so an abort closes
 * the HTTP connection. Imports src/target.ts and src/errors.ts only (DESIGN.md section 3).
 */
import OpenAI, { APIError, toFile } from 'openai';
import { incompleteStreamError, InvalidRequestError, ProviderError } from '../../src/errors.js';
import type {
  CallContext,
  EmbedResult,
  FinishReason,
  ImageResult,
  MicroBatchSettings,
  Modality,
  PromptCacheSettings,
  SpeechResult,
  StreamPart,
  Target,
  TargetCost,
  TargetLimits,
  TextCall,
  TextResult,
  TranscribeResult,
  Usage,
} from '../../src/target.js';
import { finishReasonOf } from '../../src/target.js';
import { createBatchCapability, type OpenAIBatchCapability, type OpenAIBatchSettings } from './batch.js';
import { buildChatBody, mapChatCompletion, mapUsage, type MaxTokensParameter, type WireChatCompletion, type WireUsage } from './chat.js';
import { mapOpenAIError } from './errors.js';
import { type ServerErrorEvent, EventStreamReader } from './event-stream-reader.js';

export { mapOpenAIError, parseRetryAfter } from './errors.js';
export type { OpenAIBatchCapability, OpenAIBatchSettings } from './batch.js';

export interface OpenAISettings {
  /** Unique in a client. @default `openai:<model>`, or `openai-batch:<model>` for kind 'batch' */
  id?: string;
  /** The model for text generation (or the only model, e.g. an embedding model). */
  model: string;
  /** Where the target sits among the segments. @default 'cloud' */
  kind?: 'cloud' | 'realtime' | 'batch';
  /**
   * What the target can produce.
   * @default inferred: the model's own modality from its name (embedding, image, transcription,
   * speech, else text) plus one for each of `embeddingModel`, `imageModel`, `transcriptionModel`, `speechModel` given
   */
  modalities?: Modality[];
  /** API base URL; several URLs are replicas of one model, and `ctx.replica` picks one. @default 'https://api.openai.com/v1' */
  baseURL?: string | string[];
  /** @default process.env.OPENAI_API_KEY when `process` exists. Local servers accept any placeholder. */
  apiKey?: string;
  /** OpenAI organization id. @default process.env.OPENAI_ORG_ID (read by the client) */
  organization?: string;
  /** OpenAI project id. @default process.env.OPENAI_PROJECT_ID (read by the client) */
  project?: string;
  /** Headers sent on every request. @default none */
  defaultHeaders?: Record<string, string>;
  /** A fetch implementation (proxies, tests, edge runtimes). @default globalThis.fetch */
  fetch?: typeof globalThis.fetch;
  /** Allows a key in a browser-like runtime, where anyone can read it. @default false */
  dangerouslyAllowBrowser?: boolean;
  /**
   * The `openai` client's own logging. Off unless asked for (here or with `OPENAI_LOG`): it would
   * print raw response chunks to stderr, and every failure already arrives as a typed error.
   * @default 'off'
   */
  logLevel?: 'off' | 'error' | 'warn' | 'info' | 'debug';
  /** Where the `openai` client logs when `logLevel` allows it. @default console */
  logger?: OpenAI['logger'];
  /** Model for `doEmbed` and embedding batches. @default `model` */
  embeddingModel?: string;
  /** Model for `doImage`. @default `model` */
  imageModel?: string;
  /** Model for `doTranscribe`. @default `model` */
  transcriptionModel?: string;
  /** Model for `doSpeech`. @default `model` */
  speechModel?: string;
  /**
   * Body field for `maxOutputTokens`. OpenAI's own API wants `max_completion_tokens` (reasoning
   * models refuse `max_tokens`); most compatible servers only know `max_tokens`.
   * @default 'max_completion_tokens' without `baseURL`, else 'max_tokens'
   */
  maxTokensParameter?: MaxTokensParameter;
  /** Context and batch sizes. @default OpenAI embedding caps (2,048 inputs, 300,000 tokens) when the target embeds */
  limits?: TargetLimits;
  /** Prices, US dollars per million tokens (the core computes cost from usage). @default none */
  cost?: TargetCost;
  /** Latency priors, ms, replaced by measurements. @default none */
  expected?: { ttftMs?: number; totalMs?: number };
  /** How the server caches prompts. @default { mode: 'prefix', minTokens: 1024, ttlMs: 300_000, acceptsKey: true } */
  cache?: PromptCacheSettings;
  /** Micro-batching of embedding requests. @default the runtime's defaults */
  microBatch?: MicroBatchSettings;
  /** Batch API settings; giving them on a cloud target adds the capability. @default on for kind 'batch' */
  batch?: OpenAIBatchSettings;
  /** Clock for `retry-after` dates and batch ages, ms since epoch. @default Date.now */
  now?: () => number;
}

export interface OpenAITarget extends Target {
  provider: 'openai';
  batch?: OpenAIBatchCapability;
}

/**
 * Time before response headers, ms, after which openai-node gives up. Ours is the caller's
 * deadline (through `ctx.signal`), so this only has to be long and below setTimeout's
 * 2^31 ms ceiling (larger values fire at once).
 */
const clientTimeoutMs = 24 * 3_600_000;

const defaultCache: PromptCacheSettings = { mode: 'prefix', minTokens: 1024, ttlMs: 300_000, acceptsKey: true };

export function openai(settings: OpenAISettings): OpenAITarget {
  if (!settings || typeof settings.model !== 'string' || settings.model.trim() === '') {
    throw new InvalidRequestError('model', 'openai() needs a model id, e.g. { model: "gpt-4.1-mini" }');
  }
  const kind = settings.kind ?? 'cloud';
  if (!['cloud', 'realtime', 'batch'].includes(kind)) {
    throw new InvalidRequestError('kind', `must be 'cloud', 'realtime' or 'batch', got '${String(kind)}'`);
  }
  if (settings.logLevel !== undefined && !['off', 'error', 'warn', 'info', 'debug'].includes(settings.logLevel)) {
    throw new InvalidRequestError('logLevel', `must be 'off', 'error', 'warn', 'info' or 'debug', got '${String(settings.logLevel)}'`);
  }
  const model = settings.model;
  const id = settings.id ?? `${kind === 'batch' ? 'openai-batch' : 'openai'}:${model}`;
  const baseURLs = normaliseBaseURLs(settings.baseURL);
  const apiKey = resolveApiKey(settings);
  const now = settings.now ?? Date.now;
  const embeddingModel = settings.embeddingModel ?? model;
  const imageModel = settings.imageModel ?? model;
  const transcriptionModel = settings.transcriptionModel ?? model;
  const speechModel = settings.speechModel ?? model;
  const maxTokensParameter = settings.maxTokensParameter ?? (baseURLs[0] === undefined ? 'max_completion_tokens' : 'max_tokens');
  const cache = settings.cache ?? defaultCache;
  const modalities = settings.modalities ?? inferModalities(settings);

  // One client per replica, built on first use so an unused target costs nothing.
  const clients: (OpenAI | undefined)[] = [];
  const clientFor = (replica: number): OpenAI => {
    clients[replica] ??= new OpenAI({
      apiKey,
      baseURL: baseURLs[replica],
      organization: settings.organization,
      project: settings.project,
      defaultHeaders: settings.defaultHeaders,
      fetch: settings.fetch,
      maxRetries: 0,
      timeout: clientTimeoutMs,
      dangerouslyAllowBrowser: settings.dangerouslyAllowBrowser,
      logLevel: settings.logLevel ?? (openAILogFromEnvironment() ? undefined : 'off'),
      logger: settings.logger,
    });
    return clients[replica]!;
  };
  const replicaCount = Math.max(1, baseURLs.length);
  const pickReplica = (ctx: CallContext): number => {
    const replica = ctx.replica ?? 0;
    if (!Number.isInteger(replica) || replica < 0 || replica >= replicaCount) {
      throw new InvalidRequestError('ctx.replica', `${id} has ${replicaCount} replica(s); got ${String(replica)}`);
    }
    return replica;
  };
  const fail = (error: unknown, ctx: { signal?: AbortSignal }) => mapOpenAIError(error, { target: id, signal: ctx.signal, now });

  const chatBody = (call: TextCall, ctx: CallContext): Record<string, unknown> =>
    buildChatBody(call, {
      model,
      maxTokensParameter,
      promptCacheKey: cache.acceptsKey !== false ? ctx.promptCacheKey : undefined,
      cacheBreakpoints: cache.mode === 'breakpoints' ? ctx.cacheBreakpoints : undefined,
    });

  const target: OpenAITarget = {
    id,
    kind,
    provider: 'openai',
    modalities,
    cache,
    // Every request carries ctx.signal to openai-node, which aborts its fetch: a pending request
    // or stream step settles on abort (tests: hangs, idle streams, caller aborts against the local server).
    honoursAbort: true,
    async doGenerate(call, ctx) {
      const replica = pickReplica(ctx);
      let completion: WireChatCompletion;
      try {
        // The raw response, read as JSON here: openai-node's own parsing adds promise layers (and a
        // request-id property nobody reads); skipping them took 2-3% off a call to the local server.
        const response = await clientFor(replica).chat.completions.create(chatBody(call, ctx) as unknown as OpenAI.ChatCompletionCreateParamsNonStreaming, { signal: ctx.signal }).asResponse();
        completion = (await response.json()) as WireChatCompletion;
      } catch (error) {
        throw fail(error, ctx);
      }
      const result = mapChatCompletion(completion);
      if (!result) throw new ProviderError(`${id} answered without a choice`, { target: id, retryable: true });
      if (replicaCount > 1) result.replica = replica;
      return result;
    },

    doStream(call, ctx) {
      return streamChat(call, ctx);
    },

    async doEmbed(call, ctx) {
      const replica = pickReplica(ctx);
      if (!Array.isArray(call.inputs) || call.inputs.length === 0) throw new InvalidRequestError('inputs', 'needs at least one string');
      const body: Record<string, unknown> = {
        model: embeddingModel,
        input: call.inputs,
        // Explicit floats: openai-node asks for base64 by default, which many compatible servers lack.
        encoding_format: 'float',
      };
      if (call.dimensions !== undefined) body.dimensions = call.dimensions;
      Object.assign(body, call.providerOptions?.openai ?? {});
      let response: { data?: { embedding: number[] | string; index: number }[]; usage?: WireUsage };
      try {
        // Read as JSON here, as for chat: with floats asked for, openai-node's parsing adds nothing but promise layers.
        const raw = await clientFor(replica).embeddings.create(body as unknown as OpenAI.EmbeddingCreateParams, { signal: ctx.signal }).asResponse();
        response = (await raw.json()) as typeof response;
      } catch (error) {
        throw fail(error, ctx);
      }
      const data = response.data ?? [];
      if (data.length !== call.inputs.length) {
        throw new ProviderError(`${id} returned ${data.length} embeddings for ${call.inputs.length} inputs`, { target: id, retryable: false });
      }
      // The API documents `index`; order in the array is not a promise we rely on.
      const embeddings: number[][] = new Array(call.inputs.length);
      for (const entry of data) {
        if (!Array.isArray(entry.embedding) || !Number.isInteger(entry.index) || entry.index < 0 || entry.index >= embeddings.length || embeddings[entry.index]) {
          throw new ProviderError(`${id} returned an embedding list that does not match the inputs`, { target: id, retryable: false });
        }
        embeddings[entry.index] = entry.embedding;
      }
      const result: EmbedResult = { embeddings };
      const usage = mapUsage(response.usage);
      if (usage) result.usage = usage;
      return result;
    },

    async doImage(call, ctx) {
      const replica = pickReplica(ctx);
      const body: Record<string, unknown> = { model: imageModel, prompt: call.prompt, n: call.n ?? 1 };
      if (call.size !== undefined) body.size = call.size;
      // GPT image models always answer base64 and refuse the field; DALL-E defaults to URLs.
      if (!/^gpt-image/.test(imageModel)) body.response_format = 'b64_json';
      Object.assign(body, call.providerOptions?.openai ?? {});
      let response: OpenAI.ImagesResponse;
      try {
        response = (await clientFor(replica).images.generate(body as unknown as OpenAI.ImageGenerateParamsNonStreaming, { signal: ctx.signal })) as OpenAI.ImagesResponse;
      } catch (error) {
        throw fail(error, ctx);
      }
      const mediaType = `image/${response.output_format ?? 'png'}`;
      const images = (response.data ?? []).map((image) => {
        const out: ImageResult['images'][number] = { mediaType };
        if (image.b64_json) out.base64 = image.b64_json;
        if (image.url) out.url = image.url;
        return out;
      });
      if (images.length === 0) throw new ProviderError(`${id} returned no image`, { target: id, retryable: true });
      const usage: Usage = { images: images.length };
      if (response.usage) {
        usage.inputTokens = response.usage.input_tokens;
        usage.outputTokens = response.usage.output_tokens;
        usage.totalTokens = response.usage.total_tokens;
      }
      return { images, usage };
    },

    async doTranscribe(call, ctx) {
      const replica = pickReplica(ctx);
      const mediaType = call.mediaType ?? 'audio/wav';
      const file = await toFile(call.audio, `audio.${audioExtension(mediaType)}`, { type: mediaType });
      const body: Record<string, unknown> = { file, model: transcriptionModel, response_format: 'json' };
      if (call.language !== undefined) body.language = call.language;
      Object.assign(body, call.providerOptions?.openai ?? {});
      let response: { text?: string; language?: string; duration?: number; usage?: { type?: string; seconds?: number; input_tokens?: number; output_tokens?: number; total_tokens?: number } };
      try {
        response = (await clientFor(replica).audio.transcriptions.create(
          body as unknown as OpenAI.Audio.TranscriptionCreateParamsNonStreaming,
          { signal: ctx.signal },
        )) as typeof response;
      } catch (error) {
        throw fail(error, ctx);
      }
      const result: TranscribeResult = { text: typeof response === 'string' ? response : (response.text ?? '') };
      if (typeof response === 'object') {
        if (response.language) result.language = response.language;
        const seconds = response.duration ?? (response.usage?.type === 'duration' ? response.usage.seconds : undefined);
        if (typeof seconds === 'number') result.durationSeconds = seconds;
        const usage: Usage = {};
        if (typeof seconds === 'number') usage.audioSeconds = seconds;
        if (response.usage?.type === 'tokens') {
          usage.inputTokens = response.usage.input_tokens;
          usage.outputTokens = response.usage.output_tokens;
          usage.totalTokens = response.usage.total_tokens;
        }
        if (Object.keys(usage).length > 0) result.usage = usage;
      }
      return result;
    },

    async doSpeech(call, ctx) {
      const replica = pickReplica(ctx);
      const format = call.format ?? 'mp3';
      const body: Record<string, unknown> = { model: speechModel, input: call.text, voice: call.voice ?? 'alloy', response_format: format };
      Object.assign(body, call.providerOptions?.openai ?? {});
      try {
        const response = await clientFor(replica).audio.speech.create(body as unknown as OpenAI.Audio.SpeechCreateParams, { signal: ctx.signal });
        const audio = new Uint8Array(await response.arrayBuffer());
        const header = response.headers.get('content-type')?.split(';')[0]?.trim();
        const result: SpeechResult = { audio, mediaType: header && header !== 'application/octet-stream' ? header : speechMediaType(format) };
        return result;
      } catch (error) {
        throw fail(error, ctx);
      }
    },

    async close() {
      clients.length = 0;
    },
  };

  /**
   * Opens a streaming chat completion: the request goes through the `openai` client (auth,
   * headers, errors, abort) up to its response headers; the body is read by `EventStreamReader`.
   */
  async function openChatStream(call: TextCall, ctx: CallContext, replica: number): Promise<Response> {
    // Set on the built body, not spread into a new one (`{ ...a, b }` is a slow path in Node 20's V8).
    const body = chatBody(call, ctx);
    body.stream = true;
    body.stream_options = { include_usage: true };
    try {
      return await clientFor(replica).chat.completions.create(body as unknown as OpenAI.ChatCompletionCreateParamsStreaming, { signal: ctx.signal }).asResponse();
    } catch (error) {
      throw fail(error, ctx);
    }
  }

  /**
   * The stream's parts. This generator only pumps: it awaits the body's reader itself (no layer
   * between it and the socket), and opening the request, decoding events and the checks at the end
   * live in plain functions, because every `await` and `yield` of an async generator saves and
   * restores its live locals (docs/routing-and-execution.md, "Overhead").
   */
  async function* streamChat(call: TextCall, ctx: CallContext): AsyncGenerator<StreamPart> {
    const replica = pickReplica(ctx);
    const response = await openChatStream(call, ctx, replica);
    if (!response.body) throw new ProviderError(`${id} answered a stream without a body`, { target: id, retryable: true });
    const events = new EventStreamReader(response.body);
    const seen: ChunksSeen = { finishReason: undefined, usage: undefined, completed: false, done: false };
    try {
      for (;;) {
        const step = await events.read();
        if (step.done) break;
        const data = events.take(step.value);
        for (let i = 0; i < data.length; i++) {
          const text = takeEvent(data[i], seen, response, replica);
          if (text !== undefined) yield { type: 'text-delta', text };
        }
      }
      seen.completed = true;
    } catch (error) {
      throw fail(error, ctx);
    } finally {
      // Breaking out of `for await` (or failing) lands here: close the HTTP response, not just our loop.
      if (!seen.completed) events.cancel();
    }
    yield finishOf(seen, ctx);
  }

  /**
   * One event's data: its text, if any (its finish reason and usage are kept in `seen`). After
   * `[DONE]` the rest is ignored, as openai-node does. An error payload throws as openai-node's
   * `APIError` would (mapped like any other), and data that is not JSON throws (logged only when
   * the client's logging is on: it holds the model's words). An event named `error` fails the
   * stream whatever its data looks like (openai-node passes one without an `error` field on as a
   * chunk; some compatible servers send `{ "message": ... }` or plain text).
   */
  function takeEvent(data: string | ServerErrorEvent, seen: ChunksSeen, response: Response, replica: number): string | undefined {
    if (seen.done) return undefined;
    if (typeof data !== 'string') throw new APIError(undefined, errorPayload(data.data), undefined, response.headers);
    if (data.startsWith('[DONE]')) {
      seen.done = true;
      return undefined;
    }
    let chunk: (ChatChunk & { error?: unknown }) | null;
    try {
      chunk = JSON.parse(data) as ChatChunk | null;
    } catch (error) {
      const client = clientFor(replica);
      if (client.logLevel !== undefined && client.logLevel !== 'off') client.logger.error('Could not parse message into JSON:', data);
      throw error;
    }
    if (chunk === null || typeof chunk !== 'object') return undefined;
    if (chunk.error) throw new APIError(undefined, chunk.error as object, undefined, response.headers);
    return takeChunk(chunk, seen);
  }

  /** The finish part, once the chunks ran out; throws when they ran out too soon. */
  function finishOf(seen: ChunksSeen, ctx: CallContext): StreamPart {
    // An abort that lands as the body ends finds no read to fail: look ourselves.
    if (ctx.signal.aborted) throw fail(ctx.signal.reason ?? new DOMException('aborted', 'AbortError'), ctx);
    const { usage } = seen;
    let finishReason = seen.finishReason;
    if (finishReason === undefined) {
      // `[DONE]` says the server finished; a server that names no reason is not cut short.
      if (!seen.done) throw incompleteStreamError(id);
      finishReason = 'other';
    }
    // Usage rides on the finish part (one part less to pass through every layer).
    return usage ? { type: 'finish', finishReason, usage } : { type: 'finish', finishReason };
  }

  if (kind === 'batch' || settings.batch) {
    target.batch = createBatchCapability(settings.batch ?? {}, {
      target: id,
      model,
      embeddingModel,
      maxTokensParameter,
      client: () => clientFor(0),
      now,
    });
  }
  if (baseURLs.length > 1) target.replicas = baseURLs.length;
  if (settings.cost) target.cost = settings.cost;
  if (settings.expected) target.expected = settings.expected;
  if (settings.microBatch) target.microBatch = settings.microBatch;
  const limits = settings.limits ?? (modalities.includes('embedding') ? { maxBatchSize: 2048, maxBatchTokens: 300_000, maxInputTokens: 8192 } : undefined);
  if (limits) target.limits = limits;
  return target;
}

/** What a stream's chunks said besides text. */
interface ChunksSeen {
  finishReason: FinishReason | undefined;
  usage: Usage | undefined;
  /** The body ended (a stream cut short is cancelled instead). */
  completed: boolean;
  /** `[DONE]` arrived: later events are ignored. */
  done: boolean;
}

/** Takes in one chunk: returns its text, keeps its finish reason and usage. */
function takeChunk(chunk: ChatChunk, seen: ChunksSeen): string | undefined {
  const choice = chunk.choices?.[0];
  if (choice?.finish_reason) seen.finishReason = finishReasonOf(choice.finish_reason);
  if (chunk.usage) seen.usage = mapUsage(chunk.usage);
  const text = choice?.delta?.content;
  return typeof text === 'string' && text.length > 0 ? text : undefined;
}

/** What a named `error` event said, as the error body openai-node's `APIError` takes (`message` is what we report). */
function errorPayload(data: string): object {
  let parsed: unknown;
  try {
    parsed = JSON.parse(data);
  } catch {
    return { message: data.trim() || 'no message' };
  }
  if (parsed !== null && typeof parsed === 'object') {
    const inner = (parsed as { error?: unknown }).error;
    if (inner !== null && typeof inner === 'object') return inner;
    if (typeof inner === 'string') return { message: inner };
    return parsed;
  }
  return { message: String(parsed) };
}

interface ChatChunk {
  choices?: { delta?: { content?: string | null }; finish_reason?: string | null }[];
  usage?: WireUsage | null;
}

function normaliseBaseURLs(baseURL: string | string[] | undefined): string[] {
  if (baseURL === undefined) return [];
  const list = Array.isArray(baseURL) ? baseURL : [baseURL];
  if (list.length === 0) throw new InvalidRequestError('baseURL', 'an empty list; pass one URL or leave it out');
  list.forEach((url, index) => {
    if (typeof url !== 'string' || !/^https?:\/\//i.test(url)) {
      throw new InvalidRequestError(Array.isArray(baseURL) ? `baseURL[${index}]` : 'baseURL', 'must be an http(s) URL');
    }
  });
  return list;
}

/** True where page scripts (and so anyone) can read the key: browsers and web workers. */
function isBrowserLike(): boolean {
  const global = globalThis as { window?: { document?: unknown }; importScripts?: unknown };
  return (typeof global.window !== 'undefined' && typeof global.window.document !== 'undefined') || typeof global.importScripts === 'function';
}

function resolveApiKey(settings: OpenAISettings): string {
  const fromEnv = typeof process !== 'undefined' ? process.env?.OPENAI_API_KEY : undefined;
  const apiKey = settings.apiKey ?? fromEnv;
  if (isBrowserLike() && !settings.dangerouslyAllowBrowser) {
    // Refuse before any request: a key shipped to a page belongs to whoever opens it.
    throw new InvalidRequestError(
      'apiKey',
      `${apiKey?.startsWith('sk-') ? 'a secret key' : 'an API key'} would be exposed in this browser; call a server of yours, or pass dangerouslyAllowBrowser: true if the key is meant to be public`,
    );
  }
  if (typeof apiKey !== 'string' || apiKey === '') {
    throw new InvalidRequestError('apiKey', 'missing; pass apiKey or set OPENAI_API_KEY (local servers accept any placeholder, e.g. "local")');
  }
  return apiKey;
}

function inferModalities(settings: OpenAISettings): Modality[] {
  const own = modalityOfModel(settings.model);
  const set = new Set<Modality>([own]);
  if (settings.embeddingModel) set.add('embedding');
  if (settings.imageModel) set.add('image');
  if (settings.transcriptionModel) set.add('transcription');
  if (settings.speechModel) set.add('speech');
  return [...set];
}

/** OpenAI's naming: text-embedding-*, dall-e-* / gpt-image-*, whisper-* / *-transcribe, tts-* / *-tts. */
function modalityOfModel(model: string): Modality {
  const name = model.toLowerCase().split('/').pop() ?? '';
  if (/embed/.test(name)) return 'embedding';
  if (/^(dall-e|gpt-image)/.test(name)) return 'image';
  if (/^whisper|transcribe/.test(name)) return 'transcription';
  if (/^tts|-tts/.test(name)) return 'speech';
  return 'text';
}

function audioExtension(mediaType: string): string {
  const subtype = mediaType.split('/')[1]?.split(';')[0]?.trim().toLowerCase() ?? 'wav';
  const known: Record<string, string> = { mpeg: 'mp3', mp3: 'mp3', 'x-wav': 'wav', wav: 'wav', wave: 'wav', webm: 'webm', ogg: 'ogg', flac: 'flac', mp4: 'mp4', m4a: 'm4a', 'x-m4a': 'm4a' };
  return known[subtype] ?? 'wav';
}

function speechMediaType(format: string): string {
  const known: Record<string, string> = { mp3: 'audio/mpeg', opus: 'audio/ogg', aac: 'audio/aac', flac: 'audio/flac', wav: 'audio/wav', pcm: 'audio/pcm' };
  return known[format] ?? 'application/octet-stream';
}

/** `OPENAI_LOG` from the environment, where there is one (the `openai` client reads it itself). */
function openAILogFromEnvironment(): string | undefined {
  return (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env?.OPENAI_LOG;
}
