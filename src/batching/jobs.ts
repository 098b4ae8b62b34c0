/**
 * Deferred, durable jobs (DESIGN.md sections 7 and 14). Owns: packing items into provider
 * batches, the job record in the store, claiming parts so two processes never submit the same
 * part, reconciliation after a crash, polling while someone waits, and per-item results read
 * exactly once through a saved cursor. A target without a batch endpoint serves a job online,
 * through the client's executor (`runOnline`), at low concurrency, behind the same API.
 *
 * No timers run when nobody waits: polling happens only inside `wait()`.
 * Imports: target.ts, errors.ts, tokens.ts, cost.ts, timers.ts, execute/deadline.ts (childController), stores/store.ts, jobs-types.ts.
 */
import { costOf } from '../cost.js';
import { childController } from '../time/child-controller.js';
import { AbortedError, InvalidRequestError, JobError, NoRouteError, type Rejection, toInferlaneError } from '../errors.js';
import type { KeyValueStore } from '../stores/store.js';
import type { BatchCounts, BatchItem, BatchItemResult, BatchStatus, Message, Modality, ProviderBatch, Target, TextCall, Usage } from '../target.js';
import { sleep } from '../time/sleep.js';
import { estimateTokens } from '../tokens.js';
import { validateJobSubmit, validateJobWait } from '../validate.js';
import {
  type JobHandle,
  type JobInfo,
  type JobItem,
  type JobOperation,
  type JobProgressEvent,
  type JobRecord,
  type JobResult,
  type JobResultsOptions,
  type JobStatus,
  type JobSubmitOptions,
  type JobWaitOptions,
  type PartRecord,
  type RunOnline,
  terminalStatuses,
} from './jobs-types.js';

export * from './jobs-types.js';

export interface JobsOptions {
  store: KeyValueStore;
  targets: Target[];
  emit(event: 'job-progress', payload: JobProgressEvent): void;
  /** Runs one item through the client's executor; used when the target has no batch endpoint. */
  runOnline: RunOnline;
  /** @default Date.now */
  now?: () => number;
  /** Jitter and ids. @default Math.random */
  random?: () => number;
  /** Waits between polls; must reject when `signal` aborts. @default a setTimeout, cleared on abort */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** Store key prefix of job records. @default 'jobs:' */
  keyPrefix?: string;
  /** How long a claim on a part holds before another process may take it over, ms. @default 600_000 */
  leaseMs?: number;
  /** This worker's name in claims; a restarted worker with the same name resumes its own claims at once. @default random */
  ownerId?: string;
  /** Items in flight at once on the online path. @default 2 */
  onlineConcurrency?: number;
  /** Items per stored chunk. @default 1000 */
  chunkSize?: number;
  /** Items per part on the online path. @default 10_000 */
  onlinePartSize?: number;
}

/** Fraction of a provider limit a part may fill; headroom for encoding differences. */
const limitFraction = 0.9;
const defaultWindow = '24h';

const endpoints: Record<JobOperation, string> = { text: '/v1/chat/completions', embedding: '/v1/embeddings' };

interface Loaded {
  record: JobRecord;
  version: number;
}

export class Jobs {
  private readonly store: KeyValueStore;
  private readonly targets: Map<string, Target>;
  private readonly emitEvent: JobsOptions['emit'];
  private readonly runItemOnline: RunOnline;
  private readonly now: () => number;
  private readonly random: () => number;
  private readonly sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
  private readonly prefix: string;
  private readonly leaseMs: number;
  private readonly ownerId: string;
  private readonly onlineConcurrency: number;
  private readonly chunkSize: number;
  private readonly onlinePartSize: number;
  /** Online runners in this process, by job id. */
  private readonly runners = new Map<string, Promise<void>>();
  private readonly runnerAborts = new Map<string, AbortController>();
  /** Aborted by `close()`: waits stop, online runners let go of their parts (the jobs stay in the store). */
  private readonly closer = new AbortController();
  /** Aborted by `stopSubmissions()`: uploads to a provider under way stop. */
  private readonly submissionsStop = new AbortController();
  /** This process's submissions, waits and online runners, which `close()` lets settle before the store closes. */
  private readonly inFlight = new Set<Promise<unknown>>();
  private closing: Promise<void> | undefined;

  constructor(options: JobsOptions) {
    this.store = options.store;
    this.targets = new Map(options.targets.map((target) => [target.id, target]));
    this.emitEvent = options.emit;
    this.runItemOnline = options.runOnline;
    this.now = options.now ?? Date.now;
    this.random = options.random ?? Math.random;
    this.sleep = options.sleep ?? defaultSleep;
    this.prefix = options.keyPrefix ?? 'jobs:';
    this.leaseMs = options.leaseMs ?? 600_000;
    this.ownerId = options.ownerId ?? `worker-${randomId(this.random)}`;
    this.onlineConcurrency = Math.max(1, options.onlineConcurrency ?? 2);
    this.chunkSize = Math.max(1, options.chunkSize ?? 1000);
    this.onlinePartSize = Math.max(1, options.onlinePartSize ?? 10_000);
  }

  // ---------------------------------------------------------------- submit

  submit(items: JobItem[], options: JobSubmitOptions = {}): Promise<JobHandle> {
    return this.track(() => this.submitJob(items, options));
  }

