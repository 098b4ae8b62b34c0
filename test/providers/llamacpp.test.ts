/**
 * The llama.cpp adapter against the real node-llama-cpp and its prebuilt CPU binary, loading the
 * GGUF model that scripts/generate-gguf-model.mjs writes. No doubles: the model is tiny and local,
 * and the cloud side is the real openai client against test/servers.
 */
import net from 'node:net';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClient } from '../../src/index.js';
import { AbortedError, InferlaneError, InvalidRequestError, ProviderError, TargetUnavailableError } from '../../src/errors.js';
import type { CallContext, ModelProgressEvent, StreamPart, TextCall } from '../../src/target.js';
import { openai } from '../../providers/openai/index.js';
import { defaultModelPath, llamacpp, type LlamacppTarget } from '../../providers/llamacpp/index.js';
import { readGgufHeader } from '../../providers/llamacpp/gguf.js';
import { expectRegeneratesCommittedModel, repoRoot } from '../helpers/models.js';
import { startOpenAIServer, type OpenAIServer } from '../servers/openai-compatible.js';

function context(signal: AbortSignal = new AbortController().signal, events: ModelProgressEvent[] = []): CallContext {
  return { signal, deadline: Date.now() + 30_000, segment: 'interactive', emit: (_name, payload) => events.push(payload) };
}
const ask = (content: string, extra: Partial<TextCall> = {}): TextCall => ({ messages: [{ role: 'user', content }], ...extra });
const dot = (a: number[], b: number[]) => a.reduce((sum, value, index) => sum + value * b[index], 0);

const scratch = mkdtempSync(join(tmpdir(), 'inferlane-gguf-'));
/** The committed model with `from` replaced by `to` (same length) somewhere in its metadata. */
function patchedModel(name: string, from: string, to: string): string {
  const bytes = readFileSync(defaultModelPath());
  const at = bytes.indexOf(Buffer.from(from));
  expect(at, from).toBeGreaterThan(0);
  Buffer.from(to).copy(bytes, at);
  const path = join(scratch, `${name}.gguf`);
  writeFileSync(path, bytes);
  return path;
}

let target: LlamacppTarget;
let server: OpenAIServer;
beforeAll(async () => {
  target = llamacpp({ id: 'device:llama' });
  // Loaded up front: a first call would spend its latency budget loading the binary and model.
  await target.load();
  server = await startOpenAIServer();
});
afterAll(async () => {
  await target.close?.();
  await server.close();
  rmSync(scratch, { recursive: true, force: true });
});

describe('the generated GGUF model', () => {
  it('is what the generator writes today, byte for byte (deterministic, committed), and small', () => {
    const size = expectRegeneratesCommittedModel('scripts/generate-gguf-model.mjs', 'inferlane-tiny-gguf', ['model.gguf'], 'model.gguf');
    expect(size).toBeLessThan(3 * 1024 * 1024);
  });

  it('is GGUF v3 with the keys llama.cpp requires, quantized Q8_0', () => {
    const header = readGgufHeader(defaultModelPath());
    expect(header.version).toBe(3);
    expect(header.metadata.get('general.architecture')).toEqual({ type: 'string', value: 'llama' });
    expect(header.metadata.get('general.file_type')).toEqual({ type: 'u32', value: 7 });
    for (const key of ['llama.context_length', 'llama.embedding_length', 'llama.block_count', 'llama.feed_forward_length', 'llama.attention.head_count'])
      expect(header.metadata.get(key)?.type, key).toBe('u32');
    expect(header.metadata.get('tokenizer.ggml.tokens')).toMatchObject({ type: 'array', elementType: 'string', length: 258 });
    expect(defaultModelPath()).toBe(join(repoRoot, 'models/inferlane-tiny-gguf/model.gguf'));
  });
});

