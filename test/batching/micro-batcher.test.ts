import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createMicroBatcher, MicroBatcher, microBatchDefaults } from '../../src/batching/micro-batcher.js';
import { manualClock } from '../helpers/clock.js';
import type { BatchFlushEvent, EnqueueOptions } from '../../src/batching/micro-batcher.types.js';
import { AbortedError, DeadlineExceededError, InvalidRequestError, ProviderError, QueueFullError, RateLimitedError } from '../../src/errors.js';
import type { CallContext, EmbedCall, EmbedResult, MicroBatchSettings, Segment, Target, TargetLimits, TextCall, TextResult } from '../../src/target.js';

/** A deterministic vector computed from the text itself, so a caller can check it got ITS vector. */
function vectorOf(text: string): number[] {
  let hash = 2166136261;
  let sum = 0;
  for (let index = 0; index < text.length; index++) {
    hash = Math.imul(hash ^ text.charCodeAt(index), 16777619) >>> 0;
    sum += text.charCodeAt(index);
  }
  return [text.length, sum, hash / 2 ** 32];
}

interface Recorded {
  inputs: string[];
  signal: AbortSignal;
  deadline: number;
  segment: Segment;
  dimensions?: number;
  at: number;
}

interface FixtureOptions {
  id?: string;
  microBatch?: MicroBatchSettings;
  limits?: TargetLimits;
  totalMs?: number;
  /** Called before answering; may throw to fail the request, or wait. */
  before?: (call: EmbedCall, ctx: CallContext) => void | Promise<void>;
}

/** An in-process embedding target: a real function from text to vectors, recording every request. */
function embeddingTarget(options: FixtureOptions = {}) {
  const calls: Recorded[] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  const target: Target = {
    id: options.id ?? 'fixture:embed',
    kind: 'cloud',
    modalities: ['embedding'],
    limits: options.limits,
    microBatch: options.microBatch,
    expected: options.totalMs === undefined ? undefined : { totalMs: options.totalMs },
    async doEmbed(call: EmbedCall, ctx: CallContext): Promise<EmbedResult> {
      calls.push({ inputs: [...call.inputs], signal: ctx.signal, deadline: ctx.deadline, segment: ctx.segment, dimensions: call.dimensions, at: Date.now() });
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      try {
        await options.before?.(call, ctx);
        await Promise.resolve();
        return { embeddings: call.inputs.map(vectorOf), usage: { inputTokens: call.inputs.length * 2 } };
      } finally {
        inFlight--;
      }
    },
  };
  return { target, calls, maxInFlight: () => maxInFlight };
}

/** A gate that holds requests until opened, so tests can act while a request is in flight. */
function gate() {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { open, opened };
}

function enqueueOptions(overrides: Partial<EnqueueOptions> & { budgetMs?: number } = {}): EnqueueOptions {
  const { budgetMs = 2_000, ...rest } = overrides;
  return {
    deadline: Date.now() + budgetMs,
    signal: new AbortController().signal,
    segment: 'interactive',
    context: { emit: () => undefined },
    ...rest,
  };
}

/** Window semantics are pinned with `sendWhenIdle` off; the idle rule has its own tests. */
function batcherWithEvents(extra: Partial<Parameters<typeof createMicroBatcher>[0]> = {}) {
  const events: BatchFlushEvent[] = [];
  const batcher = createMicroBatcher({ emit: (_name, payload) => events.push(payload), sendWhenIdle: false, ...extra });
  return { batcher, events };
}

/** Lets queued microtasks and promise chains run without moving the clock. */
async function settle(): Promise<void> {
  for (let index = 0; index < 20; index++) await Promise.resolve();
}

beforeEach(() => {
  vi.useFakeTimers({ now: 1_000_000 });
});

afterEach(() => {
  // Every test must leave no timer behind: no queue window, no per-batch deadline timer.
  expect(vi.getTimerCount()).toBe(0);
  vi.useRealTimers();
});

