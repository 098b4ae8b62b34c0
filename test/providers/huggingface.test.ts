/**
 * The Hugging Face adapter with the REAL `@huggingface/inference` client, over HTTP, against the
 * local routes in test/servers/huggingface-routes.ts. Nothing here reaches the internet: endpoint
 * targets point at 127.0.0.1, router targets get a fetch that rewrites only the origin.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { huggingface, toEmbeddingMatrix, type HuggingFaceSettings } from '../../providers/huggingface/index.js';
import {
  AbortedError,
  AuthenticationError,
  DeadlineExceededError,
  InvalidRequestError,
  NetworkError,
  ProviderError,
  RateLimitedError,
} from '../../src/errors.js';
import type { CallContext, Message, Target } from '../../src/target.js';
import {
  huggingFaceOriginRewrite,
  imageFor,
  registerHuggingFaceRoutes,
  startHuggingFaceServer,
  tokenVectorsFor,
  type HuggingFaceServer,
} from '../servers/huggingface-routes.js';
import { startOpenAIServer } from '../servers/openai-compatible.js';
import { countTokens, expectedEmbedding, replyFor, serializePrompt, transcriptFor, type ChatMessageBody } from '../servers/scripts.js';
import { collect, failure, partsBeforeFailure } from '../helpers/async.js';

const token = 'hf_testtoken1234567890';
let server: HuggingFaceServer;

beforeAll(async () => {
  server = await startHuggingFaceServer({
    acceptedTokens: [token],
    models: {
      'test-org/embedder': { task: 'feature-extraction' },
      'test-org/auto-embedder': { task: 'feature-extraction', providers: ['hf-inference'] },
      'test-org/painter': { task: 'text-to-image' },
      'test-org/chat-on-hf-inference': { task: 'conversational' },
    },
  });
});
afterAll(async () => {
  await server.close();
});
beforeEach(() => {
  server.routes.reset();
});

function context(signal: AbortSignal = new AbortController().signal, budgetMs = 10_000): CallContext {
  return { signal, deadline: Date.now() + budgetMs, segment: 'interactive', emit() {} };
}

function endpointTarget(task: string, settings: Partial<HuggingFaceSettings> = {}): Target {
  return huggingface({ model: 'test-org/model', endpointUrl: `${server.url}/hf/endpoints/${task}`, accessToken: token, ...settings });
}



const messages: Message[] = [
  { role: 'system', content: 'be brief' },
  { role: 'user', content: 'tell me about routing by latency budgets' },
];
/** The same messages as the server's helpers type them. */
const wireMessages: ChatMessageBody[] = messages.map((message) => ({ ...message }));

describe('settings', () => {
  it('names the target hf:<provider>:<model> and declares what it serves', () => {
    const router = huggingface({ model: 'org/m', provider: 'groq', kind: 'realtime', accessToken: token });
    expect(router.id).toBe('hf:groq:org/m');
    expect(router.kind).toBe('realtime');
    expect(router.modalities).toEqual(['text']);
    expect(router.doGenerate).toBeTypeOf('function');
    expect(router.doEmbed).toBeUndefined();

    const endpoint = endpointTarget('feature-extraction', { modalities: ['embedding'] });
    expect(endpoint.id).toBe('hf:endpoint:test-org/model');
    expect(endpoint.microBatch?.maxBatchSize).toBe(32);
    expect(endpoint.limits?.maxBatchSize).toBe(32);
    expect(endpoint.doGenerate).toBeUndefined();
    expect(huggingface({ model: 'org/m', accessToken: token }).id).toBe('hf:auto:org/m');
  });

  it('refuses a token in a browser page unless allowed', () => {
    // A browser does not exist here: these two globals are what the adapter looks at.
    const scope = globalThis as { window?: unknown; document?: unknown };
    scope.window = {};
    scope.document = {};
    try {
      expect(() => huggingface({ model: 'm', accessToken: token })).toThrow(InvalidRequestError);
      expect(huggingface({ model: 'm', accessToken: token, dangerouslyAllowBrowser: true }).id).toBe('hf:auto:m');
      expect(huggingface({ model: 'm', endpointUrl: 'http://127.0.0.1:1/x', accessToken: '' }).id).toBe('hf:endpoint:m');
    } finally {
      delete scope.window;
      delete scope.document;
    }
  });

  it('rejects bad settings naming the field', () => {
    const field = (make: () => unknown) => {
      try {
        make();
      } catch (error) {
        expect(error).toBeInstanceOf(InvalidRequestError);
        return (error as InvalidRequestError).field;
      }
      throw new Error('expected a throw');
    };
    expect(field(() => huggingface({ model: '' }))).toBe('model');
    expect(field(() => huggingface({ model: 'm', endpointUrl: 'ftp://x' }))).toBe('endpointUrl');
    expect(field(() => huggingface({ model: 'm', endpointUrl: 'http://x', provider: 'groq' }))).toBe('provider');
    expect(field(() => huggingface({ model: 'm', modalities: ['text', 'video' as never] }))).toBe('modalities[1]');
  });
});

