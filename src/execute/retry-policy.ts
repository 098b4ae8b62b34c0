/**
 * The one retry policy (STYLE.md rule 9, DESIGN.md section 14), documented once:
 * - `maxRetries` 2 per target;
 * - retry 408, 409, 429, 5xx and connection errors (errors marked `retryable`);
 * - honour `retry-after-ms` / `retry-after` up to 60 s, never past the deadline;
 * - otherwise exponential backoff from 0.5 s doubling to 8 s, minus up to 25% jitter
 *   (openai-node's policy).
 * What to do after a failure is decided here, as data, so the executor stays a loop.
 */
import type { InferlaneError } from '../errors.js';
import { nonNegativeNumber, section } from '../validation/checks.js';
import { isRequestFaultStatus } from '../http-status.js';

export interface RetrySettings {
  /** Retries per target. @default 2 */
  maxRetries: number;
  /** First backoff, ms. @default 500 */
  initialDelayMs: number;
  /** Longest backoff, ms. @default 8000 */
  maxDelayMs: number;
  /** Longest Retry-After honoured, ms. @default 60000 */
  maxRetryAfterMs: number;
}

export const defaultRetrySettings: RetrySettings = { maxRetries: 2, initialDelayMs: 500, maxDelayMs: 8000, maxRetryAfterMs: 60_000 };

/** Checks partial retry settings (the client's `retry`): counts are whole, delays are ms of 0 or more. */
export function validateRetrySettings(value: unknown, field: string): void {
  const retry = section(value, field);
  if (!retry) return;
  nonNegativeNumber(retry.maxRetries, `${field}.maxRetries`, { integer: true });
  for (const key of ['initialDelayMs', 'maxDelayMs', 'maxRetryAfterMs']) nonNegativeNumber(retry[key], `${field}.${key}`);
}

/** What the executor does next. */
export type Decision =
  | { action: 'retry'; delayMs: number; reason: string }
  | { action: 'next'; reason: string }
  | { action: 'stop'; reason: string };

export interface DecideInput {
  error: InferlaneError;
  /** Retries already made on this target. */
  retries: number;
  /** ms left in the budget. */
  remainingMs: number;
  /** Predicted time for one more attempt on this target, ms. */
  attemptMs: number;
  /** Predicted time the next candidate needs, ms (0 when there is none). */
  reserveMs: number;
  hasNext: boolean;
  settings: RetrySettings;
  random: () => number;
}

export function decide(input: DecideInput): Decision {
  const { error, settings } = input;
  if (error.code === 'ABORTED') return { action: 'stop', reason: 'aborted by the caller' };
  if (error.code === 'INVALID_REQUEST') return { action: 'stop', reason: 'invalid request' };
  if (error.code === 'PROVIDER_ERROR' && error.status !== undefined && isRequestFaultStatus(error.status)) {
    return { action: 'stop', reason: `the provider rejected the request (${error.status}); another target would too` };
  }
  if (!error.retryable) return { action: 'next', reason: `${error.code} is not retryable on this target` };
  // With somewhere else to go, a refused connection is a reason to move, not to wait.
  if (error.code === 'NETWORK_ERROR' && input.hasNext) return { action: 'next', reason: 'network unreachable' };
  // A target that used up its share of the budget would use it again.
  if (error.code === 'DEADLINE_EXCEEDED' && input.hasNext) return { action: 'next', reason: 'too slow for the budget' };
  if (input.retries >= settings.maxRetries) return { action: 'next', reason: `retries exhausted (${settings.maxRetries})` };
  const retryAfterMs = (error as { retryAfterMs?: number }).retryAfterMs;
  const delayMs =
    retryAfterMs !== undefined && retryAfterMs >= 0 && retryAfterMs <= settings.maxRetryAfterMs
      ? retryAfterMs
      : backoffMs(input.retries, settings, input.random);
  const needed = delayMs + input.attemptMs + input.reserveMs;
  if (needed > input.remainingMs) {
    return input.hasNext
      ? { action: 'next', reason: `waiting ${Math.round(delayMs)} ms would not fit the budget` }
      : { action: 'stop', reason: `waiting ${Math.round(delayMs)} ms would not fit the budget` };
  }
  return { action: 'retry', delayMs, reason: retryAfterMs !== undefined ? 'retry-after' : 'backoff' };
}

export function backoffMs(retries: number, settings: RetrySettings, random: () => number): number {
  const base = Math.min(settings.initialDelayMs * 2 ** retries, settings.maxDelayMs);
  return base * (1 - 0.25 * random());
}
