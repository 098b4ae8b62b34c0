import { mulberry32 } from '../../src/random.js';
import { describe, expect, it } from 'vitest';
import { Jobs, type JobItem, type JobProgressEvent, type JobResult, type JobsOptions } from '../../src/batching/jobs/index.js';
import { InferlaneError } from '../../src/errors.js';
import { memoryStore } from '../../src/stores/memory.js';
import type { KeyValueStore } from '../../src/stores/store.js';
import type { BatchItemResult, Target } from '../../src/target.js';
import { storeBatchProvider, type StoreBatchProviderOptions } from './fixtures/store-batch-provider.js';
import { collect } from '../helpers/async.js';
import { frozenView, trackingClock, VirtualClock } from '../helpers/virtual-clock.js';
import { systemClock } from '../../src/time/clock.js';


interface Setup {
  jobs: Jobs;
  store: KeyValueStore;
  provider: ReturnType<typeof storeBatchProvider>;
  events: JobProgressEvent[];
  /** Delays of the poll sleeps (and any other timer) that fired. */
  sleeps: number[];
  clock: VirtualClock;
}

function setup(providerOptions: Partial<StoreBatchProviderOptions> = {}, extra: { targets?: Target[]; jobs?: Partial<JobsOptions>; store?: KeyValueStore } = {}): Setup {
  // Time jumps to the next timer whenever the process is idle: a poll's sleep passes at once.
  const clock = new VirtualClock({ auto: true });
  const store = extra.store ?? memoryStore({ now: () => clock.now() });
  const provider = storeBatchProvider({ store: memoryStore(), ...providerOptions });
  const batchTarget: Target = {
    id: 'fake:batch',
    kind: 'batch',
    modalities: ['text', 'embedding'],
    cost: { inputPerMTok: 1, outputPerMTok: 4 },
    batch: provider,
  };
  const events: JobProgressEvent[] = [];
  const sleeps = clock.fired;
  const jobs = new Jobs({
    store,
    targets: extra.targets ?? [batchTarget],
    emit: (_event, payload) => events.push(payload),
    runOnline: async () => {
      throw new Error('not used');
    },
    clock,
    random: mulberry32(7),
    ...extra.jobs,
  });
  return { jobs, store, provider, events, sleeps, clock };
}

const textItems = (count: number, content = (index: number) => `q${index}`): JobItem[] =>
  Array.from({ length: count }, (_, index) => ({ id: `caller-${index}`, prompt: content(index) }));


