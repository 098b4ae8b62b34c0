/**
 * Availability probes (`target.available()`), which a client runs once before its first plans:
 * a probe that fails or never answers, even one that ignores its signal, must not hold calls.
 * A first call waits for the probes at most half its budget; a probe with no answer by
 * `availabilityTimeoutMs` counts as unavailable.
 *
 * The targets are in-memory stand-ins for runtimes and providers (the edge); the client is real.
 */
import { describe, expect, it } from 'vitest';
import { createClient } from '../../src/index.js';
import type { Availability, Target, TextResult } from '../../src/target.js';

function textTarget(id: string, kind: Target['kind'], available?: (signal: AbortSignal) => Promise<Availability>): Target & { calls: number; probeSignal?: AbortSignal } {
  const t: Target & { calls: number; probeSignal?: AbortSignal } = {
    id,
    kind,
    modalities: ['text'],
    expected: { ttftMs: 5, totalMs: 10 },
    calls: 0,
    async doGenerate(): Promise<TextResult> {
      t.calls++;
      return { text: `from ${id}`, finishReason: 'stop' };
    },
  };
  if (available) {
    t.available = (signal) => {
      t.probeSignal = signal;
      return available(signal);
    };
  }
  return t;
}

const never = () => new Promise<Availability>(() => {});

describe('availability probes', () => {
  it('a probe that throws counts as unavailable: the call goes elsewhere and says why', async () => {
    const device = textTarget('device', 'device', async () => {
      throw new Error('no WebGPU adapter');
    });
    const client = createClient({ targets: [device, textTarget('cloud', 'cloud')] });
    const result = await client.generate({ prompt: 'hi' });
    expect(result.route.target).toBe('cloud');
    expect(client.explain({ prompt: 'hi' }).rejected).toEqual([expect.objectContaining({ target: 'device', code: 'unavailable' })]);
    expect(device.calls).toBe(0);
  });

  it('a probe that never answers (and ignores its signal) does not hold the first call past half its budget', async () => {
    const device = textTarget('device', 'device', never);
    // The client's clock, watched: which timers it sets.
    const timers: number[] = [];
    const clock = {
      now: () => Date.now(),
      setTimeout: (callback: () => void, ms: number) => {
        timers.push(ms);
        return setTimeout(callback, ms);
      },
      clearTimeout: (handle: unknown) => clearTimeout(handle as ReturnType<typeof setTimeout>),
    };
    const client = createClient({ targets: [device, textTarget('cloud', 'cloud')], availabilityTimeoutMs: 60_000, clock });
    // Not known yet: the device is tried, and it answers (a probe's silence is not a failure).
    const result = await client.generate({ prompt: 'hi', latency: 100 });
    expect(result.route.target).toBe('device');
    expect(device.probeSignal?.aborted).toBe(false);
    expect(timers).toContain(50); // the wait: half the budget
    // Later calls do not wait again while the probe is still out.
    expect((await client.generate({ prompt: 'again', latency: 1_500 })).route.target).toBe('device');
    expect(timers).not.toContain(750);
    // Closing the client ends the probe still running (no timer outlives the client).
    await client.close();
    expect(device.probeSignal?.aborted).toBe(true);
  });

  it('after availabilityTimeoutMs the silent probe counts as unavailable, its signal aborts, and calls go elsewhere', async () => {
    const device = textTarget('device', 'device', never);
    const client = createClient({ targets: [device, textTarget('cloud', 'cloud')], availabilityTimeoutMs: 30 });
    const first = await client.generate({ prompt: 'hi', latency: 'batch' });
    expect(first.route.target).toBe('cloud');
    expect(device.probeSignal?.aborted).toBe(true);
    expect(device.calls).toBe(0);
    expect(client.stats.snapshot().device.availability).toBe('unavailable');
  });

  it('probes run once per client, not per call', async () => {
    let probes = 0;
    const device = textTarget('device', 'device', async () => {
      probes++;
      return 'available';
    });
    const client = createClient({ targets: [device] });
    for (let i = 0; i < 3; i++) expect((await client.generate({ prompt: `call ${i}` })).route.target).toBe('device');
    expect(probes).toBe(1);
    // A probe that answered keeps its signal: nothing it started is cancelled.
    expect(device.probeSignal?.aborted).toBe(false);
  });

  it('refuses a probe timeout that is not a positive number, naming the option', () => {
    expect(() => createClient({ targets: [textTarget('cloud', 'cloud')], availabilityTimeoutMs: 0 })).toThrow(expect.objectContaining({ code: 'INVALID_REQUEST', field: 'availabilityTimeoutMs' }));
  });
});
