/**
 * One base class, a stable code per error (DESIGN.md section 10, STYLE.md rules 7-10).
 * Messages never contain API keys or request bodies.
 *
 * Imports: ./http-status.ts only (floor 1).
 */
import { isAuthenticationStatus, isRetryableStatus } from './http-status.js';

export type ErrorCode =
  | 'INVALID_REQUEST'
  | 'NO_ROUTE'
  | 'DEADLINE_EXCEEDED'
  | 'ALL_TARGETS_FAILED'
  | 'RATE_LIMITED'
  | 'PROVIDER_ERROR'
  | 'NETWORK_ERROR'
  | 'AUTHENTICATION_FAILED'
  | 'ABORTED'
  | 'PRIVACY_VIOLATION'
  | 'CONTEXT_OVERFLOW'
  | 'STREAM_INTERRUPTED'
  | 'TARGET_UNAVAILABLE'
  | 'QUEUE_FULL'
  | 'STORE_ERROR'
  | 'JOB_ERROR';

const marker = Symbol.for('inferlane.error');

export interface InferlaneErrorOptions {
  retryable?: boolean;
  target?: string;
  status?: number;
  cause?: unknown;
}

export class InferlaneError extends Error {
  readonly [marker] = true;
  readonly code: ErrorCode;
  /** Whether the same call may succeed if tried again (on this or another target). */
  readonly retryable: boolean;
  /** The target id the failure belongs to, when one does. */
  readonly target?: string;
  /** The HTTP status, when the failure came from an HTTP response. */
  readonly status?: number;

  constructor(code: ErrorCode, message: string, options: InferlaneErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'InferlaneError';
    this.code = code;
    this.retryable = options.retryable ?? false;
    this.target = options.target;
    this.status = options.status;
  }

  /** True for any inferlane error, even from a duplicated copy of the package. */
  static isInstance(value: unknown): value is InferlaneError {
    return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[marker] === true;
  }

  /** A JSON-safe view (no cause chain, no request data). */
  toJSON(): Record<string, unknown> {
    return { name: this.name, code: this.code, message: this.message, retryable: this.retryable, target: this.target, status: this.status };
  }
}

/** Bad input; `field` names the offending path, e.g. `messages[2].role`. */
export class InvalidRequestError extends InferlaneError {
  readonly field: string;
  constructor(field: string, message: string) {
    super('INVALID_REQUEST', `invalid ${field}: ${message}`);
    this.name = 'InvalidRequestError';
    this.field = field;
  }
}

export interface Rejection {
  target: string;
  /** A short machine-readable reason, e.g. 'modality', 'privacy', 'circuit-open'. */
  code: string;
  /** A sentence for people. */
  reason: string;
}

export class NoRouteError extends InferlaneError {
  readonly rejections: Rejection[];
  constructor(summary: string, rejections: Rejection[], code: 'NO_ROUTE' | 'PRIVACY_VIOLATION' = 'NO_ROUTE') {
    const detail = rejections.map((r) => `${r.target}: ${r.reason}`).join('; ');
    super(code, detail ? `${summary}: ${detail}` : summary);
    this.name = code === 'PRIVACY_VIOLATION' ? 'PrivacyViolationError' : 'NoRouteError';
    this.rejections = rejections;
  }
}

export class DeadlineExceededError extends InferlaneError {
  readonly budgetMs: number;
  constructor(budgetMs: number, options: InferlaneErrorOptions & { detail?: string } = {}) {
    super('DEADLINE_EXCEEDED', `the latency budget of ${budgetMs} ms ran out${options.detail ? `: ${options.detail}` : ''}`, {
      retryable: true,
      ...options,
    });
    this.name = 'DeadlineExceededError';
    this.budgetMs = budgetMs;
  }
}

export interface AttemptRecord {
  target: string;
  /** 'ok' | 'error' (a budget that ran out included: DEADLINE_EXCEEDED) | 'aborted' (a losing hedge, a caller abort, a closing client) | 'skipped' */
  outcome: 'ok' | 'error' | 'aborted' | 'skipped';
  code?: ErrorCode;
  status?: number;
  message?: string;
  /** ms from the call's start to this attempt's start */
  startMs: number;
  durationMs: number;
  /** Time to first token, streams only. */
  ttftMs?: number;
  hedge?: boolean;
  replica?: number;
}

export class AllTargetsFailedError extends InferlaneError {
  readonly attempts: AttemptRecord[];
  constructor(attempts: AttemptRecord[], options: InferlaneErrorOptions = {}) {
    const detail = attempts
      .filter((a) => a.outcome !== 'ok')
      .map((a) => `${a.target} ${a.code ?? a.outcome}${a.status ? ` ${a.status}` : ''}${a.message ? ` (${a.message})` : ''}`)
      .join('; ');
    super('ALL_TARGETS_FAILED', `every target failed: ${detail}`, options);
    this.name = 'AllTargetsFailedError';
    this.attempts = attempts;
  }
}

