/**
 * Budgets longer than one timer can wait (2^31 - 1 ms, about 24.8 days): Node fires such a timer
 * after 1 ms, which would end the call at once. The deadline re-arms until it is really due, and
 * the system clock never hands Node a longer delay.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CallDeadline } from '../../src/execute/deadline.js';
import { type Clock, maxTimerMs } from '../../src/time/clock.js';
import { createClient } from '../../src/index.js';
import { mockTarget } from '../../src/testing.js';
import { collect } from '../helpers/async.js';
import { manualClock } from '../helpers/clock.js';

describe('budgets longer than one timer', () => {
  const warnings: Error[] = [];
  const onWarning = (warning: Error) => warnings.push(warning);
  beforeEach(() => {
    warnings.length = 0;
    process.on('warning', onWarning);
  });
  afterEach(() => {
    process.off('warning', onWarning);
  });

  it('a deadline 2.5 timer-lengths away re-arms and fires only when due', () => {
    const time = manualClock();
    const budget = 2.5 * maxTimerMs;
    const deadline = new CallDeadline(budget, time.clock);
    expect(time.delays()).toEqual([maxTimerMs]);
    time.advance(maxTimerMs);
    expect(deadline.signal.aborted).toBe(false);
    time.advance(maxTimerMs);
    expect(deadline.signal.aborted).toBe(false);
    time.advance(0.5 * maxTimerMs - 1);
    expect(deadline.signal.aborted).toBe(false);
    time.advance(1);
    expect(deadline.signal.aborted).toBe(true);
    expect(deadline.cause()).toBe('deadline');
  });

  it('a call with a 35-day budget answers instead of failing at once, with no timer warning', async () => {
    const client = createClient({ targets: [mockTarget({ delayMs: 20 })] });
    const result = await client.generate({ prompt: 'take your time', latency: 3_000_000_000 });
    expect(result.text).toBe('echo: take your time');
    expect(result.route.segment).toBe('batch');
    const parts = await collect(client.stream({ prompt: 'slow stream', latency: 3_000_000_000, idleMs: 3_000_000_000 }));
    expect(parts.at(-1)?.type).toBe('finish');
    await new Promise((resolve) => setImmediate(resolve));
    expect(warnings.map((warning) => warning.name)).not.toContain('TimeoutOverflowWarning');
  });
});
