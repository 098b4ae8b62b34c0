/**
 * Micro-batching end to end: `client.embed` through the real `openai` client and our OpenAI
 * adapter against the local OpenAI-compatible server (per-request cost model, concurrency limit).
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createClient, type InferlaneClient } from '../../src/index.js';
import type { BatchFlushEvent } from '../../src/batching/micro-batcher.types.js';
import type { MicroBatchSettings } from '../../src/target.js';
import { openai } from '../../providers/openai/index.js';
import { expectedEmbedding, startOpenAIServer, type OpenAIServer } from '../servers/openai-compatible.js';

let server: OpenAIServer;

beforeAll(async () => {
  server = await startOpenAIServer({ seed: 11, embeddingCost: { perRequestMs: 2, perInputMs: 0.01 }, maxConcurrent: 8 });
});
afterAll(async () => {
  await server.close();
});
afterEach(() => {
  server.reset();
});

function clientWith(microBatch: MicroBatchSettings): { client: InferlaneClient; flushes: BatchFlushEvent[] } {
  const client = createClient({
    runtime: 'server',
    targets: [openai({ id: 'embedder', model: 'text-embedding-3-small', baseURL: server.baseURL, apiKey: 'test', expected: { totalMs: 20 }, microBatch })],
  });
  const flushes: BatchFlushEvent[] = [];
  client.on('batch-flush', (event) => flushes.push(event));
  return { client, flushes };
}

/**
 * A generous budget: these tests pin how calls are grouped, not speed, and a loaded CI machine
 * can take seconds to push 1,000 calls through the client. (Over 2 s is the batch segment; a
 * target without a batch endpoint still serves it online, through the micro-batcher.)
 */
const budgetMs = 30_000;

const embeddingRequests = () => server.requests.filter((request) => request.route === '/embeddings');

describe('micro-batching through the real openai client', () => {
  it('sends 1,000 concurrent single-text embed calls as at most ceil(1000/512) + 2 requests, each caller getting its own vector', async () => {
    const maxBatchSize = 512;
    const { client, flushes } = clientWith({ maxBatchSize, maxWaitMs: 5 });
    const texts = Array.from({ length: 1_000 }, (_, index) => `caller ${index} asks about ${['rivers', 'mountains', 'cities', 'forests'][index % 4]} ${index * 7}`);
    const results = await Promise.all(texts.map((text) => client.embed({ input: text, latency: budgetMs })));

    const requests = embeddingRequests();
    expect(requests.length).toBeLessThanOrEqual(Math.ceil(1_000 / maxBatchSize) + 2);
    expect(requests.length).toBe(flushes.length);
    const sent = requests.flatMap((request) => (request.body as { input: string[] }).input);
    expect(sent).toHaveLength(1_000);
    expect(new Set(sent)).toEqual(new Set(texts));
    results.forEach((result, index) => {
      // The server's vector is a function of the text: a caller handed someone else's vector fails here.
      expect(result.embedding).toEqual(expectedEmbedding(texts[index]));
      expect(result.route.target).toBe('embedder');
      expect(result.route.batched?.size).toBeGreaterThan(1);
    });
  });

  it('fails only the caller whose input the server rejects with a 400; the other callers get their vectors', async () => {
    server.script('/embeddings', (request) => {
      const input = (request.body as { input?: unknown }).input;
      return Array.isArray(input) && input.includes('poisoned input') ? { status: 400, message: 'this input is not allowed' } : undefined;
    });
    const { client } = clientWith({ maxBatchSize: 64, maxWaitMs: 5 });
    const texts = Array.from({ length: 16 }, (_, index) => (index === 5 ? 'poisoned input' : `healthy input ${index}`));
    const outcomes = await Promise.allSettled(texts.map((text) => client.embed({ input: text, latency: budgetMs })));
    outcomes.forEach((outcome, index) => {
      if (index === 5) {
        expect(outcome.status).toBe('rejected');
        expect(JSON.stringify((outcome as PromiseRejectedResult).reason)).toContain('400');
      } else {
        if (outcome.status === 'rejected') throw outcome.reason;
        expect((outcome as PromiseFulfilledResult<{ embedding: number[] }>).value.embedding).toEqual(expectedEmbedding(texts[index]));
      }
    });
    // One batch of 16, then bisection down the poisoned path: at most 1 + 2 x log2(16) requests.
    expect(embeddingRequests().length).toBeLessThanOrEqual(1 + 2 * 4);
  });

  it('with batching off (maxBatchSize 1), sends one request per call', async () => {
    const { client } = clientWith({ maxBatchSize: 1, maxQueue: 1_000 });
    const texts = Array.from({ length: 50 }, (_, index) => `alone ${index}`);
    const results = await Promise.all(texts.map((text) => client.embed({ input: text, latency: budgetMs })));
    expect(embeddingRequests()).toHaveLength(50);
    results.forEach((result, index) => expect(result.embedding).toEqual(expectedEmbedding(texts[index])));
  });
});
