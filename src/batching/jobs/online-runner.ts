/**
 * The online runner: a job whose target has no batch endpoint runs item by item through the
 * client's executor (`runOnline`), a few at a time, behind the same job API. Each answer is
 * appended to the store as it comes, so a worker that dies leaves its answered items and the
 * next one runs only the rest. A part is claimed like a batch part, and its claim heartbeats
 * while it runs; a runner that finds its claim taken over stops at once.
 *
 * Imports: errors.ts, target.ts (types), time/ (Clock, childController), ./claims,
 * ./heartbeat, ./job-store, ./packing, ./status, ./types.
 */
import { toInferlaneError } from '../../errors.js';
import type { BatchCounts, BatchItemResult } from '../../target.js';
import { childController } from '../../time/child-controller.js';
import type { Clock } from '../../time/clock.js';
import { isClaimable, renewClaim } from './claims.js';
import { Heartbeat } from './heartbeat.js';
import type { JobStore } from './job-store.js';
import { customIdOf } from './packing.js';
import { markCancelled } from './status.js';
import type { JobRecord, RunOnline } from './types.js';

export interface OnlineRunnerOptions {
  store: JobStore;
  clock: Clock;
  ownerId: string;
  leaseMs: number;
  heartbeatMs: number;
  concurrency: number;
  runItem: RunOnline;
  /** Aborted by the jobs' `close()`: runners stop between items and release their claims. */
  closing: AbortSignal;
  /** The record after each save (the facade reports progress). */
  saved(record: JobRecord): void;
}

/** Answers appended between two saves of a part's counts (and its lease). */
const answersPerSave = 100;
const answersPerRead = 1000;

export class OnlineRunner {
  /** Runners in this process, by job id. */
  private readonly runners = new Map<string, Promise<void>>();
  private readonly aborts = new Map<string, AbortController>();

  constructor(private readonly options: OnlineRunnerOptions) {}

  /** Runs the job's unanswered items here unless it already runs here (or the jobs are closing). */
  start(id: string): void {
    // Closed: the job waits in the store for a worker that runs on.
    if (this.runners.has(id) || this.options.closing.aborted) return;
    const abort = new AbortController();
    const runner = this.run(id, abort.signal).finally(() => {
      this.runners.delete(id);
      this.aborts.delete(id);
    });
    // A failure is recorded in the store; the waiter sees it there.
    runner.catch(() => {});
    this.runners.set(id, runner);
    this.aborts.set(id, abort);
  }

  /** The runner of a job in this process, if one runs. */
  running(id: string): Promise<void> | undefined {
    return this.runners.get(id);
  }

  /** Whether another worker may be running the part (a live claim that is not ours). */
  claimable(record: JobRecord, index: number): boolean {
    return isClaimable(record.parts[index], this.options.ownerId, this.options.clock.now());
  }

  /** Stops the job's runner here between items (cancel). */
  abort(id: string): void {
    this.aborts.get(id)?.abort();
  }

  /** Stops every runner here (close); the returned promises settle when they have. */
  abortAll(): Promise<void>[] {
    for (const abort of this.aborts.values()) abort.abort();
    return [...this.runners.values()];
  }

  /** A part's stored answers, in the order they were answered (an item may appear twice after a takeover). */
  async *answers(id: string, index: number): AsyncGenerator<BatchItemResult> {
    for (let start = 0; ; start += answersPerRead) {
      const lines = await this.options.store.answers(id, index, start, start + answersPerRead);
      for (const line of lines) yield JSON.parse(line) as BatchItemResult;
      if (lines.length < answersPerRead) return;
    }
  }

