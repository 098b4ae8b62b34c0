/**
 * The job coalescer over real Jobs (memory store) and the store-backed batch provider fixture:
 * concurrent batch-latency calls share one job, and each keeps its own answer, error and abort.
 */
import { describe, expect, it } from 'vitest';
import { JobCoalescer } from '../../src/batching/job-coalescer.js';
import { Jobs } from '../../src/batching/jobs/index.js';
import { VirtualClock } from '../helpers/virtual-clock.js';
import { systemClock } from '../../src/time/clock.js';
import { memoryStore } from '../../src/stores/memory.js';
import type { Target } from '../../src/target.js';
import { storeBatchProvider, type StoreBatchProviderOptions } from './fixtures/store-batch-provider.js';

function setup(providerOptions: Partial<StoreBatchProviderOptions> = {}, options: { windowMs?: number; maxItems?: number; pollDelayMs?: number } = {}) {
  const provider = storeBatchProvider({ store: memoryStore(), ...providerOptions });
  const target: Target = { id: 'fake:batch', kind: 'batch', modalities: ['text', 'embedding'], batch: provider };
  const submitted: number[] = [];
  const submit = provider.submit.bind(provider);
  provider.submit = (items, submitOptions, ctx) => {
    submitted.push(items.length);
    return submit(items, submitOptions, ctx);
  };
  const jobs = new Jobs({
    store: memoryStore(),
    targets: [target],
    emit: () => {},
    runOnline: async () => {
      throw new Error('not used');
    },
    // Each poll's sleep passes after pollDelayMs of real time (at once when 0).
    clock: new VirtualClock({ start: Date.now(), auto: true, realDelayMs: options.pollDelayMs }),
  });
  const coalescer = new JobCoalescer(() => jobs, { windowMs: options.windowMs ?? 20, maxItems: options.maxItems ?? 1_000, wait: { pollIntervalMs: 1 }, clock: systemClock });
  return { jobs, coalescer, submitted, provider };
}

const text = (prompt: string) => [{ prompt }];

