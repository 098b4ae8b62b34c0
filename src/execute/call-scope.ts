/**
 * The call scope: everything one call keeps while it runs (its options, deadline, start, the
 * candidates and where it stands among them, its attempts and last error), and the verdicts on
 * the call as a whole: has it ended (aborted, out of budget), and with which error.
 *
 * One object per call, read by every room (attempt, hedge race, failover, stream run) instead of
 * a dozen positional arguments threaded through them.
 *
 * Imports: errors, router/types and target (types), ./deadline, ./ledger, ./types (types).
 */
import { AbortedError, AllTargetsFailedError, type AttemptRecord, DeadlineExceededError, type InferlaneError, toInferlaneError } from '../errors.js';
import type { Candidate } from '../router/types.js';
import type { CallContext, Target } from '../target.js';
import type { Deadline } from './deadline.js';
import type { Ledger, LedgerCall } from './ledger.js';
import type { ExecutorDeps, RunOptions } from './types.js';

/** What every call of one executor shares: its dependencies, its ledger, the adapters' event sink. */
export interface ExecutorParts {
  readonly deps: ExecutorDeps;
  readonly ledger: Ledger;
  /** What adapters get as `ctx.emit` (one function for every attempt, not a closure per attempt). */
  readonly adapterEmit: CallContext['emit'];
}

export class CallScope implements LedgerCall {
  readonly startedAt: number;
  readonly attempts: AttemptRecord[] = [];
  readonly candidates: Candidate[];
  /** Whether this call may hedge (its budget deposited a token for it). */
  readonly hedgeOn: boolean;
  lastError: InferlaneError | undefined = undefined;
  /** The candidate being tried, and the retry on it (0 = first try). */
  index = 0;
  retry = 0;

  constructor(
    readonly parts: ExecutorParts,
    readonly options: RunOptions,
    readonly deadline: Deadline,
    /** Which latency budget shares and retries reckon with: the first part (streams) or the whole answer. */
    readonly metric: 'ttft' | 'total',
  ) {
    this.startedAt = parts.deps.clock.now();
    this.candidates = options.plan.candidates;
    this.hedgeOn = options.hedge !== false && options.hedge !== undefined;
    if (this.hedgeOn) parts.deps.hedgeBudget.deposit();
  }

  /** Whether the attempts now are a stream's resumption (no budget left to share: idleMs rules them). */
  get resuming(): boolean {
    return false;
  }

  /** When the budget ends for the attempts now, ms since epoch (never, for a resumption). */
  get budgetAt(): number {
    return this.resuming ? Number.POSITIVE_INFINITY : this.deadline.at;
  }

  /** The target an attempt on `candidate` runs on (see `RunOptions.runnerFor`). */
  runnerOf(candidate: Candidate): Target {
    const runnerFor = this.options.runnerFor;
    return runnerFor === undefined ? candidate.target : runnerFor(candidate.target);
  }

  /** Moves on to the next candidate. */
  next(): void {
    this.index++;
    this.retry = 0;
  }

  /** Throws when the call has ended: aborted by its caller or a closing client, or out of budget. */
  throwIfDone(): void {
    const aborted = abortedBy(this.deadline);
    if (aborted) throw aborted;
    if (this.options.abortSignal?.aborted) throw new AbortedError();
    if (this.deadline.cause() === 'deadline' || this.deadline.remaining() <= 0) {
      throw new DeadlineExceededError(this.options.budgetMs, { detail: describeAttempts(this.attempts), cause: this.lastError });
    }
  }

  /**
   * The error a failed attempt leaves the call with: the call's own end when it has ended (unless
   * `ofCall` is false: a resumption outlives the budget), else the attempt's error.
   */
  classify(thrown: unknown, ofCall = true): InferlaneError {
    if (ofCall) {
      const aborted = abortedBy(this.deadline);
      if (aborted) return aborted;
    }
    if (this.options.abortSignal?.aborted) return new AbortedError();
    if (ofCall && this.deadline.cause() === 'deadline') return new DeadlineExceededError(this.options.budgetMs, { detail: describeAttempts(this.attempts) });
    return toInferlaneError(thrown);
  }

  /** The error that ends the call when the retry policy says stop after `error`. */
  finalError(error: InferlaneError): InferlaneError {
    if (error.code === 'ABORTED' || error.code === 'DEADLINE_EXCEEDED' || error.code === 'INVALID_REQUEST') return error;
    if (error.code === 'PROVIDER_ERROR' && !error.retryable) return error;
    if (this.deadline.cause() === 'deadline') return new DeadlineExceededError(this.options.budgetMs, { detail: describeAttempts(this.attempts), cause: error });
    if (this.attempts.length <= 1) return error;
    return new AllTargetsFailedError(this.attempts, { cause: error, retryable: error.retryable });
  }

  /** Every candidate was tried: the call's end if it has ended, else ALL_TARGETS_FAILED. */
  exhausted(): InferlaneError {
    this.throwIfDone();
    const lastError = this.lastError;
    return new AllTargetsFailedError(this.attempts, { cause: lastError, retryable: lastError?.retryable });
  }
}

/** The error of a call its caller aborted, or that the client's `close()` ended; undefined otherwise. */
export function abortedBy(deadline: Deadline, target?: string): AbortedError | undefined {
  const cause = deadline.cause();
  if (cause === 'caller') return new AbortedError(undefined, { target });
  if (cause === 'closed') return new AbortedError('the client closed before the call finished (close() waits graceMs for calls in flight, then ends them)', { target });
  return undefined;
}

function describeAttempts(attempts: AttemptRecord[]): string {
  if (attempts.length === 0) return 'no attempt could start';
  return attempts.map((a) => `${a.target} ${a.outcome}${a.code ? ` ${a.code}` : ''} after ${Math.round(a.durationMs)} ms`).join('; ');
}
