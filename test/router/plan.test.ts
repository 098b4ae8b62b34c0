import { describe, expect, it } from 'vitest';
import { ProviderError } from '../../src/errors.js';
import { explainPlan, plan } from '../../src/router/plan.js';
import type { PlanRequest } from '../../src/router/types.js';
import { Stats } from '../../src/stats/stats.js';
import type { BatchCapability, Target } from '../../src/target.js';

// Targets are plain data here: plan() never calls their methods, it only checks which exist.
const method = async () => {
  throw new Error('plan() must not call target methods');
};

function target(id: string, kind: Target['kind'], extra: Partial<Target> = {}): Target {
  return { id, kind, modalities: ['text'], doGenerate: method, doStream: undefined, ...extra } as Target;
}

const batchEndpoint = (priceMultiplier: number): BatchCapability => ({
  maxItems: 50_000,
  maxBytes: 200e6,
  priceMultiplier,
  itemBytes: () => 0,
  submit: method,
  findByMetadata: method,
  status: method,
  results: method as never,
  cancel: method,
});

function request(overrides: Partial<PlanRequest> = {}): PlanRequest {
  return {
    operation: 'generate',
    modality: 'text',
    segment: 'interactive',
    budgetMs: 2_000,
    privacy: 'any',
    inputTokens: 1_000,
    outputTokens: 200,
    now: 1_000_000,
    ...overrides,
  };
}

/** Feeds `n` identical measurements, as the executor would after successful calls. */
function measure(stats: Stats, id: string, ttftMs: number, totalMs = ttftMs * 3, n = 10): void {
  for (let i = 0; i < n; i++) stats.recordSuccess(id, { ttftMs, totalMs }, i);
}

const ids = (p: ReturnType<typeof plan>) => p.candidates.map((c) => c.target.id);
const rejection = (p: ReturnType<typeof plan>, id: string) => p.rejected.find((r) => r.target === id);

const device = target('device:tiny', 'device', { expected: { ttftMs: 30 } });
const groq = target('groq:fast', 'realtime', { expected: { ttftMs: 60 }, cost: { inputPerMTok: 0.05, outputPerMTok: 0.08 } });
const mini = target('openai:mini', 'cloud', { expected: { ttftMs: 400 }, cost: { inputPerMTok: 0.4, cachedInputPerMTok: 0.1, outputPerMTok: 1.6 } });
const nano = target('openai:nano', 'cloud', { expected: { ttftMs: 300 }, cost: { inputPerMTok: 0.1, cachedInputPerMTok: 0.025, outputPerMTok: 0.4 } });
const batchOnly = target('openai:batch', 'batch', { doGenerate: undefined, batch: batchEndpoint(0.5), cost: { inputPerMTok: 0.1, outputPerMTok: 0.4 } });

describe('latency is a prediction', () => {
  it('rejects a target measured too slow when a faster one can serve', () => {
    const stats = new Stats();
    measure(stats, 'openai:mini', 900);
    measure(stats, 'openai:nano', 50);
    const p = plan(request({ budgetMs: 500 }), [mini, nano], stats);
    expect(ids(p)).toEqual(['openai:nano']);
    expect(rejection(p, 'openai:mini')?.code).toBe('latency');
  });

  it('still tries the fastest when every target is only predicted too slow, so it can be measured again', () => {
    const stats = new Stats();
    measure(stats, 'openai:mini', 900);
    measure(stats, 'openai:nano', 700);
    const p = plan(request({ budgetMs: 500 }), [mini, nano], stats);
    expect(ids(p)).toEqual(['openai:nano', 'openai:mini']);
    expect(p.rejected).toEqual([]);
    expect(p.candidates[0].reason).toContain('tried because no faster target can serve');
  });
});

