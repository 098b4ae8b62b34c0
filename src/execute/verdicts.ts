/**
 * Verdicts: what the end of one attempt says. `attemptFailure` names the error an attempt ended
 * with (the budget's timeout, its own share of the budget running out, or whatever the target
 * threw); `chargesCircuit` decides whether that failure counts against the target's circuit.
 *
 * Both read facts the attempt carries (`AttemptFacts`), fixed when it started or when it ended,
 * never facts that changed meanwhile: whether the device had answered is read at the attempt's
 * start (six streams opened during a model load must not be charged because the first of them
 * answered before the others timed out).
 *
 * Imports: errors, router/types and target (types), ./deadline and ./types (types).
 */
import { type AttemptRecord, DeadlineExceededError, InferlaneError, isAbortError } from '../errors.js';
import type { Candidate } from '../router/types.js';
import type { Target } from '../target.js';
import type { Deadline } from './deadline.js';
import type { ExecutorStats } from './types.js';

/** What a verdict reads about one attempt. */
export interface AttemptFacts {
  record: AttemptRecord;
  /**
   * False when the call's whole budget ran out under the attempt: its timeout is the budget's
   * verdict, not the target's, and never counts against the circuit.
   */
  chargeable: boolean;
  /** Whether the target had ever answered when this attempt began (a device's model had loaded). */
  answeredAtStart: boolean;
}

/** `answeredAtStart` for an attempt starting now on `target` (only device targets are judged by it, so only they are looked up). */
export function answeredBefore(target: Target, stats: ExecutorStats): boolean {
  return target.kind !== 'device' || stats.answered(target.id);
}

/**
 * An attempt's error: the share-of-the-budget error when its own limit stopped it (the call
 * itself goes on), or the idle error when a resumption's first part did not come in time.
 *
 * When the call's own budget ran out under it, the adapter only saw its signal abort: the
 * attempt timed out (DEADLINE_EXCEEDED), it was not aborted (which is for callers, closing
 * clients and lost hedges). Such a timeout is the budget's verdict, not the target's: `facts`
 * is marked so that it never counts against the circuit. (Counting it, a soak with random hangs
 * and tight budgets opened circuits until 80% of calls found no route; a provider that slows
 * down past a tight budget would be shut out with no way to measure its new latency.)
 *
 * `budgetAt` is when the call's budget ends for this attempt (never, for a resumption: the
 * budget bounded the first part only).
 */
export function attemptFailure(
  error: unknown,
  facts: AttemptFacts,
  attempt: { controller: AbortController; limitMs: number | undefined; resuming: boolean },
  deadline: Pick<Deadline, 'signal'>,
  budgetAt: number,
  target: Target,
  budgetMs: number,
  now: number,
): unknown {
  const budgetGone = deadline.signal.aborted ? deadline.signal.reason === 'deadline' : budgetAt <= now;
  if (budgetGone) {
    const timeout = abortedAttempt(error) ? new DeadlineExceededError(budgetMs, { target: target.id, detail: `${target.id} had not answered`, cause: error }) : error;
    // A timeout of its own (the micro-batcher's request past every caller's deadline) is the budget's too.
    if (InferlaneError.isInstance(timeout) && timeout.code === 'DEADLINE_EXCEEDED') facts.chargeable = false;
    return timeout;
  }
  if (deadline.signal.aborted || attempt.controller.signal.reason !== 'attempt-timeout') return error;
  const detail = attempt.resuming
    ? `no stream part from ${target.id} for ${attempt.limitMs} ms (idleMs) while resuming`
    : `${target.id} did not answer within its share of the budget, leaving time for the next target`;
  return new DeadlineExceededError(Math.round(attempt.limitMs ?? 0), { target: target.id, detail, cause: error });
}

/**
 * Whether a failed attempt counts against its target's circuit. Not when the budget ran out
 * under it (`chargeable` false), nor for a timeout that says nothing about the target's health:
 * one that came after less time than the target usually needs (p90 of its first token for
 * streams, of the whole answer otherwise), so the call's budget was too tight for it; or one on
 * a device target that had not answered when the attempt began (its model still loading).
 * Counting these let a burst of tight budgets on a busy or loading device open its circuit and
 * refuse, for up to a minute, the calls that had room to wait (found by an on-device soak).
 * Slowness still reaches the router through the latency of the calls that answer.
 */
export function chargesCircuit(error: InferlaneError, facts: AttemptFacts, candidate: Candidate, operation: string, stats: ExecutorStats): boolean {
  if (!facts.chargeable) return false;
  if (error.code !== 'DEADLINE_EXCEEDED') return true;
  if (candidate.target.kind === 'device' && !facts.answeredAtStart) return false;
  const usual = stats.latency(candidate.target.id, operation === 'stream' ? 'ttft' : 'total', 0.9) ?? candidate.predictedMs.p90;
  return facts.record.durationMs >= usual;
}

/** An attempt that ended because its signal fired (the adapter's AbortedError, or a bare AbortError). */
function abortedAttempt(error: unknown): boolean {
  return InferlaneError.isInstance(error) ? error.code === 'ABORTED' : isAbortError(error);
}
