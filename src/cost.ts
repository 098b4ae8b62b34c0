/**
 * What a response cost at a target's declared prices. Imports: target.ts (types).
 */
import type { Modality, PriceTable, TargetCost, Usage } from './target.js';

/** The prices that apply to one modality's calls on a target (its `byModality` entry, else the target's own). */
export function pricesFor(cost: TargetCost | undefined, modality: Modality): PriceTable | undefined {
  return cost?.byModality?.[modality] ?? cost;
}

/**
 * Cost in USD of one response from the usage it reported and the prices the target declares for
 * that modality: input tokens not served from or written to a cache at the input price, cached
 * ones at `cachedInputPerMTok`, written ones at `cacheWritePerMTok` (both default to the input
 * price), output tokens, images, seconds of audio, and a price per request. Undefined when the
 * target declares no prices. The one cost rule of the package: routes, conversations and jobs
 * all use it.
 */
export function costOf(cost: TargetCost | undefined, usage: Usage | undefined, modality: Modality, multiplier = 1): number | undefined {
  const prices = pricesFor(cost, modality);
  if (!prices) return undefined;
  const input = usage?.inputTokens ?? 0;
  const cached = Math.min(usage?.cachedInputTokens ?? 0, input);
  const written = Math.min(usage?.cacheWriteTokens ?? 0, input - cached);
  const inputPrice = prices.inputPerMTok ?? 0;
  let usd =
    ((input - cached - written) * inputPrice +
      cached * (prices.cachedInputPerMTok ?? inputPrice) +
      written * (prices.cacheWritePerMTok ?? inputPrice) +
      (usage?.outputTokens ?? 0) * (prices.outputPerMTok ?? 0)) /
    1e6;
  usd += (usage?.images ?? 0) * (prices.perImage ?? 0);
  usd += (usage?.audioSeconds ?? 0) * (prices.perSecondAudio ?? 0);
  usd += prices.perRequest ?? 0;
  return usd * multiplier;
}