describe('text', () => {
  it('doGenerate calls chat completions on the endpoint and maps text, usage and finish reason', async () => {
    const target = endpointTarget('chat');
    const result = await target.doGenerate!(
      { messages, temperature: 0.2, maxOutputTokens: 100, seed: 7, providerOptions: { huggingface: { top_k: 5 }, openai: { user: 'x' } } },
      context(),
    );

    const expected = replyFor(wireMessages);
    expect(result.text).toBe(expected);
    expect(result.finishReason).toBe('stop');
    expect(result.usage).toEqual({
      inputTokens: countTokens(serializePrompt(wireMessages)),
      outputTokens: countTokens(expected),
      totalTokens: countTokens(serializePrompt(wireMessages)) + countTokens(expected),
    });
    expect(result.modelId).toBe('test-org/model');

    expect(server.routes.requests).toHaveLength(1);
    const [request] = server.routes.requests;
    expect(request.path).toBe('/hf/endpoints/chat/v1/chat/completions');
    expect(request.headers.authorization).toBe(`Bearer ${token}`);
    expect(request.json).toMatchObject({ model: 'test-org/model', temperature: 0.2, max_tokens: 100, seed: 7, top_k: 5, messages });
    expect(request.json).not.toHaveProperty('user');
  });

  it('reports finish reason length when max tokens cut the answer', async () => {
    const result = await endpointTarget('chat').doGenerate!({ messages, maxOutputTokens: 2 }, context());
    expect(result.finishReason).toBe('length');
    expect(result.text).toBe(replyFor(wireMessages).slice(0, 8));
  });

  it('doStream yields text deltas that add up to the reply, then usage and finish', async () => {
    const parts = await collect(endpointTarget('chat').doStream!({ messages }, context()));
    const deltas = parts.filter((part) => part.type === 'text-delta');
    expect(deltas.length).toBeGreaterThan(3);
    expect(deltas.map((part) => (part as { text: string }).text).join('')).toBe(replyFor(wireMessages));
    const tail = parts.slice(deltas.length);
    expect(tail.map((part) => part.type)).toEqual(['usage', 'finish']);
    expect(tail[1]).toMatchObject({ type: 'finish', finishReason: 'stop', usage: { outputTokens: countTokens(replyFor(wireMessages)) } });
    expect(server.routes.requests[0].json).toMatchObject({ stream: true, stream_options: { include_usage: true } });
  });

  it('breaking out of doStream closes the connection', async () => {
    // Chunks an hour apart: the stream stays open until the client leaves.
    server.routes.script({ stream: { interChunkMs: 3_600_000 } }, 'chat');
    const stream = endpointTarget('chat').doStream!({ messages }, context());
    let received = '';
    for await (const part of stream) {
      if (part.type === 'text-delta') {
        received = part.text;
        break;
      }
    }
    expect(received).toBe(replyFor(wireMessages).split(' ')[0] + ' ');
    const [request] = server.routes.requests;
    await request.closed;
    expect(request.closedByClient).toBe(true);
  }, 5_000);

  // A reset, and a clean end before any finish reason (the client ends quietly at a cut as at
  // [DONE]): both cut the answer short, after the text already sent, and never finish it.
  it.each([
    ['a connection reset mid-stream', { resetAfterChunks: 2 }],
    ['a stream that stops cleanly before any finish reason', { truncateAfterChunks: 2 }],
  ])('%s is a retryable NetworkError after the text already sent, not a finished answer', async (_name, faults) => {
    server.routes.script({ stream: faults }, 'chat');
    const { parts, error } = await partsBeforeFailure(endpointTarget('chat').doStream!({ messages }, context()));
    expect(error).toBeInstanceOf(NetworkError);
    expect(error.retryable).toBe(true);
    expect(parts.map((part) => part.type)).toEqual(['text-delta', 'text-delta']);
  });

  it('a malformed stream event is a retryable ProviderError', async () => {
    server.routes.script({ stream: { malformedAfterChunks: 1 } }, 'chat');
    const error = await failure(collect(endpointTarget('chat').doStream!({ messages }, context())));
    expect(error).toBeInstanceOf(ProviderError);
    expect(error.retryable).toBe(true);
  });

  it("provider 'auto' goes to the router's chat route", async () => {
    const target = huggingface({ model: 'meta-llama/Llama-3.1-8B-Instruct', accessToken: token, fetch: huggingFaceOriginRewrite(server.url) });
    const result = await target.doGenerate!({ messages }, context());
    expect(result.text).toBe(replyFor(wireMessages));
    expect(server.routes.requests.map((request) => request.path)).toEqual(['/hf/router/v1/chat/completions']);
    expect(server.routes.requests[0].json?.model).toBe('meta-llama/Llama-3.1-8B-Instruct');
  });

  it("provider 'hf-inference' resolves the model on the Hub, then calls the model's chat route", async () => {
    const target = huggingface({ model: 'test-org/chat-on-hf-inference', provider: 'hf-inference', accessToken: token, fetch: huggingFaceOriginRewrite(server.url) });
    const result = await target.doGenerate!({ messages }, context());
    expect(result.text).toBe(replyFor(wireMessages));
    expect(server.routes.requests.map((request) => `${request.method} ${request.path}`)).toEqual([
      'GET /hf/hub/api/models/test-org/chat-on-hf-inference',
      'POST /hf/router/hf-inference/models/test-org/chat-on-hf-inference/v1/chat/completions',
    ]);
  });
});

