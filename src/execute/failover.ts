/**
 * After a failed attempt: ask the retry policy (./retry-policy), then stop the call (throw),
 * sleep and retry the same target, or move to the next candidate, telling `retry` and
 * `fallback` listeners. Retries and the time the next candidate needs are both fitted inside
 * the call's budget.
 *
 * Imports: errors (types), time/sleep, ./budget-shares, ./call-scope (types), ./retry-policy.
 */
import type { InferlaneError } from '../errors.js';
import { sleep } from '../time/sleep.js';
import { predict } from './budget-shares.js';
import type { CallScope } from './call-scope.js';
import { decide } from './retry-policy.js';

/**
 * Decides what follows `error` on the current candidate: 'retry' (after the policy's sleep) or
 * 'next' (the caller moves on), or throws the error that ends the call. `consumedNext`: a hedge
 * already tried the next candidate, so the candidate after it is next; `mayRetry`: whether the
 * policy's 'retry' may be taken (a unary call whose hedge used the next candidate moves on).
 */
export async function afterFailure(scope: CallScope, error: InferlaneError, consumedNext: boolean, mayRetry = !consumedNext): Promise<'retry' | 'next'> {
  const { deps } = scope.parts;
  const { options, candidates, metric } = scope;
  const candidate = candidates[scope.index];
  if (consumedNext) scope.index++;
  const next = candidates[scope.index + 1];
  const decision = decide({
    error,
    retries: scope.retry,
    remainingMs: scope.deadline.remaining(),
    attemptMs: predict(deps.stats, candidate.target.id, metric, 0.5, candidate.predictedMs.p50),
    reserveMs: next ? predict(deps.stats, next.target.id, metric, 0.5, next.predictedMs.p50) : 0,
    hasNext: next !== undefined,
    settings: Object.assign({}, deps.retry, { maxRetries: options.maxRetries ?? deps.retry.maxRetries }),
    random: deps.random,
  });
  if (decision.action === 'stop') throw scope.finalError(error);
  if (decision.action === 'retry' && mayRetry) {
    deps.emit('retry', { operation: options.operation, target: candidate.target.id, retry: scope.retry + 1, delayMs: Math.round(decision.delayMs), reason: decision.reason, code: error.code });
    await sleep(decision.delayMs, scope.deadline.signal, deps.clock).catch(() => undefined);
    return 'retry';
  }
  if (next) deps.emit('fallback', { operation: options.operation, from: candidate.target.id, to: next.target.id, reason: decision.reason, code: error.code });
  return 'next';
}
