/**
 * Issue 23, OpenAI wire conformance: what OpenAI's published spec says the adapter must send and
 * read, item by item, through the real `openai` client against the local server. Requests the
 * spec refuses fail before sending (InvalidRequestError naming the field, and no request made);
 * answers are read as the spec writes them (cache writes, refusals, base64 vectors, a failed
 * batch's reasons, foreign error bodies, a stream answered with JSON, the service tier and
 * reasoning tokens). The schema check of every body sent is openai-spec.test.ts.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { openai, type OpenAISettings } from '../../providers/openai/index.js';
import { createClient } from '../../src/index.js';
import type { BatchContext, BatchItem, CallContext, StreamPart, TextCall } from '../../src/target.js';
import { expectedEmbedding, startOpenAIServer, type OpenAIServer } from '../servers/openai-compatible.js';
import { collect, failure, partsBeforeFailure } from '../helpers/async.js';

let server: OpenAIServer;
const apiKey = 'sk-wire-0123456789abcdefSECRET';

beforeAll(async () => {
  // Batch lines naming custom_id 'reject-me' fail the batch's validation, as a malformed line would.
  server = await startOpenAIServer({ seed: 23, batches: { rejectLines: /"custom_id":"reject-me"/ } });
});
afterAll(() => server.close());
afterEach(() => server.reset());

function target(overrides: Partial<OpenAISettings> = {}) {
  return openai({ model: 'gpt-test', baseURL: server.baseURL, apiKey, ...overrides });
}

function context(overrides: Partial<CallContext> = {}): CallContext {
  return { signal: new AbortController().signal, deadline: Date.now() + 10_000, segment: 'interactive', emit() {}, ...overrides };
}

const hello: TextCall = { messages: [{ role: 'user', content: 'hello there friend' }] };
const batchContext = (): BatchContext => ({ signal: new AbortController().signal });
const textOf = (parts: StreamPart[]) => parts.map((part) => (part.type === 'text-delta' ? part.text : '')).join('');
const finishOf = (parts: StreamPart[]) => parts.at(-1) as Extract<StreamPart, { type: 'finish' }>;

/** A fetch that sends what the client addresses to api.openai.com to the local server instead (a process-edge double). */
function towardsLocal(): typeof fetch {
  return (input, init) => {
    const url = new URL(input instanceof Request ? input.url : String(input));
    if (url.origin === 'https://api.openai.com') return fetch(`${server.url}${url.pathname}${url.search}`, init);
    return fetch(input, init);
  };
}

describe('requests the spec refuses fail before sending, naming the field', () => {
  it('temperature above 2 (or below 0)', async () => {
    for (const temperature of [2.5, -0.5]) {
      expect(await failure(target().doGenerate!({ ...hello, temperature }, context()))).toMatchObject({ code: 'INVALID_REQUEST', field: 'temperature' });
    }
    expect(await failure(collect(target().doStream!({ ...hello, temperature: 3 }, context())))).toMatchObject({ field: 'temperature' });
    await target().doGenerate!({ ...hello, temperature: 2 }, context());
    expect(server.requests).toHaveLength(1);
  });

  it('more than 4 stop sequences', async () => {
    const error = await failure(target().doGenerate!({ ...hello, stop: ['a', 'b', 'c', 'd', 'e'] }, context()));
    expect(error).toMatchObject({ code: 'INVALID_REQUEST', field: 'stop' });
    expect(error.message).toContain('at most 4');
    expect(server.requests).toHaveLength(0);
  });

  it('more than 10 images', async () => {
    const error = await failure(target({ imageModel: 'dall-e-2' }).doImage!({ prompt: 'a fox', n: 11 }, context()));
    expect(error).toMatchObject({ code: 'INVALID_REQUEST', field: 'n' });
    expect(server.requests).toHaveLength(0);
  });

  it("a speech format outside the spec's enum, and speech text over 4,096 characters", async () => {
    const tts = target({ speechModel: 'tts-1' });
    expect(await failure(tts.doSpeech!({ text: 'hi', format: 'ogg' }, context()))).toMatchObject({ code: 'INVALID_REQUEST', field: 'format' });
    expect(await failure(tts.doSpeech!({ text: 'x'.repeat(4097) }, context()))).toMatchObject({ code: 'INVALID_REQUEST', field: 'text' });
    expect(server.requests).toHaveLength(0);
    await tts.doSpeech!({ text: 'x'.repeat(4096), format: 'opus' }, context());
    expect(server.requests).toHaveLength(1);
  });

  it("a batch completion window other than '24h', in the settings or at submit", async () => {
    expect(() => target({ kind: 'batch', batch: { completionWindow: '7d' } })).toThrow(expect.objectContaining({ code: 'INVALID_REQUEST', field: 'batch.completionWindow' }));
    const items: BatchItem[] = [{ customId: 'a', operation: 'text', call: hello }];
    const error = await failure(target({ kind: 'batch' }).batch!.submit(items, { operation: 'text', metadata: { inferlane_job_id: 'j' }, completionWindow: '30m' }, batchContext()));
    expect(error).toMatchObject({ code: 'INVALID_REQUEST', field: 'completionWindow' });
    expect(server.requests).toHaveLength(0);
  });
});

