/**
 * The Jobs' own options (issue 24 item 6): every documented one is typed, checked
 * (InvalidRequestError naming `jobs.<option>`, unknown names too) and honoured. And polling
 * (item 11): the default schedule sees a batch that finished at 8 s long before 24.6 s, and
 * `onProgress` / `job-progress` fire only when something changed.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openai } from '../../providers/openai/index.js';
import { Jobs, type JobItem, type JobProgressEvent, type JobsOptions } from '../../src/batching/jobs/index.js';
import { memoryStore } from '../../src/stores/memory.js';
import type { Target } from '../../src/target.js';
import { VirtualClock } from '../helpers/virtual-clock.js';
import { startOpenAIServer, type OpenAIServer } from '../servers/openai-compatible.js';
import { storeBatchProvider } from './fixtures/store-batch-provider.js';

const items = (count: number): JobItem[] => Array.from({ length: count }, (_, index) => ({ id: `item-${index}`, prompt: `q${index}` }));

function jobsWith(options: Partial<JobsOptions> & Record<string, unknown>, providerSteps = 2) {
  const clock = (options.clock as VirtualClock | undefined) ?? new VirtualClock({ auto: true });
  const store = memoryStore({ now: () => clock.now() });
  const provider = storeBatchProvider({ store: memoryStore(), steps: providerSteps });
  const target: Target = { id: 'fake:batch', kind: 'batch', modalities: ['text'], batch: provider };
  const events: JobProgressEvent[] = [];
  const jobs = new Jobs({ store, targets: [target], emit: (_event, payload) => events.push(payload), runOnline: () => Promise.reject(new Error('not used')), clock, ...options } as JobsOptions);
  return { jobs, store, clock, provider, events };
}

describe('Jobs options are checked', () => {
  const bad: Array<[string, Record<string, unknown>, string]> = [
    ['a zero lease', { leaseMs: 0 }, 'jobs.leaseMs'],
    ['a lease given as text', { leaseMs: '10s' }, 'jobs.leaseMs'],
    ['an empty owner id', { ownerId: '' }, 'jobs.ownerId'],
    ['an owner id that is not a string', { ownerId: 7 }, 'jobs.ownerId'],
    ['a NaN poll interval', { pollIntervalMs: Number.NaN }, 'jobs.pollIntervalMs'],
    ['a negative longest poll interval', { maxPollIntervalMs: -1 }, 'jobs.maxPollIntervalMs'],
    ['a fractional online concurrency', { onlineConcurrency: 1.5 }, 'jobs.onlineConcurrency'],
    ['a zero chunk size', { chunkSize: 0 }, 'jobs.chunkSize'],
    ['an online part size that is not a number', { onlinePartSize: 'big' }, 'jobs.onlinePartSize'],
    ['a key prefix that is not a string', { keyPrefix: 5 }, 'jobs.keyPrefix'],
    ['a clock without timers', { clock: { now: () => 0 } }, 'jobs.clock'],
    ['a misspelt option', { leasems: 5_000 }, 'jobs.leasems'],
    ['an option of the client, not of jobs', { coalesce: 5 }, 'jobs.coalesce'],
  ];
  it.each(bad)('refuses %s, naming it', (_name, options, field) => {
    expect(() => jobsWith(options)).toThrow(expect.objectContaining({ code: 'INVALID_REQUEST', field }));
  });
});

describe('Jobs options are honoured', () => {
  it('leaseMs and ownerId: the claim carries the owner and holds for the lease', async () => {
    const { jobs, store, clock, provider } = jobsWith({ leaseMs: 4_321, ownerId: 'worker-blue' });
    // The claim as it stands when the provider is called, read from the record.
    let claim: { owner?: string; leaseUntil?: number } | undefined;
    const submit = provider.submit.bind(provider);
    provider.submit = async (batchItems, options, ctx) => {
      const key = (await store.list('jobs:')).find((name) => !name.includes(':', 'jobs:'.length))!;
      claim = JSON.parse((await store.get(key))!.value).parts[0];
      return submit(batchItems, options, ctx);
    };
    await jobs.submit(items(3));
    expect(claim).toMatchObject({ owner: 'worker-blue', leaseUntil: clock.now() + 4_321 });
  });

  it('pollIntervalMs and maxPollIntervalMs are the defaults of every wait()', async () => {
    const { jobs, clock } = jobsWith({ pollIntervalMs: 5_000, maxPollIntervalMs: 8_000 }, 8);
    const handle = await jobs.submit(items(2));
    const before = clock.fired.length;
    await handle.wait();
    const sleeps = clock.fired.slice(before);
    expect(sleeps.length).toBeGreaterThanOrEqual(5);
    expect(sleeps[0]).toBeGreaterThanOrEqual(4_000);
    expect(sleeps[0]).toBeLessThanOrEqual(6_000);
    expect(Math.max(...sleeps)).toBeLessThanOrEqual(8_000 * 1.2);
    expect(sleeps.at(-1)).toBeGreaterThanOrEqual(8_000 * 0.8);
  });

  it('chunkSize, onlinePartSize and keyPrefix shape what is stored', async () => {
    const { jobs, store } = jobsWith({ chunkSize: 7, keyPrefix: 'nightly:' });
    const handle = await jobs.submit(items(50));
    expect(await store.range(`nightly:${handle.id}:items`, 0)).toHaveLength(8);
    expect(await store.get(`nightly:${handle.id}`)).toBeDefined();
    expect(await store.list('jobs:')).toEqual([]);

    const online: Target = { id: 'cloud', kind: 'cloud', modalities: ['text'], doGenerate: async () => ({ text: '', finishReason: 'stop' }) };
    const clock = new VirtualClock({ auto: true });
    const onlineJobs = new Jobs({
      store: memoryStore(),
      targets: [online],
      emit: () => {},
      runOnline: async (_operation, item) => ({ customId: item.id, ok: true, text: { text: 'x', finishReason: 'stop' } }),
      clock,
      onlinePartSize: 4,
    });
    const job = await onlineJobs.submit(items(10));
    expect((await job.get()).parts.map((part) => part.items)).toEqual([4, 4, 2]);
    expect((await job.wait()).status).toBe('completed');
  });
});

describe('polling and progress', () => {
  it('onProgress and job-progress fire only when the status or counts changed, not on every poll', async () => {
    // Six status polls: in_progress five times over, then completed.
    const { jobs, clock, events } = jobsWith({ pollIntervalMs: 1_000 }, 6);
    const handle = await jobs.submit(items(4));
    const progress: JobProgressEvent[] = [];
    const polls = clock.fired.length;
    await handle.wait({ onProgress: (event) => progress.push(event) });
    expect(clock.fired.length - polls).toBe(5);
    expect(progress.map((event) => event.status)).toEqual(['in_progress', 'completed']);
    const mine = events.filter((event) => event.job === handle.id).map((event) => event.status);
    expect(mine).toEqual(['in_progress', 'completed']);
  });

  describe('against the local Batch API, its batches on the same virtual clock', () => {
    // Still while the job is submitted (so the batch is created at `submittedAt`), free while it is awaited.
    const clock = new VirtualClock();
    let server: OpenAIServer;
    beforeAll(async () => {
      // Done 8 s after it was created: 1 s validating, 6 s running, 1 s finalizing.
      server = await startOpenAIServer({ now: () => clock.now(), batches: { timeline: { validatingMs: 1_000, inProgressMs: 6_000, finalizingMs: 1_000 } } });
    });
    afterAll(() => server?.close());

    it('the default schedule sees a batch done at 8 s within a few seconds, long before 24.6 s', async () => {
      const target = openai({ id: 'batch', model: 'gpt-4.1-mini', kind: 'batch', baseURL: server.baseURL, apiKey: 'sk-poll-test-0001', now: () => clock.now() });
      const jobs = new Jobs({ store: memoryStore(), targets: [target], emit: () => {}, runOnline: () => Promise.reject(new Error('x')), clock });
      const handle = await jobs.submit(items(5));
      const submittedAt = clock.now();
      clock.runFreely();
      const progress: JobProgressEvent[] = [];
      const info = await handle.wait({ onProgress: (event) => progress.push(event) });
      expect(info.status).toBe('completed');
      const seenAfter = clock.now() - submittedAt;
      expect(seenAfter).toBeGreaterThanOrEqual(8_000);
      // 2 s, 3 s, 4.5 s, 6.75 s (+-20%): seen by 13.7 s at the latest.
      expect(seenAfter).toBeLessThan(14_000);
      expect(progress.at(-1)).toMatchObject({ status: 'completed', counts: { total: 5, completed: 5 } });
      // No two reports in a row are the same.
      for (let index = 1; index < progress.length; index++) expect(progress[index]).not.toEqual(progress[index - 1]);
      await jobs.close();
    });
  });
});
