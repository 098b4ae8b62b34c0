/**
 * Letting go of a stream: whenever the executor stops reading an adapter's iterator before it
 * ended (the caller broke out, the stream failed mid-way, its first part was an error, it lost a
 * hedge), it closes that iterator as `for await` would, so the adapter's own `finally` runs, and
 * aborts the attempt's signal. Both ways of reading a stream are covered: the direct one (a target
 * that honours its signal) and the guarded one.
 *
 * The targets are in-memory stand-ins for providers (the edge); client and executor are real.
 */
import { describe, expect, it, vi } from 'vitest';
import { createClient, type ClientStreamPart } from '../../src/index.js';
import type { CallContext, StreamPart, Target } from '../../src/target.js';
import { collect, failure } from '../helpers/async.js';

interface Recorded {
  closed: boolean;
  signal?: AbortSignal;
  calls: number;
}

/** A stream target that yields `parts` (a function: waits before a part) and records its cleanup. */
function target(id: string, honoursAbort: boolean, parts: (StreamPart | (() => Promise<void>))[]): Target & { seen: Recorded } {
  const seen: Recorded = { closed: false, calls: 0 };
  return {
    id,
    kind: 'cloud',
    modalities: ['text'],
    honoursAbort,
    expected: { ttftMs: 5, totalMs: 10 },
    seen,
    async *doStream(_call, ctx: CallContext) {
      seen.calls++;
      seen.signal = ctx.signal;
      try {
        for (const part of parts) {
          if (typeof part === 'function') await part();
          else yield part;
        }
      } finally {
        seen.closed = true;
      }
    },
  };
}

const wait = (ms: number) => () => new Promise<void>((resolve) => setTimeout(resolve, ms));
const text = (value: string): StreamPart => ({ type: 'text-delta', text: value });
const finish: StreamPart = { type: 'finish', finishReason: 'stop' };
const texts = (parts: ClientStreamPart[]) => parts.flatMap((part) => (part.type === 'text-delta' ? [part.text] : []));

describe.each([
  ['direct (honours its signal)', true],
  ['guarded', false],
])('letting go of a stream, %s', (_name, honoursAbort) => {
  it('a caller that breaks out closes the adapter and aborts its signal (one target, the shared deadline)', async () => {
    const only = target('only', honoursAbort, [text('a'), text('b'), text('c'), finish]);
    const client = createClient({ targets: [only] });
    const got: string[] = [];
    for await (const part of client.stream({ prompt: 'hi' })) {
      if (part.type === 'text-delta') got.push(part.text);
      if (got.length === 2) break;
    }
    expect(got).toEqual(['a', 'b']);
    expect(only.seen.closed).toBe(true);
    expect(only.seen.signal?.aborted).toBe(true);
  });

  it('a caller that breaks out closes the adapter when another target could follow (its own signal)', async () => {
    const primary = target('primary', honoursAbort, [text('a'), text('b'), finish]);
    const backup = target('backup', honoursAbort, [text('z'), finish]);
    const client = createClient({ targets: [primary, backup] });
    for await (const part of client.stream({ prompt: 'hi', targets: ['primary', 'backup'] })) {
      if (part.type === 'text-delta') break;
    }
    expect(primary.seen.closed).toBe(true);
    expect(primary.seen.signal?.aborted).toBe(true);
    expect(backup.seen.calls).toBe(0);
  });

  it('an error part mid-stream closes that adapter, then the stream resumes on the next target', async () => {
    const primary = target('primary', honoursAbort, [text('one '), { type: 'error', error: new Error('model overloaded') }, text('never'), finish]);
    const backup = target('backup', honoursAbort, [text('two'), finish]);
    const client = createClient({ targets: [primary, backup] });
    const parts = await collect(client.stream({ prompt: 'hi', targets: ['primary', 'backup'], maxRetries: 0 }));
    expect(texts(parts)).toEqual(['one ', 'two']);
    expect(parts.find((part) => part.type === 'resumed')).toMatchObject({ fromTarget: 'primary', toTarget: 'backup', offset: 4 });
    expect(primary.seen.closed).toBe(true);
    expect(backup.seen.closed).toBe(true);
  });

  it('an error as the first part closes that adapter before the fallback', async () => {
    const primary = target('primary', honoursAbort, [{ type: 'error', error: new Error('no capacity') }, text('never'), finish]);
    const backup = target('backup', honoursAbort, [text('ok'), finish]);
    const client = createClient({ targets: [primary, backup] });
    const parts = await collect(client.stream({ prompt: 'hi', targets: ['primary', 'backup'], maxRetries: 0 }));
    expect(texts(parts)).toEqual(['ok']);
    expect(primary.seen.closed).toBe(true);
  });

  it('the loser of a hedge is closed', async () => {
    // The primary's first part comes late; the hedge starts after 5 ms and answers at once.
    const primary = target('primary', honoursAbort, [wait(60), text('late'), finish]);
    const hedge = target('hedge', honoursAbort, [text('fast'), finish]);
    const client = createClient({ targets: [primary, hedge] });
    const parts = await collect(client.stream({ prompt: 'hi', targets: ['primary', 'hedge'], latency: 1000, hedge: { afterMs: 5 } }));
    expect(texts(parts)).toEqual(['fast']);
    expect(primary.seen.signal?.aborted).toBe(true);
    // A guarded loser is closed once its pending step returns; a direct one at once.
    await vi.waitFor(() => expect(primary.seen.closed).toBe(true));
  });
});