describe('JobCoalescer', () => {
  it('calls within the window share one job, and each gets its own results in order', async () => {
    const { coalescer, submitted } = setup();
    const [one, two, three] = await Promise.all([
      coalescer.run('fake:batch', 'text', text('first')),
      coalescer.run('fake:batch', 'text', text('second')),
      coalescer.run('fake:batch', 'text', text('third')),
    ]);
    expect([one, two, three].map(([result]) => result.text?.text)).toEqual(['echo:first', 'echo:second', 'echo:third']);
    expect(submitted).toEqual([3]);
    const vectors = await Promise.all([
      coalescer.run('fake:batch', 'embedding', [{ input: 'abc' }, { input: 'de' }]),
      coalescer.run('fake:batch', 'embedding', [{ input: 'f' }]),
    ]);
    expect(vectors.map((results) => results.map((result) => result.embedding?.[0]))).toEqual([[3, 2], [1]]);
    expect(submitted).toEqual([3, 3]);
  });

  it('a failed item fails its own caller only', async () => {
    const { coalescer } = setup();
    const [good, bad, partly] = await Promise.allSettled([
      coalescer.run('fake:batch', 'text', text('fine')),
      coalescer.run('fake:batch', 'text', text('FAIL here')),
      coalescer.run('fake:batch', 'embedding', [{ input: 'ok' }, { input: 'FAIL' }]),
    ]);
    expect(good).toMatchObject({ status: 'fulfilled', value: [{ ok: true, text: { text: 'echo:fine' } }] });
    expect(bad).toMatchObject({ status: 'rejected', reason: { code: 'JOB_ERROR', status: 400 } });
    expect(partly).toMatchObject({ status: 'rejected', reason: { code: 'JOB_ERROR' } });
  });

  it('a caller aborted while the group gathers leaves it; when all leave, nothing is sent', async () => {
    const { coalescer, submitted } = setup();
    const leaving = new AbortController();
    const left = coalescer.run('fake:batch', 'text', text('leaving'), leaving.signal);
    const staying = coalescer.run('fake:batch', 'text', text('staying'));
    leaving.abort();
    await expect(left).rejects.toMatchObject({ code: 'ABORTED' });
    expect((await staying)[0].text?.text).toBe('echo:staying');
    expect(submitted).toEqual([1]);

    const all = new AbortController();
    const gone = coalescer.run('fake:batch', 'text', text('gone'), all.signal);
    all.abort();
    await expect(gone).rejects.toMatchObject({ code: 'ABORTED' });
    await new Promise((resolve) => setTimeout(resolve, 40));
    expect(submitted).toEqual([1]);
    await expect(coalescer.run('fake:batch', 'text', text('late'), all.signal)).rejects.toMatchObject({ code: 'ABORTED' });
  });

  it('after sending, an aborted caller is answered at once and the job goes on; it is cancelled when every caller has gone', async () => {
    const { coalescer, jobs } = setup({ steps: 20 }, { pollDelayMs: 5 });
    const first = new AbortController();
    const second = new AbortController();
    const a = coalescer.run('fake:batch', 'text', text('a'), first.signal);
    const b = coalescer.run('fake:batch', 'text', text('b'), second.signal);
    while ((await jobs.list()).length === 0) await new Promise((resolve) => setTimeout(resolve, 2));
    first.abort();
    await expect(a).rejects.toMatchObject({ code: 'ABORTED' });
    expect((await jobs.list())[0].status).not.toMatch(/cancel/);
    second.abort();
    await expect(b).rejects.toMatchObject({ code: 'ABORTED' });
    for (let tick = 0; tick < 50 && !(await jobs.list())[0].status.startsWith('cancel'); tick++) await new Promise((resolve) => setTimeout(resolve, 2));
    expect((await jobs.list())[0].status).toMatch(/^cancel/);
  });

  it('a group that reaches maxItems is sent without waiting for its window', async () => {
    const { coalescer, submitted } = setup({}, { windowMs: 60_000, maxItems: 3 });
    const results = await Promise.all([coalescer.run('fake:batch', 'embedding', [{ input: 'a' }, { input: 'b' }]), coalescer.run('fake:batch', 'embedding', [{ input: 'c' }])]);
    expect(results.flat()).toHaveLength(3);
    expect(submitted).toEqual([3]);
  });

  it('an item the endpoint refuses fails its caller only; the others are sent again', async () => {
    const { coalescer, submitted } = setup({ maxBytes: 2_000 });
    const [small, huge, other] = await Promise.allSettled([
      coalescer.run('fake:batch', 'text', text('small')),
      coalescer.run('fake:batch', 'text', text('x'.repeat(5_000))),
      coalescer.run('fake:batch', 'text', text('other')),
    ]);
    expect(huge).toMatchObject({ status: 'rejected', reason: { code: 'INVALID_REQUEST' } });
    expect(small).toMatchObject({ status: 'fulfilled', value: [{ text: { text: 'echo:small' } }] });
    expect(other).toMatchObject({ status: 'fulfilled', value: [{ text: { text: 'echo:other' } }] });
    expect(submitted).toEqual([2]);
  });

  it('a job that cannot run at all fails every caller in it with its error', async () => {
    const { coalescer, provider } = setup();
    provider.submit = async () => {
      throw Object.assign(new Error('upload refused'), { status: 503 });
    };
    const outcomes = await Promise.allSettled([coalescer.run('fake:batch', 'text', text('a')), coalescer.run('fake:batch', 'text', text('b'))]);
    for (const outcome of outcomes) expect(outcome).toMatchObject({ status: 'rejected', reason: { code: 'JOB_ERROR' } });
    expect((outcomes[0] as PromiseRejectedResult).reason.message).toContain('upload refused');
  });

  it('after a refused item, the callers sent again can still abort on their own', async () => {
    const { coalescer, jobs, submitted } = setup({ maxBytes: 2_000, steps: 20 }, { pollDelayMs: 5 });
    const leaving = new AbortController();
    const staying = new AbortController();
    const huge = coalescer.run('fake:batch', 'text', text('x'.repeat(5_000)), new AbortController().signal);
    const left = coalescer.run('fake:batch', 'text', text('leaving'), leaving.signal);
    const kept = coalescer.run('fake:batch', 'text', text('staying'), staying.signal);
    await expect(huge).rejects.toMatchObject({ code: 'INVALID_REQUEST' });
    while (submitted.length === 0) await new Promise((resolve) => setTimeout(resolve, 2));
    leaving.abort();
    await expect(left).rejects.toMatchObject({ code: 'ABORTED' });
    expect((await kept)[0].text?.text).toBe('echo:staying');
    expect(submitted).toEqual([2]);
    expect((await jobs.list()).map((job) => job.status)).toEqual(['completed']);
  });

  it('flush() sends a gathering group at once', async () => {
    const { coalescer, submitted } = setup({}, { windowMs: 60_000 });
    const pending = coalescer.run('fake:batch', 'text', text('now'));
    coalescer.flush();
    expect((await pending)[0].text?.text).toBe('echo:now');
    expect(submitted).toEqual([1]);
  });
});
