/**
 * The stream run: one stream call across its candidates. Opening (a candidate, maybe hedged,
 * until its first part, under the budget's deadline), taking parts in, and what follows a
 * failure: before the first part a failing stream falls back like any call; after it, it resumes
 * on the next candidate with the partial answer as an assistant message (announced by a
 * `resumed` part once the resumption has really opened), or ends with StreamInterruptedError
 * carrying the partial text.
 *
 * The per-part loop itself stays in the executor's generator (see `Executor.stream`); everything
 * that runs once per attempt lives here, as methods over the run's own fields rather than
 * generator locals.
 *
 * Imports: errors, router/types and target (types), time/child-controller, ./attempt,
 * ./budget-shares, ./call-scope, ./deadline, ./failover, ./hedge-race, ./ledger (types),
 * ./verdicts, ./types (types).
 */
import { AbortedError, InferlaneError, StreamInterruptedError, toInferlaneError } from '../errors.js';
import type { Candidate } from '../router/types.js';
import { type CallContext, mergeUsage, type StreamPart, type Target, type Usage } from '../target.js';
import { childController } from '../time/child-controller.js';
import { abortable, armLimit, type AttemptResult, settle, shared, startAttempt } from './attempt.js';
import { openingLimit } from './budget-shares.js';
import { abortedBy, CallScope, type ExecutorParts } from './call-scope.js';
import { abortWith, CallDeadline } from './deadline.js';
import { afterFailure } from './failover.js';
import { hedgeFor, race } from './hedge-race.js';
import type { AttemptEntry } from './ledger.js';
import type { AttemptFn, StreamOutcome, StreamSetup } from './types.js';
import { attemptFailure } from './verdicts.js';

/** The stream that is running: where its parts come from and what ends them. */
export interface ActiveStream {
  entry: AttemptEntry;
  iterator: AsyncIterator<StreamPart>;
  controller: AbortController;
  /** Its target honours its signal: no per-part guard is needed (the watchdog's abort ends a pending step). */
  trusted: boolean;
}

/** A stream's opening: the iterator, its first part, and usage that came before it. */
interface Opening {
  iterator: AsyncIterator<StreamPart>;
  first: IteratorResult<StreamPart>;
  early: Usage | undefined;
}

export class StreamRun<F> extends CallScope {
  /** Text passed on so far (a resumption sends it as an assistant message). */
  partial = '';
  usage: Usage | undefined = undefined;
  finishReason: StreamOutcome['finishReason'] = 'stop';
  ttftMs: number | undefined = undefined;
  current: ActiveStream | undefined = undefined;
  hedged = false;
  finished = false;
  /** A resumption under way: its notice, told once a candidate opens (`toTarget` then filled in). */
  resumed: Omit<Extract<StreamPart, { type: 'resumed' }>, 'toTarget'> | undefined = undefined;
  /** The first part of a resumed stream, passed on after its notice. */
  held: StreamPart | undefined = undefined;
  declare readonly options: StreamSetup<F>['options'];

  constructor(
    readonly setup: StreamSetup<F>,
    parts: ExecutorParts,
  ) {
    const options = setup.options;
    // Errors before the first part report the first-token budget that ran out. (The options are
    // this call's own object, so they are set in place rather than copied.) After the first part
    // the budget no longer applies (the deadline is disarmed); the caller's signal still does,
    // through the same deadline signal.
    const firstTokenBudget = Math.min(options.firstTokenMs ?? options.budgetMs, options.budgetMs);
    options.budgetMs = firstTokenBudget;
    super(parts, options, new CallDeadline(firstTokenBudget, parts.deps.clock, options.abortSignal), 'ttft');
  }

  override get resuming(): boolean {
    return this.partial !== '';
  }

  /** Opening an attempt: the stream, and its first part. */
  private readonly openAttempt: AttemptFn<Opening> = (target, ctx, info) =>
    firstPart(this.setup.open(target, ctx, info, this.partial)[Symbol.asyncIterator](), ctx.signal, target);