describe('MicroBatcher embed', () => {
  it('coalesces 1,000 concurrent single-text calls into few requests, each caller getting the vector of its own text', async () => {
    const { target, calls } = embeddingTarget({ microBatch: { maxBatchSize: 512, maxWaitMs: 5, concurrency: 4, maxQueue: 4_096 } });
    // The production default: once the first request is in flight, the rest wait the window.
    const { batcher, events } = batcherWithEvents({ sendWhenIdle: true });
    const texts = Array.from({ length: 1_000 }, (_, index) => `document number ${index} about ${index % 7 === 0 ? 'cats' : 'dogs'}`);
    const results = texts.map((text) => batcher.embed(target, [text], {}, enqueueOptions()));
    await vi.advanceTimersByTimeAsync(5);
    const settled = await Promise.all(results);

    expect(calls.length).toBeLessThanOrEqual(Math.ceil(1_000 / 512) + 1);
    expect(calls.reduce((sum, call) => sum + call.inputs.length, 0)).toBe(1_000);
    settled.forEach((result, index) => {
      expect(result.embeddings).toEqual([vectorOf(texts[index])]);
      expect(result.batch.size).toBeGreaterThan(1);
    });
    expect(events.map((event) => event.reason).sort()).toEqual(['size', 'window']);
    expect(events.find((event) => event.reason === 'window')?.waitMs).toBe(5);
    expect(batcher.pending()).toBe(0);
  });

  it('keeps each caller\'s inputs in order when a caller sends several, including duplicates', async () => {
    const { target, calls } = embeddingTarget({ microBatch: { maxWaitMs: 1 } });
    const { batcher } = batcherWithEvents();
    const first = batcher.embed(target, ['b', 'a', 'b', 'c'], {}, enqueueOptions());
    const second = batcher.embed(target, ['c', 'd'], {}, enqueueOptions());
    await vi.advanceTimersByTimeAsync(1);
    expect((await first).embeddings).toEqual(['b', 'a', 'b', 'c'].map(vectorOf));
    expect((await second).embeddings).toEqual(['c', 'd'].map(vectorOf));
    expect(calls).toHaveLength(1);
    expect(calls[0].inputs).toEqual(['b', 'a', 'c', 'd']);
  });

  it('fails only the caller whose input the provider rejects (bisecting a 400), and everyone else gets their vector', async () => {
    const { target, calls } = embeddingTarget({
      microBatch: { maxWaitMs: 1 },
      before: (call) => {
        if (call.inputs.includes('poison')) throw new ProviderError('input rejected by the provider', { status: 400, target: 'fixture:embed' });
      },
    });
    const { batcher, events } = batcherWithEvents();
    const texts = ['alpha', 'beta', 'poison', 'gamma', 'delta', 'epsilon', 'zeta', 'eta'];
    const results = texts.map((text) => batcher.embed(target, [text], {}, enqueueOptions()));
    const outcomes = Promise.allSettled(results);
    await vi.advanceTimersByTimeAsync(1);
    const settled = await outcomes;

    settled.forEach((outcome, index) => {
      if (texts[index] === 'poison') {
        expect(outcome.status).toBe('rejected');
        expect((outcome as PromiseRejectedResult).reason).toMatchObject({ code: 'PROVIDER_ERROR', status: 400 });
      } else {
        expect(outcome.status).toBe('fulfilled');
        expect((outcome as PromiseFulfilledResult<EmbedResult>).value.embeddings).toEqual([vectorOf(texts[index])]);
      }
    });
    // 8 items, one poisoned: the first request plus two per level on the poisoned path: 1 + 2 * log2(8).
    expect(calls.length).toBeLessThanOrEqual(1 + 2 * 3);
    expect(events.filter((event) => event.reason === 'bisect').length).toBe(calls.length - 1);
  });

  it('rejects an input over the target\'s per-input limit alone, naming the field, without sending it', async () => {
    const { target, calls } = embeddingTarget({ microBatch: { maxWaitMs: 1 }, limits: { maxInputTokens: 10 } });
    const { batcher } = batcherWithEvents();
    const tooLong = 'x'.repeat(41); // about 11 tokens
    const fine = batcher.embed(target, ['short one'], {}, enqueueOptions());
    const single = batcher.embed(target, [tooLong], {}, enqueueOptions());
    const several = batcher.embed(target, ['ok', tooLong], {}, enqueueOptions());
    await expect(single).rejects.toBeInstanceOf(InvalidRequestError);
    await expect(single).rejects.toMatchObject({ field: 'input', code: 'INVALID_REQUEST' });
    await expect(several).rejects.toMatchObject({ field: 'input[1]' });
    await vi.advanceTimersByTimeAsync(1);
    expect((await fine).embeddings).toEqual([vectorOf('short one')]);
    expect(calls.flatMap((call) => call.inputs)).toEqual(['short one']);
  });

  it('rejects every item with a retryable whole-batch failure and does not bisect it', async () => {
    const { target, calls } = embeddingTarget({
      microBatch: { maxWaitMs: 1 },
      before: () => {
        throw new RateLimitedError('slow down', { target: 'fixture:embed', retryAfterMs: 100 });
      },
    });
    const { batcher } = batcherWithEvents();
    const results = ['a', 'b', 'c'].map((text) => batcher.embed(target, [text], {}, enqueueOptions()));
    const outcomes = Promise.allSettled(results);
    await vi.advanceTimersByTimeAsync(1);
    for (const outcome of await outcomes) {
      expect(outcome.status).toBe('rejected');
      expect((outcome as PromiseRejectedResult).reason).toBeInstanceOf(RateLimitedError);
    }
    expect(calls).toHaveLength(1);
  });

  it('never sends an item whose caller aborted before the flush, and rejects that caller with AbortedError', async () => {
    const { target, calls } = embeddingTarget({ microBatch: { maxWaitMs: 10 } });
    const { batcher } = batcherWithEvents();
    const controller = new AbortController();
    const kept = batcher.embed(target, ['kept'], {}, enqueueOptions());
    const aborted = batcher.embed(target, ['aborted'], {}, enqueueOptions({ signal: controller.signal }));
    expect(batcher.pending()).toBe(2);
    controller.abort();
    await expect(aborted).rejects.toBeInstanceOf(AbortedError);
    expect(batcher.pending()).toBe(1);
    await vi.advanceTimersByTimeAsync(10);
    expect((await kept).embeddings).toEqual([vectorOf('kept')]);
    expect(calls.map((call) => call.inputs)).toEqual([['kept']]);
  });

  it('never sends an item whose caller aborted while its batch waited for a free lane', async () => {
    const hold = gate();
    const { target, calls } = embeddingTarget({ microBatch: { maxBatchSize: 2, maxWaitMs: 10, concurrency: 1 }, before: () => hold.opened });
    const { batcher } = batcherWithEvents();
    const controller = new AbortController();
    const first = ['a', 'b'].map((text) => batcher.embed(target, [text], {}, enqueueOptions()));
    // This pair is cut (size 2) but waits behind the first request: concurrency 1.
    const leaving = batcher.embed(target, ['leaving'], {}, enqueueOptions({ signal: controller.signal }));
    const staying = batcher.embed(target, ['staying'], {}, enqueueOptions());
    await settle();
    expect(calls).toHaveLength(1);
    controller.abort();
    await expect(leaving).rejects.toBeInstanceOf(AbortedError);
    hold.open();
    await Promise.all(first);
    expect((await staying).embeddings).toEqual([vectorOf('staying')]);
    expect(calls.map((call) => call.inputs)).toEqual([['a', 'b'], ['staying']]);
  });

  it('drops a queue whose only caller aborted: no request at all', async () => {
    const { target, calls } = embeddingTarget({ microBatch: { maxWaitMs: 10 } });
    const { batcher } = batcherWithEvents();
    const controller = new AbortController();
    const aborted = batcher.embed(target, ['alone'], {}, enqueueOptions({ signal: controller.signal }));
    controller.abort();
    await expect(aborted).rejects.toMatchObject({ code: 'ABORTED' });
    await vi.advanceTimersByTimeAsync(20);
    expect(calls).toHaveLength(0);
    const already = new AbortController();
    already.abort();
    await expect(batcher.embed(target, ['late'], {}, enqueueOptions({ signal: already.signal }))).rejects.toBeInstanceOf(AbortedError);
    expect(batcher.pending()).toBe(0);
  });

  it('after the send, an abort rejects that caller only; the request continues for the others', async () => {
    const hold = gate();
    const { target, calls } = embeddingTarget({ microBatch: { maxWaitMs: 1 }, before: () => hold.opened });
    const { batcher } = batcherWithEvents();
    const controller = new AbortController();
    const leaving = batcher.embed(target, ['leaving'], {}, enqueueOptions({ signal: controller.signal }));
    const staying = batcher.embed(target, ['staying'], {}, enqueueOptions());
    await vi.advanceTimersByTimeAsync(1);
    expect(calls).toHaveLength(1);
    controller.abort();
    await expect(leaving).rejects.toBeInstanceOf(AbortedError);
    expect(calls[0].signal.aborted).toBe(false);
    hold.open();
    expect((await staying).embeddings).toEqual([vectorOf('staying')]);
  });

  it('aborts the request\'s signal once every caller of the batch has aborted', async () => {
    const hold = gate();
    const { target, calls } = embeddingTarget({ microBatch: { maxWaitMs: 1 }, before: () => hold.opened });
    const { batcher } = batcherWithEvents();
    const controllers = [new AbortController(), new AbortController()];
    const results = controllers.map((controller, index) => batcher.embed(target, [`text ${index}`], {}, enqueueOptions({ signal: controller.signal })));
    const outcomes = Promise.allSettled(results);
    await vi.advanceTimersByTimeAsync(1);
    controllers[0].abort();
    expect(calls[0].signal.aborted).toBe(false);
    controllers[1].abort();
    expect(calls[0].signal.aborted).toBe(true);
    hold.open();
    for (const outcome of await outcomes) expect((outcome as PromiseRejectedResult).reason).toBeInstanceOf(AbortedError);
    await batcher.flush();
    expect(batcher.pending()).toBe(0);
  });

  it('aborts the request at the latest deadline among its items and rejects with DeadlineExceededError', async () => {
    const { target, calls } = embeddingTarget({
      microBatch: { maxWaitMs: 1 },
      before: (_call, ctx) =>
        new Promise<void>((_resolve, reject) => ctx.signal.addEventListener('abort', () => reject(Object.assign(new Error('aborted'), { name: 'AbortError' })))),
    });
    const { batcher } = batcherWithEvents();
    const start = Date.now();
    const short = batcher.embed(target, ['short'], {}, enqueueOptions({ budgetMs: 100 }));
    const long = batcher.embed(target, ['long'], {}, enqueueOptions({ budgetMs: 300 }));
    const outcomes = Promise.allSettled([short, long]);
    await vi.advanceTimersByTimeAsync(1);
    expect(calls[0].deadline).toBe(start + 300);
    await vi.advanceTimersByTimeAsync(298);
    expect(calls[0].signal.aborted).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(calls[0].signal.aborted).toBe(true);
    for (const outcome of await outcomes) expect((outcome as PromiseRejectedResult).reason).toBeInstanceOf(DeadlineExceededError);
  });

  it('flushes a caller with a 50 ms budget in time although the window is 200 ms', async () => {
    const { target, calls } = embeddingTarget({ microBatch: { maxWaitMs: 200 }, totalMs: 20 });
    const { batcher, events } = batcherWithEvents();
    const start = Date.now();
    const relaxed = batcher.embed(target, ['relaxed'], {}, enqueueOptions({ budgetMs: 2_000 }));
    const urgent = batcher.embed(target, ['urgent'], {}, enqueueOptions({ budgetMs: 50 }));
    await vi.advanceTimersByTimeAsync(29);
    expect(calls).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(1);
    expect(calls).toHaveLength(1);
    expect(calls[0].at - start).toBe(30);
    expect(events[0]).toMatchObject({ reason: 'deadline', size: 2, waitMs: 30 });
    expect((await urgent).embeddings).toEqual([vectorOf('urgent')]);
    expect((await relaxed).batch.reason).toBe('deadline');
  });

  it('an urgent caller that joins an identical waiting input pulls its flush forward', async () => {
    const { target, calls } = embeddingTarget({ microBatch: { maxWaitMs: 200 }, totalMs: 20 });
    const { batcher, events } = batcherWithEvents();
    const start = Date.now();
    const relaxed = batcher.embed(target, ['same'], {}, enqueueOptions({ budgetMs: 2_000 }));
    const urgent = batcher.embed(target, ['same'], {}, enqueueOptions({ budgetMs: 50 }));
    expect(batcher.pending()).toBe(1);
    await vi.advanceTimersByTimeAsync(30);
    expect(calls).toHaveLength(1);
    expect(calls[0]).toMatchObject({ inputs: ['same'] });
    expect(calls[0].at - start).toBe(30);
    expect(events[0]).toMatchObject({ reason: 'deadline', size: 1 });
    expect((await urgent).embeddings).toEqual([vectorOf('same')]);
    expect((await relaxed).embeddings).toEqual([vectorOf('same')]);
  });

  it('uses the injected service-time prediction over the target\'s prior', async () => {
    const { target, calls } = embeddingTarget({ microBatch: { maxWaitMs: 200 }, totalMs: 20 });
    const { batcher } = batcherWithEvents({ predictServiceMs: () => 40 });
    const start = Date.now();
    const result = batcher.embed(target, ['urgent'], {}, enqueueOptions({ budgetMs: 50 }));
    await vi.advanceTimersByTimeAsync(10);
    expect(calls).toHaveLength(1);
    expect(calls[0].at - start).toBe(10);
    await result;
  });

  it('on an idle target, sends a lone caller after one tick instead of the window; behind a request in flight, waits the window', async () => {
    const hold = gate();
    const { target, calls } = embeddingTarget({ microBatch: { maxWaitMs: 200 }, before: () => hold.opened });
    const { batcher, events } = batcherWithEvents({ sendWhenIdle: true });
    const start = Date.now();
    const first = batcher.embed(target, ['first'], {}, enqueueOptions());
    const sameTick = batcher.embed(target, ['same tick'], {}, enqueueOptions());
    await vi.advanceTimersByTimeAsync(0);
    expect(calls).toHaveLength(1);
    expect(calls[0].inputs).toEqual(['first', 'same tick']);
    expect(calls[0].at).toBe(start);
    expect(events[0]).toMatchObject({ reason: 'idle', size: 2 });
    // The target is busy now: the next caller gathers company for the window.
    const later = batcher.embed(target, ['later'], {}, enqueueOptions());
    await vi.advanceTimersByTimeAsync(199);
    expect(calls).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(calls).toHaveLength(2);
    expect(events[1]).toMatchObject({ reason: 'window', size: 1 });
    hold.open();
    expect((await first).embeddings).toEqual([vectorOf('first')]);
    expect((await sameTick).embeddings).toEqual([vectorOf('same tick')]);
    expect((await later).embeddings).toEqual([vectorOf('later')]);
  });

  it('flush() sends everything waiting at once and resolves when those requests settle', async () => {
    const { target, calls } = embeddingTarget({ microBatch: { maxWaitMs: 10_000 } });
    const { batcher, events } = batcherWithEvents();
    const results = ['one', 'two', 'three'].map((text) => batcher.embed(target, [text], {}, enqueueOptions()));
    expect(calls).toHaveLength(0);
    await batcher.flush();
    expect(calls).toHaveLength(1);
    expect(events[0]).toMatchObject({ reason: 'flush', size: 3, waitMs: 0 });
    expect(batcher.pending()).toBe(0);
    expect((await Promise.all(results)).map((result) => result.embeddings[0])).toEqual(['one', 'two', 'three'].map(vectorOf));
  });

  it('bounds the queue under a burst: extra items reject at once with a retryable QueueFullError', async () => {
    const hold = gate();
    const maxQueue = 8;
    const { target, calls } = embeddingTarget({ microBatch: { maxBatchSize: 4, maxWaitMs: 10, concurrency: 1, maxQueue, whenFull: 'reject' }, before: () => hold.opened });
    const { batcher } = batcherWithEvents();
    const texts = Array.from({ length: 40 }, (_, index) => `burst ${index}`);
    const states: ('pending' | 'fulfilled' | 'rejected')[] = texts.map(() => 'pending');
    const results = texts.map((text, index) =>
      batcher.embed(target, [text], {}, enqueueOptions()).then(
        (value) => {
          states[index] = 'fulfilled';
          return value;
        },
        (error: unknown) => {
          states[index] = 'rejected';
          throw error;
        },
      ),
    );
    const outcomes = Promise.allSettled(results);
    await settle();
    // Rejected before any timer ran: the burst's extra items do not wait.
    const rejectedAtOnce = states.filter((state) => state === 'rejected').length;
    expect(rejectedAtOnce).toBeGreaterThan(0);
    // At most maxQueue waiting plus one request in flight (concurrency 1 x maxBatchSize 4).
    expect(batcher.pending()).toBeLessThanOrEqual(maxQueue + 4);
    expect(texts.length - rejectedAtOnce).toBe(batcher.pending());
    hold.open();
    await vi.advanceTimersByTimeAsync(10);
    await batcher.flush();
    const settledOutcomes = await outcomes;
    settledOutcomes.forEach((outcome, index) => {
      if (outcome.status === 'rejected') {
        expect(outcome.reason).toBeInstanceOf(QueueFullError);
        expect(outcome.reason.retryable).toBe(true);
      } else {
        expect(outcome.value.embeddings).toEqual([vectorOf(texts[index])]);
      }
    });
    expect(states.filter((state) => state === 'rejected').length).toBe(rejectedAtOnce);
    expect(calls.every((call) => call.inputs.length <= 4)).toBe(true);
    // Once drained, the queue takes work again.
    const again = batcher.embed(target, ['after the burst'], {}, enqueueOptions());
    await vi.advanceTimersByTimeAsync(10);
    expect((await again).embeddings).toEqual([vectorOf('after the burst')]);
  });

  it('by default a burst waits for room: the queue stays bounded and every caller gets its own vector', async () => {
    const maxQueue = 8;
    const { target, calls } = embeddingTarget({ microBatch: { maxBatchSize: 4, maxWaitMs: 1, concurrency: 1, maxQueue } });
    const { batcher } = batcherWithEvents();
    const texts = Array.from({ length: 40 }, (_, index) => `wave ${index}`);
    let peak = 0;
    const results = texts.map((text) => batcher.embed(target, [text], {}, enqueueOptions()));
    for (let step = 0; step < 200 && calls.length < 10; step++) {
      peak = Math.max(peak, batcher.pending());
      await vi.advanceTimersByTimeAsync(1);
    }
    const values = await Promise.all(results);
    values.forEach((value, index) => expect(value.embeddings).toEqual([vectorOf(texts[index])]));
    // Waiting callers are not queued items: the queue never held more than the bound plus one request in flight.
    expect(peak).toBeLessThanOrEqual(maxQueue + 4);
    expect(calls).toHaveLength(10);
  });

  it('a caller waiting for room that aborts leaves without being sent', async () => {
    const hold = gate();
    const { target, calls } = embeddingTarget({ microBatch: { maxBatchSize: 2, maxWaitMs: 1, concurrency: 1, maxQueue: 2 }, before: () => hold.opened });
    const { batcher } = batcherWithEvents();
    const first = ['a', 'b', 'c', 'd'].map((text) => batcher.embed(target, [text], {}, enqueueOptions()));
    await vi.advanceTimersByTimeAsync(2);
    const controller = new AbortController();
    const late = batcher.embed(target, ['late'], {}, { ...enqueueOptions(), signal: controller.signal });
    controller.abort();
    await expect(late).rejects.toMatchObject({ code: 'ABORTED' });
    hold.open();
    await vi.advanceTimersByTimeAsync(5);
    await Promise.all(first);
    expect(calls.flatMap((call) => call.inputs)).not.toContain('late');
  });

  it('admits one call larger than the bound only when nothing else waits, whole or not at all', async () => {
    const { target, calls } = embeddingTarget({ microBatch: { maxBatchSize: 4, maxWaitMs: 1, concurrency: 2, maxQueue: 8, whenFull: 'reject' } });
    const { batcher } = batcherWithEvents();
    const big = Array.from({ length: 20 }, (_, index) => `big ${index}`);
    const alone = batcher.embed(target, big, {}, enqueueOptions());
    await vi.advanceTimersByTimeAsync(1);
    expect((await alone).embeddings).toEqual(big.map(vectorOf));
    expect(calls.map((call) => call.inputs.length)).toEqual([4, 4, 4, 4, 4]);

    const waiting = batcher.embed(target, ['already waiting'], {}, enqueueOptions());
    await expect(batcher.embed(target, big, {}, enqueueOptions())).rejects.toBeInstanceOf(QueueFullError);
    // Rejected whole: none of its inputs joined the queue.
    expect(batcher.pending()).toBe(1);
    await vi.advanceTimersByTimeAsync(1);
    await waiting;
    expect(calls.at(-1)?.inputs).toEqual(['already waiting']);
  });

  it('computes identical in-flight inputs once: one slot, many waiters', async () => {
    const hold = gate();
    const { target, calls } = embeddingTarget({ microBatch: { maxWaitMs: 2 }, before: () => hold.opened });
    const { batcher } = batcherWithEvents();
    const waiting = Array.from({ length: 10 }, () => batcher.embed(target, ['same text'], {}, enqueueOptions()));
    const other = batcher.embed(target, ['other text'], {}, enqueueOptions());
    expect(batcher.pending()).toBe(2);
    await vi.advanceTimersByTimeAsync(2);
    expect(calls).toHaveLength(1);
    expect(calls[0].inputs).toEqual(['same text', 'other text']);
    // While that request is in flight, another caller with the same text joins it.
    const late = batcher.embed(target, ['same text'], {}, enqueueOptions());
    // Different options are a different queue: never deduplicated across dimensions.
    const otherDimensions = batcher.embed(target, ['same text'], { dimensions: 2 }, enqueueOptions());
    hold.open();
    await vi.advanceTimersByTimeAsync(2);
    for (const result of await Promise.all([...waiting, late])) expect(result.embeddings).toEqual([vectorOf('same text')]);
    expect((await other).embeddings).toEqual([vectorOf('other text')]);
    await otherDimensions;
    expect(calls).toHaveLength(2);
    expect(calls[1]).toMatchObject({ inputs: ['same text'], dimensions: 2 });
  });

  it('splits a 5,000-input call to the provider\'s limits, runs chunks in parallel up to the concurrency, and reassembles in order', async () => {
    const { target, calls, maxInFlight } = embeddingTarget({
      limits: { maxBatchSize: 2_048, maxBatchTokens: 300_000 },
      microBatch: { maxBatchSize: 4_096, maxWaitMs: 0, concurrency: 2 },
      before: () => new Promise<void>((resolve) => setTimeout(resolve, 10)),
    });
    const { batcher } = batcherWithEvents();
    const texts = Array.from({ length: 5_000 }, (_, index) => `row ${index}`);
    const result = batcher.embed(target, texts, {}, enqueueOptions());
    await vi.runAllTimersAsync();
    const { embeddings } = await result;
    expect(calls.map((call) => call.inputs.length)).toEqual([2_048, 2_048, 904]);
    expect(maxInFlight()).toBe(2);
    expect(embeddings).toHaveLength(5_000);
    expect(embeddings[0]).toEqual(vectorOf('row 0'));
    expect(embeddings[2_048]).toEqual(vectorOf('row 2048'));
    expect(embeddings[4_999]).toEqual(vectorOf('row 4999'));
    embeddings.forEach((vector, index) => expect(vector).toEqual(vectorOf(texts[index])));
  });

  it('cuts batches at the token limit', async () => {
    const { target, calls } = embeddingTarget({ limits: { maxBatchTokens: 1_000 }, microBatch: { maxWaitMs: 0 } });
    const { batcher, events } = batcherWithEvents();
    // Each text is 400 characters, about 100 tokens: 10 per request.
    const texts = Array.from({ length: 25 }, (_, index) => `${index}`.padEnd(400, '.'));
    const results = texts.map((text) => batcher.embed(target, [text], {}, enqueueOptions()));
    await vi.runAllTimersAsync();
    await Promise.all(results);
    expect(calls.map((call) => call.inputs.length)).toEqual([10, 10, 5]);
    expect(events.map((event) => event.reason)).toEqual(['tokens', 'tokens', 'window']);
  });

  it('sends what waits before a text that would pass the token limit, so no request exceeds it', async () => {
    const { target, calls } = embeddingTarget({ limits: { maxBatchTokens: 1_000 }, microBatch: { maxWaitMs: 0 } });
    const { batcher, events } = batcherWithEvents();
    // Each text is about 300 tokens: a fourth would make 1,200, so each request takes three.
    const texts = Array.from({ length: 10 }, (_, index) => `${index}`.padEnd(1_200, '.'));
    const results = texts.map((text) => batcher.embed(target, [text], {}, enqueueOptions()));
    await vi.runAllTimersAsync();
    const settled = await Promise.all(results);
    expect(calls.map((call) => call.inputs.length)).toEqual([3, 3, 3, 1]);
    expect(events.map((event) => event.reason)).toEqual(['tokens', 'tokens', 'tokens', 'window']);
    settled.forEach((result, index) => expect(result.embeddings).toEqual([vectorOf(texts[index])]));
  });

  it('flushes realtime items at once, taking what waits along', async () => {
    const { target, calls } = embeddingTarget({ microBatch: { maxWaitMs: 1_000 } });
    const { batcher, events } = batcherWithEvents();
    const waiting = batcher.embed(target, ['waiting'], {}, enqueueOptions());
    const realtime = batcher.embed(target, ['now'], {}, enqueueOptions({ segment: 'realtime', budgetMs: 80 }));
    await settle();
    expect(calls).toHaveLength(1);
    expect(calls[0].inputs).toEqual(['waiting', 'now']);
    expect(calls[0].segment).toBe('realtime');
    expect(events[0]).toMatchObject({ reason: 'realtime', size: 2 });
    expect((await realtime).embeddings).toEqual([vectorOf('now')]);
    expect((await waiting).batch.reason).toBe('realtime');
  });

  it('with maxWaitMs 0, coalesces calls that arrive within one tick (after a few awaits each)', async () => {
    const { target, calls } = embeddingTarget({ microBatch: { maxWaitMs: 0 } });
    const { batcher } = batcherWithEvents();
    const results = Array.from({ length: 50 }, async (_, index) => {
      // Callers reach the batcher after different numbers of awaits, as they do through a client.
      for (let step = 0; step < index % 5; step++) await Promise.resolve();
      return batcher.embed(target, [`tick ${index}`], {}, enqueueOptions());
    });
    await settle();
    expect(calls).toHaveLength(0);
    await vi.runAllTimersAsync();
    const settled = await Promise.all(results);
    expect(calls).toHaveLength(1);
    settled.forEach((result, index) => expect(result.embeddings).toEqual([vectorOf(`tick ${index}`)]));
  });

  it('reports the batch on every result and emits batch-flush per provider request, with usage shared out', async () => {
    const { target } = embeddingTarget({ microBatch: { maxWaitMs: 3 } });
    const { batcher, events } = batcherWithEvents();
    const first = batcher.embed(target, ['abcd'], {}, enqueueOptions());
    await vi.advanceTimersByTimeAsync(2);
    const second = batcher.embed(target, ['efgh'], {}, enqueueOptions());
    await vi.advanceTimersByTimeAsync(1);
    const [one, two] = await Promise.all([first, second]);
    expect(events).toEqual([{ target: 'fixture:embed', operation: 'embed', size: 2, reason: 'window', waitMs: 3 }]);
    expect(one.batch).toEqual({ size: 2, reason: 'window', waitMs: 3 });
    expect(two.batch).toEqual({ size: 2, reason: 'window', waitMs: 1 });
    // The fixture reports 2 tokens per input; equal texts get equal shares.
    expect(one.usage?.inputTokens).toBe(2);
    expect(two.usage?.inputTokens).toBe(2);
  });

  it('fails a request whose provider answers with the wrong number of vectors, for every caller', async () => {
    const target: Target = {
      id: 'fixture:short',
      kind: 'cloud',
      modalities: ['embedding'],
      microBatch: { maxWaitMs: 1 },
      async doEmbed(call) {
        return { embeddings: call.inputs.slice(1).map(vectorOf) };
      },
    };
    const { batcher } = batcherWithEvents();
    const outcomes = Promise.allSettled(['a', 'b'].map((text) => batcher.embed(target, [text], {}, enqueueOptions())));
    await vi.advanceTimersByTimeAsync(1);
    for (const outcome of await outcomes) expect((outcome as PromiseRejectedResult).reason).toMatchObject({ code: 'PROVIDER_ERROR' });
  });

  it('keeps the process alive only while a caller waits, and leaves no timer behind', async () => {
    vi.useRealTimers();
    const { target } = embeddingTarget({ microBatch: { maxWaitMs: 60_000 } });
    const { batcher } = batcherWithEvents();
    const count = () => process.getActiveResourcesInfo().filter((name) => name === 'Timeout').length;
    const before = count();
    const result = batcher.embed(target, ['waiting a minute'], {}, enqueueOptions({ budgetMs: 3_600_000 }));
    // A caller awaits this window: its timer must hold the process open (a script would exit otherwise).
    expect(count()).toBeGreaterThan(before);
    await batcher.flush();
    await result;
    expect(count()).toBe(before);
    vi.useFakeTimers();
  });
});

