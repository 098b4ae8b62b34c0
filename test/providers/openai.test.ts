/**
 * The OpenAI adapter's online calls, through the real `openai` client, against the local
 * OpenAI-compatible server (test/servers/openai-compatible.ts) on 127.0.0.1.
 */
import { createServer, type Server } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { openai, parseRetryAfter, type OpenAISettings } from '../../providers/openai/index.js';
import type { CallContext, StreamPart, TextCall } from '../../src/target.js';
import { expectedEmbedding, startOpenAIServer, type OpenAIServer } from '../servers/openai-compatible.js';
import { audioSecondsFor, speechFor, tinyPngBase64, transcriptFor } from '../servers/scripts.js';
import { collect, failure, partsBeforeFailure } from '../helpers/async.js';

let server: OpenAIServer;
const secretKey = 'sk-test-0123456789abcdefSECRET';

beforeAll(async () => {
  server = await startOpenAIServer({ seed: 11 });
});
afterAll(async () => {
  await server.close();
});
afterEach(() => {
  server.reset();
});

function target(overrides: Partial<OpenAISettings> = {}) {
  return openai({ model: 'gpt-test', baseURL: server.baseURL, apiKey: secretKey, ...overrides });
}

function context(overrides: Partial<CallContext> = {}): CallContext {
  return { signal: new AbortController().signal, deadline: Date.now() + 10_000, segment: 'interactive', emit() {}, ...overrides };
}

const hello: TextCall = { messages: [{ role: 'user', content: 'hello there friend' }] };



describe('factory', () => {
  it('names, kinds and inferred modalities', () => {
    expect(target().id).toBe('openai:gpt-test');
    expect(target({ kind: 'batch' }).id).toBe('openai-batch:gpt-test');
    expect(target().kind).toBe('cloud');
    expect(target().modalities).toEqual(['text']);
    expect(target({ model: 'text-embedding-3-small' }).modalities).toEqual(['embedding']);
    expect(target({ embeddingModel: 'text-embedding-3-small', imageModel: 'gpt-image-1', speechModel: 'tts-1', transcriptionModel: 'whisper-1' }).modalities).toEqual([
      'text',
      'embedding',
      'image',
      'transcription',
      'speech',
    ]);
    expect(target({ modalities: ['text', 'video'] }).modalities).toEqual(['text', 'video']);
    expect(target().cache).toEqual({ mode: 'prefix', minTokens: 1024, ttlMs: 300_000, acceptsKey: true });
    expect(target().batch).toBeUndefined();
    expect(target({ kind: 'batch' }).batch?.priceMultiplier).toBe(0.5);
    expect(target({ batch: { priceMultiplier: 0.4 } }).batch?.priceMultiplier).toBe(0.4);
  });

  it('refuses a key in a browser unless dangerouslyAllowBrowser, naming apiKey', () => {
    const global = globalThis as { window?: unknown };
    global.window = { document: {} };
    try {
      for (const apiKey of [secretKey, 'public-key']) {
        let error: unknown;
        try {
          target({ apiKey });
        } catch (caught) {
          error = caught;
        }
        expect(error).toMatchObject({ code: 'INVALID_REQUEST', field: 'apiKey' });
        expect(String((error as Error).message)).not.toContain(secretKey);
      }
      expect(target({ dangerouslyAllowBrowser: true }).id).toBe('openai:gpt-test');
    } finally {
      delete global.window;
    }
    expect(target().id).toBe('openai:gpt-test');
  });

  it('needs an apiKey in Node (the environment, or a placeholder for local servers)', () => {
    const saved = process.env.OPENAI_API_KEY;
    delete process.env.OPENAI_API_KEY;
    try {
      expect(() => openai({ model: 'gpt-test', baseURL: server.baseURL })).toThrow(expect.objectContaining({ field: 'apiKey' }));
      process.env.OPENAI_API_KEY = 'from-env';
      expect(openai({ model: 'gpt-test', baseURL: server.baseURL }).id).toBe('openai:gpt-test');
    } finally {
      if (saved === undefined) delete process.env.OPENAI_API_KEY;
      else process.env.OPENAI_API_KEY = saved;
    }
    expect(() => target({ model: '' })).toThrow(expect.objectContaining({ field: 'model' }));
    expect(() => target({ baseURL: [] })).toThrow(expect.objectContaining({ field: 'baseURL' }));
  });

  it('refuses a base URL that is not http(s), naming which one, and an unknown kind', () => {
    expect(() => target({ baseURL: 'ftp://files.example' })).toThrow(expect.objectContaining({ code: 'INVALID_REQUEST', field: 'baseURL' }));
    expect(() => target({ baseURL: [server.baseURL, 'localhost:8000'] })).toThrow(expect.objectContaining({ field: 'baseURL[1]' }));
    expect(() => target({ kind: 'device' as never })).toThrow(expect.objectContaining({ field: 'kind' }));
  });
});

