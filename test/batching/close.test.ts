/**
 * `close()` with batch work under way: a call waiting on a provider batch job rejects at once with
 * ABORTED naming the job, nothing polls afterwards, and the job stays in the store for the next
 * client (the restart) to finish. An online job stops between items and releases its claim, so
 * another worker takes over at once. Real openai client against the local server; the restart case
 * also on a real redis-server, whose store refuses every call after close (so a poll that outlived
 * close would fail with STORE_ERROR, not ABORTED).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClient, type InferlaneClient, InferlaneError, memoryStore, type KeyValueStore } from '../../src/index.js';
import { redisStore } from '../../src/stores/redis.js';
import { openai } from '../../providers/openai/index.js';
import { startOpenAIServer, type OpenAIServer } from '../servers/openai-compatible.js';
import { redisAvailable, startRedis, type RunningRedis } from '../helpers/redis.js';

let server: OpenAIServer;
let redis: RunningRedis | undefined;
beforeAll(async () => {
  // A batch takes about 300 ms: long enough to close while a call waits on it.
  server = await startOpenAIServer({ batches: { timeline: { validatingMs: 20, inProgressMs: 250, finalizingMs: 20 } } });
  if (redisAvailable()) redis = await startRedis();
});
afterAll(async () => {
  await Promise.all([server.close(), redis?.stop()]);
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function batchClient(store: KeyValueStore, coalesceMs = 0): InferlaneClient {
  return createClient({
    targets: [openai({ id: 'batch', model: 'm', kind: 'batch', baseURL: server.baseURL, apiKey: 'test' })],
    store,
    jobs: { pollIntervalMs: 25, maxPollIntervalMs: 25, coalesceMs },
  });
}

const batchCreates = () => server.requests.filter((r) => r.route === '/batches' && r.method === 'POST');
const polls = () => server.requests.filter((r) => r.route === '/batches/:id' && r.method === 'GET').length;

async function rejection(promise: Promise<unknown>): Promise<InferlaneError> {
  const outcome = await promise.then(
    () => undefined,
    (error: unknown) => error,
  );
  expect(InferlaneError.isInstance(outcome)).toBe(true);
  return outcome as InferlaneError;
}

/** The close-while-waiting scenario on `store`; a second client on `reopen()` finishes the job. */
async function closeWhileWaiting(store: KeyValueStore, reopen: () => KeyValueStore) {
  server.reset();
  const first = batchClient(store);
  // Observed from the start: the call may reject before close() resolves.
  const call = rejection(first.generate({ prompt: 'the quarterly summary', latency: 'batch' }));
  // Wait until the provider has the batch and the call is polling it.
  while (polls() === 0) await sleep(5);
  await first.close();
  const error = await call;
  expect(error.code).toBe('ABORTED');
  const jobId = /job (job_\w+)/.exec(error.message)?.[1];
  expect(jobId, error.message).toBeDefined();
  expect(batchCreates()).toHaveLength(1);

  // Nothing polls once close() has returned (three poll intervals).
  const pollsAtClose = polls();
  await sleep(90);
  expect(polls()).toBe(pollsAtClose);

  // The restart: a new client on the same store finds the job and reads the answer.
  const second = batchClient(reopen());
  try {
    const found = await second.jobs.get(jobId!);
    expect(found).toMatchObject({ id: jobId, target: 'batch', mode: 'batch', counts: { total: 1 } });
    const done = await second.jobs.wait(jobId!, { pollIntervalMs: 25, maxPollIntervalMs: 25 });
    expect(done.status).toBe('completed');
    const results = [];
    for await (const result of second.jobs.results(jobId!)) results.push(result);
    expect(results).toHaveLength(1);
    expect(results[0]).toMatchObject({ ok: true });
    expect(results[0].result?.text).toContain('the quarterly summary');
    // Still the one provider batch: the job was not submitted again.
    expect(batchCreates()).toHaveLength(1);
  } finally {
    await second.close();
  }
}