describe('MicroBatcher generate', () => {
  function deviceTarget() {
    const passes: TextCall[][] = [];
    const target: Target = {
      id: 'device:tiny',
      kind: 'device',
      modalities: ['text'],
      batchedGeneration: true,
      microBatch: { maxWaitMs: 5, maxBatchSize: 4 },
      async doGenerateMany(calls): Promise<TextResult[]> {
        passes.push(calls);
        return calls.map((call) => ({ text: `echo: ${call.messages.at(-1)?.content}`, finishReason: 'stop' }));
      },
    };
    return { target, passes };
  }

  it('runs queued prompts in one doGenerateMany pass per flush, each caller getting its own text', async () => {
    const { target, passes } = deviceTarget();
    const { batcher, events } = batcherWithEvents();
    const prompts = ['one', 'two', 'three', 'two'];
    const results = prompts.map((prompt) => batcher.generate(target, { messages: [{ role: 'user', content: prompt }] }, enqueueOptions()));
    await vi.advanceTimersByTimeAsync(0);
    // Four prompts reach maxBatchSize 4: sent at once, not deduplicated.
    expect(passes).toHaveLength(1);
    expect(passes[0]).toHaveLength(4);
    const settled = await Promise.all(results);
    settled.forEach((result, index) => {
      expect(result.text).toBe(`echo: ${prompts[index]}`);
      expect(result.batch).toMatchObject({ size: 4, reason: 'size' });
    });
    expect(events[0]).toMatchObject({ operation: 'generate', target: 'device:tiny' });
  });

  it('runs calls with different generation settings in different passes (a pass has one set of settings)', async () => {
    const { target, passes } = deviceTarget();
    const { batcher } = batcherWithEvents();
    const short = { maxOutputTokens: 4 };
    const warm = { temperature: 0.9, topP: 0.5 };
    const calls = [short, warm, short, {}, { ...warm, stop: ['.'] }].map((settings, index) => batcher.generate(target, { messages: [{ role: 'user', content: `p${index}` }], ...settings }, enqueueOptions()));
    await vi.runAllTimersAsync();
    await Promise.all(calls);
    const byPrompts = passes.map((pass) => pass.map((call) => call.messages[0].content).sort());
    expect(byPrompts.sort()).toEqual([['p0', 'p2'], ['p1', 'p4'], ['p3']]);
    for (const pass of passes) {
      const settings = pass.map(({ maxOutputTokens, temperature, topP }) => JSON.stringify({ maxOutputTokens, temperature, topP }));
      expect(new Set(settings).size).toBe(1);
    }
  });

  it('fails every caller of a pass whose target answered a different number of prompts', async () => {
    const { target } = deviceTarget();
    target.doGenerateMany = async (calls) => calls.slice(1).map(() => ({ text: 'short', finishReason: 'stop' as const }));
    const { batcher } = batcherWithEvents();
    const results = ['one', 'two'].map((prompt) => batcher.generate(target, { messages: [{ role: 'user', content: prompt }] }, enqueueOptions()).catch((error: unknown) => error));
    await vi.runAllTimersAsync();
    for (const error of await Promise.all(results)) {
      expect(error).toMatchObject({ code: 'PROVIDER_ERROR', retryable: true });
      expect((error as Error).message).toContain('returned 1 results for 2 prompts');
    }
  });

  it('rejects a target without doGenerateMany', async () => {
    const { batcher } = batcherWithEvents();
    const target: Target = { id: 'cloud:chat', kind: 'cloud', modalities: ['text'] };
    await expect(batcher.generate(target, { messages: [] }, enqueueOptions())).rejects.toMatchObject({ code: 'INVALID_REQUEST', field: 'target' });
  });
});

