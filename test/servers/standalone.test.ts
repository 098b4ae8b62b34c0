import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectedEmbedding, startOpenAIServer } from './openai-compatible.js';
import { optionsFor, spawnServer, type SpawnedServer } from './standalone.js';

describe('spawnServer: the server in its own process', () => {
  let child: SpawnedServer;
  beforeAll(async () => {
    child = await spawnServer({ options: { seed: 3, embeddingDimensions: 4 } });
  });
  afterAll(() => child.close());

  it('serves the real client from another process, with JSON options applied', async () => {
    expect(child.pid).not.toBe(process.pid);
    expect(child.baseURL).toBe(`${child.url}/v1`);
    const client = new OpenAI({ baseURL: child.baseURL, apiKey: 'sk-test', maxRetries: 0 });
    const result = await client.embeddings.create({ model: 'text-embedding-3-small', input: 'far away' });
    expect(result.data[0].embedding).toEqual(expectedEmbedding('far away', 4));
    const recorded = await child.requests();
    expect(recorded.map((request) => request.route)).toEqual(['/embeddings']);
  });

  it('is scripted and reset through its control routes', async () => {
    await child.reset();
    await child.script('/chat/completions', { status: 503, retryAfterMs: 10 });
    const client = new OpenAI({ baseURL: child.baseURL, apiKey: 'sk-test', maxRetries: 0 });
    const error = await client.chat.completions.create({ model: 'gpt-4.1-mini', messages: [{ role: 'user', content: 'x' }] }).catch((caught: unknown) => caught);
    expect((error as { status?: number }).status).toBe(503);
    const ok = await client.chat.completions.create({ model: 'gpt-4.1-mini', messages: [{ role: 'user', content: 'again' }] });
    expect(ok.choices[0].message.content).toBe('echo: again');
    expect((await child.requests()).map((request) => request.status)).toEqual([503, 200]);
  });

  it('exits when closed', async () => {
    const other = await spawnServer({ profile: 'bench' });
    await other.close();
    expect(() => process.kill(other.pid, 0)).toThrow();
    await expect(fetch(`${other.url}/v1/models`)).rejects.toThrow();
  });
});

describe('profiles', () => {
  it('rejects an unknown profile and maps JSON batch options', () => {
    expect(() => optionsFor('nope')).toThrow(/unknown profile/);
    const options = optionsFor('bench', { batches: { failItemsPattern: '^bad' } });
    expect(options.recordRequests).toBe(false);
    expect((options.batches?.failItems as RegExp).test('bad-1')).toBe(true);
  });
});

describe('extension hooks', () => {
  it('lets extra routes answer first, with recording and scripted faults applied', async () => {
    const server = await startOpenAIServer();
    try {
      server.addRoutes((request, _response, body, context) => {
        if (request.method !== 'POST' || !context.path.startsWith('/models/')) return false;
        context.sendJson(200, [{ label: 'echo', score: 1, input: (body as { inputs: string }).inputs }]);
        return true;
      });
      const answer = await fetch(`${server.url}/models/some/model`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ inputs: 'hi' }) });
      expect(await answer.json()).toEqual([{ label: 'echo', score: 1, input: 'hi' }]);
      server.script('/models/some/model', { status: 429, retryAfterMs: 2000 });
      const limited = await fetch(`${server.url}/models/some/model`, { method: 'POST', body: '{}' });
      expect(limited.status).toBe(429);
      expect(limited.headers.get('retry-after')).toBe('2');
      await limited.arrayBuffer();
      expect(server.requests.map((request) => [request.route, request.status])).toEqual([
        ['/models/some/model', 200],
        ['/models/some/model', 429],
      ]);
    } finally {
      await server.close();
    }
  });

  it('lets extra routes stream server-sent events with the shared stream faults', async () => {
    const server = await startOpenAIServer();
    try {
      server.addRoutes(async (request, _response, _body, context) => {
        if (context.path !== '/hf/stream') return false;
        await context.sendEventStream([{ token: 'a' }, { token: 'b' }, { token: 'c' }], { done: false });
        return true;
      });
      const read = async (script?: string) => {
        const response = await fetch(`${server.url}/hf/stream`, { method: 'POST', headers: script ? { 'x-test-script': script } : {} });
        return response.text();
      };
      expect(await read()).toBe('data: {"token":"a"}\n\ndata: {"token":"b"}\n\ndata: {"token":"c"}\n\n');
      expect(await read('truncate')).toBe('data: {"token":"a"}\n\ndata: {"token":"b"}\n\n');
    } finally {
      await server.close();
    }
  });

  it('refuses a wrong API key with a 401 and never echoes the key back', async () => {
    const server = await startOpenAIServer({ apiKey: 'sk-right-key-000000' });
    try {
      const wrong = new OpenAI({ baseURL: server.baseURL, apiKey: 'sk-wrong-key-111111', maxRetries: 0 });
      const error = await wrong.models.list().catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(OpenAI.AuthenticationError);
      expect(JSON.stringify((error as { error?: unknown }).error)).not.toContain('sk-wrong-key');
      const right = new OpenAI({ baseURL: server.baseURL, apiKey: 'sk-right-key-000000', maxRetries: 0 });
      expect((await right.models.list()).data.length).toBeGreaterThan(0);
    } finally {
      await server.close();
    }
  });
});
