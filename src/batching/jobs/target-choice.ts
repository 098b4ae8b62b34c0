/**
 * Which target serves a job, and how: the named one, else the cheapest batch-capable target
 * (its price x `batch.priceMultiplier`), else the cheapest online one. Rejections use the
 * router's codes ('modality', 'method'), so a NO_ROUTE reads the same from both.
 *
 * Imports: cost.ts, errors.ts, target.ts (types), ./types.
 */
import { costOf } from '../../cost.js';
import { NoRouteError, type Rejection } from '../../errors.js';
import type { Modality, Target } from '../../target.js';
import type { JobOperation } from './types.js';

export interface TargetChoice {
  target: Target;
  mode: 'batch' | 'online';
}

export function chooseTarget(targets: ReadonlyMap<string, Target>, operation: JobOperation, named: string | undefined): TargetChoice {
  const modality: Modality = operation; // a batch operation is named after its modality
  const canOnline = (target: Target) => (operation === 'text' ? !!target.doGenerate : !!target.doEmbed);
  const noMethod = (target: Target): Rejection => ({ target: target.id, code: 'method', reason: `has neither a batch endpoint nor a ${operation} method` });
  const noModality = (target: Target): Rejection => ({ target: target.id, code: 'modality', reason: `does not serve ${modality}` });
  if (named !== undefined) {
    const target = targets.get(named);
    if (!target) throw new NoRouteError(`no target named '${named}'`, [], 'NO_ROUTE');
    if (!target.modalities.includes(modality)) throw new NoRouteError(`target '${named}' cannot serve a ${operation} job`, [noModality(target)]);
    if (target.batch) return { target, mode: 'batch' };
    if (canOnline(target)) return { target, mode: 'online' };
    throw new NoRouteError(`target '${named}' cannot serve a ${operation} job`, [noMethod(target)]);
  }
  const rejections: Rejection[] = [];
  const batchTargets: Target[] = [];
  const onlineTargets: Target[] = [];
  for (const target of targets.values()) {
    if (!target.modalities.includes(modality)) rejections.push(noModality(target));
    else if (target.batch) batchTargets.push(target);
    else if (canOnline(target)) onlineTargets.push(target);
    else rejections.push(noMethod(target));
  }
  const cheapest = (list: Target[], batch: boolean) =>
    list.reduce((best, target) => (unitPrice(target, batch, operation) < unitPrice(best, batch, operation) ? target : best));
  if (batchTargets.length > 0) return { target: cheapest(batchTargets, true), mode: 'batch' };
  if (onlineTargets.length > 0) return { target: cheapest(onlineTargets, false), mode: 'online' };
  throw new NoRouteError(`no target can serve a ${operation} job`, rejections);
}

/** Price of a typical item (1,000 input and 250 output tokens) for choosing the cheapest target. */
function unitPrice(target: Target, batch: boolean, operation: JobOperation): number {
  return costOf(target.cost, { inputTokens: 1000, outputTokens: 250 }, operation, batch ? (target.batch?.priceMultiplier ?? 1) : 1) ?? Number.MAX_VALUE;
}