export class RateLimitedError extends InferlaneError {
  /** What the provider asked us to wait, ms. */
  readonly retryAfterMs?: number;
  constructor(message: string, options: InferlaneErrorOptions & { retryAfterMs?: number } = {}) {
    super('RATE_LIMITED', message, { retryable: true, status: 429, ...options });
    this.name = 'RateLimitedError';
    this.retryAfterMs = options.retryAfterMs;
  }
}

export class ProviderError extends InferlaneError {
  readonly retryAfterMs?: number;
  constructor(message: string, options: InferlaneErrorOptions & { retryAfterMs?: number } = {}) {
    super('PROVIDER_ERROR', message, options);
    this.name = 'ProviderError';
    this.retryAfterMs = options.retryAfterMs;
  }
}

/** No response at all: connection refused or reset, DNS, offline. Triggers cloud-to-device fallback. */
export class NetworkError extends InferlaneError {
  constructor(message: string, options: InferlaneErrorOptions = {}) {
    super('NETWORK_ERROR', message, { retryable: true, ...options });
    this.name = 'NetworkError';
  }
}

export class AuthenticationError extends InferlaneError {
  constructor(message: string, options: InferlaneErrorOptions = {}) {
    super('AUTHENTICATION_FAILED', message, { retryable: false, ...options });
    this.name = 'AuthenticationError';
  }
}

export class AbortedError extends InferlaneError {
  constructor(message = 'the call was aborted by the caller', options: InferlaneErrorOptions = {}) {
    super('ABORTED', message, options);
    this.name = 'AbortedError';
  }
}

export class ContextOverflowError extends InferlaneError {
  readonly tokens: number;
  readonly limit: number;
  constructor(tokens: number, limit: number, options: InferlaneErrorOptions = {}) {
    super('CONTEXT_OVERFLOW', `the conversation needs ${tokens} tokens but the context holds ${limit}`, options);
    this.name = 'ContextOverflowError';
    this.tokens = tokens;
    this.limit = limit;
  }
}

/** A stream failed after it had produced text; `partialText` is what the caller already received. */
export class StreamInterruptedError extends InferlaneError {
  readonly partialText: string;
  readonly attempts: AttemptRecord[];
  constructor(partialText: string, attempts: AttemptRecord[], options: InferlaneErrorOptions = {}) {
    super('STREAM_INTERRUPTED', `the stream failed after ${partialText.length} characters and could not be resumed`, options);
    this.name = 'StreamInterruptedError';
    this.partialText = partialText;
    this.attempts = attempts;
  }
}

export class TargetUnavailableError extends InferlaneError {
  constructor(message: string, options: InferlaneErrorOptions = {}) {
    super('TARGET_UNAVAILABLE', message, { retryable: true, ...options });
    this.name = 'TargetUnavailableError';
  }
}

export class QueueFullError extends InferlaneError {
  constructor(message: string, options: InferlaneErrorOptions = {}) {
    super('QUEUE_FULL', message, { retryable: true, ...options });
    this.name = 'QueueFullError';
  }
}

export class StoreError extends InferlaneError {
  /**
   * What could not be saved, when something was produced before the write failed: a
   * conversation's answer (the `send()` result) whose turn is not in the history.
   */
  unsaved?: unknown;
  constructor(message: string, options: InferlaneErrorOptions = {}) {
    super('STORE_ERROR', message, { retryable: true, ...options });
    this.name = 'StoreError';
  }
}

/**
 * A stream that ended before its finish reason: the answer is incomplete. Retryable, so the
 * executor resumes it on the next target (adapters throw it when the body stops too soon).
 */
export function incompleteStreamError(target: string): NetworkError {
  return new NetworkError(`the stream from ${target} ended before a finish reason; the answer is incomplete`, { target });
}

/**
 * The error a target throws when the call's signal aborted it (a deadline, a lost hedge, the
 * caller): the executor tells these apart by looking at its own signals, so one class serves all.
 */
export function abortedCallError(target: string, signal?: AbortSignal): AbortedError {
  return new AbortedError(`${target}: the call was aborted`, { target, cause: signal?.reason });
}

/** The error of a call made after the client's `close()`. @internal */
export function closedClientError(): InvalidRequestError {
  return new InvalidRequestError('client', 'is closed (close() ended its targets and store); create a new client');
}

export class JobError extends InferlaneError {
  constructor(message: string, options: InferlaneErrorOptions = {}) {
    super('JOB_ERROR', message, options);
    this.name = 'JobError';
  }
}

/**
 * What a provider asked us to wait, ms, from `retry-after-ms` or `retry-after` (seconds or an
 * HTTP date), as openai-node reads them. Undefined when absent or unreadable. The retry policy
 * (src/execute/retry-policy.ts) decides whether the wait fits the deadline.
 */
