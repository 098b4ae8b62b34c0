/**
 * Reuses a plan for requests that route the same way, for a short while.
 *
 * `plan()` reads the targets' latency quantiles, circuits and availability, and each call is
 * cheap in a loop but not on a busy client: on every request it touches the stats, the targets
 * and the reason formatting, and that set of code and data is cold again by the next request
 * (bench/overhead measures it at about 40 µs of a 1 ms call). Latency quantiles decay with a
 * half-life of a minute, so a plan a fraction of a second old orders the targets the same way;
 * everything that changes a plan in kind moves `Stats.epoch` and ends reuse at once: a failure
 * (circuits), an availability change, a metric that turns from prior to measured.
 *
 * What is reused: only plans made while every circuit was closed (an open circuit half-opens with
 * time, not with an event), never for a conversation (affinity and fitting are per call), and per
 * token count unless no target's plan depends on tokens (no context limit, no KV memory limit, no
 * price: then the plan is the same for any prompt).
 *
 * Imports: router/types.ts (types), target.ts (types), types.ts (types).
 */
import type { Segment, Target } from '../target.js';
import type { CommonOptions, Operation } from '../types.js';
import type { Plan } from './types.js';

/** How long a plan may be reused by default, ms. */
export const defaultPlanCacheMs = 500;

/** Entries kept at most; the map is emptied when full (keys are few: operations x segments x options). */
const maxEntries = 256;

interface Entry {
  plan: Plan;
  at: number;
  epoch: number;
}

export class PlanCache {
  private readonly entries = new Map<string, Entry>();
  /** Whether a plan can depend on the request's token counts (decided once: targets are immutable). */
  private readonly tokenSensitive: boolean;

  constructor(
    targets: readonly Target[],
    private readonly ttlMs: number,
  ) {
    this.tokenSensitive = targets.some((t) => t.limits?.contextTokens !== undefined || t.kv !== undefined || t.cost !== undefined);
  }

  /**
   * The key for a request, or undefined when its plan must not be reused. Only what `plan()`
   * reads goes in (`now` matters only to conversations, which are never reused).
   */
  key(operation: Operation, request: CommonOptions, segment: Segment, budgetMs: number, inputTokens: number, outputTokens: number | undefined): string | undefined {
    if (this.ttlMs <= 0 || request.conversation !== undefined) return undefined;
    let key = `${operation}|${segment}|${budgetMs}|${request.privacy ?? 'any'}|${request.prefer ?? ''}`;
    if (request.targets !== undefined) key += `|${request.targets.join('\u0000')}`;
    if (this.tokenSensitive) key += `|${inputTokens}|${outputTokens ?? ''}`;
    return key;
  }

  get(key: string, now: number, epoch: number): Plan | undefined {
    const entry = this.entries.get(key);
    if (entry === undefined) return undefined;
    if (entry.epoch === epoch && now - entry.at < this.ttlMs && now >= entry.at) return entry.plan;
    this.entries.delete(key);
    return undefined;
  }

  /** Keeps `plan` for reuse when `reusable` (every circuit it saw was closed). */
  set(key: string, plan: Plan, now: number, epoch: number, reusable: boolean): void {
    if (!reusable) return;
    if (this.entries.size >= maxEntries) this.entries.clear();
    this.entries.set(key, { plan, at: now, epoch });
  }
}
