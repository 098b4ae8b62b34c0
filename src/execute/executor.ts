/**
 * The executor: runs a Plan. One deadline per call, retries, fallbacks, circuit checks, hedging,
 * and stream resumption; adapters know none of this: they get a CallContext and do one attempt.
 * It owns time (through a Clock) so tests can control it, and its lifecycle: `idle()` waits for
 * the calls in flight, `abortAll()` ends them.
 *
 * This file holds the two loops (`run`, `stream`) and the lifecycle. The rooms beside it each
 * own one idea: the call scope (./call-scope), one attempt (./attempt) and its ledger
 * (./ledger), the hedge race (./hedge-race), budget shares (./budget-shares), verdicts
 * (./verdicts), what follows a failure (./failover), the stream run (./stream-run), the idle
 * watchdog (./idle-watchdog).
 *
 * Imports: time/idle-waiters, ./* (the rooms above, ./deadline, ./types).
 */
import { IdleWaiters } from '../time/idle-waiters.js';
import { runDirect, settle, startAttempt } from './attempt.js';
import { attemptLimit } from './budget-shares.js';
import { CallScope, type ExecutorParts } from './call-scope.js';
import { CallDeadline, type Deadline } from './deadline.js';
import { afterFailure } from './failover.js';
import { hedgeFor, race } from './hedge-race.js';
import { IdleWatchdog } from './idle-watchdog.js';
import { Ledger } from './ledger.js';
import { StreamRun } from './stream-run.js';
import type { AttemptFn, ExecutorDeps, Outcome, RunOptions, StreamOutcome, StreamSetup } from './types.js';
import type { StreamPart } from '../target.js';

export type {
  AttemptFn,
  AttemptInfo,
  ExecutorDeps,
  ExecutorEvents,
  ExecutorStats,
  HedgeOptions,
  Outcome,
  RunOptions,
  StreamOutcome,
  StreamSetup,
} from './types.js';

export class Executor {
  private readonly parts: ExecutorParts;
  /** The deadlines of the calls running now: `idle()` waits for them, `abortAll()` ends them. */
  private readonly live = new Set<Deadline>();
  private readonly whenIdle = new IdleWaiters();

  constructor(private readonly deps: ExecutorDeps) {
    this.parts = { deps, ledger: new Ledger(deps), adapterEmit: (event, payload) => deps.emit(event, payload) };
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
    const { clock, stats } = this.deps;
    const scope = new CallScope(this.parts, options, new CallDeadline(options.budgetMs, clock, options.abortSignal), 'total');
    this.begin(scope.deadline);
    const { candidates, attempts } = scope;
    try {
      for (; scope.index < candidates.length; scope.next()) {
        const candidate = candidates[scope.index];
        for (; ; scope.retry++) {
          scope.throwIfDone();
          if (!stats.tryAcquire(candidate.target.id, clock.now())) {
            this.parts.ledger.skip(scope, candidate, 'circuit open');
            break;
          }
          const secondary = scope.hedgeOn && scope.retry === 0 ? hedgeFor(scope, scope.index) : undefined;
          let failure: unknown;
          let consumedNext = false;
          try {
            const limitMs = attemptLimit(stats, candidates, scope.index, scope.deadline.remaining(), 'total');
            const target = scope.runnerOf(candidate);
            if (secondary === undefined && options.conversation?.prepare === undefined && target.honoursAbort === true) {
              // The common case without `startAttempt` and `settle` (their promise layers cost microseconds per call).
              const value = await runDirect(scope, candidate, target, attemptFn, limitMs);
              return { value, candidate, attempts, totalMs: clock.now() - scope.startedAt, fellBack: scope.index > 0, hedged: false };
            }
            // Its own controller only when something may abort this attempt alone (a hedge, a time limit).
            const primary = startAttempt(scope, candidate, attemptFn, { hedge: false, limitMs, own: secondary !== undefined || limitMs !== undefined });
            const result = secondary
              ? await race(scope, primary, () => startAttempt(scope, secondary.candidate, attemptFn, { hedge: true, own: true }), secondary.afterMs, true)
              : await settle(scope, primary, true);
            if (result.ok) {
              const winner = result.started;
              return {
                value: result.value,
                candidate: winner.entry.candidate,
                attempts,
                totalMs: clock.now() - scope.startedAt,
                replica: winner.entry.replica,
                fellBack: winner.entry.candidate !== candidates[0],
                hedged: result.hedged,
              };
            }
            failure = result.error;
            consumedNext = result.consumedNext;
          } catch (thrown) {
            failure = thrown;
          }
          const error = scope.classify(failure);
          scope.lastError = error;
          if ((await afterFailure(scope, error, consumedNext)) === 'retry') continue;
          break;
        }
      }
      throw scope.exhausted();
    } finally {
      this.end(scope.deadline);
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
   * fallbacks, the finish) lives in the `StreamRun` (./stream-run). The client hands this
   * generator to its caller as it is: no wrapper between the caller and the parts.
   */
  async *stream<F = never>(setup: () => StreamSetup<F> | Promise<StreamSetup<F>>): AsyncGenerator<StreamPart | F, StreamOutcome | undefined> {
    let ready = setup();
    if (ready instanceof Promise) ready = await ready;
    const run = new StreamRun(ready, this.parts);
    this.begin(run.deadline);
    try {
      while (run.index < run.candidates.length) {
        const active = run.current;
        if (!active) {
          // Open a stream and wait for its first part (the budget's deadline rules here).
          const part = await run.open();
          if (part) yield part;
          if (run.held !== undefined) {
            // A resumption opened: its notice went first, its first part follows.
            const held = run.held;
            run.held = undefined;
            yield held;
          }
          continue;
        }
        // Pump the rest of the winning stream under the idle deadline.
        // A target that honours its signal needs no per-part guard: the watchdog's abort ends
        // its pending step, and the watchdog says why.
        const trusted = active.trusted;
        const watchdog = new IdleWatchdog(run.options.idleMs, active.controller, active.entry.candidate.target.id, trusted, this.deps.clock);
        try {
          for (;;) {
            let step: IteratorResult<StreamPart>;
            if (trusted) {
              watchdog.waiting();
              step = await active.iterator.next();
              watchdog.stepped();
            } else step = await watchdog.next(active.iterator);
            if (step.done) break;
            if (run.absorb(step.value, active.entry.candidate.target.id)) yield step.value;
          }
          const outcome = run.succeeded(active);
          if (run.setup.finish) yield run.setup.finish(outcome);
          return outcome;
        } catch (thrown) {
          run.broke(active, watchdog.failure(), thrown);
        } finally {
          watchdog.stop();
        }
      }
      throw run.exhausted();
    } catch (error) {
      run.setup.failed?.(error);
      throw error;
    } finally {
      // Breaking out of `for await` or failing lands here too: abort whatever is still open, and
      // close its iterator as `for await` would (an adapter's own cleanup is in its `finally`).
      run.release();
      this.end(run.deadline);
    }
  }
}
