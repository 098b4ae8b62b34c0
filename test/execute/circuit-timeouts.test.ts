/**
 * Which timeouts count against a target's circuit. A timeout after less time than the target
 * usually needs (its measured p90) only says the call's budget was tight; one on a device target
 * that has not answered yet says its model is still loading. Neither may open the circuit: an
 * on-device soak showed a burst of tight budgets during the model load opening the device's
 * circuit, after which even device-only calls with seconds to spare were refused for up to a minute.
 * A target that is slow beyond its usual latency still opens (test/execute/fallback.test.ts).
 */
import { afterAll, describe, expect, it } from 'vitest';
import { createClient, InferlaneError } from '../../src/index.js';
import type { Target, TextResult } from '../../src/target.js';
import { transformers } from '../../providers/transformers/index.js';
import { manualClock } from '../helpers/clock.js';
import { streamingTarget } from '../helpers/targets.js';

/** Waits `ms`, or rejects with an AbortError as fetch does when `signal` aborts. */
const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => {
      clearTimeout(timer);
      reject(new DOMException('aborted', 'AbortError'));
    });
  });

/** A device runtime that runs prompts in one pass (so calls go through the micro-batcher), each pass `delay()` ms. */
function deviceTarget(id: string, delay: () => number): Target {
  return {
    id,
    kind: 'device',
    modalities: ['text'],
    honoursAbort: true,
    batchedGeneration: true,
    async doGenerateMany(calls, ctx): Promise<TextResult[]> {
      await sleep(delay(), ctx.signal);
      return calls.map((call) => ({ text: `${id}: ${call.messages.at(-1)!.content}`, finishReason: 'stop' }));
    },
    async doGenerate(call, ctx): Promise<TextResult> {
      return (await this.doGenerateMany!([call], ctx))[0];
    },
  };
}

describe('timeouts and the circuit', () => {
  it("timeouts before the target's usual p90 leave its circuit closed; it still serves calls with room", async () => {
    let slow = false;
    let passes = 0;
    // Usually 10 ms a pass, one pass in four 300 ms: p50 about 10 ms, p90 about 300 ms.
    const client = createClient({ targets: [deviceTarget('device', () => (slow ? 300 : passes++ % 4 === 3 ? 300 : 10))] });
    for (let i = 0; i < 24; i++) await client.generate({ prompt: `warm ${i}`, latency: 2_000 });
    expect(client.stats.latency('device', 'total', 0.9)).toBeGreaterThan(250);

    // Now every pass takes 300 ms, against 150 ms budgets (the median fits, the p90 does not):
    // the micro-batched pass runs past each caller's deadline, before the device's usual p90.
    slow = true;
    const counted: string[] = [];
    client.on('attempt', (attempt) => void counted.push(attempt.code ?? 'ok'));
    // The pass's own deadline error and the call's abort race; either way the attempt timed out
    // (DEADLINE_EXCEEDED). Tight calls go on until three timeouts have happened.
    const deadlineErrors = () => counted.filter((code) => code === 'DEADLINE_EXCEEDED').length;
    for (let i = 0; i < 40 && deadlineErrors() < 3; i++) {
      await expect(client.generate({ prompt: `tight ${i}`, latency: 150, privacy: 'device-only' })).rejects.toMatchObject({ code: 'DEADLINE_EXCEEDED' });
    }
    expect(deadlineErrors()).toBeGreaterThanOrEqual(3);
    expect(client.stats.circuit('device', Date.now())).toBe('closed');
    const roomy = await client.generate({ prompt: 'with room', latency: 1_000, privacy: 'device-only' });
    expect(roomy.route.target).toBe('device');
    await client.close();
  });

  it('judges a device by whether it had answered when each attempt BEGAN: attempts started during the load are not charged when the first answer lands before their timeouts', async () => {
    const time = manualClock(1_000_000);
    let calls = 0;
    // The first call answers 5 ms in (the model has loaded); the others, begun at the same time,
    // hang until their share of the budget runs out and the call falls back to the cloud.
    const device: Target = {
      id: 'device',
      kind: 'device',
      modalities: ['text'],
      honoursAbort: true,
      // A tiny prior: the "usual p90" rule cannot excuse these timeouts, only the device rule can.
      expected: { totalMs: 1 },
      doGenerate(_call, ctx) {
        const first = calls++ === 0;
        return new Promise<TextResult>((resolve, reject) => {
          if (first) time.clock.setTimeout(() => resolve({ text: 'loaded', finishReason: 'stop' }), 5);
          ctx.signal.addEventListener('abort', () => reject(new DOMException('aborted', 'AbortError')), { once: true });
        });
      },
    };
    const cloud: Target = { id: 'cloud', kind: 'cloud', modalities: ['text'], honoursAbort: true, expected: { totalMs: 100 }, doGenerate: async () => ({ text: 'from the cloud', finishReason: 'stop' }) };
    const client = createClient({ targets: [device, cloud], clock: time.clock, planCacheMs: 0 });
    const timeouts: string[] = [];
    client.on('attempt', (attempt) => {
      if (attempt.target === 'device' && attempt.code === 'DEADLINE_EXCEEDED') timeouts.push(attempt.code);
    });
    const flush = async () => {
      for (let i = 0; i < 50; i++) await Promise.resolve();
    };
    const results = Array.from({ length: 4 }, (_, i) => client.generate({ prompt: `during the load ${i}`, latency: 1_000 }));
    await flush();
    time.advance(5);
    await flush();
    expect(client.stats.answered('device')).toBe(true);
    // Step by step, letting each fallback run before the next timer falls due.
    for (let step = 0; step < 20; step++) {
      time.advance(50);
      await flush();
    }
    const texts = (await Promise.all(results)).map((result) => result.text).sort();
    expect(texts).toEqual(['from the cloud', 'from the cloud', 'from the cloud', 'loaded']);
    expect(timeouts).toHaveLength(3);
    expect(client.stats.circuit('device', time.clock.now())).toBe('closed');
    await client.close();
  });

  describe('a device whose model is still loading', () => {
    const device = transformers({ id: 'device' });
    afterAll(() => device.close?.());

    it('does not open its circuit on the timeouts of calls made during the load; a call with room then answers', async () => {
      const client = createClient({ targets: [device, streamingTarget('cloud', [{ type: 'text-delta', text: 'from the cloud' }, { type: 'finish', finishReason: 'stop' }])] });
      // The model is not loaded: six streams at once, each device attempt running out of its share
      // of the budget (a first token usually comes in 45 ms) while the model loads; the cloud
      // answers them (or, when the load blocks the event loop past the budget, they end typed).
      const deviceTimeouts: unknown[] = [];
      client.on('attempt', (attempt) => {
        if (attempt.target === 'device' && attempt.code === 'DEADLINE_EXCEEDED') deviceTimeouts.push(attempt);
      });
      const tight = await Promise.allSettled(
        Array.from({ length: 6 }, async (_, i) => {
          for await (const _part of client.stream({ prompt: `tight ${i}`, latency: 200 })) void _part;
        }),
      );
      for (const outcome of tight) if (outcome.status === 'rejected') expect(InferlaneError.isInstance(outcome.reason)).toBe(true);
      expect(deviceTimeouts.length).toBeGreaterThanOrEqual(3);
      expect(client.stats.circuit('device', Date.now())).toBe('closed');
      const roomy = await client.generate({ prompt: 'hello', latency: 10_000, privacy: 'device-only' });
      expect(roomy.route.target).toBe('device');
      // Its answer shows the model is loaded: later timeouts count by the usual rule.
      expect(client.stats.availability('device')).toBe('available');
      await client.close();
    });
  });
});
