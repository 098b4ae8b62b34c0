import { describe, expect, it } from 'vitest';
import { fitsDevice, kvBytesFor, kvBytesPerToken, maxDeviceTokens } from '../../src/conversation/kv-memory.js';
import type { KvGeometry } from '../../src/target.js';

const KiB = 1024;
const GiB = 1024 ** 3;

// Published geometries (config.json of each model), fp16.
const qwen05b = { layers: 24, kvHeads: 2, headDim: 64, bytesPerValue: 2 };
const llama1b = { layers: 16, kvHeads: 8, headDim: 64, bytesPerValue: 2 };
const llama3b = { layers: 28, kvHeads: 8, headDim: 128, bytesPerValue: 2 };
const phi3mini = { layers: 32, kvHeads: 32, headDim: 96, bytesPerValue: 2 };

describe('kvBytesPerToken', () => {
  it('matches the per-token KV sizes in DESIGN.md section 14', () => {
    expect(kvBytesPerToken({ ...qwen05b, memoryBudgetBytes: GiB })).toBe(12 * KiB);
    expect(kvBytesPerToken({ ...llama1b, memoryBudgetBytes: GiB })).toBe(32 * KiB);
    expect(kvBytesPerToken({ ...llama3b, memoryBudgetBytes: GiB })).toBe(112 * KiB);
    expect(kvBytesPerToken({ ...phi3mini, memoryBudgetBytes: GiB })).toBe(384 * KiB);
  });
});

describe('fitsDevice', () => {
  const phone: KvGeometry = { ...llama3b, memoryBudgetBytes: 4 * GiB, weightsBytes: 2 * GiB };

  it('accepts a short conversation and rejects one whose cache outgrows 70% of the budget', () => {
    // 0.7 x 4 GiB - 2 GiB = 0.8 GiB free; 112 KiB a token -> about 7,489 tokens.
    expect(fitsDevice(phone, 4_000)).toBe(true);
    expect(fitsDevice(phone, 8_000)).toBe(false);
    const limit = maxDeviceTokens(phone);
    expect(limit).toBe(7489);
    expect(fitsDevice(phone, limit)).toBe(true);
    expect(fitsDevice(phone, limit + 1)).toBe(false);
  });

  it('rejects everything when the weights alone take the headroom', () => {
    const tooSmall: KvGeometry = { ...llama1b, memoryBudgetBytes: GiB, weightsBytes: 0.8 * GiB };
    expect(fitsDevice(tooSmall, 1)).toBe(false);
    expect(maxDeviceTokens(tooSmall)).toBe(0);
  });

  it('counts at most the sliding window for sliding-window layers', () => {
    const windowed: KvGeometry = { ...llama1b, memoryBudgetBytes: GiB, slidingWindow: 4096 };
    expect(kvBytesFor(windowed, 100_000)).toBe(kvBytesFor(windowed, 4096));
    expect(fitsDevice(windowed, 100_000)).toBe(true);
    expect(fitsDevice({ ...windowed, slidingWindow: undefined }, 100_000)).toBe(false);
  });
});