describe('the max-tokens field follows the endpoint', () => {
  it("max_completion_tokens on OpenAI's own API, even when its URL is given", async () => {
    await target({ baseURL: 'https://api.openai.com/v1', fetch: towardsLocal() }).doGenerate!({ ...hello, maxOutputTokens: 9 }, context());
    expect(server.requests[0].body).toMatchObject({ max_completion_tokens: 9 });
    expect(server.requests[0].body).not.toHaveProperty('max_tokens');
  });

  it('max_tokens for a compatible server, also when it comes from OPENAI_BASE_URL; maxTokensParameter decides', async () => {
    const saved = process.env.OPENAI_BASE_URL;
    process.env.OPENAI_BASE_URL = server.baseURL;
    try {
      await openai({ model: 'gpt-test', apiKey }).doGenerate!({ ...hello, maxOutputTokens: 9 }, context());
    } finally {
      if (saved === undefined) delete process.env.OPENAI_BASE_URL;
      else process.env.OPENAI_BASE_URL = saved;
    }
    expect(server.requests[0].body).toMatchObject({ max_tokens: 9 });
    await target({ maxTokensParameter: 'max_completion_tokens' }).doGenerate!({ ...hello, maxOutputTokens: 9 }, context());
    expect(server.requests[1].body).toMatchObject({ max_completion_tokens: 9 });
  });
});

describe('stream_options from providerOptions', () => {
  it('are kept, with include_usage added unless the caller set it', async () => {
    await collect(target().doStream!({ ...hello, providerOptions: { openai: { stream_options: { include_obfuscation: false } } } }, context()));
    expect(server.requests[0].body).toMatchObject({ stream: true, stream_options: { include_usage: true, include_obfuscation: false } });
    const parts = await collect(target().doStream!({ ...hello, providerOptions: { openai: { stream_options: { include_usage: false } } } }, context()));
    expect(server.requests[1].body).toMatchObject({ stream_options: { include_usage: false } });
    expect(finishOf(parts).usage).toBeUndefined();
  });
});

