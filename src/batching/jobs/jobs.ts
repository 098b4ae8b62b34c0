/**
 * Deferred, durable jobs (DESIGN.md sections 7 and 14): the facade. It checks a submission,
 * chooses the target, packs, commits the job to the store, and hands the work to the rooms
 * beside it: part submission (claims, reconciliation, provider batches), the online runner, the
 * results reader; it polls while someone waits, and starts scheduled jobs when their window opens.
 *
 * Timers: polls run only inside `wait()`; heartbeats only while a part uploads or runs online;
 * a scheduled job's start timer is unref'd (it starts the job if this process still runs then,
 * and never keeps it alive). All are cleared when their work settles or the jobs close.
 *
 * Imports: errors.ts, stores/store.ts, target.ts, tokens.ts, validate.ts (item checks),
 * time/, and this folder.
 */
import { AbortedError, InvalidRequestError, JobError } from '../../errors.js';
import type { BatchItem, BatchItemResult, Target } from '../../target.js';
import { childController } from '../../time/child-controller.js';
import type { Clock } from '../../time/clock.js';
import { sleep } from '../../time/sleep.js';
import { estimateTokens } from '../../tokens.js';
import { validateJobSubmit, validateJobWait } from '../job-validation.js';
import { unref } from './heartbeat.js';
import { JobStore } from './job-store.js';
import { OnlineRunner } from './online-runner.js';
import { type JobsOptions, type ResolvedJobsOptions, randomId, resolveJobsOptions } from './options.js';
import { jsonBytes, packingLimits, packParts, toBatchItem } from './packing.js';
import { neverAborted, PartSubmission } from './part-submission.js';
import { readResults } from './results.js';
import { nextStart, parseWindow, resolveSchedule } from './schedule.js';
import { applyBatch, jobInfo, markCancelled, progressKey, progressOf, scheduledStart } from './status.js';
import { chooseTarget } from './target-choice.js';
import {
  terminalStatuses,
  type JobHandle,
  type JobInfo,
  type JobItem,
  type JobOperation,
  type JobRecord,
  type JobResult,
  type JobResultsOptions,
  type JobStatus,
  type JobSubmitOptions,
  type JobWaitOptions,
} from './types.js';

const defaultCompletionWindow = '24h';

const endpoints: Record<JobOperation, string> = { text: '/v1/chat/completions', embedding: '/v1/embeddings' };

export class Jobs {
  private readonly options: ResolvedJobsOptions;
  private readonly clock: Clock;
  private readonly targets: Map<string, Target>;
  private readonly store: JobStore;
  private readonly submission: PartSubmission;
  private readonly online: OnlineRunner;
  /** Aborted by `close()`: waits stop, online runners let go of their parts (the jobs stay in the store). */
  private readonly closer = new AbortController();
  /** Aborted by `stopSubmissions()`: uploads to a provider under way stop. */
  private readonly submissionsStop = new AbortController();
  /** This process's submissions, waits and scheduled starts, which `close()` lets settle before the store closes. */
  private readonly inFlight = new Set<Promise<unknown>>();
  /** Start timers of scheduled jobs, by job id. */
  private readonly startTimers = new Map<string, unknown>();
  /** The last progress reported per job (`job-progress` fires only on a change). */
  private readonly lastProgress = new Map<string, string>();
  private closing: Promise<void> | undefined;

  constructor(options: JobsOptions) {
    this.options = resolveJobsOptions(options);
    const { clock, ownerId, leaseMs, heartbeatMs } = this.options;
    this.clock = clock;
    this.targets = new Map(this.options.targets.map((target) => [target.id, target]));
    this.store = new JobStore(this.options.store, this.options.keyPrefix, () => clock.now());
    this.submission = new PartSubmission({ store: this.store, clock, ownerId, leaseMs, heartbeatMs, batchTarget: (record) => this.batchTarget(record) });
    this.online = new OnlineRunner({
      store: this.store,
      clock,
      ownerId,
      leaseMs,
      heartbeatMs,
      concurrency: this.options.onlineConcurrency,
      runItem: this.options.runOnline,
      closing: this.closer.signal,
      saved: (record) => this.reportProgress(this.info(record)),
    });
  }

  // ---------------------------------------------------------------- submit

  submit(items: JobItem[], options: JobSubmitOptions = {}): Promise<JobHandle> {
    return this.track(() => this.submitJob(items, options));
  }

