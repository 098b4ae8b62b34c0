/**
 * Part submission: claim a part, reconcile it with the provider, submit it, cancel it. Two
 * processes never submit the same part: a claim is a compare-and-set on the record with an
 * owner and a lease, renewed by a heartbeat while the upload runs, and checked again right
 * before the irrevocable step (creating the provider batch), so a worker paused past its lease
 * gives the part up instead of creating a second batch. A part claimed before is first looked
 * up at the provider by its `inferlane_job_id` / `inferlane_part` metadata.
 *
 * Imports: errors.ts, target.ts (types), time/ (Clock, childController), ./claims, ./heartbeat,
 * ./job-store, ./packing, ./schedule, ./status, ./types.
 */
import { JobError, toInferlaneError } from '../../errors.js';
import type { BatchItem, ProviderBatch, Target } from '../../target.js';
import { childController } from '../../time/child-controller.js';
import type { Clock } from '../../time/clock.js';
import { isClaimable, renewClaim } from './claims.js';
import { Heartbeat } from './heartbeat.js';
import type { JobStore } from './job-store.js';
import { toBatchItem } from './packing.js';
import { nextStart, parseWindow } from './schedule.js';
import { aggregateStatus, applyBatch, markCancelled } from './status.js';
import type { JobRecord, PartRecord } from './types.js';

export interface PartSubmissionOptions {
  store: JobStore;
  clock: Clock;
  ownerId: string;
  leaseMs: number;
  heartbeatMs: number;
  /** The record's target, with its batch endpoint (JobError when this client has none). */
  batchTarget(record: JobRecord): Target;
}

export interface AdvanceOptions {
  /** A part the provider refused: reject (submit) or leave it pending for the next resume (polls). */
  throwOnSubmitError: boolean;
  signal?: AbortSignal;
  /** The job's batch items, when this process has just packed them: not read back from the store. */
  items?: readonly BatchItem[];
}

export class PartSubmission {
  /** Parts this process is submitting now (`<job>:<part>`): never claimed twice from within. */
  private readonly working = new Set<string>();

  constructor(private readonly options: PartSubmissionOptions) {}

  /** Whether this worker may claim the part now (never one this process is submitting). */
  claimable(part: PartRecord, id: string): boolean {
    return !this.working.has(`${id}:${part.index}`) && isClaimable(part, this.options.ownerId, this.options.clock.now());
  }

  /** Claims, reconciles and submits every part the provider has not accepted yet, while the job's schedule allows. */
  async advance(id: string, options: AdvanceOptions): Promise<JobRecord> {
    let { record } = await this.options.store.load(id);
    for (let index = 0; index < record.parts.length; index++) {
      const part = record.parts[index];
      if (part.state !== 'pending' && part.state !== 'submitting') continue;
      record = await this.submitPart(id, index, options);
    }
    return record;
  }

  /** Extends this worker's claim on a part being submitted; false when it is no longer ours. */
  renew(id: string, index: number): Promise<boolean> {
    const { store, clock, ownerId, leaseMs } = this.options;
    return renewClaim(store, id, index, 'submitting', ownerId, clock.now() + leaseMs);
  }

  async cancelPart(record: JobRecord, index: number, signal: AbortSignal): Promise<JobRecord> {
    const part = record.parts[index];
    const batch = await this.options.batchTarget(record).batch!.cancel(part.providerBatchId!, { signal });
    return this.options.store.mutate(record.id, (current) => applyBatch(current.parts[index], batch));
  }

  private async submitPart(id: string, index: number, options: AdvanceOptions): Promise<JobRecord> {
    const { store, clock } = this.options;
    const signal = options.signal ?? neverAborted();
    for (;;) {
      const { record, version } = await store.load(id);
      const part = record.parts[index];
      if (part.state !== 'pending' && part.state !== 'submitting') return record;
      if (record.cancelRequested) return store.mutate(id, (current) => markCancelled(current.parts[index]));
      // Scheduled: no new claim before the window opens (a claim made inside it may finish after).
      if (record.schedule && nextStart(record.schedule, clock.now()) > clock.now()) return record;
      if (part.state === 'submitting' && !this.claimable(part, id)) return record;
      const target = this.options.batchTarget(record);

      // A part claimed before may exist at the provider even though its id was never saved.
      if (part.claims > 0) {
        const found = (await target.batch!.findByMetadata('inferlane_job_id', id, { signal })).find((batch) => batch.metadata?.inferlane_part === String(index));
        if (found) return this.adopt(id, index, found);
      }

      const claimed: JobRecord = structuredClone(record);
      const claim = claimed.parts[index];
      claim.state = 'submitting';
      claim.status = 'submitting';
      claim.owner = this.options.ownerId;
      claim.leaseUntil = clock.now() + this.options.leaseMs;
      claim.claims += 1;
      // A scheduled job's completion window runs from its submission, not from when it was saved.
      if (record.schedule) claimed.expiresAt = Math.max(claimed.expiresAt, clock.now() + parseWindow(claimed.completionWindow));
      claimed.status = aggregateStatus(claimed);
      if ((await store.replace(claimed, version)) === undefined) continue; // another writer moved first; look again

      const outcome = await this.upload(claimed, claim, target, options, signal);
      if (outcome.lost) return (await store.load(id)).record; // the part is another worker's now
      if (outcome.error !== undefined) return this.release(id, index, target, outcome.error, options.throwOnSubmitError);
      return this.saveBatch(id, index, outcome.batch!, target, signal);
    }
  }

