/**
 * Leases that heartbeat (issue 20 item 4), in one process on a virtual clock: a worker keeps its
 * claim while a slow upload runs; a worker that stops (its timers no longer fire: killed or
 * paused) loses the part to the next one a lease later; a paused worker that lost its lease gives
 * the part up at the check before the irrevocable create; a waiter wakes when another worker's
 * claim lapses; no heartbeat outlives its work. The crash tests do the same across processes.
 */
import { describe, expect, it } from 'vitest';
import { Jobs, type JobItem, type JobsOptions } from '../../src/batching/jobs/index.js';
import { memoryStore } from '../../src/stores/memory.js';
import type { Clock } from '../../src/time/clock.js';
import type { BatchItemResult, Target } from '../../src/target.js';
import { collect } from '../helpers/async.js';
import { frozenView, trackingClock, VirtualClock } from '../helpers/virtual-clock.js';
import { storeBatchProvider } from './fixtures/store-batch-provider.js';

const items = (count: number): JobItem[] => Array.from({ length: count }, (_, index) => ({ id: `item-${index}`, prompt: `q${index}` }));

/** A gate a test opens: `wait()` resolves once `open()` was called. */
function gate() {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { wait: () => opened, open };
}

function setup(options: { holdUploads?: number } = {}) {
  const clock = new VirtualClock();
  const store = memoryStore({ now: () => clock.now() });
  const uploads: ReturnType<typeof gate>[] = [];
  // The first `holdUploads` uploads wait at their gate (the worker is mid-upload) until opened.
  const provider = storeBatchProvider({
    store: memoryStore(),
    afterUpload: () => {
      if (uploads.length >= (options.holdUploads ?? 0)) return;
      const held = gate();
      uploads.push(held);
      return held.wait();
    },
  });
  const target: Target = { id: 'fake:batch', kind: 'batch', modalities: ['text'], batch: provider };
  const worker = (ownerId: string, extra: Partial<JobsOptions> & { clock?: Clock } = {}) =>
    new Jobs({ store, targets: [target], emit: () => {}, runOnline: () => Promise.reject(new Error('not used')), clock, ownerId, leaseMs: 9_000, ...extra });
  const record = async () => {
    const key = (await store.list('jobs:')).find((name) => !name.includes(':', 'jobs:'.length))!;
    return JSON.parse((await store.get(key))!.value) as { id: string; parts: { owner?: string; leaseUntil?: number; state: string; submittedAt?: number }[] };
  };
  /** Lets the work in flight run as far as it goes without time passing. */
  const settle = () => clock.advance(0);
  return { clock, store, provider, uploads, worker, record, settle };
}

