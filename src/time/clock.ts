/**
 * Time's one home (floor 1): the `Clock` every timer of the package goes through, so tests can
 * drive time everywhere (executor, micro-batcher, jobs, client), and the cap every timer needs.
 *
 * Imports: nothing.
 */

/**
 * The longest delay a timer takes: 2^31 - 1 ms, about 24.8 days. Node (and browsers) fire a
 * longer one after 1 ms instead, so every timer of the package is capped here and anything due
 * later waits again.
 */
export const maxTimerMs = 2 ** 31 - 1;

export interface Clock {
  /** ms since epoch, as `Date.now()`. */
  now(): number;
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/**
 * Timers capped at `maxTimerMs` (a longer one would fire after 1 ms); callers whose deadline lies
 * further away re-arm. Timers are NOT unref'd: a caller awaiting a call depends on them (a retry
 * sleep, the deadline that settles a hung attempt). Every timer is cleared when its work settles,
 * which is what keeps serverless processes and test runners free of stray timers.
 */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (callback, ms) => setTimeout(callback, Math.min(ms, maxTimerMs)),
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};