  private async submitJob(items: JobItem[], options: JobSubmitOptions): Promise<JobHandle> {
    const operation = validateJobSubmit(items, options);
    const metadata = { ...options.metadata };
    const completionWindow = options.completionWindow ?? defaultWindow;
    const windowMs = parseWindow(completionWindow);
    const { target, mode } = this.chooseTarget(operation, options.target);
    throwIfAborted(options.signal);

    // Size every item as the provider will see it, and pack, before anything is stored.
    const limits = packingLimits(target, mode, this.onlinePartSize);
    const parts: PartRecord[] = [];
    let partStart = 0;
    let partBytes = 0;
    let totalBytes = 0;
    const hash = new Fnv();
    for (let index = 0; index < items.length; index++) {
      const item = items[index];
      const bytes = mode === 'batch' ? target.batch!.itemBytes(toBatchItem(item, index, operation)) : jsonBytes(item);
      if (bytes > limits.bytes) {
        throw new InvalidRequestError(`items[${index}]`, `is ${bytes} bytes, above the ${limits.bytes}-byte limit of one ${target.id} batch`);
      }
      if (operation === 'embedding' && target.limits?.maxInputTokens !== undefined) {
        const tokens = estimateTokens(item.input!);
        if (tokens > target.limits.maxInputTokens) {
          throw new InvalidRequestError(`items[${index}].input`, `is about ${tokens} tokens, above ${target.id}'s ${target.limits.maxInputTokens}-token input limit`);
        }
      }
      if (index - partStart >= limits.items || partBytes + bytes > limits.bytes) {
        parts.push(newPart(parts.length, partStart, index, partBytes));
        partStart = index;
        partBytes = 0;
      }
      partBytes += bytes;
      totalBytes += bytes;
    }
    parts.push(newPart(parts.length, partStart, items.length, partBytes));

    const id = `job_${this.now().toString(36)}${randomId(this.random)}`;
    const createdAt = this.now();
    // Items first, in chunks; the record last: its creation is the commit point of a job.
    const chunks: string[] = [];
    for (let start = 0; start < items.length; start += this.chunkSize) {
      const chunk = JSON.stringify(items.slice(start, start + this.chunkSize));
      hash.update(chunk);
      chunks.push(chunk);
      if (chunks.length === 50) await this.store.append(this.itemsKey(id), chunks.splice(0));
    }
    if (chunks.length > 0) await this.store.append(this.itemsKey(id), chunks);
    if (options.signal?.aborted) {
      await this.store.delete(this.itemsKey(id));
      throwIfAborted(options.signal);
    }
    const record: JobRecord = {
      schema: 1,
      id,
      target: target.id,
      mode,
      operation,
      endpoint: endpoints[operation],
      model: target.id,
      createdAt,
      expiresAt: createdAt + windowMs,
      completionWindow,
      metadata,
      status: 'queued',
      itemCount: items.length,
      bytes: totalBytes,
      inputHash: hash.digest(),
      chunkSize: this.chunkSize,
      parts,
    };

    const created = await this.store.compareAndSet(this.recordKey(id), null, JSON.stringify(record));
    if (created === undefined) throw new JobError(`job id ${id} already exists in the store`);

    if (mode === 'batch') {
      // `stopSubmissions()` (a closing client out of grace) aborts an upload under way: the job is
      // saved, its part released for jobs.resume().
      const stopping = childController(this.submissionsStop.signal);
      try {
        await this.advance(id, { throwOnSubmitError: true, signal: stopping.controller.signal });
      } finally {
        stopping.release();
      }
    } else {
      this.startOnline(id);
    }
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
      await handle.wait({ ...waitOptions, signal });
      const byId = new Map<string, BatchItemResult>();
      for await (const { public: result, raw } of this.readResults(handle.id, { cursor: 'start', signal }, false)) {
        byId.set(result.id, raw?.ok ? Object.assign({}, raw, { customId: result.id }) : { customId: result.id, ok: false, error: result.error! });
      }
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
    return this.info((await this.load(id)).record);
  }

  async list(options: { status?: JobStatus | JobStatus[] } = {}): Promise<JobInfo[]> {
    this.throwIfClosed();
    const wanted = options.status === undefined ? undefined : new Set(Array.isArray(options.status) ? options.status : [options.status]);
    const infos: JobInfo[] = [];
    for (const key of await this.store.list(this.prefix)) {
      const id = key.slice(this.prefix.length);
      if (id.includes(':')) continue; // item chunks, results and cursors live under `<id>:...`
      const entry = await this.store.get(key);
      if (!entry) continue;
      const info = this.info(JSON.parse(entry.value) as JobRecord);
      if (!wanted || wanted.has(info.status)) infos.push(info);
    }
    return infos.sort((a, b) => a.createdAt - b.createdAt || a.id.localeCompare(b.id));
  }

  // ---------------------------------------------------------------- resume, poll, wait

  /**
   * For every job that is not finished: reconciles parts whose provider id is unknown, submits
   * what was never accepted, restarts online work, refreshes statuses once. Returns the jobs touched.
   */
  async resume(): Promise<JobHandle[]> {
    this.throwIfClosed();
    const handles: JobHandle[] = [];
    for (const info of await this.list()) {
      if (terminalStatuses.has(info.status)) continue;
      await this.refresh(info.id, { poll: true });
      handles.push(this.handle(info.id));
    }
    return handles;
  }