describe('answers are read as the spec writes them', () => {
  it('1. usage.prompt_tokens_details.cache_write_tokens is cacheWriteTokens, streamed or not', async () => {
    const details = { usage: { prompt_tokens_details: { cached_tokens: 0, cache_write_tokens: 1200, audio_tokens: 0 } } };
    server.script('/chat/completions', details);
    expect((await target().doGenerate!(hello, context())).usage).toMatchObject({ cacheWriteTokens: 1200, cachedInputTokens: 0 });
    server.script('/chat/completions', details);
    expect(finishOf(await collect(target().doStream!(hello, context()))).usage).toMatchObject({ cacheWriteTokens: 1200 });
  });

  it("2. a refusal is reported as one: its text, with finish reason 'refusal', streamed or not", async () => {
    const refusal = "I can't help with that request.";
    server.script('/chat/completions', { refusal });
    expect(await target().doGenerate!(hello, context())).toMatchObject({ text: refusal, finishReason: 'refusal' });
    server.script('/chat/completions', { refusal });
    const parts = await collect(target().doStream!(hello, context()));
    expect(textOf(parts)).toBe(refusal);
    expect(finishOf(parts).finishReason).toBe('refusal');
    // An ordinary answer still finishes 'stop'.
    expect(await target().doGenerate!(hello, context())).toMatchObject({ finishReason: 'stop' });
  });

  it('3. base64 embeddings are decoded (asked for, or sent unasked)', async () => {
    const inputs = ['alpha beta', 'gamma'];
    const float32 = (vector: number[]) => vector.map(Math.fround);
    const asked = await target().doEmbed!({ inputs, providerOptions: { openai: { encoding_format: 'base64' } } }, context());
    expect(server.requests[0].body).toMatchObject({ encoding_format: 'base64' });
    expect(asked.embeddings).toEqual(inputs.map((input) => float32(expectedEmbedding(input))));
    // A server that answers base64 although floats were asked for.
    const encoded = (vector: number[]) => Buffer.from(new Float32Array(vector).buffer).toString('base64');
    server.script('/embeddings', { body: { object: 'list', model: 'e', data: [{ object: 'embedding', index: 1, embedding: encoded([3, 4]) }, { object: 'embedding', index: 0, embedding: encoded([1, 2]) }] } });
    expect((await target().doEmbed!({ inputs }, context())).embeddings).toEqual([[1, 2], [3, 4]]);
  });

  it("4. a batch the provider failed carries its errors.data onto each item's error; a finished batch's usage is recorded", async () => {
    const batch = target({ kind: 'batch' }).batch!;
    const items: BatchItem[] = ['a', 'reject-me', 'c'].map((customId) => ({ customId, operation: 'text', call: { messages: [{ role: 'user', content: `question ${customId}` }] } }));
    const submitted = await batch.submit(items, { operation: 'text', metadata: { inferlane_job_id: 'wire-4' } }, batchContext());
    server.advanceBatches();
    const failed = await batch.status(submitted.id, batchContext());
    expect(failed).toMatchObject({ status: 'failed', errors: [{ code: 'invalid_request', line: 2, param: 'body', message: expect.stringContaining('does not match') }] });
    const results = await collect(batch.results(failed, batchContext()));
    const byId = Object.fromEntries(results.map((result) => [result.customId, result]));
    expect(Object.keys(byId).sort()).toEqual(['a', 'c', 'reject-me']);
    expect(byId['reject-me']).toEqual({ customId: 'reject-me', ok: false, error: { code: 'invalid_request', message: expect.stringContaining('does not match'), line: 2 } });
    expect(byId.a).toMatchObject({ ok: false, error: { code: 'invalid_request', message: expect.stringMatching(/failed before this item ran: invalid_request: .*\(line 2\)/) } });

    // A batch that ran: its usage is the sum of its items'.
    const good = items.filter((item) => item.customId !== 'reject-me');
    const ran = await batch.submit(good, { operation: 'text', metadata: { inferlane_job_id: 'wire-4b' } }, batchContext());
    server.runBatches();
    const done = await batch.status(ran.id, batchContext());
    const answered = await collect(batch.results(done, batchContext()));
    const inputTokens = answered.reduce((sum, result) => sum + (result.ok ? (result.usage?.inputTokens ?? 0) : 0), 0);
    expect(done.status).toBe('completed');
    expect(done.usage).toMatchObject({ inputTokens, reasoningTokens: 0, cachedInputTokens: 0 });
    expect(done.usage!.totalTokens).toBe(done.usage!.inputTokens! + done.usage!.outputTokens!);
  });

  it("5. error bodies not in OpenAI's shape keep their words (redacted, the request's own values left out)", async () => {
    server.script('/chat/completions', { status: 422, body: { detail: [{ loc: ['body', 'messages', 0, 'content'], msg: 'field required', type: 'missing', input: 'my private words' }] } });
    const fastapi = await failure(target().doGenerate!(hello, context()));
    expect(fastapi).toMatchObject({ status: 422, retryable: false });
    expect(fastapi.message).toContain('body.messages.0.content: field required');
    expect(fastapi.message).not.toContain('my private words');

    server.script('/chat/completions', { status: 400, rawBody: JSON.stringify({ type: 'about:blank', title: 'Bad Request', detail: `the key ${apiKey} may not use this model`, status: 400 }), contentType: 'application/problem+json' });
    const problem = await failure(target().doGenerate!(hello, context()));
    expect(problem.message).toContain('Bad Request: the key [redacted] may not use this model');
    expect(problem.message).not.toContain(apiKey);

    server.script('/chat/completions', { status: 503, body: { message: 'model is loading' } });
    expect((await failure(target().doGenerate!(hello, context()))).message).toContain('answered 503: model is loading');
    server.script('/chat/completions', { status: 502, rawBody: 'upstream connect error', contentType: 'text/plain' });
    expect((await failure(target().doGenerate!(hello, context()))).message).toContain('answered 502: upstream connect error');
  });

  it('6. a stream request answered with JSON is read as the answer; an HTML page says the content type was wrong', async () => {
    server.script('/chat/completions', { ignoreStream: true });
    const parts = await collect(target().doStream!({ messages: [{ role: 'user', content: 'one two three' }] }, context()));
    expect(parts.map((part) => part.type)).toEqual(['text-delta', 'finish']);
    expect(textOf(parts)).toBe('echo: one two three');
    expect(finishOf(parts)).toMatchObject({ finishReason: 'stop', usage: { inputTokens: expect.any(Number) } });

    server.script('/chat/completions', { rawBody: '<html><body>502 Bad Gateway</body></html>', contentType: 'text/html' });
    const { parts: before, error } = await partsBeforeFailure(target().doStream!(hello, context()));
    expect(before).toEqual([]);
    expect(error).toMatchObject({ code: 'PROVIDER_ERROR', target: 'openai:gpt-test' });
    expect(error.message).toContain("content type 'text/html'");

    server.script('/chat/completions', { rawBody: JSON.stringify({ error: { message: 'the engine is overloaded' } }), contentType: 'application/json' });
    const overloaded = await failure(collect(target().doStream!(hello, context())));
    expect(overloaded).toMatchObject({ code: 'PROVIDER_ERROR', retryable: true });
    expect(overloaded.message).toContain('the engine is overloaded');
  });

  it('7. service_tier and reasoning_tokens reach usage, and the route', async () => {
    const reasoning = { usage: { completion_tokens_details: { reasoning_tokens: 7, audio_tokens: 0 } } };
    const flex = { ...hello, providerOptions: { openai: { service_tier: 'flex' } } };
    server.script('/chat/completions', reasoning);
    expect((await target().doGenerate!(flex, context())).usage).toMatchObject({ serviceTier: 'flex', reasoningTokens: 7 });
    server.script('/chat/completions', reasoning);
    expect(finishOf(await collect(target().doStream!(flex, context()))).usage).toMatchObject({ serviceTier: 'flex', reasoningTokens: 7 });
    // Without asking, OpenAI answers the tier that served it.
    expect((await target().doGenerate!(hello, context())).usage).toMatchObject({ serviceTier: 'default', reasoningTokens: 0 });

    const client = createClient({ targets: [target()] });
    server.script('/chat/completions', reasoning);
    const answer = await client.generate({ prompt: 'hi', providerOptions: { openai: { service_tier: 'priority' } } });
    expect(answer.route.usage).toMatchObject({ serviceTier: 'priority', reasoningTokens: 7 });
    await client.close();
  });
});
