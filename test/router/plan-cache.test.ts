/**
 * Plan reuse (src/router/plan-cache.ts). A client reuses a plan for requests that route the same
 * way for `planCacheMs`; anything that changes a plan in kind ends reuse at once. The client,
 * router, stats and executor are real; the targets are the recording mocks of `inferlane/testing`.
 */
import { describe, expect, it } from 'vitest';
import { createClient, type ClientOptions } from '../../src/index.js';
import { PlanCache } from '../../src/router/plan-cache.js';
import type { Plan } from '../../src/router/types.js';
import { mockTarget } from '../../src/testing.js';

const messages = [{ role: 'user' as const, content: 'hello there' }];

/** A client on a clock the test moves by hand (timers stay real: nothing here waits on them). */
function clientAt(options: Omit<ClientOptions, 'clock'>) {
  const clock = { now: 1_000_000 };
  const client = createClient({
    ...options,
    clock: { now: () => clock.now, setTimeout: (cb, ms) => setTimeout(cb, ms), clearTimeout: (h) => clearTimeout(h as ReturnType<typeof setTimeout>) },
  });
  return { client, clock };
}

/** Latency samples for a target (first-token and total), at the client's current time. */
function measure(client: ReturnType<typeof createClient>, id: string, ms: number, count: number, now: number) {
  for (let i = 0; i < count; i++) client.stats.record(id, { ttftMs: ms, totalMs: ms }, now);
}

describe('plan reuse', () => {
  it('reuses a plan for planCacheMs while only latency figures move, then plans again', async () => {
    const { client, clock } = clientAt({ targets: [mockTarget({ id: 'a' }), mockTarget({ id: 'b' })] });
    measure(client, 'a', 100, 5, clock.now);
    measure(client, 'b', 200, 5, clock.now);
    expect((await client.generate({ messages })).route.target).toBe('a');
    // b becomes much faster: a latency change alone does not end reuse...
    measure(client, 'b', 10, 60, clock.now);
    expect((await client.generate({ messages })).route.target).toBe('a');
    expect(client.explain({ messages }).candidates[0].target.id).toBe('b'); // explain always plans afresh
    // ...until the plan is older than planCacheMs (500 ms by default).
    clock.now += 500;
    expect((await client.generate({ messages })).route.target).toBe('b');
  });

  it('plans every request with planCacheMs: 0', async () => {
    const { client, clock } = clientAt({ targets: [mockTarget({ id: 'a' }), mockTarget({ id: 'b' })], planCacheMs: 0 });
    measure(client, 'a', 100, 5, clock.now);
    measure(client, 'b', 200, 5, clock.now);
    expect((await client.generate({ messages })).route.target).toBe('a');
    measure(client, 'b', 10, 60, clock.now);
    expect((await client.generate({ messages })).route.target).toBe('b');
  });

  it('plans again at once after a failure: an opened circuit is never tried from a stale plan', async () => {
    const { client } = clientAt({
      targets: [mockTarget({ id: 'a', generate: new Error('boom') }), mockTarget({ id: 'b' })],
      retry: { maxRetries: 0 },
      stats: { circuit: { consecutiveFailures: 1, cooldownMs: 60_000 } },
    });
    const first = await client.generate({ messages });
    expect(first.route.attempts.map((a) => [a.target, a.outcome])).toEqual([
      ['a', 'error'],
      ['b', 'ok'],
    ]);
    // With the old plan, `a` would be the first candidate again and show up as skipped.
    const second = await client.generate({ messages });
    expect(second.route.attempts.map((a) => [a.target, a.outcome])).toEqual([['b', 'ok']]);
  });

  it('keys on token counts when a target has a context limit', async () => {
    const small = mockTarget({ id: 'small', limits: { contextTokens: 300 } });
    const large = mockTarget({ id: 'large', expected: { ttftMs: 5_000 } });
    const { client } = clientAt({ targets: [small, large] });
    expect((await client.generate({ messages, maxOutputTokens: 10 })).route.target).toBe('small');
    const long = [{ role: 'user' as const, content: 'x'.repeat(4_000) }];
    expect((await client.generate({ messages: long, maxOutputTokens: 10 })).route.target).toBe('large');
    expect(small.calls).toHaveLength(1);
  });

  it('does not reuse plans made while a circuit was open (it half-opens with time, not with an event)', async () => {
    const { client, clock } = clientAt({
      targets: [mockTarget({ id: 'a', generate: (_call, _ctx, index) => (index === 0 ? Promise.reject(new Error('boom')) : 'fine') }), mockTarget({ id: 'b' })],
      retry: { maxRetries: 0 },
      stats: { circuit: { consecutiveFailures: 1, cooldownMs: 100 } },
    });
    await client.generate({ messages }); // a fails, its circuit opens
    expect((await client.generate({ messages })).route.target).toBe('b'); // planned with a open: not kept
    clock.now += 100; // cooldown over, well within the 500 ms a kept plan would live
    const probe = await client.generate({ messages });
    expect(probe.route.target).toBe('a');
  });
});

