/**
 * Jobs through the real openai adapter (`openai({ kind: 'batch' })`) and the real openai client,
 * against the local OpenAI-compatible server's /v1/files and /v1/batches routes.
 * The server's batches move only when `advanceBatches()` is called: the jobs' injected sleep
 * calls it, so every poll sees the next stage and nothing waits on a wall clock.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openai } from '../../providers/openai/index.js';
import { Jobs, type JobItem } from '../../src/batching/jobs/index.js';
import { pollingClock as pollClock } from '../helpers/virtual-clock.js';
import { memoryStore } from '../../src/stores/memory.js';
import type { BatchItemResult, Target } from '../../src/target.js';
import { startOpenAIServer, type OpenAIServer } from '../servers/openai-compatible.js';
import { collect } from '../helpers/async.js';
import { main } from '../../src/cli.js';

let server: OpenAIServer;

beforeAll(async () => {
  server = await startOpenAIServer({ seed: 3, batches: { failItems: /FAIL/ }, recordRequests: true });
});
afterAll(async () => {
  await server?.close();
});

function makeJobs(targets: Target[], runOnline?: ConstructorParameters<typeof Jobs>[0]['runOnline'], online = false): Jobs {
  let seed = 11;
  let polls = 0;
  return new Jobs({
    store: memoryStore(),
    targets,
    emit: () => {},
    runOnline: runOnline ?? (async () => {
      throw new Error('online path not expected');
    }),
    random: () => ((seed = (seed * 16807) % 2147483647) / 2147483647),
    clock: pollClock(() => {
      // A stuck job must fail the test, not spin.
      if (++polls > 200) throw new Error('the job did not finish within 200 polls');
      server.advanceBatches();
    }, online),
  });
}

const batchTarget = () => openai({ model: 'gpt-4.1-mini', kind: 'batch', baseURL: server.baseURL, apiKey: 'sk-test-batch-key-000' });
const items = (count: number, content = (index: number) => `question ${index}`): JobItem[] =>
  Array.from({ length: count }, (_, index) => ({ id: `caller-${index}`, prompt: content(index) }));
const batchCreates = () => server.requests.filter((request) => request.method === 'POST' && request.path === '/v1/batches').length;


describe('Jobs over the openai adapter and the local Batch API', () => {
  it('a 120,000-item job becomes 3 provider batches and every result finds its caller id', async () => {
    const before = batchCreates();
    const jobs = makeJobs([batchTarget()]);
    const handle = await jobs.submit(items(120_000));
    expect(batchCreates() - before).toBe(3);
    const creates = server.requests.filter((request) => request.method === 'POST' && request.path === '/v1/batches').slice(-3);
    expect(creates.map((request) => (request.body as { metadata: Record<string, string> }).metadata)).toEqual([0, 1, 2].map((part) => ({ inferlane_job_id: handle.id, inferlane_part: String(part) })));
    const info = await handle.wait({ pollIntervalMs: 1 });
    expect(info).toMatchObject({ status: 'completed', counts: { total: 120_000, completed: 120_000, failed: 0 } });
    expect(info.parts.map((part) => part.items)).toEqual([45_000, 45_000, 30_000]);
    const seen = new Set<string>();
    let checked = 0;
    for await (const result of handle.results()) {
      expect(seen.has(result.id)).toBe(false);
      seen.add(result.id);
      expect(result.ok).toBe(true);
      // The server echoes the user message: the answer belongs to this id, not to a neighbour.
      const index = Number(result.id.slice('caller-'.length));
      if (index % 997 === 0) {
        expect(result.result!.text).toContain(`question ${index}`);
        expect(result.result!.text).not.toContain(`question ${index}0`);
        checked++;
      }
    }
    expect(seen.size).toBe(120_000);
    expect(checked).toBe(121);
  }, 120_000);

  it('failed lines come back as per-item errors from the error file', async () => {
    const jobs = makeJobs([batchTarget()]);
    const handle = await jobs.submit(items(30, (index) => (index % 7 === 2 ? `FAIL ${index}` : `question ${index}`)));
    const info = await handle.wait({ pollIntervalMs: 1 });
    expect(info.counts).toEqual({ total: 30, completed: 26, failed: 4 });
    const results = await collect(handle.results());
    expect(results).toHaveLength(30);
    expect(results.filter((result) => !result.ok).map((result) => result.id).sort()).toEqual(['caller-16', 'caller-2', 'caller-23', 'caller-9']);
    expect(results.filter((result) => !result.ok).every((result) => typeof result.error!.code === 'string')).toBe(true);
  });

  it('an expired batch gives expired errors for the items it did not run', async () => {
    const jobs = makeJobs([batchTarget()]);
    const handle = await jobs.submit(items(20));
    server.expireBatches((await handle.get()).parts[0].providerBatchId);
    const info = await handle.wait({ pollIntervalMs: 1 });
    expect(info.status).toBe('expired');
    const results = await collect(handle.results());
    expect(new Set(results.map((result) => result.id)).size).toBe(20);
    const failed = results.filter((result) => !result.ok);
    expect(failed.length).toBe(20 - info.counts.completed);
    expect(failed.length).toBeGreaterThan(0);
  });

  it('cancel cancels the provider batch; no item is lost', async () => {
    const jobs = makeJobs([batchTarget()]);
    const handle = await jobs.submit(items(20));
    await handle.cancel();
    const info = await handle.wait({ pollIntervalMs: 1 });
    expect(info.status).toBe('cancelled');
    expect(server.requests.some((request) => request.method === 'POST' && /\/v1\/batches\/[^/]+\/cancel$/.test(request.path))).toBe(true);
    const results = await collect(handle.results());
    expect(results).toHaveLength(20);
    expect(results.filter((result) => !result.ok).every((result) => ['cancelled', 'batch_cancelled'].includes(result.error!.code) || result.error!.code.length > 0)).toBe(true);
  });

  it('a refused upload: submit rejects naming the saved job, resume() submits it later, and no item is lost', async () => {
    const jobs = makeJobs([batchTarget()]);
    const before = batchCreates();
    server.script('/files', { status: 500, times: 1 });
    const error = await jobs.submit(items(6)).then(
      () => undefined,
      (thrown: { code?: string; message: string }) => thrown,
    );
    expect(error).toMatchObject({ code: 'JOB_ERROR' });
    expect(error!.message).toContain('jobs.resume() retries it');
    expect(error!.message).not.toContain('sk-test-batch-key-000');
    // The job was written before the provider was called: it is there, queued, with nothing sent.
    const [saved] = await jobs.list();
    expect(saved).toMatchObject({ status: 'queued', counts: { total: 6 } });
    expect(error!.message).toContain(saved.id);
    expect(batchCreates()).toBe(before);
    // The provider is back: resume() submits the part (once) and the job completes.
    const [handle] = await jobs.resume();
    expect(handle.id).toBe(saved.id);
    expect(batchCreates() - before).toBe(1);
    const info = await handle.wait({ pollIntervalMs: 1 });
    expect(info).toMatchObject({ status: 'completed', counts: { total: 6, completed: 6, failed: 0 } });
    const results = await collect(handle.results());
    expect(results.map((result) => result.id).sort()).toEqual(items(6).map((item) => item.id).sort());
  });

  it('without a batch endpoint the job runs online through the target and reads the same way', async () => {
    const cloud = openai({ model: 'gpt-4.1-mini', baseURL: server.baseURL, apiKey: 'sk-test-online-key-00' });
    expect(cloud.batch).toBeUndefined();
    const jobs = makeJobs([cloud], async (operation, item, targetId, signal): Promise<BatchItemResult> => {
      // One signal per request, as the client's executor gives: openai-node never removes the
      // abort listener it adds to a request's signal.
      const request = new AbortController();
      const stop = () => request.abort(signal.reason);
      signal.addEventListener('abort', stop, { once: true });
      try {
        const text = await cloud.doGenerate!({ messages: [{ role: 'user', content: item.prompt! }] }, { signal: request.signal, deadline: Date.now() + 10_000, segment: 'batch', emit: () => {} });
        return { customId: item.id, ok: true, text, usage: text.usage };
      } finally {
        signal.removeEventListener('abort', stop);
      }
    }, true);
    const before = server.requests.filter((request) => request.path === '/v1/chat/completions').length;
    const handle = await jobs.submit(items(12));
    const info = await handle.wait({ pollIntervalMs: 1 });
    expect(info).toMatchObject({ status: 'completed', mode: 'online', counts: { total: 12, completed: 12, failed: 0 } });
    expect(server.requests.filter((request) => request.path === '/v1/chat/completions').length - before).toBe(12);
    const results = await collect(handle.results());
    expect(results.map((result) => result.id).sort()).toEqual(items(12).map((item) => item.id).sort());
    expect(results.find((result) => result.id === 'caller-4')!.result!.text).toContain('question 4');
  });

  it('the jobs CLI prints a provider batch job\'s per-item results through the Batch API, and never the key', async () => {
    const store = memoryStore();
    const target = batchTarget();
    const jobs = new Jobs({ store, targets: [target], emit: () => {}, runOnline: async () => Promise.reject(new Error('online path not expected')), clock: pollClock(() => server.advanceBatches()) });
    const handle = await jobs.submit(items(12, (index) => (index === 5 ? `FAIL ${index}` : `question ${index}`)));
    await handle.wait({ pollIntervalMs: 1 });
    const out: string[] = [];
    const err: string[] = [];
    const io = { out: (line: string) => out.push(line), err: (line: string) => err.push(line), isTty: false };
    const saved = { key: process.env.OPENAI_API_KEY, url: process.env.OPENAI_BASE_URL };
    delete process.env.OPENAI_BASE_URL;
    try {
      // Without a provider to ask, the CLI says how to give it one.
      delete process.env.OPENAI_API_KEY;
      expect(await main(['jobs', 'results', handle.id], io, store)).toBe(0);
      expect(out.at(-1)).toContain('--openai-base-url');
      out.length = 0;
      const key = 'sk-test-cli-reader-4242';
      process.env.OPENAI_API_KEY = key;
      const before = server.requests.length;
      expect(await main(['jobs', 'results', handle.id, '--openai-base-url', server.baseURL], io, store)).toBe(0);
      const results = out.filter((line) => line.startsWith('{')).map((line) => JSON.parse(line) as { id: string; ok: boolean; result?: { text: string } });
      expect(results.map((result) => result.id).sort()).toEqual(items(12).map((item) => item.id).sort());
      expect(results.find((result) => result.id === 'caller-5')!.ok).toBe(false);
      expect(results.find((result) => result.id === 'caller-3')!.result!.text).toContain('question 3');
      // It read the output files from the provider, with the key from the environment.
      const reads = server.requests.slice(before).filter((request) => request.path.startsWith('/v1/files/'));
      expect(reads.length).toBeGreaterThan(0);
      expect(reads.every((request) => request.headers.authorization === `Bearer ${key}`)).toBe(true);
      expect([...out, ...err].join('\n')).not.toContain(key);
      // Reading from the CLI does not move the worker's cursor.
      expect(await collect(handle.results())).toHaveLength(12);
    } finally {
      if (saved.key === undefined) delete process.env.OPENAI_API_KEY;
      else process.env.OPENAI_API_KEY = saved.key;
      if (saved.url !== undefined) process.env.OPENAI_BASE_URL = saved.url;
    }
  });
});
