/**
 * `close()` with calls in flight: they may finish for `graceMs` (a conversation turn writes its
 * answer before the store closes), then end with ABORTED; a stream its caller stopped reading
 * cannot hold `close()`. Real openai client against the local server; the conversation case on a
 * real redis-server, whose store refuses every call once closed.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClient, InferlaneError, memoryStore } from '../../src/index.js';
import { redisStore } from '../../src/stores/redis.js';
import { openai } from '../../providers/openai/index.js';
import { startOpenAIServer, type OpenAIServer } from '../servers/openai-compatible.js';
import { redisAvailable, startRedis, type RunningRedis } from '../helpers/redis.js';

let server: OpenAIServer;
let redis: RunningRedis | undefined;
beforeAll(async () => {
  server = await startOpenAIServer();
  if (redisAvailable()) redis = await startRedis();
});
afterAll(async () => {
  await Promise.all([server.close(), redis?.stop()]);
});

const target = () => openai({ id: 'cloud', model: 'm', baseURL: server.baseURL, apiKey: 'test' });

/** The call's error, observed from the start (it may reject before close() resolves). */
function outcome<T>(promise: Promise<T>): Promise<{ value?: T; error?: InferlaneError }> {
  return promise.then(
    (value) => ({ value }),
    (error: unknown) => {
      expect(InferlaneError.isInstance(error)).toBe(true);
      return { error: error as InferlaneError };
    },
  );
}

describe('close() with calls in flight', () => {
  it('lets a slow call finish within graceMs and resolves after it', async () => {
    server.reset();
    server.script('/chat/completions', { latencyMs: 150 });
    const client = createClient({ targets: [target()] });
    const call = outcome(client.generate({ prompt: 'finish me', latency: 2000 }));
    await new Promise((resolve) => setTimeout(resolve, 20));
    const started = Date.now();
    await client.close();
    const { value, error } = await call;
    expect(error).toBeUndefined();
    expect(value!.text).toContain('finish me');
    // close() waited for it rather than closing under it.
    expect(Date.now() - started).toBeGreaterThanOrEqual(100);
  });

  it.skipIf(!redisAvailable())('lets a conversation turn in flight write its answer before the store closes (Redis)', async () => {
    server.reset();
    server.script('/chat/completions', { latencyMs: 120 });
    const keyPrefix = `close-turn-${Date.now()}:`;
    const client = createClient({ targets: [target()], store: redisStore({ url: redis!.url, keyPrefix }) });
    const turn = outcome(client.conversation('support').send('what is my order status?', { latency: 2000 }));
    const streamed = outcome(
      (async () => {
        let text = '';
        for await (const part of client.conversation('billing').stream('and my invoice?', { latency: 2000 })) if (part.type === 'text-delta') text += part.text;
        return text;
      })(),
    );
    await new Promise((resolve) => setTimeout(resolve, 20));
    await client.close();
    const [sent, stream] = await Promise.all([turn, streamed]);
    // Before, the answer arrived and the write then failed with STORE_ERROR on the closed store.
    expect(sent.error).toBeUndefined();
    expect(stream.error).toBeUndefined();

    const reopened = createClient({ targets: [target()], store: redisStore({ url: redis!.url, keyPrefix }) });
    try {
      const support = await reopened.conversation('support').messages();
      expect(support.map((m) => m.role)).toEqual(['user', 'assistant']);
      expect(support[1].content).toBe(sent.value!.text);
      const billing = await reopened.conversation('billing').messages();
      expect(billing[1].content).toBe(stream.value);
    } finally {
      await reopened.close();
    }
  });

  it('ends a call still running after graceMs with ABORTED, and the server sees its connection close', async () => {
    server.reset();
    server.script('/chat/completions', { hang: true });
    const client = createClient({ targets: [target()], retry: { maxRetries: 0 } });
    const call = outcome(client.generate({ prompt: 'never answered', latency: 'batch' }));
    while (server.requests.length === 0) await new Promise((resolve) => setTimeout(resolve, 5));
    const started = Date.now();
    await client.close({ graceMs: 50 });
    const elapsed = Date.now() - started;
    const { error } = await call;
    expect(error).toMatchObject({ code: 'ABORTED' });
    expect(error!.message).toContain('client closed');
    expect(elapsed).toBeGreaterThanOrEqual(45);
    expect(elapsed).toBeLessThan(1_500);
    await expect.poll(() => server.requests[0].aborted).toBe(true);
  });

  it('is not held by a micro-batched request that hangs (an embed at batch latency): graceMs bounds it too', async () => {
    server.reset();
    server.script('/embeddings', { hang: true });
    const client = createClient({ targets: [openai({ id: 'cloud', model: 'm', embeddingModel: 'e', baseURL: server.baseURL, apiKey: 'test' })], retry: { maxRetries: 0 } });
    const call = outcome(client.embed({ input: ['never embedded'], latency: 'batch' }));
    while (server.requests.length === 0) await new Promise((resolve) => setTimeout(resolve, 5));
    const started = Date.now();
    // Before, close() awaited the micro-batcher's requests in flight before its grace period: forever here.
    const closed = await Promise.race([client.close({ graceMs: 50 }).then(() => 'closed'), new Promise((resolve) => setTimeout(() => resolve('still closing'), 3_000))]);
    expect(closed).toBe('closed');
    expect(Date.now() - started).toBeLessThan(1_500);
    expect((await call).error).toMatchObject({ code: 'ABORTED' });
    await expect.poll(() => server.requests[0].aborted).toBe(true);
  });

  it('is not held by a stream its caller stopped reading; that stream ends with ABORTED on its next read', async () => {
    server.reset();
    server.script('/chat/completions', { stream: { interChunkMs: 30 } });
    const client = createClient({ targets: [target()], store: memoryStore() });
    const iterator = client.stream({ prompt: 'one two three four five six', latency: 2000 })[Symbol.asyncIterator]();
    const first = await iterator.next();
    expect(first.done).toBe(false);
    const started = Date.now();
    await client.close({ graceMs: 50 });
    expect(Date.now() - started).toBeLessThan(2_500);
    const next = await outcome(
      (async () => {
        for (;;) if ((await iterator.next()).done) return;
      })(),
    );
    expect(next.error).toMatchObject({ code: 'ABORTED' });
  });

  it('checks graceMs and returns the same promise when called twice', async () => {
    const client = createClient({ targets: [target()] });
    for (const graceMs of [-1, Number.NaN, '5' as unknown as number]) {
      await expect(client.close({ graceMs })).rejects.toMatchObject({ code: 'INVALID_REQUEST', field: 'graceMs' });
    }
    const firstClose = client.close({ graceMs: 0 });
    expect(client.close()).toBe(firstClose);
    await firstClose;
  });
});
