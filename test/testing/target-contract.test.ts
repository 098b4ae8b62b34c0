/**
 * `targetContract` (inferlane/testing): a well-behaved adapter passes every check; a deliberately
 * broken one fails exactly the checks its faults break, each with a message naming the fault.
 * Both adapters are in-memory stand-ins written here: what is under test is the contract.
 */
import { describe, expect, it } from 'vitest';
import { AbortedError, ProviderError } from '../../src/errors.js';
import type { CallContext, EmbedCall, StreamPart, Target, TextCall } from '../../src/target.js';
import { runTargetContract, targetContract, type ContractScenario, type TargetContractOptions } from '../../src/testing.js';

type World = { next?: ContractScenario };

/** A small adapter that keeps the contract: answers echo the last message, embeddings follow the text. */
function echoAdapter(world: World): Target {
  const timers = new Set<ReturnType<typeof setTimeout>>();
  const aborted = () => new AbortedError('echo: the call was aborted', { target: 'echo' });
  const pause = (ms: number, signal: AbortSignal) =>
    new Promise<void>((resolve, reject) => {
      if (signal.aborted) return reject(aborted());
      const onAbort = () => {
        clearTimeout(timer);
        timers.delete(timer);
        reject(aborted());
      };
      const timer = setTimeout(() => {
        timers.delete(timer);
        signal.removeEventListener('abort', onAbort);
        resolve();
      }, ms);
      timers.add(timer);
      signal.addEventListener('abort', onAbort, { once: true });
    });
  const answer = (call: TextCall) => `echo: ${call.messages.at(-1)?.content ?? ''}`;
  const begin = async (call: TextCall, ctx: CallContext) => {
    if (ctx.signal.aborted) throw aborted();
    const scenario = world.next;
    world.next = undefined;
    if (scenario === 'fail') throw new ProviderError('echo answered 500', { target: 'echo', status: 500, retryable: true });
    if (call.messages.length === 0) throw new ProviderError('echo answered 400: no messages', { target: 'echo', status: 400 });
    if (scenario === 'hang') await pause(60_000, ctx.signal);
    return scenario;
  };
  return {
    id: 'echo',
    kind: 'cloud',
    modalities: ['text', 'embedding'],
    honoursAbort: true,
    async doGenerate(call, ctx) {
      await begin(call, ctx);
      return { text: answer(call), finishReason: 'stop', usage: { inputTokens: 3, outputTokens: 2, totalTokens: 5 } };
    },
    async *doStream(call, ctx): AsyncGenerator<StreamPart> {
      const scenario = await begin(call, ctx);
      for (const word of answer(call).split(/(?<= )/)) {
        await pause(scenario === 'slow-stream' ? 5 : 0, ctx.signal);
        yield { type: 'text-delta', text: word };
      }
      yield { type: 'finish', finishReason: 'stop', usage: { outputTokens: 2 } };
    },
    async doEmbed(call: EmbedCall, ctx) {
      if (ctx.signal.aborted) throw aborted();
      return { embeddings: call.inputs.map((input) => [input.length, input.charCodeAt(0), input.charCodeAt(input.length - 1)]) };
    },
    async available() {
      return 'available';
    },
    async close() {
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
    },
  };
}

/**
 * The same adapter with faults adapters really have: it ignores its signal, a stream holds the
 * model until it runs to its end (leaving early never frees it) and ends without a finish part,
 * failures are plain Errors, a batch of embeddings comes back reversed, available() says 'yes'.
 */
function brokenAdapter(world: World): Target {
  const timers = new Set<ReturnType<typeof setTimeout>>();
  const wait = (ms: number) => new Promise<void>((resolve) => timers.add(setTimeout(resolve, ms)));
  let busy: Promise<void> = Promise.resolve();
  return {
    id: 'broken',
    kind: 'cloud',
    modalities: ['text', 'embedding'],
    honoursAbort: true,
    async doGenerate(call) {
      await busy;
      const scenario = world.next;
      world.next = undefined;
      if (scenario === 'fail' || call.messages.length === 0) throw new Error('boom');
      await wait(scenario === 'hang' ? 5_000 : 1);
      return { text: 'one two three', finishReason: 'stop' };
    },
    async *doStream() {
      await busy;
      let release!: () => void;
      busy = new Promise((resolve) => (release = resolve));
      for (const word of ['one ', 'two ', 'three']) {
        await wait(1);
        yield { type: 'text-delta', text: word } as StreamPart;
      }
      release();
    },
    async doEmbed(call) {
      return { embeddings: call.inputs.map((input) => [input.length, input.charCodeAt(0)]).reverse() };
    },
    async available() {
      return 'yes' as never;
    },
    async close() {
      for (const timer of timers) clearTimeout(timer);
    },
  };
}

