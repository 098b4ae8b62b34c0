/**
 * Bad input: every invalid call rejects with INVALID_REQUEST naming the field, and none reaches
 * the server.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClient, InferlaneError, type InferlaneClient } from '../../src/index.js';
import { mockTarget } from '../../src/testing.js';
import { openai } from '../../providers/openai/index.js';
import { startOpenAIServer, type OpenAIServer } from '../servers/openai-compatible.js';

let server: OpenAIServer;
let client: InferlaneClient;

beforeAll(async () => {
  server = await startOpenAIServer();
  client = createClient({ targets: [openai({ model: 'm', baseURL: server.baseURL, apiKey: 'test', imageModel: 'img', transcriptionModel: 'whisper' })] });
});
afterAll(() => server.close());

const user = [{ role: 'user' as const, content: 'hi' }];

type Call = [name: string, run: () => Promise<unknown>, field: string];

const calls: Call[] = [
  ['negative budget', () => client.generate({ messages: user, latency: -5 }), 'latency'],
  ['NaN budget', () => client.generate({ messages: user, latency: Number.NaN }), 'latency'],
  ['zero budget', () => client.generate({ messages: user, latency: 0 }), 'latency'],
  ['unknown segment', () => client.generate({ messages: user, latency: 'soon' as never }), 'latency'],
  ['empty messages', () => client.generate({ messages: [] }), 'messages'],
  ['messages not an array', () => client.generate({ messages: 'hi' as never }), 'messages'],
  ['unknown role', () => client.generate({ messages: [{ role: 'wizard' as never, content: 'x' }] }), 'messages[0].role'],
  ['content not a string', () => client.generate({ messages: [user[0], { role: 'user', content: 42 as never }] }), 'messages[1].content'],
  ['a message name that is not a string', () => client.generate({ messages: [{ role: 'user', content: 'x', name: 5 as never }] }), 'messages[0].name'],
  ['hedge that is neither a boolean nor an object', () => client.generate({ prompt: 'x', hedge: 'yes' as never }), 'hedge'],
  ['a NaN hedge delay', () => client.generate({ prompt: 'x', hedge: { afterMs: Number.NaN } }), 'hedge.afterMs'],
  ['a negative hedge delay', () => client.generate({ prompt: 'x', hedge: { afterMs: -10 } }), 'hedge.afterMs'],
  ['neither messages nor prompt', () => client.generate({}), 'messages'],
  ['both messages and prompt', () => client.generate({ messages: user, prompt: 'x' }), 'prompt'],
  ['empty prompt', () => client.generate({ prompt: '' }), 'prompt'],
  ['image options sent to generate', () => client.generate({ prompt: 'a red fox', size: '1024x1024' } as never), 'size'],
  ['unknown privacy', () => client.generate({ prompt: 'x', privacy: 'secret' as never }), 'privacy'],
  ['negative maxRetries', () => client.generate({ prompt: 'x', maxRetries: -1 }), 'maxRetries'],
  ['fractional maxOutputTokens', () => client.generate({ prompt: 'x', maxOutputTokens: 1.5 }), 'maxOutputTokens'],
  ['stop not strings', () => client.generate({ prompt: 'x', stop: [1] as never }), 'stop'],
  ['request not an object', () => client.generate(null as never), 'request'],
  ['a message that is not an object', () => client.generate({ messages: ['hi'] as never }), 'messages[0]'],
  ['system not a string', () => client.generate({ prompt: 'x', system: 7 as never }), 'system'],
  ['negative temperature', () => client.generate({ prompt: 'x', temperature: -0.1 }), 'temperature'],
  ['topP above 1', () => client.generate({ prompt: 'x', topP: 1.5 }), 'topP'],
  ['fractional seed', () => client.generate({ prompt: 'x', seed: 4.2 }), 'seed'],
  ['abortSignal that is not a signal', () => client.generate({ prompt: 'x', abortSignal: 'stop' as never }), 'abortSignal'],
  ['targets not a list of ids', () => client.generate({ prompt: 'x', targets: 'm' as never }), 'targets'],
  ['unknown preference', () => client.generate({ prompt: 'x', prefer: 'nearest' as never }), 'prefer'],
  ['providerOptions not an object', () => client.generate({ prompt: 'x', providerOptions: 'fast' as never }), 'providerOptions'],
  ['empty embed input', () => client.embed({ input: [] }), 'input'],
  ['non-string embed item', () => client.embed({ input: ['a', 7 as never] }), 'input[1]'],
  ['embed input missing', () => client.embed({} as never), 'input'],
  ['embed request not an object', () => client.embed(undefined as never), 'request'],
  ['embed fractional dimensions', () => client.embed({ input: 'a', dimensions: 2.5 }), 'dimensions'],
  ['image without prompt', () => client.generateImage({ prompt: '' }), 'prompt'],
  ['image bad size', () => client.generateImage({ prompt: 'fox', size: 'huge' }), 'size'],
  ['image zero count', () => client.generateImage({ prompt: 'fox', n: 0 }), 'n'],
  ['transcribe empty audio', () => client.transcribe({ audio: new Uint8Array(0) }), 'audio'],
  ['transcribe not bytes', () => client.transcribe({ audio: 'abc' as never }), 'audio'],
  ['transcribe empty ArrayBuffer', () => client.transcribe({ audio: new ArrayBuffer(0) }), 'audio'],
  ['speech without text', () => client.generateSpeech({ text: '' }), 'text'],
  ['speech voice that is not a string', () => client.generateSpeech({ text: 'hi', voice: 3 as never }), 'voice'],
  ['speech format that is empty', () => client.generateSpeech({ text: 'hi', format: '' }), 'format'],
  ['transcribe language that is not a string', () => client.transcribe({ audio: new Uint8Array([1]), language: ['en'] as never }), 'language'],
  ['speech request not an object', () => client.generateSpeech(null as never), 'request'],
  ['conversation with an empty id', async () => client.conversation(''), 'id'],
  ['conversation system not a string', async () => client.conversation('c', { system: 42 as never }), 'system'],
  ['conversation unknown fit mode', async () => client.conversation('c', { fit: 'trim' as never }), 'fit'],
  ['conversation summarize not a function', async () => client.conversation('c', { fit: 'summarize', summarize: 'yes' as never }), 'summarize'],
  ['conversation negative reserveOutputTokens', async () => client.conversation('c', { reserveOutputTokens: -1 }), 'reserveOutputTokens'],
  ['conversation NaN ttlMs', async () => client.conversation('c', { ttlMs: Number.NaN }), 'ttlMs'],
  ['conversation zero maxWriteAttempts', async () => client.conversation('c', { maxWriteAttempts: 0 }), 'maxWriteAttempts'],
  ['conversation unknown tokenizer', async () => client.conversation('c', { tokenizer: 'tiktoken' as never }), 'tokenizer'],
  ['conversation store without the contract', async () => client.conversation('c', { store: { get() {} } as never }), 'store'],
  ['conversation empty turn', () => client.conversation('c').send(''), 'text'],
  ['conversation turn with a bad budget', () => client.conversation('c').send('hi', { latency: -1 }), 'latency'],
  ['job without items', () => client.jobs.submit([]), 'items'],
  ['job item with an unknown role', () => client.jobs.submit([{ id: 'a', messages: [{ role: 'wizard' as never, content: 'x' }] }]), 'items[0].messages[0].role'],
  [
    'stream zero firstTokenMs',
    async () => {
      for await (const _ of client.stream({ prompt: 'x', firstTokenMs: 0 })) void _;
    },
    'firstTokenMs',
  ],
  [
    'stream bad onStreamFailure',
    async () => {
      for await (const _ of client.stream({ prompt: 'x', onStreamFailure: 'retry' as never })) void _;
    },
    'onStreamFailure',
  ],
  [
    'stream negative idleMs',
    async () => {
      for await (const _ of client.stream({ prompt: 'x', idleMs: -1 })) void _;
    },
    'idleMs',
  ],
];

describe('invalid calls', () => {
  it.each(calls)('%s rejects with INVALID_REQUEST naming the field', async (_name, run, field) => {
    const error = await run().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(InferlaneError.isInstance(error)).toBe(true);
    expect(error).toMatchObject({ code: 'INVALID_REQUEST', field });
    expect((error as Error).message).toContain(field);
  });

  it('none of them reached the server', () => {
    expect(server.requests).toHaveLength(0);
  });
});

describe('a closed client', () => {
  it('finishes calls in flight, then refuses every call with INVALID_REQUEST naming the client, and closes once', async () => {
    const closing = createClient({ targets: [openai({ model: 'm', baseURL: server.baseURL, apiKey: 'test', embeddingModel: 'e' })] });
    const inFlight = closing.generate({ prompt: 'during close' });
    await closing.close();
    expect((await inFlight).text).toContain('during close');
    const before = server.requests.length;
    const calls: Array<() => Promise<unknown>> = [
      () => closing.generate({ prompt: 'after' }),
      () => closing.embed({ input: 'after' }),
      () => closing.conversation('c').send('after'),
      async () => {
        for await (const _ of closing.stream({ prompt: 'after' })) void _;
      },
    ];
    for (const call of calls) await expect(call()).rejects.toMatchObject({ code: 'INVALID_REQUEST', field: 'client' });
    expect(server.requests.length).toBe(before);
    await expect(closing.close()).resolves.toBeUndefined();
  });
});

describe('invalid clients', () => {
  const cases: [string, () => unknown, string][] = [
    ['no options', () => createClient(undefined as never), 'options'],
    ['no targets', () => createClient({ targets: [] }), 'targets'],
    ['a target that is not an object', () => createClient({ targets: ['openai'] as never }), 'targets[0]'],
    ['a target without an id', () => createClient({ targets: [{ ...mockTarget(), id: '' }] }), 'targets[0].id'],
    ['a negative price', () => createClient({ targets: [mockTarget({ cost: { inputPerMTok: -1 } })] }), 'targets[0].cost.inputPerMTok'],
    ['a price for an unknown modality', () => createClient({ targets: [mockTarget({ cost: { byModality: { smell: { perRequest: 1 } } as never } })] }), 'targets[0].cost.byModality.smell'],
    ['a NaN prior', () => createClient({ targets: [mockTarget({ expected: { ttftMs: Number.NaN } })] }), 'targets[0].expected.ttftMs'],
    ['a fractional context window', () => createClient({ targets: [mockTarget({ limits: { contextTokens: 10.5 } })] }), 'targets[0].limits.contextTokens'],
    ['a KV geometry without layers', () => createClient({ targets: [{ ...mockTarget(), kv: { kvHeads: 2, headDim: 64, bytesPerValue: 2, memoryBudgetBytes: 1e9 } as never }] }), 'targets[0].kv.layers'],
    ['a target micro-batch of zero', () => createClient({ targets: [{ ...mockTarget(), microBatch: { maxBatchSize: 0 } }] }), 'targets[0].microBatch.maxBatchSize'],
    ['a negative maxRetries', () => createClient({ targets: [mockTarget()], retry: { maxRetries: -1 } }), 'retry.maxRetries'],
    ['a NaN backoff', () => createClient({ targets: [mockTarget()], retry: { initialDelayMs: Number.NaN } }), 'retry.initialDelayMs'],
    ['a hedge ratio above 1', () => createClient({ targets: [mockTarget()], hedge: { ratio: 2 } }), 'hedge.ratio'],
    ['a hedge quantile of 1', () => createClient({ targets: [mockTarget()], hedge: { quantile: 1 } }), 'hedge.quantile'],
    ['an unknown hedge segment', () => createClient({ targets: [mockTarget()], hedge: { segments: ['soon' as never] } }), 'hedge.segments'],
    ['a zero half-life', () => createClient({ targets: [mockTarget()], stats: { halfLifeMs: 0 } }), 'stats.halfLifeMs'],
    ['a fractional circuit threshold', () => createClient({ targets: [mockTarget()], stats: { circuit: { consecutiveFailures: 2.5 } } }), 'stats.circuit.consecutiveFailures'],
    ['a circuit failure ratio above 1', () => createClient({ targets: [mockTarget()], stats: { circuit: { failureRatio: 5 } } }), 'stats.circuit.failureRatio'],
    ['a NaN idle limit', () => createClient({ targets: [mockTarget()], idleMs: { interactive: Number.NaN } }), 'idleMs.interactive'],
    ['an idle limit for an unknown segment', () => createClient({ targets: [mockTarget()], idleMs: { soon: 5 } as never }), 'idleMs.soon'],
    ['a zero poll interval', () => createClient({ targets: [mockTarget()], jobs: { pollIntervalMs: 0 } }), 'jobs.pollIntervalMs'],
    ['a negative coalescing window', () => createClient({ targets: [mockTarget()], jobs: { coalesceMs: -1 } }), 'jobs.coalesceMs'],
    ['a fractional coalesced item cap', () => createClient({ targets: [mockTarget()], jobs: { maxCoalescedItems: 2.5 } }), 'jobs.maxCoalescedItems'],
    ['a fractional batch size', () => createClient({ targets: [mockTarget()], microBatch: { maxBatchSize: 1.5 } }), 'microBatch.maxBatchSize'],
    ['an unknown queue policy', () => createClient({ targets: [mockTarget()], microBatch: { whenFull: 'drop' as never } }), 'microBatch.whenFull'],
    ['a negative plan cache', () => createClient({ targets: [mockTarget()], planCacheMs: -1 }), 'planCacheMs'],
    ['an unknown runtime', () => createClient({ targets: [mockTarget()], runtime: 'edge' as never }), 'runtime'],
    ['a store without the contract', () => createClient({ targets: [mockTarget()], store: { get: async () => undefined } as never }), 'store'],
    ['a clock without timers', () => createClient({ targets: [mockTarget()], clock: { now: () => 0 } as never }), 'clock'],
    ['a target id used twice', () => createClient({ targets: [mockTarget({ id: 'a' }), mockTarget({ id: 'a' })] }), 'targets[1].id'],
    ['a target without any do* method', () => createClient({ targets: [{ id: 'x', kind: 'cloud', modalities: ['text'] }] }), 'targets[0]'],
    ['an unknown kind', () => createClient({ targets: [{ ...mockTarget(), kind: 'edge' as never }] }), 'targets[0].kind'],
    ['an unknown modality', () => createClient({ targets: [{ ...mockTarget(), modalities: ['smell' as never] }] }), 'targets[0].modalities'],
  ];
  it.each(cases)('%s throws INVALID_REQUEST naming the field', (_name, make, field) => {
    expect(make).toThrowError(expect.objectContaining({ code: 'INVALID_REQUEST', field }));
  });
});

describe('no route', () => {
  it('explains every rejected target when nothing can serve the modality', async () => {
    const text = createClient({ targets: [mockTarget({ id: 'cloud-text', modalities: ['text'] }), mockTarget({ id: 'device-text', kind: 'device', modalities: ['text'] })] });
    const error = await text.generateImage({ prompt: 'a red fox', latency: 80 }).catch((e) => e);
    expect(error.code).toBe('NO_ROUTE');
    expect(error.message).toContain("no target can serve image (modality 'image') within 80 ms");
    expect(error.rejections.map((r: { target: string }) => r.target).sort()).toEqual(['cloud-text', 'device-text']);
  });

  it('refuses device-only requests when only network targets exist, saying why', async () => {
    const cloudOnly = createClient({ targets: [mockTarget({ id: 'cloud' })] });
    const error = await cloudOnly.generate({ prompt: 'secret', privacy: 'device-only' }).catch((e) => e);
    expect(error.code).toBe('PRIVACY_VIOLATION');
    expect(error.message).toContain('device-only');
    expect((cloudOnly.targets[0] as ReturnType<typeof mockTarget>).calls).toHaveLength(0);
  });
});
