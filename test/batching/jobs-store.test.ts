/**
 * What the job store writes: the input hash (SHA-256 where Web Crypto is there, FNV-1a where it
 * is not, named by its prefix), the caller ids kept apart from the items (a results reader reads
 * only those), and jobs saved before the ids were kept apart, which still read.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Jobs, type JobItem } from '../../src/batching/jobs/index.js';
import { memoryStore } from '../../src/stores/memory.js';
import type { KeyValueStore } from '../../src/stores/store.js';
import type { Target } from '../../src/target.js';
import { collect } from '../helpers/async.js';
import { VirtualClock } from '../helpers/virtual-clock.js';
import { storeBatchProvider } from './fixtures/store-batch-provider.js';

const items = (count: number, word = 'q'): JobItem[] => Array.from({ length: count }, (_, index) => ({ id: `item-${index}`, prompt: `${word}${index}` }));

function setup() {
  const store = memoryStore();
  const target: Target = { id: 'fake:batch', kind: 'batch', modalities: ['text'], batch: storeBatchProvider({ store: memoryStore() }) };
  const jobs = new Jobs({ store, targets: [target], emit: () => {}, runOnline: () => Promise.reject(new Error('x')), clock: new VirtualClock({ auto: true }), chunkSize: 10 });
  const record = async (store: KeyValueStore, id: string) => JSON.parse((await store.get(`jobs:${id}`))!.value) as { inputHash: string; idChunks?: true };
  return { store, jobs, record };
}

afterEach(() => vi.unstubAllGlobals());

describe('the job store', () => {
  // Web Crypto is missing in an insecure browser page: the pure fallback serves there.
  it.each([
    ['SHA-256 where Web Crypto is there', true, /^sha256:[0-9a-f]{64}$/],
    ['FNV-1a where it is not', false, /^fnv1a64:[0-9a-f]{16}$/],
  ])('hashes the stored items with %s: equal input, equal hash; other input, another', async (_name, webCrypto, format) => {
    if (!webCrypto) vi.stubGlobal('crypto', undefined);
    const { store, jobs, record } = setup();
    const [one, two, other] = [await jobs.submit(items(35)), await jobs.submit(items(35)), await jobs.submit(items(35, 'x'))];
    const [a, b, c] = [await record(store, one.id), await record(store, two.id), await record(store, other.id)];
    expect(a.inputHash).toMatch(format);
    expect(b.inputHash).toBe(a.inputHash);
    expect(c.inputHash).not.toBe(a.inputHash);
  });

  it('keeps the caller ids apart, chunked like the items, and results read them', async () => {
    const { store, jobs, record } = setup();
    const handle = await jobs.submit(items(35));
    expect((await record(store, handle.id)).idChunks).toBe(true);
    const ids = await store.range(`jobs:${handle.id}:ids`, 0);
    expect(ids.map((chunk) => (JSON.parse(chunk) as string[]).length)).toEqual([10, 10, 10, 5]);
    await handle.wait({ pollIntervalMs: 1_000 });
    // Only the ids are needed to name the results: with the items gone, they still read.
    await store.delete(`jobs:${handle.id}:items`);
    expect((await collect(handle.results())).map((result) => result.id).sort()).toEqual(items(35).map((item) => item.id).sort());
  });

  it('a job saved before ids were kept apart reads its ids from its items', async () => {
    const { store, jobs } = setup();
    const handle = await jobs.submit(items(12));
    await handle.wait({ pollIntervalMs: 1_000 });
    const key = `jobs:${handle.id}`;
    const saved = JSON.parse((await store.get(key))!.value);
    delete saved.idChunks;
    await store.set(key, JSON.stringify(saved));
    await store.delete(`jobs:${handle.id}:ids`);
    const results = await collect(handle.results());
    expect(results.map((result) => [result.id, result.result?.text]).sort()).toEqual(items(12).map((item) => [item.id, `echo:${item.prompt}`]).sort());
  });
});
