/**
 * The client's planner: turns a request into a Plan through the router (src/router, pure),
 * reusing recent plans (PlanCache), waiting for the targets' availability probes on a first call
 * at most half its budget, telling `route` listeners, and building NO_ROUTE (or
 * PRIVACY_VIOLATION) with every rejected target and why when nothing can serve.
 *
 * Imports: errors, router (plan, plan-cache, types), stats (types), target and types, time,
 * ./lifecycle (types), ./options (types), ./report.
 */
import type EventEmitter from 'eventemitter3';
import { closedClientError, DeadlineExceededError, NoRouteError } from '../errors.js';
import { explainPlan, plan } from '../router/plan.js';
import type { PlanCache } from '../router/plan-cache.js';
import type { Plan, PlanRequest } from '../router/types.js';
import type { Stats } from '../stats/stats.js';
import type { Segment, Target } from '../target.js';
import type { Clock } from '../time/clock.js';
import { within } from '../time/within.js';
import { type CommonOptions, type Operation, operationModality } from '../types.js';
import type { Lifecycle } from './lifecycle.js';
import type { ClientEvents, Explanation } from './options.js';
import { reportError } from './report.js';

export interface PlannerParts {
  targets: readonly Target[];
  stats: Stats;
  clock: Clock;
  plans: PlanCache;
  /** How long one `available()` probe may take, ms. */
  availabilityTimeoutMs: number;
  events: EventEmitter<ClientEvents>;
  lifecycle: Lifecycle;
}

export class Planner {
  private availabilityChecked: Promise<void> | undefined;
  /** Whether every target's `available()` has answered (true at once when no target has one). */
  private availabilityKnown: boolean;
  /** A call already waited out the probes: later calls plan with what is known, without waiting. */
  private probesOverdue = false;
  /** Ends each probe still running (its timer cleared, its signal aborted): `close()` calls them. */
  private readonly probesRunning = new Set<() => void>();

  constructor(private readonly parts: PlannerParts) {
    this.availabilityKnown = !parts.targets.some((t) => t.available);
  }

  /** The plan at once when availability is known (every call after the first), else a promise of it. */
  planWhenReady(operation: Operation, request: CommonOptions, segment: Segment, budgetMs: number, inputTokens: number, outputTokens: number | undefined): Plan | Promise<Plan> {
    return this.availabilityKnown || this.probesOverdue
      ? this.planNow(operation, request, segment, budgetMs, inputTokens, outputTokens)
      : this.availabilityWithin(budgetMs / 2).then(() => this.planNow(operation, request, segment, budgetMs, inputTokens, outputTokens));
  }

  /** The plan for a request, without running it: the chosen order, and each rejected target and why. */
  explain(operation: Operation, request: CommonOptions, segment: Segment, budgetMs: number, inputTokens: number, outputTokens: number | undefined): Explanation {
    const thePlan = plan(this.planRequest(operation, request, segment, budgetMs, inputTokens, outputTokens), this.parts.targets, this.parts.stats);
    return { ...thePlan, text: explainPlan(thePlan) };
  }

  /** Ends every probe still running (`close()`). */
  endProbes(): void {
    for (const end of [...this.probesRunning]) end();
  }

  /** Plans with the availability already known; throws NO_ROUTE (reported) when nothing can serve. */
  private planNow(operation: Operation, request: CommonOptions, segment: Segment, budgetMs: number, inputTokens: number, outputTokens: number | undefined): Plan {
    const { stats, plans, events, clock } = this.parts;
    // Every call plans: after close() none may quietly open sockets or reload a model again.
    // A conversation turn that began before close() may still run its call (`beginTurn` refuses later ones).
    if (this.parts.lifecycle.refuses(request)) throw closedClientError();
    const now = clock.now();
    const epoch = stats.epoch;
    let thePlan = plans.find(operation, request, segment, budgetMs, inputTokens, outputTokens, now, epoch);
    if (thePlan === undefined) {
      thePlan = plan(this.planRequest(operation, request, segment, budgetMs, inputTokens, outputTokens), this.parts.targets, stats);
      plans.remember(thePlan, now, epoch, this.circuitsClosed(thePlan, now));
    }
    if (events.listenerCount('route') > 0) {
      events.emit('route', { operation, segment, budgetMs, candidates: thePlan.candidates.map((c) => c.target.id), rejected: thePlan.rejected });
    }
    if (thePlan.candidates.length === 0) {
      const error = noRouteError(operation, request, budgetMs, thePlan);
      reportError(events, operation, error);
      throw error;
    }
    return thePlan;
  }

