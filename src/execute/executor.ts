/**
 * Runs a Plan: one deadline, retries, fallbacks, circuit breakers, hedging, and stream
 * resumption. Owns time (through a Clock) so tests can control it. Adapters know none of this:
 * they get a CallContext and do one attempt.
 *
 * Imports: target, errors, types, router/types, execute/*.
 */
import {
  AbortedError,
  AllTargetsFailedError,
  type AttemptRecord,
  DeadlineExceededError,
  InferlaneError,
  StreamInterruptedError,
  isAbortError,
  redact,
  toInferlaneError,
} from '../errors.js';
import type { Candidate, Plan } from '../router/types.js';
import { type CallContext, mergeUsage, type ModelProgressEvent, type Segment, type StreamPart, type Target, type Usage } from '../target.js';
import type { ConversationHints } from '../types.js';
import { childController } from '../time/child-controller.js';
import type { Clock } from '../time/clock.js';
import { IdleWaiters } from '../time/idle-waiters.js';
import { sleep } from '../time/sleep.js';
import { CallDeadline, type Deadline } from './deadline.js';
import type { HedgeBudget } from './hedge-budget.js';
import { decide, type RetrySettings } from './retry-policy.js';

/** What the executor reads and writes about targets' health and speed (src/stats). */
export interface ExecutorStats {
  latency(targetId: string, metric: 'ttft' | 'total', q: number): number | undefined;
  tryAcquire(targetId: string, now: number): boolean;
  recordSuccess(targetId: string, latency: { ttftMs?: number; totalMs: number }, now: number): void;
  recordFailure(targetId: string, error: InferlaneError, now: number): void;
  recordInconclusive(targetId: string): void;
  answered(targetId: string): boolean;
}

export interface ExecutorEvents {
  attempt: AttemptRecord & { operation: string };
  retry: { operation: string; target: string; retry: number; delayMs: number; reason: string; code: string };
  fallback: { operation: string; from: string; to: string; reason: string; code: string };
  hedge: { operation: string; primary: string; hedge: string; afterMs: number; winner: string };
  'model-progress': ModelProgressEvent;
}

export interface ExecutorDeps {
  clock: Clock;
  random: () => number;
  stats: ExecutorStats;
  retry: RetrySettings;
  hedgeBudget: HedgeBudget;
  emit<K extends keyof ExecutorEvents>(event: K, payload: ExecutorEvents[K]): void;
  /** Whether anyone listens (payloads are not built for nobody). @default always */
  listens?(event: keyof ExecutorEvents): boolean;
}

export interface HedgeOptions {
  /** Start the hedge after this many ms without a first part. @default the primary's p90 */
  afterMs?: number;
  /** Quantile of the primary's first-token time to hedge at. @default 0.9 */
  quantile?: number;
}

export interface RunOptions {
  operation: string;
  plan: Plan;
  segment: Segment;
  budgetMs: number;
  abortSignal?: AbortSignal;
  maxRetries?: number;
  hedge?: HedgeOptions | false;
  conversation?: ConversationHints;
  /**
   * The attempt function is known to settle as soon as its signal aborts (the micro-batcher
   * rejects aborted callers itself; an adapter with `honoursAbort` closes its request), so the
   * executor need not race it against the signal. A function decides per target.
   */
  attemptsHonourSignal?: boolean | ((target: Target) => boolean);
}

export interface Outcome<T> {
  value: T;
  candidate: Candidate;
  attempts: AttemptRecord[];
  ttftMs?: number;
  totalMs: number;
  replica?: number;
  fellBack: boolean;
  hedged: boolean;
}

/** One attempt on one target. The context's signal covers this attempt only. */
export type AttemptFn<T> = (target: Target, ctx: CallContext, attempt: AttemptInfo) => Promise<T>;

export interface AttemptInfo {
  /** Index of this attempt on this target (0 = first try). */
  retry: number;
  /** Messages fitted for this target when the call belongs to a conversation. */
  prepared?: ReturnType<NonNullable<ConversationHints['prepare']>>;
}

interface Started<T> {
  candidate: Candidate;
  promise: Promise<T>;
  controller: AbortController;
  record: AttemptRecord;
  replica?: number;
}

export class Executor {
  /** What adapters get as `ctx.emit` (one function for every attempt, not a closure per attempt). */
  private readonly emitFromAdapter: CallContext['emit'];
  /** The deadlines of the calls running now: `idle()` waits for them, `abortAll()` ends them. */
  private readonly live = new Set<Deadline>();
  private readonly whenIdle = new IdleWaiters();

  constructor(private readonly deps: ExecutorDeps) {
    this.emitFromAdapter = (event, payload) => deps.emit(event, payload);
  }

  /** Resolves once no call is running (the client's `close()` waits here). */
  idle(): Promise<void> {
    return this.whenIdle.wait(this.live.size === 0);
  }

  /** Ends every running call with AbortedError: the client closed before it finished. */
  abortAll(): void {
    for (const deadline of [...this.live]) deadline.abort('closed');
  }

  private begin(deadline: Deadline): void {
    this.live.add(deadline);
  }

  private end(deadline: Deadline): void {
    deadline.dispose();
    this.live.delete(deadline);
    if (this.live.size === 0) this.whenIdle.wake();
  }