export function retryAfterMs(headers: Headers | Record<string, string> | undefined | null, now: () => number = Date.now): number | undefined {
  if (!headers) return undefined;
  const read = (name: string): string | null | undefined =>
    typeof (headers as Headers).get === 'function' ? (headers as Headers).get(name) : (headers as Record<string, string>)[name];
  const milliseconds = read('retry-after-ms')?.trim();
  if (milliseconds) {
    const value = Number(milliseconds);
    if (Number.isFinite(value) && value >= 0) return value;
  }
  const retryAfter = read('retry-after')?.trim();
  if (!retryAfter) return undefined;
  const seconds = Number(retryAfter);
  if (Number.isFinite(seconds)) return seconds >= 0 ? seconds * 1000 : undefined;
  const date = Date.parse(retryAfter);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now());
}

export interface StatusErrorOptions {
  /** The target id carried on the error. */
  target?: string;
  /** The whole message, written by the adapter (the provider's words through `redact`, never a key or a request body). */
  message: string;
  /** What the provider asked us to wait, ms (`retryAfterMs(headers)`), for the retry policy. */
  retryAfterMs?: number;
  cause?: unknown;
}

/**
 * The error class for an HTTP answer with `status` (>= 400), in one place for every adapter
 * (STYLE.md rule 8): 401/403 `AuthenticationError`; 429 `RateLimitedError`; 408, 409 and 5xx a
 * retryable `ProviderError`; any other status a final `ProviderError` (the same request would fail
 * again). The adapter writes the sentence; this decides the class, `retryable` and `status`.
 */
export function errorForStatus(status: number, options: StatusErrorOptions): InferlaneError {
  const { target, message, cause } = options;
  if (isAuthenticationStatus(status)) return new AuthenticationError(message, { target, status, cause });
  if (status === 429) return new RateLimitedError(message, { target, status, cause, retryAfterMs: options.retryAfterMs });
  if (isRetryableStatus(status)) return new ProviderError(message, { target, status, cause, retryable: true, retryAfterMs: options.retryAfterMs });
  return new ProviderError(message, { target, status, cause, retryable: false, retryAfterMs: options.retryAfterMs });
}

/** Normalises anything thrown into an InferlaneError without leaking request data. */
export function toInferlaneError(error: unknown, target?: string): InferlaneError {
  if (InferlaneError.isInstance(error)) return error;
  if (isAbortError(error)) return new AbortedError(undefined, { target, cause: error });
  const message = error instanceof Error ? error.message : String(error);
  return new ProviderError(redact(message), { target, cause: error, retryable: false });
}

export function isAbortError(error: unknown): boolean {
  return (
    typeof error === 'object' &&
    error !== null &&
    ((error as { name?: string }).name === 'AbortError' || (error as { name?: string }).name === 'APIUserAbortError')
  );
}

/** Socket-level codes that mean "no usable response": retry here or fall back elsewhere. */
const networkCodes = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'UND_ERR_CLOSED',
]);

/** fetch's messages for a dropped connection (undici's `fetch failed` before headers, `terminated` mid-body; browsers'). */
const networkMessages = /^(fetch failed|terminated|other side closed|socket hang up|network error|failed to fetch|load failed)/i;

/**
 * True for fetch/undici failures that never produced a usable response (refused, reset, DNS,
 * a body that broke off), looking down the `cause` chain. For adapters built on fetch-based clients.
 */
export function isNetworkFailure(error: unknown): boolean {
  let current: unknown = error;
  for (let depth = 0; depth < 5 && typeof current === 'object' && current !== null; depth++) {
    const { code, message } = current as { code?: unknown; message?: unknown };
    if (typeof code === 'string' && networkCodes.has(code)) return true;
    if (typeof message === 'string' && networkMessages.test(message)) return true;
    current = (current as { cause?: unknown }).cause;
  }
  return false;
}

/** The deepest socket-style code (e.g. 'ECONNREFUSED') in the `cause` chain, for messages. */
export function networkFailureCode(error: unknown): string | undefined {
  let current: unknown = error;
  let found: string | undefined;
  for (let depth = 0; depth < 5 && typeof current === 'object' && current !== null; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string' && /^[A-Z_]+$/.test(code)) found = code;
    current = (current as { cause?: unknown }).cause;
  }
  return found;
}

const secretPatterns: [RegExp, string][] = [
  // ek_: the Realtime API's ephemeral client secrets.
  [/\b(?:sk|hf|gsk|pk|rk|ek)[-_][A-Za-z0-9_-]{8,}/g, '[redacted]'],
  [/(Bearer\s+)[A-Za-z0-9._~+/-]+=*/gi, '$1[redacted]'],
  [/(api[-_]?key["'=:\s]+)[^\s"',}]+/gi, '$1[redacted]'],
];

/** Removes anything shaped like a secret from a string meant for errors, events or logs. */
export function redact(text: string): string {
  let out = text;
  for (const [pattern, replacement] of secretPatterns) out = out.replace(pattern, replacement);
  return out;
}

/**
 * A provider's own words made fit for an error message: secrets redacted, whitespace collapsed,
 * clipped to `maxLength` characters (provider bodies can be pages long).
 */
export function providerText(text: string, maxLength = 300): string {
  const clean = redact(text).replace(/\s+/g, ' ').trim();
  return clean.length > maxLength ? `${clean.slice(0, maxLength)}...` : clean;
}
