/**
 * Public shapes of deferred jobs (DESIGN.md sections 7 and 14) and the record persisted for
 * each job. The record is what makes a job survive a restart: it is written before any
 * provider call and every later step is a compare-and-set on it.
 *
 * Imports: target.ts only.
 */
import type { BatchCounts, BatchItemResult, BatchOperation, BatchStatus, FinishReason, Message, Usage } from '../../target.js';

export type JobOperation = BatchOperation;

/** One request of a job. `id` is the caller's; results come back under it. */
export interface JobItem {
  id: string;
  /** Text: the conversation. */
  messages?: Message[];
  /** Text: shorthand for one user message. */
  prompt?: string;
  /** Text: prepended as a system message. */
  system?: string;
  maxOutputTokens?: number;
  temperature?: number;
  topP?: number;
  stop?: string[];
  seed?: number;
  /** Per-provider options, keyed by provider name, passed through untouched (as on a call). */
  providerOptions?: Record<string, Record<string, unknown>>;
  /** Embedding: the text to embed. */
  input?: string;
  /** Embedding: the vector width, for models that can shorten it. */
  dimensions?: number;
}

/**
 * Normalised job status. `queued`: saved, nothing sent; `scheduled`: saved, waiting for its
 * off-peak window or `notBefore` time (a job's status only, never a part's); `submitting`: some
 * parts not yet accepted.
 */
export type JobStatus = 'queued' | 'scheduled' | 'submitting' | BatchStatus;

export const terminalStatuses: ReadonlySet<JobStatus> = new Set<JobStatus>(['completed', 'failed', 'expired', 'cancelled']);

/**
 * A daily off-peak window: the job is submitted only while the wall clock of `timeZone` is in
 * [start, end). `end` before `start` spans midnight ('22:00' to '06:00').
 */
export interface JobWindow {
  /** Wall-clock time the window opens, 'HH:MM' (24-hour). */
  start: string;
  /** Wall-clock time the window closes, 'HH:MM' (24-hour); not equal to `start`. */
  end: string;
  /** An IANA time zone, e.g. 'Europe/Berlin'. @default the submitting process's zone (saved with the job) */
  timeZone?: string;
}

export interface JobSubmitOptions {
  /** Inferred from the items (`input` means embedding). */
  operation?: JobOperation;
  /** A target id; else the cheapest batch-capable target, else the cheapest online one. */
  target?: string;
  /** How long the provider may take, e.g. '24h', '30m', '7d', counted from the submission. @default '24h' */
  completionWindow?: string;
  /** Carried on the job and on each provider batch (at most 14 pairs: two are ours). */
  metadata?: Record<string, string>;
  /** Submit only inside this daily window (off-peak hours); saved with the job, honoured by every worker. */
  window?: JobWindow;
  /** Submit no earlier than this time (ms since epoch, or a Date). With `window`: the first window from then. */
  notBefore?: number | Date;
  /** Aborts before the record is written; after that the job exists and `cancel` stops it. */
  signal?: AbortSignal;
}

export interface JobWaitOptions {
  /** Called with the job's progress when it changed since the last call (the first poll always). */
  onProgress?: (progress: JobProgressEvent) => void;
  signal?: AbortSignal;
  /** First poll interval, ms; grows by 1.5x per poll up to `maxPollIntervalMs`, +-20% jitter. @default the Jobs' pollIntervalMs (2,000) */
  pollIntervalMs?: number;
  /** Longest poll interval, ms. @default the Jobs' maxPollIntervalMs (300,000) */
  maxPollIntervalMs?: number;
}

export interface JobResultsOptions {
  /**
   * Where to start: a `cursor` from an earlier result, or 'start'. Omitted: the cursor saved in
   * the store, so a reader that crashed continues where it stopped. @default saved cursor
   */
  cursor?: string;
  signal?: AbortSignal;
}