describe('a hedge whose two streams open at the same moment', () => {
  it('closes the one that opened but lost', async () => {
    // Both wait on one gate, opened once the hedge has started: both first parts arrive together.
    let open!: () => void;
    const gate = new Promise<void>((resolve) => (open = resolve));
    const primary = target('primary', true, [() => gate, text('first'), finish]);
    const hedge = target('hedge', true, [() => gate, text('second'), finish]);
    const client = createClient({ targets: [primary, hedge] });
    const started = setInterval(() => {
      if (hedge.seen.calls > 0) {
        clearInterval(started);
        open();
      }
    }, 1);
    let parts: ClientStreamPart[];
    try {
      parts = await collect(client.stream({ prompt: 'hi', targets: ['primary', 'hedge'], latency: 1000, hedge: { afterMs: 5 } }));
    } finally {
      clearInterval(started);
      open();
    }
    const winner = texts(parts)[0] === 'first' ? primary : hedge;
    const loser = winner === primary ? hedge : primary;
    expect(texts(parts)).toHaveLength(1);
    await vi.waitFor(() => expect(loser.seen.closed).toBe(true));
    expect(loser.seen.signal?.aborted).toBe(true);
  });
});

describe('a resumption that cannot open', () => {
  it('moves on again when the next target fails before its first part, announcing only the target that continued', async () => {
    const first = target('first', true, [text('one '), { type: 'error', error: new Error('lost the GPU') }]);
    const second = target('second', true, [{ type: 'error', error: new Error('overloaded') }]);
    const third = target('third', true, [text('three'), finish]);
    const client = createClient({ targets: [first, second, third] });
    const parts = await collect(client.stream({ prompt: 'hi', targets: ['first', 'second', 'third'], maxRetries: 0 }));
    expect(texts(parts)).toEqual(['one ', 'three']);
    // One notice, when 'third' has really continued: 'second' never said anything.
    expect(parts.filter((part) => part.type === 'resumed')).toEqual([{ type: 'resumed', fromTarget: 'first', toTarget: 'third', offset: 4, reason: 'PROVIDER_ERROR' }]);
    expect(parts.map((part) => part.type)).toEqual(['text-delta', 'resumed', 'text-delta', 'finish']);
    const end = parts.at(-1);
    expect(end?.type === 'finish' && end.route.attempts.map((a) => [a.target, a.outcome])).toEqual([
      ['first', 'error'],
      ['second', 'error'],
      ['third', 'ok'],
    ]);
    expect([first.seen.closed, second.seen.closed, third.seen.closed]).toEqual([true, true, true]);
  });

  it('ends with STREAM_INTERRUPTED carrying the partial text when no target is left', async () => {
    const first = target('first', true, [text('partial '), { type: 'error', error: new Error('lost the GPU') }]);
    const second = target('second', true, [{ type: 'error', error: new Error('overloaded') }]);
    const client = createClient({ targets: [first, second] });
    const seen: ClientStreamPart[] = [];
    const error = await failure(
      (async () => {
        for await (const part of client.stream({ prompt: 'hi', targets: ['first', 'second'], maxRetries: 0 })) seen.push(part);
      })(),
    );
    expect(error.code).toBe('STREAM_INTERRUPTED');
    expect((error as unknown as { partialText: string }).partialText).toBe('partial ');
    expect(texts(seen)).toEqual(['partial ']);
    // No notice announces a resumption that never continued.
    expect(seen.map((part) => part.type)).toEqual(['text-delta']);
    expect(second.seen.closed).toBe(true);
  });
});
