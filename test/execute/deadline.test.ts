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

/** A clock whose time moves only when the test says, firing the timers that fall due. */
function manualClock() {
  let now = 0;
  let nextId = 0;
  const timers = new Map<number, { at: number; callback: () => void }>();
  const clock: Clock = {
    now: () => now,
    setTimeout: (callback, ms) => {
      const id = ++nextId;
      timers.set(id, { at: now + ms, callback });
      return id;
    },
    clearTimeout: (handle) => void timers.delete(handle as number),
  };
  return {
    clock,
    delays: () => [...timers.values()].map((timer) => timer.at - now),
    advance(ms: number) {
      const until = now + ms;
      for (;;) {
        const due = [...timers.entries()].filter(([, timer]) => timer.at <= until).sort((a, b) => a[1].at - b[1].at)[0];
        if (!due) break;
        timers.delete(due[0]);
        now = due[1].at;
        due[1].callback();
      }
      now = until;
    },
  };
}

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