export interface JobResult {
  /** The caller's item id. */
  id: string;
  ok: boolean;
  result?: { text?: string; finishReason?: FinishReason; embedding?: number[]; usage?: Usage };
  error?: { code: string; message: string; status?: number };
  /** USD for this item from the target's prices and the batch price multiplier. */
  costUsd?: number;
  /** Pass as `results(id, { cursor })` to continue after this item. */
  cursor: string;
}

export interface JobProgressEvent {
  job: string;
  status: JobStatus;
  counts: BatchCounts;
  /** Remaining time estimated from the rate so far, ms. */
  etaMs?: number;
  /** A scheduled job: when its window opens (ms since epoch). */
  startsAt?: number;
}

/** Life of one part inside the record. */
export type PartState = 'pending' | 'submitting' | 'submitted' | 'running' | 'done';

export interface PartRecord {
  index: number;
  /** Item index range [start, end) in the job. */
  start: number;
  end: number;
  /** Bytes of the part's items as uploaded. */
  bytes: number;
  state: PartState;
  status: JobStatus;
  rawStatus?: string;
  /** Who claimed the part last, and until when the claim holds (ms since epoch); renewed while the owner works. */
  owner?: string;
  leaseUntil?: number;
  /** Claims so far; above 0 the provider may hold a batch, so reconcile before submitting. */
  claims: number;
  providerBatchId?: string;
  inputFileId?: string;
  outputFileId?: string;
  errorFileId?: string;
  counts: BatchCounts;
  submittedAt?: number;
  nextPollAt?: number;
  pollAttempt?: number;
  lastError?: string;
}

/** When a job may be submitted, as saved (the time zone resolved at submit time). */
export interface JobSchedule {
  notBefore?: number;
  window?: Required<JobWindow>;
}

export interface JobRecord {
  schema: 1;
  id: string;
  target: string;
  /** 'batch': provider batch endpoint; 'online': the client's executor at low concurrency. */
  mode: 'batch' | 'online';
  operation: JobOperation;
  endpoint: string;
  model: string;
  createdAt: number;
  /** When the wait ends at the latest: the completion window after the first submission (after the first possible start while scheduled). */
  expiresAt: number;
  completionWindow: string;
  metadata: Record<string, string>;
  status: JobStatus;
  cancelRequested?: boolean;
  /** Absent: submitted at once. */
  schedule?: JobSchedule;
  itemCount: number;
  bytes: number;
  /** A hash of the items as stored ('<algorithm>:<hex>'): tells a resubmission of identical input apart. */
  inputHash: string;
  /** Items per stored chunk (the `:items` list holds one JSON array per chunk). */
  chunkSize: number;
  /** The caller ids are stored apart too (`:ids`, the same chunks); absent on jobs saved before they were. */
  idChunks?: true;
  parts: PartRecord[];
  finishedAt?: number;
}

export interface JobPartInfo {
  index: number;
  items: number;
  status: JobStatus;
  rawStatus?: string;
  providerBatchId?: string;
  counts: BatchCounts;
}

export interface JobInfo {
  id: string;
  status: JobStatus;
  target: string;
  mode: 'batch' | 'online';
  operation: JobOperation;
  endpoint: string;
  counts: BatchCounts;
  parts: JobPartInfo[];
  createdAt: number;
  expiresAt: number;
  finishedAt?: number;
  /** A scheduled job: when it may be submitted next (its window's next opening, or `notBefore`), ms since epoch. */
  startsAt?: number;
  /** The saved schedule, when the job has one. */
  schedule?: JobSchedule;
  metadata: Record<string, string>;
  cancelRequested: boolean;
  etaMs?: number;
}

export interface JobHandle {
  readonly id: string;
  get(): Promise<JobInfo>;
  wait(options?: JobWaitOptions): Promise<JobInfo>;
  results(options?: JobResultsOptions): AsyncIterable<JobResult>;
  cancel(): Promise<JobInfo>;
}

/** What the client passes to run one item through its normal executor (online path). */
export type RunOnline = (operation: JobOperation, item: JobItem, targetId: string, signal: AbortSignal) => Promise<BatchItemResult>;
