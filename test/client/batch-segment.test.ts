/**
 * `latency: 'batch'` on ordinary generate/embed calls: a batch-only target serves them through its
 * provider batch endpoint (the real openai client against the local server's Batch API), and the
 * call resolves when the result is in, priced with the batch discount.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClient } from '../../src/index.js';
import { openai } from '../../providers/openai/index.js';
import { expectedEmbedding, startOpenAIServer, type OpenAIServer } from '../servers/openai-compatible.js';

let server: OpenAIServer;
beforeAll(async () => {
  // The batch life cycle follows the clock: validating 20 ms, in progress 40 ms, finalizing 20 ms.
  server = await startOpenAIServer({ batches: { timeline: { validatingMs: 20, inProgressMs: 40, finalizingMs: 20 }, failItems: /POISON/ } });
});
afterAll(() => server.close());

function client() {
  return createClient({
    targets: [
      openai({ id: 'batch', model: 'm', kind: 'batch', baseURL: server.baseURL, apiKey: 'test', embeddingModel: 'e', cost: { inputPerMTok: 1, outputPerMTok: 2 } }),
    ],
    jobs: { pollIntervalMs: 25, maxPollIntervalMs: 50 },
  });
}

describe('the batch segment on a batch endpoint', () => {
  it('generate resolves with the item result once the provider batch completes', async () => {
    const result = await client().generate({ prompt: 'summarise the quarter', latency: 'batch' });
    expect(result.text).toContain('summarise the quarter');
    expect(result.route).toMatchObject({ target: 'batch', segment: 'batch' });
    const creates = server.requests.filter((r) => r.route === '/batches' && r.method === 'POST');
    expect(creates).toHaveLength(1);
    expect((creates[0].body as { endpoint: string }).endpoint).toBe('/v1/chat/completions');
    // Batch price: half of the online price for the same usage.
    const usage = result.usage!;
    const online = (usage.inputTokens! * 1 + usage.outputTokens! * 2) / 1e6;
    expect(result.route.costUsd).toBeCloseTo(online * 0.5, 12);
  });

  it('embed with latency batch sends every input in ONE provider batch, one vector per input in order', async () => {
    server.reset();
    const inputs = ['alpha beta', 'gamma delta', 'epsilon', 'zeta eta theta'];
    const response = await client().embed({ input: inputs, latency: 'batch' });
    expect(response.embeddings).toHaveLength(4);
    inputs.forEach((input, index) => expect(response.embeddings[index]).toEqual(expectedEmbedding(input, response.embeddings[index].length)));
    const creates = server.requests.filter((r) => r.route === '/batches' && r.method === 'POST');
    expect(creates).toHaveLength(1);
    expect((creates[0].body as { endpoint: string }).endpoint).toBe('/v1/embeddings');
    expect(response.usage?.inputTokens).toBeGreaterThan(0);
  });

  it('every generation setting of the call reaches the batch line, and dimensions reach an embedding line', async () => {
    server.reset();
    const batchClient = client();
    await batchClient.generate({ prompt: 'list three colours', latency: 'batch', maxOutputTokens: 50, temperature: 0.2, topP: 0.9, stop: ['\n\n'], seed: 7, providerOptions: { openai: { user: 'u-42' } } });
    await batchClient.embed({ input: ['a', 'b'], latency: 'batch', dimensions: 4 });
    const lines = server.requests
      .filter((r) => r.route === '/batches' && r.method === 'POST')
      .map((r) => server.files.content((r.body as { input_file_id: string }).input_file_id)!.toString('utf8').trim().split('\n').map((line) => JSON.parse(line).body));
    expect(lines[0][0]).toMatchObject({ model: 'm', max_tokens: 50, temperature: 0.2, top_p: 0.9, stop: ['\n\n'], seed: 7, user: 'u-42' });
    expect(lines[1].map((body: { input: string; dimensions: number }) => [body.input, body.dimensions])).toEqual([
      ['a', 4],
      ['b', 4],
    ]);
  });

  it('concurrent batch-latency calls share one provider batch, each with its own answer or error', async () => {
    server.reset();
    const shared = client();
    const prompts = ['alpha report', 'beta report', 'POISON report', 'gamma report', 'delta report'];
    const settled = await Promise.allSettled(prompts.map((prompt) => shared.generate({ prompt, latency: 'batch' })));
    const creates = server.requests.filter((r) => r.route === '/batches' && r.method === 'POST');
    expect(creates).toHaveLength(1);
    expect(server.requests.filter((r) => r.route === '/files' && r.method === 'POST')).toHaveLength(1);
    settled.forEach((outcome, index) => {
      if (prompts[index].startsWith('POISON')) expect(outcome).toMatchObject({ status: 'rejected', reason: { code: 'ALL_TARGETS_FAILED' } });
      else expect(outcome.status === 'fulfilled' && outcome.value.text).toContain(prompts[index]);
    });
    // Calls after the window make a job of their own.
    await shared.generate({ prompt: 'later', latency: 'batch' });
    expect(server.requests.filter((r) => r.route === '/batches' && r.method === 'POST')).toHaveLength(2);
  });

  it('a stream with latency batch runs on the batch endpoint too, one text part when the job is done', async () => {
    server.reset();
    const parts = [];
    for await (const part of client().stream({ prompt: 'stream the quarter', latency: 'batch' })) parts.push(part);
    expect(parts.map((part) => part.type)).toEqual(['text-delta', 'finish']);
    expect((parts[0] as { text: string }).text).toContain('stream the quarter');
    expect(server.requests.filter((r) => r.route === '/batches' && r.method === 'POST')).toHaveLength(1);
    expect(server.requests.filter((r) => r.route === '/chat/completions')).toHaveLength(0);
    // Priced at the batch discount, as it ran.
    const finish = parts[1] as { usage: { inputTokens: number; outputTokens: number }; route: { costUsd: number } };
    expect(finish.route.costUsd).toBeCloseTo(((finish.usage.inputTokens * 1 + finish.usage.outputTokens * 2) / 1e6) * 0.5, 12);
  });

  it('a batch budget too short for a batch endpoint does not wait on one', async () => {
    const error = await client().generate({ prompt: 'soon', latency: 5000 }).catch((e) => e);
    expect(error.code).toBe('NO_ROUTE');
    expect(error.rejections[0]).toMatchObject({ target: 'batch', code: 'latency' });
  });

  it('a call that leaves while its job is still being submitted gets the job cancelled, not left to run and bill', async () => {
    server.reset();
    // The upload takes 150 ms; the caller gives up after 40.
    server.script('/files', { latencyMs: 150 });
    try {
      const shared = createClient({
        targets: [openai({ id: 'batch', model: 'm', kind: 'batch', baseURL: server.baseURL, apiKey: 'test' })],
        jobs: { pollIntervalMs: 25, maxPollIntervalMs: 50, coalesceMs: 0 },
      });
      const controller = new AbortController();
      // Sent at once (no coalescing window): the upload is under way when the caller leaves.
      setTimeout(() => controller.abort(), 40);
      const error = await shared.generate({ prompt: 'never mind', latency: 'batch', abortSignal: controller.signal }).catch((e) => e);
      expect(error.code).toBe('ABORTED');
      // The submission finishes (the job is whole in the store), then the batch is cancelled at once.
      await expect.poll(() => server.requests.filter((r) => r.route === '/batches/:id/cancel' && r.method === 'POST').length, { timeout: 2_000 }).toBe(1);
      const [job] = await shared.jobs.list();
      expect(job.cancelRequested).toBe(true);
      await shared.close();
    } finally {
      server.script('/files', []);
    }
  });

  it('an interactive call is never sent to a batch-only endpoint', async () => {
    const error = await client().generate({ prompt: 'now please', latency: 'interactive' }).catch((e) => e);
    expect(error.code).toBe('NO_ROUTE');
    expect(error.message).toContain('does not serve the interactive segment');
  });
});

describe('a job on a target without a batch endpoint', () => {
  it('runs embedding items online through embed, with their width, and reads them like any job', async () => {
    server.reset();
    const online = createClient({ targets: [openai({ id: 'cloud', model: 'm', baseURL: server.baseURL, apiKey: 'test', embeddingModel: 'e', modalities: ['embedding'] })] });
    const handle = await online.jobs.submit(['one', 'two', 'three'].map((input, index) => ({ id: `e${index}`, input, dimensions: 4 })));
    const info = await handle.wait({ pollIntervalMs: 5 });
    expect(info).toMatchObject({ status: 'completed', mode: 'online', counts: { total: 3, completed: 3, failed: 0 } });
    const results = [];
    for await (const result of handle.results()) results.push(result);
    expect(results.map((result) => [result.id, result.result?.embedding?.length]).sort()).toEqual([
      ['e0', 4],
      ['e1', 4],
      ['e2', 4],
    ]);
    // The online workers' calls go through the micro-batcher, which may share a request.
    const embeddingCalls = server.requests.filter((r) => r.route === '/embeddings').map((r) => r.body as { input: string | string[]; dimensions?: number });
    expect(embeddingCalls.flatMap((body) => body.input).sort()).toEqual(['one', 'three', 'two']);
    expect(embeddingCalls.every((body) => body.dimensions === 4)).toBe(true);
    await online.close();
  });
});
