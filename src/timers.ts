/**
 * The longest delay a timer takes: 2^31 - 1 ms, about 24.8 days. Node (and browsers) fire a
 * longer one after 1 ms instead, so every timer of the package is capped here and anything due
 * later waits again. Imports: nothing.
 */
export const maxTimerMs = 2 ** 31 - 1;