describe('doGenerate', () => {
  it('sends the call fields, the cache key and provider options, and maps the answer', async () => {
    const result = await target().doGenerate!(
      {
        messages: [
          { role: 'system', content: 'be brief' },
          { role: 'user', content: 'say something', name: 'ada' },
        ],
        maxOutputTokens: 50,
        temperature: 0.2,
        topP: 0.9,
        stop: ['\n\n'],
        seed: 7,
        providerOptions: { openai: { user: 'u-1' }, other: { ignored: true } },
      },
      context({ promptCacheKey: 'conversation-1' }),
    );
    const [request] = server.requests;
    expect(request.route).toBe('/chat/completions');
    expect(request.body).toEqual({
      model: 'gpt-test',
      messages: [
        { role: 'system', content: 'be brief' },
        { role: 'user', content: 'say something', name: 'ada' },
      ],
      max_tokens: 50,
      temperature: 0.2,
      top_p: 0.9,
      stop: ['\n\n'],
      seed: 7,
      prompt_cache_key: 'conversation-1',
      user: 'u-1',
    });
    expect(request.headers.authorization).toBe(`Bearer ${secretKey}`);
    expect(result.text).toBe('echo: say something');
    expect(result.finishReason).toBe('stop');
    expect(result.usage).toMatchObject({ inputTokens: request.promptTokens, cachedInputTokens: 0 });
    expect(result.usage!.totalTokens).toBe(result.usage!.inputTokens! + result.usage!.outputTokens!);
    expect(result.replica).toBeUndefined();
  });

  it('uses max_completion_tokens against OpenAI itself and when asked', async () => {
    await target({ maxTokensParameter: 'max_completion_tokens' }).doGenerate!({ ...hello, maxOutputTokens: 9 }, context());
    expect(server.requests[0].body).toMatchObject({ max_completion_tokens: 9 });
    expect(server.requests[0].body).not.toHaveProperty('max_tokens');
  });

  it('reports cached input tokens for a repeated long prefix under the same key', async () => {
    const long = 'the quick brown fox jumps over the lazy dog. '.repeat(120); // about 1,350 tokens
    const call: TextCall = { messages: [{ role: 'system', content: long }, { role: 'user', content: 'first' }] };
    const first = await target().doGenerate!(call, context({ promptCacheKey: 'k-1' }));
    const second = await target().doGenerate!(
      { messages: [{ role: 'system', content: long }, { role: 'user', content: 'second' }] },
      context({ promptCacheKey: 'k-1' }),
    );
    expect(first.usage!.cachedInputTokens).toBe(0);
    expect(second.usage!.cachedInputTokens).toBeGreaterThanOrEqual(1024);
    expect(second.usage!.cachedInputTokens).toBe(server.requests[1].cachedTokens);
    expect(server.requests.map((request) => (request.body as { prompt_cache_key?: string }).prompt_cache_key)).toEqual(['k-1', 'k-1']);
  });

  it('does not send the cache key when the target says it takes none', async () => {
    await target({ cache: { mode: 'prefix', acceptsKey: false } }).doGenerate!(hello, context({ promptCacheKey: 'k-2' }));
    expect(server.requests[0].body).not.toHaveProperty('prompt_cache_key');
  });

  it('marks cache breakpoints with ephemeral cache_control in breakpoint mode only', async () => {
    const call: TextCall = {
      messages: [
        { role: 'system', content: 'rules' },
        { role: 'user', content: 'a' },
        { role: 'assistant', content: 'b' },
        { role: 'user', content: 'c' },
      ],
    };
    const breakpointTarget = target({ cache: { mode: 'breakpoints', minTokens: 1024, acceptsKey: false } });
    const result = await breakpointTarget.doGenerate!(call, context({ cacheBreakpoints: [0, 2] }));
    expect(result.text).toBe('echo: c');
    expect(server.requests[0].cacheBreakpoints).toEqual([
      { message: 0, part: 0, type: 'ephemeral' },
      { message: 2, part: 0, type: 'ephemeral' },
    ]);
    expect((server.requests[0].body as { messages: unknown[] }).messages[1]).toEqual({ role: 'user', content: 'a' });

    await target().doGenerate!(call, context({ cacheBreakpoints: [0, 2] }));
    expect(server.requests[1].cacheBreakpoints).toBeUndefined();
  });

  it('sends each call to the replica ctx.replica names', async () => {
    const replicated = target({ baseURL: [server.replicaURL(0), server.replicaURL(1)] });
    expect(replicated.replicas).toBe(2);
    const onOne = await replicated.doGenerate!(hello, context({ replica: 1 }));
    const onZero = await replicated.doGenerate!(hello, context({ replica: 0 }));
    const defaulted = await replicated.doGenerate!(hello, context());
    expect(server.requests.map((request) => request.replica)).toEqual([1, 0, 0]);
    expect([onOne.replica, onZero.replica, defaulted.replica]).toEqual([1, 0, 0]);
    const error = await failure(replicated.doGenerate!(hello, context({ replica: 2 })));
    expect(error).toMatchObject({ code: 'INVALID_REQUEST', field: 'ctx.replica' });
    expect(server.requests).toHaveLength(3);
  });

  it('maps finish reasons', async () => {
    server.script('/chat/completions', {
      body: { id: 'x', object: 'chat.completion', model: 'gpt-test', choices: [{ index: 0, message: { role: 'assistant', content: 'cut' }, finish_reason: 'length' }] },
    });
    const result = await target().doGenerate!(hello, context());
    expect(result).toMatchObject({ text: 'cut', finishReason: 'length', modelId: 'gpt-test' });
    expect(result.usage).toBeUndefined();
  });
});