describe('Jobs.submit validation (nothing is stored or sent on bad input)', () => {
  it('names the missing id, the duplicate id and the oversized item', async () => {
    const { jobs, store, provider } = setup({ maxBytes: 400 });
    const missing = [{ id: 'a', prompt: 'x' }, { prompt: 'y' } as JobItem];
    await expect(jobs.submit(missing)).rejects.toMatchObject({ code: 'INVALID_REQUEST', field: 'items[1].id' });
    const duplicate = [{ id: 'a', prompt: 'x' }, { id: 'b', prompt: 'y' }, { id: 'a', prompt: 'z' }];
    await expect(jobs.submit(duplicate)).rejects.toMatchObject({ field: 'items[2].id' });
    const large = [{ id: 'a', prompt: 'x' }, { id: 'big', prompt: 'x'.repeat(1000) }];
    await expect(jobs.submit(large)).rejects.toMatchObject({ field: 'items[1]' });
    await expect(jobs.submit([{ id: 'a', prompt: 'x' }, { id: 'b', input: 'y' }])).rejects.toMatchObject({ field: 'items[1]' });
    await expect(jobs.submit([{ id: 'a', prompt: 'x' }], { completionWindow: 'tomorrow' })).rejects.toMatchObject({ field: 'completionWindow' });
    expect(await store.list('')).toEqual([]);
    expect(await provider.created()).toBe(0);
  });

  // Every bad submit names its field; the store and the provider see nothing.
  const badSubmits: Array<[string, unknown, Record<string, unknown>, string]> = [
    ['no items', [], {}, 'items'],
    ['items that are not an array', 'hello', {}, 'items'],
    ['an item that is not an object', [{ id: 'a', prompt: 'x' }, 'y'], {}, 'items[1]'],
    ['an empty id', [{ id: '', prompt: 'x' }], {}, 'items[0].id'],
    ['a text item with neither messages nor prompt', [{ id: 'a' }], {}, 'items[0].messages'],
    ['an empty prompt', [{ id: 'a', prompt: '' }], {}, 'items[0].prompt'],
    ['both messages and prompt', [{ id: 'a', prompt: 'x', messages: [{ role: 'user', content: 'y' }] }], {}, 'items[0].prompt'],
    ['empty messages', [{ id: 'a', messages: [] }], {}, 'items[0].messages'],
    ['a message with an unknown role', [{ id: 'a', prompt: 'x' }, { id: 'b', messages: [{ role: 'wizard', content: 'y' }] }], {}, 'items[1].messages[0].role'],
    ['a message without text content', [{ id: 'a', messages: [{ role: 'user', content: 42 }] }], {}, 'items[0].messages[0].content'],
    ['a system that is not a string', [{ id: 'a', prompt: 'x', system: ['s'] }], {}, 'items[0].system'],
    ['a fractional maxOutputTokens', [{ id: 'a', prompt: 'x', maxOutputTokens: 1.5 }], {}, 'items[0].maxOutputTokens'],
    ['a negative temperature', [{ id: 'a', prompt: 'x', temperature: -1 }], {}, 'items[0].temperature'],
    ['a topP above 1', [{ id: 'a', prompt: 'x', topP: 1.5 }], {}, 'items[0].topP'],
    ['a stop that is not a list of strings', [{ id: 'a', prompt: 'x', stop: 'END' }], {}, 'items[0].stop'],
    ['a fractional seed', [{ id: 'a', prompt: 'x', seed: 0.5 }], {}, 'items[0].seed'],
    ['providerOptions that are not an object', [{ id: 'a', prompt: 'x', providerOptions: 'fast' }], {}, 'items[0].providerOptions'],
    ['a fractional embedding width', [{ id: 'a', input: 'x', dimensions: 2.5 }], {}, 'items[0].dimensions'],
    ['an embedding input that is not a string', [{ id: 'a', input: ['x'] }], {}, 'items[0].input'],
    ['an embedding item in a text job', [{ id: 'a', prompt: 'x' }, { id: 'b', input: 'y' }], {}, 'items[1]'],
    ['a text item in a declared embedding job', [{ id: 'a', prompt: 'x' }], { operation: 'embedding' }, 'items[0]'],
    ['an unknown operation', [{ id: 'a', prompt: 'x' }], { operation: 'image' }, 'operation'],
    ['a target that is not an id', [{ id: 'a', prompt: 'x' }], { target: 7 }, 'target'],
    ['a zero completion window', [{ id: 'a', prompt: 'x' }], { completionWindow: '0h' }, 'completionWindow'],
    ['a completion window that is not a string', [{ id: 'a', prompt: 'x' }], { completionWindow: 86_400 }, 'completionWindow'],
    ['metadata that is not an object', [{ id: 'a', prompt: 'x' }], { metadata: 'project' }, 'metadata'],
    ['fifteen metadata pairs', [{ id: 'a', prompt: 'x' }], { metadata: Object.fromEntries(Array.from({ length: 15 }, (_, i) => [`k${i}`, 'v'])) }, 'metadata'],
    ['a metadata value that is not a string', [{ id: 'a', prompt: 'x' }], { metadata: { project: 7 } }, 'metadata.project'],
    ['a metadata value over 512 characters', [{ id: 'a', prompt: 'x' }], { metadata: { note: 'x'.repeat(513) } }, 'metadata.note'],
    ['a reserved metadata key', [{ id: 'a', prompt: 'x' }], { metadata: { inferlane_job_id: 'mine' } }, 'metadata.inferlane_job_id'],
  ];
  it.each(badSubmits)('rejects %s, naming the field', async (_name, items, options, field) => {
    const { jobs, store, provider } = setup();
    await expect(jobs.submit(items as JobItem[], options)).rejects.toMatchObject({ code: 'INVALID_REQUEST', field });
    expect(await store.list('')).toEqual([]);
    expect(await provider.created()).toBe(0);
  });

  it('rejects wait options that would poll without pause, and a malformed cursor', async () => {
    const { jobs, sleeps } = setup();
    const handle = await jobs.submit(textItems(2));
    for (const [options, field] of [[{ pollIntervalMs: 0 }, 'pollIntervalMs'], [{ pollIntervalMs: Number.NaN }, 'pollIntervalMs'], [{ maxPollIntervalMs: -1 }, 'maxPollIntervalMs'], [{ onProgress: 'log' }, 'onProgress']] as const) {
      await expect(handle.wait(options as never)).rejects.toMatchObject({ code: 'INVALID_REQUEST', field });
    }
    expect(sleeps).toEqual([]);
    await handle.wait({ pollIntervalMs: 1 });
    await expect(collect(handle.results({ cursor: 'middle' }))).rejects.toMatchObject({ code: 'INVALID_REQUEST', field: 'cursor' });
  });

  it('sends a job to the cheapest batch target by its batch price, and online only when no target batches', async () => {
    const batchTarget = (id: string, inputPerMTok: number, priceMultiplier: number): Target => ({
      id,
      kind: 'batch',
      modalities: ['text'],
      cost: { inputPerMTok, outputPerMTok: inputPerMTok * 4 },
      batch: { ...storeBatchProvider({ store: memoryStore() }), priceMultiplier },
    });
    // List price 1 at full batch price beats list price 1.5 at half: 1 vs 0.75 per item, so 'b' wins.
    const { jobs } = setup({}, { targets: [batchTarget('a', 1, 1), batchTarget('b', 1.5, 0.5), batchTarget('c', 3, 0.5)] });
    const handle = await jobs.submit(textItems(2));
    expect((await handle.get()).target).toBe('b');
    const online = (id: string, inputPerMTok: number): Target => ({ id, kind: 'cloud', modalities: ['text'], cost: { inputPerMTok, outputPerMTok: inputPerMTok }, doGenerate: async () => ({ text: '', finishReason: 'stop' }) });
    const onlineOnly = setup({}, { targets: [online('dear', 5), online('cheap', 1)] });
    expect((await (await onlineOnly.jobs.submit(textItems(1))).get()).target).toBe('cheap');
  });

  it('throws NoRouteError listing why each target cannot serve the modality', async () => {
    const imageOnly: Target = { id: 'img', kind: 'cloud', modalities: ['image'] };
    const textNoMethod: Target = { id: 'bare', kind: 'cloud', modalities: ['text'] };
    const { jobs } = setup({}, { targets: [imageOnly, textNoMethod] });
    const error = await jobs.submit(textItems(2)).catch((caught: unknown) => caught);
    expect(InferlaneError.isInstance(error) && error.code).toBe('NO_ROUTE');
    expect((error as Error).message).toContain('img: does not serve text');
    expect((error as Error).message).toContain('bare: has neither');
  });
});

