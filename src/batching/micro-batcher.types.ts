/**
 * The micro-batcher's surface, fixed so the executor and the batcher can be written apart.
 * Implementation: src/batching/micro-batcher.ts.
 */
import type { CallContext, EmbedResult, MicroBatchSettings, Segment, Target, TextCall, TextResult } from '../target.js';
import type { Clock } from '../time/clock.js';

export interface BatchFlushEvent {
  target: string;
  operation: 'embed' | 'generate';
  /** Items in the provider request. */
  size: number;
  /** 'size' | 'tokens' | 'window' | 'deadline' | 'realtime' | 'flush' */
  reason: string;
  /** How long the oldest item waited, ms. */
  waitMs: number;
}

export interface BatchInfo {
  size: number;
  reason: string;
  waitMs: number;
}

export interface EnqueueOptions {
  /** Absolute deadline, ms since epoch. */
  deadline: number;
  /** The caller's signal: an aborted item leaves the queue before the flush. */
  signal: AbortSignal;
  segment: Segment;
  /** Everything of the CallContext but the signal and deadline, which the batch owns. */
  context: Omit<CallContext, 'signal' | 'deadline' | 'segment'>;
}

export interface MicroBatcherOptions {
  emit(event: 'batch-flush', payload: BatchFlushEvent): void;
  /** Time for every window, deadline flush and request timer (the client's clock). @default systemClock */
  clock?: Clock;
  /** Predicted service time of one batch on a target, ms (from src/stats). */
  predictServiceMs?(targetId: string): number | undefined;
  /** Runtime defaults (server, serverless, browser); a target's own `microBatch` overrides. */
  defaults?: MicroBatchSettings;
}

export interface MicroBatcherApi {
  /** One vector per input, in order, each input batched with other callers' inputs. */
  embed(target: Target, inputs: string[], call: { dimensions?: number; providerOptions?: Record<string, Record<string, unknown>> }, options: EnqueueOptions): Promise<EmbedResult & { batch: BatchInfo }>;
  /** For targets with `doGenerateMany` (device runtimes): several prompts in one pass. */
  generate(target: Target, call: TextCall, options: EnqueueOptions): Promise<TextResult & { batch: BatchInfo }>;
  /** Sends whatever waits, now. Resolves when those provider calls have settled. */
  flush(): Promise<void>;
  /** Items waiting plus in flight. */
  pending(): number;
}
