import { describe, expect, it } from 'vitest';
import { AbortedError, AuthenticationError, ProviderError, RateLimitedError } from '../../src/errors.js';
import { Stats } from '../../src/stats/stats.js';

describe('Stats latency', () => {
  it('is undefined for a target it never heard of', () => {
    const stats = new Stats();
    expect(stats.latency('nobody', 'ttft', 0.5)).toBeUndefined();
    expect(stats.measured('nobody', 'ttft')).toBe(false);
  });

  it('uses the prior until 5 samples exist, then the measurements', () => {
    const stats = new Stats();
    stats.setPrior({ id: 'a', expected: { ttftMs: 300, totalMs: 900 } });
    expect(stats.latency('a', 'ttft', 0.5)).toBe(300);
    expect(stats.latency('a', 'ttft', 0.9)).toBeCloseTo(450);
    for (let i = 0; i < 4; i++) stats.recordSuccess('a', { ttftMs: 40, totalMs: 100 }, i);
    expect(stats.latency('a', 'ttft', 0.5)).toBe(300);
    expect(stats.measured('a', 'ttft')).toBe(false);
    stats.recordSuccess('a', { ttftMs: 40, totalMs: 100 }, 4);
    expect(stats.measured('a', 'ttft')).toBe(true);
    expect(Math.abs((stats.latency('a', 'ttft', 0.5) as number) - 40)).toBeLessThan(4);
    expect(Math.abs((stats.latency('a', 'total', 0.9) as number) - 100)).toBeLessThan(10);
  });

  it('without a prior, stays undefined until enough samples', () => {
    const stats = new Stats({ minSamples: 3 });
    stats.record('a', { totalMs: 50 }, 0);
    stats.record('a', { totalMs: 50 }, 0);
    expect(stats.latency('a', 'total', 0.5)).toBeUndefined();
    stats.record('a', { totalMs: 50 }, 0);
    expect(stats.latency('a', 'total', 0.5)).toBeGreaterThan(45);
    // ttft was never recorded.
    expect(stats.latency('a', 'ttft', 0.5)).toBeUndefined();
  });

  it('forgets a slow past with the half-life', () => {
    const stats = new Stats({ halfLifeMs: 1_000 });
    for (let i = 0; i < 50; i++) stats.record('a', { totalMs: 2_000 }, 0);
    for (let i = 0; i < 50; i++) stats.record('a', { totalMs: 200 }, 6_000);
    expect(stats.latency('a', 'total', 0.9) as number).toBeLessThan(220);
  });

  it('rejects a bad half-life', () => {
    expect(() => new Stats({ halfLifeMs: 0 })).toThrow(RangeError);
  });
});

describe('Stats circuits', () => {
  it('opens on failures, reads retryAfterMs, and lets one probe through', () => {
    const stats = new Stats();
    expect(stats.circuit('a', 0)).toBe('closed');
    stats.recordFailure('a', new ProviderError('boom', { status: 502 }), 0);
    stats.recordFailure('a', new ProviderError('boom', { status: 502 }), 0);
    stats.recordFailure('a', new RateLimitedError('slow', { retryAfterMs: 12_000 }), 0);
    expect(stats.circuit('a', 11_999)).toBe('open');
    expect(stats.circuit('a', 12_000)).toBe('half-open');
    expect(stats.tryAcquire('a', 12_000)).toBe(true);
    expect(stats.tryAcquire('a', 12_000)).toBe(false);
    stats.recordSuccess('a', { totalMs: 90 }, 12_090);
    expect(stats.circuit('a', 12_090)).toBe('closed');
    // Other targets are independent.
    expect(stats.circuit('b', 0)).toBe('closed');
  });

  it('AuthenticationError opens at once; aborts never count', () => {
    const stats = new Stats();
    for (let i = 0; i < 5; i++) stats.recordFailure('a', new AbortedError(), 0);
    expect(stats.circuit('a', 0)).toBe('closed');
    stats.recordFailure('a', new AuthenticationError('bad key', { status: 401 }), 0);
    expect(stats.circuit('a', 0)).toBe('open');
  });

  it('takes circuit settings', () => {
    const stats = new Stats({ circuit: { consecutiveFailures: 1, cooldownMs: 10 } });
    stats.recordFailure('a', new ProviderError('boom', { status: 500 }), 0);
    expect(stats.circuit('a', 9)).toBe('open');
    expect(stats.circuit('a', 10)).toBe('half-open');
  });
});

describe('Stats availability and snapshot', () => {
  it('remembers availability', () => {
    const stats = new Stats();
    expect(stats.availability('device:tiny')).toBeUndefined();
    stats.setAvailability('device:tiny', 'unavailable');
    expect(stats.availability('device:tiny')).toBe('unavailable');
  });

  it('snapshot is plain JSON with circuit, prior and quantiles', () => {
    const stats = new Stats();
    stats.setPrior({ id: 'a', expected: { ttftMs: 100 } });
    for (let i = 0; i < 5; i++) stats.recordSuccess('a', { ttftMs: 20, totalMs: 80 }, i);
    stats.setAvailability('a', 'available');
    const snapshot = JSON.parse(JSON.stringify(stats.snapshot(10)));
    expect(snapshot.a.circuit.state).toBe('closed');
    expect(snapshot.a.availability).toBe('available');
    expect(snapshot.a.prior).toEqual({ ttftMs: 100 });
    expect(snapshot.a.latency.ttft.samples).toBe(5);
    expect(Math.abs(snapshot.a.latency.total.p50 - 80)).toBeLessThan(8);
  });
});