  /**
   * Opens the current candidate and waits for its first part. Returns the part to pass on (the
   * first text, or the `resumed` notice of a resumption that opened, its first part then held in
   * `held`), or undefined when the loop should simply go on (a retry, the next candidate, or a
   * first part that is not text).
   */
  open(): Promise<StreamPart | undefined> | undefined {
    const candidate = this.candidates[this.index];
    if (this.partial === '') this.throwIfDone();
    else {
      const aborted = abortedBy(this.deadline);
      if (aborted) throw aborted;
    }
    const { deps, ledger } = this.parts;
    if (!deps.stats.tryAcquire(candidate.target.id, deps.clock.now())) {
      ledger.skip(this, candidate, 'circuit open');
      this.next();
      return undefined;
    }
    const secondary = this.hedgeOn && this.retry === 0 && this.partial === '' ? hedgeFor(this, this.index) : undefined;
    const runner = this.runnerOf(candidate);
    if (secondary === undefined && runner.honoursAbort === true && this.options.conversation?.prepare === undefined) return this.openDirect(candidate, runner);
    return this.openRaced(candidate, secondary);
  }

  /**
   * `open` in the common case: one attempt, on a target that honours its signal, with no hedge
   * and no conversation to fit. It does what `openRaced` does through `startAttempt`, without its
   * promise layer and closures.
   */
  private async openDirect(candidate: Candidate, target: Target): Promise<StreamPart | undefined> {
    const { deps, ledger, adapterEmit } = this.parts;
    const { deadline, partial } = this;
    // Alone and last (and not resuming), nothing aborts this attempt but the end of the call itself.
    const last = this.index === this.candidates.length - 1;
    const controller = last && !partial ? shared(deadline) : childController(deadline.signal).controller;
    const limitMs = this.limitAt(this.index);
    const limitTimer = armLimit(this, controller, limitMs);
    const entry = ledger.open(this, candidate, false);
    const budgetAt = this.budgetAt;
    let opening: Opening;
    try {
      const ctx: CallContext = { signal: controller.signal, deadline: budgetAt, segment: this.options.segment, emit: adapterEmit };
      opening = await firstPart(this.setup.open(target, ctx, { retry: this.retry }, partial)[Symbol.asyncIterator](), controller.signal, target);
    } catch (error) {
      const failure = attemptFailure(error, entry, { controller, limitMs, resuming: partial !== '' }, deadline, budgetAt, candidate.target, this.options.budgetMs, deps.clock.now());
      ledger.fail(this, entry, toInferlaneError(failure, candidate.target.id));
      return this.openFailed(failure, false);
    } finally {
      if (limitTimer !== undefined) deps.clock.clearTimeout(limitTimer);
    }
    return this.opened({ entry, iterator: opening.iterator, controller, trusted: true }, opening.first.value as StreamPart, opening.early);
  }

  /** `open` in general: a hedge may race the primary, a conversation fits the messages. */
  private async openRaced(candidate: Candidate, secondary: { candidate: Candidate; afterMs: number } | undefined): Promise<StreamPart | undefined> {
    const { candidates, partial } = this;
    const openFirst = (which: Candidate, hedge: boolean) => {
      const index = candidates.indexOf(which);
      // Alone and last (and not resuming): nothing aborts this attempt but the end of the call itself.
      const own = hedge || secondary !== undefined || partial !== '' || index < candidates.length - 1;
      return startAttempt(this, which, this.openAttempt, { hedge, limitMs: this.limitAt(index), own });
    };
    let result: AttemptResult<Opening>;
    try {
      const primary = openFirst(candidate, false);
      result = secondary
        ? await race(this, primary, () => openFirst(secondary.candidate, true), secondary.afterMs, false, (lost) => closeQuietly(lost.iterator))
        : await settle(this, primary, false);
    } catch (thrown) {
      return this.openFailed(thrown, false);
    }
    if (!result.ok) return this.openFailed(result.error, result.consumedNext);
    const winner = result.started;
    const won = winner.entry.candidate;
    if (result.hedged) this.hedged = true;
    if (won !== candidate) this.index = candidates.indexOf(won);
    const { iterator, first, early } = result.value;
    const trusted = this.runnerOf(won).honoursAbort === true;
    return this.opened({ entry: winner.entry, iterator, controller: winner.controller, trusted }, first.value as StreamPart, early);
  }

  /** How long opening the candidate at `index` may wait for its first part (see budget-shares). */
  private limitAt(index: number): number | undefined {
    return openingLimit(this.parts.deps.stats, this.candidates, index, this.deadline.remaining(), this.partial ? this.options.idleMs : undefined);
  }