  /** Runs a unary operation (generate, embed, image...) across the plan's candidates. */
  async run<T>(options: RunOptions, attemptFn: AttemptFn<T>): Promise<Outcome<T>> {
    const { clock } = this.deps;
    const startedAt = clock.now();
    const deadline = new CallDeadline(options.budgetMs, clock, options.abortSignal);
    this.begin(deadline);
    const attempts: AttemptRecord[] = [];
    const candidates = options.plan.candidates;
    const hedgeOn = options.hedge !== false && options.hedge !== undefined;
    if (hedgeOn) this.deps.hedgeBudget.deposit();
    let lastError: InferlaneError | undefined;
    try {
      for (let index = 0; index < candidates.length; index++) {
        const candidate = candidates[index];
        for (let retry = 0; ; retry++) {
          this.throwIfDone(deadline, options, attempts, lastError);
          if (!this.deps.stats.tryAcquire(candidate.target.id, clock.now())) {
            attempts.push(this.skipped(candidate, startedAt, 'circuit open'));
            break;
          }
          const secondary = hedgeOn && retry === 0 ? this.hedgeCandidate(candidates, index, deadline, options.hedge || undefined) : undefined;
          try {
            const limitMs = this.attemptLimit(candidates, index, deadline, 'total');
            // Its own controller only when something may abort this attempt alone (a hedge, a time limit).
            const own = secondary !== undefined || limitMs !== undefined;
            if (secondary === undefined && options.conversation?.prepare === undefined && honours(options, candidate.target)) {
              // The common case without `start` and `settle` (their promise layers cost microseconds per call).
              const value = await this.attemptDirect(options, candidate, deadline, startedAt, attempts, attemptFn, retry, limitMs);
              return { value, candidate, attempts, totalMs: clock.now() - startedAt, fellBack: index > 0, hedged: false };
            }
            const primary = this.start(options, candidate, deadline, startedAt, attempts, attemptFn, retry, false, limitMs, own);
            const settled = secondary
              ? await this.race(options, primary, () => this.start(options, secondary.candidate, deadline, startedAt, attempts, attemptFn, 0, true), secondary.afterMs, deadline, startedAt)
              : await this.settle(options, primary, startedAt);
            const winner = settled.started;
            return {
              value: settled.value,
              candidate: winner.candidate,
              attempts,
              totalMs: clock.now() - startedAt,
              replica: winner.replica,
              fellBack: winner.candidate !== candidates[0],
              hedged: settled.hedged,
            };
          } catch (thrown) {
            const error = this.classify(thrown, deadline, options, attempts);
            lastError = error;
            const hedgeConsumed = (thrown as { hedgeConsumedNext?: boolean })?.hedgeConsumedNext === true;
            if (hedgeConsumed) index++;
            const next = candidates[index + 1];
            if ((await this.afterFailure(options, error, retry, candidate, next, deadline, attempts, 'total', !hedgeConsumed)) === 'retry') continue;
            break;
          }
        }
      }
      this.throwIfDone(deadline, options, attempts, lastError);
      throw new AllTargetsFailedError(attempts, { cause: lastError, retryable: lastError?.retryable });
    } finally {
      this.end(deadline);
    }
  }

  /**
   * Runs a stream. The budget bounds the time to the first part; afterwards `idleMs` bounds each
   * gap. Before its first part a failing stream falls back like any call; after it, it resumes on
   * the next candidate with the partial answer as an assistant message (or ends with
   * StreamInterruptedError carrying the partial text).
   *
   * Kept small on purpose: every `await` and `yield` of a generator saves and restores its live
   * locals, so the per-part loop lives here and everything that runs once per attempt (opening,
   * fallbacks, the finish) lives in methods over a `StreamState`.
   */
  async *stream<F = never>(setup: () => StreamSetup<F> | Promise<StreamSetup<F>>): AsyncGenerator<StreamPart | F, StreamOutcome | undefined> {
    let ready = setup();
    if (ready instanceof Promise) ready = await ready;
    const state = new StreamState(ready, this.deps);
    this.begin(state.deadline);
    try {
      while (state.index < state.candidates.length) {
        const active = state.current;
        if (!active) {
          // Open a stream and wait for its first part (the budget's deadline rules here).
          const part = await this.openStream(state);
          if (part) yield part;
          if (state.held !== undefined) {
            // A resumption opened: its notice went first, its first part follows.
            const held = state.held;
            state.held = undefined;
            yield held;
          }
          continue;
        }
        // Pump the rest of the winning stream under the idle deadline.
        // A target that honours its signal needs no per-part guard: the watchdog's abort ends
        // its pending step, and the watchdog says why.
        const trusted = active.candidate.target.honoursAbort === true;
        const watchdog = new IdleWatchdog(state.options.idleMs, active.controller, active.candidate.target.id, trusted, this.deps.clock);
        try {
          for (;;) {
            let step: IteratorResult<StreamPart>;
            if (trusted) {
              watchdog.waiting();
              step = await active.iterator.next();
              watchdog.stepped();
            } else step = await watchdog.next(active.iterator);
            if (step.done) break;
            if (state.absorb(step.value, active.candidate.target.id)) yield step.value;
          }
          const outcome = this.streamSucceeded(state, active);
          if (state.setup.finish) yield state.setup.finish(outcome);
          return outcome;
        } catch (thrown) {
          this.streamBroke(state, active, watchdog.failure(), thrown);
        } finally {
          watchdog.stop();
        }
      }
      throw this.streamExhausted(state);
    } catch (error) {
      state.setup.failed?.(error);
      throw error;
    } finally {
      // Breaking out of `for await` or failing lands here too: abort whatever is still open, and
      // close its iterator as `for await` would (an adapter's own cleanup is in its `finally`).
      if (!state.finished && state.current) {
        state.current.controller.abort('done');
        closeQuietly(state.current.iterator);
      }
      this.end(state.deadline);
    }
  }

  /**
   * Opens the current candidate and waits for its first part. Returns the part to pass on (the
   * first text, or the `resumed` notice of a resumption that opened, its first part then held in
   * `state.held`), or undefined when the loop should simply go on (a retry, the next candidate,
   * or a first part that is not text).
   */
  private openStream<F>(state: StreamState<F>): Promise<StreamPart | undefined> | undefined {
    const { options, candidates, deadline, attempts } = state;
    const candidate = candidates[state.index];
    if (state.partial === '') this.throwIfDone(deadline, options, attempts, state.lastError);
    else {
      const aborted = abortedBy(deadline);
      if (aborted) throw aborted;
    }
    if (!this.deps.stats.tryAcquire(candidate.target.id, this.deps.clock.now())) {
      attempts.push(this.skipped(candidate, state.startedAt, 'circuit open'));
      state.next();
      return undefined;
    }
    const secondary = state.hedgeOn && state.retry === 0 && state.partial === '' ? this.hedgeCandidate(candidates, state.index, deadline, options.hedge || undefined) : undefined;
    if (secondary === undefined && candidate.target.honoursAbort === true && options.conversation?.prepare === undefined) return this.openDirect(state, candidate);
    return this.openRaced(state, candidate, secondary);
  }

