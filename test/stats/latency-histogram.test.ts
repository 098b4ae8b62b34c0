import { mulberry32 } from '../../src/random.js';
import { describe, expect, it } from 'vitest';
import { LatencyHistogram } from '../../src/stats/latency-histogram.js';
import { priorQuantile } from '../../src/stats/prior.js';


const within = (actual: number | undefined, expected: number, tolerance: number) => {
  expect(actual).toBeDefined();
  expect(Math.abs((actual as number) - expected) / expected).toBeLessThanOrEqual(tolerance);
};

describe('LatencyHistogram quantiles', () => {
  it('is empty until a sample arrives', () => {
    expect(new LatencyHistogram(60_000).quantile(0.5)).toBeUndefined();
  });

  it('uniform 1..1000 ms: p50 ~500, p90 ~900, p99 ~990 (within 5%)', () => {
    const random = mulberry32(1);
    const histogram = new LatencyHistogram(60_000);
    for (let i = 0; i < 20_000; i++) histogram.record(1 + random() * 999, 0);
    within(histogram.quantile(0.5), 500, 0.05);
    within(histogram.quantile(0.9), 900, 0.05);
    within(histogram.quantile(0.99), 990, 0.05);
  });

  it('exponential with mean 200 ms: quantiles follow -ln(1-q) x 200 (within 6%)', () => {
    const random = mulberry32(7);
    const histogram = new LatencyHistogram(60_000);
    for (let i = 0; i < 20_000; i++) histogram.record(-Math.log(1 - random()) * 200, 0);
    for (const q of [0.5, 0.9, 0.99]) within(histogram.quantile(q), -Math.log(1 - q) * 200, 0.06);
  });

  it('spans microseconds to hours with bounded relative error', () => {
    for (const value of [0.2, 3, 47, 1_234, 90_000, 7_200_000]) {
      const histogram = new LatencyHistogram(60_000);
      histogram.record(value, 0);
      within(histogram.quantile(0.5), value, 0.1);
    }
  });

  it('ignores NaN, negative and infinite samples', () => {
    const histogram = new LatencyHistogram(60_000);
    histogram.record(Number.NaN, 0);
    histogram.record(-5, 0);
    histogram.record(Number.POSITIVE_INFINITY, 0);
    expect(histogram.count).toBe(0);
    expect(histogram.quantile(0.5)).toBeUndefined();
  });

  it('a new sample invalidates cached quantiles', () => {
    const histogram = new LatencyHistogram(60_000);
    histogram.record(100, 0);
    within(histogram.quantile(0.5), 100, 0.1);
    for (let i = 0; i < 10; i++) histogram.record(1_000, 0);
    within(histogram.quantile(0.5), 1_000, 0.1);
  });
});

describe('LatencyHistogram decay', () => {
  it('old slow samples fade after a few half-lives', () => {
    const halfLife = 10_000;
    const histogram = new LatencyHistogram(halfLife);
    for (let i = 0; i < 100; i++) histogram.record(1_000, 0);
    // Same number of fast samples, five half-lives later: old ones weigh 1/32 each.
    for (let i = 0; i < 100; i++) histogram.record(100, 5 * halfLife);
    within(histogram.quantile(0.9), 100, 0.1);
    // The old samples now hold 1/33 (about 3%) of the weight: p95 stays fast, p99 reaches them.
    within(histogram.quantile(0.95), 100, 0.1);
    within(histogram.quantile(0.99), 1_000, 0.1);
  });

  it('without elapsed time, old and new weigh the same (p50 between the two)', () => {
    const histogram = new LatencyHistogram(10_000);
    for (let i = 0; i < 100; i++) histogram.record(1_000, 0);
    for (let i = 0; i < 100; i++) histogram.record(100, 0);
    within(histogram.quantile(0.25), 100, 0.1);
    within(histogram.quantile(0.75), 1_000, 0.1);
  });

  it('one half-life makes an old sample weigh exactly half', () => {
    const histogram = new LatencyHistogram(1_000);
    // 2 old samples at 1000 ms, 1 new at 100 ms one half-life later: weights 1+1 vs 2 -> median on the boundary.
    histogram.record(1_000, 0);
    histogram.record(1_000, 0);
    histogram.record(100, 1_000);
    within(histogram.quantile(0.4), 100, 0.1);
    within(histogram.quantile(0.6), 1_000, 0.1);
  });

  it('survives very long runs (weights are rescaled, not overflowed)', () => {
    const histogram = new LatencyHistogram(1_000);
    histogram.record(500, 0);
    for (let t = 1; t <= 2_000; t++) histogram.record(50, t * 1_000);
    within(histogram.quantile(0.99), 50, 0.1);
    histogram.record(5_000, 3_000 * 1_000);
    expect(Number.isFinite(histogram.quantile(0.5) as number)).toBe(true);
    within(histogram.quantile(1), 5_000, 0.1);
  });
});

describe('priorQuantile', () => {
  it('reads the prior as the median, p90 1.5x, monotone in q', () => {
    expect(priorQuantile(100, 0.5)).toBe(100);
    expect(priorQuantile(100, 0.9)).toBeCloseTo(150);
    let previous = 0;
    for (let q = 0; q <= 1; q += 0.05) {
      const value = priorQuantile(100, q);
      expect(value).toBeGreaterThanOrEqual(previous);
      previous = value;
    }
  });
});