  /**
   * A stream opened: it becomes the current one, the budget's timer stops, its first part is
   * taken in. A resumption announces itself now that it has really continued somewhere.
   */
  private opened(current: ActiveStream, first: StreamPart, early: Usage | undefined): StreamPart | undefined {
    const now = this.parts.deps.clock.now();
    this.current = current;
    if (this.ttftMs === undefined) this.ttftMs = now - this.startedAt;
    this.deadline.disarm();
    const record = current.entry.record;
    record.ttftMs = now - this.startedAt - record.startMs;
    if (early !== undefined) this.usage = mergeUsage(this.usage, early);
    const pass = this.absorb(first, current.entry.candidate.target.id) ? first : undefined;
    const resumed = this.resumed;
    if (resumed === undefined) return pass;
    this.resumed = undefined;
    this.held = pass;
    return Object.assign({}, resumed, { toTarget: current.entry.candidate.target.id });
  }

  /**
   * Opening failed (the attempt is already recorded): undefined when the loop should retry or go
   * to the next candidate (a resumption moves on), or a throw that ends it.
   */
  private async openFailed(thrown: unknown, consumedNext: boolean): Promise<undefined> {
    const { partial } = this;
    const candidate = this.candidates[this.index];
    const error = this.classify(thrown, partial === '');
    this.lastError = error;
    if (partial) {
      const next = this.candidates[this.index + 1];
      if (this.options.onStreamFailure === 'resume' && next && error.code !== 'ABORTED') {
        this.next();
        return undefined;
      }
      if (error.code === 'ABORTED') throw error;
      throw new StreamInterruptedError(partial, this.attempts, { cause: error, target: candidate.target.id });
    }
    // A stream whose hedge used the next candidate may still retry (on the hedge's candidate, then).
    if ((await afterFailure(this, error, consumedNext, true)) === 'retry') {
      this.retry++;
      return undefined;
    }
    this.next();
    return undefined;
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

  /** The current stream ended well: records its attempt and builds the outcome. */
  succeeded(active: ActiveStream): StreamOutcome {
    const { entry } = active;
    this.parts.ledger.succeed(this, entry, entry.record.ttftMs);
    this.finished = true;
    return {
      candidate: entry.candidate,
      attempts: this.attempts,
      text: this.partial,
      usage: this.usage,
      finishReason: this.finishReason,
      ttftMs: this.ttftMs,
      totalMs: this.parts.deps.clock.now() - this.startedAt,
      replica: entry.replica,
      fellBack: entry.candidate !== this.candidates[0],
      hedged: this.hedged,
    };
  }

  /**
   * The current stream failed after its first part: moves to the next candidate when it may
   * resume there (the `resumed` notice waits until a candidate opens), else throws (aborted, or
   * StreamInterruptedError with the partial text).
   */
  broke(active: ActiveStream, watchdogFailure: InferlaneError | undefined, thrown: unknown): void {
    const { partial } = this;
    const id = active.entry.candidate.target.id;
    const error = abortedBy(this.deadline, id) ?? watchdogFailure ?? toInferlaneError(thrown, id);
    abortWith(active.controller, 'stream-failed');
    closeQuietly(active.iterator);
    this.lastError = error;
    this.parts.ledger.fail(this, active.entry, error);
    this.current = undefined;
    if (error.code === 'ABORTED') throw error;
    const next = this.candidates[this.index + 1];
    if (this.options.onStreamFailure === 'resume' && next) {
      this.resumed ??= { type: 'resumed', fromTarget: id, offset: partial.length, reason: error.code };
      this.next();
      return;
    }
    throw new StreamInterruptedError(partial, this.attempts, { cause: error, target: id });
  }

  /** Every candidate was tried: the error that ends the stream. */
  override exhausted(): InferlaneError {
    if (this.partial) return new StreamInterruptedError(this.partial, this.attempts, { cause: this.lastError });
    return super.exhausted();
  }

  /** Breaking out of `for await`, or failing: whatever is still open is aborted and its iterator closed. */
  release(): void {
    if (this.finished || !this.current) return;
    abortWith(this.current.controller, 'done');
    closeQuietly(this.current.iterator);
  }
}

/** Waits for a stream's first part (usage that comes first is kept aside, not a first token). */
async function firstPart(iterator: AsyncIterator<StreamPart>, signal: AbortSignal, target: Target): Promise<Opening> {
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
export function closeQuietly(iterator: AsyncIterator<unknown>): void {
  try {
    const closing = iterator.return?.();
    if (closing && typeof closing.then === 'function') closing.then(undefined, noop);
  } catch {
    // Nothing more to read from it either way.
  }
}

const noop = (): undefined => undefined;
