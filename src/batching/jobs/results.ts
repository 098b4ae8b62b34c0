/**
 * Results of a finished job, each item exactly once, matched by custom id (never by order),
 * with the saved cursor: a reader that crashed continues where it stopped. Items the provider
 * never answered (an expired, failed or cancelled part) end with their own error.
 *
 * Cursor `<part>:<position>`: the position counts the part's results in the order they are read
 * (the provider's files, then the unanswered items), so a cursor stays valid across readers.
 *
 * Imports: cost.ts, errors.ts, target.ts (types), ./job-store, ./packing, ./status, ./types.
 */
import { costOf } from '../../cost.js';
import { InvalidRequestError, JobError } from '../../errors.js';
import type { BatchItemResult, BatchStatus, ProviderBatch, Target, Usage } from '../../target.js';
import type { JobStore } from './job-store.js';
import { customIdIndex } from './packing.js';
import { missingReason } from './status.js';
import { terminalStatuses, type JobOperation, type JobRecord, type JobResult, type JobResultsOptions, type PartRecord } from './types.js';

export interface ResultSources {
  store: JobStore;
  /** Throws when reading is no longer allowed (the jobs closed); checked when the reading starts. */
  ensureOpen(): void;
  /** The record's target, if this client has it (for prices). */
  target(record: JobRecord): Target | undefined;
  /** A batch part's results from the provider's files. */
  batchResults(record: JobRecord, batch: ProviderBatch, signal: AbortSignal): AsyncIterable<BatchItemResult>;
  /** An online part's stored answers. */
  onlineResults(id: string, index: number): AsyncIterable<BatchItemResult>;
}

/**
 * Reads the results from `options.cursor` (else the saved one). With `saveCursor`, the saved
 * cursor advances when the consumer asks for the next item, and on `break`; a reader that
 * brings its own cursor never moves the saved one. `onRaw` sees the provider's own result of
 * each item as it is handed out (undefined for an item it never answered).
 */
export async function* readResults(
  sources: ResultSources,
  id: string,
  options: JobResultsOptions,
  saveCursor: boolean,
  onRaw?: (result: JobResult, raw: BatchItemResult | undefined) => void,
): AsyncGenerator<JobResult> {
  sources.ensureOpen();
  const { store } = sources;
  const { record } = await store.load(id);
  if (!terminalStatuses.has(record.status)) {
    throw new JobError(`job ${id} is ${record.status}; results are readable once it has finished (call wait first)`);
  }
  const signal = options.signal ?? new AbortController().signal;
  saveCursor &&= options.cursor === undefined;
  const cursor = parseCursor(options.cursor ?? (await store.cursor(id)) ?? 'start');
  const target = sources.target(record);
  let pending: string | undefined;
  let handedOut: string | undefined;
  try {
    for (const part of record.parts) {
      if (part.index < cursor.part) continue;
      const skip = part.index === cursor.part ? cursor.offset : 0;
      const callerIds = await store.loadCallerIds(record, part);
      const seen = new Uint8Array(part.end - part.start);
      let position = 0;
      for await (const raw of partResults(sources, record, part, signal)) {
        position++;
        const index = customIdIndex(raw.customId);
        if (index === undefined || index < part.start || index >= part.end || seen[index - part.start]) continue;
        seen[index - part.start] = 1;
        if (position <= skip) continue;
        const result = toJobResult(raw, callerIds[index - part.start], `${part.index}:${position}`, target, record.mode, record.operation);
        if (pending !== undefined && saveCursor) await store.saveCursor(id, pending);
        handedOut = result.cursor;
        onRaw?.(result, raw);
        yield result;
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
        if (pending !== undefined && saveCursor) await store.saveCursor(id, pending);
        handedOut = result.cursor;
        onRaw?.(result, undefined);
        yield result;
        pending = result.cursor;
      }
    }
  } finally {
    // On completion or `break`, the last item handed out counts as consumed.
    if (saveCursor && handedOut !== undefined) await store.saveCursor(id, handedOut);
  }
}

function partResults(sources: ResultSources, record: JobRecord, part: PartRecord, signal: AbortSignal): AsyncIterable<BatchItemResult> {
  if (record.mode === 'online') return sources.onlineResults(record.id, part.index);
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
  return sources.batchResults(record, batch, signal);
}

function parseCursor(cursor: string): { part: number; offset: number } {
  if (cursor === 'start') return { part: 0, offset: 0 };
  const match = /^(\d+):(\d+)$/.exec(cursor);
  if (!match) throw new InvalidRequestError('cursor', "must be 'start' or a cursor from an earlier result");
  return { part: Number(match[1]), offset: Number(match[2]) };
}

function toJobResult(raw: BatchItemResult, id: string, cursor: string, target: Target | undefined, mode: 'batch' | 'online', operation: JobOperation): JobResult {
  if (!raw.ok) return { id, ok: false, error: Object.assign({}, raw.error), cursor };
  const usage = raw.usage ?? raw.text?.usage;
  // One literal per shape (once per item on a path of 50,000): no fields added after creation.
  const result: JobResult['result'] = raw.text
    ? { usage, text: raw.text.text, finishReason: raw.text.finishReason }
    : raw.embedding
      ? { usage, embedding: raw.embedding }
      : { usage };
  if (raw.text && raw.embedding) result.embedding = raw.embedding;
  return { id, ok: true, result, costUsd: itemCost(target, usage, mode, operation), cursor };
}

function itemCost(target: Target | undefined, usage: Usage | undefined, mode: 'batch' | 'online', operation: JobOperation): number | undefined {
  if (!usage) return undefined;
  return costOf(target?.cost, usage, operation, mode === 'batch' ? (target?.batch?.priceMultiplier ?? 1) : 1);
}

async function* emptyIterable<T>(): AsyncGenerator<T> {}