describe('plan filters: each rejected target keeps its reason', () => {
  it('only: unlisted targets and unknown ids', () => {
    const p = plan(request({ only: ['openai:nano', 'nope'] }), [device, nano, mini], new Stats());
    expect(ids(p)).toEqual(['openai:nano']);
    expect(rejection(p, 'device:tiny')).toMatchObject({ code: 'not-listed' });
    expect(rejection(p, 'openai:mini')).toMatchObject({ code: 'not-listed' });
    expect(rejection(p, 'nope')).toEqual({ target: 'nope', code: 'unknown-target', reason: 'no target has this id' });
  });

  it('privacy device-only is a hard filter', () => {
    const p = plan(request({ privacy: 'device-only' }), [mini, device, groq], new Stats());
    expect(ids(p)).toEqual(['device:tiny']);
    for (const id of ['openai:mini', 'groq:fast']) {
      expect(rejection(p, id)).toEqual({ target: id, code: 'privacy', reason: 'privacy: device-only forbids network targets' });
    }
  });

  it('modality', () => {
    const painter = target('openai:image', 'cloud', { modalities: ['image'], doGenerate: undefined, doImage: method });
    const p = plan(request({ operation: 'image', modality: 'image' }), [mini, painter], new Stats());
    expect(ids(p)).toEqual(['openai:image']);
    expect(rejection(p, 'openai:mini')?.reason).toBe("text-only, cannot serve 'image'");
    const multi = target('multi', 'cloud', { modalities: ['text', 'embedding'] });
    expect(rejection(plan(request({ operation: 'speech', modality: 'speech' }), [multi], new Stats()), 'multi')?.reason).toBe(
      "serves text, embedding, cannot serve 'speech'",
    );
  });

  it('methods: streaming takes doStream or doGenerate; embedding needs doEmbed', () => {
    const streamer = target('streamer', 'cloud', { doGenerate: undefined, doStream: method as never });
    const none = target('none', 'cloud', { doGenerate: undefined });
    const p = plan(request({ operation: 'stream' }), [streamer, mini, none], new Stats());
    expect(ids(p).sort()).toEqual(['openai:mini', 'streamer']);
    expect(rejection(p, 'none')).toMatchObject({ code: 'method', reason: 'cannot stream: has neither doStream nor doGenerate' });

    const embedder = target('embedder', 'cloud', { modalities: ['embedding'], doGenerate: undefined, doEmbed: method });
    const noEmbed = target('no-embed', 'cloud', { modalities: ['embedding'] });
    const e = plan(request({ operation: 'embed', modality: 'embedding' }), [noEmbed, embedder], new Stats());
    expect(ids(e)).toEqual(['embedder']);
    expect(rejection(e, 'no-embed')).toMatchObject({ code: 'method', reason: 'cannot embed: has no doEmbed' });
  });

  it('a target with only a batch endpoint serves only the batch segment', () => {
    const interactive = plan(request(), [batchOnly, mini], new Stats());
    expect(ids(interactive)).toEqual(['openai:mini']);
    expect(rejection(interactive, 'openai:batch')).toMatchObject({ code: 'segment' });
    expect(rejection(interactive, 'openai:batch')?.reason).toContain('batch endpoint');
    const batch = plan(request({ segment: 'batch', budgetMs: 86_400_000 }), [batchOnly, mini], new Stats());
    expect(ids(batch)).toContain('openai:batch');
    // A streaming request cannot use a batch endpoint, even in the batch segment.
    expect(rejection(plan(request({ operation: 'stream', segment: 'batch', budgetMs: 86_400_000 }), [batchOnly], new Stats()), 'openai:batch')?.code).toBe('method');
  });

  it('segment vs kind: batch-kind targets never serve realtime or interactive', () => {
    const batchKindOnline = target('batchy', 'batch', { batch: batchEndpoint(0.5) });
    const p = plan(request(), [batchKindOnline], new Stats());
    expect(p.candidates).toEqual([]);
    expect(rejection(p, 'batchy')).toEqual({ target: 'batchy', code: 'segment', reason: 'a batch target does not serve the interactive segment' });
  });

  it('realtime takes a cloud target only when its MEASURED p90 fits', () => {
    const fastCloud = target('cloud:fast', 'cloud', { expected: { ttftMs: 20 } });
    const stats = new Stats();
    const realtime = request({ segment: 'realtime', budgetMs: 80 });
    // A prior, even a fast one (in target.expected or in the stats), is not enough.
    expect(rejection(plan(realtime, [fastCloud], stats), 'cloud:fast')).toMatchObject({ code: 'segment' });
    stats.setPrior(fastCloud);
    expect(rejection(plan(realtime, [fastCloud], stats), 'cloud:fast')).toMatchObject({ code: 'segment' });
    measure(stats, 'cloud:fast', 40);
    expect(ids(plan(realtime, [fastCloud], stats))).toEqual(['cloud:fast']);
    const slow = new Stats();
    measure(slow, 'cloud:fast', 150);
    expect(rejection(plan(realtime, [fastCloud], slow), 'cloud:fast')?.code).toBe('latency');
  });

  it('unavailable devices and open circuits', () => {
    const stats = new Stats();
    stats.setAvailability('device:tiny', 'unavailable');
    // openai:mini is measured as the fastest of all, then fails three times in a row.
    measure(stats, 'openai:mini', 20);
    for (let i = 0; i < 3; i++) stats.recordFailure('openai:mini', new ProviderError('boom', { status: 500 }), 0);
    const p = plan(request({ now: 1_000 }), [device, mini, nano], stats);
    expect(ids(p)).toEqual(['openai:nano']);
    expect(rejection(p, 'device:tiny')).toEqual({ target: 'device:tiny', code: 'unavailable', reason: 'unavailable on this device' });
    expect(rejection(p, 'openai:mini')?.code).toBe('circuit-open');
    // Once the cooldown ends it is half-open: allowed again in its usual place (it is the fastest),
    // so the one probe the executor lets through actually happens.
    const later = plan(request({ now: 5_000, prefer: 'fastest' }), [mini, nano, groq], stats);
    expect(ids(later)[0]).toBe('openai:mini');
    expect(later.candidates[0].reason).toContain('half-open');
  });

  it('context window: rejects what cannot fit; a conversation is fitted instead', () => {
    const small = target('small', 'cloud', { limits: { contextTokens: 1_000 } });
    const big = target('big', 'cloud', { limits: { contextTokens: 128_000 } });
    const p = plan(request({ inputTokens: 900, outputTokens: 200 }), [small, big], new Stats());
    expect(ids(p)).toEqual(['big']);
    expect(rejection(p, 'small')).toEqual({ target: 'small', code: 'context', reason: 'needs 1,100 tokens but the context holds 1,000' });

    const conversation = { totalTokens: 50_000 };
    const fitted = plan(request({ inputTokens: 300, outputTokens: 200, conversation }), [small, big], new Stats());
    expect(ids(fitted).sort()).toEqual(['big', 'small']);
    expect(fitted.candidates.find((c) => c.target.id === 'small')?.reason).toContain('history will be fitted');
    const tooBig = plan(request({ inputTokens: 900, outputTokens: 200, conversation }), [small], new Stats());
    expect(rejection(tooBig, 'small')?.reason).toContain('even the system message and last turn');
  });

  it('device KV memory: a conversation whose cache will not fit goes elsewhere', () => {
    // Llama-3.2-1B-like geometry: 16 layers x 8 kv heads x 64 dims x 2 bytes x 2 = 32 KiB per token.
    const kvDevice = target('device:llama', 'device', {
      expected: { ttftMs: 30 },
      kv: { layers: 16, kvHeads: 8, headDim: 64, bytesPerValue: 2, memoryBudgetBytes: 2 * 1024 ** 3, weightsBytes: 1024 ** 3 },
    });
    // Free: 0.7 x 2 GiB - 1 GiB = 0.4 GiB = 13,107 tokens of 32 KiB.
    const fits = plan(request({ inputTokens: 12_000, outputTokens: 1_000 }), [kvDevice, mini], new Stats());
    expect(ids(fits)[0]).toBe('device:llama');
    const overflows = plan(request({ inputTokens: 12_000, outputTokens: 1_200 }), [kvDevice, mini], new Stats());
    expect(ids(overflows)).toEqual(['openai:mini']);
    expect(rejection(overflows, 'device:llama')).toEqual({
      target: 'device:llama',
      code: 'kv-memory',
      reason: 'KV cache for 13,200 tokens needs 413 MiB plus 1.0 GiB of weights, over 70% of the 2.0 GiB memory budget',
    });
    // Under device-only privacy the history is fitted on the device rather than leaving it.
    const conversation = { totalTokens: 40_000 };
    const privateChat = plan(request({ privacy: 'device-only', inputTokens: 500, conversation }), [kvDevice, mini], new Stats());
    expect(ids(privateChat)).toEqual(['device:llama']);
    expect(rejection(plan(request({ inputTokens: 500, conversation }), [kvDevice, mini], new Stats()), 'device:llama')?.code).toBe('kv-memory');
  });

  it('predicted p50 over the budget rejects, in the words people read', () => {
    const stats = new Stats();
    measure(stats, 'groq:fast', 420);
    const p = plan(request({ segment: 'realtime', budgetMs: 80 }), [groq, device], stats);
    expect(ids(p)).toEqual(['device:tiny']);
    expect(rejection(p, 'groq:fast')).toEqual({ target: 'groq:fast', code: 'latency', reason: 'p50 420 ms exceeds the 80 ms budget' });
  });

  it('p90 over the budget but p50 within keeps the target, with fits: false, after those that fit', () => {
    // Prior 60 ms reads as p50 60, p90 90: over an 80 ms budget.
    const cheapButTight = target('tight', 'realtime', { expected: { ttftMs: 60 }, cost: { inputPerMTok: 0 } });
    const p = plan(request({ segment: 'realtime', budgetMs: 80, prefer: 'cheapest' }), [cheapButTight, device], new Stats());
    expect(ids(p)).toEqual(['device:tiny', 'tight']);
    expect(p.candidates[1].fits).toBe(false);
    expect(p.candidates[0].fits).toBe(true);
    expect(p.candidates[1].reason).toBe('p90 first token 90 ms exceeds the 80 ms budget (p50 60 ms fits), so tried after those that fit');
  });
});