describe('MicroBatcher on an injected clock', () => {
  it("takes its window, its next-turn send and its request deadline from the client's clock, not the system's", async () => {
    const time = manualClock(1_000_000);
    const { target, calls } = embeddingTarget({ microBatch: { maxWaitMs: 40 } });
    const batcher = createMicroBatcher({ emit: () => undefined, sendWhenIdle: false, clock: time.clock });
    const options = () => enqueueOptions({ deadline: time.clock.now() + 2_000 });
    const first = batcher.embed(target, ['a'], {}, options());
    const second = batcher.embed(target, ['b'], {}, options());
    // The system's timers (faked here) move on; the batcher's window does not.
    await vi.advanceTimersByTimeAsync(1_000);
    expect(calls).toHaveLength(0);
    expect(time.delays()).toEqual([40]);
    time.advance(40);
    await settle();
    // One request for both, under a request timer armed on the same clock (till the latest deadline).
    expect(calls.map((call) => call.inputs)).toEqual([['a', 'b']]);
    expect((await first).embeddings).toEqual([vectorOf('a')]);
    expect((await second).embeddings).toEqual([vectorOf('b')]);
    expect(time.pending()).toBe(0);
    // maxWaitMs 0 sends on the next turn, which an injected clock also drives.
    const zero = embeddingTarget({ microBatch: { maxWaitMs: 0 } });
    const next = batcher.embed(zero.target, ['c'], {}, options());
    await vi.advanceTimersByTimeAsync(0);
    expect(zero.calls).toHaveLength(0);
    time.advance(0);
    await settle();
    expect((await next).embeddings).toEqual([vectorOf('c')]);
  });
});

