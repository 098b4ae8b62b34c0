/**
 * The options of `new Jobs(...)`: the settings a user gives (`createClient({ jobs: {...} })`,
 * documented in docs/jobs.md), the wiring the client gives, their defaults, and their checks.
 * A bad or unknown setting is an InvalidRequestError naming it (`jobs.leaseMs`).
 *
 * Imports: errors.ts, stores/store.ts, target.ts, time/clock.ts (types), ./types.
 */
import { InvalidRequestError } from '../../errors.js';
import type { KeyValueStore } from '../../stores/store.js';
import type { Target } from '../../target.js';
import { type Clock, systemClock } from '../../time/clock.js';
import type { JobProgressEvent, RunOnline } from './types.js';

/** What a user may set for jobs (the client passes them through as `createClient({ jobs })`). */
export interface JobsSettings {
  /**
   * How long a claim on a part holds without renewal, ms. The worker renews it every third of
   * this while it uploads or runs the part, so a killed worker's part is taken over this long
   * after its last renewal. @default 10_000
   */
  leaseMs?: number;
  /**
   * This worker's name in claims. A restarted worker with the same name takes its own claims
   * back at once; two live workers must never share one. @default a random id per process
   */
  ownerId?: string;
  /** First poll interval of `wait()`, ms; grows 1.5x per poll, +-20% jitter. @default 2_000 */
  pollIntervalMs?: number;
  /** Longest poll interval of `wait()`, ms. @default 300_000 */
  maxPollIntervalMs?: number;
  /** Items in flight at once on the online path (a target without a batch endpoint). @default 2 */
  onlineConcurrency?: number;
  /** Items per stored chunk (one store list entry each). @default 1_000 */
  chunkSize?: number;
  /** Items per part on the online path. @default 10_000 */
  onlinePartSize?: number;
  /** Store key prefix of job records. @default 'jobs:' */
  keyPrefix?: string;
}

export interface JobsOptions extends JobsSettings {
  store: KeyValueStore;
  targets: Target[];
  emit(event: 'job-progress', payload: JobProgressEvent): void;
  /** Runs one item through the client's executor; used when the target has no batch endpoint. */
  runOnline: RunOnline;
  /** Time for polls, leases, heartbeats and windows. @default systemClock */
  clock?: Clock;
  /** Jitter and ids. @default Math.random */
  random?: () => number;
}

/** The names of `JobsSettings`, for a client that checks its `jobs` section. */
export const jobsSettingNames = ['leaseMs', 'ownerId', 'pollIntervalMs', 'maxPollIntervalMs', 'onlineConcurrency', 'chunkSize', 'onlinePartSize', 'keyPrefix'] as const;

const wiringNames = ['store', 'targets', 'emit', 'runOnline', 'clock', 'random'];

export interface ResolvedJobsOptions {
  store: KeyValueStore;
  targets: Target[];
  emit: JobsOptions['emit'];
  runOnline: RunOnline;
  clock: Clock;
  random: () => number;
  leaseMs: number;
  /** Renewal period of a held claim: a third of the lease, so two renewals may fail before it lapses. */
  heartbeatMs: number;
  ownerId: string;
  pollIntervalMs: number;
  maxPollIntervalMs: number;
  onlineConcurrency: number;
  chunkSize: number;
  onlinePartSize: number;
  keyPrefix: string;
}

/** Checks `options` (naming the field as `jobs.<name>`) and fills the defaults. */
export function resolveJobsOptions(options: JobsOptions): ResolvedJobsOptions {
  validateJobsSettings(options as unknown as Record<string, unknown>, { allow: wiringNames });
  const clock = options.clock ?? systemClock;
  if (!['now', 'setTimeout', 'clearTimeout'].every((name) => typeof (clock as unknown as Record<string, unknown>)[name] === 'function')) {
    throw new InvalidRequestError('jobs.clock', 'must have now, setTimeout and clearTimeout');
  }
  const random = options.random ?? Math.random;
  const leaseMs = options.leaseMs ?? 10_000;
  const pollIntervalMs = options.pollIntervalMs ?? 2_000;
  return {
    store: options.store,
    targets: options.targets,
    emit: options.emit,
    runOnline: options.runOnline,
    clock,
    random,
    leaseMs,
    heartbeatMs: Math.max(1, Math.floor(leaseMs / 3)),
    ownerId: options.ownerId ?? `worker-${randomId(random)}`,
    pollIntervalMs,
    maxPollIntervalMs: Math.max(pollIntervalMs, options.maxPollIntervalMs ?? 300_000),
    onlineConcurrency: options.onlineConcurrency ?? 2,
    chunkSize: options.chunkSize ?? 1000,
    onlinePartSize: options.onlinePartSize ?? 10_000,
    keyPrefix: options.keyPrefix ?? 'jobs:',
  };
}

/**
 * Checks user settings for jobs: each is typed and in range, and no name is unknown (a typo
 * must not be silently ignored). `allow` lists further names the caller handles itself.
 */
export function validateJobsSettings(settings: Record<string, unknown>, options: { field?: string; allow?: readonly string[] } = {}): void {
  const field = options.field ?? 'jobs';
  if (typeof settings !== 'object' || settings === null || Array.isArray(settings)) throw new InvalidRequestError(field, 'must be an object');
  const known = new Set<string>([...jobsSettingNames, ...(options.allow ?? [])]);
  for (const name of Object.keys(settings)) {
    if (!known.has(name)) throw new InvalidRequestError(`${field}.${name}`, `is not a jobs option (${[...jobsSettingNames, ...(options.allow ?? [])].join(', ')})`);
  }
  for (const name of ['leaseMs', 'pollIntervalMs', 'maxPollIntervalMs'] as const) positive(settings[name], `${field}.${name}`, false);
  for (const name of ['onlineConcurrency', 'chunkSize', 'onlinePartSize'] as const) positive(settings[name], `${field}.${name}`, true);
  for (const name of ['ownerId', 'keyPrefix'] as const) {
    const value = settings[name];
    if (value !== undefined && (typeof value !== 'string' || (name === 'ownerId' && value === ''))) {
      throw new InvalidRequestError(`${field}.${name}`, `must be a ${name === 'ownerId' ? 'non-empty ' : ''}string; got ${typeof value}`);
    }
  }
}

function positive(value: unknown, field: string, integer: boolean): void {
  if (value === undefined) return;
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0 || (integer && !Number.isInteger(value))) {
    throw new InvalidRequestError(field, `must be a positive ${integer ? 'integer' : 'number of ms'}; got ${typeof value === 'number' ? value : typeof value}`);
  }
}

export function randomId(random: () => number): string {
  let text = '';
  for (let index = 0; index < 10; index++) text += Math.floor(random() * 36).toString(36);
  return text;
}
