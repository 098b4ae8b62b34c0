/**
 * The one cost rule (src/cost.ts) that routes, conversations and jobs share: every kind of input
 * token at its own rate, output, images, audio and a per-request price, and per-modality prices
 * for a target whose models are priced differently.
 */
import { describe, expect, it } from 'vitest';
import { costOf, pricesFor } from '../src/cost.js';
import type { TargetCost } from '../src/target.js';

const chat: TargetCost = { inputPerMTok: 2, cachedInputPerMTok: 0.5, cacheWritePerMTok: 2.5, outputPerMTok: 8 };

describe('costOf', () => {
  it('prices uncached, cached and written input tokens each at their own rate, plus output', () => {
    // 1,000 prompt tokens: 600 read from the cache, 300 written to it, 100 neither.
    const usd = costOf(chat, { inputTokens: 1000, cachedInputTokens: 600, cacheWriteTokens: 300, outputTokens: 50 }, 'text');
    expect(usd).toBeCloseTo((100 * 2 + 600 * 0.5 + 300 * 2.5 + 50 * 8) / 1e6, 15);
  });

  it('cached and written tokens default to the input price', () => {
    const usd = costOf({ inputPerMTok: 3 }, { inputTokens: 1000, cachedInputTokens: 400, cacheWriteTokens: 100 }, 'text');
    expect(usd).toBeCloseTo((1000 * 3) / 1e6, 15);
  });

  it('never counts more cached or written tokens than the prompt had', () => {
    const usd = costOf(chat, { inputTokens: 100, cachedInputTokens: 80, cacheWriteTokens: 80 }, 'text');
    expect(usd).toBeCloseTo((80 * 0.5 + 20 * 2.5) / 1e6, 15);
  });

  it('adds images, seconds of audio and a price per request, then the multiplier (a batch discount)', () => {
    expect(costOf({ perImage: 0.04, perRequest: 0.001 }, { images: 3 }, 'image')).toBeCloseTo(0.121, 12);
    expect(costOf({ perSecondAudio: 0.0001 }, { audioSeconds: 90 }, 'transcription')).toBeCloseTo(0.009, 12);
    expect(costOf(chat, { inputTokens: 1000, outputTokens: 1000 }, 'text', 0.5)).toBeCloseTo(((1000 * 2 + 1000 * 8) / 1e6) * 0.5, 15);
  });

  it('is undefined when the target declares no prices, and 0 for a call that used nothing', () => {
    expect(costOf(undefined, { inputTokens: 10 }, 'text')).toBeUndefined();
    expect(costOf(chat, undefined, 'text')).toBe(0);
  });

  it('uses the prices of the call’s modality when the target has them, else its own', () => {
    const mixed: TargetCost = { ...chat, byModality: { embedding: { inputPerMTok: 0.02 }, image: { perImage: 0.04 } } };
    // The image model's own token usage is not billed at the chat model's rates.
    expect(costOf(mixed, { images: 2, inputTokens: 30, outputTokens: 4000 }, 'image')).toBeCloseTo(0.08, 12);
    expect(costOf(mixed, { inputTokens: 1_000_000 }, 'embedding')).toBeCloseTo(0.02, 12);
    expect(costOf(mixed, { inputTokens: 1_000_000 }, 'text')).toBeCloseTo(2, 12);
    expect(pricesFor(mixed, 'speech')).toBe(mixed);
  });
});
