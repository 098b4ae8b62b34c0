/**
 * Public request and response shapes of `createClient`.
 * Familiar names on purpose: `messages`, `prompt`, `abortSignal`, `maxRetries`, `providerOptions`.
 *
 * Imports: target.ts, errors.ts.
 */
import type { AttemptRecord } from './errors.js';
import type {
  FinishReason,
  GeneratedImage,
  Message,
  Modality,
  Segment,
  Target,
  TextResult,
  Usage,
} from './target.js';

/** A segment name, or a budget in ms (mapped: < 100 realtime, <= 2000 interactive, else batch). */
export type Latency = Segment | number;

/** `device-only`: the request never reaches a network target, not even as a fallback. */
export type Privacy = 'any' | 'device-only';

export interface CommonOptions {
  /** The latency budget. @default 'interactive' (2,000 ms) */
  latency?: Latency;
  /** @default 'any' */
  privacy?: Privacy;
  /** Cancels every attempt, retry sleep, queue wait and hedge. */
  abortSignal?: AbortSignal;
  /** Retries per target. @default 2 */
  maxRetries?: number;
  /** Only these target ids are considered, in this preference order. */
  targets?: string[];
  /** Prefer price over speed among targets that fit the budget. @default segment's preference */
  prefer?: 'fastest' | 'cheapest';
  /** Send a second request after the primary's p90 first-token time. @default true for realtime */
  hedge?: boolean | { afterMs?: number };
  providerOptions?: Record<string, Record<string, unknown>>;
  /** Internal: conversation hints (set by client.conversation). */
  conversation?: ConversationHints;
}

/** What a conversation tells the router and adapters. */
export interface ConversationHints {
  id: string;
  /** Warm target and until when (ms since epoch). */
  affinity?: { target: string; replica?: number; warmUntil: number; cachedTokens?: number };
  /** Tokens in the prefix that a warm target has cached. */
  prefixTokens?: number;
  /** Total tokens of the conversation (for KV memory and context checks). */
  totalTokens?: number;
  /**
   * Called by the executor before every attempt (retries included) on `target`: returns the
   * messages fitted to that target's context, its cache hints and the replica to use. May throw
   * `ContextOverflowError` (the executor then moves to the next candidate).
   */
  prepare?(target: Target, attempt: number): PreparedConversation;
  /** Called after every attempt so replica load and failures are tracked. */
  settle?(target: Target, replica: number | undefined, ok: boolean): void;
}

export interface PreparedConversation {
  messages: Message[];
  promptCacheKey?: string;
  cacheBreakpoints?: number[];
  replica?: number;
  /** Chained prefix hashes of `messages`, one per message (targets with `kv`; see `CallContext.conversation`). */
  prefixHashes?: string[];
}

export interface GenerateRequest extends CommonOptions {
  messages?: Message[];
  /** Shorthand for one user message. */
  prompt?: string;
  /** Prepended as a system message. */
  system?: string;
  maxOutputTokens?: number;
  temperature?: number;
  topP?: number;
  stop?: string[];
  seed?: number;
}

export interface StreamRequest extends GenerateRequest {
  /** Longest time to the first part, ms. @default from the segment and budget */
  firstTokenMs?: number;
  /**
   * Longest the provider may go without a part while the stream waits for one, ms. Time the
   * caller spends holding a part does not count. @default from the segment
   */
  idleMs?: number;
  /** What to do when a started stream fails. @default 'resume' */
  onStreamFailure?: 'resume' | 'error';
}

export interface EmbedRequest extends CommonOptions {
  input: string | string[];
  dimensions?: number;
}

export interface ImageRequest extends CommonOptions {
  prompt: string;
  size?: string;
  n?: number;
}

export interface TranscribeRequest extends CommonOptions {
  audio: Uint8Array | ArrayBuffer;
  mediaType?: string;
  language?: string;
}

export interface SpeechRequest extends CommonOptions {
  text: string;
  voice?: string;
  format?: string;
}

/** Where a response ran and why. */
export interface Route {
  segment: Segment;
  budgetMs: number;
  /** The target that answered. */
  target: string;
  replica?: number;
  /** Why that target was chosen first, e.g. 'fastest predicted p90 within budget'. */
  reason: string;
  attempts: AttemptRecord[];
  ttftMs?: number;
  totalMs: number;
  usage?: Usage;
  cachedTokens?: number;
  costUsd?: number;
  /** True when the answer came from a target other than the plan's first. */
  fellBack: boolean;
  hedged?: boolean;
  batched?: { size: number; reason: string; waitMs: number };
}

export interface GenerateResult {
  text: string;
  finishReason: FinishReason;
  usage?: Usage;
  route: Route;
  raw?: TextResult;
}

export interface EmbedResponse {
  embeddings: number[][];
  /** The first vector, convenient for single-input calls. */
  embedding: number[];
  usage?: Usage;
  route: Route;
}

export interface ImageResponse {
  images: GeneratedImage[];
  image: GeneratedImage;
  route: Route;
}

export interface TranscribeResponse {
  text: string;
  language?: string;
  durationSeconds?: number;
  route: Route;
}

export interface SpeechResponse {
  audio: Uint8Array;
  mediaType: string;
  route: Route;
}

export type Operation = 'generate' | 'stream' | 'embed' | 'image' | 'transcribe' | 'speech' | 'video';

export const operationModality: Record<Operation, Modality> = {
  generate: 'text',
  stream: 'text',
  embed: 'embedding',
  image: 'image',
  transcribe: 'transcription',
  speech: 'speech',
  video: 'video',
};