describe('PlanCache', () => {
  const plan = (id: string): Plan => ({ segment: 'interactive', budgetMs: 2000, candidates: [], rejected: [{ target: id, code: 'modality', reason: id }] });
  const targets = [mockTarget({ id: 'a' }), mockTarget({ id: 'b' })];

  it('finds a plan by what routes it: same ids in a new array hit, another segment or budget misses', () => {
    const cache = new PlanCache(targets, 500);
    expect(cache.find('generate', { targets: ['a', 'b'] }, 'interactive', 2000, 10, undefined, 0, 0)).toBeUndefined();
    const made = plan('x');
    cache.remember(made, 0, 0, true);
    expect(cache.find('generate', { targets: ['a', 'b'] }, 'interactive', 2000, 99, undefined, 10, 0)).toBe(made);
    expect(cache.find('generate', { targets: ['b', 'a'] }, 'interactive', 2000, 10, undefined, 10, 0)).toBeUndefined();
    expect(cache.find('generate', { targets: ['a', 'b'] }, 'interactive', 1500, 10, undefined, 10, 0)).toBeUndefined();
    expect(cache.find('stream', { targets: ['a', 'b'] }, 'interactive', 2000, 10, undefined, 10, 0)).toBeUndefined();
    expect(cache.find('generate', { targets: ['a', 'b'], privacy: 'device-only' }, 'interactive', 2000, 10, undefined, 10, 0)).toBeUndefined();
  });

  it('ends reuse when the epoch moves or the entry is older than its lifetime; never for conversations or unreusable plans', () => {
    const cache = new PlanCache(targets, 500);
    const request = {};
    cache.find('generate', request, 'interactive', 2000, 10, undefined, 0, 0);
    const made = plan('y');
    cache.remember(made, 0, 0, true);
    expect(cache.find('generate', request, 'interactive', 2000, 10, undefined, 499, 0)).toBe(made);
    expect(cache.find('generate', request, 'interactive', 2000, 10, undefined, 499, 1)).toBeUndefined();
    cache.remember(made, 0, 0, true);
    expect(cache.find('generate', request, 'interactive', 2000, 10, undefined, 500, 0)).toBeUndefined();
    cache.remember(plan('z'), 600, 0, false);
    expect(cache.find('generate', request, 'interactive', 2000, 10, undefined, 601, 0)).toBeUndefined();
    expect(cache.find('generate', { conversation: { id: 'c' } }, 'interactive', 2000, 10, undefined, 601, 0)).toBeUndefined();
    cache.remember(made, 601, 0, true); // a miss for a conversation leaves nothing to remember
    expect(cache.find('generate', { conversation: { id: 'c' } }, 'interactive', 2000, 10, undefined, 602, 0)).toBeUndefined();
  });

  it('keys on token counts only when some target has a context or KV limit, or prices', () => {
    const free = new PlanCache(targets, 500);
    free.find('generate', {}, 'interactive', 2000, 10, undefined, 0, 0);
    const made = plan('t');
    free.remember(made, 0, 0, true);
    expect(free.find('generate', {}, 'interactive', 2000, 5_000, 64, 1, 0)).toBe(made);
    const priced = new PlanCache([...targets, mockTarget({ id: 'c', cost: { inputPerMTok: 1 } })], 500);
    priced.find('generate', {}, 'interactive', 2000, 10, undefined, 0, 0);
    priced.remember(made, 0, 0, true);
    expect(priced.find('generate', {}, 'interactive', 2000, 10, undefined, 1, 0)).toBe(made);
    expect(priced.find('generate', {}, 'interactive', 2000, 11, undefined, 1, 0)).toBeUndefined();
  });
});