describe('embeddings', () => {
  const inputs = ['the quick brown fox', 'jumps over', 'the lazy dog', 'a', 'latency budgets route requests'];

  it('sends every input in ONE request and returns one vector per input, in order', async () => {
    const target = endpointTarget('feature-extraction', { modalities: ['embedding'] });
    const result = await target.doEmbed!({ inputs }, context());
    expect(result.embeddings).toEqual(inputs.map((input) => expectedEmbedding(input)));
    expect(server.routes.requests).toHaveLength(1);
    expect(server.routes.requests[0].path).toBe('/hf/endpoints/feature-extraction');
    expect(server.routes.requests[0].json).toEqual({ inputs });
  });

  it('mean-pools token-level outputs (number[][][])', async () => {
    server.routes.setEmbeddingShape('tokens');
    const target = endpointTarget('feature-extraction', { modalities: ['embedding'] });
    const result = await target.doEmbed!({ inputs, dimensions: 4 }, context());
    const expected = inputs.map((input) => {
      const tokens = tokenVectorsFor(input, 4);
      return tokens[0].map((_, column) => tokens.reduce((sum, row) => sum + row[column], 0) / tokens.length);
    });
    expect(result.embeddings).toHaveLength(inputs.length);
    result.embeddings.forEach((vector, index) => {
      expect(vector).toHaveLength(4);
      vector.forEach((value, column) => expect(value).toBeCloseTo(expected[index][column], 12));
    });
    expect(server.routes.requests[0].json).toEqual({ inputs, dimensions: 4 });
  });

  it("provider 'hf-inference' builds the router's pipeline URL, redirected to the local server", async () => {
    const target = huggingface({
      model: 'test-org/embedder',
      provider: 'hf-inference',
      modalities: ['embedding'],
      accessToken: token,
      fetch: huggingFaceOriginRewrite(server.url),
    });
    const result = await target.doEmbed!({ inputs: inputs.slice(0, 3) }, context());
    expect(result.embeddings).toEqual(inputs.slice(0, 3).map((input) => expectedEmbedding(input)));
    expect(server.routes.requests.map((request) => `${request.method} ${request.path}`)).toEqual([
      'GET /hf/hub/api/models/test-org/embedder',
      'POST /hf/router/hf-inference/models/test-org/embedder/pipeline/feature-extraction',
    ]);
  });

  it("provider 'auto' asks the Hub which provider serves the model, then calls it", async () => {
    const target = huggingface({ model: 'test-org/auto-embedder', modalities: ['embedding'], accessToken: token, fetch: huggingFaceOriginRewrite(server.url) });
    const result = await target.doEmbed!({ inputs: ['a b', 'c'] }, context());
    expect(result.embeddings).toEqual([expectedEmbedding('a b'), expectedEmbedding('c')]);
    expect(server.routes.requests.map((request) => `${request.method} ${request.path}`)).toEqual([
      'GET /hf/hub/api/models/test-org/auto-embedder',
      'POST /hf/router/hf-inference/models/test-org/auto-embedder/pipeline/feature-extraction',
    ]);
  });

  it('normalises the other shapes and refuses a mismatch', () => {
    expect(toEmbeddingMatrix([1, 2, 3], 1, 't')).toEqual([[1, 2, 3]]);
    expect(toEmbeddingMatrix([[1, 2], [3, 4]], 1, 't')).toEqual([[2, 3]]);
    expect(() => toEmbeddingMatrix([[1, 2], [3, 4]], 3, 't')).toThrow(ProviderError);
    expect(() => toEmbeddingMatrix({ data: [] }, 1, 't')).toThrow(ProviderError);
    expect(() => toEmbeddingMatrix([[1, 2], [3]], 2, 't')).toThrow(ProviderError);
  });
});