  /**
   * `openStream` in the common case: one attempt, on a target that honours its signal, with no
   * hedge and no conversation to fit. It does what `openRaced` does through `start`, without its
   * promise layer and closures.
   */
  private async openDirect<F>(state: StreamState<F>, candidate: Candidate): Promise<StreamPart | undefined> {
    const { clock } = this.deps;
    const { options, candidates, deadline, startedAt, partial } = state;
    const target = candidate.target;
    // Alone and last (and not resuming), nothing aborts this attempt but the end of the call itself.
    const last = state.index === candidates.length - 1;
    const controller = last && !partial ? shared(deadline) : childController(deadline.signal).controller;
    const limitMs = this.openingLimit(state, state.index);
    const limitTimer = this.armLimit(controller, limitMs);
    const record: AttemptRecord = { target: target.id, outcome: 'error', startMs: clock.now() - startedAt, durationMs: 0 };
    state.attempts.push(record);
    let opening: Awaited<ReturnType<Executor['firstPart']>>;
    try {
      const ctx: CallContext = { signal: controller.signal, deadline: partial ? Number.POSITIVE_INFINITY : deadline.at, segment: options.segment, emit: this.emitFromAdapter };
      opening = await this.firstPart(state.setup.open(target, ctx, { retry: state.retry }, partial)[Symbol.asyncIterator](), controller.signal, target);
    } catch (error) {
      const failure = this.attemptError(error, controller, deadline, target, limitMs, options.budgetMs, partial !== '');
      this.failRecord(record, toInferlaneError(failure, target.id), startedAt, options, candidate, undefined);
      return this.openFailed(state, candidate, failure);
    } finally {
      if (limitTimer !== undefined) clock.clearTimeout(limitTimer);
    }
    return this.opened(state, { candidate, iterator: opening.iterator, controller, record }, opening.first.value as StreamPart, opening.early);
  }

  /** `openStream` in general: a hedge may race the primary, a conversation fits the messages. */
  private async openRaced<F>(state: StreamState<F>, candidate: Candidate, secondary: { candidate: Candidate; afterMs: number } | undefined): Promise<StreamPart | undefined> {
    const { options, candidates, deadline, attempts, startedAt, partial } = state;
    const parent = deadline.signal;
    const setup = state.setup;
    const openFirst = (which: Candidate, isHedge: boolean) =>
      this.start<{ iterator: AsyncIterator<StreamPart>; first: IteratorResult<StreamPart>; early: Usage | undefined }>(
        options,
        which,
        { signal: parent, at: partial ? Number.POSITIVE_INFINITY : deadline.at, abort: (cause) => deadline.abort(cause) },
        startedAt,
        attempts,
        (target, ctx, info) => this.firstPart(setup.open(target, ctx, info, partial)[Symbol.asyncIterator](), ctx.signal, target),
        state.retry,
        isHedge,
        this.openingLimit(state, candidates.indexOf(which)),
        // Alone and last (and not resuming): nothing aborts this attempt but the end of the call itself.
        isHedge || secondary !== undefined || partial !== '' || candidates.indexOf(which) < candidates.length - 1,
        partial !== '',
      );
    try {
      const primary = openFirst(candidate, false);
      const settled = secondary
        ? await this.race(options, primary, () => openFirst(secondary.candidate, true), secondary.afterMs, deadline, startedAt, (lost) => closeQuietly(lost.iterator))
        : await this.settleOpen(options, primary, startedAt);
      const winner = settled.started;
      if (settled.hedged) state.hedged = true;
      if (winner.candidate !== candidate) state.index = candidates.indexOf(winner.candidate);
      const { iterator, first, early } = settled.value;
      return this.opened(state, { candidate: winner.candidate, iterator, controller: winner.controller, record: winner.record, replica: winner.replica }, first.value as StreamPart, early);
    } catch (thrown) {
      return this.openFailed(state, candidate, thrown);
    }
  }

  /**
   * How long opening the candidate at `index` may wait for its first part: its share of the
   * budget when another candidate follows (none for the last); for a resumption, which has no
   * budget left to share, idleMs.
   */
  private openingLimit<F>(state: StreamState<F>, index: number): number | undefined {
    return state.partial ? state.options.idleMs : this.attemptLimit(state.candidates, index, state.deadline, 'ttft');
  }

  /**
   * A stream opened: it becomes the current one, the budget's timer stops, its first part is
   * taken in. A resumption announces itself now that it has really continued somewhere.
   */
  private opened<F>(state: StreamState<F>, current: ActiveStream, first: StreamPart, early: Usage | undefined): StreamPart | undefined {
    const now = this.deps.clock.now();
    state.current = current;
    if (state.ttftMs === undefined) state.ttftMs = now - state.startedAt;
    state.deadline.disarm();
    current.record.ttftMs = now - state.startedAt - current.record.startMs;
    if (early !== undefined) state.usage = mergeUsage(state.usage, early);
    const pass = state.absorb(first, current.candidate.target.id) ? first : undefined;
    const resumed = state.resumed;
    if (resumed === undefined) return pass;
    state.resumed = undefined;
    state.held = pass;
    return Object.assign({}, resumed, { toTarget: current.candidate.target.id });
  }

  /**
   * Opening failed (the attempt is already recorded): undefined when the loop should retry or go
   * to the next candidate (a resumption moves on), or a throw that ends it.
   */
  private async openFailed<F>(state: StreamState<F>, candidate: Candidate, thrown: unknown): Promise<undefined> {
    const { options, candidates, deadline, attempts, partial } = state;
    const error = this.classify(thrown, partial ? undefined : deadline, options, attempts);
    state.lastError = error;
    if ((thrown as { hedgeConsumedNext?: boolean })?.hedgeConsumedNext) state.index++;
    const next = candidates[state.index + 1];
    if (partial) {
      if (options.onStreamFailure === 'resume' && next && error.code !== 'ABORTED') {
        state.next();
        return undefined;
      }
      if (error.code === 'ABORTED') throw error;
      throw new StreamInterruptedError(partial, attempts, { cause: error, target: candidate.target.id });
    }
    if ((await this.afterFailure(options, error, state.retry, candidate, next, deadline, attempts, 'ttft', true)) === 'retry') {
      state.retry++;
      return undefined;
    }
    state.next();
    return undefined;
  }

