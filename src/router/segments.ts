/**
 * Latency segments (DESIGN.md section 2): what a `latency` option means as a segment and a
 * budget, and which target kinds may serve each segment. Pure data and one pure function.
 *
 * Imports: errors.ts, target.ts, types.ts.
 */
import { InvalidRequestError } from '../errors.js';
import type { Segment, TargetKind } from '../target.js';
import type { Latency } from '../types.js';

/** The budget a segment name stands for, ms. */
export const segmentBudgetMs: Readonly<Record<Segment, number>> = Object.freeze({
  realtime: 100,
  interactive: 2_000,
  batch: 24 * 60 * 60 * 1_000,
});

/** Budgets below this are realtime, ms. */
export const realtimeBelowMs = 100;
/** Budgets up to and including this are interactive, ms; longer ones are batch. */
export const interactiveUpToMs = 2_000;

/** The segment a budget in ms falls into: < 100 realtime, <= 2,000 interactive, else batch. */
export function segmentOf(budgetMs: number): Segment {
  if (budgetMs < realtimeBelowMs) return 'realtime';
  if (budgetMs <= interactiveUpToMs) return 'interactive';
  return 'batch';
}

/**
 * Resolves a request's `latency` option to its segment and budget.
 * `undefined` means the default, 'interactive' (2,000 ms). A number is a budget in ms and must be
 * finite and positive; a name must be one of the three segments.
 */
export function resolveLatency(latency: Latency | undefined): { segment: Segment; budgetMs: number } {
  if (latency === undefined) return { segment: 'interactive', budgetMs: segmentBudgetMs.interactive };
  if (typeof latency === 'number') {
    if (!Number.isFinite(latency) || latency <= 0) {
      throw new InvalidRequestError('latency', `a budget must be a finite number of ms above 0, got ${String(latency)}`);
    }
    return { segment: segmentOf(latency), budgetMs: latency };
  }
  if (latency === 'realtime' || latency === 'interactive' || latency === 'batch') {
    return { segment: latency, budgetMs: segmentBudgetMs[latency] };
  }
  // Echo the name only when it is a short string: it is caller input, not a secret, but keep messages small.
  const shown = typeof latency === 'string' ? `'${(latency as string).slice(0, 40)}'` : typeof latency;
  throw new InvalidRequestError('latency', `expected 'realtime', 'interactive', 'batch' or a number of ms, got ${shown}`);
}

/** Which target kinds serve a segment, and on what terms. */
export interface SegmentKinds {
  /** Kinds that serve the segment normally. */
  primary: readonly TargetKind[];
  /** Kinds allowed only when their measured p90 fits the budget (never on priors alone). */
  measuredOnly: readonly TargetKind[];
  /** Kinds tried only after every primary one. */
  lastResort: readonly TargetKind[];
}

/**
 * realtime: device and realtime targets; a cloud target only when its measured p90 fits.
 * interactive: device, realtime, cloud.
 * batch: cloud and batch endpoints; device and realtime targets as a last resort (they are
 * the expensive-to-occupy or battery-bound places, and batch work has time to wait).
 */
export const segmentKinds: Readonly<Record<Segment, SegmentKinds>> = Object.freeze({
  realtime: { primary: ['device', 'realtime'], measuredOnly: ['cloud'], lastResort: [] },
  interactive: { primary: ['device', 'realtime', 'cloud'], measuredOnly: [], lastResort: [] },
  batch: { primary: ['cloud', 'batch'], measuredOnly: [], lastResort: ['device', 'realtime'] },
});
