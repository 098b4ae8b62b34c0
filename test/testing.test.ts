/**
 * `inferlane/testing`: the recording mock target users put in their own tests.
 */
import { describe, expect, it } from 'vitest';
import { createClient } from '../src/index.js';
import { mockTarget } from '../src/testing.js';

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
});