describe('images and transcription', () => {
  it('doImage turns the returned image bytes into base64, one request per image', async () => {
    const target = endpointTarget('text-to-image', { modalities: ['image'] });
    const result = await target.doImage!({ prompt: 'a lighthouse at dawn', size: '64x32', n: 2 }, context());
    expect(result.images).toHaveLength(2);
    const expected = imageFor('a lighthouse at dawn', 64, 32).toString('base64');
    for (const image of result.images) {
      expect(image.base64).toBe(expected);
      expect(image.mediaType).toBe('image/png');
    }
    expect(result.usage).toEqual({ images: 2 });
    expect(server.routes.requests).toHaveLength(2);
    expect(server.routes.requests[0].json).toEqual({ inputs: 'a lighthouse at dawn', parameters: { width: 64, height: 32 } });
  });

  it("doImage through provider 'hf-inference' posts to the model route", async () => {
    const target = huggingface({ model: 'test-org/painter', provider: 'hf-inference', modalities: ['image'], accessToken: token, fetch: huggingFaceOriginRewrite(server.url) });
    const result = await target.doImage!({ prompt: 'a fox' }, context());
    expect(result.images[0].base64).toBe(imageFor('a fox').toString('base64'));
    expect(server.routes.requests.at(-1)?.path).toBe('/hf/router/hf-inference/models/test-org/painter');
  });

  it('doTranscribe posts the raw audio and returns the text', async () => {
    const audio = new Uint8Array(Array.from({ length: 3000 }, (_, index) => (index * 31) % 256));
    const target = endpointTarget('automatic-speech-recognition', { modalities: ['transcription'] });
    const result = await target.doTranscribe!({ audio, mediaType: 'audio/wav' }, context());
    expect(result.text).toBe(transcriptFor(audio));
    const [request] = server.routes.requests;
    expect(request.headers['content-type']).toBe('audio/wav');
    expect(new Uint8Array(request.body)).toEqual(audio);
  });
});

