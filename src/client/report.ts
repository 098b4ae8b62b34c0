/**
 * What the client tells about a call: where it ran (`routeOf`: the segment, the target that
 * answered, every attempt, timings, usage and cost) and how it failed (`reportError`, to `error`
 * listeners, redacted).
 *
 * Imports: cost, errors, execute/types and router/types (types), target and types (types), ./options (types).
 */
import type EventEmitter from 'eventemitter3';
import { costOf } from '../cost.js';
import { InferlaneError, redact } from '../errors.js';
import type { Outcome } from '../execute/types.js';
import type { Plan } from '../router/types.js';
import type { Modality, Usage } from '../target.js';
import type { Operation, Route } from '../types.js';
import type { ClientEvents } from './options.js';

/** Where a call ran: the segment, the target that answered, every attempt, timings, usage and cost. */
export function routeOf(thePlan: Plan, outcome: Omit<Outcome<unknown>, 'value'>, usage: Usage | undefined, modality: Modality, batched?: Route['batched']): Route {
  const target = outcome.candidate.target;
  const multiplier = target.kind === 'batch' ? (target.batch?.priceMultiplier ?? 1) : 1;
  return {
    segment: thePlan.segment,
    budgetMs: thePlan.budgetMs,
    target: target.id,
    replica: outcome.replica,
    reason: outcome.candidate.reason,
    attempts: outcome.attempts,
    ttftMs: outcome.ttftMs ?? outcome.attempts.find((a) => a.outcome === 'ok')?.durationMs,
    totalMs: outcome.totalMs,
    usage,
    cachedTokens: usage?.cachedInputTokens,
    costUsd: costOf(target.cost, usage, modality, multiplier),
    fellBack: outcome.fellBack,
    hedged: outcome.hedged,
    batched,
  };
}

/** Tells `error` listeners, with the message redacted. */
export function reportError(emitter: EventEmitter<ClientEvents>, operation: Operation, error: unknown): void {
  const e = InferlaneError.isInstance(error) ? error : undefined;
  emitter.emit('error', { operation, code: e?.code ?? 'PROVIDER_ERROR', message: redact(error instanceof Error ? error.message : String(error)) });
}