  private async run(id: string, signal: AbortSignal): Promise<void> {
    const { store, clock, ownerId, leaseMs } = this.options;
    for (let index = 0; ; index++) {
      const { record } = await store.load(id);
      if (index >= record.parts.length) return;
      const part = record.parts[index];
      if (part.state === 'done') continue;
      // Closing: the part stays claimed, its lease released by `runPart`, for a restarted worker.
      if (this.options.closing.aborted) return;
      if (record.cancelRequested || signal.aborted) {
        await store.mutate(id, (current) => markCancelled(current.parts[index]));
        continue;
      }
      if (!this.claimable(record, index)) return;
      const claimed = await store.mutate(id, (current) => {
        const live = current.parts[index];
        if (live.state === 'done' || !isClaimable(live, ownerId, clock.now())) return false;
        live.state = 'running';
        live.status = 'in_progress';
        live.rawStatus = 'online';
        live.owner = ownerId;
        live.leaseUntil = clock.now() + leaseMs;
        live.claims += 1;
        live.submittedAt ??= clock.now();
      });
      if (claimed.parts[index].owner !== ownerId || claimed.parts[index].state !== 'running') return;
      const heartbeat = new Heartbeat(
        () => renewClaim(store, id, index, 'running', ownerId, clock.now() + leaseMs),
        this.options.heartbeatMs,
        clock,
        `job ${id} part ${index}`,
      );
      const link = childController(signal, heartbeat.signal);
      try {
        await this.runPart(claimed, index, link.controller.signal, signal);
      } finally {
        heartbeat.stop();
        link.release();
      }
      if (heartbeat.lost) return; // another worker runs the rest
    }
  }

  /**
   * Runs the part's unanswered items. `signal` stops the items (a cancel, a lost claim);
   * `cancelled` is the cancel alone, which ends the part as cancelled.
   */
  private async runPart(record: JobRecord, index: number, signal: AbortSignal, cancelled: AbortSignal): Promise<void> {
    const { store, clock, ownerId, leaseMs, closing } = this.options;
    const part = record.parts[index];
    const done = new Set<string>();
    const counts: BatchCounts = { total: part.end - part.start, completed: 0, failed: 0 };
    for await (const previous of this.answers(record.id, index)) {
      if (done.has(previous.customId)) continue;
      done.add(previous.customId);
      if (previous.ok) counts.completed++;
      else counts.failed++;
    }
    const items = await store.loadItems(record, part);
    let next = 0;
    let sinceSave = 0;
    const save = async (final: boolean) => {
      sinceSave = 0;
      const saved = await store.mutate(record.id, (current) => {
        const live = current.parts[index];
        if (live.owner !== ownerId) return false;
        live.counts = { ...counts };
        // Closing: the claim ends now, so any worker may take the rest at once (answered items are kept).
        const release = final && closing.aborted && !current.cancelRequested;
        live.leaseUntil = release ? clock.now() : clock.now() + leaseMs;
        if (final && !release) {
          live.state = 'done';
          live.status = current.cancelRequested || cancelled.aborted ? 'cancelled' : 'completed';
          live.rawStatus = 'online';
        }
      });
      this.options.saved(saved);
      return saved;
    };
    const worker = async () => {
      while (next < items.length && !signal.aborted) {
        const position = next++;
        const customId = customIdOf(part.start + position);
        if (done.has(customId)) continue;
        let result: BatchItemResult;
        try {
          result = Object.assign({}, await this.options.runItem(record.operation, items[position], record.target, signal), { customId });
        } catch (error) {
          if (signal.aborted) return;
          const failure = toInferlaneError(error, record.target);
          result = { customId, ok: false, error: { code: failure.code, message: failure.message, status: failure.status } };
        }
        // Closing cut this item short: left unanswered, for the worker that takes the part over.
        if (!result.ok && closing.aborted) return;
        await store.appendAnswers(record.id, index, [JSON.stringify(result)]);
        done.add(customId);
        if (result.ok) counts.completed++;
        else counts.failed++;
        if (++sinceSave >= answersPerSave) {
          const saved = await save(false);
          if (saved.cancelRequested) return;
        }
      }
    };
    await Promise.all(Array.from({ length: this.options.concurrency }, worker));
    await save(true);
  }
}
