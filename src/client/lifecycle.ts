/**
 * The client's lifecycle: conversation turns in flight, and `close()`: what waits in the
 * features' queues is sent; calls in flight (and turns, whose answers are then written) may
 * finish for up to `graceMs`, after which they end with ABORTED; then probes end and targets
 * (model sessions, sockets) and the store close. Idempotent: a second `close()` returns the
 * first's promise.
 *
 * Imports: errors, execute/executor (types), stores/store and target (types), time, ./features (types).
 */
import { closedClientError, InvalidRequestError } from '../errors.js';
import type { Executor } from '../execute/executor.js';
import type { KeyValueStore } from '../stores/store.js';
import type { Target } from '../target.js';
import type { Clock } from '../time/clock.js';
import { IdleWaiters } from '../time/idle-waiters.js';
import { within } from '../time/within.js';
import type { CommonOptions } from '../types.js';
import type { InstalledFeature } from './features.js';

/** How long `close()` lets calls in flight finish before it ends them, ms. */
const defaultGraceMs = 10_000;
/** How long `close()` waits for the calls it ended to settle, ms. */
const abortSettleMs = 1_000;

export interface LifecycleParts {
  clock: Clock;
  executor: Executor;
  features: readonly InstalledFeature[];
  targets: readonly Target[];
  store: KeyValueStore;
  /** Ends the availability probes still running. */
  endProbes(): void;
  /** Last of all: drops every listener. */
  removeAllListeners(): void;
}

export class Lifecycle {
  closed = false;
  private closing: Promise<void> | undefined;
  /** Conversation turns in flight, which `close()` lets finish writing. */
  private turns = 0;
  private readonly whenTurnsIdle = new IdleWaiters();

  constructor(private readonly parts: LifecycleParts) {}

  /** Whether a call must be refused: the client closed, and it is not part of a turn that began before. */
  refuses(request: CommonOptions): boolean {
    return this.closed && (request.conversation === undefined || this.turns === 0);
  }

  /** A conversation turn began (its store reads and writes lie outside the executor's call). */
  beginTurn(): void {
    if (this.closed) throw closedClientError();
    this.turns++;
  }

  endTurn(): void {
    if (--this.turns === 0) this.whenTurnsIdle.wake();
  }

  /** See `CoreClient.close`. */
  close(options: { graceMs?: number } = {}): Promise<void> {
    if (this.closing) return this.closing;
    const graceMs = options?.graceMs ?? defaultGraceMs;
    if (typeof graceMs !== 'number' || !(graceMs >= 0)) return Promise.reject(new InvalidRequestError('graceMs', 'expected a number of ms, 0 or more'));
    // The features send what gathers and stop taking more (batch jobs: their gathering jobs are
    // sent, every wait ends with AbortedError naming its job, which stays in the store; the
    // micro-batcher: queued items go now), all before `closed` refuses new calls and the store closes.
    const closedFeatures = this.parts.features.map((feature) => feature.close?.());
    this.closed = true;
    this.closing = (async () => {
      const { parts } = this;
      await this.drain(graceMs, Promise.all(closedFeatures));
      parts.endProbes();
      await Promise.all(parts.targets.map((t) => t.close?.()));
      await parts.store.close?.();
      parts.removeAllListeners();
    })();
    return this.closing;
  }

  /**
   * Waits for calls and conversation turns in flight, and the features' work under way (the
   * jobs' submissions), at most `graceMs`; then ends the calls, stops the uploads (their jobs
   * saved for `jobs.resume()`) and gives them a moment to settle. A stream its caller stopped
   * reading never settles: it ends with ABORTED on its next read. An upload that hangs at the
   * provider cannot hold close() either.
   */
  private async drain(graceMs: number, featuresClosed: Promise<unknown>): Promise<void> {
    const { clock, executor, features } = this.parts;
    const settled = () => Promise.all([executor.idle(), this.turnsIdle(), featuresClosed]);
    if (await within(clock, settled(), graceMs)) return;
    // Calls first: their callers get ABORTED before a stopped upload's error could reach them.
    executor.abortAll();
    for (const feature of features) feature.stop?.();
    await within(clock, settled(), abortSettleMs);
  }

  private turnsIdle(): Promise<void> {
    return this.whenTurnsIdle.wait(this.turns === 0);
  }
}
