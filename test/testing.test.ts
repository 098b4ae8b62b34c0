/**
 * `inferlane/testing`: the recording mock target users put in their own tests.
 */
import { describe, expect, it } from 'vitest';
import { createClient } from '../src/index.js';
import { mockTarget } from '../src/testing.js';
import { collect } from './helpers/async.js';

describe('mockTarget', () => {
  it('records what the client sent, per method, and answers as scripted', async () => {
    const target = mockTarget({ id: 'fake', generate: (call) => `saw ${call.messages.length} messages` });
    const client = createClient({ targets: [target] });
    const result = await client.generate({ system: 'be brief', prompt: 'hello' });
    expect(result.text).toBe('saw 2 messages');
    expect(target.calls).toHaveLength(1);
    expect(target.calls[0]).toMatchObject({ method: 'doGenerate', segment: 'interactive' });
    expect((target.calls[0].call as { messages: unknown[] }).messages).toEqual([
      { role: 'system', content: 'be brief' },
      { role: 'user', content: 'hello' },
    ]);
  });

  it('streams the answer word by word and embeds deterministically', async () => {
    const target = mockTarget();
    const client = createClient({ targets: [target] });
    const deltas: string[] = [];
    for await (const part of client.stream({ prompt: 'one two' })) if (part.type === 'text-delta') deltas.push(part.text);
    expect(deltas.join('')).toBe('echo: one two');
    expect(deltas.length).toBeGreaterThan(1);
    const [a, b] = (await Promise.all([client.embed({ input: 'abc' }), client.embed({ input: 'abc' })])).map((r) => r.embedding);
    expect(a).toEqual(b);
    expect(target.calls.filter((c) => c.method === 'doEmbed')).toHaveLength(1); // identical inputs in flight computed once
  });

  it('an Error as behaviour makes every call fail the way a provider would', async () => {
    const client = createClient({ targets: [mockTarget({ generate: new Error('boom') })] });
    const error = await client.generate({ prompt: 'x' }).catch((e) => e);
    expect(error.code).toBe('ALL_TARGETS_FAILED');
    expect(error.attempts).toEqual([expect.objectContaining({ target: 'mock', outcome: 'error', code: 'PROVIDER_ERROR', message: 'boom' })]);
  });

  it('streams scripted parts, and a behaviour function sees each call with its index', async () => {
    const target = mockTarget({
      stream: (_call, _ctx, index) => [
        { type: 'text-delta', text: `call ${index}` },
        { type: 'finish', finishReason: 'length', usage: { outputTokens: 2 } },
      ],
    });
    const client = createClient({ targets: [target] });
    for (const expected of ['call 0', 'call 1']) {
      const parts = await collect(client.stream({ prompt: 'x' }));
      expect(parts[0]).toEqual({ type: 'text-delta', text: expected });
      expect(parts.at(-1)).toMatchObject({ type: 'finish', finishReason: 'length', usage: { outputTokens: 2 } });
    }
    expect(target.calls.map((c) => c.method)).toEqual(['doStream', 'doStream']);
  });

  it('answers images when given an image behaviour, and records the call', async () => {
    const target = mockTarget({ modalities: ['image'], image: { images: [{ base64: 'AAAA', mediaType: 'image/png' }], usage: { images: 1 } } });
    const result = await createClient({ targets: [target] }).generateImage({ prompt: 'a fox' });
    expect(result.image).toEqual({ base64: 'AAAA', mediaType: 'image/png' });
    expect(target.calls).toEqual([expect.objectContaining({ method: 'doImage', call: expect.objectContaining({ prompt: 'a fox' }) })]);
  });

  it('delayMs honours the call deadline: a slow mock ends at the budget, its timer cleared', async () => {
    const slow = mockTarget({ id: 'slow', delayMs: 60_000 });
    const client = createClient({ targets: [slow] });
    const error = await client.generate({ prompt: 'x', latency: 150 }).catch((e) => e);
    expect(error.code).toBe('DEADLINE_EXCEEDED');
    expect(slow.calls).toHaveLength(1);
  });

  it('delayMs with a signal already aborted fails at once instead of waiting', async () => {
    const slow = mockTarget({ delayMs: 60_000 });
    const aborted = AbortSignal.abort();
    await expect(slow.doGenerate!({ messages: [{ role: 'user', content: 'x' }] }, { signal: aborted, deadline: Infinity, segment: 'interactive', emit: () => {} })).rejects.toMatchObject({ name: 'AbortError' });
  });
});
