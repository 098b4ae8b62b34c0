import type { TargetCost, Usage } from '../target.js';

/**
 * Cost in USD of one response from the usage it reported and the prices the target declares.
 * Cached input is priced at `cachedInputPerMTok` (falling back to the full input price).
 * Returns undefined when the target declares no prices.
 */
export function costOf(cost: TargetCost | undefined, usage: Usage | undefined, multiplier = 1): number | undefined {
  if (!cost) return undefined;
  const inputTokens = usage?.inputTokens ?? 0;
  const cached = Math.min(usage?.cachedInputTokens ?? 0, inputTokens);
  let usd = 0;
  usd += ((inputTokens - cached) * (cost.inputPerMTok ?? 0)) / 1e6;
  usd += (cached * (cost.cachedInputPerMTok ?? cost.inputPerMTok ?? 0)) / 1e6;
  usd += ((usage?.cacheWriteTokens ?? 0) * (cost.cacheWritePerMTok ?? 0)) / 1e6;
  usd += ((usage?.outputTokens ?? 0) * (cost.outputPerMTok ?? 0)) / 1e6;
  usd += (usage?.images ?? 0) * (cost.perImage ?? 0);
  usd += (usage?.audioSeconds ?? 0) * (cost.perSecondAudio ?? 0);
  usd += cost.perRequest ?? 0;
  return usd * multiplier;
}