  /**
   * Polls until the job is finished or past its expiry, with backoff and jitter. The client's
   * `close()` ends the wait with AbortedError naming the job, which goes on at the provider and
   * stays in the store.
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
    const first = options.pollIntervalMs ?? 30_000;
    const longest = Math.max(first, options.maxPollIntervalMs ?? 300_000);
    for (let attempt = 0; ; attempt++) {
      throwIfAborted(signal);
      const info = await this.refresh(id, { poll: true, signal });
      options.onProgress?.(progressOf(info));
      if (terminalStatuses.has(info.status) || this.now() >= info.expiresAt) return info;
      const base = Math.min(longest, first * 1.5 ** attempt);
      const delay = Math.max(0, Math.round(base * (0.8 + 0.4 * this.random())));
      const runner = this.runners.get(id);
      await (runner ? this.sleepUnlessDone(delay, signal, runner) : this.sleep(delay, signal));
    }
  }

  /**
   * An online job running here wakes the waiter as soon as it ends. The sleep it cut short is
   * ended too: its timer would otherwise hold the process for the rest of the delay (up to
   * `maxPollIntervalMs`) after `wait()` returned.
   */
  private async sleepUnlessDone(delay: number, signal: AbortSignal, runner: Promise<void>): Promise<void> {
    const sleeper = childController(signal);
    const sleeping = this.sleep(delay, sleeper.controller.signal);
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
   * submissions under way finish (a job is either in the store whole or not at all). Nothing is
   * cancelled at the provider. Later calls reject with INVALID_REQUEST (field `jobs`). Idempotent.
   */
  close(): Promise<void> {
    if (this.closing) return this.closing;
    this.closer.abort();
    for (const abort of this.runnerAborts.values()) abort.abort();
    this.closing = Promise.allSettled([...this.inFlight, ...this.runners.values()]).then(() => undefined);
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

  /** One step of progress: reconcile and submit stranded parts, poll submitted ones, save. */
  private async refresh(id: string, options: { poll: boolean; signal?: AbortSignal }): Promise<JobInfo> {
    let { record } = await this.load(id);
    if (terminalStatuses.has(record.status)) return this.info(record);
    if (record.mode === 'online') {
      const stranded = record.parts.some((part) => part.state !== 'done' && this.claimable(part));
      if (stranded && !record.cancelRequested) this.startOnline(id);
      return this.info(record);
    }
    record = await this.advance(id, { throwOnSubmitError: false, signal: options.signal });
    if (!options.poll) return this.info(record);
    const target = this.batchTarget(record);
    for (const part of record.parts) {
      if (part.state !== 'submitted' || terminalStatuses.has(part.status) || !part.providerBatchId) continue;
      const batch = await target.batch!.status(part.providerBatchId, { signal: options.signal ?? neverAborted() });
      record = await this.mutate(id, (current) => {
        const live = current.parts[part.index];
        applyBatch(live, batch);
        live.pollAttempt = (live.pollAttempt ?? 0) + 1;
      });
    }
    const info = this.info(record);
    this.emitEvent('job-progress', progressOf(info));
    return info;
  }

  /** Claims, reconciles and submits every part not yet accepted by the provider. */
  private async advance(id: string, options: { throwOnSubmitError: boolean; signal?: AbortSignal }): Promise<JobRecord> {
    let { record } = await this.load(id);
    for (let index = 0; index < record.parts.length; index++) {
      const part = record.parts[index];
      if (part.state !== 'pending' && part.state !== 'submitting') continue;
      record = await this.submitPart(id, index, options);
    }
    return record;
  }

  private claimable(part: PartRecord): boolean {
    return part.owner === undefined || part.owner === this.ownerId || (part.leaseUntil ?? 0) <= this.now();
  }

  private async submitPart(id: string, index: number, options: { throwOnSubmitError: boolean; signal?: AbortSignal }): Promise<JobRecord> {
    const signal = options.signal ?? neverAborted();
    for (;;) {
      const { record, version } = await this.load(id);
      const part = record.parts[index];
      if (part.state !== 'pending' && part.state !== 'submitting') return record;
      if (record.cancelRequested) {
        return this.mutate(id, (current) => markCancelled(current.parts[index]));
      }
      if (part.state === 'submitting' && !this.claimable(part)) return record;
      const target = this.batchTarget(record);

      // A part claimed before may exist at the provider even though its id was never saved.
      if (part.claims > 0) {
        const found = (await target.batch!.findByMetadata('inferlane_job_id', id, { signal })).find(
          (batch) => batch.metadata?.inferlane_part === String(index),
        );
        if (found) {
          return this.mutate(id, (current) => {
            const live = current.parts[index];
            if (live.state === 'submitted' || live.state === 'done') return false;
            live.providerBatchId = found.id;
            live.state = 'submitted';
            live.submittedAt ??= found.createdAt ?? this.now();
            applyBatch(live, found);
          });
        }
      }

      const claimed: JobRecord = structuredClone(record);
      const claim = claimed.parts[index];
      claim.state = 'submitting';
      claim.status = 'submitting';
      claim.owner = this.ownerId;
      claim.leaseUntil = this.now() + this.leaseMs;
      claim.claims += 1;
      claimed.status = aggregateStatus(claimed);
      const claimVersion = await this.store.compareAndSet(this.recordKey(id), version, JSON.stringify(claimed));
      if (claimVersion === undefined) continue; // another writer moved first; look again

      let batch: ProviderBatch;
      try {
        const batchItems = await this.loadBatchItems(claimed, claim);
        batch = await target.batch!.submit(
          batchItems,
          {
            operation: claimed.operation,
            metadata: { ...claimed.metadata, inferlane_job_id: id, inferlane_part: String(index) },
            completionWindow: claimed.completionWindow,
          },
          { signal },
        );
      } catch (error) {
        const failure = toInferlaneError(error, target.id);
        // Release the claim; `claims` stays raised so the next attempt reconciles first.
        await this.mutate(id, (current) => {
          const live = current.parts[index];
          if (live.owner !== this.ownerId || live.state !== 'submitting') return false;
          live.state = 'pending';
          live.status = 'queued';
          live.owner = undefined;
          live.leaseUntil = undefined;
          live.lastError = `${failure.code}: ${failure.message}`;
        });
        if (options.throwOnSubmitError) {
          throw new JobError(`job ${id} is saved but part ${index} could not be submitted (${failure.message}); jobs.resume() retries it`, {
            target: target.id,
            status: failure.status,
            retryable: failure.retryable,
            cause: failure,
          });
        }
        return (await this.load(id)).record;
      }
      const updated = await this.mutate(id, (current) => {
        const live = current.parts[index];
        if (live.state === 'submitted' || live.state === 'done') return false;
        live.providerBatchId = batch.id;
        live.state = 'submitted';
        live.submittedAt = this.now();
        applyBatch(live, batch);
      });
      if (updated.cancelRequested && updated.parts[index].providerBatchId === batch.id) {
        await this.cancelPart(updated, index, signal);
        return (await this.load(id)).record;
      }
      return updated;
    }
  }

  // ---------------------------------------------------------------- cancel

  async cancel(id: string): Promise<JobInfo> {
    this.throwIfClosed();
    let record = await this.mutate(id, (current) => {
      if (terminalStatuses.has(current.status) || current.cancelRequested) return false;
      current.cancelRequested = true;
    });
    this.runnerAborts.get(id)?.abort();
    for (const part of record.parts) {
      if (part.state === 'pending' || (part.state === 'running' && this.claimable(part) && !this.runners.has(id))) {
        record = await this.mutate(id, (current) => markCancelled(current.parts[part.index]));
      } else if (part.state === 'submitted' && !terminalStatuses.has(part.status)) {
        record = await this.cancelPart(record, part.index, neverAborted());
      }
    }
    const info = this.info(record);
    this.emitEvent('job-progress', progressOf(info));
    return info;
  }

  private async cancelPart(record: JobRecord, index: number, signal: AbortSignal): Promise<JobRecord> {
    const part = record.parts[index];
    const batch = await this.batchTarget(record).batch!.cancel(part.providerBatchId!, { signal });
    return this.mutate(record.id, (current) => applyBatch(current.parts[index], batch));
  }

  // ---------------------------------------------------------------- results

  /**
   * Per-item results, each item exactly once, matched by custom id. Items the provider never
   * answered (an expired, failed or cancelled part) end with their own error. The saved cursor
   * advances when the consumer asks for the next item, and on `break`.
   */
  results(id: string, options: JobResultsOptions = {}): AsyncIterable<JobResult> {
    const self = this;
    return {
      async *[Symbol.asyncIterator]() {
        self.throwIfClosed();
        for await (const entry of self.readResults(id, options, true)) yield entry.public;
      },
    };
  }

  private async *readResults(id: string, options: JobResultsOptions, saveCursor: boolean): AsyncGenerator<{ public: JobResult; raw?: BatchItemResult }> {
    const { record } = await this.load(id);
    if (!terminalStatuses.has(record.status)) {
      throw new JobError(`job ${id} is ${record.status}; results are readable once it has finished (call wait first)`);
    }
    const signal = options.signal ?? neverAborted();
    // A reader that brings its own cursor keeps it; only the saved-cursor reader moves the saved one.
    saveCursor &&= options.cursor === undefined;
    let cursorText = options.cursor;
    if (cursorText === undefined) cursorText = (await this.store.get(this.cursorKey(id)))?.value ?? 'start';
    const cursor = parseCursor(cursorText);
    const target = this.targets.get(record.target);
    let pending: string | undefined;
    let handedOut: string | undefined;
    try {
      for (const part of record.parts) {
        if (part.index < cursor.part) continue;
        const skip = part.index === cursor.part ? cursor.offset : 0;
        const callerIds = await this.loadCallerIds(record, part);
        const seen = new Uint8Array(part.end - part.start);
        let position = 0;
        const stream = this.partResults(record, part, signal);
        for await (const raw of stream) {
          position++;
          const index = customIdIndex(raw.customId);
          if (index === undefined || index < part.start || index >= part.end || seen[index - part.start]) continue;
          seen[index - part.start] = 1;
          if (position <= skip) continue;
          const result = toJobResult(raw, callerIds[index - part.start], `${part.index}:${position}`, target, record.mode, record.operation);
          if (pending !== undefined && saveCursor) await this.store.set(this.cursorKey(id), pending);
          handedOut = result.cursor;
          yield { public: result, raw };
          pending = result.cursor;
        }
        const reason = missingReason(part.status);
        for (let offset = 0; offset < seen.length; offset++) {
          if (seen[offset]) continue;
          position++;
          if (position <= skip) continue;
          const result: JobResult = {
            id: callerIds[offset],
            ok: false,
            error: { code: reason, message: `the ${record.mode === 'batch' ? 'provider batch' : 'job'} ended ${part.status} before this item ran` },
            cursor: `${part.index}:${position}`,
          };
          if (pending !== undefined && saveCursor) await this.store.set(this.cursorKey(id), pending);
          handedOut = result.cursor;
          yield { public: result };
          pending = result.cursor;
        }
      }
    } finally {
      // On completion or `break`, the last item handed out counts as consumed.
      if (saveCursor && handedOut !== undefined) await this.store.set(this.cursorKey(id), handedOut);
    }
  }

  private partResults(record: JobRecord, part: PartRecord, signal: AbortSignal): AsyncIterable<BatchItemResult> {
    if (record.mode === 'online') return this.onlineResults(record.id, part.index);
    if (!part.providerBatchId) return emptyIterable();
    const batch: ProviderBatch = {
      id: part.providerBatchId,
      status: part.status as BatchStatus,
      rawStatus: part.rawStatus ?? part.status,
      counts: part.counts,
      inputFileId: part.inputFileId,
      outputFileId: part.outputFileId,
      errorFileId: part.errorFileId,
    };
    return this.batchTarget(record).batch!.results(batch, { signal });
  }

  private async *onlineResults(id: string, index: number): AsyncGenerator<BatchItemResult> {
    const page = 1000;
    for (let start = 0; ; start += page) {
      const lines = await this.store.range(this.onlineKey(id, index), start, start + page);
      for (const line of lines) yield JSON.parse(line) as BatchItemResult;
      if (lines.length < page) return;
    }
  }

  // ---------------------------------------------------------------- online path

  private startOnline(id: string): void {
    // Closed: the job waits in the store for a worker that runs on.
    if (this.runners.has(id) || this.closer.signal.aborted) return;
    const abort = new AbortController();
    const runner = this.runOnlineJob(id, abort.signal).finally(() => {
      this.runners.delete(id);
      this.runnerAborts.delete(id);
    });
    // A failure is recorded in the store; the waiter sees it there.
    runner.catch(() => {});
    this.runners.set(id, runner);
    this.runnerAborts.set(id, abort);
  }

  private async runOnlineJob(id: string, signal: AbortSignal): Promise<void> {
    for (let index = 0; ; index++) {
      const { record } = await this.load(id);
      if (index >= record.parts.length) return;
      const part = record.parts[index];
      if (part.state === 'done') continue;
      // Closing: the part stays claimed, its lease released by `runOnlinePart`, for a restarted worker.
      if (this.closer.signal.aborted) return;
      if (record.cancelRequested || signal.aborted) {
        await this.mutate(id, (current) => markCancelled(current.parts[index]));
        continue;
      }
      if (!this.claimable(part)) return;
      const claimed = await this.mutate(id, (current) => {
        const live = current.parts[index];
        if (live.state === 'done' || !this.claimable(live)) return false;
        live.state = 'running';
        live.status = 'in_progress';
        live.rawStatus = 'online';
        live.owner = this.ownerId;
        live.leaseUntil = this.now() + this.leaseMs;
        live.claims += 1;
        live.submittedAt ??= this.now();
      });
      if (claimed.parts[index].owner !== this.ownerId || claimed.parts[index].state !== 'running') return;
      await this.runOnlinePart(claimed, index, signal);
    }
  }

  private async runOnlinePart(record: JobRecord, index: number, signal: AbortSignal): Promise<void> {
    const part = record.parts[index];
    const key = this.onlineKey(record.id, index);
    const done = new Set<string>();
    const counts: BatchCounts = { total: part.end - part.start, completed: 0, failed: 0 };
    for await (const previous of this.onlineResults(record.id, index)) {
      if (done.has(previous.customId)) continue;
      done.add(previous.customId);
      if (previous.ok) counts.completed++;
      else counts.failed++;
    }
    const items = await this.loadItems(record, part);
    let next = 0;
    let sinceSave = 0;
    const save = async (final: boolean) => {
      sinceSave = 0;
      const saved = await this.mutate(record.id, (current) => {
        const live = current.parts[index];
        if (live.owner !== this.ownerId) return false;
        live.counts = { ...counts };
        // Closing: the claim ends now, so any worker may take the rest at once (answered items are kept).
        const release = final && this.closer.signal.aborted && !current.cancelRequested;
        live.leaseUntil = release ? this.now() : this.now() + this.leaseMs;
        if (final && !release) {
          live.state = 'done';
          live.status = current.cancelRequested || signal.aborted ? 'cancelled' : 'completed';
          live.rawStatus = 'online';
        }
      });
      this.emitEvent('job-progress', progressOf(this.info(saved)));
      return saved;
    };
    const worker = async () => {
      while (next < items.length && !signal.aborted) {
        const position = next++;
        const itemIndex = part.start + position;
        const customId = customIdOf(itemIndex);
        if (done.has(customId)) continue;
        let result: BatchItemResult;
        try {
          result = Object.assign({}, await this.runItemOnline(record.operation, items[position], record.target, signal), { customId });
        } catch (error) {
          if (signal.aborted) return;
          const failure = toInferlaneError(error, record.target);
          result = { customId, ok: false, error: { code: failure.code, message: failure.message, status: failure.status } };
        }
        // Closing cut this item short: left unanswered, for the worker that takes the part over.
        if (!result.ok && this.closer.signal.aborted) return;
        await this.store.append(key, [JSON.stringify(result)]);
        done.add(customId);
        if (result.ok) counts.completed++;
        else counts.failed++;
        if (++sinceSave >= 100) {
          const saved = await save(false);
          if (saved.cancelRequested) return;
        }
      }
    };
    await Promise.all(Array.from({ length: this.onlineConcurrency }, worker));
    await save(true);
  }

  // ---------------------------------------------------------------- helpers

  private chooseTarget(operation: JobOperation, named: string | undefined): { target: Target; mode: 'batch' | 'online' } {
    const modality: Modality = operation; // a batch operation is named after its modality
    const canOnline = (target: Target) => (operation === 'text' ? !!target.doGenerate : !!target.doEmbed);
    if (named !== undefined) {
      const target = this.targets.get(named);
      if (!target) throw new NoRouteError(`no target named '${named}'`, [], 'NO_ROUTE');
      if (!target.modalities.includes(modality)) {
        throw new NoRouteError(`target '${named}' cannot serve a ${operation} job`, [{ target: named, code: 'modality', reason: `does not serve ${modality}` }]);
      }
      if (target.batch) return { target, mode: 'batch' };
      if (canOnline(target)) return { target, mode: 'online' };
      throw new NoRouteError(`target '${named}' cannot serve a ${operation} job`, [{ target: named, code: 'no-method', reason: `has neither a batch endpoint nor a ${operation} method` }]);
    }
    const rejections: Rejection[] = [];
    const batchTargets: Target[] = [];
    const onlineTargets: Target[] = [];
    for (const target of this.targets.values()) {
      if (!target.modalities.includes(modality)) rejections.push({ target: target.id, code: 'modality', reason: `does not serve ${modality}` });
      else if (target.batch) batchTargets.push(target);
      else if (canOnline(target)) onlineTargets.push(target);
      else rejections.push({ target: target.id, code: 'no-method', reason: `has neither a batch endpoint nor a ${operation} method` });
    }
    const cheapest = (list: Target[], batch: boolean) =>
      list.reduce((best, target) => (unitPrice(target, batch, operation) < unitPrice(best, batch, operation) ? target : best));
    if (batchTargets.length > 0) return { target: cheapest(batchTargets, true), mode: 'batch' };
    if (onlineTargets.length > 0) return { target: cheapest(onlineTargets, false), mode: 'online' };
    throw new NoRouteError(`no target can serve a ${operation} job`, rejections);
  }

  private batchTarget(record: JobRecord): Target {
    const target = this.targets.get(record.target);
    if (!target?.batch) throw new JobError(`job ${record.id} needs target '${record.target}' with a batch endpoint, and this client has none`, { target: record.target });
    return target;
  }

  private async load(id: string): Promise<Loaded> {
    const entry = await this.store.get(this.recordKey(id));
    if (!entry) throw new JobError(`no job with id '${id}' in the store`);
    return { record: JSON.parse(entry.value) as JobRecord, version: entry.version };
  }

  /** Read-modify-write with compare-and-set, retried until it lands. `change` returns false to skip. */
  private async mutate(id: string, change: (record: JobRecord) => boolean | void): Promise<JobRecord> {
    for (;;) {
      const { record, version } = await this.load(id);
      if (change(record) === false) return record;
      const before = record.status;
      record.status = aggregateStatus(record);
      if (terminalStatuses.has(record.status) && !terminalStatuses.has(before)) record.finishedAt = this.now();
      if ((await this.store.compareAndSet(this.recordKey(id), version, JSON.stringify(record))) !== undefined) return record;
    }
  }

  private async loadItems(record: JobRecord, part: PartRecord): Promise<JobItem[]> {
    const first = Math.floor(part.start / record.chunkSize);
    const last = Math.floor((part.end - 1) / record.chunkSize);
    const chunks = await this.store.range(this.itemsKey(record.id), first, last + 1);
    if (chunks.length !== last - first + 1) throw new JobError(`job ${record.id}: stored items are missing (chunks ${first}..${last})`);
    const items: JobItem[] = [];
    for (const chunk of chunks) for (const item of JSON.parse(chunk) as JobItem[]) items.push(item);
    const offset = part.start - first * record.chunkSize;
    return items.slice(offset, offset + (part.end - part.start));
  }

  private async loadBatchItems(record: JobRecord, part: PartRecord): Promise<BatchItem[]> {
    const items = await this.loadItems(record, part);
    return items.map((item, offset) => toBatchItem(item, part.start + offset, record.operation));
  }

  private async loadCallerIds(record: JobRecord, part: PartRecord): Promise<string[]> {
    return (await this.loadItems(record, part)).map((item) => item.id);
  }

  private info(record: JobRecord): JobInfo {
    const counts: BatchCounts = { total: record.itemCount, completed: 0, failed: 0 };
    for (const part of record.parts) {
      counts.completed += part.counts.completed;
      counts.failed += part.counts.failed;
    }
    const started = record.parts.reduce((earliest, part) => Math.min(earliest, part.submittedAt ?? Infinity), Infinity);
    const finished = counts.completed + counts.failed;
    let etaMs: number | undefined;
    if (!terminalStatuses.has(record.status) && finished > 0 && Number.isFinite(started)) {
      etaMs = Math.round(((this.now() - started) / finished) * (counts.total - finished));
    }
    return {
      id: record.id,
      status: record.status,
      target: record.target,
      mode: record.mode,
      operation: record.operation,
      endpoint: record.endpoint,
      counts,
      parts: record.parts.map((part) => ({
        index: part.index,
        items: part.end - part.start,
        status: part.status,
        rawStatus: part.rawStatus,
        providerBatchId: part.providerBatchId,
        counts: { ...part.counts },
      })),
      createdAt: record.createdAt,
      expiresAt: record.expiresAt,
      finishedAt: record.finishedAt,
      metadata: record.metadata,
      cancelRequested: record.cancelRequested ?? false,
      etaMs,
    };
  }

  private recordKey(id: string): string {
    return `${this.prefix}${id}`;
  }
  private itemsKey(id: string): string {
    return `${this.prefix}${id}:items`;
  }
  private cursorKey(id: string): string {
    return `${this.prefix}${id}:cursor`;
  }
  private onlineKey(id: string, part: number): string {
    return `${this.prefix}${id}:online:${part}`;
  }
}

// ------------------------------------------------------------------ pure helpers

function newPart(index: number, start: number, end: number, bytes: number): PartRecord {
  return { index, start, end, bytes, state: 'pending', status: 'queued', claims: 0, counts: { total: end - start, completed: 0, failed: 0 } };
}

function markCancelled(part: PartRecord): boolean | void {
  if (part.state === 'done' || (part.state === 'submitted' && terminalStatuses.has(part.status))) return false;
  if (part.state === 'submitted') return false; // the provider cancels it; its status says when
  part.state = 'done';
  part.status = 'cancelled';
  part.rawStatus = part.rawStatus ?? 'cancelled';
}

function applyBatch(part: PartRecord, batch: ProviderBatch): void {
  part.status = batch.status;
  part.rawStatus = batch.rawStatus;
  part.counts = { total: part.end - part.start, completed: batch.counts.completed, failed: batch.counts.failed };
  part.inputFileId = batch.inputFileId ?? part.inputFileId;
  part.outputFileId = batch.outputFileId ?? part.outputFileId;
  part.errorFileId = batch.errorFileId ?? part.errorFileId;
  if (terminalStatuses.has(batch.status)) part.state = 'done';
}

const stageOrder: JobStatus[] = ['queued', 'submitting', 'validating', 'in_progress', 'finalizing'];

/** The job's status from its parts: the least advanced part while running, the worst outcome at the end. */
export function aggregateStatus(record: JobRecord): JobStatus {
  const statuses = record.parts.map((part) => part.status);
  const allTerminal = statuses.every((status) => terminalStatuses.has(status));
  if (allTerminal) {
    if (statuses.every((status) => status === 'completed')) return 'completed';
    if (record.cancelRequested || statuses.includes('cancelled')) return 'cancelled';
    if (statuses.includes('failed')) return 'failed';
    return 'expired';
  }
  if (record.cancelRequested || statuses.includes('cancelling')) return 'cancelling';
  if (statuses.some((status) => status === 'queued' || status === 'submitting')) {
    return statuses.every((status) => status === 'queued') ? 'queued' : 'submitting';
  }
  let least = stageOrder.length - 1;
  for (const status of statuses) {
    const stage = stageOrder.indexOf(status);
    if (stage >= 0) least = Math.min(least, stage);
  }
  return stageOrder[least];
}

function missingReason(status: JobStatus): string {
  if (status === 'expired' || status === 'cancelled' || status === 'failed') return status;
  return 'missing';
}

function progressOf(info: JobInfo): JobProgressEvent {
  return { job: info.id, status: info.status, counts: { ...info.counts }, etaMs: info.etaMs };
}

/** '24h', '30m', '7d', '90s' to ms. */
export function parseWindow(window: string): number {
  const match = /^(\d+)\s*(s|m|h|d)$/.exec(window);
  if (!match || Number(match[1]) === 0) throw new InvalidRequestError('completionWindow', `must be a positive duration like '24h', '30m', '7d' or '90s'; got '${window.slice(0, 40)}'`);
  const unit = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 }[match[2] as 's' | 'm' | 'h' | 'd'];
  return Number(match[1]) * unit;
}

function packingLimits(target: Target, mode: 'batch' | 'online', onlinePartSize: number): { items: number; bytes: number } {
  if (mode === 'online') return { items: onlinePartSize, bytes: Number.MAX_SAFE_INTEGER };
  const batch = target.batch!;
  let items = Math.max(1, Math.floor(batch.maxItems * limitFraction));
  // Embedding batches are one input per line, so the inputs cap is an items cap.
  if (batch.maxEmbeddingInputs !== undefined) items = Math.min(items, Math.max(1, Math.floor(batch.maxEmbeddingInputs * limitFraction)));
  return { items, bytes: Math.max(1, Math.floor(batch.maxBytes * limitFraction)) };
}

export function customIdOf(index: number): string {
  return `r${index}`;
}

function customIdIndex(customId: string): number | undefined {
  if (!/^r\d+$/.test(customId)) return undefined;
  return Number(customId.slice(1));
}

function parseCursor(cursor: string): { part: number; offset: number } {
  if (cursor === 'start') return { part: 0, offset: 0 };
  const match = /^(\d+):(\d+)$/.exec(cursor);
  if (!match) throw new InvalidRequestError('cursor', "must be 'start' or a cursor from an earlier result");
  return { part: Number(match[1]), offset: Number(match[2]) };
}

export function toTextCall(item: JobItem): TextCall {
  const messages: Message[] = [];
  if (item.system !== undefined) messages.push({ role: 'system', content: item.system });
  if (item.messages) messages.push(...item.messages);
  else if (item.prompt !== undefined) messages.push({ role: 'user', content: item.prompt });
  const call: TextCall = { messages };
  if (item.maxOutputTokens !== undefined) call.maxOutputTokens = item.maxOutputTokens;
  if (item.temperature !== undefined) call.temperature = item.temperature;
  if (item.topP !== undefined) call.topP = item.topP;
  if (item.stop !== undefined) call.stop = item.stop;
  if (item.seed !== undefined) call.seed = item.seed;
  if (item.providerOptions !== undefined) call.providerOptions = item.providerOptions;
  return call;
}

function toBatchItem(item: JobItem, index: number, operation: JobOperation): BatchItem {
  return operation === 'embedding'
    ? { customId: customIdOf(index), operation, input: item.input, ...(item.dimensions !== undefined && { dimensions: item.dimensions }) }
    : { customId: customIdOf(index), operation, call: toTextCall(item) };
}

function toJobResult(raw: BatchItemResult, id: string, cursor: string, target: Target | undefined, mode: 'batch' | 'online', operation: JobOperation): JobResult {
  if (!raw.ok) return { id, ok: false, error: { ...raw.error }, cursor };
  const usage = raw.usage ?? raw.text?.usage;
  const result: JobResult['result'] = { usage };
  if (raw.text) {
    result.text = raw.text.text;
    result.finishReason = raw.text.finishReason;
  }
  if (raw.embedding) result.embedding = raw.embedding;
  return { id, ok: true, result, costUsd: itemCost(target, usage, mode, operation), cursor };
}

function itemCost(target: Target | undefined, usage: Usage | undefined, mode: 'batch' | 'online', operation: JobOperation): number | undefined {
  if (!usage) return undefined;
  return costOf(target?.cost, usage, operation, mode === 'batch' ? (target?.batch?.priceMultiplier ?? 1) : 1);
}

/** Price of a typical item (1,000 input and 250 output tokens) for choosing the cheapest target. */
function unitPrice(target: Target, batch: boolean, operation: JobOperation): number {
  return costOf(target.cost, { inputTokens: 1000, outputTokens: 250 }, operation, batch ? (target.batch?.priceMultiplier ?? 1) : 1) ?? Number.MAX_VALUE;
}

function jsonBytes(value: unknown): number {
  return new TextEncoder().encode(JSON.stringify(value)).length;
}

function randomId(random: () => number): string {
  let text = '';
  for (let index = 0; index < 10; index++) text += Math.floor(random() * 36).toString(36);
  return text;
}

/** 64-bit FNV-1a over UTF-16 code units, as two 32-bit halves; pure, runs everywhere. */
class Fnv {
  private high = 0xcbf29ce4;
  private low = 0x84222325;
  update(text: string): void {
    for (let index = 0; index < text.length; index++) {
      this.low ^= text.charCodeAt(index);
      // Multiply by the 64-bit FNV prime 0x100000001b3 in 16-bit limbs.
      const lowLow = this.low & 0xffff;
      const lowHigh = this.low >>> 16;
      const a = lowLow * 0x1b3;
      const b = lowHigh * 0x1b3 + (a >>> 16);
      const newLow = ((b & 0xffff) << 16) | (a & 0xffff);
      const carry = b >>> 16;
      this.high = (Math.imul(this.high, 0x1b3) + (this.low << 8) + carry) >>> 0;
      this.low = newLow >>> 0;
    }
  }
  digest(): string {
    return this.high.toString(16).padStart(8, '0') + this.low.toString(16).padStart(8, '0');
  }
}

/** The error of a wait that the client's `close()` ended: the job itself goes on. */
function closedWhileWaiting(id: string): AbortedError {
  return new AbortedError(`the client closed while waiting for job ${id}; the job goes on at the provider and stays in the store (jobs.get('${id}'), jobs.resume() after a restart)`);
}

/** A signal that never aborts, fresh per call so listeners added by clients do not pile up on one. */
const neverAborted = (): AbortSignal => new AbortController().signal;

function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new AbortedError();
}

async function* emptyIterable<T>(): AsyncGenerator<T> {}

/** The jobs' poll wait: the one sleep, rejecting with AbortedError when its signal aborts. */
function defaultSleep(ms: number, signal?: AbortSignal): Promise<void> {
  // Not unref'd: someone awaits this wait (a script calling `jobs.wait()` must not exit mid-poll).
  return sleep(ms, signal).catch(() => {
    throw new AbortedError();
  });
}