describe('Jobs over a batch endpoint', () => {
  // The full 120,000-item job runs against the real adapter in jobs-openai.test.ts; here the
  // same packing at 1/100 scale.
  it('splits 1,200 items into 3 provider batches below 90% of maxItems and matches every result to its id', async () => {
    const { jobs, store, provider } = setup({ maxItems: 500 });
    const recordSeen: boolean[] = [];
    const submit = provider.submit.bind(provider);
    const metadataSeen: Record<string, string>[] = [];
    provider.submit = async (items, options, ctx) => {
      // The record, with this part claimed, is in the store before the provider hears of it.
      const keys = await store.list('jobs:');
      const recordKey = keys.find((key) => !key.includes(':', 'jobs:'.length))!;
      const record = JSON.parse((await store.get(recordKey))!.value);
      recordSeen.push(record.parts[Number(options.metadata.inferlane_part)].state === 'submitting');
      metadataSeen.push(options.metadata);
      expect(items.length).toBeLessThanOrEqual(450);
      return submit(items, options, ctx);
    };
    const items = textItems(1_200);
    const handle = await jobs.submit(items, { metadata: { project: 'p1' } });
    expect(recordSeen).toEqual([true, true, true]);
    expect(metadataSeen.map((metadata) => metadata.inferlane_part)).toEqual(['0', '1', '2']);
    expect(metadataSeen.every((metadata) => metadata.inferlane_job_id === handle.id && metadata.project === 'p1')).toBe(true);
    const info = await handle.wait({ pollIntervalMs: 1000 });
    expect(info.status).toBe('completed');
    expect(info.parts.map((part) => part.items)).toEqual([450, 450, 300]);
    expect(info.counts).toEqual({ total: 1_200, completed: 1_200, failed: 0 });
    const seen = new Map<string, JobResult>();
    for await (const result of handle.results()) {
      expect(seen.has(result.id)).toBe(false);
      seen.set(result.id, result);
    }
    expect(seen.size).toBe(1_200);
    for (const index of [0, 1, 449, 450, 1_199]) {
      const result = seen.get(`caller-${index}`)!;
      expect(result.ok).toBe(true);
      expect(result.result?.text).toBe(`echo:q${index}`);
    }
    // Batch price: (inputTokens * $1 + 3 * $4) / 1e6 * 0.5
    expect(seen.get('caller-0')!.costUsd).toBeCloseTo(((1 * 1 + 3 * 4) / 1e6) * 0.5, 12);
    expect(await provider.created()).toBe(3);
  });

  it('packs by bytes below 90% of maxBytes and by maxEmbeddingInputs', async () => {
    const { jobs } = setup({ maxBytes: 10_000, maxEmbeddingInputs: 100 });
    const embedding = await jobs.submit(Array.from({ length: 250 }, (_, index) => ({ id: `e${index}`, input: `text ${index}` })));
    expect((await embedding.get()).parts.map((part) => part.items)).toEqual([90, 90, 70]);
    expect((await embedding.get()).operation).toBe('embedding');
    const text = await jobs.submit(textItems(200, () => 'x'.repeat(100)));
    const parts = (await text.get()).parts;
    expect(parts.length).toBeGreaterThan(1);
    const itemBytes = 100 + 90; // prompt plus JSON framing, roughly
    for (const part of parts) expect(part.items * itemBytes).toBeLessThanOrEqual(9_000 * 1.2);
  });

  it('gives failed items their own error and keeps the others', async () => {
    const { jobs } = setup();
    const handle = await jobs.submit(textItems(50, (index) => (index % 10 === 3 ? 'FAIL me' : `q${index}`)));
    const info = await handle.wait({ pollIntervalMs: 10 });
    expect(info.status).toBe('completed');
    expect(info.counts).toEqual({ total: 50, completed: 45, failed: 5 });
    const results = await collect(handle.results());
    expect(results).toHaveLength(50);
    const failed = results.filter((result) => !result.ok).map((result) => result.id).sort();
    expect(failed).toEqual(['caller-13', 'caller-23', 'caller-3', 'caller-33', 'caller-43']);
    expect(results.find((result) => result.id === 'caller-3')!.error).toMatchObject({ code: 'invalid_request', status: 400 });
  });

  it('an expired batch yields what completed and an expired error for every other item', async () => {
    const { jobs } = setup({ outcome: 'expired' });
    const handle = await jobs.submit(textItems(40));
    expect((await handle.wait({ pollIntervalMs: 10 })).status).toBe('expired');
    const results = await collect(handle.results());
    expect(new Set(results.map((result) => result.id)).size).toBe(40);
    expect(results.filter((result) => result.ok)).toHaveLength(20);
    expect(results.filter((result) => !result.ok).every((result) => result.error!.code === 'expired')).toBe(true);
  });

  it('cancel stops the provider batch and ends every item with a cancelled error', async () => {
    const { jobs, provider } = setup({ steps: 5 });
    const handle = await jobs.submit(textItems(30));
    const cancelling = await handle.cancel();
    expect(cancelling.status).toBe('cancelling');
    const info = await handle.wait({ pollIntervalMs: 10 });
    expect(info.status).toBe('cancelled');
    const results = await collect(handle.results());
    expect(results).toHaveLength(30);
    expect(results.every((result) => !result.ok && result.error!.code === 'cancelled')).toBe(true);
    expect(await provider.created()).toBe(1);
  });

  it('polls with growing, jittered, capped intervals and reports progress', async () => {
    const { jobs, sleeps, events } = setup({ steps: 8 });
    const handle = await jobs.submit(textItems(5));
    const progress: JobProgressEvent[] = [];
    await handle.wait({ pollIntervalMs: 1000, maxPollIntervalMs: 3000, onProgress: (event) => progress.push(event) });
    expect(sleeps).toHaveLength(7);
    expect(sleeps[0]).toBeGreaterThanOrEqual(800);
    expect(sleeps[0]).toBeLessThanOrEqual(1200);
    expect(sleeps[1]).toBeGreaterThanOrEqual(1200);
    for (const delay of sleeps) expect(delay).toBeLessThanOrEqual(3600);
    expect(sleeps.slice(4).every((delay) => delay >= 2400)).toBe(true);
    expect(progress.at(-1)).toMatchObject({ job: handle.id, status: 'completed', counts: { total: 5, completed: 5, failed: 0 } });
    expect(progress.some((event) => event.status === 'in_progress')).toBe(true);
    expect(events.some((event) => event.job === handle.id && event.status === 'completed')).toBe(true);
  });

  it('stops waiting past the expiry time even when the provider still runs', async () => {
    const { jobs, sleeps } = setup({ steps: 1000 });
    const handle = await jobs.submit(textItems(2), { completionWindow: '1h' });
    const info = await handle.wait({ pollIntervalMs: 600_000, maxPollIntervalMs: 600_000 });
    expect(info.status).toBe('in_progress');
    expect(sleeps.reduce((sum, delay) => sum + delay, 0)).toBeGreaterThanOrEqual(3_600_000);
    expect(sleeps.length).toBeLessThan(10);
  });

  it('results resume from the saved cursor after a break, and from any cursor given', async () => {
    const { jobs } = setup();
    const handle = await jobs.submit(textItems(25, (index) => (index === 7 ? 'FAIL' : `q${index}`)));
    await handle.wait({ pollIntervalMs: 10 });
    const first: JobResult[] = [];
    for await (const result of handle.results()) {
      first.push(result);
      if (first.length === 10) break;
    }
    const rest = await collect(handle.results());
    expect(rest).toHaveLength(15);
    const ids = [...first, ...rest].map((result) => result.id);
    expect(new Set(ids).size).toBe(25);
    const fromCursor = await collect(handle.results({ cursor: first[4].cursor }));
    expect(fromCursor.map((result) => result.id)).toEqual(ids.slice(5));
    expect(await collect(handle.results())).toHaveLength(0);
    expect(await collect(handle.results({ cursor: 'start' }))).toHaveLength(25);
  });

  it('two workers resuming the same stranded job submit one provider batch', async () => {
    const shared = setup();
    const handle = await shared.jobs.submit(textItems(20));
    // Strand the part as a crashed worker would: claimed, provider never called.
    const key = `jobs:${handle.id}`;
    const entry = (await shared.store.get(key))!;
    const record = JSON.parse(entry.value);
    Object.assign(record.parts[0], { state: 'submitting', status: 'submitting', providerBatchId: undefined, owner: 'dead', leaseUntil: shared.clock.now() - 1, claims: 1 });
    record.status = 'submitting';
    await shared.store.set(key, JSON.stringify(record));
    const before = await shared.provider.created();
    const target: Target = { id: 'fake:batch', kind: 'batch', modalities: ['text'], batch: shared.provider };
    const workers = [1, 2].map(
      (seed) =>
        new Jobs({ store: shared.store, targets: [target], emit: () => {}, runOnline: async () => ({ customId: '', ok: false, error: { code: 'x', message: 'x' } }), clock: shared.clock, random: mulberry32(seed) }),
    );
    await Promise.all(workers.map((worker) => worker.resume()));
    await Promise.all(workers.map((worker) => worker.wait(handle.id, { pollIntervalMs: 1 })));
    expect((await shared.provider.created()) - before).toBe(0); // reconciled by metadata: the batch existed
    const results = await collect(workers[0].results(handle.id));
    expect(results).toHaveLength(20);
  });

  it('a live claim by another worker is left alone until its lease expires', async () => {
    const shared = setup();
    const handle = await shared.jobs.submit(textItems(5));
    const key = `jobs:${handle.id}`;
    const record = JSON.parse((await shared.store.get(key))!.value);
    const created = await shared.provider.created();
    // Another worker holds a fresh claim on a second part it has not submitted yet.
    record.parts.push({ ...record.parts[0], index: 1, state: 'submitting', status: 'submitting', providerBatchId: undefined, owner: 'other', leaseUntil: shared.clock.now() + 60_000, claims: 1, counts: { total: 0, completed: 0, failed: 0 } });
    record.parts[0].end = 5;
    record.parts[1].start = 5;
    record.parts[1].end = 5;
    await shared.store.set(key, JSON.stringify(record));
    await shared.jobs.resume();
    expect(await shared.provider.created()).toBe(created);
    expect((await handle.get()).parts[1].status).toBe('submitting');
    shared.clock.skip(600_001);
    await shared.jobs.resume();
    expect(await shared.provider.created()).toBe(created + 1);
    expect((await handle.get()).parts[1].providerBatchId).toBeDefined();
  });

  it('runMany runs its items as one job and answers each by id, a failed item with its own error', async () => {
    const { jobs, provider } = setup();
    const before = await provider.created();
    const results = await jobs.runMany('fake:batch', 'embedding', ['abc', 'de', 'FAIL'].map((input, index) => ({ id: `v${index}`, input })), undefined, { pollIntervalMs: 5 });
    expect(await provider.created()).toBe(before + 1);
    expect(results.get('v0')).toEqual({ customId: 'v0', ok: true, embedding: [3, (97 + 98 + 99) % 97, 1], usage: { inputTokens: 1 } });
    expect(results.get('v1')).toMatchObject({ ok: true, embedding: [2, (100 + 101) % 97, 1] });
    expect(results.get('v2')).toMatchObject({ customId: 'v2', ok: false, error: { code: 'invalid_request', status: 400 } });
    const [text] = (await jobs.runMany('fake:batch', 'text', [{ id: 'only', prompt: 'hello' }], undefined, { pollIntervalMs: 5 })).values();
    expect(text).toMatchObject({ customId: 'only', ok: true, text: { text: 'echo:hello' } });
  });

  it('runMany cancels its job when its signal aborts', async () => {
    const controller = new AbortController();
    let polls = 0;
    const clock = new VirtualClock({ auto: true, onFire: () => void (++polls === 3 && controller.abort()) });
    const { jobs, provider } = setup({ steps: 50 }, { jobs: { clock } });
    const running = jobs.runMany('fake:batch', 'text', [{ id: 'a', prompt: 'x' }], controller.signal, { pollIntervalMs: 5 });
    await expect(running).rejects.toMatchObject({ code: 'ABORTED' });
    // The cancel is sent as the wait ends; the provider then reports the batch cancelling.
    for (let tick = 0; tick < 20 && (await jobs.list())[0].status !== 'cancelling'; tick++) await new Promise((resolve) => setTimeout(resolve, 1));
    expect((await jobs.list())[0]).toMatchObject({ status: 'cancelling' });
    expect(await provider.created()).toBe(1);
  });

  it('lists jobs by status', async () => {
    const { jobs } = setup({ steps: 3 });
    const done = await jobs.submit(textItems(3));
    await done.wait({ pollIntervalMs: 1 });
    const running = await jobs.submit(textItems(3));
    expect((await jobs.list()).map((job) => job.id)).toEqual([done.id, running.id]);
    expect((await jobs.list({ status: 'completed' })).map((job) => job.id)).toEqual([done.id]);
    expect((await jobs.list({ status: ['validating', 'in_progress'] })).map((job) => job.id)).toEqual([running.id]);
  });
});

