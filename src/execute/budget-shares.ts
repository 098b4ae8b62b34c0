/**
 * Budget shares: how much of a call's budget one attempt may take, so that a hung primary still
 * leaves room for the candidate after it. Pure arithmetic over predicted latencies.
 *
 * Imports: router/types (types), ./types (types).
 */
import type { Candidate } from '../router/types.js';
import type { ExecutorStats } from './types.js';

/** A latency quantile of a target: measured (or its prior, through stats), else `fallback` (the plan's prediction). */
export function predict(stats: ExecutorStats, targetId: string, metric: 'ttft' | 'total', q: number, fallback: number): number {
  return stats.latency(targetId, metric, q) ?? fallback;
}

/**
 * How long the attempt on the candidate at `index` may run when another candidate follows: at
 * least 1.5x its own p90, and otherwise everything but a reserve for the next candidate (twice
 * its p90, at least a quarter and at most half of what remains). The last candidate gets all
 * that remains (undefined: no limit of its own).
 */
export function attemptLimit(stats: ExecutorStats, candidates: Candidate[], index: number, remainingMs: number, metric: 'ttft' | 'total'): number | undefined {
  const next = candidates[index + 1];
  if (!next) return undefined;
  const own = predict(stats, candidates[index].target.id, metric, 0.9, metric === 'ttft' ? candidates[index].predictedMs.ttftP90 : candidates[index].predictedMs.p90);
  const nextP90 = predict(stats, next.target.id, metric, 0.9, metric === 'ttft' ? next.predictedMs.ttftP90 : next.predictedMs.p90);
  const reserve = Math.min(Math.max(2 * nextP90, remainingMs / 4), remainingMs / 2);
  const limit = Math.max(own * 1.5, remainingMs - reserve);
  return limit >= remainingMs ? undefined : limit;
}

/**
 * How long opening a stream on the candidate at `index` may wait for its first part: its share
 * of the budget when another candidate follows (none for the last); for a resumption, which has
 * no budget left to share, idleMs.
 */
export function openingLimit(stats: ExecutorStats, candidates: Candidate[], index: number, remainingMs: number, resumeIdleMs: number | undefined): number | undefined {
  return resumeIdleMs !== undefined ? resumeIdleMs : attemptLimit(stats, candidates, index, remainingMs, 'ttft');
}