describe('doStream', () => {
  it('yields text deltas, then a finish that carries the usage', async () => {
    const parts = await collect(target().doStream!({ messages: [{ role: 'user', content: 'one two three four' }] }, context({ promptCacheKey: 's-1' })));
    const text = parts.flatMap((part) => (part.type === 'text-delta' ? [part.text] : [])).join('');
    expect(text).toBe('echo: one two three four');
    expect(parts.filter((part) => part.type === 'text-delta').length).toBeGreaterThan(1);
    expect(parts.at(-2)?.type).toBe('text-delta');
    const finish = parts.at(-1) as Extract<StreamPart, { type: 'finish' }>;
    expect(finish.finishReason).toBe('stop');
    expect(finish.usage).toMatchObject({ inputTokens: server.requests[0].promptTokens, cachedInputTokens: 0 });
    expect(server.requests[0].body).toMatchObject({ stream: true, stream_options: { include_usage: true }, prompt_cache_key: 's-1' });
  });

  it('closes the HTTP request when the consumer breaks out', async () => {
    server.script('/chat/completions', { reply: 'a b c d e f g h i j k l m n o p', stream: { interChunkMs: 40 } });
    let deltas = 0;
    for await (const part of target().doStream!(hello, context())) {
      if (part.type === 'text-delta' && ++deltas === 2) break;
    }
    await server.waitFor((requests) => requests[0]?.finishedAt !== undefined);
    expect(server.requests[0].aborted).toBe(true);
    expect(deltas).toBe(2);
  });

  it('throws a retryable NetworkError when the stream ends without a finish reason', async () => {
    server.script('/chat/completions', { stream: { truncateAfterChunks: 3 } });
    const { parts: seen, error } = await partsBeforeFailure(target().doStream!({ messages: [{ role: 'user', content: 'w x y z' }] }, context()));
    expect(error).toMatchObject({ name: 'NetworkError', retryable: true, target: 'openai:gpt-test' });
    expect(seen.map((part) => part.type)).toEqual(['text-delta', 'text-delta']);
  });

  it('throws a retryable NetworkError when the connection resets mid-stream', async () => {
    server.script('/chat/completions', { stream: { resetAfterChunks: 3 } });
    const { parts: seen, error } = await partsBeforeFailure(target().doStream!({ messages: [{ role: 'user', content: 'w x y z' }] }, context()));
    expect(error).toMatchObject({ name: 'NetworkError', retryable: true });
    expect(seen.some((part) => part.type === 'finish')).toBe(false);
  });

  it('throws a retryable ProviderError on a malformed chunk, and prints nothing of it', async () => {
    const printed = vi.spyOn(console, 'error').mockImplementation(() => {});
    try {
      server.script('/chat/completions', { stream: { malformedAfterChunks: 2 } });
      const error = await failure(collect(target().doStream!(hello, context())));
      expect(error).toMatchObject({ name: 'ProviderError', retryable: true });
      // The openai client would print the raw chunk (the model's words) to stderr.
      expect(printed).not.toHaveBeenCalled();
      // Asked for, its log goes to the logger given.
      const logged: unknown[][] = [];
      const logger = { error: (...args: unknown[]) => logged.push(args), warn() {}, info() {}, debug() {} };
      server.script('/chat/completions', { stream: { malformedAfterChunks: 2 } });
      await failure(collect(target({ logLevel: 'error', logger }).doStream!(hello, context())));
      expect(logged.map((args) => String(args[0]))).toContain('Could not parse message into JSON:');
      expect(printed).not.toHaveBeenCalled();
      expect(() => target({ logLevel: 'loud' as never })).toThrow(expect.objectContaining({ field: 'logLevel' }));
    } finally {
      printed.mockRestore();
    }
  });

  it('throws AbortedError when the signal fires mid-stream', async () => {
    server.script('/chat/completions', { reply: 'a b c d e f g h', stream: { interChunkMs: 30 } });
    const controller = new AbortController();
    const seen: StreamPart[] = [];
    const error = await failure(
      (async () => {
        for await (const part of target().doStream!(hello, context({ signal: controller.signal }))) {
          seen.push(part);
          if (seen.length === 2) controller.abort();
        }
      })(),
    );
    expect(error).toMatchObject({ code: 'ABORTED', target: 'openai:gpt-test' });
    await server.waitFor((requests) => requests[0]?.finishedAt !== undefined);
    expect(server.requests[0].aborted).toBe(true);
  });

  it('maps an error status before the stream starts', async () => {
    server.script('/chat/completions', { status: 503, retryAfterMs: 1500 });
    const error = await failure(collect(target().doStream!(hello, context())));
    expect(error).toMatchObject({ name: 'ProviderError', status: 503, retryable: true, retryAfterMs: 1500 });
  });
});