describe('llamacpp target: loading', () => {
  it('reports model-progress while loading, then is available', async () => {
    const fresh = llamacpp({ id: 'device:fresh' });
    try {
      expect(await fresh.available!(new AbortController().signal)).toBe('downloadable');
      const events: ModelProgressEvent[] = [];
      await fresh.doGenerate!(ask('hi', { maxOutputTokens: 2 }), context(undefined, events));
      const statuses = events.map((event) => event.status);
      expect(statuses[0]).toBe('initiate');
      expect(statuses.at(-1)).toBe('ready');
      const partial = events.filter((event) => event.status === 'progress' && event.progress! > 0 && event.progress! < 1);
      expect(partial.length).toBeGreaterThan(0);
      expect(events.every((event) => event.target === 'device:fresh')).toBe(true);
      expect(await fresh.available!(new AbortController().signal)).toBe('available');
    } finally {
      await fresh.close?.();
    }
  });

  it('reads its KV geometry and context from the GGUF metadata (grouped-query: 2 KV heads for 4 query heads)', () => {
    expect(target.kv).toMatchObject({ layers: 2, kvHeads: 2, headDim: 80, bytesPerValue: 2, weightsBytes: readFileSync(defaultModelPath()).length });
    expect(target.limits?.contextTokens).toBe(4096);
    expect(target.kind).toBe('device');
  });

  it('a missing model file: unavailable, and a TargetUnavailableError that says so', async () => {
    const missing = llamacpp({ modelPath: join(scratch, 'nothing.gguf') });
    expect(await missing.available!(new AbortController().signal)).toBe('unavailable');
    expect(missing.kv).toBeUndefined();
    const error = await missing.doGenerate!(ask('hi'), context()).catch((e) => e);
    expect(error).toBeInstanceOf(TargetUnavailableError);
    expect(error.message).toContain('does not exist');
  });

  it('a missing package: unavailable, and the error says how to add it', async () => {
    const absent = llamacpp({ importLibrary: () => Promise.reject(new Error("Cannot find package 'node-llama-cpp'")) });
    expect(await absent.available!(new AbortController().signal)).toBe('unavailable');
    const error = await absent.doGenerate!(ask('hi'), context()).catch((e) => e);
    expect(error).toBeInstanceOf(TargetUnavailableError);
    expect(error.message).toContain('npm install node-llama-cpp@3.21.1');
  });

  it('a GGUF without feed_forward_length is refused before llama.cpp sees it (llama.cpp would abort the process)', async () => {
    const broken = llamacpp({ modelPath: patchedModel('no-ffn', 'llama.feed_forward_length', 'llama.feed_forward_lengtX') });
    expect(await broken.available!(new AbortController().signal)).toBe('unavailable');
    const error = await broken.doGenerate!(ask('hi'), context()).catch((e) => e);
    expect(error).toBeInstanceOf(TargetUnavailableError);
    expect(error.message).toContain('llama.feed_forward_length is missing');
  });

  it('a file llama.cpp refuses: the typed error carries the reason llama.cpp logged', async () => {
    const refused = llamacpp({ modelPath: patchedModel('bad-pre', 'gpt-2', 'gpt-9') });
    try {
      const error = await refused.doGenerate!(ask('hi'), context()).catch((e) => e);
      expect(error).toBeInstanceOf(TargetUnavailableError);
      expect(error.message).toContain("unknown pre-tokenizer type: 'gpt-9'");
    } finally {
      await refused.close?.();
    }
  });

  it('rejects a context under 2,048 tokens (chat templates alone can fill a small one)', () => {
    expect(() => llamacpp({ contextTokens: 256 })).toThrow(InvalidRequestError);
  });
});