function options(build: (world: World) => Target): TargetContractOptions {
  const world: World = {};
  return {
    target: () => build(world),
    arrange: (scenario) => void (world.next = scenario),
    deterministic: true,
    secrets: ['sk-never-shown'],
    settleMs: 500,
    timeoutMs: 1500,
  };
}

const allChecks = [
  'declares an id, a kind, its modalities and a method for each',
  'doGenerate answers with text, a finish reason and sane usage',
  'doStream yields well-formed parts and ends with exactly one finish',
  'doStream and doGenerate give the same answer to the same call',
  'breaking out of a stream closes it and leaves the target usable',
  'a call whose signal is already aborted rejects at once with ABORTED',
  'an abort in flight settles the call fast (honoursAbort)',
  'failures are InferlaneErrors naming the target, without secrets',
  'concurrent calls each get their own answer',
  'embeddings come back one per input, in input order, whatever the batch',
  'the calls it is given are left as they were',
  'available() answers available, downloadable or unavailable',
  'close() may be called twice',
];

describe('targetContract', () => {
  it('lists the checks that apply, each a plain { name, run } any test runner takes', () => {
    const checks = targetContract(options(echoAdapter));
    expect(checks.map((check) => check.name)).toEqual(allChecks);
    expect(checks.every((check) => typeof check.run === 'function')).toBe(true);
  });

  // The contract's own checks, run as tests the way an adapter author runs them.
  for (const check of targetContract(options(echoAdapter))) it(`the echo adapter: ${check.name}`, check.run);

  it('a target without embeddings or abort support is not asked for them', async () => {
    const report = await runTargetContract({
      target: () => Object.assign(echoAdapter({}), { modalities: ['text'], doEmbed: undefined, honoursAbort: false }) as Target,
      settleMs: 500,
    });
    expect(report.failed).toEqual([]);
    expect(report.skipped.map((skip) => skip.name)).toEqual([
      'doStream and doGenerate give the same answer to the same call',
      'an abort in flight settles the call fast (honoursAbort)',
      'embeddings come back one per input, in input order, whatever the batch',
    ]);
    expect(report.skipped[1].reason).toContain('honoursAbort');
  });

  it('a broken adapter fails exactly the checks its faults break, each saying why', async () => {
    const report = await runTargetContract(options(brokenAdapter));
    const failed = Object.fromEntries(report.failed.map((failure) => [failure.name, failure.message]));
    // The five checks its faults leave alone pass; every other check fails.
    const unbroken = [
      'declares an id, a kind, its modalities and a method for each',
      'doGenerate answers with text, a finish reason and sane usage',
      'concurrent calls each get their own answer',
      'the calls it is given are left as they were',
      'close() may be called twice',
    ];
    expect(report.passed).toEqual(unbroken);
    expect(Object.keys(failed)).toEqual(allChecks.filter((name) => !unbroken.includes(name)));
    expect(Object.keys(failed)).toHaveLength(8);
    expect(failed['doStream yields well-formed parts and ends with exactly one finish']).toContain('0 finish parts');
    expect(failed['breaking out of a stream closes it and leaves the target usable']).toContain('was not released');
    expect(failed['a call whose signal is already aborted rejects at once with ABORTED']).toContain('answered instead of refusing');
    expect(failed['an abort in flight settles the call fast (honoursAbort)']).toContain('did not settle');
    expect(failed['failures are InferlaneErrors naming the target, without secrets']).toContain('Error: boom, not an InferlaneError');
    expect(failed['embeddings come back one per input, in input order, whatever the batch']).toContain('input order');
    expect(failed['available() answers available, downloadable or unavailable']).toContain("'yes'");
  });

  it('takes a bare factory when no hook is needed', async () => {
    const report = await runTargetContract(() => echoAdapter({}));
    expect(report.failed).toEqual([]);
    expect(report.passed).toContain('embeddings come back one per input, in input order, whatever the batch');
    expect(report.skipped.map((skip) => skip.name)).toEqual(['doStream and doGenerate give the same answer to the same call']);
  });

  it('refuses a target factory that is not synchronous (constructing a target does no I/O)', () => {
    expect(() => targetContract({ target: (async () => echoAdapter({})) as never })).toThrow(/synchronously/);
  });
});