  /** The winning stream ended well: records the attempt and builds the outcome. */
  private streamSucceeded<F>(state: StreamState<F>, active: ActiveStream): StreamOutcome {
    const { clock } = this.deps;
    const { options, startedAt } = state;
    active.record.outcome = 'ok';
    active.record.durationMs = clock.now() - startedAt - active.record.startMs;
    this.deps.stats.recordSuccess(active.candidate.target.id, { ttftMs: active.record.ttftMs, totalMs: active.record.durationMs }, clock.now());
    options.conversation?.settle?.(active.candidate.target, active.replica, true);
    this.emitAttempt(active.record, options);
    state.finished = true;
    return {
      candidate: active.candidate,
      attempts: state.attempts,
      text: state.partial,
      usage: state.usage,
      finishReason: state.finishReason,
      ttftMs: state.ttftMs,
      totalMs: clock.now() - startedAt,
      replica: active.replica,
      fellBack: active.candidate !== state.candidates[0],
      hedged: state.hedged,
    };
  }

  /**
   * The winning stream failed after its first part: moves to the next candidate when it may
   * resume there (the `resumed` notice waits until a candidate opens), else throws (aborted, or
   * StreamInterruptedError with the partial text).
   */
  private streamBroke<F>(state: StreamState<F>, active: ActiveStream, watchdogFailure: InferlaneError | undefined, thrown: unknown): void {
    const { options, partial } = state;
    const id = active.candidate.target.id;
    const error = abortedBy(state.deadline, id) ?? watchdogFailure ?? toInferlaneError(thrown, id);
    active.controller.abort('stream-failed');
    closeQuietly(active.iterator);
    state.lastError = error;
    this.failRecord(active.record, error, state.startedAt, options, active.candidate, active.replica);
    state.current = undefined;
    if (error.code === 'ABORTED') throw error;
    const next = state.candidates[state.index + 1];
    if (options.onStreamFailure === 'resume' && next) {
      state.resumed ??= { type: 'resumed', fromTarget: id, offset: partial.length, reason: error.code };
      state.next();
      return;
    }
    throw new StreamInterruptedError(partial, state.attempts, { cause: error, target: id });
  }

  /** Every candidate was tried: the error that ends the stream. */
  private streamExhausted<F>(state: StreamState<F>): InferlaneError {
    const { partial, attempts, lastError } = state;
    if (partial) return new StreamInterruptedError(partial, attempts, { cause: lastError });
    this.throwIfDone(state.deadline, state.options, attempts, lastError);
    return new AllTargetsFailedError(attempts, { cause: lastError, retryable: lastError?.retryable });
  }

  // -- pieces -------------------------------------------------------------------------------

  private emitAttempt(record: AttemptRecord, options: RunOptions): void {
    if (this.deps.listens && !this.deps.listens('attempt')) return;
    this.deps.emit('attempt', Object.assign({}, record, { operation: options.operation }));
  }

  /**
   * After a failed attempt: asks the retry policy, then either throws (stop), sleeps and says
   * 'retry' (same target), or says 'next' (the caller moves on; a `fallback` event when there is
   * somewhere to go).
   */
  private async afterFailure(
    options: RunOptions,
    error: InferlaneError,
    retry: number,
    candidate: Candidate,
    next: Candidate | undefined,
    deadline: Deadline,
    attempts: AttemptRecord[],
    metric: 'ttft' | 'total',
    mayRetry: boolean,
  ): Promise<'retry' | 'next'> {
    const decision = decide({
      error,
      retries: retry,
      remainingMs: deadline.remaining(),
      attemptMs: this.predict(candidate.target.id, metric, 0.5, candidate.predictedMs.p50),
      reserveMs: next ? this.predict(next.target.id, metric, 0.5, next.predictedMs.p50) : 0,
      hasNext: next !== undefined,
      settings: Object.assign({}, this.deps.retry, { maxRetries: options.maxRetries ?? this.deps.retry.maxRetries }),
      random: this.deps.random,
    });
    if (decision.action === 'stop') throw this.finalError(error, deadline, options, attempts, decision.reason);
    if (decision.action === 'retry' && mayRetry) {
      this.deps.emit('retry', { operation: options.operation, target: candidate.target.id, retry: retry + 1, delayMs: Math.round(decision.delayMs), reason: decision.reason, code: error.code });
      await sleep(decision.delayMs, deadline.signal, this.deps.clock).catch(() => undefined);
      return 'retry';
    }
    if (next) this.deps.emit('fallback', { operation: options.operation, from: candidate.target.id, to: next.target.id, reason: decision.reason, code: error.code });
    return 'next';
  }

  private hedgeCandidate(candidates: Candidate[], index: number, deadline: Deadline, hedge: HedgeOptions | undefined): { candidate: Candidate; afterMs: number } | undefined {
    const next = candidates[index + 1];
    if (!next) return undefined;
    const primary = candidates[index];
    const afterMs = hedge?.afterMs ?? this.predict(primary.target.id, 'ttft', hedge?.quantile ?? 0.9, primary.predictedMs.ttftP90);
    // A hedge that could not answer before the deadline only adds load.
    if (afterMs + this.predict(next.target.id, 'ttft', 0.5, next.predictedMs.p50) > deadline.remaining()) return undefined;
    return { candidate: next, afterMs };
  }

  /**
   * How long one attempt may run when another candidate follows: at least 1.5x its own p90, and
   * otherwise everything but a reserve for the next candidate (twice its p90, at least a quarter
   * and at most half of what remains). The last candidate gets all that remains.
   */
  private attemptLimit(candidates: Candidate[], index: number, deadline: Deadline, metric: 'ttft' | 'total'): number | undefined {
    const next = candidates[index + 1];
    if (!next) return undefined;
    const remaining = deadline.remaining();
    const own = this.predict(candidates[index].target.id, metric, 0.9, metric === 'ttft' ? candidates[index].predictedMs.ttftP90 : candidates[index].predictedMs.p90);
    const nextP90 = this.predict(next.target.id, metric, 0.9, metric === 'ttft' ? next.predictedMs.ttftP90 : next.predictedMs.p90);
    const reserve = Math.min(Math.max(2 * nextP90, remaining / 4), remaining / 2);
    const limit = Math.max(own * 1.5, remaining - reserve);
    return limit >= remaining ? undefined : limit;
  }

  private predict(targetId: string, metric: 'ttft' | 'total', q: number, fallback: number): number {
    return this.deps.stats.latency(targetId, metric, q) ?? fallback;
  }