describe('claims that heartbeat', () => {
  it('a worker renews its claim every third of the lease while it uploads, so nobody takes the part over', async () => {
    const { clock, provider, uploads, worker, record, settle } = setup({ holdUploads: 1 });
    const a = worker('a');
    const submitting = a.submit(items(10));
    while (uploads.length === 0) await settle();
    const claimedAt = clock.now();
    expect((await record()).parts[0]).toMatchObject({ owner: 'a', state: 'submitting', leaseUntil: claimedAt + 9_000 });
    // Five leases pass while the upload runs: each 3 s beat moves the lease on.
    await clock.advance(45_000);
    expect((await record()).parts[0].leaseUntil).toBe(claimedAt + 45_000 + 9_000);
    const b = worker('b');
    await b.resume();
    expect((await record()).parts[0].owner).toBe('a');
    uploads[0].open();
    const handle = await submitting;
    expect(await provider.created()).toBe(1);
    expect((await handle.get()).parts[0].providerBatchId).toBe('batch_1');
    // The work settled: no heartbeat is left behind.
    expect(clock.pending()).toEqual([]);
  });

  it("a stopped worker's part is taken over one lease after its last beat", async () => {
    const { clock, provider, uploads, worker, record, settle } = setup({ holdUploads: 1 });
    // Its timers never fire: the process was killed mid-upload (the upload never ends either).
    const dead = worker('dead', { clock: frozenView(clock) });
    void dead.submit(items(10)).catch(() => {});
    while (uploads.length === 0) await settle();
    const next = worker('next');
    await clock.advance(8_999);
    await next.resume();
    expect((await record()).parts[0].owner).toBe('dead');
    await clock.advance(1);
    await next.resume();
    expect((await record()).parts[0]).toMatchObject({ owner: 'next', state: 'submitted' });
    expect(await provider.created()).toBe(1);
  });

  it('a worker paused past its lease gives the part up at the check before the create: one provider batch', async () => {
    const { clock, provider, uploads, worker, record, settle } = setup({ holdUploads: 1 });
    // Paused mid-upload: no heartbeat runs while it is stopped.
    const paused = worker('paused', { clock: frozenView(clock) });
    const submitting = paused.submit(items(10));
    while (uploads.length === 0) await settle();
    await clock.advance(9_000);
    const other = worker('other');
    await other.resume();
    expect((await record()).parts[0]).toMatchObject({ owner: 'other', state: 'submitted' });
    expect(await provider.created()).toBe(1);
    // The paused worker wakes and finishes its upload: its claim is gone, so it creates nothing.
    uploads[0].open();
    const handle = await submitting;
    expect(await provider.created()).toBe(1);
    expect((await handle.get()).parts[0].providerBatchId).toBe('batch_1');
    clock.runFreely();
    await other.wait(handle.id, { pollIntervalMs: 1_000 });
    const results = await collect(other.results(handle.id));
    expect(results.map((result) => result.id).sort()).toEqual(items(10).map((item) => item.id).sort());
  });

  it("a waiter wakes when another worker's claim lapses, not a poll interval later", async () => {
    const { clock, uploads, worker, record, settle } = setup({ holdUploads: 1 });
    const dead = worker('dead', { clock: frozenView(clock) });
    void dead.submit(items(4)).catch(() => {});
    while (uploads.length === 0) await settle();
    const lapse = (await record()).parts[0].leaseUntil!;
    clock.runFreely();
    const waiter = worker('waiter');
    const info = await waiter.wait((await record()).id, { pollIntervalMs: 600_000 });
    expect(info.status).toBe('completed');
    // Taken over 1 ms after the lapse, though the first poll interval was 10 min.
    expect((await record()).parts[0].submittedAt).toBe(lapse + 1);
  });

  it('an online part heartbeats while it runs and leaves no timer once it is done', async () => {
    const virtual = new VirtualClock({ auto: true });
    const tracked = trackingClock(virtual);
    const store = memoryStore();
    const target: Target = { id: 'cloud', kind: 'cloud', modalities: ['text'], doGenerate: async () => ({ text: '', finishReason: 'stop' }) };
    const seenLeases: number[] = [];
    let jobs!: Jobs;
    const runOnline = async (_operation: unknown, item: JobItem): Promise<BatchItemResult> => {
      // Each item takes 4 s of (virtual) time: longer than a beat, so the lease is renewed between items.
      await new Promise<void>((resolve) => virtual.setTimeout(resolve, 4_000));
      const [info] = await jobs.list();
      const record = JSON.parse((await store.get(`jobs:${info.id}`))!.value) as { parts: { leaseUntil: number }[] };
      seenLeases.push(record.parts[0].leaseUntil - virtual.now());
      return { customId: item.id, ok: true, text: { text: `a:${item.prompt}`, finishReason: 'stop' } };
    };
    jobs = new Jobs({ store, targets: [target], emit: () => {}, runOnline, clock: tracked.clock, leaseMs: 9_000, onlineConcurrency: 1 });
    const handle = await jobs.submit(items(6));
    const info = await handle.wait({ pollIntervalMs: 60_000 });
    expect(info).toMatchObject({ status: 'completed', counts: { total: 6, completed: 6 } });
    // 24 s of items under a 9 s lease: the claim never lapsed (a renewal at most 3 s ago).
    expect(seenLeases.every((remaining) => remaining > 0)).toBe(true);
    expect(Math.min(...seenLeases)).toBeGreaterThanOrEqual(9_000 - 3_000);
    expect(tracked.pending()).toBe(0);
  });
});