describe('plan ordering', () => {
  it('realtime: fastest p90 first token first', () => {
    const stats = new Stats();
    measure(stats, 'device:tiny', 45);
    measure(stats, 'groq:fast', 35);
    const p = plan(request({ segment: 'realtime', budgetMs: 80 }), [device, groq], stats);
    expect(ids(p)).toEqual(['groq:fast', 'device:tiny']);
    expect(p.candidates[0].reason).toMatch(/^fastest p90 first token 3\d ms within 80 ms budget$/);
    expect(p.candidates[1].reason).toContain('slower than groq:fast');
  });

  it('measured latency overrides the prior', () => {
    const stats = new Stats();
    const before = plan(request({ prefer: 'fastest' }), [mini, nano], stats);
    expect(ids(before)).toEqual(['openai:nano', 'openai:mini']);
    measure(stats, 'openai:nano', 900);
    measure(stats, 'openai:mini', 100);
    const after = plan(request({ prefer: 'fastest' }), [mini, nano], stats);
    expect(ids(after)).toEqual(['openai:mini', 'openai:nano']);
    expect(after.candidates[0].predictedMs.p50).toBeGreaterThan(90);
    expect(after.candidates[0].predictedMs.p50).toBeLessThan(110);
  });

  it('interactive: cheapest among those that fit at p90, ties by p90', () => {
    const twinSlow = target('twin:slow', 'cloud', { expected: { ttftMs: 500 }, cost: { inputPerMTok: 0.1, outputPerMTok: 0.4 } });
    const twinFast = target('twin:fast', 'cloud', { expected: { ttftMs: 200 }, cost: { inputPerMTok: 0.1, outputPerMTok: 0.4 } });
    const p = plan(request(), [mini, twinSlow, twinFast, groq], new Stats());
    expect(ids(p)).toEqual(['groq:fast', 'twin:fast', 'twin:slow', 'openai:mini']);
    // Costs: 1000 in + 200 out at the listed prices.
    expect(p.candidates[0].costUsd).toBeCloseTo((1_000 * 0.05 + 200 * 0.08) / 1e6, 12);
    expect(p.candidates[3].costUsd).toBeCloseTo((1_000 * 0.4 + 200 * 1.6) / 1e6, 12);
    expect(p.candidates[0].reason).toMatch(/^cheapest at \$0\.000066, p90 first token 90 ms within 2,000 ms budget$/);
  });

  it('prices a modality at its own rates when a target declares them (byModality)', () => {
    // Cheaper for chat, dearer for embeddings: each request is ranked by its own modality's prices.
    const both = { modalities: ['text', 'embedding'] as Target['modalities'], doEmbed: method, expected: { ttftMs: 200 } };
    const chatCheap = target('chat-cheap', 'cloud', { ...both, cost: { inputPerMTok: 0.1, outputPerMTok: 0.4, byModality: { embedding: { inputPerMTok: 0.5 } } } });
    const embedCheap = target('embed-cheap', 'cloud', { ...both, cost: { inputPerMTok: 0.4, outputPerMTok: 1.6, byModality: { embedding: { inputPerMTok: 0.02 } } } });
    const text = plan(request(), [embedCheap, chatCheap], new Stats());
    expect(ids(text)).toEqual(['chat-cheap', 'embed-cheap']);
    const embed = plan(request({ operation: 'embed', modality: 'embedding', outputTokens: 0 }), [chatCheap, embedCheap], new Stats());
    expect(ids(embed)).toEqual(['embed-cheap', 'chat-cheap']);
    expect(embed.candidates[0].costUsd).toBeCloseTo((1_000 * 0.02) / 1e6, 12);
  });

  it('interactive: a cheap target that does not fit at p90 goes after a dearer one that does', () => {
    const stats = new Stats();
    measure(stats, 'openai:nano', 900, 2_000, 6);
    measure(stats, 'openai:nano', 2_400, 4_000, 4);
    const p = plan(request(), [nano, mini], stats);
    expect(ids(p)).toEqual(['openai:mini', 'openai:nano']);
    expect(p.candidates[1].fits).toBe(false);
  });

  it('batch: cheapest with the batch price multiplier; device and realtime as last resort', () => {
    const onlineCloud = target('cloud:online', 'cloud', { cost: { inputPerMTok: 0.1, outputPerMTok: 0.4 } });
    const free = target('device:free', 'device');
    const p = plan(request({ segment: 'batch', budgetMs: 86_400_000 }), [free, groq, onlineCloud, batchOnly], new Stats());
    expect(ids(p)).toEqual(['openai:batch', 'cloud:online', 'device:free', 'groq:fast']);
    expect(p.candidates[0].costUsd).toBeCloseTo(p.candidates[1].costUsd / 2, 12);
    expect(p.candidates[2].reason).toContain('last resort');
  });

  it('batch with a short budget: a batch endpoint that takes hours is ruled out, online targets serve', () => {
    const onlineCloud = target('cloud:online', 'cloud', { cost: { inputPerMTok: 0.1, outputPerMTok: 0.4 } });
    const p = plan(request({ segment: 'batch', budgetMs: 10_000 }), [batchOnly, onlineCloud], new Stats());
    expect(ids(p)).toEqual(['cloud:online']);
    expect(rejection(p, 'openai:batch')).toMatchObject({ code: 'latency' });
    expect(rejection(p, 'openai:batch')?.reason).toContain('beyond the 10,000 ms budget');
  });

  it('prefer overrides the segment preference', () => {
    const fastest = plan(request({ prefer: 'fastest' }), [mini, nano, device], new Stats());
    expect(ids(fastest)).toEqual(['device:tiny', 'openai:nano', 'openai:mini']);
    const stats = new Stats();
    measure(stats, 'groq:fast', 30);
    measure(stats, 'device:tiny', 50);
    const cheapest = plan(request({ segment: 'realtime', budgetMs: 99, prefer: 'cheapest' }), [groq, device], stats);
    expect(ids(cheapest)).toEqual(['device:tiny', 'groq:fast']);
  });

  it('only without prefer keeps the listed order', () => {
    const p = plan(request({ only: ['openai:mini', 'device:tiny', 'openai:nano'] }), [device, nano, mini], new Stats());
    expect(ids(p)).toEqual(['openai:mini', 'device:tiny', 'openai:nano']);
    expect(p.candidates[1].reason).toContain("listed #2 in the request's targets");
  });

  it('a target without prices counts as the median of the known ones (device: free)', () => {
    const mystery = target('mystery', 'cloud', { expected: { ttftMs: 100 } });
    const cheap = target('cheap', 'cloud', { cost: { inputPerMTok: 0.1 } });
    const middle = target('middle', 'cloud', { cost: { inputPerMTok: 0.2 } });
    const dear = target('dear', 'cloud', { cost: { inputPerMTok: 0.3 } });
    const p = plan(request(), [dear, mystery, middle, cheap], new Stats());
    const cost = (id: string) => p.candidates.find((c) => c.target.id === id)!.costUsd;
    expect(cost('mystery')).toBeCloseTo(cost('middle'), 15);
    // Same price as 'middle', and faster (100 ms prior vs the 600 ms cloud default): ahead of it.
    expect(ids(p)).toEqual(['cheap', 'mystery', 'middle', 'dear']);
    expect(p.candidates[1].reason).toContain('no price declared, counted as the median');
  });
});