describe('errors', () => {
  it('401 becomes AuthenticationError and never shows the token', async () => {
    const wrong = 'hf_wrongtoken0987654321';
    const target = endpointTarget('chat', { accessToken: wrong });
    const error = await failure(target.doGenerate!({ messages }, context()));
    expect(error).toBeInstanceOf(AuthenticationError);
    expect(error.status).toBe(401);
    expect(error.retryable).toBe(false);
    expect(error.target).toBe('hf:endpoint:test-org/model');
    expect(JSON.stringify(error.toJSON())).not.toContain(wrong);
    expect(error.message).not.toContain(wrong);
  });

  it('403 is an AuthenticationError too', async () => {
    server.routes.script({ status: 403 });
    const error = await failure(endpointTarget('chat').doGenerate!({ messages }, context()));
    expect(error).toBeInstanceOf(AuthenticationError);
    expect(error.status).toBe(403);
  });

  it('reads HF_TOKEN when no accessToken is given', async () => {
    const previous = process.env.HF_TOKEN;
    process.env.HF_TOKEN = token;
    try {
      const target = huggingface({ model: 'test-org/model', endpointUrl: `${server.url}/hf/endpoints/chat` });
      await target.doGenerate!({ messages }, context());
      expect(server.routes.requests[0].headers.authorization).toBe(`Bearer ${token}`);
    } finally {
      if (previous === undefined) delete process.env.HF_TOKEN;
      else process.env.HF_TOKEN = previous;
    }
  });

  it('a model the Hub does not know is a ProviderError that will not succeed on retry', async () => {
    const target = huggingface({ model: 'test-org/unknown', provider: 'hf-inference', modalities: ['embedding'], accessToken: token, fetch: huggingFaceOriginRewrite(server.url) });
    const error = await failure(target.doEmbed!({ inputs: ['x'] }, context()));
    expect(error).toBeInstanceOf(ProviderError);
    expect(error.status).toBe(404);
    expect(error.retryable).toBe(false);
    expect(error.message).toContain('Hub');
  });

  it('429 becomes RateLimitedError carrying retry-after', async () => {
    server.routes.script({ status: 429, retryAfterMs: 3_000 });
    const error = await failure(endpointTarget('feature-extraction', { modalities: ['embedding'] }).doEmbed!({ inputs: ['x'] }, context()));
    expect(error).toBeInstanceOf(RateLimitedError);
    expect((error as RateLimitedError).retryAfterMs).toBe(3_000);
    expect(error.retryable).toBe(true);
  });

  it('500 is a retryable ProviderError; 400 and 422 are not', async () => {
    server.routes.script([{ status: 500 }, { status: 400 }, { status: 422 }]);
    const target = endpointTarget('chat');
    const statuses: [number | undefined, boolean, string][] = [];
    for (let attempt = 0; attempt < 3; attempt++) {
      const error = await failure(target.doGenerate!({ messages }, context()));
      expect(error).toBeInstanceOf(ProviderError);
      statuses.push([error.status, error.retryable, error.code]);
    }
    expect(statuses).toEqual([
      [500, true, 'PROVIDER_ERROR'],
      [400, false, 'PROVIDER_ERROR'],
      [422, false, 'PROVIDER_ERROR'],
    ]);
  });

  it("503 'model loading' comes back at once as retryable, with HF's estimated wait", async () => {
    server.routes.script({ status: 503, body: { error: 'Model test-org/model is currently loading', estimated_time: 7.5 }, times: 5 });
    const error = await failure(endpointTarget('feature-extraction', { modalities: ['embedding'] }).doEmbed!({ inputs: ['x'] }, context()));
    expect(error).toBeInstanceOf(ProviderError);
    expect(error.status).toBe(503);
    expect(error.retryable).toBe(true);
    expect((error as ProviderError).retryAfterMs).toBe(7_500);
    // The client's own unbounded 503 loop is off: one request, the executor decides what next.
    expect(server.routes.requests).toHaveLength(1);
  });

  it('with the client re-requesting on 503, our deadline still ends the call', async () => {
    server.routes.script({ status: 503, latencyMs: 10, times: Number.POSITIVE_INFINITY });
    const budgetMs = 300;
    const controller = new AbortController();
    const target = endpointTarget('feature-extraction', { modalities: ['embedding'], retryOnLoading: true });
    const arrived = server.routes.nextRequest();
    const pending = target.doEmbed!({ inputs: ['x'] }, context(controller.signal, budgetMs));
    // The budget counts from the first request, so a cold start on a loaded machine does not eat it.
    await arrived;
    const started = performance.now();
    // Stands in for the executor, which aborts the call's signal with this reason at the deadline.
    const deadlineTimer = setTimeout(() => controller.abort(new DeadlineExceededError(budgetMs)), budgetMs);
    deadlineTimer.unref();
    const error = await failure(pending);
    const elapsed = performance.now() - started;
    clearTimeout(deadlineTimer);
    expect(error).toBeInstanceOf(DeadlineExceededError);
    expect(elapsed).toBeGreaterThanOrEqual(budgetMs - 5);
    // Generous slack for loaded CI machines; without the signal the loop would run until the test timeout.
    expect(elapsed).toBeLessThan(budgetMs + 1_000);
    // The client did re-request: the deadline, not a single 503, ended the call.
    expect(server.routes.requests.length).toBeGreaterThan(2);
  });

  it('aborting closes the connection and gives AbortedError', async () => {
    server.routes.script({ hang: true });
    const controller = new AbortController();
    const arrived = server.routes.nextRequest();
    const pending = endpointTarget('chat').doGenerate!({ messages }, context(controller.signal));
    const request = await arrived;
    controller.abort();
    const error = await failure(pending);
    expect(error).toBeInstanceOf(AbortedError);
    await request.closed;
    expect(request.closedByClient).toBe(true);
  }, 5_000);

  it('an unreachable endpoint is a NetworkError', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const { port } = closed.address() as AddressInfo;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const target = huggingface({ model: 'm', endpointUrl: `http://127.0.0.1:${port}/nothing`, accessToken: token });
    const error = await failure(target.doGenerate!({ messages }, context()));
    expect(error).toBeInstanceOf(NetworkError);
    expect(error.retryable).toBe(true);
  });
});

