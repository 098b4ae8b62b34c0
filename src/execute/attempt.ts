/**
 * One attempt on one target: its controller (shared with the call's deadline when nothing can
 * abort it alone), its share of the budget as a timer, the call context the adapter gets, the
 * guard that never waits on an adapter past its signal, and the ledger entry it settles.
 *
 * Two ways in: `runDirect` for the common case (one attempt, a target that honours its signal,
 * no hedge, no conversation), in one async step; `startAttempt` for the rest, whose `Started`
 * a hedge race or `settle` awaits.
 *
 * Imports: errors, router/types and target (types), time/child-controller, ./call-scope (types),
 * ./deadline (types), ./ledger (types), ./verdicts, ./types (types).
 */
import { AbortedError, toInferlaneError } from '../errors.js';
import type { Candidate } from '../router/types.js';
import type { CallContext, Target } from '../target.js';
import { childController } from '../time/child-controller.js';
import type { CallScope } from './call-scope.js';
import { abortWith, type Deadline } from './deadline.js';
import type { AttemptEntry } from './ledger.js';
import type { AttemptFn, AttemptInfo } from './types.js';
import { attemptFailure } from './verdicts.js';

/** An attempt under way. `entry.replica` is known once it settles. */
export interface Started<T> {
  entry: AttemptEntry;
  promise: Promise<T>;
  controller: AbortController;
}

/** How an attempt (or a race of two) ended: its value and who won, or its error. */
export type AttemptResult<T> =
  | { ok: true; value: T; started: Started<T>; hedged: boolean }
  /** `consumedNext`: a hedge already tried the next candidate, which the call must skip. */
  | { ok: false; error: unknown; consumedNext: boolean };

/** What `startAttempt` needs to know beyond the scope. */
export interface AttemptShape {
  /** A hedge (recorded as one). */
  hedge: boolean;
  /** This attempt's share of the budget, ms (none: all that remains). */
  limitMs?: number;
  /** Whether something may abort this attempt alone (a hedge, a time limit): it then gets its own controller. */
  own: boolean;
}

/**
 * The common case in one async step (no `Started`, no extra promise layer: microseconds per call):
 * one attempt on a target that honours its signal, with no hedge and no conversation to fit.
 * Records the attempt either way; throws the attempt's error.
 */
export async function runDirect<T>(scope: CallScope, candidate: Candidate, target: Target, attemptFn: AttemptFn<T>, limitMs: number | undefined): Promise<T> {
  const { deps, ledger, adapterEmit } = scope.parts;
  const { deadline } = scope;
  const own = limitMs === undefined ? undefined : childController(deadline.signal);
  const controller = own === undefined ? shared(deadline) : own.controller;
  const limitTimer = armLimit(scope, controller, limitMs);
  const entry = ledger.open(scope, candidate, false);
  try {
    const value = await attemptFn(target, { signal: controller.signal, deadline: deadline.at, segment: scope.options.segment, emit: adapterEmit }, { retry: scope.retry });
    ledger.succeed(scope, entry);
    return value;
  } catch (error) {
    const failure = attemptFailure(error, entry, { controller, limitMs, resuming: false }, deadline, deadline.at, candidate.target, scope.options.budgetMs, deps.clock.now());
    ledger.fail(scope, entry, toInferlaneError(failure, candidate.target.id));
    throw failure;
  } finally {
    if (limitTimer !== undefined) deps.clock.clearTimeout(limitTimer);
    own?.release();
  }
}

/**
 * Starts an attempt in general: a conversation fits its messages for this target first, a hedge
 * may race it, and a target that does not honour its signal is raced against it. Its ledger
 * entry is opened now and closed by whoever awaits it (`settle`, a hedge race, a stream run).
 */