  /**
   * One attempt on a target that honours its signal, with no hedge and no conversation to fit:
   * what `start` + `settle` do, in one async step. Records the attempt either way.
   */
  private async attemptDirect<T>(options: RunOptions, candidate: Candidate, deadline: Deadline, startedAt: number, attempts: AttemptRecord[], attemptFn: AttemptFn<T>, retry: number, limitMs: number | undefined): Promise<T> {
    const { clock } = this.deps;
    const target = candidate.target;
    const own = limitMs === undefined ? undefined : childController(deadline.signal);
    const controller = own === undefined ? shared(deadline) : own.controller;
    const limitTimer = this.armLimit(controller, limitMs);
    const record: AttemptRecord = { target: target.id, outcome: 'error', startMs: clock.now() - startedAt, durationMs: 0 };
    attempts.push(record);
    try {
      const value = await attemptFn(target, { signal: controller.signal, deadline: deadline.at, segment: options.segment, emit: this.emitFromAdapter }, { retry });
      this.succeedRecord(record, candidate, undefined, startedAt, options);
      return value;
    } catch (error) {
      const failure = this.attemptError(error, controller, deadline, target, limitMs, options.budgetMs);
      this.failRecord(record, toInferlaneError(failure, target.id), startedAt, options, candidate, undefined);
      throw failure;
    } finally {
      if (limitTimer !== undefined) clock.clearTimeout(limitTimer);
      own?.release();
    }
  }

  private start<T>(
    options: RunOptions,
    candidate: Candidate,
    deadline: Pick<Deadline, 'signal' | 'at' | 'abort'>,
    startedAt: number,
    attempts: AttemptRecord[],
    attemptFn: AttemptFn<T>,
    retry: number,
    hedge: boolean,
    limitMs?: number,
    own = true,
    resuming = false,
  ): Started<T> {
    const { clock } = this.deps;
    // Creating AbortControllers is a large share of the per-call cost: share the deadline's
    // signal when nothing aborts this attempt alone.
    const { controller, release } = own ? childController(deadline.signal) : { controller: shared(deadline), release: noop };
    // An attempt may not eat the time the next candidate needs (a hung primary must leave room).
    const limitTimer = this.armLimit(controller, limitMs);
    const record: AttemptRecord = { target: candidate.target.id, outcome: 'error', startMs: clock.now() - startedAt, durationMs: 0, ...(hedge ? { hedge: true } : {}) };
    attempts.push(record);
    let prepared: AttemptInfo['prepared'];
    let replica: number | undefined;
    // `replica` is known once the attempt settles (set in its finally, no extra reaction).
    const started = { candidate, controller, record, replica: undefined } as Started<T>;
    started.promise = (async () => {
      try {
        prepared = options.conversation?.prepare?.(candidate.target, retry);
        replica = prepared?.replica;
        if (replica !== undefined) record.replica = replica;
        const ctx: CallContext = {
          signal: controller.signal,
          deadline: deadline.at,
          segment: options.segment,
          promptCacheKey: prepared?.promptCacheKey,
          cacheBreakpoints: prepared?.cacheBreakpoints,
          replica,
          emit: this.emitFromAdapter,
        };
        // Never wait on an adapter past its signal: the budget rules even if an adapter is slow to notice.
        const attempt = attemptFn(candidate.target, ctx, { retry, prepared });
        return await (honours(options, candidate.target) ? attempt : abortable(attempt, controller.signal));
      } catch (error) {
        throw this.attemptError(error, controller, deadline, candidate.target, limitMs, options.budgetMs, resuming);
      } finally {
        if (limitTimer !== undefined) clock.clearTimeout(limitTimer);
        // A stream attempt goes on after it opens: it must still abort with the call (the
        // caller's abort mid-stream). Its link is a listener on this call's own deadline signal,
        // which goes away with the call, so there is nothing to release for it.
        if (options.operation !== 'stream') release();
        started.replica = replica;
      }
    })();
    return started;
  }

  /** Aborts one attempt alone when its share of the budget runs out (`attemptError` then says so). */
  private armLimit(controller: AbortController, limitMs: number | undefined): unknown {
    return limitMs === undefined ? undefined : this.deps.clock.setTimeout(() => controller.abort('attempt-timeout'), Math.max(0, limitMs));
  }

  /**
   * An attempt's error: the share-of-the-budget error when its own limit stopped it (the call
   * itself goes on), or the idle error when a resumption's first part did not come in time.
   *
   * When the call's own budget ran out under it, the adapter only saw its signal abort: the
   * attempt timed out (DEADLINE_EXCEEDED), it was not aborted (which is for callers, closing
   * clients and lost hedges). Such a timeout is the budget's verdict, not the target's: it is
   * marked so that it never counts against the circuit. (Counting it, a soak with random hangs
   * and tight budgets opened circuits until 80% of calls found no route; a provider that slows
   * down past a tight budget would be shut out with no way to measure its new latency.)
   */
  private attemptError(error: unknown, controller: AbortController, deadline: Pick<Deadline, 'signal' | 'at'>, target: Target, limitMs: number | undefined, budgetMs: number, resuming = false): unknown {
    const budgetGone = deadline.signal.aborted ? deadline.signal.reason === 'deadline' : deadline.at <= this.deps.clock.now();
    if (budgetGone) {
      const timeout = abortedAttempt(error) ? new DeadlineExceededError(budgetMs, { target: target.id, detail: `${target.id} had not answered`, cause: error }) : error;
      if (InferlaneError.isInstance(timeout) && timeout.code === 'DEADLINE_EXCEEDED') budgetTimeouts.add(timeout);
      return timeout;
    }
    if (deadline.signal.aborted || controller.signal.reason !== 'attempt-timeout') return error;
    const detail = resuming
      ? `no stream part from ${target.id} for ${limitMs} ms (idleMs) while resuming`
      : `${target.id} did not answer within its share of the budget, leaving time for the next target`;
    return new DeadlineExceededError(Math.round(limitMs ?? 0), { target: target.id, detail, cause: error });
  }

  private async settle<T>(options: RunOptions, started: Started<T>, startedAt: number): Promise<{ value: T; started: Started<T>; hedged: boolean }> {
    try {
      const value = await started.promise;
      this.succeedRecord(started.record, started.candidate, started.replica, startedAt, options);
      return { value, started, hedged: false };
    } catch (error) {
      this.failRecord(started.record, toInferlaneError(error, started.candidate.target.id), startedAt, options, started.candidate, started.replica);
      throw error;
    }
  }

