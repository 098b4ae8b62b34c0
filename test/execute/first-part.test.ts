/**
 * What counts as a stream's first part. A stream that ends before any part, or whose first part is
 * an error, failed on that target and falls back like any failure before the first part; usage
 * that arrives before the first text is kept for the finish. Both ways of opening a stream are
 * covered: the direct one (a target that honours its signal) and the guarded one.
 *
 * The targets are in-memory stand-ins for providers (the edge); client and executor are real.
 */
import { describe, expect, it } from 'vitest';
import { createClient, type ClientStreamPart } from '../../src/index.js';
import type { StreamPart, Target } from '../../src/target.js';
import { collect } from '../helpers/async.js';
import { streamingTarget } from '../helpers/targets.js';

const target = (id: string, honoursAbort: boolean, parts: StreamPart[]) => streamingTarget(id, parts, { honoursAbort });

const answer: StreamPart[] = [
  { type: 'text-delta', text: 'backup' },
  { type: 'finish', finishReason: 'stop', usage: { outputTokens: 1 } },
];

async function run(primaryParts: StreamPart[], honoursAbort: boolean) {
  const primary = target('primary', honoursAbort, primaryParts);
  const backup = target('backup', honoursAbort, answer);
  const client = createClient({ targets: [primary, backup] });
  const attempts: { target: string; outcome: string; code?: string }[] = [];
  client.on('attempt', (attempt) => attempts.push(attempt));
  const parts: ClientStreamPart[] = await collect(client.stream({ prompt: 'hi', targets: ['primary', 'backup'], maxRetries: 0 }));
  const finish = parts.at(-1);
  if (finish?.type !== 'finish') throw new Error('no finish part');
  return { parts, finish, attempts, primary, backup };
}

describe.each([
  ['direct (honours its signal)', true],
  ['guarded', false],
])('stream first part, %s', (_name, honoursAbort) => {
  it('a stream that ends before any part fails on that target and falls back', async () => {
    const { parts, finish, attempts, primary, backup } = await run([], honoursAbort);
    expect(parts.filter((p) => p.type === 'text-delta').map((p) => (p as { text: string }).text)).toEqual(['backup']);
    expect(finish.route.target).toBe('backup');
    expect(finish.route.fellBack).toBe(true);
    expect(attempts.map((a) => [a.target, a.outcome, a.code])).toEqual([
      ['primary', 'error', 'PROVIDER_ERROR'],
      ['backup', 'ok', undefined],
    ]);
    expect([primary.calls, backup.calls]).toEqual([1, 1]);
  });

  it('an error as the first part fails on that target and falls back', async () => {
    const { finish, attempts } = await run([{ type: 'error', error: new Error('model overloaded') }], honoursAbort);
    expect(finish.route.target).toBe('backup');
    expect(attempts[0]).toMatchObject({ target: 'primary', outcome: 'error' });
    expect(finish.route.attempts).toHaveLength(2);
  });

  it('usage before the first text is kept for the finish', async () => {
    const { parts, finish, attempts, backup } = await run(
      [
        { type: 'usage', usage: { inputTokens: 12, cachedInputTokens: 8 } },
        { type: 'text-delta', text: 'hello' },
        { type: 'finish', finishReason: 'stop', usage: { outputTokens: 1 } },
      ],
      honoursAbort,
    );
    expect(parts.map((p) => p.type)).toEqual(['text-delta', 'finish']);
    expect(finish.route.target).toBe('primary');
    expect(finish.usage).toEqual({ inputTokens: 12, cachedInputTokens: 8, outputTokens: 1 });
    expect(attempts).toEqual([expect.objectContaining({ target: 'primary', outcome: 'ok' })]);
    expect(backup.calls).toBe(0);
  });
});