describe('llamacpp target: text', () => {
  it('generates, reports usage, and stops at maxOutputTokens with finishReason length', async () => {
    const result = await target.doGenerate!(ask('Where did my answer run?', { maxOutputTokens: 12 }), context());
    expect(result.text.length).toBeGreaterThan(0);
    expect(result.finishReason).toBe('length');
    expect(result.usage).toMatchObject({ outputTokens: 12 });
    expect(result.usage!.inputTokens).toBeGreaterThan('Where did my answer run?'.length);
    expect(result.modelId).toBe('inferlane-tiny-gguf');
  });

  it('is deterministic when greedy, and a seed makes sampling repeatable', async () => {
    const greedy = (await target.doGenerate!(ask('same', { maxOutputTokens: 10, temperature: 0 }), context())).text;
    expect((await target.doGenerate!(ask('same', { maxOutputTokens: 10, temperature: 0 }), context())).text).toBe(greedy);
    const sampled = (seed: number) => target.doGenerate!(ask('same', { maxOutputTokens: 16, temperature: 1, seed }), context()).then((r) => r.text);
    expect(await sampled(7)).toBe(await sampled(7));
  });

  it('stops at a stop sequence: the text before it, finishReason stop', async () => {
    const full = await target.doGenerate!(ask('Tell me', { maxOutputTokens: 12, temperature: 0 }), context());
    const cutAt = full.text.indexOf('e');
    expect(cutAt).toBeGreaterThan(0);
    const stopped = await target.doGenerate!(ask('Tell me', { maxOutputTokens: 12, temperature: 0, stop: ['e'] }), context());
    expect(stopped.text).toBe(full.text.slice(0, cutAt));
    expect(stopped.finishReason).toBe('stop');
  });

  it('streams the same text as it generates, then usage and finish', async () => {
    const call = ask('Stream to me', { maxOutputTokens: 16, temperature: 0 });
    const whole = await target.doGenerate!(call, context());
    const parts: StreamPart[] = [];
    for await (const part of target.doStream!(call, context())) parts.push(part);
    const deltas = parts.filter((part): part is Extract<StreamPart, { type: 'text-delta' }> => part.type === 'text-delta');
    expect(deltas.length).toBeGreaterThan(1);
    expect(deltas.map((part) => part.text).join('')).toBe(whole.text);
    expect(parts.at(-1)).toMatchObject({ type: 'finish', finishReason: 'length', usage: { outputTokens: 16 } });
    expect(parts.at(-2)?.type).toBe('usage');
  });

  it('an abort mid-generation stops llama.cpp at once: AbortedError, and far fewer tokens than asked', async () => {
    const controller = new AbortController();
    const before = target.stats().generatedTokens;
    const seen: string[] = [];
    const error = await (async () => {
      for await (const part of target.doStream!(ask('Talk for a long time', { maxOutputTokens: 2000 }), context(controller.signal))) {
        if (part.type === 'text-delta') {
          seen.push(part.text);
          controller.abort();
        }
      }
    })().catch((e) => e);
    expect(error).toBeInstanceOf(AbortedError);
    expect(seen.length).toBeGreaterThan(0);
    expect(target.stats().generatedTokens - before).toBeLessThan(200);
  });

  it('leaving a stream early cancels its generation', async () => {
    const before = target.stats().generatedTokens;
    for await (const part of target.doStream!(ask('Go on', { maxOutputTokens: 2000 }), context())) if (part.type === 'text-delta') break;
    // The next call runs only once the first has let go of the model (one evaluation at a time).
    await target.doGenerate!(ask('next', { maxOutputTokens: 1 }), context());
    expect(target.stats().generatedTokens - before).toBeLessThan(200);
  });

  it('a call aborted before it starts rejects at once', async () => {
    const controller = new AbortController();
    controller.abort();
    await expect(target.doGenerate!(ask('hi'), context(controller.signal))).rejects.toBeInstanceOf(AbortedError);
  });

  it('names the field of bad input', async () => {
    const error = await target.doGenerate!({ messages: [] }, context()).catch((e) => e);
    expect(error).toBeInstanceOf(InvalidRequestError);
    expect(error.field).toBe('messages');
  });
});

describe('llamacpp target: JSON schema output (provisional providerOptions.llamacpp.jsonSchema)', () => {
  const schema = {
    type: 'object',
    properties: { ok: { type: 'boolean' }, segment: { enum: ['realtime', 'interactive', 'batch'] } },
    required: ['ok', 'segment'],
  };

  it('constrains the answer: it parses and validates against the schema', async () => {
    const result = await target.doGenerate!(ask('Answer in JSON', { maxOutputTokens: 40, providerOptions: { llamacpp: { jsonSchema: schema } } }), context());
    const value = JSON.parse(result.text);
    expect(Object.keys(value).sort()).toEqual(['ok', 'segment']);
    expect(typeof value.ok).toBe('boolean');
    expect(schema.properties.segment.enum).toContain(value.segment);
  });

  it('an answer cut before the JSON ends is a typed error, not a half object', async () => {
    const error = await target.doGenerate!(ask('Answer in JSON', { maxOutputTokens: 3, providerOptions: { llamacpp: { jsonSchema: schema } } }), context()).catch((e) => e);
    expect(error).toBeInstanceOf(ProviderError);
    expect(error.message).toContain('cut at maxOutputTokens');
    expect(error.retryable).toBe(false);
  });

  it('a schema that is not an object is refused, naming the field', async () => {
    const error = await target.doGenerate!(ask('x', { providerOptions: { llamacpp: { jsonSchema: 'object' } } }), context()).catch((e) => e);
    expect(error).toBeInstanceOf(InvalidRequestError);
    expect(error.field).toBe('providerOptions.llamacpp.jsonSchema');
  });
});