  /** For streams: success is recorded when the stream ends, not when it opens; failure at once. */
  private async settleOpen<T>(options: RunOptions, started: Started<T>, startedAt: number): Promise<{ value: T; started: Started<T>; hedged: boolean }> {
    try {
      return { value: await started.promise, started, hedged: false };
    } catch (error) {
      this.failRecord(started.record, toInferlaneError(error, started.candidate.target.id), startedAt, options, started.candidate, started.replica);
      throw error;
    }
  }

  private succeedRecord(record: AttemptRecord, candidate: Candidate, replica: number | undefined, startedAt: number, options: RunOptions): void {
    const now = this.deps.clock.now();
    record.outcome = 'ok';
    record.durationMs = now - startedAt - record.startMs;
    this.deps.stats.recordSuccess(candidate.target.id, { totalMs: record.durationMs, ttftMs: record.durationMs }, now);
    options.conversation?.settle?.(candidate.target, replica, true);
    this.emitAttempt(record, options);
  }

  private failRecord(record: AttemptRecord, error: InferlaneError, startedAt: number, options: RunOptions | undefined, candidate: Candidate, replica: number | undefined): void {
    const now = this.deps.clock.now();
    record.outcome = error.code === 'ABORTED' ? 'aborted' : 'error';
    record.code = error.code;
    record.status = error.status;
    record.message = redact(error.message).slice(0, 200);
    record.durationMs = now - startedAt - record.startMs;
    if (record.outcome === 'error') {
      if (budgetTimeouts.has(error) || (options && this.inconclusiveTimeout(error, record, candidate, options))) this.deps.stats.recordInconclusive(candidate.target.id);
      else this.deps.stats.recordFailure(candidate.target.id, error, now);
    }
    options?.conversation?.settle?.(candidate.target, replica, false);
    if (options) this.emitAttempt(record, options);
  }

  /**
   * Runs the primary; if it has not answered after `afterMs`, starts the secondary too. The
   * first to succeed wins and the other is aborted (its connection closes). A primary that fails
   * before the hedge starts is reported like any failure. When both fail, the error carries
   * `hedgeConsumedNext` so the caller skips the candidate the hedge already used.
   */
  private async race<T>(
    options: RunOptions,
    primary: Started<T>,
    startSecondary: () => Started<T>,
    afterMs: number,
    deadline: Deadline,
    startedAt: number,
    discard?: (value: T) => void,
  ): Promise<{ value: T; started: Started<T>; hedged: boolean }> {
    const { clock } = this.deps;
    const isStream = options.operation === 'stream';
    const settleOne = (started: Started<T>) =>
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
    if (first !== 'hedge' || deadline.signal.aborted || !this.deps.hedgeBudget.take()) {
      return isStream ? this.settleOpen(options, primary, startedAt) : this.settle(options, primary, startedAt);
    }
    const secondary = startSecondary();
    const secondaryResult = settleOne(secondary);
    const report = (winner: string) =>
      this.deps.emit('hedge', { operation: options.operation, primary: primary.candidate.target.id, hedge: secondary.candidate.target.id, afterMs: Math.round(afterMs), winner });
    const fail = (result: { error: unknown; started: Started<T> }) =>
      this.failRecord(result.started.record, toInferlaneError(result.error, result.started.candidate.target.id), startedAt, options, result.started.candidate, result.started.replica);
    const win = (result: { value: T; started: Started<T> }, loser?: Started<T>) => {
      if (loser) {
        loser.controller.abort('hedge-lost');
        // A loser that had already opened (a stream) is let go of as well.
        if (discard) loser.promise.then(discard, noop);
        loser.record.outcome = 'aborted';
        loser.record.code = 'ABORTED';
        loser.record.message = 'lost the hedge';
        loser.record.durationMs = clock.now() - startedAt - loser.record.startMs;
        this.emitAttempt(loser.record, options);
      }
      if (!isStream) this.succeedRecord(result.started.record, result.started.candidate, result.started.replica, startedAt, options);
      report(result.started.candidate.target.id);
      return { value: result.value, started: result.started, hedged: true };
    };
    const firstDone = await Promise.race([primaryResult, secondaryResult]);
    const other = firstDone.started === primary ? secondary : primary;
    if (firstDone.ok) return win(firstDone, other);
    fail(firstDone);
    const secondDone = await (firstDone.started === primary ? secondaryResult : primaryResult);
    if (secondDone.ok) return win(secondDone);
    fail(secondDone);
    report('none');
    const wrapped = toInferlaneError(secondDone.error);
    throw Object.assign(wrapped, { hedgeConsumedNext: true });
  }

  /** Waits for a stream's first part (usage that comes first is kept aside, not a first token). */
  private async firstPart(iterator: AsyncIterator<StreamPart>, signal: AbortSignal, target: Target): Promise<{ iterator: AsyncIterator<StreamPart>; first: IteratorResult<StreamPart>; early: Usage | undefined }> {
    const trusted = target.honoursAbort === true;
    let early: Usage | undefined;
    try {
      for (;;) {
        const first = await (trusted ? iterator.next() : abortable(iterator.next(), signal));
        checkFirstPart(first, signal, target.id);
        if (first.done || first.value.type !== 'usage') return { iterator, first, early };
        early = mergeUsage(early, first.value.usage);
      }
    } catch (error) {
      // This attempt is over: let the adapter clean up (an error part left it suspended).
      closeQuietly(iterator);
      throw error;
    }
  }

  /**
   * A timeout that says nothing about the target's health: it came after less time than the
   * target usually needs (p90 of its first token for streams, of the whole answer otherwise), so
   * the call's budget was too tight for it; or on a device target that has not answered yet (its
   * model still loading). Counting these let a burst of tight budgets on a busy or loading device
   * open its circuit and refuse, for up to a minute, the calls that had room to wait (found by an
   * on-device soak). Slowness still reaches the router through the latency of the calls that answer.
   */
  private inconclusiveTimeout(error: InferlaneError, record: AttemptRecord, candidate: Candidate, options: RunOptions): boolean {
    if (error.code !== 'DEADLINE_EXCEEDED') return false;
    const target = candidate.target;
    const stats = this.deps.stats;
    if (target.kind === 'device' && !stats.answered(target.id)) return true;
    const usual = stats.latency(target.id, options.operation === 'stream' ? 'ttft' : 'total', 0.9) ?? candidate.predictedMs.p90;
    return record.durationMs < usual;
  }

  private skipped(candidate: Candidate, startedAt: number, reason: string): AttemptRecord {
    return { target: candidate.target.id, outcome: 'skipped', message: reason, startMs: this.deps.clock.now() - startedAt, durationMs: 0 };
  }

