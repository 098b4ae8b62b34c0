/**
 * Quantiles from a single prior (a typical latency a provider declares in `target.expected`),
 * before any measurement exists. Shared by `Stats` and the router so both predict alike.
 *
 * Imports: nothing.
 */

/**
 * Multipliers of the prior at a few quantiles, linearly interpolated in between. The prior is
 * read as the median; the tail follows what hosted APIs commonly show (p90 about 1.5x the median,
 * p99 about 2.5x). Deliberately simple: priors are replaced by measurements after a few calls.
 */
const priorPoints: readonly (readonly [q: number, factor: number])[] = [
  [0, 0.5],
  [0.5, 1],
  [0.9, 1.5],
  [0.99, 2.5],
  [1, 3],
];

/** The `q` quantile (0..1) predicted from a prior median, ms. */
export function priorQuantile(priorMs: number, q: number): number {
  // The two quantiles the router asks for on every plan, without the loop.
  if (q === 0.5) return priorMs;
  if (q === 0.9) return priorMs * 1.5;
  if (q <= 0) return priorMs * priorPoints[0][1];
  for (let i = 1; i < priorPoints.length; i++) {
    const [q1, f1] = priorPoints[i];
    if (q <= q1) {
      const [q0, f0] = priorPoints[i - 1];
      return priorMs * (f0 + ((f1 - f0) * (q - q0)) / (q1 - q0));
    }
  }
  return priorMs * priorPoints[priorPoints.length - 1][1];
}
