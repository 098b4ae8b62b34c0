/**
 * The jobs' own checks: `jobs.submit` items and options, `jobs.wait` options, and the client's
 * `jobs` settings. Every item is checked as `generate` or `embed` would check the same call, so a
 * bad item fails here, before anything is stored or uploaded.
 *
 * Imports: errors, validation primitives, the jobs' types.
 */
import { InvalidRequestError } from '../errors.js';
import { describe, isObject, nonNegativeNumber, section } from '../validation/checks.js';
import { validateProviderOptions, validateSampling, validateText } from '../validation/text-call.js';
import { validateJobsSettings as validateJobsOwnSettings } from './jobs/options.js';
import type { JobItem, JobOperation, JobSubmitOptions, JobWaitOptions } from './jobs/types.js';

/** `jobs.submit`: the items (one operation per job, inferred from the first item when not given) and the options. Returns the job's operation. */
export function validateJobSubmit(items: unknown, options: JobSubmitOptions): JobOperation {
  if (!isObject(options)) throw new InvalidRequestError('options', 'must be an object');
  const operation = options.operation;
  if (operation !== undefined && operation !== 'text' && operation !== 'embedding') {
    throw new InvalidRequestError('operation', `must be 'text' or 'embedding'; got ${describe(operation)}`);
  }
  if (options.target !== undefined && (typeof options.target !== 'string' || options.target === '')) throw new InvalidRequestError('target', `must be a target id; got ${describe(options.target)}`);
  if (options.completionWindow !== undefined && typeof options.completionWindow !== 'string') {
    throw new InvalidRequestError('completionWindow', `must look like '24h', '30m', '7d' or '90s'; got ${describe(options.completionWindow)}`);
  }
  validateJobMetadata(options.metadata);
  if (!Array.isArray(items) || items.length === 0) throw new InvalidRequestError('items', `must be a non-empty array; got ${Array.isArray(items) ? 'an empty array' : describe(items)}`);
  const ids = new Set<string>();
  let inferred: JobOperation | undefined = operation;
  for (let index = 0; index < items.length; index++) {
    const item: unknown = items[index];
    const field = `items[${index}]`;
    if (!isObject(item)) throw new InvalidRequestError(field, `must be an object; got ${describe(item)}`);
    const { id } = item as Partial<JobItem>;
    if (typeof id !== 'string' || id.length === 0) throw new InvalidRequestError(`${field}.id`, `must be a non-empty string; got ${describe(id)}`);
    if (ids.has(id)) throw new InvalidRequestError(`${field}.id`, `duplicates an earlier item's id ('${id}')`);
    ids.add(id);
    const kind: JobOperation = item.input !== undefined ? 'embedding' : 'text';
    inferred ??= kind;
    if (kind !== inferred) throw new InvalidRequestError(field, `is ${kind === 'text' ? 'a text' : 'an embedding'} item in ${inferred === 'text' ? 'a text' : 'an embedding'} job; one job holds one operation`);
    if (kind === 'embedding') {
      if (typeof item.input !== 'string') throw new InvalidRequestError(`${field}.input`, `must be a string; got ${describe(item.input)}`);
      nonNegativeNumber(item.dimensions, `${field}.dimensions`, { integer: true, positive: true });
    } else validateJobTextItem(item as Partial<JobItem>, field);
  }
  return inferred!;
}

function validateJobTextItem(item: Partial<JobItem>, field: string): void {
  validateText(item, `${field}.`);
  validateSampling(item, `${field}.`);
  validateProviderOptions(item.providerOptions, `${field}.providerOptions`);
}

function validateJobMetadata(metadata: unknown): void {
  if (metadata === undefined) return;
  if (!isObject(metadata)) throw new InvalidRequestError('metadata', `must be an object of string values; got ${describe(metadata)}`);
  const entries = Object.entries(metadata);
  // OpenAI allows 16 metadata pairs per batch, keys up to 64 characters and values up to 512; two pairs carry the job id and part.
  if (entries.length > 14) throw new InvalidRequestError('metadata', `holds at most 14 pairs (the provider allows 16; inferlane uses 2); got ${entries.length}`);
  for (const [key, value] of entries) {
    if (key.startsWith('inferlane_')) throw new InvalidRequestError(`metadata.${key}`, "keys starting with 'inferlane_' are reserved");
    if (key.length > 64) throw new InvalidRequestError(`metadata.${key.slice(0, 20)}…`, `keys hold at most 64 characters; this one has ${key.length}`);
    if (typeof value !== 'string') throw new InvalidRequestError(`metadata.${key}`, `must be a string; got ${describe(value)}`);
    if (value.length > 512) throw new InvalidRequestError(`metadata.${key}`, `holds at most 512 characters; got ${value.length}`);
  }
}

/** `jobs.wait`: poll intervals must be positive (a NaN or zero interval would poll without pause). */
export function validateJobWait(options: JobWaitOptions): void {
  if (!isObject(options)) throw new InvalidRequestError('options', 'must be an object');
  nonNegativeNumber(options.pollIntervalMs, 'pollIntervalMs', { positive: true });
  nonNegativeNumber(options.maxPollIntervalMs, 'maxPollIntervalMs', { positive: true });
  if (options.onProgress !== undefined && typeof options.onProgress !== 'function') throw new InvalidRequestError('onProgress', 'must be a function');
}

/**
 * The client's `jobs` settings (`field` names where they were given, `jobs` by default): the
 * jobs' own settings, checked by the jobs (unknown names refused), and the coalescing window.
 */
export function validateJobsSettings(value: unknown, field = 'jobs'): void {
  const jobs = section(value, field);
  if (!jobs) return;
  validateJobsOwnSettings(jobs, { field, allow: ['coalesceMs', 'maxCoalescedItems'] });
  nonNegativeNumber(jobs.coalesceMs, `${field}.coalesceMs`);
  nonNegativeNumber(jobs.maxCoalescedItems, `${field}.maxCoalescedItems`, { integer: true, positive: true });
}