  private classify(thrown: unknown, deadline: Deadline | undefined, options: RunOptions, attempts: AttemptRecord[]): InferlaneError {
    const aborted = deadline && abortedBy(deadline);
    if (aborted) return aborted;
    if (options.abortSignal?.aborted) return new AbortedError();
    if (deadline?.cause() === 'deadline') return new DeadlineExceededError(options.budgetMs, { detail: describeAttempts(attempts) });
    return toInferlaneError(thrown);
  }

  private throwIfDone(deadline: Deadline, options: RunOptions, attempts: AttemptRecord[], lastError: InferlaneError | undefined): void {
    const aborted = abortedBy(deadline);
    if (aborted) throw aborted;
    if (options.abortSignal?.aborted) throw new AbortedError();
    if (deadline.cause() === 'deadline' || deadline.remaining() <= 0) {
      throw new DeadlineExceededError(options.budgetMs, { detail: describeAttempts(attempts), cause: lastError });
    }
  }

  private finalError(error: InferlaneError, deadline: Deadline, options: RunOptions, attempts: AttemptRecord[], reason: string): InferlaneError {
    if (error.code === 'ABORTED' || error.code === 'DEADLINE_EXCEEDED' || error.code === 'INVALID_REQUEST') return error;
    if (error.code === 'PROVIDER_ERROR' && !error.retryable) return error;
    if (deadline.cause() === 'deadline') return new DeadlineExceededError(options.budgetMs, { detail: describeAttempts(attempts), cause: error });
    if (attempts.length <= 1) return error;
    return new AllTargetsFailedError(attempts, { cause: error, retryable: error.retryable });
  }
}

/** The stream that is running: where its parts come from and what ends them. */
interface ActiveStream {
  candidate: Candidate;
  iterator: AsyncIterator<StreamPart>;
  controller: AbortController;
  record: AttemptRecord;
  replica?: number;
}

/** Everything one stream call keeps across attempts (fields, not generator locals: see `stream`). */
class StreamState<F> {
  readonly setup: StreamSetup<F>;
  readonly options: StreamSetup<F>['options'];
  readonly startedAt: number;
  readonly deadline: Deadline;
  readonly attempts: AttemptRecord[] = [];
  readonly candidates: Candidate[];
  readonly hedgeOn: boolean;
  /** Text passed on so far (a resumption sends it as an assistant message). */
  partial = '';
  usage: Usage | undefined = undefined;
  finishReason: StreamOutcome['finishReason'] = 'stop';
  ttftMs: number | undefined = undefined;
  current: ActiveStream | undefined = undefined;
  hedged = false;
  finished = false;
  lastError: InferlaneError | undefined = undefined;
  index = 0;
  retry = 0;
  /** A resumption under way: its notice, told once a candidate opens (`toTarget` then filled in). */
  resumed: Omit<Extract<StreamPart, { type: 'resumed' }>, 'toTarget'> | undefined = undefined;
  /** The first part of a resumed stream, passed on after its notice. */
  held: StreamPart | undefined = undefined;

  constructor(setup: StreamSetup<F>, deps: ExecutorDeps) {
    const options = setup.options;
    this.setup = setup;
    this.options = options;
    this.startedAt = deps.clock.now();
    const firstTokenBudget = Math.min(options.firstTokenMs ?? options.budgetMs, options.budgetMs);
    // Errors before the first part report the first-token budget that ran out. Opening waits for
    // the first part through `firstPart`, which already races the signal (attemptsHonourSignal).
    // (The options are this call's own object, so they are set in place rather than copied.)
    options.budgetMs = firstTokenBudget;
    options.attemptsHonourSignal = true;
    // After the first part the budget no longer applies (the deadline is disarmed); the caller's
    // signal still does, through the same deadline signal.
    this.deadline = new CallDeadline(firstTokenBudget, deps.clock, options.abortSignal);
    this.candidates = options.plan.candidates;
    this.hedgeOn = options.hedge !== false && options.hedge !== undefined;
    if (this.hedgeOn) deps.hedgeBudget.deposit();
  }

  /** Moves on to the next candidate. */
  next(): void {
    this.index++;
    this.retry = 0;
  }

  /** Takes in one part: text accumulates (and is passed on: true), usage and finish are kept, errors throw. */
  absorb(part: StreamPart, targetId: string): boolean {
    if (part.type === 'text-delta') {
      this.partial += part.text;
      return true;
    }
    if (part.type === 'usage') this.usage = mergeUsage(this.usage, part.usage);
    else if (part.type === 'finish') {
      this.finishReason = part.finishReason;
      this.usage = mergeUsage(this.usage, part.usage);
    } else if (part.type === 'error') throw toInferlaneError(part.error, targetId);
    return false;
  }
}

/** What a stream runs with: its options, how to open it on a target, and how it ends. */
export interface StreamSetup<F> {
  options: RunOptions & {
    idleMs: number;
    firstTokenMs?: number;
    onStreamFailure: 'resume' | 'error';
  };
  /** Opens the stream on `target`; `partialText` is what an earlier target already said (resumption). */
  open(target: Target, ctx: CallContext, attempt: AttemptInfo, partialText: string): AsyncIterable<StreamPart>;
  /** Builds the last part from the outcome (the client's finish part with its route). */
  finish?(outcome: StreamOutcome): F;
  /** Told of the error that ends the stream, before it is thrown. */
  failed?(error: unknown): void;
}

/** The idle deadline of one started stream (see `IdleWatchdog`). */
interface Watchdog {
  /** The next step, failed at once when the stream idles out or is aborted (any iterator). */
  next<P>(iterator: AsyncIterator<P>): Promise<IteratorResult<P>>;
  /** Before awaiting a step of an iterator that honours its signal (no guard promise). */
  waiting(): void;
  /** After that step: throws the watchdog's failure when it fired meanwhile. */
  stepped(): void;
  /** Why the watchdog ended the stream, if it did. */
  failure(): InferlaneError | undefined;
  stop(): void;
}

/**
 * The idle deadline of a started stream: one timer per stream instead of one per part, re-armed
 * only when it fires. Only time spent waiting on the provider counts: a caller that holds a part
 * for a while (writing it to a slow socket, say) does not make the provider idle. It also fails
 * the pending step at once when the attempt is aborted, so a hung iterator never holds the caller.
 * (A class: one object per stream rather than a closure per method.)
 */
