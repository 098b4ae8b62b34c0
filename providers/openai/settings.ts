/**
 * `openai()`'s settings: what a caller may pass, checked once at construction, and resolved into
 * the facts the rest of the adapter reads (ids, models per modality, the wire dialect of the
 * endpoint). Nothing here talks to the network.
 */
import type OpenAI from 'openai';
import { environmentVariable, InvalidRequestError, isBrowserLike } from '../../src/provider.js';
import type { MicroBatchSettings, Modality, PromptCacheSettings, TargetCost, TargetLimits } from '../../src/provider.js';
import type { OpenAIBatchSettings } from './batch-settings.js';

/** Body field that carries `maxOutputTokens`. */
export type MaxTokensParameter = 'max_tokens' | 'max_completion_tokens';

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
  /** API base URL; several URLs are replicas of one model, and `ctx.replica` picks one. @default process.env.OPENAI_BASE_URL, else 'https://api.openai.com/v1' */
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
   * Body field for `maxOutputTokens`. OpenAI's own API wants `max_completion_tokens` (`max_tokens`
   * is deprecated there and refused by reasoning models); many compatible servers only know `max_tokens`.
   * @default 'max_completion_tokens' on api.openai.com (no `baseURL`, or one on that host), else 'max_tokens'
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

/** The settings resolved: every default applied, every check passed. */
export interface ResolvedSettings {
  id: string;
  kind: 'cloud' | 'realtime' | 'batch';
  model: string;
  embeddingModel: string;
  imageModel: string;
  transcriptionModel: string;
  speechModel: string;
  modalities: Modality[];
  /** The replicas' base URLs; empty for the client's default (OpenAI, or OPENAI_BASE_URL). */
  baseURLs: string[];
  apiKey: string;
  maxTokensParameter: MaxTokensParameter;
  cache: PromptCacheSettings;
  now: () => number;
}

const defaultCache: PromptCacheSettings = { mode: 'prefix', minTokens: 1024, ttlMs: 300_000, acceptsKey: true };
const kinds = ['cloud', 'realtime', 'batch'];
const logLevels = ['off', 'error', 'warn', 'info', 'debug'];

export function resolveSettings(settings: OpenAISettings): ResolvedSettings {
  if (!settings || typeof settings.model !== 'string' || settings.model.trim() === '') {
    throw new InvalidRequestError('model', 'openai() needs a model id, e.g. { model: "gpt-4.1-mini" }');
  }
  const kind = settings.kind ?? 'cloud';
  if (!kinds.includes(kind)) throw new InvalidRequestError('kind', `must be 'cloud', 'realtime' or 'batch', got '${String(kind)}'`);
  if (settings.logLevel !== undefined && !logLevels.includes(settings.logLevel)) {
    throw new InvalidRequestError('logLevel', `must be 'off', 'error', 'warn', 'info' or 'debug', got '${String(settings.logLevel)}'`);
  }
  const model = settings.model;
  const baseURLs = normaliseBaseURLs(settings.baseURL);
  return {
    id: settings.id ?? `${kind === 'batch' ? 'openai-batch' : 'openai'}:${model}`,
    kind,
    model,
    embeddingModel: settings.embeddingModel ?? model,
    imageModel: settings.imageModel ?? model,
    transcriptionModel: settings.transcriptionModel ?? model,
    speechModel: settings.speechModel ?? model,
    modalities: settings.modalities ?? inferModalities(settings),
    baseURLs,
    apiKey: resolveApiKey(settings),
    maxTokensParameter: settings.maxTokensParameter ?? (isOpenAIEndpoint(baseURLs[0] ?? environmentVariable('OPENAI_BASE_URL')) ? 'max_completion_tokens' : 'max_tokens'),
    cache: settings.cache ?? defaultCache,
    now: settings.now ?? Date.now,
  };
}

/** OpenAI's own API (the client's default, or a URL on its host) speaks the spec's newest dialect. */
function isOpenAIEndpoint(baseURL: string | undefined): boolean {
  if (baseURL === undefined) return true;
  try {
    return new URL(baseURL).hostname === 'api.openai.com';
  } catch {
    return false;
  }
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

function resolveApiKey(settings: OpenAISettings): string {
  const apiKey = settings.apiKey ?? environmentVariable('OPENAI_API_KEY');
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
  const set = new Set<Modality>([modalityOfModel(settings.model)]);
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
