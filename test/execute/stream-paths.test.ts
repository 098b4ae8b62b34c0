/**
 * Executor paths no other test reaches: a circuit that opens during the call (the retry is
 * skipped and the next target answers), a resumption with nowhere left to go, usage reported in
 * parts of its own, a hedge that would not answer before the deadline, and a hedge that used up
 * the next candidate.
 *
 * The targets are in-memory stand-ins for providers (the edge); client and executor are real.
 */
import { describe, expect, it } from 'vitest';
import { createClient, type ClientStreamPart, InferlaneError } from '../../src/index.js';
import { ProviderError } from '../../src/errors.js';
import type { StreamPart, Target, TextResult } from '../../src/target.js';
import { collect } from '../helpers/async.js';
import { streamingTarget } from '../helpers/targets.js';



const serverError = () => new ProviderError('scripted 503', { status: 503, retryable: true });
const answer = (text: string): StreamPart[] => [
  { type: 'text-delta', text },
  { type: 'finish', finishReason: 'stop' },
];

function recorder(client: ReturnType<typeof createClient>) {
  const attempts: [string, string, string | undefined][] = [];
  client.on('attempt', (attempt) => attempts.push([attempt.target, attempt.outcome, attempt.code]));
  return attempts;
}

describe('a circuit that opens during the call', () => {
  it('a stream does not retry a target whose circuit the first failure opened; the next answers', async () => {
    const flaky = streamingTarget('flaky', serverError);
    const backup = streamingTarget('backup', () => answer('from backup'));
    const client = createClient({ targets: [flaky, backup], stats: { circuit: { consecutiveFailures: 1, cooldownMs: 60_000 } }, retry: { initialDelayMs: 1, maxDelayMs: 1 } });
    const attempts = recorder(client);
    const parts = await collect(client.stream({ prompt: 'hi', targets: ['flaky', 'backup'], maxRetries: 2, latency: 5_000 }));
    expect(parts.filter((part) => part.type === 'text-delta')).toEqual([{ type: 'text-delta', text: 'from backup' }]);
    expect(flaky.calls).toBe(1);
    const finish = parts.at(-1) as Extract<ClientStreamPart, { type: 'finish' }>;
    expect(finish.route.attempts.map((a) => [a.target, a.outcome, a.outcome === 'skipped' ? a.message : undefined])).toEqual([
      ['flaky', 'error', undefined],
      ['flaky', 'skipped', 'circuit open'],
      ['backup', 'ok', undefined],
    ]);
    expect(attempts.map(([target, outcome]) => [target, outcome])).toEqual([
      ['flaky', 'error'],
      ['backup', 'ok'],
    ]);
  });

  it('a resumption whose only remaining target opened its circuit meanwhile ends with the partial text', async () => {
    // 'first' says something and waits; meanwhile another call fails 'second' and opens its
    // circuit; then 'first' breaks, and the resumption finds 'second' open.
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const first: Target = {
      id: 'first',
      kind: 'cloud',
      modalities: ['text'],
      honoursAbort: true,
      async *doStream() {
        yield { type: 'text-delta', text: 'Half an ' };
        await gate;
        throw serverError();
      },
    };
    const second = streamingTarget('second', (call) => (call === 0 ? serverError() : answer('never')));
    const client = createClient({ targets: [first, second], stats: { circuit: { consecutiveFailures: 1, cooldownMs: 60_000 } } });
    const parts: ClientStreamPart[] = [];
    const iterator = client.stream({ prompt: 'hi', targets: ['first', 'second'], maxRetries: 0, onStreamFailure: 'resume' })[Symbol.asyncIterator]();
    parts.push((await iterator.next()).value as ClientStreamPart);
    await expect(client.generate({ prompt: 'other', targets: ['second'], maxRetries: 0 })).rejects.toBeInstanceOf(InferlaneError);
    release();
    const error = await iterator.next().catch((caught: unknown) => caught);
    expect(parts).toEqual([{ type: 'text-delta', text: 'Half an ' }]);
    expect(error).toMatchObject({ code: 'STREAM_INTERRUPTED', partialText: 'Half an ' });
    expect((error as { attempts: { target: string; outcome: string }[] }).attempts.map((a) => [a.target, a.outcome])).toEqual([
      ['first', 'error'],
      ['second', 'skipped'],
    ]);
    expect(second.calls).toBe(1);
  });
});

describe('usage in parts of its own', () => {
  it('is merged into the finish part, the route and the cost, and not passed on as a part', async () => {
    const target = streamingTarget(
      'splitter',
      () => [
        { type: 'usage', usage: { inputTokens: 1_000 } },
        { type: 'text-delta', text: 'a' },
        { type: 'usage', usage: { cachedInputTokens: 400 } },
        { type: 'text-delta', text: 'b' },
        { type: 'finish', finishReason: 'stop', usage: { outputTokens: 2 } },
      ],
      { cost: { inputPerMTok: 1_000, cachedInputPerMTok: 100, outputPerMTok: 2_000 } },
    );
    const client = createClient({ targets: [target] });
    const parts = await collect(client.stream({ prompt: 'hi' }));
    expect(parts.map((part) => part.type)).toEqual(['text-delta', 'text-delta', 'finish']);
    const finish = parts.at(-1) as Extract<ClientStreamPart, { type: 'finish' }>;
    expect(finish.usage).toEqual({ inputTokens: 1_000, cachedInputTokens: 400, outputTokens: 2 });
    expect(finish.route.usage).toEqual(finish.usage);
    // 600 uncached at $1,000/M + 400 cached at $100/M + 2 out at $2,000/M.
    expect(finish.route.costUsd).toBeCloseTo(0.6 + 0.04 + 0.004, 10);
  });
});

