/**
 * Pure status of a job: a part's state from its provider batch, the job's status from its
 * parts, the public `JobInfo` view of a record and the progress it reports. No I/O, no clock of
 * its own (`now` comes in).
 *
 * Imports: target.ts (types), ./schedule, ./types.
 */
import type { BatchCounts, ProviderBatch } from '../../target.js';
import { nextStart } from './schedule.js';
import { terminalStatuses, type JobInfo, type JobProgressEvent, type JobRecord, type JobStatus, type PartRecord } from './types.js';

export function newPart(index: number, start: number, end: number, bytes: number): PartRecord {
  return { index, start, end, bytes, state: 'pending', status: 'queued', claims: 0, counts: { total: end - start, completed: 0, failed: 0 } };
}

/** Ends a part that the provider does not hold; false (no change) when it is done or the provider must cancel it. */
export function markCancelled(part: PartRecord): boolean | void {
  if (part.state === 'done' || (part.state === 'submitted' && terminalStatuses.has(part.status))) return false;
  if (part.state === 'submitted') return false; // the provider cancels it; its status says when
  part.state = 'done';
  part.status = 'cancelled';
  part.rawStatus = part.rawStatus ?? 'cancelled';
}

export function applyBatch(part: PartRecord, batch: ProviderBatch): void {
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

/** The error code of an item its part never answered. */
export function missingReason(status: JobStatus): string {
  if (status === 'expired' || status === 'cancelled' || status === 'failed') return status;
  return 'missing';
}

/** A job that nothing was sent for yet and whose schedule has not opened: when it opens. */
export function scheduledStart(record: JobRecord, now: number): number | undefined {
  if (!record.schedule || record.status !== 'queued' || record.cancelRequested) return undefined;
  const startsAt = nextStart(record.schedule, now);
  return startsAt > now ? startsAt : undefined;
}

export function jobInfo(record: JobRecord, now: number): JobInfo {
  const counts: BatchCounts = { total: record.itemCount, completed: 0, failed: 0 };
  for (const part of record.parts) {
    counts.completed += part.counts.completed;
    counts.failed += part.counts.failed;
  }
  const started = record.parts.reduce((earliest, part) => Math.min(earliest, part.submittedAt ?? Infinity), Infinity);
  const finished = counts.completed + counts.failed;
  let etaMs: number | undefined;
  if (!terminalStatuses.has(record.status) && finished > 0 && Number.isFinite(started)) {
    etaMs = Math.round(((now - started) / finished) * (counts.total - finished));
  }
  const startsAt = scheduledStart(record, now);
  const info: JobInfo = {
    id: record.id,
    status: startsAt === undefined ? record.status : 'scheduled',
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
  if (startsAt !== undefined) info.startsAt = startsAt;
  if (record.schedule) info.schedule = record.schedule;
  return info;
}

export function progressOf(info: JobInfo): JobProgressEvent {
  const progress: JobProgressEvent = { job: info.id, status: info.status, counts: { ...info.counts }, etaMs: info.etaMs };
  if (info.startsAt !== undefined) progress.startsAt = info.startsAt;
  return progress;
}

/** What makes two progress reports the same for `onProgress` and `job-progress` (the ETA alone changes on every poll). */
export function progressKey(progress: JobProgressEvent): string {
  return `${progress.status} ${progress.counts.completed} ${progress.counts.failed} ${progress.startsAt ?? ''}`;
}