describe('plan predictions for other operations', () => {
  it('embeddings are predicted on total time, and a batch endpoint serves them in the batch segment at its multiplier', () => {
    const embedOnline = target('embed:online', 'cloud', { modalities: ['embedding'], doGenerate: undefined, doEmbed: method, expected: { totalMs: 120 }, cost: { inputPerMTok: 0.02 } });
    const embedBatch = target('embed:batch', 'batch', { modalities: ['embedding'], doGenerate: undefined, batch: batchEndpoint(0.5), cost: { inputPerMTok: 0.02 } });
    const embed = request({ operation: 'embed', modality: 'embedding', inputTokens: 10_000, outputTokens: undefined });
    const online = plan(embed, [embedOnline, embedBatch], new Stats());
    expect(ids(online)).toEqual(['embed:online']);
    expect(online.candidates[0].predictedMs).toEqual({ p50: 120, p90: 180, ttftP90: 180 });
    expect(online.candidates[0].costUsd).toBeCloseTo((10_000 * 0.02) / 1e6, 15);
    const stats = new Stats();
    for (let i = 0; i < 10; i++) stats.record('embed:online', { totalMs: 40 }, i);
    expect(plan(embed, [embedOnline], stats).candidates[0].predictedMs.p50).toBeCloseTo(40, 5);
    const batch = plan({ ...embed, segment: 'batch', budgetMs: 86_400_000 }, [embedOnline, embedBatch], new Stats());
    expect(ids(batch)).toEqual(['embed:batch', 'embed:online']);
    expect(batch.candidates[0].costUsd).toBeCloseTo((10_000 * 0.02 * 0.5) / 1e6, 15);
  });
});

