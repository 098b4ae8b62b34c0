/**
 * The executor's contract: what it is built with (`ExecutorDeps`), what a call asks of it
 * (`RunOptions`, `StreamSetup`, an `AttemptFn`), and what it answers (`Outcome`, `StreamOutcome`,
 * the events). Types only: every room of src/execute reads them, none defines them again.
 *
 * Imports: errors, target, types, router/types, time/clock, ./hedge-budget, ./retry-policy (types).
 */
import type { AttemptRecord, InferlaneError } from '../errors.js';
import type { Candidate, Plan } from '../router/types.js';
import type { CallContext, ModelProgressEvent, Segment, StreamPart, Target, Usage } from '../target.js';
import type { Clock } from '../time/clock.js';
import type { ConversationHints } from '../types.js';
import type { HedgeBudget } from './hedge-budget.js';
import type { RetrySettings } from './retry-policy.js';

/** What the executor reads and writes about targets' health and speed (src/stats). */
export interface ExecutorStats {
  latency(targetId: string, metric: 'ttft' | 'total', q: number): number | undefined;
  tryAcquire(targetId: string, now: number): boolean;
  recordSuccess(targetId: string, latency: { ttftMs?: number; totalMs: number }, now: number): void;
  recordFailure(targetId: string, error: InferlaneError, now: number): void;
  recordInconclusive(targetId: string): void;
  answered(targetId: string): boolean;
}

export interface ExecutorEvents {
  attempt: AttemptRecord & { operation: string };
  retry: { operation: string; target: string; retry: number; delayMs: number; reason: string; code: string };
  fallback: { operation: string; from: string; to: string; reason: string; code: string };
  hedge: { operation: string; primary: string; hedge: string; afterMs: number; winner: string };
  'model-progress': ModelProgressEvent;
}

export interface ExecutorDeps {
  clock: Clock;
  random: () => number;
  stats: ExecutorStats;
  retry: RetrySettings;
  hedgeBudget: HedgeBudget;
  emit<K extends keyof ExecutorEvents>(event: K, payload: ExecutorEvents[K]): void;
  /** Whether anyone listens (payloads are not built for nobody). @default always */
  listens?(event: keyof ExecutorEvents): boolean;
}

export interface HedgeOptions {
  /** Start the hedge after this many ms without a first part. @default the primary's p90 */
  afterMs?: number;
  /** Quantile of the primary's first-token time to hedge at. @default 0.9 */
  quantile?: number;
}

export interface RunOptions {
  operation: string;
  plan: Plan;
  segment: Segment;
  budgetMs: number;
  abortSignal?: AbortSignal;
  maxRetries?: number;
  hedge?: HedgeOptions | false;
  conversation?: ConversationHints;
  /**
   * The target an attempt on a planned target runs on: the planned one with the ways it is
   * reached composed around it once (the client's micro-batching, batch jobs, text bridges). The
   * executor runs what this returns and trusts its `honoursAbort`; stats, events and routes keep
   * the planned target's id. @default the planned target itself
   */
  runnerFor?(target: Target): Target;
}

export interface Outcome<T> {
  value: T;
  candidate: Candidate;
  attempts: AttemptRecord[];
  ttftMs?: number;
  totalMs: number;
  replica?: number;
  fellBack: boolean;
  hedged: boolean;
}

/** One attempt on one target. The context's signal covers this attempt only. */
export type AttemptFn<T> = (target: Target, ctx: CallContext, attempt: AttemptInfo) => Promise<T>;

export interface AttemptInfo {
  /** Index of this attempt on this target (0 = first try). */
  retry: number;
  /** Messages fitted for this target when the call belongs to a conversation. */
  prepared?: ReturnType<NonNullable<ConversationHints['prepare']>>;
}

/** What a stream runs with: its options, how to open it on a target, and how it ends. */
export interface StreamSetup<F> {
  options: RunOptions & {
    idleMs: number;
    firstTokenMs?: number;
    onStreamFailure: 'resume' | 'error';
  };
  /** Opens the stream on `target`; `partialText` is what an earlier target already said (resumption). */
  open(target: Target, ctx: CallContext, attempt: AttemptInfo, partialText: string): AsyncIterable<StreamPart>;
  /** Builds the last part from the outcome (the client's finish part with its route). */
  finish?(outcome: StreamOutcome): F;
  /** Told of the error that ends the stream, before it is thrown. */
  failed?(error: unknown): void;
}

export interface StreamOutcome {
  candidate: Candidate;
  attempts: AttemptRecord[];
  text: string;
  usage?: Usage;
  finishReason: Extract<StreamPart, { type: 'finish' }>['finishReason'];
  ttftMs?: number;
  totalMs: number;
  replica?: number;
  fellBack: boolean;
  hedged: boolean;
}
