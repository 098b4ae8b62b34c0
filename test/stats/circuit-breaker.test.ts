import { describe, expect, it } from 'vitest';
import {
  AbortedError,
  AuthenticationError,
  DeadlineExceededError,
  InvalidRequestError,
  NetworkError,
  ProviderError,
  RateLimitedError,
} from '../../src/errors.js';
import { CircuitBreaker, countsAsTargetFailure } from '../../src/stats/circuit-breaker.js';

const serverError = () => new ProviderError('upstream 500', { status: 500, retryable: true });

describe('CircuitBreaker: opening', () => {
  it('opens after 3 consecutive failures, not before', () => {
    const breaker = new CircuitBreaker();
    breaker.recordFailure(serverError(), 0);
    breaker.recordFailure(serverError(), 1);
    expect(breaker.state(2)).toBe('closed');
    breaker.recordFailure(serverError(), 2);
    expect(breaker.state(3)).toBe('open');
    expect(breaker.tryAcquire(3)).toBe(false);
    expect(breaker.snapshot(3).lastOpenReason).toBe('3 consecutive failures');
  });

  it('a success resets the consecutive count', () => {
    const breaker = new CircuitBreaker();
    breaker.recordFailure(serverError(), 0);
    breaker.recordFailure(serverError(), 0);
    breaker.recordSuccess(0);
    breaker.recordFailure(serverError(), 0);
    breaker.recordFailure(serverError(), 0);
    expect(breaker.state(0)).toBe('closed');
  });

  it('opens at 50% failures of the last 20 once 10 calls are in the window', () => {
    const breaker = new CircuitBreaker();
    // Alternate: never 3 in a row. After 9 calls (4 failures) it is still closed.
    for (let i = 0; i < 9; i++) {
      if (i % 2 === 1) breaker.recordFailure(serverError(), i);
      else breaker.recordSuccess(i);
    }
    expect(breaker.state(9)).toBe('closed');
    breaker.recordFailure(serverError(), 9); // 10 calls, 5 failures
    expect(breaker.state(10)).toBe('open');
    expect(breaker.snapshot(10).lastOpenReason).toBe('5 of the last 10 calls failed');
  });

  it('the window forgets calls older than the last 20', () => {
    const breaker = new CircuitBreaker();
    // 4 failures in 12 calls (below 50%), then 20 successes push them out.
    for (let i = 0; i < 4; i++) {
      breaker.recordFailure(serverError(), 0);
      breaker.recordSuccess(0);
      breaker.recordSuccess(0);
    }
    expect(breaker.snapshot(0)).toMatchObject({ state: 'closed', recentCalls: 12, recentFailures: 4 });
    for (let i = 0; i < 20; i++) breaker.recordSuccess(0);
    expect(breaker.snapshot(0)).toMatchObject({ recentCalls: 20, recentFailures: 0 });
  });

  it('401/403 open at once', () => {
    const breaker = new CircuitBreaker();
    breaker.recordFailure(new AuthenticationError('bad key', { status: 401 }), 0);
    expect(breaker.state(0)).toBe('open');
    const forbidden = new CircuitBreaker();
    forbidden.recordFailure(new ProviderError('forbidden', { status: 403 }), 0);
    expect(forbidden.state(0)).toBe('open');
  });

  it('caller aborts and 4xx request errors do not count', () => {
    const breaker = new CircuitBreaker();
    for (let i = 0; i < 10; i++) {
      breaker.recordFailure(new AbortedError(), 0);
      breaker.recordFailure(new InvalidRequestError('messages', 'empty'), 0);
      breaker.recordFailure(new ProviderError('bad request', { status: 400 }), 0);
      breaker.recordFailure(new ProviderError('unprocessable', { status: 422 }), 0);
    }
    expect(breaker.state(0)).toBe('closed');
    expect(breaker.snapshot(0).recentCalls).toBe(0);
  });

  it('classifies errors', () => {
    expect(countsAsTargetFailure(new RateLimitedError('slow down'))).toBe(true);
    expect(countsAsTargetFailure(new NetworkError('reset'))).toBe(true);
    expect(countsAsTargetFailure(new DeadlineExceededError(100))).toBe(true);
    expect(countsAsTargetFailure(new ProviderError('timeout', { status: 408 }))).toBe(true);
    expect(countsAsTargetFailure(new ProviderError('not found', { status: 404 }))).toBe(false);
    expect(countsAsTargetFailure(new AbortedError())).toBe(false);
  });
});

