/**
 * The transformers.js adapter against the real library and onnxruntime-node, loading the
 * model that scripts/generate-model.mjs writes. No doubles: the model is tiny and local.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectRegeneratesCommittedModel } from '../helpers/models.js';
import { AbortedError, InferlaneError, InvalidRequestError, TargetUnavailableError } from '../../src/errors.js';
import type { CallContext, ModelProgressEvent, StreamPart, TextCall } from '../../src/target.js';
import { defaultModelPath, transformers, type TransformersTarget } from '../../providers/transformers/index.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const corpusWords = new Set(
  readFileSync(join(root, 'scripts/corpus.txt'), 'utf8')
    .toLowerCase()
    .match(/[a-z']+/g),
);

function context(signal: AbortSignal = new AbortController().signal, events: ModelProgressEvent[] = []): CallContext {
  return { signal, deadline: Date.now() + 30_000, segment: 'interactive', emit: (_name, payload) => events.push(payload) };
}
const ask = (content: string, extra: Partial<TextCall> = {}): TextCall => ({ messages: [{ role: 'user', content }], ...extra });
const cosine = (a: number[], b: number[]) => a.reduce((sum, value, index) => sum + value * b[index], 0);

let target: TransformersTarget;
beforeAll(async () => {
  target = transformers();
  await target.load();
});
afterAll(async () => {
  await target.close?.();
});

describe('the generated model', () => {
  it('is what the generator writes today, byte for byte (deterministic, committed)', () => {
    expect(expectRegeneratesCommittedModel('scripts/generate-model.mjs', 'inferlane-tiny-chat', ['config.json', 'generation_config.json', 'tokenizer.json', 'tokenizer_config.json', 'onnx/model.onnx'])).toBeLessThan(3 * 1024 * 1024);
  });

  it('defaultModelPath() finds the models folder of this package', () => {
    expect(defaultModelPath()).toBe(join(root, 'models') + '/');
  });
});

describe('transformers target: text', () => {
  it('generates readable text made of the corpus words, and ends at the end token', async () => {
    const result = await target.doGenerate!(ask('Where did my answer run?'), context());
    const words = result.text.toLowerCase().match(/[a-z']+/g) ?? [];
    expect(words.length).toBeGreaterThanOrEqual(3);
    for (const word of words) expect(corpusWords.has(word), word).toBe(true);
    expect(result.finishReason).toBe('stop');
    expect(result.usage?.outputTokens).toBeGreaterThan(0);
    expect(result.usage?.inputTokens).toBeGreaterThan(3);
    expect(result.modelId).toBe('inferlane-tiny-chat');
  });

  it('stops at maxOutputTokens with finishReason length', async () => {
    const result = await target.doGenerate!(ask('hi', { maxOutputTokens: 3 }), context());
    expect(result.finishReason).toBe('length');
    expect(result.usage?.outputTokens).toBe(3);
  });

  it('samples when asked (temperature above 0): not always the greedy answer, within the token limit', async () => {
    const greedy = await target.doGenerate!(ask('Tell me about the router.', { maxOutputTokens: 12 }), context());
    expect((await target.doGenerate!(ask('Tell me about the router.', { maxOutputTokens: 12, temperature: 0 }), context())).text).toBe(greedy.text);
    const samples: string[] = [];
    for (let run = 0; run < 6; run++) {
      const result = await target.doGenerate!(ask('Tell me about the router.', { maxOutputTokens: 12, temperature: 1.5, topP: 0.95 }), context());
      // Sampled byte-level tokens need not form corpus words; the limit still holds.
      expect(result.usage?.outputTokens).toBeLessThanOrEqual(12);
      expect(['stop', 'length']).toContain(result.finishReason);
      samples.push(result.text);
    }
    // Six samples at temperature 1.5 from a model with a few hundred words: not all greedy.
    expect(samples.some((text) => text !== greedy.text)).toBe(true);
  });

  it('cuts at a stop sequence', async () => {
    const full = await target.doGenerate!(ask('hi'), context());
    const cut = full.text.indexOf(' ', 4);
    expect(cut).toBeGreaterThan(0);
    const stop = full.text.slice(cut, cut + 3);
    const result = await target.doGenerate!(ask('hi', { stop: [stop] }), context());
    expect(result.text).toBe(full.text.slice(0, cut));
    expect(result.finishReason).toBe('stop');
  });

  it('streams several text deltas that add up to the greedy answer, then usage and finish', async () => {
    const expected = await target.doGenerate!(ask('hello'), context());
    const parts: StreamPart[] = [];
    for await (const part of target.doStream!(ask('hello'), context())) parts.push(part);
    const deltas = parts.filter((part) => part.type === 'text-delta');
    expect(deltas.length).toBeGreaterThanOrEqual(2);
    expect(deltas.map((part) => (part as { text: string }).text).join('')).toBe(expected.text);
    expect(parts.at(-2)).toEqual({ type: 'usage', usage: expected.usage });
    expect(parts.at(-1)).toMatchObject({ type: 'finish', finishReason: 'stop' });
  });

  it('holds back a possible stop sequence while streaming and never emits it', async () => {
    const full = await target.doGenerate!(ask('hi'), context());
    const cut = full.text.indexOf(' ', 4);
    const stop = full.text.slice(cut, cut + 3);
    const deltas: string[] = [];
    let finish: StreamPart | undefined;
    for await (const part of target.doStream!(ask('hi', { stop: [stop] }), context())) {
      if (part.type === 'text-delta') deltas.push(part.text);
      if (part.type === 'finish') finish = part;
    }
    expect(deltas.join('')).toBe(full.text.slice(0, cut));
    expect(finish).toMatchObject({ finishReason: 'stop' });
  });

  it('runs several prompts in one pass with the same answers as one at a time', async () => {
    const calls = [ask('hi'), ask('a much longer question about the router and the device'), ask('ok', { maxOutputTokens: 2 })];
    const many = await target.doGenerateMany!(calls, context());
    expect(target.batchedGeneration).toBe(true);
    expect(many).toHaveLength(3);
    for (const [index, call] of calls.entries()) {
      const single = await target.doGenerate!(call, context());
      expect(many[index].text).toBe(single.text);
      expect(many[index].usage).toEqual(single.usage);
    }
  });

  it('answers with empty text when the model ends at once (end token first), alone, in a pass and streaming', async () => {
    // Forcing the end token as the only new token: what a sampled answer sometimes does by itself.
    // The tokenizer refuses to decode no tokens; this failed the call and, repeated, opened the circuit.
    const endsAtOnce = { providerOptions: { transformers: { max_new_tokens: 1, forced_eos_token_id: 0 } } };
    const alone = await target.doGenerate!(ask('hello', endsAtOnce), context());
    expect(alone).toMatchObject({ text: '', finishReason: 'stop', usage: { outputTokens: 0 } });
    const many = await target.doGenerateMany!([ask('hello', endsAtOnce), ask('a longer question for the device', endsAtOnce)], context());
    expect(many.map((result) => result.text)).toEqual(['', '']);
    const parts: StreamPart[] = [];
    for await (const part of target.doStream!(ask('hello', endsAtOnce), context())) parts.push(part);
    expect(parts.filter((part) => part.type === 'text-delta')).toEqual([]);
    expect(parts.at(-1)).toMatchObject({ type: 'finish', finishReason: 'stop' });
  });

  it('runs one generation at a time on the model instance', async () => {
    const calls = Array.from({ length: 4 }, (_, index) => target.doGenerate!(ask(`question ${index}`), context()));
    await Promise.resolve();
    const during = target.generationStats();
    expect(during.running + during.waiting).toBe(4);
    expect(during.running).toBeLessThanOrEqual(1);
    await Promise.all(calls);
    expect(target.generationStats()).toEqual({ running: 0, waiting: 0, maxRunning: 1 });
  });

  it('rejects a call without messages, naming the field', async () => {
    const error = await target.doGenerate!({ messages: [] }, context()).catch((caught) => caught);
    expect(error).toBeInstanceOf(InvalidRequestError);
    expect(error.field).toBe('messages');
  });
});

describe('transformers target: abort', () => {
  it('refuses a call whose signal is already aborted', async () => {
    const controller = new AbortController();
    controller.abort();
    await expect(target.doGenerate!(ask('hi'), context(controller.signal))).rejects.toBeInstanceOf(AbortedError);
  });

  it('stops a stream between tokens and ends it with an AbortedError', async () => {
    // min_new_tokens keeps the end token away, so the full answer is long.
    const long = ask('hi', { maxOutputTokens: 120, providerOptions: { transformers: { min_new_tokens: 120 } } });
    const controller = new AbortController();
    const deltas: string[] = [];
    let caught: unknown;
    try {
      for await (const part of target.doStream!(long, context(controller.signal))) {
        if (part.type === 'text-delta') {
          deltas.push(part.text);
          controller.abort();
        }
      }
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(AbortedError);
    expect((caught as InferlaneError).code).toBe('ABORTED');
    expect(deltas).toHaveLength(1);
    // The model is free again right away.
    const after = await target.doGenerate!(ask('hi'), context());
    expect(after.text.length).toBeGreaterThan(0);
    expect(target.generationStats().running).toBe(0);
  });
});

describe('transformers target: embeddings', () => {
  it('embeds many inputs in one call: unit vectors, in order, similar closer than unrelated', async () => {
    const inputs = [
      'The router sends the request to the device.',
      'A request is routed to the device by the router.',
      'Bananas grow on tall plants in warm countries.',
      'The cloud target calls a hosted model.',
    ];
    const result = await target.doEmbed!({ inputs }, context());
    expect(result.embeddings).toHaveLength(4);
    for (const vector of result.embeddings) expect(Math.hypot(...vector)).toBeCloseTo(1, 5);
    const [routerA, routerB, bananas] = result.embeddings;
    expect(cosine(routerA, routerB)).toBeGreaterThan(cosine(routerA, bananas) + 0.3);
    expect(cosine(routerA, routerB)).toBeGreaterThan(cosine(routerB, bananas) + 0.3);
    // Batching must not change a vector: padding is masked out of the mean.
    const alone = await target.doEmbed!({ inputs: [inputs[2]] }, context());
    alone.embeddings[0].forEach((value, index) => expect(value).toBeCloseTo(result.embeddings[2][index], 5));
    expect(result.usage?.inputTokens).toBeGreaterThan(inputs.length);
  });

  it('shortens vectors to `dimensions` and renormalises them (a prefix of the full vector, unit length)', async () => {
    const input = 'The router sends the request to the device.';
    const [full] = (await target.doEmbed!({ inputs: [input] }, context())).embeddings;
    const [short] = (await target.doEmbed!({ inputs: [input], dimensions: 8 }, context())).embeddings;
    expect(short).toHaveLength(8);
    expect(Math.hypot(...short)).toBeCloseTo(1, 5);
    const scale = Math.hypot(...full.slice(0, 8));
    short.forEach((value, index) => expect(value).toBeCloseTo(full[index] / scale, 5));
  });
});

describe('transformers target: loading and availability', () => {
  it('goes from downloadable to available and reports progress to the call that loads', async () => {
    const fresh = transformers({ id: 'device:fresh' });
    expect(await fresh.available!(new AbortController().signal)).toBe('downloadable');
    const events: ModelProgressEvent[] = [];
    await fresh.doGenerate!(ask('hi'), context(undefined, events));
    expect(await fresh.available!(new AbortController().signal)).toBe('available');
    expect(events.every((event) => event.target === 'device:fresh')).toBe(true);
    const modelFile = events.find((event) => event.file === 'onnx/model.onnx' && event.status === 'progress');
    expect(modelFile?.progress).toBe(1);
    expect(modelFile?.total).toBe(readFileSync(join(root, 'models/inferlane-tiny-chat/onnx/model.onnx')).length);
    expect(events.at(-1)?.status).toBe('ready');
    // A second call loads nothing.
    const again: ModelProgressEvent[] = [];
    await fresh.doGenerate!(ask('hi'), context(undefined, again));
    expect(again).toEqual([]);
    await fresh.close?.();
    expect(await fresh.available!(new AbortController().signal)).toBe('downloadable');
  });

  it('is unavailable when the model files are missing, and fails calls with TargetUnavailableError', async () => {
    const empty = mkdtempSync(join(tmpdir(), 'inferlane-empty-'));
    try {
      const missing = transformers({ id: 'device:missing', modelPath: empty });
      expect(await missing.available!(new AbortController().signal)).toBe('unavailable');
      const error = await missing.doGenerate!(ask('hi'), context()).catch((caught) => caught);
      expect(error).toBeInstanceOf(TargetUnavailableError);
      expect(error.code).toBe('TARGET_UNAVAILABLE');
      expect(error.target).toBe('device:missing');
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  });

  it('is unavailable, never throwing, when the library cannot be imported', async () => {
    const noLibrary = transformers({ id: 'device:nolib', importLibrary: () => import('@huggingface/transformers-not-installed' as string) });
    expect(await noLibrary.available!(new AbortController().signal)).toBe('unavailable');
    await expect(noLibrary.doEmbed!({ inputs: ['x'] }, context())).rejects.toBeInstanceOf(TargetUnavailableError);
    await expect(noLibrary.doGenerate!(ask('hi'), context())).rejects.toBeInstanceOf(TargetUnavailableError);
    await expect(noLibrary.doGenerateMany!([ask('hi')], context())).rejects.toBeInstanceOf(TargetUnavailableError);
    const parts = noLibrary.doStream!(ask('hi'), context());
    await expect((async () => {
      for await (const _part of parts) void _part;
    })()).rejects.toBeInstanceOf(TargetUnavailableError);
  });

  it('declares a device kind, its modalities and the KV geometry the router checks', () => {
    expect(target.kind).toBe('device');
    expect(target.modalities).toEqual(['text', 'embedding']);
    expect(target.kv).toMatchObject({ layers: 1, kvHeads: 1, bytesPerValue: 4 });
    const custom = transformers({ model: 'other', kv: { layers: 16, kvHeads: 8, headDim: 64, bytesPerValue: 2, memoryBudgetBytes: 1e9 } });
    expect(custom.id).toBe('transformers:other');
    expect(custom.modalities).toEqual(['text']);
    expect(custom.doEmbed).toBeUndefined();
    expect(custom.kv?.layers).toBe(16);
  });
});
