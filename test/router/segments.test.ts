import { describe, expect, it } from 'vitest';
import { InvalidRequestError } from '../../src/errors.js';
import { resolveLatency, segmentKinds, segmentOf } from '../../src/router/segments.js';

describe('resolveLatency', () => {
  it.each([
    [undefined, 'interactive', 2_000],
    ['realtime', 'realtime', 100],
    ['interactive', 'interactive', 2_000],
    ['batch', 'batch', 86_400_000],
    [1, 'realtime', 1],
    [80, 'realtime', 80],
    [99.9, 'realtime', 99.9],
    [100, 'interactive', 100],
    [1_500, 'interactive', 1_500],
    [2_000, 'interactive', 2_000],
    [2_000.5, 'batch', 2_000.5],
    [3_600_000, 'batch', 3_600_000],
  ] as const)('%s -> %s, %s ms', (latency, segment, budgetMs) => {
    expect(resolveLatency(latency)).toEqual({ segment, budgetMs });
  });

  it.each([Number.NaN, -1, 0, -0, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, 'fast', '', 'Realtime'])(
    'rejects %s naming the latency field',
    (latency) => {
      let caught: unknown;
      try {
        resolveLatency(latency as never);
      } catch (error) {
        caught = error;
      }
      expect(caught).toBeInstanceOf(InvalidRequestError);
      expect((caught as InvalidRequestError).field).toBe('latency');
      expect((caught as InvalidRequestError).code).toBe('INVALID_REQUEST');
    },
  );

  it('segmentOf agrees with the boundaries', () => {
    expect([segmentOf(99), segmentOf(100), segmentOf(2_000), segmentOf(2_001)]).toEqual(['realtime', 'interactive', 'interactive', 'batch']);
  });
});

describe('segmentKinds', () => {
  it('realtime: device and realtime, cloud only when measured', () => {
    expect(segmentKinds.realtime.primary).toEqual(['device', 'realtime']);
    expect(segmentKinds.realtime.measuredOnly).toEqual(['cloud']);
  });
  it('interactive: device, realtime, cloud; never batch endpoints', () => {
    expect([...segmentKinds.interactive.primary].sort()).toEqual(['cloud', 'device', 'realtime']);
    expect(segmentKinds.interactive.lastResort).toEqual([]);
  });
  it('batch: cloud and batch, device and realtime as last resort', () => {
    expect([...segmentKinds.batch.primary].sort()).toEqual(['batch', 'cloud']);
    expect([...segmentKinds.batch.lastResort].sort()).toEqual(['device', 'realtime']);
  });
});
