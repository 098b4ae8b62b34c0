/**
 * The router's fixed contract: what `plan()` reads (`PlanRequest`, `StatsView`) and returns
 * (`Plan`, `Candidate`, `PlanRejection`). Types only.
 *
 * Imports: errors, target, types (types only).
 */
import type { Rejection } from '../errors.js';
import type { Availability, Modality, Segment, Target } from '../target.js';
import type { Operation, Privacy } from '../types.js';

/** The facts `plan()` needs about one request. Pure data. */
export interface PlanRequest {
  operation: Operation;
  modality: Modality;
  segment: Segment;
  /** Remaining budget, ms. */
  budgetMs: number;
  privacy: Privacy;
  /** Estimated input tokens (text and embeddings). */
  inputTokens: number;
  /** Estimated output tokens. @default 256 for text */
  outputTokens?: number;
  /** Restrict to these target ids, in this order of preference. */
  only?: string[];
  prefer?: 'fastest' | 'cheapest';
  /** Conversation facts for affinity, context and KV-memory checks. */
  conversation?: {
    affinity?: { target: string; warmUntil: number; cachedTokens?: number };
    /** Tokens of the conversation prefix a warm target has cached. */
    prefixTokens?: number;
    /** Total tokens the target must hold (history + output). */
    totalTokens?: number;
  };
  /** ms since epoch, for affinity warmth. */
  now: number;
}

/** What the router reads about targets' health and speed. */
export interface StatsView {
  /** Quantile of a latency metric, ms; undefined when not yet measured. */
  latency(targetId: string, metric: 'ttft' | 'total', q: number): number | undefined;
  /** 'closed' | 'open' | 'half-open' at `now`. */
  circuit(targetId: string, now: number): 'closed' | 'open' | 'half-open';
  /** Last known availability (device targets). */
  availability(targetId: string): Availability | undefined;
}

export interface Candidate {
  target: Target;
  /** p50 and p90 predictions, ms (first token for text, total otherwise). */
  predictedMs: { p50: number; p90: number; ttftP90: number };
  /** Estimated cost in USD, including the cold-switch penalty when affinity says so. */
  costUsd: number;
  /** Extra USD counted because moving off a warm target throws its cache away. */
  coldSwitchUsd?: number;
  /** True when the candidate's p90 fits the remaining budget. */
  fits: boolean;
  /** True when this target holds a warm prefix for the conversation. */
  warm?: boolean;
  /** Why it sits where it sits. */
  reason: string;
}

/**
 * Why a target cannot serve a request, one code per filter of `plan()` (first failing wins).
 * One union for every chooser of targets (the router; the jobs' target choice adopts it):
 * - `not-listed` / `unknown-target`: outside the request's `targets` / no target has that id;
 * - `privacy`: `device-only` keeps device targets only;
 * - `modality`: the target does not serve the request's modality;
 * - `method`: it has no `do*` method (nor batch endpoint) for the operation;
 * - `segment`: its kind does not serve the segment (a batch-endpoint-only target outside `batch`,
 *   a cloud target in `realtime` without a measured p90);
 * - `unavailable`: its `available()` said so; `circuit-open`: its breaker is open;
 * - `context` / `kv-memory`: the request does not fit its window / the device's KV memory;
 * - `latency`: its predicted p50 is over the budget.
 */
export type RejectionCode =
  | 'not-listed'
  | 'unknown-target'
  | 'privacy'
  | 'modality'
  | 'method'
  | 'segment'
  | 'unavailable'
  | 'circuit-open'
  | 'context'
  | 'kv-memory'
  | 'latency';

/** A rejection whose code is one of the router's. */
export interface PlanRejection extends Rejection {
  code: RejectionCode;
}

export interface Plan {
  segment: Segment;
  budgetMs: number;
  /** Ordered: the first is tried first. */
  candidates: Candidate[];
  /** Every target that cannot serve the request, and why. */
  rejected: PlanRejection[];
}