describe('close() while batch-latency calls wait', () => {
  it('rejects a call waiting on a provider batch with ABORTED naming the job; the job stays in the store and finishes after a restart', async () => {
    const store = memoryStore();
    await closeWhileWaiting(store, () => store);
  });

  it.skipIf(!redisAvailable())('does the same on Redis, whose store refuses calls after close: no poll outlives close()', async () => {
    await closeWhileWaiting(redisStore({ url: redis!.url, keyPrefix: 'close-test:' }), () => redisStore({ url: redis!.url, keyPrefix: 'close-test:' }));
  });

  it('sends a job still gathering in the coalescing window, then ends its calls naming it', async () => {
    server.reset();
    const store = memoryStore();
    const client = batchClient(store, 60_000);
    const calls = [rejection(client.generate({ prompt: 'first', latency: 'batch' })), rejection(client.generate({ prompt: 'second', latency: 'batch' }))];
    // Both calls sit in the 60 s window: nothing has reached the provider yet.
    await sleep(20);
    expect(batchCreates()).toHaveLength(0);
    await client.close();
    const errors = await Promise.all(calls);
    expect(errors.map((e) => e.code)).toEqual(['ABORTED', 'ABORTED']);
    const jobIds = errors.map((e) => /job (job_\w+)/.exec(e.message)?.[1]);
    expect(jobIds[0]).toBeDefined();
    expect(jobIds[1]).toBe(jobIds[0]);
    expect(batchCreates()).toHaveLength(1);
    const reopened = batchClient(store);
    try {
      expect(await reopened.jobs.get(jobIds[0]!)).toMatchObject({ counts: { total: 2 } });
    } finally {
      await reopened.close();
    }
  });

  it('is not held by a job submission that hangs at the provider (the upload never answers)', async () => {
    server.reset();
    server.script('/files', { hang: true });
    const store = memoryStore();
    try {
      const client = batchClient(store);
      const call = rejection(client.generate({ prompt: 'stuck upload', latency: 'batch' }));
      while (!server.requests.some((r) => r.route === '/files')) await sleep(5);
      const started = Date.now();
      const closed = await Promise.race([client.close({ graceMs: 50 }).then(() => 'closed'), sleep(4_000).then(() => 'still closing')]);
      expect(closed).toBe('closed');
      expect(Date.now() - started).toBeLessThan(2_000);
      expect((await call).code).toBe('ABORTED');
      // The upload was stopped once the grace ran out.
      await expect.poll(() => server.requests.find((r) => r.route === '/files')!.aborted).toBe(true);
    } finally {
      server.script('/files', []);
    }
    // The job was saved before its upload: after the restart, resume() submits it and it runs.
    const restarted = batchClient(store);
    try {
      const [saved] = await restarted.jobs.list();
      expect(saved).toMatchObject({ target: 'batch', counts: { total: 1 } });
      await restarted.jobs.resume();
      const done = await restarted.jobs.wait(saved.id, { pollIntervalMs: 25, maxPollIntervalMs: 25 });
      expect(done.status).toBe('completed');
      const results = [];
      for await (const result of restarted.jobs.results(saved.id)) results.push(result);
      expect(results.map((result) => result.result?.text)).toEqual([expect.stringContaining('stuck upload')]);
    } finally {
      await restarted.close();
    }
  });

  it('refuses jobs calls after close, naming the field, on a jobs API made before or after it', async () => {
    const before = batchClient(memoryStore());
    const jobs = before.jobs;
    await before.close();
    for (const attempt of [() => jobs.get('job_x'), () => jobs.list(), () => jobs.resume(), () => jobs.cancel('job_x'), () => jobs.submit([{ id: 'a', messages: [{ role: 'user', content: 'x' }] }])]) {
      expect(await rejection(attempt())).toMatchObject({ code: 'INVALID_REQUEST', field: 'jobs' });
    }
    expect(await rejection(jobs.wait('job_x'))).toMatchObject({ code: 'ABORTED' });
    const after = batchClient(memoryStore());
    await after.close();
    expect(await rejection(after.jobs.list())).toMatchObject({ code: 'INVALID_REQUEST', field: 'jobs' });
    expect(await rejection(after.generate({ prompt: 'x', latency: 'batch' }))).toMatchObject({ code: 'INVALID_REQUEST', field: 'client' });
  });
});

describe('close() while an online job runs', () => {
  it('stops between items and releases the claim; a second worker finishes the job with every item answered once', async () => {
    server.reset();
    // Each online item takes 30 ms: 40 items at concurrency 2 take about 600 ms.
    server.script('/chat/completions', () => ({ latencyMs: 30 }));
    const store = memoryStore();
    const onlineClient = () =>
      createClient({ targets: [openai({ id: 'online', model: 'm', baseURL: server.baseURL, apiKey: 'test' })], store, jobs: { onlineConcurrency: 2 } });
    const first = onlineClient();
    const items = Array.from({ length: 40 }, (_, i) => ({ id: `item-${i}`, messages: [{ role: 'user' as const, content: `online item ${i}` }] }));
    const handle = await first.jobs.submit(items);
    while (server.requests.filter((r) => r.route === '/chat/completions').length < 6) await sleep(5);
    await first.close();
    const sentAtClose = server.requests.filter((r) => r.route === '/chat/completions').length;
    await sleep(80);
    // The runner stopped: nothing more reached the server after close() returned.
    expect(server.requests.filter((r) => r.route === '/chat/completions').length).toBe(sentAtClose);

    const second = onlineClient();
    try {
      const stopped = await second.jobs.get(handle.id);
      expect(stopped.status).not.toBe('cancelled');
      expect(stopped.counts.completed).toBeGreaterThan(0);
      expect(stopped.counts.completed).toBeLessThan(40);
      // Released, not held for the 10-minute lease: a worker with another owner id resumes at once.
      await second.jobs.resume();
      const done = await second.jobs.wait(handle.id, { pollIntervalMs: 20 });
      expect(done).toMatchObject({ status: 'completed', counts: { total: 40, completed: 40, failed: 0 } });
      const ids: string[] = [];
      for await (const result of second.jobs.results(handle.id)) {
        expect(result.ok).toBe(true);
        ids.push(result.id);
      }
      expect(ids.sort()).toEqual(items.map((item) => item.id).sort());
    } finally {
      await second.close();
      server.script('/chat/completions', []);
    }
  });
});
