/**
 * Device KV-cache memory (DESIGN.md sections 8 and 14): whether a conversation's cache fits a
 * device target's memory budget. Pure; imported by the router's `plan()`.
 *
 * Imports: target.ts (types only).
 */
import type { KvGeometry } from '../target.js';

/**
 * Share of the memory budget the weights and the KV cache may take together. The rest is left
 * for activations, the runtime and the page or app around it.
 */
export const deviceMemoryHeadroom = 0.7;

/** KV-cache bytes per token: a key and a value per layer, `kvHeads x headDim` values each. */
export function kvBytesPerToken(kv: KvGeometry): number {
  return 2 * kv.layers * kv.kvHeads * kv.headDim * kv.bytesPerValue;
}

/** Bytes the weights plus a cache of `tokens` take. A sliding window caps the cached tokens. */
export function kvBytesFor(kv: KvGeometry, tokens: number): number {
  const cachedTokens = kv.slidingWindow !== undefined && kv.slidingWindow > 0 ? Math.min(tokens, kv.slidingWindow) : tokens;
  return (kv.weightsBytes ?? 0) + kvBytesPerToken(kv) * Math.max(0, cachedTokens);
}

/** True when weights + bytesPerToken x tokens < 0.7 x the device's memory budget. */
export function fitsDevice(kv: KvGeometry, tokens: number): boolean {
  return kvBytesFor(kv, tokens) < deviceMemoryHeadroom * kv.memoryBudgetBytes;
}

/** The largest number of tokens whose cache fits (0 when even the weights do not). */
export function maxDeviceTokens(kv: KvGeometry): number {
  const free = deviceMemoryHeadroom * kv.memoryBudgetBytes - (kv.weightsBytes ?? 0);
  const perToken = kvBytesPerToken(kv);
  if (free <= 0 || perToken <= 0) return 0;
  // Strictly below the limit, as fitsDevice demands.
  const tokens = Math.ceil(free / perToken) - 1;
  if (kv.slidingWindow !== undefined && kv.slidingWindow > 0 && tokens >= kv.slidingWindow) return Number.POSITIVE_INFINITY;
  return Math.max(0, tokens);
}
