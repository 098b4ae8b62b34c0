/**
 * One deadline per call: an AbortController that fires when the budget runs out or the
 * caller aborts, whichever comes first, and remembers which.
 *
 * Timers here are NOT unref'd: a caller awaiting a call depends on them (a retry sleep, or the
 * deadline that settles a hung attempt), so they must keep the process alive while the call is
 * pending. Every timer is cleared when its call settles, so none outlives its work: that is what
 * keeps serverless processes and test runners free of stray timers.
 */

import { type Clock, maxTimerMs } from '../time/clock.js';

/**
 * Why a call's or an attempt's signal fired (its `reason`), every one the executor uses:
 * - `deadline`: the call's budget ran out; `caller`: the caller's `abortSignal`; `closed`: the client's `close()`;
 * - `attempt-timeout`: one attempt's share of the budget ran out (the call goes on elsewhere);
 * - `hedge-lost`: the other attempt of a hedge race answered first;
 * - `stream-timeout`: the idle watchdog saw no part for `idleMs`; `stream-failed`: a started stream broke;
 * - `done`: the call settled, or its caller stopped reading a stream.
 */
export type AbortCause = 'deadline' | 'caller' | 'closed' | 'attempt-timeout' | 'hedge-lost' | 'stream-timeout' | 'stream-failed' | 'done';

/** Aborts an attempt's controller with one of the causes above (never a free-form reason). */
export function abortWith(controller: AbortController, cause: AbortCause): void {
  controller.abort(cause);
}

export interface Deadline {
  readonly signal: AbortSignal;
  /** Absolute, ms since epoch (the clock's). */
  readonly at: number;
  /** Why the signal fired, once it has. */
  cause(): AbortCause | undefined;
  remaining(): number;
  /** Aborts now with `cause` (an attempt that shares this signal ends the whole call). */
  abort(cause: AbortCause): void;
  /** Stops the budget's timer; the signal then fires only on the caller's abort (streams after their first part). */
  disarm(): void;
  /**
   * Clears the timer and the parent listener. It does not abort: a call that settled has nothing
   * in flight (aborting would only wake every listener for nothing); callers that leave work
   * running abort it themselves.
   */
  dispose(): void;
}

/**
 * A class rather than a literal of closures: this runs on every call, and methods on a
 * prototype cost nothing per call (the literal allocated six functions each time).
 */
export class CallDeadline implements Deadline {
  readonly signal: AbortSignal;
  readonly at: number;
  private readonly controller = new AbortController();
  private why: AbortCause | undefined;
  private timer: unknown;
  private readonly unwatchParent: (() => void) | undefined;

  constructor(
    budgetMs: number,
    private readonly clock: Clock,
    parent?: AbortSignal,
  ) {
    this.signal = this.controller.signal;
    this.at = clock.now() + budgetMs;
    this.arm(budgetMs);
    if (parent?.aborted) this.abort('caller');
    else if (parent) this.unwatchParent = watchCallerSignal(parent, () => this.abort('caller'));
  }

  cause(): AbortCause | undefined {
    return this.why;
  }

  remaining(): number {
    return this.at - this.clock.now();
  }

  abort(cause: AbortCause): void {
    if (this.why) return;
    this.why = cause;
    this.controller.abort(cause);
  }

  disarm(): void {
    this.clock.clearTimeout(this.timer);
  }

  /** Fires `ms` from now; a wait longer than one timer takes (`maxTimerMs`) waits again for the rest. */
  private arm(ms: number): void {
    this.timer = ms > maxTimerMs ? this.clock.setTimeout(() => this.arm(this.at - this.clock.now()), maxTimerMs) : this.clock.setTimeout(() => this.abort('deadline'), Math.max(0, ms));
  }

  dispose(): void {
    this.clock.clearTimeout(this.timer);
    this.unwatchParent?.();
  }
}

/** The calls waiting on each caller signal, behind that signal's one abort listener. */
const callerSignalWatchers = new WeakMap<AbortSignal, Set<() => void>>();

/**
 * Calls `onAbort` when a caller's signal aborts; returns the function that stops watching. However
 * many calls share one signal (an app's shutdown signal, say), the signal gets ONE listener: Node
 * warns of a leak past 10 listeners on one signal, though each call removes its own when it settles.
 */
function watchCallerSignal(signal: AbortSignal, onAbort: () => void): () => void {
  let watchers = callerSignalWatchers.get(signal);
  if (watchers === undefined) {
    const created = new Set<() => void>();
    watchers = created;
    callerSignalWatchers.set(signal, created);
    signal.addEventListener(
      'abort',
      () => {
        callerSignalWatchers.delete(signal);
        for (const watcher of [...created]) watcher();
      },
      { once: true },
    );
  }
  const set = watchers;
  set.add(onAbort);
  return () => void set.delete(onAbort);
}
