/**
 * Text calls on targets that implement only one of the two text methods (`generate` gathers a
 * stream-only target's parts; `stream` turns a generate-only target's answer into parts), and a
 * client's steady state: once availability is known (at once when no target has `available()`,
 * else after the probes), a stream is set up without a promise in between, so its validation,
 * plan and errors take a different path from a call that waits on the probes.
 *
 * The targets are in-memory stand-ins for providers (the edge); client and executor are real.
 */
import { describe, expect, it } from 'vitest';
import { createClient, type ClientStreamPart } from '../../src/index.js';
import type { StreamPart, Target, TextResult } from '../../src/target.js';
import { collect, failure } from '../helpers/async.js';
import { streamingTarget } from '../helpers/targets.js';

const streamOnly = (id: string, parts: StreamPart[]) => streamingTarget(id, parts);

function generateOnly(id: string, result: TextResult): Target & { calls: number } {
  const t = {
    id,
    kind: 'cloud' as const,
    modalities: ['text' as const],
    calls: 0,
    async doGenerate() {
      t.calls++;
      return result;
    },
  };
  return t;
}

const texts = (parts: ClientStreamPart[]) => parts.flatMap((part) => (part.type === 'text-delta' ? [part.text] : []));

describe('generate on a target that only streams', () => {
  it('gathers the text, the usage and the finish reason', async () => {
    const target = streamOnly('streamer', [
      { type: 'usage', usage: { inputTokens: 7 } },
      { type: 'text-delta', text: 'Hello' },
      { type: 'text-delta', text: ', world' },
      { type: 'finish', finishReason: 'length', usage: { outputTokens: 2 } },
    ]);
    const result = await createClient({ targets: [target] }).generate({ prompt: 'hi' });
    expect(result.text).toBe('Hello, world');
    expect(result.finishReason).toBe('length');
    expect(result.usage).toEqual({ inputTokens: 7, outputTokens: 2 });
    expect(result.route.target).toBe('streamer');
  });

  it('an error part fails that target with a typed error, and the next target answers', async () => {
    const broken = streamOnly('broken', [{ type: 'text-delta', text: 'par' }, { type: 'error', error: new Error('model overloaded') }]);
    const backup = generateOnly('backup', { text: 'fine', finishReason: 'stop' });
    const client = createClient({ targets: [broken, backup] });
    const result = await client.generate({ prompt: 'hi', targets: ['broken', 'backup'], maxRetries: 0 });
    expect(result.text).toBe('fine');
    expect(result.route.attempts.map((a) => [a.target, a.outcome, a.code])).toEqual([
      ['broken', 'error', 'PROVIDER_ERROR'],
      ['backup', 'ok', undefined],
    ]);
  });

  it('a stream that ends before any part is a failure of that target, not an empty answer', async () => {
    const empty = streamOnly('empty', []);
    const backup = generateOnly('backup', { text: 'fine', finishReason: 'stop' });
    const client = createClient({ targets: [empty, backup] });
    const result = await client.generate({ prompt: 'hi', targets: ['empty', 'backup'], maxRetries: 0 });
    expect(result.text).toBe('fine');
    expect(result.route.attempts[0]).toMatchObject({ target: 'empty', outcome: 'error', code: 'PROVIDER_ERROR' });
    const alone = await failure(createClient({ targets: [streamOnly('empty', [])] }).generate({ prompt: 'hi', maxRetries: 0 }));
    expect(alone.code).toBe('ALL_TARGETS_FAILED');
    expect((alone as unknown as { attempts: { target: string; code?: string; message?: string }[] }).attempts).toEqual([
      expect.objectContaining({ target: 'empty', code: 'PROVIDER_ERROR', message: 'the stream ended before any part' }),
    ]);
  });
});

describe('stream on a target that only generates', () => {
  it('yields the answer as one text part, then the finish with usage and route', async () => {
    const target = generateOnly('generator', { text: 'all at once', finishReason: 'stop', usage: { inputTokens: 3, outputTokens: 3 } });
    const parts = await collect(createClient({ targets: [target] }).stream({ prompt: 'hi' }));
    expect(parts.map((part) => part.type)).toEqual(['text-delta', 'finish']);
    expect(texts(parts)).toEqual(['all at once']);
    const finish = parts.at(-1);
    expect(finish?.type === 'finish' && [finish.finishReason, finish.usage, finish.route.target]).toEqual(['stop', { inputTokens: 3, outputTokens: 3 }, 'generator']);
  });

  it('an empty answer yields no empty text part', async () => {
    const parts = await collect(createClient({ targets: [generateOnly('quiet', { text: '', finishReason: 'stop' })] }).stream({ prompt: 'hi' }));
    expect(parts.map((part) => part.type)).toEqual(['finish']);
  });
});

describe('a client in its steady state (availability known, streams set up at once)', () => {
  it('streams again and again on one client, each with its own route', async () => {
    const target = streamOnly('streamer', [{ type: 'text-delta', text: 'again' }, { type: 'finish', finishReason: 'stop' }]);
    const client = createClient({ targets: [target] });
    for (let round = 0; round < 3; round++) {
      const parts = await collect(client.stream({ prompt: `round ${round}` }));
      expect(texts(parts)).toEqual(['again']);
      const finish = parts.at(-1);
      expect(finish?.type === 'finish' && finish.route.attempts).toHaveLength(1);
    }
    expect(target.calls).toBe(3);
  });

  it('rejects bad input inside for-await with INVALID_REQUEST naming the field, reported once, nothing sent', async () => {
    const target = streamOnly('streamer', [{ type: 'text-delta', text: 'ok' }, { type: 'finish', finishReason: 'stop' }]);
    const client = createClient({ targets: [target] });
    await collect(client.stream({ prompt: 'warm up' }));
    const reported: { operation: string; code: string }[] = [];
    client.on('error', (event) => reported.push(event));
    // Building the iterable never throws; the first step does.
    const iterable = client.stream({ prompt: 'hi', latency: -5 });
    const error = await failure(collect(iterable));
    expect(error).toMatchObject({ code: 'INVALID_REQUEST', field: 'latency' });
    expect(reported).toEqual([expect.objectContaining({ operation: 'stream', code: 'INVALID_REQUEST' })]);
    expect(target.calls).toBe(1);
  });

  it('fails with a typed route error inside for-await when nothing can serve, reported once', async () => {
    const client = createClient({ targets: [streamOnly('streamer', [{ type: 'text-delta', text: 'ok' }, { type: 'finish', finishReason: 'stop' }])] });
    await collect(client.stream({ prompt: 'warm up' }));
    const reported: { code: string }[] = [];
    client.on('error', (event) => reported.push(event));
    const error = await failure(collect(client.stream({ prompt: 'hi', privacy: 'device-only' })));
    expect(error.code).toBe('PRIVACY_VIOLATION');
    expect(reported.map((event) => event.code)).toEqual(['PRIVACY_VIOLATION']);
  });
});