describe('error mapping', () => {
  it('500 is a retryable ProviderError with target and status', async () => {
    server.script('/chat/completions', { status: 500 });
    const error = await failure(target().doGenerate!(hello, context()));
    expect(error).toMatchObject({ name: 'ProviderError', code: 'PROVIDER_ERROR', status: 500, retryable: true, target: 'openai:gpt-test' });
    expect(error.message).toContain('The server had an error');
    expect(server.requests).toHaveLength(1); // the client's own retries are off
  });

  it('429 is a RateLimitedError carrying retry-after', async () => {
    server.script('/chat/completions', { status: 429, retryAfterMs: 2500 });
    const error = await failure(target().doGenerate!(hello, context()));
    expect(error).toMatchObject({ name: 'RateLimitedError', code: 'RATE_LIMITED', status: 429, retryable: true, retryAfterMs: 2500 });

    server.script('/chat/completions', { status: 429, headers: { 'retry-after': '3' } });
    expect(await failure(target().doGenerate!(hello, context()))).toMatchObject({ retryAfterMs: 3000 });
  });

  it('401 and 403 are AuthenticationErrors and never show the key', async () => {
    server.script('/chat/completions', { status: 401, message: `Incorrect API key provided: ${secretKey}.` });
    const error = await failure(target().doGenerate!(hello, context()));
    expect(error).toMatchObject({ name: 'AuthenticationError', code: 'AUTHENTICATION_FAILED', status: 401, retryable: false });
    expect(error.message).not.toContain(secretKey);
    expect(error.message).toContain('[redacted]');
    expect(JSON.stringify(error.toJSON())).not.toContain(secretKey);

    server.script('/chat/completions', { status: 403 });
    expect(await failure(target().doGenerate!(hello, context()))).toMatchObject({ name: 'AuthenticationError', status: 403 });
  });

  it('400, 404 and 422 are final; 408 and 409 are retryable', async () => {
    for (const [status, retryable] of [
      [400, false],
      [404, false],
      [422, false],
      [408, true],
      [409, true],
      [502, true],
    ] as const) {
      server.script('/chat/completions', { status });
      const error = await failure(target().doGenerate!(hello, context()));
      expect(error, `status ${status}`).toMatchObject({ name: 'ProviderError', status, retryable });
    }
  });

  it('a bad request never echoes the request body', async () => {
    const privateText = 'my private medical history';
    server.script('/chat/completions', { status: 400, message: 'The request is invalid.' });
    const error = await failure(target().doGenerate!({ messages: [{ role: 'user', content: privateText }] }, context()));
    expect(error.message).not.toContain(privateText);
  });

  it('a hang aborted by the signal is an AbortedError and the server sees the connection close', async () => {
    server.script('/chat/completions', { hang: true });
    const controller = new AbortController();
    const pending = target().doGenerate!(hello, context({ signal: controller.signal }));
    await server.waitForRequests(1, '/chat/completions');
    controller.abort();
    const error = await failure(pending);
    expect(error).toMatchObject({ code: 'ABORTED', target: 'openai:gpt-test' });
    await server.waitFor((requests) => requests[0]?.finishedAt !== undefined);
    expect(server.requests[0].aborted).toBe(true);
  });

  it('a reset connection is a retryable NetworkError', async () => {
    server.script('/chat/completions', { reset: true });
    const error = await failure(target().doGenerate!(hello, context()));
    expect(error).toMatchObject({ name: 'NetworkError', code: 'NETWORK_ERROR', retryable: true, target: 'openai:gpt-test' });
  });

  it('a refused connection is a retryable NetworkError', async () => {
    const closed: Server = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const { port } = closed.address() as { port: number };
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const error = await failure(target({ baseURL: `http://127.0.0.1:${port}/v1` }).doGenerate!(hello, context()));
    expect(error).toMatchObject({ name: 'NetworkError', retryable: true });
    expect(error.message).toContain('ECONNREFUSED');
  });

  it('parses retry-after-ms, retry-after seconds and HTTP dates', () => {
    const now = () => Date.parse('2025-01-01T00:00:00Z');
    expect(parseRetryAfter(new Headers({ 'retry-after-ms': '1234.5', 'retry-after': '9' }), now)).toBe(1234.5);
    expect(parseRetryAfter(new Headers({ 'retry-after': '2' }), now)).toBe(2000);
    expect(parseRetryAfter(new Headers({ 'retry-after': 'Wed, 01 Jan 2025 00:00:07 GMT' }), now)).toBe(7000);
    expect(parseRetryAfter(new Headers({ 'retry-after': 'Tue, 31 Dec 2024 23:59:00 GMT' }), now)).toBe(0);
    expect(parseRetryAfter(new Headers({ 'retry-after': 'soon' }), now)).toBeUndefined();
    expect(parseRetryAfter(new Headers(), now)).toBeUndefined();
  });
});

