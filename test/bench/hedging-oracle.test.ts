import { describe, expect, it } from 'vitest';
import { hedgingOracle } from '../../bench/hedging.js';
import { mulberry32 } from '../../src/random.js';

// The oracle backs the hedging bench's floor row: the best p99/p50 any client could reach.
describe('hedgingOracle', () => {
  it('reaches exactly 2x when the fast mode has no spread', () => {
    const latencies = Array.from({ length: 5000 }, (_, i) => (i % 20 === 0 ? 500 : 20));
    const oracle = hedgingOracle(latencies, 0.1, mulberry32(3));
    expect(oracle.delayMs).toBe(20);
    expect(oracle.extra).toBeCloseTo(0.05, 5);
    expect(oracle.p50).toBe(20);
    expect(oracle.p99).toBe(40);
  });

  it('stays above 2x when the fast mode spreads, and never exceeds the extra-request cap', () => {
    const random = mulberry32(5);
    const latencies = Array.from({ length: 5000 }, () => (random() < 0.05 ? 500 : 18 + 4 * random()));
    const oracle = hedgingOracle(latencies, 0.1, mulberry32(9));
    expect(oracle.extra).toBeLessThanOrEqual(0.1);
    expect(oracle.p99 / oracle.p50).toBeGreaterThan(2);
    expect(oracle.p99).toBeLessThan(50);
  });

  it('with no extra requests allowed, p99 is the unhedged p99', () => {
    const latencies = Array.from({ length: 1000 }, (_, i) => (i % 50 === 0 ? 300 : 10 + (i % 7)));
    const oracle = hedgingOracle(latencies, 0, mulberry32(1));
    expect(oracle.extra).toBe(0);
    expect(oracle.p99).toBe(300); // 2% are slow, and nothing may be hedged
  });
});
