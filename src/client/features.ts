/**
 * The contract between the client and the features it may carry (micro-batching, batch jobs,
 * conversations). A feature is an option object the user imports (`microBatching()`,
 * `batchJobs()`, `conversations()`) and passes in `features`; the client installs each once,
 * and code of a feature not passed never reaches the bundle. The full preset (`inferlane`)
 * installs all three.
 *
 * Imports: types only (batching/jobs, conversation, runtime, stats, stores, target, time, types).
 */
import type { Jobs, JobsSettings } from '../batching/jobs/index.js';
import type { Conversation } from '../conversation/conversation.js';
import type { ConversationOptions } from '../conversation/options.js';
import type { ReplicaBalancer } from '../conversation/replicas.js';
import type { Plan } from '../router/types.js';
import type { Runtime } from '../runtime.js';
import type { Stats } from '../stats/stats.js';
import type { KeyValueStore } from '../stores/store.js';
import type { StreamPart, Target } from '../target.js';
import type { Clock } from '../time/clock.js';
import type { EmbedRequest, EmbedResponse, GenerateRequest, GenerateResult, StreamRequest } from '../types.js';

/** What a feature may use of the client it joins. */
export interface FeatureHost {
  readonly targets: readonly Target[];
  readonly store: KeyValueStore;
  readonly stats: Stats;
  readonly clock: Clock;
  readonly runtime: Runtime;
  /** Whether `close()` has begun. */
  readonly closed: boolean;
  emit(event: 'batch-flush' | 'job-progress', payload: unknown): boolean;
  generate(request: GenerateRequest): Promise<GenerateResult>;
  stream(request: StreamRequest): AsyncIterable<StreamPart>;
  embed(request: EmbedRequest): Promise<EmbedResponse>;
  explain(request: GenerateRequest): Plan;
  now(): number;
  /** A conversation turn began and ended (`close()` lets turns in flight write their answer). */
  beginTurn(): void;
  endTurn(): void;
}

/** What a feature adds to the client once installed. Every part is optional. */
export interface InstalledFeature {
  /**
   * The runner of a target (see src/target-runner.ts), composed once when the client is made:
   * micro-batching wraps first, batch jobs around it. Returns `runner` itself when it changes nothing.
   */
  runner?(target: Target, runner: Target): Target;
  /** `client.flush()`: send what waits. */
  flush?(): Promise<void> | void;
  /** `close()` began: send what gathers and refuse what comes; the drain waits for the promise. */
  close?(): Promise<void> | undefined;
  /** The drain's grace ran out: stop what would still go on (uploads). */
  stop?(): void;
  /** `client.jobs`. */
  jobs?(): Jobs;
  /** `client.conversation(id, options)`. */
  conversation?(id: string, options: ConversationOptions): Conversation;
  /** Replica affinity of conversations. */
  replicas?: ReplicaBalancer;
}

export type FeatureName = 'microBatching' | 'batchJobs' | 'conversations';

/** A feature to pass in `createClient({ features })`. Made by its factory; installed once per client. */
export interface ClientFeature {
  readonly name: FeatureName;
  /** Called once by the client it joins. @internal */
  install(host: FeatureHost): InstalledFeature;
}

/** The batch-jobs feature's settings (the full preset's `jobs` option). */
/**
 * The client's `jobs` settings (`createClient({ jobs })`, `batchJobs(...)`): every jobs setting
 * (`JobsSettings`: leases, owner id, polling, online concurrency, chunking; documented in
 * docs/jobs.md) and the coalescing of `latency: 'batch'` calls.
 */
export interface BatchJobsOptions extends JobsSettings {
  /**
   * `latency: 'batch'` calls to the same batch endpoint within this window share one job (one
   * provider batch), ms. 0: calls made in the same tick. @default 100 (serverless: 0)
   */
  coalesceMs?: number;
  /** A gathering job is sent at once when it holds this many items. @default 10,000 */
  maxCoalescedItems?: number;
}