  /** Uploads and creates the provider batch under a heartbeat; reports a lost claim apart from a failure. */
  private async upload(record: JobRecord, part: PartRecord, target: Target, options: AdvanceOptions, signal: AbortSignal): Promise<{ batch?: ProviderBatch; error?: unknown; lost: boolean }> {
    const key = `${record.id}:${part.index}`;
    this.working.add(key);
    const heartbeat = new Heartbeat(() => this.renew(record.id, part.index), this.options.heartbeatMs, this.options.clock, `job ${record.id} part ${part.index}`);
    const link = childController(signal, heartbeat.signal);
    let lost = false;
    // The last check before the irrevocable step: renewing proves nobody took the part over.
    const confirm = async () => {
      if (await this.renew(record.id, part.index)) return;
      lost = true;
      throw new JobError(`job ${record.id} part ${part.index}: another worker took the claim over while this one was paused; no second provider batch is created`);
    };
    try {
      const items = options.items ? options.items.slice(part.start, part.end) : await this.loadBatchItems(record, part);
      await confirm();
      const batch = await target.batch!.submit(
        items,
        { operation: record.operation, metadata: { ...record.metadata, inferlane_job_id: record.id, inferlane_part: String(part.index) }, completionWindow: record.completionWindow },
        { signal: link.controller.signal, beforeCreate: confirm },
      );
      return { batch, lost: false };
    } catch (error) {
      return { error, lost: lost || heartbeat.lost };
    } finally {
      heartbeat.stop();
      link.release();
      this.working.delete(key);
    }
  }

  /** A refused submission: the claim is released; `claims` stays raised so the next attempt reconciles first. */
  private async release(id: string, index: number, target: Target, error: unknown, throwOnSubmitError: boolean): Promise<JobRecord> {
    const failure = toInferlaneError(error, target.id);
    await this.options.store.mutate(id, (current) => {
      const live = current.parts[index];
      if (live.owner !== this.options.ownerId || live.state !== 'submitting') return false;
      live.state = 'pending';
      live.status = 'queued';
      live.owner = undefined;
      live.leaseUntil = undefined;
      live.lastError = `${failure.code}: ${failure.message}`;
    });
    if (throwOnSubmitError) {
      throw new JobError(`job ${id} is saved but part ${index} could not be submitted (${failure.message}); jobs.resume() retries it`, {
        target: target.id,
        status: failure.status,
        retryable: failure.retryable,
        cause: failure,
      });
    }
    return (await this.options.store.load(id)).record;
  }

  /** Saves the provider's batch id; a batch created while another worker already saved one for the part is cancelled (never read). */
  private async saveBatch(id: string, index: number, batch: ProviderBatch, target: Target, signal: AbortSignal): Promise<JobRecord> {
    const updated = await this.adopt(id, index, batch, this.options.clock.now());
    const saved = updated.parts[index].providerBatchId;
    if (saved !== batch.id) {
      await target.batch!.cancel(batch.id, { signal }).catch(() => {});
      return updated;
    }
    if (updated.cancelRequested) {
      await this.cancelPart(updated, index, signal);
      return (await this.options.store.load(id)).record;
    }
    return updated;
  }

  /** Records `batch` as the part's provider batch, unless the part already has one. */
  private adopt(id: string, index: number, batch: ProviderBatch, submittedAt?: number): Promise<JobRecord> {
    return this.options.store.mutate(id, (current) => {
      const live = current.parts[index];
      if (live.state === 'submitted' || live.state === 'done') return false;
      live.providerBatchId = batch.id;
      live.state = 'submitted';
      live.submittedAt = submittedAt ?? live.submittedAt ?? batch.createdAt ?? this.options.clock.now();
      applyBatch(live, batch);
    });
  }

  private async loadBatchItems(record: JobRecord, part: PartRecord): Promise<BatchItem[]> {
    const items = await this.options.store.loadItems(record, part);
    return items.map((item, offset) => toBatchItem(item, part.start + offset, record.operation));
  }
}

/** A signal that never aborts, fresh per call so listeners added by clients do not pile up on one. */
export const neverAborted = (): AbortSignal => new AbortController().signal;