describe('llamacpp target: embeddings', () => {
  it('one unit vector per input, in order; equal texts equal vectors; similar texts closer', async () => {
    const inputs = ['the router reads the budget', 'the router reads a budget', '1234 5678 !!!', 'the router reads the budget'];
    const { embeddings, usage } = await target.doEmbed!({ inputs }, context());
    expect(embeddings).toHaveLength(4);
    for (const vector of embeddings) {
      expect(vector).toHaveLength(320);
      expect(Math.hypot(...vector)).toBeCloseTo(1, 5);
    }
    expect(embeddings[3]).toEqual(embeddings[0]);
    expect(dot(embeddings[0], embeddings[1])).toBeGreaterThan(dot(embeddings[0], embeddings[2]));
    expect(usage?.inputTokens).toBeGreaterThan(0);
  });

  it('takes `dimensions` (a unit vector of that width)', async () => {
    const { embeddings } = await target.doEmbed!({ inputs: ['hello, world: 42'], dimensions: 64 }, context());
    expect(embeddings[0]).toHaveLength(64);
    expect(Math.hypot(...embeddings[0])).toBeCloseTo(1, 5);
  });
});

describe('llamacpp target through the client', () => {
  const cloud = (baseURL: string) => openai({ id: 'cloud', model: 'm', baseURL, apiKey: 'test', embeddingModel: 'e', cost: { inputPerMTok: 0.4, outputPerMTok: 1.6 } });

  it('device-only requests are answered here with zero network connections', async () => {
    server.reset();
    const client = createClient({ targets: [cloud(server.baseURL), target] });
    const connections: unknown[] = [];
    const connect = net.Socket.prototype.connect;
    const fetch = globalThis.fetch;
    net.Socket.prototype.connect = function (this: net.Socket, ...args: unknown[]) {
      connections.push(args[0]);
      return (connect as (...a: unknown[]) => net.Socket).apply(this, args);
    } as typeof connect;
    globalThis.fetch = ((...args: Parameters<typeof fetch>) => (connections.push(args[0]), fetch(...args))) as typeof fetch;
    try {
      const result = await client.generate({ prompt: 'my secret', privacy: 'device-only', maxOutputTokens: 8 });
      const embedded = await client.embed({ input: 'private text', privacy: 'device-only' });
      expect(result.route.target).toBe('device:llama');
      expect(embedded.route.target).toBe('device:llama');
    } finally {
      net.Socket.prototype.connect = connect;
      globalThis.fetch = fetch;
    }
    expect(connections).toEqual([]);
    expect(server.requests).toHaveLength(0);
  });

  it('cloud to device when the cloud is offline', async () => {
    const closed = await startOpenAIServer();
    const deadURL = closed.baseURL;
    await closed.close();
    const client = createClient({ targets: [cloud(deadURL), target] });
    const result = await client.generate({ prompt: 'hello', targets: ['cloud', 'device:llama'], maxOutputTokens: 8 });
    expect(result.route.target).toBe('device:llama');
    expect(result.route.attempts[0]).toMatchObject({ target: 'cloud', code: 'NETWORK_ERROR' });
    expect(result.text.length).toBeGreaterThan(0);
  });

  it('device to cloud when the prompt\'s KV cache does not fit the memory budget', async () => {
    server.reset();
    // 4 MiB: the weights (1.3 MB) and about 1,200 tokens of cache fit under the 70% rule.
    const small = llamacpp({ id: 'device:small', memoryBudgetBytes: 4 * 1024 * 1024 });
    await small.load();
    const client = createClient({ targets: [small, cloud(server.baseURL)] });
    const short = await client.generate({ prompt: 'short', maxOutputTokens: 4 });
    expect(short.route.target).toBe('device:small');
    const long = await client.generate({ prompt: 'a long question '.repeat(400), maxOutputTokens: 4 });
    expect(long.route.target).toBe('cloud');
    expect(client.explain({ prompt: 'a long question '.repeat(400) }).rejected).toEqual([expect.objectContaining({ target: 'device:small', code: 'kv-memory' })]);
    await small.close?.();
  });

  it('errors are inferlane errors with the target id', async () => {
    const missing = llamacpp({ id: 'device:gone', modelPath: join(scratch, 'gone.gguf') });
    const error = await missing.doEmbed!({ inputs: ['x'] }, context()).catch((e) => e);
    expect(InferlaneError.isInstance(error)).toBe(true);
    expect(error.code).toBe('TARGET_UNAVAILABLE');
    expect(error.target).toBe('device:gone');
  });
});