describe('Jobs online fallback (a target without a batch endpoint)', () => {
  const onlineTarget = (calls: string[]): Target => ({
    id: 'cloud:mini',
    kind: 'cloud',
    modalities: ['text'],
    cost: { inputPerMTok: 2, outputPerMTok: 8 },
    async doGenerate(call) {
      const content = call.messages.at(-1)!.content;
      calls.push(content);
      if (content.includes('FAIL')) throw new InferlaneError('PROVIDER_ERROR', 'scripted', { status: 500 });
      return { text: `online:${content}`, finishReason: 'stop', usage: { inputTokens: 1, outputTokens: 1 } };
    },
  });

  it('runs every item through runOnline and serves the same results API', async () => {
    const calls: string[] = [];
    const target = onlineTarget(calls);
    let inFlight = 0;
    let peak = 0;
    const { jobs } = setup({}, {
      targets: [target],
      jobs: {
        onlineConcurrency: 3,
        runOnline: async (operation, item, targetId, signal): Promise<BatchItemResult> => {
          expect(operation).toBe('text');
          expect(targetId).toBe('cloud:mini');
          inFlight++;
          peak = Math.max(peak, inFlight);
          try {
            await Promise.resolve();
            const text = await target.doGenerate!({ messages: [{ role: 'user', content: item.prompt! }] }, { signal, deadline: Infinity, segment: 'batch', emit: () => {} });
            return { customId: item.id, ok: true, text, usage: text.usage };
          } finally {
            inFlight--;
          }
        },
      },
    });
    const handle = await jobs.submit(textItems(250, (index) => (index === 9 ? 'FAIL' : `q${index}`)));
    const info = await handle.wait({ pollIntervalMs: 10_000 });
    expect(info).toMatchObject({ status: 'completed', mode: 'online', counts: { total: 250, completed: 249, failed: 1 } });
    expect(peak).toBe(3);
    const results = await collect(handle.results());
    expect(results).toHaveLength(250);
    expect(new Set(results.map((result) => result.id)).size).toBe(250);
    expect(results.find((result) => result.id === 'caller-5')!.result!.text).toBe('online:q5');
    expect(results.find((result) => result.id === 'caller-9')!.error).toMatchObject({ code: 'PROVIDER_ERROR', status: 500 });
    expect(results.find((result) => result.id === 'caller-5')!.costUsd).toBeCloseTo((2 + 8) / 1e6, 12);
    expect(calls).toHaveLength(250);
  });

  it('wait() on an online job running here returns when it ends and leaves no poll timer behind', async () => {
    // Real timers: the sleep a finished runner cut short must end with the wait, not hold the
    // process for the rest of its 10 s delay (nor may a heartbeat of the online part outlive it).
    const tracked = trackingClock(systemClock);
    const pending = { get size() { return tracked.pending(); } };
    const target = onlineTarget([]);
    const { jobs } = setup({}, {
      targets: [target],
      jobs: {
        clock: tracked.clock,
        runOnline: async (_operation, item): Promise<BatchItemResult> => {
          await new Promise((resolve) => setTimeout(resolve, 20));
          return { customId: item.id, ok: true, text: { text: `online:${item.prompt}`, finishReason: 'stop' } };
        },
      },
    });
    const handle = await jobs.submit(textItems(3));
    const started = Date.now();
    const info = await handle.wait({ pollIntervalMs: 10_000 });
    expect(info).toMatchObject({ status: 'completed', counts: { total: 3, completed: 3 } });
    expect(Date.now() - started).toBeLessThan(5_000);
    await Promise.resolve();
    expect(pending.size).toBe(0);
  });

  it('a worker that dies mid-job leaves its answered items; the next one runs only the rest', async () => {
    const target = onlineTarget([]);
    const store = memoryStore();
    const clock = new VirtualClock({ auto: true });
    const answer = async (item: JobItem): Promise<BatchItemResult> => ({ customId: item.id, ok: true, text: { text: `online:${item.prompt}`, finishReason: 'stop' } });
    // The first worker answers four items, then hangs for good (its process died).
    const firstRuns: string[] = [];
    const first = setup({}, { targets: [target], store, jobs: { ownerId: 'first', leaseMs: 60_000, onlineConcurrency: 1, clock: frozenView(clock), runOnline: async (_operation, item) => {
      firstRuns.push(item.id);
      if (firstRuns.length > 4) return new Promise<never>(() => {});
      return answer(item);
    } } });
    const handle = await first.jobs.submit(textItems(10));
    await expect(collect(handle.results())).rejects.toMatchObject({ code: 'JOB_ERROR' });
    await first.jobs.resume();
    while (firstRuns.length < 5) await new Promise((resolve) => setTimeout(resolve, 1));
    // Its lease runs out; a second worker resumes.
    clock.skip(60_001);
    const secondRuns: string[] = [];
    const second = setup({}, { targets: [target], store, jobs: { ownerId: 'second', leaseMs: 60_000, clock, runOnline: async (_operation, item) => {
      secondRuns.push(item.id);
      return answer(item);
    } } });
    await second.jobs.resume();
    const info = await second.jobs.wait(handle.id, { pollIntervalMs: 1 });
    expect(info).toMatchObject({ status: 'completed', counts: { total: 10, completed: 10, failed: 0 } });
    // Items 0-3 were answered before the death; item 4 hung and runs again.
    expect(secondRuns.sort()).toEqual(['caller-4', 'caller-5', 'caller-6', 'caller-7', 'caller-8', 'caller-9']);
    const results = await collect(second.jobs.results(handle.id));
    expect(results.map((result) => result.id).sort()).toEqual(textItems(10).map((item) => item.id).sort());
  });
});