describe('microBatchDefaults', () => {
  it('follows DESIGN.md section 14 per runtime', () => {
    expect(microBatchDefaults('server', 'embedding')).toEqual({ maxBatchSize: 512, maxBatchTokens: 250_000, maxWaitMs: 5, concurrency: 4, maxQueue: 2_048, whenFull: 'wait' });
    expect(microBatchDefaults('serverless', 'embedding')).toMatchObject({ maxBatchSize: 512, maxWaitMs: 0 });
    expect(microBatchDefaults('browser', 'embedding')).toMatchObject({ maxBatchSize: 64, maxWaitMs: 15, maxQueue: 256 });
    expect(microBatchDefaults('server', 'self-hosted-embedding')).toMatchObject({ maxBatchSize: 32, maxQueue: 128 });
  });

  it('lets a target override the runtime defaults, clamped to the provider limits', () => {
    const batcher = new MicroBatcher({ emit: () => undefined, runtime: 'browser', defaults: { concurrency: 3 } });
    const target: Target = { id: 't', kind: 'cloud', modalities: ['embedding'], limits: { maxBatchSize: 100 }, microBatch: { maxBatchSize: 1_000, maxWaitMs: 7 } };
    expect(batcher.settingsFor(target, 'embed')).toEqual({ maxBatchSize: 100, maxBatchTokens: 250_000, maxWaitMs: 7, concurrency: 3, maxQueue: 400, whenFull: 'wait' });
  });
});