describe('plan affinity', () => {
  const conversation = (warmUntil: number, target = 'openai:mini') => ({ affinity: { target, warmUntil }, prefixTokens: 8_000, totalTokens: 9_200 });

  it('a warm target wins over a cheaper cold one, and the others carry the cold-switch cost', () => {
    const cold = plan(request(), [mini, nano], new Stats());
    expect(ids(cold)).toEqual(['openai:nano', 'openai:mini']);
    const p = plan(request({ inputTokens: 1_000, conversation: conversation(2_000_000) }), [mini, nano], new Stats());
    expect(ids(p)).toEqual(['openai:mini', 'openai:nano']);
    const [warm, other] = p.candidates;
    expect(warm.warm).toBe(true);
    expect(other.warm).toBeUndefined();
    // Cold switch = prefix x (input - cached input) of the warm target.
    expect(other.coldSwitchUsd).toBeCloseTo((8_000 * (0.4 - 0.1)) / 1e6, 12);
    // Warm: 8,000 cached + 1,000 fresh input, 200 output.
    expect(warm.costUsd).toBeCloseTo((8_000 * 0.1 + 1_000 * 0.4 + 200 * 1.6) / 1e6, 12);
    expect(other.costUsd).toBeCloseTo((9_000 * 0.1 + 200 * 0.4) / 1e6 + other.coldSwitchUsd!, 12);
    expect(warm.reason).toMatch(/^warm prompt cache \(8,000 tokens\), cheapest at/);
    expect(other.reason).toContain('for leaving the warm cache');
  });

  it('warmth expires with warmUntil', () => {
    const p = plan(request({ now: 2_000_000, conversation: conversation(2_000_000) }), [mini, nano], new Stats());
    expect(ids(p)).toEqual(['openai:nano', 'openai:mini']);
    expect(p.candidates.some((c) => c.warm || c.coldSwitchUsd)).toBe(false);
  });

  it('the warm target loses once it no longer fits the budget', () => {
    const stats = new Stats();
    // p50 1,500 ms fits the 2,000 ms budget, p90 2,600 ms does not.
    measure(stats, 'openai:mini', 1_500, 3_000, 6);
    measure(stats, 'openai:mini', 2_600, 5_000, 4);
    const p = plan(request({ conversation: conversation(2_000_000) }), [mini, nano], stats);
    expect(ids(p)).toEqual(['openai:nano', 'openai:mini']);
    expect(p.candidates[1].fits).toBe(false);
  });

  it('without a cached price there is no cold-switch cost, but warmth still breaks a price tie', () => {
    const first = target('same:first', 'cloud', { cost: { inputPerMTok: 0.2 } });
    const second = target('same:second', 'cloud', { cost: { inputPerMTok: 0.2 } });
    const p = plan(request({ conversation: conversation(2_000_000, 'same:second') }), [first, second], new Stats());
    expect(ids(p)).toEqual(['same:second', 'same:first']);
    expect(p.candidates[1].coldSwitchUsd).toBeUndefined();
  });

  it('no cold-switch cost when the warm target cannot serve at all', () => {
    const p = plan(request({ conversation: conversation(2_000_000, 'gone') }), [mini, nano], new Stats());
    expect(p.candidates.every((c) => c.coldSwitchUsd === undefined)).toBe(true);
  });
});

