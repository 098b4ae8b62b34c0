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

/** A request's routing inputs (what `plan()` reads besides the stats). */
interface Shape {
  operation: Operation;
  segment: Segment;
  budgetMs: number;
  privacy: CommonOptions['privacy'];
  prefer: CommonOptions['prefer'];
  only: CommonOptions['targets'];
  inputTokens: number;
  outputTokens: number | undefined;
}

export class PlanCache {
  private readonly entries = new Map<string, Entry>();
  /** Whether a plan can depend on the request's token counts (decided once: targets are immutable). */
  private readonly tokenSensitive: boolean;
  /** The key and shape `find` missed last, for `remember`. */
  private pendingKey: string | undefined = undefined;
  private pendingShape: Shape | undefined = undefined;
  /**
   * The last request's shape and entry, compared field by field before any key is built: a
   * client mostly sends requests of one shape, and building and hashing a string key per call
   * costs more than the comparisons.
   */
  private last: (Shape & { entry: Entry }) | undefined = undefined;

  constructor(
    targets: readonly Target[],
    private readonly ttlMs: number,
  ) {
    this.tokenSensitive = targets.some((t) => t.limits?.contextTokens !== undefined || t.kv !== undefined || t.cost !== undefined);
  }

  /**
   * A plan made for a request that routes the same way, while still fresh; otherwise undefined,
   * and `remember` keeps the plan made instead. Only what `plan()` reads decides (`now` matters
   * only to conversations, which are never reused).
   */
  find(operation: Operation, request: CommonOptions, segment: Segment, budgetMs: number, inputTokens: number, outputTokens: number | undefined, now: number, epoch: number): Plan | undefined {
    this.pendingKey = undefined;
    if (this.ttlMs <= 0 || request.conversation !== undefined) return undefined;
    const last = this.last;
    if (
      last !== undefined &&
      last.operation === operation &&
      last.segment === segment &&
      last.budgetMs === budgetMs &&
      last.privacy === request.privacy &&
      last.prefer === request.prefer &&
      last.only === request.targets &&
      (!this.tokenSensitive || (last.inputTokens === inputTokens && last.outputTokens === outputTokens)) &&
      this.fresh(last.entry, now, epoch)
    ) {
      return last.entry.plan;
    }
    let key = `${operation}|${segment}|${budgetMs}|${request.privacy ?? 'any'}|${request.prefer ?? ''}`;
    if (request.targets !== undefined) key += `|${request.targets.join('\u0000')}`;
    if (this.tokenSensitive) key += `|${inputTokens}|${outputTokens ?? ''}`;
    const entry = this.entries.get(key);
    if (entry !== undefined && this.fresh(entry, now, epoch)) {
      this.last = { operation, segment, budgetMs, privacy: request.privacy, prefer: request.prefer, only: request.targets, inputTokens, outputTokens, entry };
      return entry.plan;
    }
    this.pendingKey = key;
    this.pendingShape = { operation, segment, budgetMs, privacy: request.privacy, prefer: request.prefer, only: request.targets, inputTokens, outputTokens };
    return undefined;
  }

  /** Keeps the plan made after `find` missed, when `reusable` (every circuit it saw was closed). */
  remember(plan: Plan, now: number, epoch: number, reusable: boolean): void {
    const key = this.pendingKey;
    if (key === undefined || !reusable) return;
    if (this.entries.size >= maxEntries) this.entries.clear();
    const entry = { plan, at: now, epoch };
    this.entries.set(key, entry);
    this.last = Object.assign({}, this.pendingShape!, { entry });
  }

  private fresh(entry: Entry, now: number, epoch: number): boolean {
    return entry.epoch === epoch && now - entry.at < this.ttlMs && now >= entry.at;
  }
}
