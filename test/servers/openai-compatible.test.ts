import OpenAI, { APIConnectionError, APIUserAbortError, RateLimitError, toFile } from 'openai';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  cosineSimilarity,
  expectedEmbedding,
  startOpenAIServer,
  tinyPngBase64,
  transcriptFor,
  type OpenAIServer,
} from './openai-compatible.js';

let server: OpenAIServer;
let client: OpenAI;
let clock = 1_700_000_000_000;

beforeAll(async () => {
  server = await startOpenAIServer({ seed: 42, now: () => clock, models: ['gpt-4.1-mini', 'text-embedding-3-small'] });
  client = new OpenAI({ baseURL: server.baseURL, apiKey: 'sk-test-secret-key-123456', maxRetries: 0, logLevel: 'off' });
});
afterEach(() => server.reset());
afterAll(() => server.close());

const words = (count: number, salt = '') => Array.from({ length: count }, (_, index) => `w${salt}${index % 97}`).join(' ');

describe('chat completions', () => {
  it('answers JSON with the echoed last user message and usage', async () => {
    const completion = await client.chat.completions.create({
      model: 'gpt-4.1-mini',
      messages: [
        { role: 'system', content: 'be brief' },
        { role: 'user', content: 'first question' },
        { role: 'assistant', content: 'ok' },
        { role: 'user', content: 'hello   there world' },
      ],
    });
    expect(completion.choices[0].message.content).toBe('echo: hello there world');
    expect(completion.choices[0].finish_reason).toBe('stop');
    const prompt = 'system\nbe brief\nuser\nfirst question\nassistant\nok\nuser\nhello   there world\n';
    expect(completion.usage?.prompt_tokens).toBe(Math.ceil(prompt.length / 4));
    expect(completion.usage?.completion_tokens).toBe(Math.ceil('echo: hello there world'.length / 4));
    expect(completion.usage?.prompt_tokens_details?.cached_tokens).toBe(0);
    const [recorded] = server.requests;
    expect(recorded.route).toBe('/chat/completions');
    expect((recorded.body as { messages: unknown[] }).messages).toHaveLength(4);
    expect(recorded.headers.authorization).toBe('Bearer sk-test-secret-key-123456');
    expect(recorded.aborted).toBe(false);
  });

  it('lets a header pick the reply and cuts it at max_completion_tokens', async () => {
    const picked = await client.chat.completions.create(
      { model: 'gpt-4.1-mini', messages: [{ role: 'user', content: 'x' }] },
      { headers: { 'x-test-reply': encodeURIComponent('Bonjour, ça va?') } },
    );
    expect(picked.choices[0].message.content).toBe('Bonjour, ça va?');
    const cut = await client.chat.completions.create({
      model: 'gpt-4.1-mini',
      max_completion_tokens: 2,
      messages: [{ role: 'user', content: 'one two three four five six' }],
    });
    expect(cut.choices[0].finish_reason).toBe('length');
    expect(cut.choices[0].message.content).toBe('echo: on');
  });

  it('streams word deltas, then the finish chunk, then a usage chunk', async () => {
    const stream = await client.chat.completions.create({
      model: 'gpt-4.1-mini',
      stream: true,
      stream_options: { include_usage: true },
      messages: [{ role: 'user', content: 'alpha beta gamma' }],
    });
    const deltas: string[] = [];
    const finishes: (string | null)[] = [];
    let usage: OpenAI.CompletionUsage | null | undefined;
    for await (const chunk of stream) {
      for (const choice of chunk.choices) {
        if (choice.delta.content) deltas.push(choice.delta.content);
        if (choice.finish_reason) finishes.push(choice.finish_reason);
      }
      if (chunk.usage) usage = chunk.usage;
    }
    expect(deltas).toEqual(['echo: ', 'alpha ', 'beta ', 'gamma']);
    expect(finishes).toEqual(['stop']);
    expect(usage?.completion_tokens).toBe(Math.ceil('echo: alpha beta gamma'.length / 4));
  });

  it('rejects a body without messages with an OpenAI-shaped 400 naming the field', async () => {
    const error = await client.chat.completions.create({ model: 'gpt-4.1-mini', messages: [] }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(OpenAI.BadRequestError);
    expect((error as InstanceType<typeof OpenAI.BadRequestError>).param).toBe('messages');
  });
});

describe('prompt cache emulation', () => {
  it('reports cached tokens in 128-token steps for a repeated long prefix under the same key', async () => {
    const system = words(1400); // well above 1,024 tokens
    const ask = (question: string, key: string) =>
      client.chat.completions.create({
        model: 'gpt-4.1-mini',
        prompt_cache_key: key,
        messages: [
          { role: 'system', content: system },
          { role: 'user', content: question },
        ],
      });
    const cold = await ask('first', 'user-1');
    expect(cold.usage?.prompt_tokens).toBeGreaterThan(1024);
    expect(cold.usage?.prompt_tokens_details?.cached_tokens).toBe(0);
    const warm = await ask('second, a different question', 'user-1');
    const cached = warm.usage!.prompt_tokens_details!.cached_tokens!;
    expect(cached).toBeGreaterThanOrEqual(1024);
    expect(cached % 128).toBe(0);
    // The shared prefix is the system message; a cached length never covers the differing tail.
    expect(cached).toBeLessThanOrEqual(Math.floor(('system\n' + system + '\nuser\n').length / 4));
    const otherKey = await ask('second, a different question', 'user-2');
    expect(otherKey.usage?.prompt_tokens_details?.cached_tokens).toBe(0);
  });

  it('forgets a prefix after the idle TTL on the injected clock', async () => {
    const messages = [{ role: 'user' as const, content: words(1200, 't') }];
    await client.chat.completions.create({ model: 'gpt-4.1-mini', messages });
    clock += 301_000;
    const afterIdle = await client.chat.completions.create({ model: 'gpt-4.1-mini', messages });
    expect(afterIdle.usage?.prompt_tokens_details?.cached_tokens).toBe(0);
    const again = await client.chat.completions.create({ model: 'gpt-4.1-mini', messages });
    expect(again.usage?.prompt_tokens_details?.cached_tokens).toBeGreaterThanOrEqual(1024);
  });

  it('keeps one cache per replica and records cache_control breakpoints', async () => {
    server.setReplicas(2);
    const content = [{ type: 'text' as const, text: words(1200, 'r'), cache_control: { type: 'ephemeral' } }];
    const onReplica = (replica: number) =>
      new OpenAI({ baseURL: server.replicaURL(replica), apiKey: 'sk-test', maxRetries: 0 }).chat.completions.create({
        model: 'gpt-4.1-mini',
        messages: [{ role: 'user', content: content as OpenAI.ChatCompletionContentPartText[] }],
      });
    await onReplica(0);
    const otherReplica = await onReplica(1);
    const sameReplica = await onReplica(0);
    expect(otherReplica.usage?.prompt_tokens_details?.cached_tokens).toBe(0);
    expect(sameReplica.usage?.prompt_tokens_details?.cached_tokens).toBeGreaterThanOrEqual(1024);
    expect(server.requests.map((request) => request.replica)).toEqual([0, 1, 0]);
    expect(server.requests[0].cacheBreakpoints).toEqual([{ message: 0, part: 0, type: 'ephemeral', ttl: undefined }]);
    server.setReplicas(1);
    // Pinned past the configured count: a fresh replica of its own, so a cold cache.
    const extra = await onReplica(3);
    expect(extra.usage?.prompt_tokens_details?.cached_tokens).toBe(0);
    expect(server.requests.at(-1)!.replica).toBe(3);
  });

  it('routes unpinned /v1 requests to a replica by prefix and key, so repeats stay warm', async () => {
    server.setReplicas(4);
    const prefix = words(1100, 'h');
    const ask = (key: string, question: string) =>
      client.chat.completions.create({
        model: 'gpt-4.1-mini',
        prompt_cache_key: key,
        messages: [
          { role: 'system', content: prefix },
          { role: 'user', content: question },
        ],
      });
    for (let index = 0; index < 8; index++) await ask(`key-${index}`, 'first');
    const warm = await Promise.all(Array.from({ length: 8 }, (_, index) => ask(`key-${index}`, 'second')));
    expect(warm.every((answer) => answer.usage!.prompt_tokens_details!.cached_tokens! >= 1024)).toBe(true);
    const replicaOf = new Map<string, Set<number>>();
    for (const request of server.requests) {
      const key = (request.body as { prompt_cache_key: string }).prompt_cache_key;
      replicaOf.set(key, (replicaOf.get(key) ?? new Set()).add(request.replica));
    }
    expect([...replicaOf.values()].every((replicas) => replicas.size === 1)).toBe(true);
    // Eight keys over four replicas: the hash spreads them.
    expect(new Set(server.requests.map((request) => request.replica)).size).toBeGreaterThan(1);
    server.setReplicas(1);
  });

  it('answers a cache hit sooner under the first-token timing model', async () => {
    const timed = await startOpenAIServer({ timing: { firstTokenBaseMs: 5, perUncachedTokenMs: 0.1 } });
    try {
      const timedClient = new OpenAI({ baseURL: timed.baseURL, apiKey: 'sk-test', maxRetries: 0 });
      const messages = [{ role: 'user' as const, content: words(2000, 'ttft') }];
      await timedClient.chat.completions.create({ model: 'gpt-4.1-mini', messages });
      await timedClient.chat.completions.create({ model: 'gpt-4.1-mini', messages });
      const [cold, warm] = timed.requests;
      // Cold: 5 + ~2,000 uncached tokens x 0.1 ms; warm pays only for the tokens past the cached prefix.
      expect(cold.firstTokenMs).toBeCloseTo(5 + cold.promptTokens! * 0.1, 6);
      expect(warm.firstTokenMs).toBeCloseTo(5 + (warm.promptTokens! - warm.cachedTokens!) * 0.1, 6);
      expect(warm.cachedTokens).toBeGreaterThanOrEqual(1920);
      // The wait really happens (timers never fire early); an upper bound would depend on machine load.
      expect(cold.finishedAt! - cold.receivedAt).toBeGreaterThanOrEqual(cold.firstTokenMs! - 1);
    } finally {
      await timed.close();
    }
  });
});

describe('embeddings, images, audio, models', () => {
  it('returns the deterministic vector of each input, in order, in both encodings', async () => {
    const inputs = ['the cat sat on the mat', 'the cat sat on a mat', 'quantum chromodynamics lecture'];
    const base64 = await client.embeddings.create({ model: 'text-embedding-3-small', input: inputs });
    const floats = await client.embeddings.create({ model: 'text-embedding-3-small', input: inputs, encoding_format: 'float', dimensions: 16 });
    expect(base64.data.map((item) => item.embedding)).toEqual(inputs.map((text) => expectedEmbedding(text, 8)));
    expect(floats.data.map((item) => item.embedding)).toEqual(inputs.map((text) => expectedEmbedding(text, 16)));
    const [cat, cat2, physics] = floats.data.map((item) => item.embedding);
    expect(cosineSimilarity(cat, cat2)).toBeGreaterThan(cosineSimilarity(cat, physics));
    expect(base64.usage.prompt_tokens).toBe(inputs.reduce((sum, text) => sum + Math.ceil(text.length / 4), 0));
    expect(server.requests[0].body).toMatchObject({ encoding_format: 'base64' });
  });

  it('generates a PNG as b64_json', async () => {
    const image = await client.images.generate({ model: 'gpt-image-1', prompt: 'a red dot', n: 2 });
    expect(image.data).toHaveLength(2);
    const bytes = Buffer.from(image.data![0].b64_json!, 'base64');
    expect(bytes.subarray(1, 4).toString('ascii')).toBe('PNG');
    expect(image.data![0].b64_json).toBe(tinyPngBase64);
  });

  it('transcribes multipart audio into text derived from its bytes, and records the field names', async () => {
    const audio = Buffer.from(Array.from({ length: 5000 }, (_, index) => index % 251));
    const result = await client.audio.transcriptions.create({ model: 'whisper-1', file: await toFile(audio, 'clip.wav') });
    expect(result.text).toBe(transcriptFor(audio));
    expect(server.requests[0].multipartFields).toEqual(expect.arrayContaining(['file', 'model']));
    expect(server.requests[0].body).toMatchObject({ model: 'whisper-1', file: { filename: 'clip.wav', bytes: 5000 } });
  });

  it('speaks: returns audio bytes whose length follows the input', async () => {
    const short = Buffer.from(await (await client.audio.speech.create({ model: 'gpt-4o-mini-tts', voice: 'alloy', input: 'hi', response_format: 'wav' })).arrayBuffer());
    const long = Buffer.from(await (await client.audio.speech.create({ model: 'gpt-4o-mini-tts', voice: 'alloy', input: 'hello there', response_format: 'wav' })).arrayBuffer());
    expect(short.subarray(0, 4).toString('ascii')).toBe('RIFF');
    expect(long.length).toBeGreaterThan(short.length);
  });

  it('lists models', async () => {
    const ids: string[] = [];
    for await (const model of client.models.list()) ids.push(model.id);
    expect(ids).toEqual(['gpt-4.1-mini', 'text-embedding-3-small']);
    expect((await client.models.retrieve('gpt-4.1-mini')).id).toBe('gpt-4.1-mini');
  });
});

describe('faults', () => {
  it('answers a scripted 429 with retry-after headers, which the client honours on retry', async () => {
    server.script('/chat/completions', { status: 429, retryAfterMs: 30 });
    const error = await client.chat.completions.create({ model: 'gpt-4.1-mini', messages: [{ role: 'user', content: 'x' }] }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(RateLimitError);
    const headers = (error as RateLimitError).headers;
    expect(headers.get('retry-after')).toBe('1');
    expect(headers.get('retry-after-ms')).toBe('30');
    expect((error as RateLimitError).code).toBe('rate_limit_exceeded');

    server.reset();
    server.script('/chat/completions', [{ status: 429, retryAfterMs: 50 }]);
    const retrying = new OpenAI({ baseURL: server.baseURL, apiKey: 'sk-test', maxRetries: 1 });
    const answer = await retrying.chat.completions.create({ model: 'gpt-4.1-mini', messages: [{ role: 'user', content: 'after wait' }] });
    expect(answer.choices[0].message.content).toBe('echo: after wait');
    const [first, second] = server.requests;
    expect([first.status, second.status]).toEqual([429, 200]);
    expect(second.receivedAt - first.finishedAt!).toBeGreaterThanOrEqual(45);
  });

  it('hangs until the client aborts, and records that the connection closed', async () => {
    const controller = new AbortController();
    const pending = client.chat.completions
      .create({ model: 'gpt-4.1-mini', messages: [{ role: 'user', content: 'x' }] }, { signal: controller.signal, headers: { 'x-test-script': 'hang' } })
      .catch((caught: unknown) => caught);
    await server.waitForRequests(1);
    controller.abort();
    expect(await pending).toBeInstanceOf(APIUserAbortError);
    await server.waitFor((requests) => requests[0].finishedAt !== undefined);
    expect(server.requests[0]).toMatchObject({ aborted: true, fault: 'hang' });
    expect(server.requests[0].status).toBeUndefined();
  });

  it('resets the connection', async () => {
    server.script('*', { reset: true });
    const error = await client.models.list().catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(APIConnectionError);
    expect(server.requests[0].fault).toBe('reset');
  });

  it('truncates a stream: chunks arrive, then the body ends without a finish chunk or [DONE]', async () => {
    server.script('/chat/completions', { stream: { truncateAfterChunks: 3 } });
    const stream = await client.chat.completions.create({ model: 'gpt-4.1-mini', stream: true, messages: [{ role: 'user', content: 'a b c d e f' }] });
    const chunks: OpenAI.ChatCompletionChunk[] = [];
    for await (const chunk of stream) chunks.push(chunk);
    expect(chunks).toHaveLength(3);
    expect(chunks.some((chunk) => chunk.choices[0]?.finish_reason)).toBe(false);
  });

  it('breaks a stream with a malformed chunk, or a reset mid-stream', async () => {
    const consume = async (script: string) => {
      const stream = await client.chat.completions.create(
        { model: 'gpt-4.1-mini', stream: true, messages: [{ role: 'user', content: 'a b c d e f' }] },
        { headers: { 'x-test-script': script } },
      );
      const texts: string[] = [];
      try {
        for await (const chunk of stream) texts.push(chunk.choices[0]?.delta.content ?? '');
      } catch (error) {
        return { texts, error };
      }
      return { texts, error: undefined };
    };
    const malformed = await consume('malformed');
    expect(malformed.error).toBeInstanceOf(Error);
    expect(malformed.texts).toEqual(['']);
    const reset = await consume(JSON.stringify({ stream: { resetAfterChunks: 3, interChunkMs: 1 } }));
    expect(reset.error).toBeDefined();
    expect(reset.texts.join('')).toBe('echo: a ');
  });

  it('draws seeded latencies and serves steps in queue order', async () => {
    const draws: number[] = [];
    server.script('/embeddings', (_request, random) => {
      const ms = 5 + random() * 10;
      draws.push(ms);
      return { latencyMs: ms };
    });
    for (let index = 0; index < 3; index++) await client.embeddings.create({ model: 'text-embedding-3-small', input: 'x' });
    server.requests.forEach((request, index) => expect(request.finishedAt! - request.receivedAt).toBeGreaterThanOrEqual(draws[index] - 1));

    server.reset();
    server.script('/models', [{ status: 500, times: 2 }, { status: 404 }]);
    const statuses: number[] = [];
    for (let index = 0; index < 4; index++) statuses.push(await client.models.list().then(() => 200, (error: { status: number }) => error.status));
    expect(statuses).toEqual([500, 500, 404, 200]);
  });

  it('delays the first chunk and spaces the rest', async () => {
    const started = performance.now();
    const stream = await client.chat.completions.create(
      { model: 'gpt-4.1-mini', stream: true, messages: [{ role: 'user', content: 'a b c' }] },
      { headers: { 'x-test-script': JSON.stringify({ stream: { firstChunkDelayMs: 60, interChunkMs: 15 } }) } },
    );
    const arrivals: number[] = [];
    for await (const chunk of stream) if (chunk.choices[0]?.delta.content) arrivals.push(performance.now() - started);
    expect(arrivals).toHaveLength(4);
    expect(arrivals[0]).toBeGreaterThanOrEqual(55);
    // Three gaps of 15 ms between the four content chunks.
    expect(arrivals[3] - arrivals[0]).toBeGreaterThanOrEqual(40);
  });

  it('charges embeddings per request and per input under the cost model', async () => {
    const costly = await startOpenAIServer({ embeddingCost: { perRequestMs: 10, perInputMs: 10 } });
    try {
      const costlyClient = new OpenAI({ baseURL: costly.baseURL, apiKey: 'sk-test', maxRetries: 0 });
      await costlyClient.embeddings.create({ model: 'text-embedding-3-small', input: ['a', 'b', 'c', 'd', 'e'] });
      await costlyClient.embeddings.create({ model: 'text-embedding-3-small', input: 'a' });
      const [many, one] = costly.requests.map((request) => request.finishedAt! - request.receivedAt);
      expect(many).toBeGreaterThanOrEqual(58);
      expect(one).toBeGreaterThanOrEqual(18);
    } finally {
      await costly.close();
    }
  });

  it('holds requests beyond maxConcurrent until a slot frees', async () => {
    const limited = await startOpenAIServer({ maxConcurrent: 2 });
    try {
      const limitedClient = new OpenAI({ baseURL: limited.baseURL, apiKey: 'sk-test', maxRetries: 0 });
      let peak = 0;
      limited.onRequest(() => queueMicrotask(() => (peak = Math.max(peak, limited.active))));
      limited.script('/embeddings', { latencyMs: 20, times: 6 });
      const started = performance.now();
      await Promise.all(Array.from({ length: 6 }, () => limitedClient.embeddings.create({ model: 'text-embedding-3-small', input: 'x' })));
      const elapsed = performance.now() - started;
      expect(peak).toBeLessThanOrEqual(2);
      // Six requests that each hold a slot for 20 ms, two slots: at least three rounds.
      expect(elapsed).toBeGreaterThanOrEqual(58);
      expect(limited.requests.every((request) => request.status === 200)).toBe(true);
    } finally {
      await limited.close();
    }
  });
});