export function startAttempt<T>(scope: CallScope, candidate: Candidate, attemptFn: AttemptFn<T>, shape: AttemptShape): Started<T> {
  const { deps, ledger, adapterEmit } = scope.parts;
  const { options, deadline } = scope;
  const { limitMs } = shape;
  const target = scope.runnerOf(candidate);
  const resuming = scope.resuming;
  const budgetAt = scope.budgetAt;
  const retry = shape.hedge ? 0 : scope.retry;
  // Creating AbortControllers is a large share of the per-call cost: share the deadline's
  // signal when nothing aborts this attempt alone.
  const { controller, release } = shape.own ? childController(deadline.signal) : { controller: shared(deadline), release: noop };
  // An attempt may not eat the time the next candidate needs (a hung primary must leave room).
  const limitTimer = armLimit(scope, controller, limitMs);
  const entry = ledger.open(scope, candidate, shape.hedge);
  // A stream's opening waits for its first part through `firstPart`, which guards each step itself.
  const guarded = options.operation !== 'stream' && target.honoursAbort !== true;
  const started = { entry, controller } as Started<T>;
  started.promise = (async () => {
    let replica: number | undefined;
    try {
      const prepared: AttemptInfo['prepared'] = options.conversation?.prepare?.(candidate.target, retry);
      replica = prepared?.replica;
      if (replica !== undefined) entry.record.replica = replica;
      const ctx: CallContext = {
        signal: controller.signal,
        deadline: budgetAt,
        segment: options.segment,
        promptCacheKey: prepared?.promptCacheKey,
        cacheBreakpoints: prepared?.cacheBreakpoints,
        replica,
        emit: adapterEmit,
      };
      if (prepared?.prefixHashes) ctx.conversation = { id: options.conversation!.id, prefixHashes: prepared.prefixHashes };
      // Never wait on an adapter past its signal: the budget rules even if an adapter is slow to notice.
      const attempt = attemptFn(target, ctx, { retry, prepared });
      return await (guarded ? abortable(attempt, controller.signal) : attempt);
    } catch (error) {
      throw attemptFailure(error, entry, { controller, limitMs, resuming }, deadline, budgetAt, candidate.target, options.budgetMs, deps.clock.now());
    } finally {
      if (limitTimer !== undefined) deps.clock.clearTimeout(limitTimer);
      // A stream attempt goes on after it opens: it must still abort with the call (the
      // caller's abort mid-stream). Its link is a listener on this call's own deadline signal,
      // which goes away with the call, so there is nothing to release for it.
      if (options.operation !== 'stream') release();
      entry.replica = replica;
    }
  })();
  return started;
}

/**
 * Awaits a started attempt and closes its ledger entry. `answered`: its value is the answer (a
 * stream's opening is not: its success is recorded when the stream ends, its failure at once).
 */
export async function settle<T>(scope: CallScope, started: Started<T>, answered: boolean): Promise<AttemptResult<T>> {
  try {
    const value = await started.promise;
    if (answered) scope.parts.ledger.succeed(scope, started.entry);
    return { ok: true, value, started, hedged: false };
  } catch (error) {
    scope.parts.ledger.fail(scope, started.entry, toInferlaneError(error, started.entry.candidate.target.id));
    return { ok: false, error, consumedNext: false };
  }
}

/** Aborts one attempt alone when its share of the budget runs out (`attemptFailure` then says so). */
export function armLimit(scope: CallScope, controller: AbortController, limitMs: number | undefined): unknown {
  return limitMs === undefined ? undefined : scope.parts.deps.clock.setTimeout(() => abortWith(controller, 'attempt-timeout'), Math.max(0, limitMs));
}

/** The call's own deadline as an attempt's controller, for the only attempt in flight: aborting it ends the call. */
export function shared(deadline: Pick<Deadline, 'signal' | 'abort'>): AbortController {
  return { signal: deadline.signal, abort: () => deadline.abort('done') } as unknown as AbortController;
}

/** Rejects as soon as `signal` aborts, even if `promise` never settles (a hung adapter or iterator). */
export function abortable<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) {
    promise.catch(noop);
    return Promise.reject(new AbortedError('aborted'));
  }
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      promise.catch(noop);
      reject(new AbortedError('aborted'));
    };
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}

export const noop = (): undefined => undefined;