class IdleWatchdog implements Watchdog {
  private timer: unknown;
  private failed: unknown = undefined;
  /** When the pending `next()` started waiting; undefined while the caller holds a part. */
  private waitingSince: number | undefined = undefined;
  /**
   * The pending step's reject: one settle function per part instead of a Promise.race, whose
   * reactions on a long-lived promise would pile up for the whole stream.
   */
  private rejectStep: ((error: unknown) => void) | undefined = undefined;
  private readonly onAbort: (() => void) | undefined = undefined;

  constructor(
    private readonly idleMs: number,
    private readonly controller: AbortController,
    private readonly targetId: string,
    private readonly trusted: boolean,
    private readonly clock: Clock,
  ) {
    this.timer = clock.setTimeout(() => this.check(), idleMs);
    // Already aborted (the caller aborted while holding the first part): fail the first step.
    if (controller.signal.aborted) this.fail(new AbortedError('aborted'));
    // Only a guarded step needs waking on abort; a trusted one is checked when it returns.
    else if (!trusted) {
      this.onAbort = () => this.fail(new AbortedError('aborted'));
      controller.signal.addEventListener('abort', this.onAbort, { once: true });
    }
  }

  waiting(): void {
    if (this.failed !== undefined) throw this.failed;
    this.waitingSince = this.clock.now();
  }

  stepped(): void {
    this.waitingSince = undefined;
    if (this.failed === undefined && this.controller.signal.aborted) this.failed = new AbortedError('aborted');
    if (this.failed !== undefined) throw this.failed;
  }

  failure(): InferlaneError | undefined {
    return this.failed as InferlaneError | undefined;
  }

  next<P>(iterator: AsyncIterator<P>): Promise<IteratorResult<P>> {
    if (this.failed !== undefined) return Promise.reject(this.failed);
    this.waitingSince = this.clock.now();
    return new Promise<IteratorResult<P>>((resolve, reject) => {
      this.rejectStep = reject;
      iterator.next().then(
        (step) => {
          this.settled();
          resolve(step);
        },
        (error: unknown) => {
          this.settled();
          reject(error);
        },
      );
    });
  }

  stop(): void {
    this.clock.clearTimeout(this.timer);
    if (this.onAbort) this.controller.signal.removeEventListener('abort', this.onAbort);
    this.settled();
  }

  private check(): void {
    const idle = this.waitingSince === undefined ? 0 : this.clock.now() - this.waitingSince;
    if (idle >= this.idleMs) {
      // Fail first: aborting wakes the abort listener, which must not decide the error.
      this.fail(new DeadlineExceededError(this.idleMs, { target: this.targetId, detail: `no stream part for ${this.idleMs} ms (idleMs)` }));
      this.controller.abort('stream-timeout');
    } else this.timer = this.clock.setTimeout(() => this.check(), this.idleMs - idle);
  }

  private fail(error: unknown): void {
    if (this.failed !== undefined) return;
    this.failed = error;
    this.rejectStep?.(error);
  }

  private settled(): void {
    this.waitingSince = undefined;
    this.rejectStep = undefined;
  }
}

export interface StreamOutcome {
  candidate: Candidate;
  attempts: AttemptRecord[];
  text: string;
  usage?: Usage;
  finishReason: Extract<StreamPart, { type: 'finish' }>['finishReason'];
  ttftMs?: number;
  totalMs: number;
  replica?: number;
  fellBack: boolean;
  hedged: boolean;
}

/** Attempt timeouts that were the call's whole budget running out (see `attemptError`): never charged to a circuit. */
const budgetTimeouts = new WeakSet<InferlaneError>();

/** An attempt that ended because its signal fired (the adapter's AbortedError, or a bare AbortError). */
function abortedAttempt(error: unknown): boolean {
  return InferlaneError.isInstance(error) ? error.code === 'ABORTED' : isAbortError(error);
}

function describeAttempts(attempts: AttemptRecord[]): string {
  if (attempts.length === 0) return 'no attempt could start';
  return attempts.map((a) => `${a.target} ${a.outcome}${a.code ? ` ${a.code}` : ''} after ${Math.round(a.durationMs)} ms`).join('; ');
}

const noop = () => undefined;

/** The error of a call its caller aborted, or that the client's `close()` ended; undefined otherwise. */
function abortedBy(deadline: Deadline, target?: string): AbortedError | undefined {
  const cause = deadline.cause();
  if (cause === 'caller') return new AbortedError(undefined, { target });
  if (cause === 'closed') return new AbortedError('the client closed before the call finished (close() waits graceMs for calls in flight, then ends them)', { target });
  return undefined;
}

/** The call's own deadline as an attempt's controller, for the only attempt in flight: aborting it ends the call. */
function shared(deadline: Pick<Deadline, 'signal' | 'abort'>): AbortController {
  return { signal: deadline.signal, abort: () => deadline.abort('done') } as unknown as AbortController;
}

function honours(options: RunOptions, target: Target): boolean {
  const setting = options.attemptsHonourSignal;
  return typeof setting === 'function' ? setting(target) : setting === true;
}

/**
 * Checks a stream's first step: an abort that a trusted iterator answered by ending quietly, an
 * empty stream and an error part are all failures of this attempt (the next target may answer).
 */
function checkFirstPart(step: IteratorResult<StreamPart>, signal: AbortSignal, targetId: string): void {
  if (signal.aborted) throw new AbortedError('aborted');
  if (step.done) throw new InferlaneError('PROVIDER_ERROR', 'the stream ended before any part', { retryable: true, target: targetId });
  if (step.value.type === 'error') throw toInferlaneError(step.value.error, targetId);
}

/**
 * Closes an iterator we stop reading, as `for await` does on `break`: an adapter's generator runs
 * its `finally`. A close that fails, or never ends (a hung adapter), changes nothing for the call.
 */
function closeQuietly(iterator: AsyncIterator<unknown>): void {
  try {
    const closing = iterator.return?.();
    if (closing && typeof closing.then === 'function') closing.then(undefined, noop);
  } catch {
    // Nothing more to read from it either way.
  }
}

/** Rejects as soon as `signal` aborts, even if `promise` never settles (a hung iterator). */
function abortable<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) {
    promise.catch(() => undefined);
    return Promise.reject(new AbortedError('aborted'));
  }
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      promise.catch(() => undefined);
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

