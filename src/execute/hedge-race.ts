/**
 * The hedge race ("The Tail at Scale"): when the primary has not answered after its p90
 * first-token time, the next candidate starts too; the first to succeed wins and the other is
 * aborted (its connection closes). Hedges are capped by the HedgeBudget (a share of requests),
 * and a hedge that could not answer before the deadline is never started.
 *
 * The race answers with a typed `AttemptResult`: the winner, or the last error with
 * `consumedNext` when the hedge already used the next candidate (the call then skips it).
 *
 * Imports: errors, router/types (types), ./attempt, ./budget-shares, ./call-scope (types), ./deadline,
 * ./types (types).
 */
import { toInferlaneError } from '../errors.js';
import type { Candidate } from '../router/types.js';
import { type AttemptResult, noop, settle, type Started } from './attempt.js';
import { predict } from './budget-shares.js';
import type { CallScope } from './call-scope.js';
import { abortWith } from './deadline.js';
import type { HedgeOptions } from './types.js';

/** Which candidate would hedge the one at `index`, and after how long; undefined when no hedge fits. */
export function hedgeFor(scope: CallScope, index: number): { candidate: Candidate; afterMs: number } | undefined {
  const { candidates } = scope;
  const next = candidates[index + 1];
  if (!next) return undefined;
  const stats = scope.parts.deps.stats;
  const hedge: HedgeOptions | undefined = scope.options.hedge || undefined;
  const primary = candidates[index];
  const afterMs = hedge?.afterMs ?? predict(stats, primary.target.id, 'ttft', hedge?.quantile ?? 0.9, primary.predictedMs.ttftP90);
  // A hedge that could not answer before the deadline only adds load.
  if (afterMs + predict(stats, next.target.id, 'ttft', 0.5, next.predictedMs.p50) > scope.deadline.remaining()) return undefined;
  return { candidate: next, afterMs };
}

type Settled<T> = { ok: true; value: T; started: Started<T> } | { ok: false; error: unknown; started: Started<T> };

/**
 * Runs the primary; if it has not answered after `afterMs`, starts the secondary too. A primary
 * that settles before the hedge starts is reported like any attempt. `answered`: a value is the
 * answer (a stream's opening is not: the winner's success is recorded when its stream ends).
 * `discard` lets go of a loser's value that arrived anyway (a stream that had opened).
 */
export async function race<T>(
  scope: CallScope,
  primary: Started<T>,
  startSecondary: () => Started<T>,
  afterMs: number,
  answered: boolean,
  discard?: (value: T) => void,
): Promise<AttemptResult<T>> {
  const { deps, ledger } = scope.parts;
  const { clock } = deps;
  const settleOne = (started: Started<T>): Promise<Settled<T>> =>
    started.promise.then(
      (value) => ({ ok: true as const, value, started }),
      (error: unknown) => ({ ok: false as const, error, started }),
    );
  let timer: unknown;
  const hedgeTime = new Promise<'hedge'>((resolve) => {
    timer = clock.setTimeout(() => resolve('hedge'), afterMs);
  });
  const primaryResult = settleOne(primary);
  const first = await Promise.race([primaryResult, hedgeTime]);
  clock.clearTimeout(timer);
  if (first !== 'hedge' || scope.deadline.signal.aborted || !deps.hedgeBudget.take()) return settle(scope, primary, answered);

  const secondary = startSecondary();
  const secondaryResult = settleOne(secondary);
  const report = (winner: string) =>
    deps.emit('hedge', { operation: scope.options.operation, primary: primary.entry.candidate.target.id, hedge: secondary.entry.candidate.target.id, afterMs: Math.round(afterMs), winner });
  const fail = (result: { error: unknown; started: Started<T> }) => ledger.fail(scope, result.started.entry, toInferlaneError(result.error, result.started.entry.candidate.target.id));
  const win = (result: { value: T; started: Started<T> }, loser?: Started<T>): AttemptResult<T> => {
    if (loser) {
      abortWith(loser.controller, 'hedge-lost');
      // A loser that had already opened (a stream) is let go of as well.
      if (discard) loser.promise.then(discard, noop);
      ledger.lostHedge(scope, loser.entry);
    }
    if (answered) ledger.succeed(scope, result.started.entry);
    report(result.started.entry.candidate.target.id);
    return { ok: true, value: result.value, started: result.started, hedged: true };
  };
  const firstDone = await Promise.race([primaryResult, secondaryResult]);
  const other = firstDone.started === primary ? secondary : primary;
  if (firstDone.ok) return win(firstDone, other);
  fail(firstDone);
  const secondDone = await (firstDone.started === primary ? secondaryResult : primaryResult);
  if (secondDone.ok) return win(secondDone);
  fail(secondDone);
  report('none');
  return { ok: false, error: secondDone.error, consumedNext: true };
}