  /** Whether every circuit a plan looked at was closed (only such plans are reused: see PlanCache). */
  private circuitsClosed(thePlan: Plan, now: number): boolean {
    for (const rejection of thePlan.rejected) if (rejection.code === 'circuit-open') return false;
    for (const candidate of thePlan.candidates) if (this.parts.stats.circuit(candidate.target.id, now) !== 'closed') return false;
    return true;
  }

  private planRequest(operation: Operation, request: CommonOptions, segment: Segment, budgetMs: number, inputTokens: number, outputTokens: number | undefined): PlanRequest {
    const conversation = request.conversation;
    return {
      operation,
      modality: operationModality[operation],
      segment,
      budgetMs,
      privacy: request.privacy ?? 'any',
      inputTokens,
      outputTokens: outputTokens ?? (operation === 'generate' || operation === 'stream' ? 256 : 0),
      only: request.targets,
      prefer: request.prefer,
      conversation: conversation && { affinity: conversation.affinity, prefixTokens: conversation.prefixTokens, totalTokens: conversation.totalTokens },
      now: this.parts.clock.now(),
    };
  }

  /**
   * Device targets report availability once, before their first plans; failures fall back at run
   * time. A first call waits for the probes at most `ms` (part of its budget), then goes on.
   */
  private availabilityWithin(ms: number): Promise<void> {
    this.availabilityChecked ??= Promise.all(this.parts.targets.filter((t) => t.available).map((t) => this.probeAvailability(t))).then(() => {
      this.availabilityKnown = true;
    });
    return within(this.parts.clock, this.availabilityChecked, ms).then((answered) => {
      if (!answered) this.probesOverdue = true;
    });
  }

  /** One target's probe: an error, or no answer within `availabilityTimeoutMs`, means unavailable. */
  private async probeAvailability(target: Target): Promise<void> {
    const { clock, availabilityTimeoutMs } = this.parts;
    const controller = new AbortController();
    let timer: unknown;
    let finish!: (giveUp: boolean) => void;
    const givenUp = new Promise<'unavailable'>((resolve) => {
      finish = (giveUp) => {
        clock.clearTimeout(timer);
        if (giveUp) controller.abort(new DeadlineExceededError(availabilityTimeoutMs, { target: target.id, detail: 'available() did not answer' }));
        resolve('unavailable');
      };
      timer = clock.setTimeout(() => finish(true), availabilityTimeoutMs);
    });
    const giveUp = () => finish(true);
    this.probesRunning.add(giveUp);
    try {
      const availability = await Promise.race([Promise.resolve(target.available!(controller.signal)).catch(() => 'unavailable' as const), givenUp]);
      this.parts.stats.setAvailability(target.id, availability);
    } finally {
      this.probesRunning.delete(giveUp);
      finish(false);
    }
  }
}

function noRouteError(operation: Operation, request: CommonOptions, budgetMs: number, thePlan: Plan): NoRouteError {
  const modality = operationModality[operation];
  const summary = `no target can serve ${operation} (modality '${modality}') within ${budgetMs} ms`;
  if (request.privacy === 'device-only' && thePlan.rejected.some((r) => r.code === 'privacy')) {
    return new NoRouteError(`${summary} on this device (privacy: 'device-only' forbids network targets)`, thePlan.rejected, 'PRIVACY_VIOLATION');
  }
  return new NoRouteError(summary, thePlan.rejected);
}