  private async submitJob(items: JobItem[], options: JobSubmitOptions): Promise<JobHandle> {
    const operation = validateJobSubmit(items, options);
    const schedule = resolveSchedule(options.window, options.notBefore);
    const metadata = { ...options.metadata };
    const completionWindow = options.completionWindow ?? defaultCompletionWindow;
    const windowMs = parseWindow(completionWindow);
    const { target, mode } = chooseTarget(this.targets, operation, options.target);
    throwIfAborted(options.signal);

    // Size every item as the provider will see it, and pack, before anything is stored. The
    // batch lines built for sizing are kept for the first upload (not read back from the store).
    const batchItems: BatchItem[] | undefined = mode === 'batch' ? new Array<BatchItem>(items.length) : undefined;
    const maxInputTokens = operation === 'embedding' ? target.limits?.maxInputTokens : undefined;
    const sizeOf = (index: number): number => {
      const item = items[index];
      if (maxInputTokens !== undefined) {
        const tokens = estimateTokens(item.input!);
        if (tokens > maxInputTokens) throw new InvalidRequestError(`items[${index}].input`, `is about ${tokens} tokens, above ${target.id}'s ${maxInputTokens}-token input limit`);
      }
      if (!batchItems) return jsonBytes(item);
      const batchItem = toBatchItem(item, index, operation);
      batchItems[index] = batchItem;
      return target.batch!.itemBytes(batchItem);
    };
    const { parts, bytes } = packParts(items.length, sizeOf, packingLimits(target, mode, this.options.onlinePartSize), target.id);

    const createdAt = this.clock.now();
    const id = `job_${createdAt.toString(36)}${randomId(this.options.random)}`;
    // Items first; the record last: its creation is the commit point of a job.
    const inputHash = await this.store.writeItems(id, items, this.options.chunkSize);
    if (options.signal?.aborted) {
      await this.store.discardItems(id);
      throwIfAborted(options.signal);
    }
    const firstStart = schedule ? nextStart(schedule, createdAt) : createdAt;
    const record: JobRecord = {
      schema: 1,
      id,
      target: target.id,
      mode,
      operation,
      endpoint: endpoints[operation],
      model: target.id,
      createdAt,
      expiresAt: firstStart + windowMs,
      completionWindow,
      metadata,
      status: 'queued',
      itemCount: items.length,
      bytes,
      inputHash,
      chunkSize: this.options.chunkSize,
      idChunks: true,
      parts,
    };
    if (schedule) record.schedule = schedule;
    await this.store.commit(record);

    if (firstStart > createdAt) this.armStart(id, firstStart);
    else if (mode === 'batch') {
      // `stopSubmissions()` (a closing client out of grace) aborts an upload under way: the job is
      // saved, its part released for jobs.resume().
      const stopping = childController(this.submissionsStop.signal);
      try {
        await this.submission.advance(id, { throwOnSubmitError: true, signal: stopping.controller.signal, items: batchItems });
      } finally {
        stopping.release();
      }
    } else this.online.start(id);
    return this.handle(id);
  }

  /**
   * Runs `items` as one job and resolves, once it has finished, with each item's result by item
   * id (a failed or unanswered item with its own error). Aborting the signal cancels the job.
   * The client's `latency: 'batch'` calls run through here (src/batching/job-coalescer.ts).
   */
  runMany(targetId: string, operation: JobOperation, items: JobItem[], signal?: AbortSignal, waitOptions: Omit<JobWaitOptions, 'signal'> = {}): Promise<Map<string, BatchItemResult>> {
    return this.track(() => this.runJob(targetId, operation, items, signal, waitOptions));
  }

