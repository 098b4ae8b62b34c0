/**
 * The executor's abort guards. A target that ignores its signal is still cut off at the deadline
 * (the executor races every call and every stream step against the signal). A target that
 * declares `honoursAbort` skips those guards, so the executor must still tell a stream that ended
 * because it was aborted from one that finished: such a stream is never recorded as a success.
 *
 * The targets here are in-memory stand-ins for providers (the edge); the client, the executor
 * and its watchdog are the real ones.
 */
import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import { createClient, type ClientStreamPart } from '../../src/index.js';
import type { CallContext, StreamPart, Target } from '../../src/target.js';
import { collect, failure } from '../helpers/async.js';

const never = new Promise<never>(() => undefined);

/** Resolves when `signal` aborts (a provider that notices the abort). */
function aborted(signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) resolve();
    else signal.addEventListener('abort', () => resolve(), { once: true });
  });
}

function streamTarget(id: string, options: { honoursAbort?: boolean; parts: (ctx: CallContext) => AsyncIterable<StreamPart> }): Target {
  return { id, kind: 'cloud', modalities: ['text'], honoursAbort: options.honoursAbort, doStream: (_call, ctx) => options.parts(ctx) };
}

/** Answers "fine." in two parts and finishes. */
function healthy(id: string): Target {
  return streamTarget(id, {
    honoursAbort: true,
    async *parts() {
      yield { type: 'text-delta', text: 'fine' };
      yield { type: 'text-delta', text: '.' };
      yield { type: 'finish', finishReason: 'stop' };
    },
  });
}

function finishOf(parts: ClientStreamPart[]) {
  const finish = parts.find((part) => part.type === 'finish');
  if (finish?.type !== 'finish') throw new Error('no finish part');
  return finish;
}

/**
 * Aborts the caller's signal on the first text part and returns the error, the parts seen, the
 * attempts reported and how long the abort took to end the stream. `idleMs` is long (5 s), so
 * only the abort can end it quickly.
 */
async function abortMidStream(targets: Target[]) {
  const client = createClient({ targets });
  const controller = new AbortController();
  const attempts: { target: string; outcome: string }[] = [];
  client.on('attempt', (attempt) => attempts.push(attempt));
  const seen: ClientStreamPart[] = [];
  let abortedAt = 0;
  const error = await failure(
    (async () => {
      for await (const part of client.stream({ prompt: 'hello', latency: 2000, idleMs: 5000, hedge: false, abortSignal: controller.signal })) {
        seen.push(part);
        if (part.type === 'text-delta') {
          abortedAt = performance.now();
          controller.abort();
        }
      }
    })(),
  );
  return { error, seen, attempts, abortMs: performance.now() - abortedAt };
}

describe("the caller's abort mid-stream, with a backup target (the attempt has its own controller)", () => {
  it('ends a stream whose target ignores its signal, at once', async () => {
    const deaf = streamTarget('deaf', {
      async *parts() {
        yield { type: 'text-delta', text: 'partial ' };
        await never;
      },
    });
    const { error, seen, attempts, abortMs } = await abortMidStream([deaf, healthy('backup')]);
    expect(error.code).toBe('ABORTED');
    expect(seen.map((part) => part.type)).toEqual(['text-delta']);
    expect(attempts).toEqual([expect.objectContaining({ target: 'deaf', outcome: 'aborted' })]);
    expect(abortMs).toBeLessThan(1000);
  });

  it('ends a stream whose target honours its signal and ends quietly, recording no success', async () => {
    const quiet = streamTarget('quiet', {
      honoursAbort: true,
      async *parts(ctx) {
        yield { type: 'text-delta', text: 'partial ' };
        await aborted(ctx.signal);
      },
    });
    const { error, seen, attempts, abortMs } = await abortMidStream([quiet, healthy('backup')]);
    expect(error.code).toBe('ABORTED');
    expect(seen.map((part) => part.type)).toEqual(['text-delta']);
    expect(attempts).toEqual([expect.objectContaining({ target: 'quiet', outcome: 'aborted' })]);
    expect(abortMs).toBeLessThan(1000);
  });
});

describe('targets that ignore their signal', () => {
  it('a generate call that never settles still ends at the deadline', async () => {
    const deaf: Target = { id: 'deaf', kind: 'cloud', modalities: ['text'], doGenerate: () => never };
    const client = createClient({ targets: [deaf], retry: { maxRetries: 0 } });
    const started = performance.now();
    const error = await failure(client.generate({ prompt: 'hello', latency: 150 }));
    expect(error.code).toBe('DEADLINE_EXCEEDED');
    expect(performance.now() - started).toBeLessThan(150 + 100);
  });

  it('a stream step that never settles trips the idle deadline, and the stream resumes on the next target', async () => {
    const stuck = streamTarget('stuck', {
      async *parts() {
        yield { type: 'text-delta', text: 'partial ' };
        await never;
      },
    });
    const client = createClient({ targets: [stuck, healthy('backup')] });
    const parts = await collect(client.stream({ prompt: 'hello', latency: 2000, idleMs: 80, hedge: false }));
    expect(parts.find((part) => part.type === 'resumed')).toMatchObject({ fromTarget: 'stuck', toTarget: 'backup', reason: 'DEADLINE_EXCEEDED' });
    const { route } = finishOf(parts);
    expect(route.target).toBe('backup');
    expect(route.attempts.map((attempt) => [attempt.target, attempt.outcome, attempt.code])).toEqual([
      ['stuck', 'error', 'DEADLINE_EXCEEDED'],
      ['backup', 'ok', undefined],
    ]);
  });
});