describe('other modalities', () => {
  it('embeds all inputs in one request, floats, dimensions passed', async () => {
    const inputs = ['alpha beta', 'gamma', 'alpha beta delta'];
    const result = await target({ embeddingModel: 'text-embedding-test' }).doEmbed!({ inputs, dimensions: 16 }, context());
    expect(server.requests).toHaveLength(1);
    expect(server.requests[0].body).toEqual({ model: 'text-embedding-test', input: inputs, encoding_format: 'float', dimensions: 16 });
    expect(result.embeddings).toEqual(inputs.map((input) => expectedEmbedding(input, 16)));
    expect(result.usage?.inputTokens).toBeGreaterThan(0);
  });

  it('puts embeddings back in input order by index', async () => {
    const inputs = ['one', 'two', 'three', 'four'];
    const order = [2, 0, 3, 1];
    server.script('/embeddings', {
      body: {
        object: 'list',
        model: 'e',
        data: order.map((index) => ({ object: 'embedding', index, embedding: [index, index * 10] })),
        usage: { prompt_tokens: 4, total_tokens: 4 },
      },
    });
    const result = await target().doEmbed!({ inputs }, context());
    expect(result.embeddings).toEqual([
      [0, 0],
      [1, 10],
      [2, 20],
      [3, 30],
    ]);
  });

  it('refuses an embedding answer that does not match the inputs', async () => {
    server.script('/embeddings', { body: { object: 'list', data: [{ index: 0, embedding: [1] }] } });
    expect(await failure(target().doEmbed!({ inputs: ['a', 'b'] }, context()))).toMatchObject({ name: 'ProviderError', retryable: false });
  });

  it('generates images as base64', async () => {
    const result = await target({ imageModel: 'dall-e-3' }).doImage!({ prompt: 'a red square', n: 2, size: '256x256' }, context());
    expect(server.requests[0].body).toMatchObject({ model: 'dall-e-3', prompt: 'a red square', n: 2, size: '256x256', response_format: 'b64_json' });
    expect(result.images).toEqual([
      { base64: tinyPngBase64, mediaType: 'image/png' },
      { base64: tinyPngBase64, mediaType: 'image/png' },
    ]);
    expect(result.usage?.images).toBe(2);

    await target({ imageModel: 'gpt-image-1' }).doImage!({ prompt: 'x' }, context());
    expect(server.requests[1].body).not.toHaveProperty('response_format');
  });

  it('transcribes the bytes as an uploaded file', async () => {
    const audio = new Uint8Array(64_000).map((_, index) => index % 251);
    const result = await target({ transcriptionModel: 'whisper-1' }).doTranscribe!({ audio, mediaType: 'audio/wav', language: 'en' }, context());
    expect(result.text).toBe(transcriptFor(audio));
    expect(result.durationSeconds).toBe(Math.ceil(audioSecondsFor(audio.length)));
    expect(server.requests[0].body).toMatchObject({ model: 'whisper-1', language: 'en' });
    expect(server.requests[0].multipartFields).toContain('file');
  });

  it('synthesises speech and returns the bytes with their media type', async () => {
    const result = await target({ speechModel: 'tts-1' }).doSpeech!({ text: 'hi there', voice: 'nova', format: 'wav' }, context());
    expect(server.requests[0].body).toEqual({ model: 'tts-1', input: 'hi there', voice: 'nova', response_format: 'wav' });
    expect(result.mediaType).toBe('audio/wav');
    expect(Buffer.from(result.audio).equals(speechFor('hi there'))).toBe(true);
  });

  it('reads image URLs when the model answers with them, and fails retryably when no image came back', async () => {
    server.script('/images/generations', { body: { created: 1, data: [{ url: 'https://images.example/fox.png' }] } });
    const result = await target({ imageModel: 'dall-e-3' }).doImage!({ prompt: 'a fox' }, context());
    expect(result.images).toEqual([{ url: 'https://images.example/fox.png', mediaType: 'image/png' }]);
    server.script('/images/generations', { body: { created: 1, data: [] } });
    expect(await failure(target({ imageModel: 'dall-e-3' }).doImage!({ prompt: 'a fox' }, context()))).toMatchObject({ name: 'ProviderError', retryable: true });
  });

  it('reads a transcription’s language and token usage (gpt-4o-transcribe style)', async () => {
    server.script('/audio/transcriptions', { body: { text: 'bonjour', language: 'french', usage: { type: 'tokens', input_tokens: 40, output_tokens: 3, total_tokens: 43 } } });
    const result = await target({ transcriptionModel: 'gpt-4o-transcribe' }).doTranscribe!({ audio: new Uint8Array(100) }, context());
    expect(result).toEqual({ text: 'bonjour', language: 'french', usage: { inputTokens: 40, outputTokens: 3, totalTokens: 43 } });
  });

  it('a chat completion without any choice fails retryably (the next attempt may answer)', async () => {
    server.script('/chat/completions', { body: { id: 'x', object: 'chat.completion', model: 'm', choices: [] } });
    expect(await failure(target().doGenerate!(hello, context()))).toMatchObject({ name: 'ProviderError', retryable: true, target: 'openai:gpt-test' });
  });

  it('maps errors of every modality through the same function', async () => {
    server.script('*', { status: 429, retryAfterMs: 100 });
    const tts = target({ speechModel: 'tts-1', embeddingModel: 'e', imageModel: 'dall-e-2' });
    for (const run of [
      () => tts.doEmbed!({ inputs: ['a'] }, context()),
      () => tts.doImage!({ prompt: 'a' }, context()),
      () => tts.doSpeech!({ text: 'a' }, context()),
      () => tts.doTranscribe!({ audio: new Uint8Array(10) }, context()),
    ]) {
      server.script('*', { status: 429, retryAfterMs: 100 });
      expect(await failure(run())).toMatchObject({ name: 'RateLimitedError', retryAfterMs: 100 });
    }
  });
});