describe('CircuitBreaker: cooldown and half-open', () => {
  const openAt = (breaker: CircuitBreaker, now: number) => {
    for (let i = 0; i < 3; i++) breaker.recordFailure(serverError(), now);
  };

  it('turns half-open after 5 s and lets exactly one probe through', () => {
    const breaker = new CircuitBreaker();
    openAt(breaker, 1_000);
    expect(breaker.state(5_999)).toBe('open');
    expect(breaker.tryAcquire(5_999)).toBe(false);
    expect(breaker.state(6_000)).toBe('half-open');
    expect(breaker.tryAcquire(6_000)).toBe(true);
    expect(breaker.tryAcquire(6_001)).toBe(false);
    expect(breaker.tryAcquire(7_000)).toBe(false);
  });

  it('a probe success closes and forgets the failures', () => {
    const breaker = new CircuitBreaker();
    openAt(breaker, 0);
    expect(breaker.tryAcquire(5_000)).toBe(true);
    breaker.recordSuccess(5_100);
    expect(breaker.state(5_100)).toBe('closed');
    expect(breaker.tryAcquire(5_100)).toBe(true);
    breaker.recordFailure(serverError(), 5_200);
    expect(breaker.state(5_200)).toBe('closed');
  });

  it('failed probes double the cooldown up to 60 s; a success resets it to 5 s', () => {
    const breaker = new CircuitBreaker();
    let now = 0;
    openAt(breaker, now);
    const cooldowns: number[] = [];
    let openedAt = now;
    for (let round = 0; round < 6; round++) {
      // The cooldown of this opening, then a failed probe at the moment it turns half-open.
      const openUntil = breaker.snapshot(now).openUntil as number;
      cooldowns.push(openUntil - openedAt);
      now = openUntil;
      expect(breaker.tryAcquire(now)).toBe(true);
      breaker.recordFailure(serverError(), now);
      openedAt = now;
    }
    expect(cooldowns).toEqual([5_000, 10_000, 20_000, 40_000, 60_000, 60_000]);
    now = breaker.snapshot(now).openUntil as number;
    expect(breaker.tryAcquire(now)).toBe(true);
    breaker.recordSuccess(now);
    openAt(breaker, now);
    expect((breaker.snapshot(now).openUntil as number) - now).toBe(5_000);
  });

  it('honours a Retry-After longer than the cooldown, not a shorter one', () => {
    const longer = new CircuitBreaker();
    longer.recordFailure(serverError(), 0);
    longer.recordFailure(serverError(), 0);
    longer.recordFailure(new RateLimitedError('slow down', { retryAfterMs: 30_000 }), 0);
    expect(longer.state(29_999)).toBe('open');
    expect(longer.state(30_000)).toBe('half-open');

    const shorter = new CircuitBreaker();
    shorter.recordFailure(serverError(), 0);
    shorter.recordFailure(serverError(), 0);
    shorter.recordFailure(new RateLimitedError('slow down', { retryAfterMs: 1_000 }), 0);
    expect(shorter.state(4_999)).toBe('open');
    expect(shorter.state(5_000)).toBe('half-open');
  });

  it('a Retry-After reported while open extends the wait', () => {
    const breaker = new CircuitBreaker();
    openAt(breaker, 0);
    breaker.recordFailure(new ProviderError('unavailable', { status: 503, retryAfterMs: 20_000 }), 1_000);
    expect(breaker.state(20_999)).toBe('open');
    expect(breaker.state(21_000)).toBe('half-open');
  });

  it('an aborted probe frees the slot for another probe', () => {
    const breaker = new CircuitBreaker();
    openAt(breaker, 0);
    expect(breaker.tryAcquire(5_000)).toBe(true);
    breaker.recordFailure(new AbortedError(), 5_010);
    expect(breaker.state(5_010)).toBe('half-open');
    expect(breaker.tryAcquire(5_010)).toBe(true);
  });

  it('a late success from before the opening does not close it', () => {
    const breaker = new CircuitBreaker();
    openAt(breaker, 0);
    breaker.recordSuccess(100);
    expect(breaker.state(100)).toBe('open');
  });

  it('takes custom settings', () => {
    const breaker = new CircuitBreaker({ consecutiveFailures: 1, cooldownMs: 100, maxCooldownMs: 150 });
    breaker.recordFailure(serverError(), 0);
    expect(breaker.state(99)).toBe('open');
    expect(breaker.tryAcquire(100)).toBe(true);
    breaker.recordFailure(serverError(), 100);
    expect(breaker.state(249)).toBe('open');
    expect(breaker.state(250)).toBe('half-open');
  });
});