describe('hedging limits', () => {
  /** Answers `outcome` (or throws it) after `ms`, unless its signal aborts first. */
  function after(id: string, ms: number, outcome: string | Error, expected = { ttftMs: 50, totalMs: 50 }): Target & { calls: number } {
    const t = {
      id,
      kind: 'cloud' as const,
      modalities: ['text' as const],
      honoursAbort: true,
      expected,
      calls: 0,
      async doGenerate(_call: unknown, ctx: { signal: AbortSignal }): Promise<TextResult> {
        t.calls++;
        await new Promise<void>((resolve, reject) => {
          const timer = setTimeout(resolve, ms);
          ctx.signal.addEventListener('abort', () => {
            clearTimeout(timer);
            reject(ctx.signal.reason);
          });
        });
        if (outcome instanceof Error) throw outcome;
        return { text: outcome, finishReason: 'stop' };
      },
    };
    return t;
  }

  it('no hedge starts when it could not answer before the deadline', async () => {
    const primary = after('primary', 60, 'primary answer');
    const backup = after('backup', 1, 'backup answer');
    const client = createClient({ targets: [primary, backup] });
    const hedges: unknown[] = [];
    client.on('hedge', (event) => hedges.push(event));
    // The hedge would start at 80 ms and the backup needs about 50 ms: past the 100 ms budget.
    const late = await client.generate({ prompt: 'hi', targets: ['primary', 'backup'], latency: 100, hedge: { afterMs: 80 } });
    expect(late.text).toBe('primary answer');
    expect(backup.calls).toBe(0);
    expect(hedges).toEqual([]);
    // At 10 ms it fits, and the faster backup wins.
    const early = await client.generate({ prompt: 'hi', targets: ['primary', 'backup'], latency: 1_000, hedge: { afterMs: 10 } });
    expect(early.text).toBe('backup answer');
    expect(early.route.hedged).toBe(true);
  });

  it('when primary and hedge both fail, the next target is the one after the hedge', async () => {
    const failing = (id: string, ms: number) => after(id, ms, new ProviderError(`${id} failed`, { status: 500, retryable: true }), { ttftMs: 5, totalMs: 5 });
    const primary = failing('primary', 40);
    const hedge = failing('hedge', 5);
    const third = after('third', 1, 'third answer');
    const client = createClient({ targets: [primary, hedge, third] });
    const result = await client.generate({ prompt: 'hi', targets: ['primary', 'hedge', 'third'], latency: 2_000, hedge: { afterMs: 5 }, maxRetries: 0 });
    expect(result.text).toBe('third answer');
    expect([primary.calls, hedge.calls, third.calls]).toEqual([1, 1, 1]);
    expect(result.route.attempts.map((a) => [a.target, a.outcome])).toEqual([
      ['primary', 'error'],
      ['hedge', 'error'],
      ['third', 'ok'],
    ]);
  });
});

describe('a resumption whose next target never answers', () => {
  const breaking: () => Target = () => ({
    id: 'first',
    kind: 'cloud',
    modalities: ['text'],
    honoursAbort: true,
    async *doStream() {
      yield { type: 'text-delta', text: 'Half ' };
      throw serverError();
    },
  });
  /** Never sends a first part: one notices its signal, the other ignores it. */
  const silent = (honoursAbort: boolean): Target => ({
    id: 'silent',
    kind: 'cloud',
    modalities: ['text'],
    honoursAbort,
    async *doStream(_call, ctx) {
      if (honoursAbort) {
        await new Promise((_resolve, reject) => ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason), { once: true }));
      } else await new Promise(() => {});
      yield { type: 'text-delta', text: 'never' };
    },
  });

  for (const honoursAbort of [true, false]) {
    it(`ends within idleMs with the partial text (a target that ${honoursAbort ? 'honours' : 'ignores'} its signal)`, async () => {
      const client = createClient({ targets: [breaking(), silent(honoursAbort)] });
      const parts: ClientStreamPart[] = [];
      const started = Date.now();
      const error = await (async () => {
        for await (const part of client.stream({ prompt: 'hi', targets: ['first', 'silent'], maxRetries: 0, idleMs: 100, latency: 2_000 })) parts.push(part);
      })().catch((caught: unknown) => caught);
      expect(error).toMatchObject({ code: 'STREAM_INTERRUPTED', partialText: 'Half ' });
      expect((error as { cause?: { code?: string; message?: string } }).cause).toMatchObject({ code: 'DEADLINE_EXCEEDED' });
      expect((error as Error & { cause: Error }).cause.message).toContain('while resuming');
      expect(Date.now() - started).toBeLessThan(1_000);
      expect(parts).toEqual([{ type: 'text-delta', text: 'Half ' }]);
    });
  }

  it('moves past it to a target that answers', async () => {
    const third = streamingTarget('third', answer('the rest.'));
    const client = createClient({ targets: [breaking(), silent(true), third] });
    const parts = await collect(client.stream({ prompt: 'hi', targets: ['first', 'silent', 'third'], maxRetries: 0, idleMs: 100, latency: 2_000 }));
    expect(parts.map((part) => (part.type === 'text-delta' ? part.text : part.type))).toEqual(['Half ', 'resumed', 'the rest.', 'finish']);
    expect(parts[1]).toMatchObject({ fromTarget: 'first', toTarget: 'third' });
  });
});
