/**
 * What a client is made with and what it tells: the options of the lean client
 * (`CoreClientOptions`, `inferlane/core`) and of the full preset (`ClientOptions`, `inferlane`),
 * its events, its stream parts and its explanations. Types and defaults only.
 *
 * Imports: types only (batching, execute, errors, router, runtime, stats, stores, target, time, types), ./features (types).
 */
import type { BatchFlushEvent } from '../batching/micro-batcher.types.js';
import type { Rejection } from '../errors.js';
import type { HedgeBudgetSettings } from '../execute/hedge-budget.js';
import type { RetrySettings } from '../execute/retry-policy.js';
import type { ExecutorEvents } from '../execute/types.js';
import type { Plan } from '../router/types.js';
import type { Runtime } from '../runtime.js';
import type { StatsOptions } from '../stats/stats.js';
import type { KeyValueStore } from '../stores/store.js';
import type { MicroBatchSettings, ModelProgressEvent, Segment, StreamPart, Target, TextResult, Usage } from '../target.js';
import type { Clock } from '../time/clock.js';
import type { Operation, Route } from '../types.js';
import type { BatchJobsOptions, ClientFeature } from './features.js';

/** The options every client takes: the lean one (`inferlane/core`) and the full preset alike. */
export interface CommonClientOptions {
  /** Where requests may go. Order is the tie-break between equal candidates. */
  targets: Target[];
  /** Conversations and jobs persist here. @default memoryStore() */
  store?: KeyValueStore;
  /** Picks micro-batching defaults. @default detected */
  runtime?: Runtime;
  /** Retry policy, see src/execute/retry-policy.ts. @default maxRetries 2, backoff 0.5 s to 8 s */
  retry?: Partial<RetrySettings>;
  /** Hedging: share of requests that may be hedged, and the segments hedged by default. */
  hedge?: HedgeBudgetSettings & {
    /** @default ['realtime'] */
    segments?: Segment[];
    /** Quantile of the primary's first-token time after which to hedge. @default 0.9 */
    quantile?: number;
  };
  stats?: StatsOptions;
  /** Default idle limit between stream parts, ms, per segment. @default realtime 1,000, interactive 5,000, batch 30,000 */
  idleMs?: Partial<Record<Segment, number>>;
  /**
   * How long a plan may be reused for requests that route the same way, ms; `0` plans every
   * request. Anything that changes a plan in kind (a failure, availability, a target's first
   * measurements) ends reuse at once; only latency figures can be this old. @default 500
   */
  planCacheMs?: number;
  /**
   * How long a target's `available()` probe may take, ms; one that has not answered by then (even
   * one that ignores its signal) counts as unavailable. A first call waits for the probes at most
   * half its budget, then plans with what is known (a target still probing is tried, and falls
   * back at run time if it cannot serve); after that no call waits for them. @default 5,000
   */
  availabilityTimeoutMs?: number;
  /** For tests: time. @default the system clock */
  clock?: Clock;
  /** For tests: randomness (retry jitter), a number in [0, 1). @default Math.random */
  random?: () => number;
}

/** The lean client's options (`inferlane/core`): what `CommonClientOptions` has, and the features it adds. */
export interface CoreClientOptions extends CommonClientOptions {
  /**
   * Features the client adds, each from its own factory: `microBatching(settings?)`,
   * `batchJobs(options?)`, `conversations()`. Without one, the client neither carries its code
   * nor offers it (`client.jobs` and `client.conversation()` then say which to add). @default none
   */
  features?: ClientFeature[];
}

/** The full preset's options (`inferlane`): every feature is on, configured here. */
export interface ClientOptions extends CommonClientOptions {
  /** Micro-batching defaults for every target (a target's own `microBatch` wins); `false` turns batching off. */
  microBatch?: MicroBatchSettings | false;
  /** Deferred jobs: how `latency: 'batch'` calls sent to a batch endpoint poll for their result. */
  jobs?: BatchJobsOptions;
}

/** A stream part as the client yields it: `finish` also carries where the stream ran. */
export type ClientStreamPart = Exclude<StreamPart, { type: 'finish' }> | { type: 'finish'; finishReason: TextResult['finishReason']; usage?: Usage; route: Route };

export interface ClientEvents {
  route: [{ operation: Operation; segment: Segment; budgetMs: number; candidates: string[]; rejected: Rejection[] }];
  attempt: [ExecutorEvents['attempt']];
  retry: [ExecutorEvents['retry']];
  fallback: [ExecutorEvents['fallback']];
  hedge: [ExecutorEvents['hedge']];
  'batch-flush': [BatchFlushEvent];
  'job-progress': [unknown];
  'model-progress': [ModelProgressEvent];
  response: [{ operation: Operation; route: Route }];
  error: [{ operation: Operation; code: string; message: string }];
}

export interface Explanation extends Plan {
  /** The plan for people: the chosen order with reasons, then each rejected target and why. */
  text: string;
}

/** Idle limit between stream parts by segment, ms. */
export const defaultIdleMs: Record<Segment, number> = { realtime: 1_000, interactive: 5_000, batch: 30_000 };
