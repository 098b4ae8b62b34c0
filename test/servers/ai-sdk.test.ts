import { createOpenAI } from '@ai-sdk/openai';
import { embedMany, generateText, streamText } from 'ai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectedEmbedding, startOpenAIServer, type OpenAIServer } from './openai-compatible.js';

// Benchmarks drive the server through the AI SDK too: its chat and embedding models must
// parse our JSON, SSE and usage (including cached tokens) without help.
let server: OpenAIServer;
let provider: ReturnType<typeof createOpenAI>;

beforeAll(async () => {
  server = await startOpenAIServer({ timing: { firstTokenBaseMs: 1 } });
  provider = createOpenAI({ baseURL: server.baseURL, apiKey: 'sk-test' });
});
afterAll(() => server.close());

describe('ai@6 with @ai-sdk/openai@3', () => {
  it('generates text and reports cached input tokens', async () => {
    const system = Array.from({ length: 1500 }, (_, index) => `s${index % 50}`).join(' ');
    const ask = () => generateText({ model: provider.chat('gpt-4.1-mini'), system, prompt: 'what now', maxRetries: 0 });
    await ask();
    const warm = await ask();
    expect(warm.text).toBe('echo: what now');
    expect(warm.usage.cachedInputTokens).toBeGreaterThanOrEqual(1024);
  });

  it('streams text deltas and usage', async () => {
    const result = streamText({ model: provider.chat('gpt-4.1-mini'), prompt: 'one two three', maxRetries: 0 });
    const parts: string[] = [];
    for await (const delta of result.textStream) parts.push(delta);
    expect(parts.join('')).toBe('echo: one two three');
    expect(parts.length).toBeGreaterThan(1);
    expect((await result.usage).outputTokens).toBe(Math.ceil('echo: one two three'.length / 4));
    expect(server.requests.at(-1)!.body).toMatchObject({ stream: true, stream_options: { include_usage: true } });
  });

  it('embeds many values in one request', async () => {
    const values = ['alpha', 'beta gamma'];
    const { embeddings } = await embedMany({ model: provider.embedding('text-embedding-3-small'), values, maxRetries: 0 });
    expect(embeddings).toEqual(values.map((value) => expectedEmbedding(value, 8)));
  });
});