describe('targets that honour their signal (no guards)', () => {
  /** Sends one part, then waits for the abort and ends its iteration quietly, as openai-node does. */
  const quietOnAbort = (id: string) =>
    streamTarget(id, {
      honoursAbort: true,
      async *parts(ctx) {
        yield { type: 'text-delta', text: 'partial ' };
        await aborted(ctx.signal);
      },
    });

  it('a stream that ends quietly after the idle deadline aborted it is a failure, not a success', async () => {
    const client = createClient({ targets: [quietOnAbort('quiet'), healthy('backup')] });
    const parts = await collect(client.stream({ prompt: 'hello', latency: 2000, idleMs: 80, hedge: false }));
    expect(parts.find((part) => part.type === 'resumed')).toMatchObject({ fromTarget: 'quiet', toTarget: 'backup', reason: 'DEADLINE_EXCEEDED' });
    const { route } = finishOf(parts);
    expect(route.attempts.map((attempt) => [attempt.target, attempt.outcome, attempt.code])).toEqual([
      ['quiet', 'error', 'DEADLINE_EXCEEDED'],
      ['backup', 'ok', undefined],
    ]);
  });

  it('a generate call on such a target ends at the deadline through its own abort', async () => {
    let sawAbort = false;
    const listening: Target = {
      id: 'listening',
      kind: 'cloud',
      modalities: ['text'],
      honoursAbort: true,
      doGenerate: async (_call, ctx) => {
        await aborted(ctx.signal);
        sawAbort = true;
        throw new DOMException('aborted', 'AbortError');
      },
    };
    const client = createClient({ targets: [listening], retry: { maxRetries: 0 } });
    const error = await failure(client.generate({ prompt: 'hello', latency: 120 }));
    expect(error.code).toBe('DEADLINE_EXCEEDED');
    expect(sawAbort).toBe(true);
  });
});

describe('a signal that is already aborted', () => {
  it('ends every kind of call at once with ABORTED, before any target is called', async () => {
    let calls = 0;
    const counting: Target = {
      id: 'counting',
      kind: 'cloud',
      modalities: ['text', 'embedding'],
      honoursAbort: true,
      async doGenerate() {
        calls++;
        return { text: 'never', finishReason: 'stop' };
      },
      async *doStream() {
        calls++;
        yield { type: 'text-delta', text: 'never' };
      },
      async doEmbed(call) {
        calls++;
        return { embeddings: call.inputs.map(() => [1]) };
      },
    };
    const client = createClient({ targets: [counting] });
    const abortSignal = AbortSignal.abort();
    expect((await failure(client.generate({ prompt: 'x', abortSignal }))).code).toBe('ABORTED');
    expect((await failure(collect(client.stream({ prompt: 'x', abortSignal })))).code).toBe('ABORTED');
    expect((await failure(client.embed({ input: 'x', abortSignal }))).code).toBe('ABORTED');
    expect(calls).toBe(0);
  });
});

describe('one caller signal shared by many calls', () => {
  it('gets one abort listener however many calls wait on it, and aborting it ends every call', async () => {
    const listeners = (signal: AbortSignal) => EventEmitter.getEventListeners(signal, 'abort');
    const waiting: Target = {
      id: 'slow',
      kind: 'cloud',
      modalities: ['text'],
      honoursAbort: true,
      doGenerate: async (_call, ctx) => {
        await aborted(ctx.signal);
        throw ctx.signal.reason;
      },
    };
    const quick = healthy('quick');
    const client = createClient({ targets: [waiting, quick] });
    const shutdown = new AbortController();
    // Calls that settle remove themselves: 30 quick calls leave nothing behind.
    await Promise.all(Array.from({ length: 30 }, () => client.generate({ prompt: 'hi', targets: ['quick'], abortSignal: shutdown.signal })));
    const pending = Array.from({ length: 50 }, () => client.generate({ prompt: 'hi', targets: ['slow'], abortSignal: shutdown.signal, latency: 60_000 }));
    await new Promise((resolve) => setTimeout(resolve, 5));
    // Node warns of a leak past 10 listeners on one signal; there is one.
    expect(listeners(shutdown.signal)).toHaveLength(1);
    shutdown.abort();
    const errors = await Promise.all(pending.map((call) => failure(call)));
    expect(errors.every((error) => error.code === 'ABORTED')).toBe(true);
    expect(listeners(shutdown.signal)).toHaveLength(0);
  });
});
