/**
 * `latency: 'batch'` calls bound for a batch endpoint, gathered: calls that arrive within a short
 * window for the same target and operation become ONE job (one upload, one provider batch, one
 * poller) instead of one each. A document pipeline that fires 1,000 calls at once makes one
 * provider batch, not 1,000.
 *
 * Each caller keeps its own promise, its own error (a failed item fails its caller only) and its
 * own abort: before the group is sent an aborted caller simply leaves it; after, it is answered
 * with AbortedError at once and the job goes on for the others, cancelled only when every caller
 * has gone.
 *
 * Imports: errors, target (types), execute/deadline (Clock), batching/jobs (types).
 */
import { AbortedError, closedClientError, InferlaneError, JobError } from '../errors.js';
import type { Clock } from '../time/clock.js';
import type { BatchItemResult } from '../target.js';
import type { JobItem, JobOperation, JobWaitOptions } from './jobs/types.js';

type Answered = Extract<BatchItemResult, { ok: true }>;

/** What the coalescer needs of `Jobs` (its `runMany`). */
export interface JobRunner {
  runMany(targetId: string, operation: JobOperation, items: JobItem[], signal?: AbortSignal, waitOptions?: Omit<JobWaitOptions, 'signal'>): Promise<Map<string, BatchItemResult>>;
}

export interface JobCoalescerOptions {
  /** How long the first call of a group waits for others, ms. 0: calls made in the same tick. */
  windowMs: number;
  /** A group with this many items is sent at once (the job splits it further at the endpoint's limits). */
  maxItems: number;
  wait: Omit<JobWaitOptions, 'signal' | 'onProgress'>;
  clock: Clock;
}

interface Caller {
  items: Omit<JobItem, 'id'>[];
  /** The item ids of this caller in the group's job. */
  ids: string[];
  resolve(results: Answered[]): void;
  reject(error: unknown): void;
  signal?: AbortSignal;
  onAbort?: () => void;
  settled: boolean;
}

interface Group {
  key: string;
  targetId: string;
  operation: JobOperation;
  callers: Caller[];
  items: number;
  timer?: unknown;
  /** Set when the group is sent; aborted when every caller has gone. */
  controller?: AbortController;
}

export class JobCoalescer {
  private readonly open = new Map<string, Group>();
  private sequence = 0;
  private closed = false;

  constructor(
    private readonly jobs: () => JobRunner,
    private readonly options: JobCoalescerOptions,
  ) {}

  /** Runs one caller's items (one for `generate`, each input of an `embed`) and resolves with their results, in order. */
  run(targetId: string, operation: JobOperation, items: Omit<JobItem, 'id'>[], signal?: AbortSignal): Promise<Answered[]> {
    if (signal?.aborted) return Promise.reject(new AbortedError(undefined, { target: targetId }));
    if (this.closed) return Promise.reject(closedClientError());
    const key = `${operation} ${targetId}`;
    let group = this.open.get(key);
    if (group === undefined) {
      group = { key, targetId, operation, callers: [], items: 0 };
      this.open.set(key, group);
    }
    const joined = group;
    return new Promise<Answered[]>((resolve, reject) => {
      const caller: Caller = { items, ids: items.map(() => `c${this.sequence++}`), resolve, reject, signal, settled: false };
      joined.callers.push(caller);
      joined.items += items.length;
      if (signal) {
        caller.onAbort = () => this.abandon(joined, caller);
        signal.addEventListener('abort', caller.onAbort, { once: true });
      }
      if (joined.items >= this.options.maxItems) this.send(joined);
      else joined.timer ??= this.options.clock.setTimeout(() => this.send(joined), this.options.windowMs);
    });
  }

  /** Sends every group still gathering (the client's `flush()`: nobody is left waiting on a window). */
  flush(): void {
    for (const group of [...this.open.values()]) this.send(group);
  }

  /**
   * The client's `close()`: groups still gathering are sent (their jobs reach the store), and a
   * later call is refused at once rather than left to a window timer.
   */
  close(): void {
    this.closed = true;
    this.flush();
  }

  private send(group: Group): void {
    if (group.controller !== undefined) return;
    if (group.timer !== undefined) this.options.clock.clearTimeout(group.timer);
    if (this.open.get(group.key) === group) this.open.delete(group.key);
    const callers = group.callers.filter((caller) => !caller.settled);
    if (callers.length === 0) return;
    group.controller = new AbortController();
    const items: JobItem[] = [];
    for (const caller of callers) caller.items.forEach((item, index) => items.push(Object.assign({}, item, { id: caller.ids[index] })));
    this.jobs()
      .runMany(group.targetId, group.operation, items, group.controller.signal, this.options.wait)
      .then(
        (results) => {
          for (const caller of callers) this.answer(caller, results, group.targetId);
        },
        (error: unknown) => this.failed(group, callers, items, error),
      );
  }

  /** The job could not run: one caller's bad item fails that caller only, and the others go again. */
  private failed(group: Group, callers: Caller[], items: JobItem[], error: unknown): void {
    const field = InferlaneError.isInstance(error) ? (error as { field?: string }).field : undefined;
    const index = field === undefined ? undefined : /^items\[(\d+)\]/.exec(field)?.[1];
    const culprit = index === undefined ? undefined : callers.find((caller) => caller.ids.includes(items[Number(index)]?.id));
    if (culprit === undefined || callers.length === 1) {
      for (const caller of callers) this.settle(caller, () => caller.reject(error));
      return;
    }
    this.settle(culprit, () => culprit.reject(error));
    const again: Group = { key: group.key, targetId: group.targetId, operation: group.operation, callers: callers.filter((caller) => !caller.settled), items: 0 };
    for (const caller of again.callers) {
      if (caller.signal === undefined || caller.onAbort === undefined) continue;
      // Abort now reaches the new group.
      caller.signal.removeEventListener('abort', caller.onAbort);
      caller.onAbort = () => this.abandon(again, caller);
      caller.signal.addEventListener('abort', caller.onAbort, { once: true });
    }
    this.send(again);
  }

  private answer(caller: Caller, results: Map<string, BatchItemResult>, targetId: string): void {
    const answered: Answered[] = [];
    for (const id of caller.ids) {
      const result = results.get(id);
      if (result?.ok) {
        answered.push(result);
        continue;
      }
      const error = result
        ? new JobError(`${targetId}: the batch item failed: ${result.error.code}: ${result.error.message}`, { target: targetId, status: result.error.status })
        : new JobError(`${targetId}: the job finished without a result for this call`, { target: targetId });
      this.settle(caller, () => caller.reject(error));
      return;
    }
    this.settle(caller, () => caller.resolve(answered));
  }

  /** A caller aborted: it leaves a group still gathering; a sent group's job is cancelled once nobody waits for it. */
  private abandon(group: Group, caller: Caller): void {
    this.settle(caller, () => caller.reject(new AbortedError(undefined, { target: group.targetId })));
    if (group.controller === undefined) {
      group.callers = group.callers.filter((other) => other !== caller);
      group.items -= caller.items.length;
      if (group.callers.length === 0) {
        if (group.timer !== undefined) this.options.clock.clearTimeout(group.timer);
        if (this.open.get(group.key) === group) this.open.delete(group.key);
      }
    } else if (group.callers.every((other) => other.settled)) {
      group.controller.abort();
    }
  }

  private settle(caller: Caller, answer: () => void): void {
    if (caller.settled) return;
    caller.settled = true;
    if (caller.onAbort) caller.signal?.removeEventListener('abort', caller.onAbort);
    answer();
  }
}