  private async runJob(targetId: string, operation: JobOperation, items: JobItem[], signal: AbortSignal | undefined, waitOptions: Omit<JobWaitOptions, 'signal'>): Promise<Map<string, BatchItemResult>> {
    const handle = await this.submitJob(items, { target: targetId, operation, signal });
    const onAbort = () => void this.cancel(handle.id).catch(() => {});
    // Every caller left while the job was being submitted: it is cancelled now, not left to run.
    if (signal?.aborted) {
      onAbort();
      throw new AbortedError();
    }
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      await handle.wait(Object.assign({}, waitOptions, { signal }));
      const byId = new Map<string, BatchItemResult>();
      const keep = (result: JobResult, raw: BatchItemResult | undefined) =>
        void byId.set(result.id, raw?.ok ? Object.assign({}, raw, { customId: result.id }) : { customId: result.id, ok: false, error: result.error! });
      for await (const _ of this.read(handle.id, { cursor: 'start', signal }, false, keep));
      return byId;
    } finally {
      signal?.removeEventListener('abort', onAbort);
    }
  }

  handle(id: string): JobHandle {
    return {
      id,
      get: () => this.get(id),
      wait: (options) => this.wait(id, options),
      results: (options) => this.results(id, options),
      cancel: () => this.cancel(id),
    };
  }

  // ---------------------------------------------------------------- read

  async get(id: string): Promise<JobInfo> {
    this.throwIfClosed();
    return this.info((await this.store.load(id)).record);
  }

  /** Every job in the store, oldest first; a scheduled job shows status 'scheduled' and its `startsAt`. */
  async list(options: { status?: JobStatus | JobStatus[] } = {}): Promise<JobInfo[]> {
    this.throwIfClosed();
    const wanted = options.status === undefined ? undefined : new Set(Array.isArray(options.status) ? options.status : [options.status]);
    const infos: JobInfo[] = [];
    for (const record of await this.store.records()) {
      const info = this.info(record);
      if (!wanted || wanted.has(info.status)) infos.push(info);
    }
    return infos.sort((a, b) => a.createdAt - b.createdAt || a.id.localeCompare(b.id));
  }

  // ---------------------------------------------------------------- resume, poll, wait

  /**
   * For every job that is not finished: reconciles parts whose provider id is unknown, submits
   * what was never accepted (a scheduled job once its window is open), restarts online work,
   * refreshes statuses once. A scheduled job not yet open gets a start timer here (unref'd).
   * Serverless: a scheduled trigger (cron) calling this is the worker. Returns the jobs touched.
   */
  async resume(): Promise<JobHandle[]> {
    this.throwIfClosed();
    const handles: JobHandle[] = [];
    for (const info of await this.list()) {
      if (terminalStatuses.has(info.status)) continue;
      const refreshed = await this.refresh(info.id, { poll: true });
      if (refreshed.startsAt !== undefined) this.armStart(info.id, refreshed.startsAt);
      handles.push(this.handle(info.id));
    }
    return handles;
  }

  /**
   * Polls until the job is finished or past its expiry, with backoff and jitter; a scheduled job
   * is submitted when its window opens, a part whose claim lapses is taken over when it lapses.
   * The client's `close()` ends the wait with AbortedError naming the job, which goes on at the
   * provider and stays in the store.
   */
  async wait(id: string, options: JobWaitOptions = {}): Promise<JobInfo> {
    validateJobWait(options);
    if (this.closer.signal.aborted) throw closedWhileWaiting(id);
    // Its own signal even without the caller's: the closer lives as long as the client, and the
    // HTTP clients a poll hands its signal to never remove their listeners.
    const link = childController(this.closer.signal, options.signal);
    try {
      return await this.track(() => this.poll(id, options, link.controller.signal));
    } catch (error) {
      if (this.closer.signal.aborted && !options.signal?.aborted) throw closedWhileWaiting(id);
      throw error;
    } finally {
      link.release();
    }
  }

  private async poll(id: string, options: JobWaitOptions, signal: AbortSignal): Promise<JobInfo> {
    const first = options.pollIntervalMs ?? this.options.pollIntervalMs;
    const longest = Math.max(first, options.maxPollIntervalMs ?? this.options.maxPollIntervalMs);
    let reported: string | undefined;
    for (let attempt = 0; ; attempt++) {
      throwIfAborted(signal);
      const info = await this.refresh(id, { poll: true, signal });
      const progress = progressOf(info);
      const key = progressKey(progress);
      if (key !== reported) options.onProgress?.(progress);
      reported = key;
      const now = this.clock.now();
      if (terminalStatuses.has(info.status) || (info.startsAt === undefined && now >= info.expiresAt)) return info;
      const base = Math.min(longest, first * 1.5 ** attempt);
      let delay = Math.max(0, Math.round(base * (0.8 + 0.4 * this.options.random())));
      // Something is due before the next poll: the window opens, or another worker's claim lapses.
      const due = await this.nextDue(id, info, now);
      if (due !== undefined) delay = Math.min(delay, Math.max(0, due - now));
      const runner = this.online.running(id);
      await (runner ? this.sleepUnlessDone(delay, signal, runner) : this.pause(delay, signal));
    }
  }

  /** When this waiter should look again at the latest: a scheduled start, or the lapse of a claim held elsewhere. */
  private async nextDue(id: string, info: JobInfo, now: number): Promise<number | undefined> {
    if (info.startsAt !== undefined) return info.startsAt;
    const { record } = await this.store.load(id);
    let due: number | undefined;
    for (const part of record.parts) {
      if ((part.state !== 'submitting' && part.state !== 'running') || part.owner === this.options.ownerId || part.leaseUntil === undefined || part.leaseUntil < now) continue;
      // Just past the lapse, so the claim is takeable when this waiter looks.
      due = Math.min(due ?? Infinity, part.leaseUntil + 1);
    }
    return due;
  }

  /** The poll wait: the one sleep on the jobs' clock, rejecting with AbortedError when `signal` aborts. */
  private pause(ms: number, signal: AbortSignal): Promise<void> {
    // Not unref'd: someone awaits this wait (a script calling `jobs.wait()` must not exit mid-poll).
    return sleep(ms, signal, this.clock).catch(() => {
      throw new AbortedError();
    });
  }

  /**
   * An online job running here wakes the waiter as soon as it ends. The sleep it cut short is
   * ended too: its timer would otherwise hold the process for the rest of the delay (up to
   * `maxPollIntervalMs`) after `wait()` returned.
   */
  private async sleepUnlessDone(delay: number, signal: AbortSignal, runner: Promise<void>): Promise<void> {
    const sleeper = childController(signal);
    const sleeping = this.pause(delay, sleeper.controller.signal);
    try {
      await Promise.race([sleeping, runner.catch(() => {})]);
    } finally {
      sleeper.controller.abort();
      sleeper.release();
      sleeping.catch(() => {});
    }
  }

  /**
   * Stops this process's part in every job: waits end (AbortedError naming the job), online
   * runners stop between items and release their claims so a restarted worker takes over at once,
   * submissions under way finish (a job is either in the store whole or not at all), start timers
   * of scheduled jobs are cleared. Nothing is cancelled at the provider. Later calls reject with
   * INVALID_REQUEST (field `jobs`). Idempotent.
   */
  close(): Promise<void> {
    if (this.closing) return this.closing;
    this.closer.abort();
    for (const timer of this.startTimers.values()) this.clock.clearTimeout(timer);
    this.startTimers.clear();
    const runners = this.online.abortAll();
    this.closing = Promise.allSettled([...this.inFlight, ...runners]).then(() => undefined);
    return this.closing;
  }

  /**
   * After `close()`, for a client whose grace ran out: uploads still under way stop (their jobs are
   * saved, the parts released: `jobs.resume()` after a restart submits them). @internal
   */
  stopSubmissions(): void {
    this.submissionsStop.abort();
  }

  private throwIfClosed(): void {
    if (this.closer.signal.aborted) throw new InvalidRequestError('jobs', 'is closed (its client closed); create a new client to reach the stored jobs');
  }

  /** Runs `work` (after the closed check) and keeps it in `inFlight` until it settles. */
  private track<T>(work: () => Promise<T>): Promise<T> {
    let promise: Promise<T>;
    try {
      this.throwIfClosed();
      promise = work();
    } catch (error) {
      return Promise.reject(error);
    }
    this.inFlight.add(promise);
    const forget = () => void this.inFlight.delete(promise);
    promise.then(forget, forget);
    return promise;
  }

  /**
   * Starts a scheduled job when its window opens, if this process still runs then: every worker
   * that knows the job races for its parts at the opening, and the claims let one submit each.
   */
  private armStart(id: string, at: number): void {
    if (this.closer.signal.aborted) return;
    this.clock.clearTimeout(this.startTimers.get(id));
    const timer = this.clock.setTimeout(() => {
      this.startTimers.delete(id);
      // A store that fails here leaves the job for the next resume() or wait().
      this.track(() => this.startScheduled(id)).catch(() => {});
    }, Math.max(0, at - this.clock.now()));
    unref(timer);
    this.startTimers.set(id, timer);
  }

  private async startScheduled(id: string): Promise<void> {
    const info = await this.refresh(id, { poll: false });
    // Woken early (a timer is capped at about 24.8 days) or the window moved on: wait again.
    if (info.startsAt !== undefined) this.armStart(id, info.startsAt);
  }

  /** One step of progress: reconcile and submit stranded parts, poll submitted ones, save. */
  private async refresh(id: string, options: { poll: boolean; signal?: AbortSignal }): Promise<JobInfo> {
    let { record } = await this.store.load(id);
    if (terminalStatuses.has(record.status)) return this.info(record);
    if (scheduledStart(record, this.clock.now()) !== undefined) return this.info(record);
    if (record.mode === 'online') {
      const stranded = record.parts.some((part) => part.state !== 'done' && this.online.claimable(record, part.index));
      if (stranded && !record.cancelRequested) this.online.start(id);
      return this.info(record);
    }
    record = await this.submission.advance(id, { throwOnSubmitError: false, signal: options.signal });
    if (!options.poll) return this.reportProgress(this.info(record));
    const target = this.batchTarget(record);
    for (const part of record.parts) {
      if (part.state !== 'submitted' || terminalStatuses.has(part.status) || !part.providerBatchId) continue;
      const batch = await target.batch!.status(part.providerBatchId, { signal: options.signal ?? neverAborted() });
      record = await this.store.mutate(id, (current) => {
        const live = current.parts[part.index];
        applyBatch(live, batch);
        live.pollAttempt = (live.pollAttempt ?? 0) + 1;
      });
    }
    return this.reportProgress(this.info(record));
  }

  /** Emits `job-progress` when the job's status or counts changed since the last report here. */
  private reportProgress(info: JobInfo): JobInfo {
    const progress = progressOf(info);
    const key = progressKey(progress);
    if (this.lastProgress.get(info.id) !== key) {
      this.lastProgress.set(info.id, key);
      this.options.emit('job-progress', progress);
    }
    if (terminalStatuses.has(info.status)) this.lastProgress.delete(info.id);
    return info;
  }

  // ---------------------------------------------------------------- cancel

  async cancel(id: string): Promise<JobInfo> {
    this.throwIfClosed();
    let record = await this.store.mutate(id, (current) => {
      if (terminalStatuses.has(current.status) || current.cancelRequested) return false;
      current.cancelRequested = true;
    });
    this.clock.clearTimeout(this.startTimers.get(id));
    this.startTimers.delete(id);
    this.online.abort(id);
    for (const part of record.parts) {
      if (part.state === 'pending' || (part.state === 'running' && this.online.claimable(record, part.index) && !this.online.running(id))) {
        record = await this.store.mutate(id, (current) => markCancelled(current.parts[part.index]));
      } else if (part.state === 'submitted' && !terminalStatuses.has(part.status)) {
        record = await this.submission.cancelPart(record, part.index, neverAborted());
      }
    }
    return this.reportProgress(this.info(record));
  }

  // ---------------------------------------------------------------- results

  /**
   * Per-item results, each item exactly once, matched by custom id. Items the provider never
   * answered (an expired, failed or cancelled part) end with their own error. The saved cursor
   * advances when the consumer asks for the next item, and on `break`.
   */
  results(id: string, options: JobResultsOptions = {}): AsyncIterable<JobResult> {
    return { [Symbol.asyncIterator]: () => this.read(id, options, true) };
  }

  private read(id: string, options: JobResultsOptions, saveCursor: boolean, onRaw?: (result: JobResult, raw: BatchItemResult | undefined) => void): AsyncGenerator<JobResult> {
    return readResults(
      {
        store: this.store,
        // runMany reads inside its own tracked work, which close() waits for: it must be able to finish.
        ensureOpen: onRaw ? () => {} : () => this.throwIfClosed(),
        target: (record) => this.targets.get(record.target),
        batchResults: (record, batch, signal) => this.batchTarget(record).batch!.results(batch, { signal }),
        onlineResults: (jobId, index) => this.online.answers(jobId, index),
      },
      id,
      options,
      saveCursor,
      onRaw,
    );
  }

  // ---------------------------------------------------------------- helpers

  private batchTarget(record: JobRecord): Target {
    const target = this.targets.get(record.target);
    if (!target?.batch) throw new JobError(`job ${record.id} needs target '${record.target}' with a batch endpoint, and this client has none`, { target: record.target });
    return target;
  }

  private info(record: JobRecord): JobInfo {
    return jobInfo(record, this.clock.now());
  }
}

/** The error of a wait that the client's `close()` ended: the job itself goes on. */
function closedWhileWaiting(id: string): AbortedError {
  return new AbortedError(`the client closed while waiting for job ${id}; the job goes on at the provider and stays in the store (jobs.get('${id}'), jobs.resume() after a restart)`);
}

function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new AbortedError();
}