describe('on the OpenAI-compatible test server', () => {
  it('serves chat from its own /v1 routes and embeddings, images, audio from the registered /hf routes', async () => {
    const openAIServer = await startOpenAIServer({ seed: 3 });
    try {
      const routes = registerHuggingFaceRoutes(openAIServer);
      const chat = huggingface({ model: 'test-org/model', endpointUrl: openAIServer.url, accessToken: token });
      const result = await chat.doGenerate!({ messages }, context());
      expect(result.text).toBe(replyFor(wireMessages));
      expect(openAIServer.requests.map((request) => request.path)).toContain('/v1/chat/completions');

      const embedder = huggingface({ model: 'test-org/model', endpointUrl: `${openAIServer.url}/hf/endpoints/feature-extraction`, modalities: ['embedding'], accessToken: token });
      const inputs = ['one input', 'another input'];
      expect((await embedder.doEmbed!({ inputs }, context())).embeddings).toEqual(inputs.map((input) => expectedEmbedding(input)));

      const audio = new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]);
      const listener = huggingface({ model: 'test-org/model', endpointUrl: `${openAIServer.url}/hf/endpoints/automatic-speech-recognition`, modalities: ['transcription'], accessToken: token });
      expect((await listener.doTranscribe!({ audio }, context())).text).toBe(transcriptFor(audio));
      expect(routes.requests.map((request) => request.task)).toEqual(['feature-extraction', 'automatic-speech-recognition']);
    } finally {
      await openAIServer.close();
    }
  });
});