describe('plan determinism and purity', () => {
  it('ties go by the order of the targets list', () => {
    const a = target('a', 'cloud', { cost: { inputPerMTok: 1 } });
    const b = target('b', 'cloud', { cost: { inputPerMTok: 1 } });
    const c = target('c', 'cloud', { cost: { inputPerMTok: 1 } });
    expect(ids(plan(request(), [b, c, a], new Stats()))).toEqual(['b', 'c', 'a']);
    expect(ids(plan(request(), [c, a, b], new Stats()))).toEqual(['c', 'a', 'b']);
  });

  it('same input, same plan; inputs are not mutated', () => {
    const stats = new Stats();
    measure(stats, 'openai:mini', 300);
    const targets = Object.freeze([device, groq, mini, nano, batchOnly]);
    const frozen = Object.freeze(request({ conversation: Object.freeze({ affinity: Object.freeze({ target: 'openai:mini', warmUntil: 2_000_000 }), prefixTokens: 2_048 }) }));
    const first = plan(frozen, targets, stats);
    const second = plan(frozen, targets, stats);
    expect(second).toEqual(first);
    expect(explainPlan(second)).toBe(explainPlan(first));
  });
});

describe('explainPlan', () => {
  it('renders the order with reasons, then each rejection', () => {
    const stats = new Stats();
    measure(stats, 'device:tiny', 35);
    const p = plan(request({ segment: 'realtime', budgetMs: 80 }), [device, mini, batchOnly], stats);
    const text = explainPlan(p);
    const lines = text.split('\n');
    expect(lines[0]).toBe('realtime segment, 80 ms budget');
    expect(lines[1]).toBe('order:');
    expect(lines[2]).toMatch(/^ {2}1\. device:tiny \(device\): p50 3\d ms, p90 3\d ms, \$0$/);
    expect(lines[3]).toMatch(/^ {5}fastest p90 first token 3\d ms within 80 ms budget$/);
    expect(lines[4]).toBe('rejected:');
    expect(lines[5]).toMatch(/^ {2}- openai:mini \[segment\]: a cloud target serves the realtime segment only once its measured p90 fits/);
    expect(lines[6]).toMatch(/^ {2}- openai:batch \[segment\]: has only a batch endpoint/);
  });

  it('says so when nothing can serve', () => {
    const text = explainPlan(plan(request({ privacy: 'device-only' }), [mini], new Stats()));
    expect(text).toContain('no target can serve this request');
    expect(text).toContain('- openai:mini [privacy]: privacy: device-only forbids network targets');
  });
});
