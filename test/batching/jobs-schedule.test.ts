/**
 * Off-peak windows and `notBefore` (issue 20 item 3): the schedule's arithmetic in real time
 * zones (Intl), a scheduled job that is not submitted before its window opens (virtual clock),
 * and, on a real redis-server with the real openai adapter against the local Batch API, a job
 * that survives a restart while it waits and is submitted once when two workers race at the opening.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openai } from '../../providers/openai/index.js';
import { Jobs, type JobItem, type JobProgressEvent } from '../../src/batching/jobs/index.js';
import { inWindow, nextStart, resolveSchedule } from '../../src/batching/jobs/schedule.js';
import { memoryStore } from '../../src/stores/memory.js';
import { redisStore } from '../../src/stores/redis.js';
import type { KeyValueStore } from '../../src/stores/store.js';
import type { Target } from '../../src/target.js';
import { collect } from '../helpers/async.js';
import { redisAvailable, startRedis, type RunningRedis } from '../helpers/redis.js';
import { VirtualClock } from '../helpers/virtual-clock.js';
import { startOpenAIServer, type OpenAIServer } from '../servers/openai-compatible.js';
import { storeBatchProvider } from './fixtures/store-batch-provider.js';

const at = (iso: string) => Date.parse(iso);
const iso = (ms: number) => new Date(ms).toISOString();
const items = (count: number): JobItem[] => Array.from({ length: count }, (_, index) => ({ id: `item-${index}`, prompt: `question ${index}` }));

describe('schedule arithmetic (Intl time zones)', () => {
  const overnight = resolveSchedule({ start: '22:00', end: '06:00', timeZone: 'Europe/Berlin' }, undefined)!;

  it('an overnight window opens at 22:00 local and holds until 06:00 local', () => {
    // Berlin is UTC+1 in winter, UTC+2 in summer.
    expect(iso(nextStart(overnight, at('2026-01-15T12:00:00Z')))).toBe('2026-01-15T21:00:00.000Z');
    expect(iso(nextStart(overnight, at('2026-07-15T12:00:00Z')))).toBe('2026-07-15T20:00:00.000Z');
    // Inside the window (before and after midnight): at once.
    expect(nextStart(overnight, at('2026-01-15T22:30:00Z'))).toBe(at('2026-01-15T22:30:00Z'));
    expect(nextStart(overnight, at('2026-01-16T04:59:59Z'))).toBe(at('2026-01-16T04:59:59Z'));
    // 06:00 local is closed again: the next opening is that evening.
    expect(iso(nextStart(overnight, at('2026-01-16T05:00:00Z')))).toBe('2026-01-16T21:00:00.000Z');
    expect(inWindow(overnight.window!, at('2026-01-16T05:00:00Z'))).toBe(false);
  });

  it('a window opening in the hour skipped by daylight saving opens when the clock jumps; in a repeated hour, the first time', () => {
    // 29 March 2026, Berlin: 02:00 CET jumps to 03:00 CEST (01:00 UTC); 02:30 never happens.
    const skipped = resolveSchedule({ start: '02:30', end: '05:00', timeZone: 'Europe/Berlin' }, undefined)!;
    expect(iso(nextStart(skipped, at('2026-03-28T12:00:00Z')))).toBe('2026-03-29T01:00:00.000Z');
    // 25 October 2026: 03:00 CEST falls back to 02:00 CET; 02:30 happens at 00:30 and 01:30 UTC.
    const repeated = resolveSchedule({ start: '02:30', end: '02:45', timeZone: 'Europe/Berlin' }, undefined)!;
    expect(iso(nextStart(repeated, at('2026-10-24T12:00:00Z')))).toBe('2026-10-25T00:30:00.000Z');
  });

  it('notBefore alone, and notBefore with a window: the first opening from then', () => {
    const later = at('2026-05-01T09:00:00Z');
    expect(nextStart(resolveSchedule(undefined, new Date(later))!, at('2026-04-01T00:00:00Z'))).toBe(later);
    expect(nextStart(resolveSchedule(undefined, later)!, later + 5)).toBe(later + 5);
    const business = resolveSchedule({ start: '09:00', end: '17:00', timeZone: 'America/New_York' }, at('2026-01-01T00:00:00Z'))!;
    expect(iso(nextStart(business, at('2025-12-01T15:00:00Z')))).toBe('2026-01-01T14:00:00.000Z');
  });

  it('saves the zone resolved at submit time, so workers in other zones read the window the same way', () => {
    const schedule = resolveSchedule({ start: '01:00', end: '02:00' }, undefined)!;
    expect(schedule.window!.timeZone).toBe(new Intl.DateTimeFormat().resolvedOptions().timeZone);
  });
});

describe('a scheduled job (virtual clock, memory store)', () => {
  function setup() {
    // 2026-01-15 12:00 UTC; the window opens at 21:00 UTC (22:00 Berlin).
    const clock = new VirtualClock({ start: at('2026-01-15T12:00:00Z') });
    const store = memoryStore({ now: () => clock.now() });
    const provider = storeBatchProvider({ store: memoryStore(), steps: 2 });
    const target: Target = { id: 'fake:batch', kind: 'batch', modalities: ['text'], batch: provider };
    const events: JobProgressEvent[] = [];
    const make = (ownerId: string) =>
      new Jobs({ store, targets: [target], emit: (_event, payload) => events.push(payload), runOnline: () => Promise.reject(new Error('not used')), clock, ownerId });
    return { clock, store, provider, make, events };
  }
  const window = { start: '22:00', end: '06:00', timeZone: 'Europe/Berlin' };
  const opening = at('2026-01-15T21:00:00Z');

  it('is saved, listed as scheduled with its start time, and not submitted before the window opens', async () => {
    const { clock, provider, make } = setup();
    const jobs = make('w1');
    const handle = await jobs.submit(items(5), { window });
    expect(await provider.created()).toBe(0);
    const [listed] = await jobs.list();
    expect(listed).toMatchObject({ id: handle.id, status: 'scheduled', startsAt: opening, schedule: { window } });
    expect((await jobs.list({ status: 'scheduled' })).map((job) => job.id)).toEqual([handle.id]);
    // One ms before the opening, resume() (what a scheduled trigger calls) sends nothing.
    await clock.advance(opening - 1 - clock.now());
    await jobs.resume();
    expect(await provider.created()).toBe(0);
    expect((await handle.get()).status).toBe('scheduled');
    // At the opening this process's start timer submits it, with nobody waiting.
    await clock.advance(1);
    expect(await provider.created()).toBe(1);
    const info = await handle.get();
    expect(info.status).toBe('validating');
    expect(info.startsAt).toBeUndefined();
    // The completion window counts from the submission, not from when the job was saved.
    expect(info.expiresAt).toBe(opening + 24 * 3_600_000);
    await jobs.close();
  });

  it('wait() on a scheduled job sleeps until the window opens, then submits and polls it to the end', async () => {
    const { clock, provider, make, events } = setup();
    const jobs = make('w1');
    const handle = await jobs.submit(items(3), { notBefore: at('2026-01-15T20:00:00Z'), window });
    clock.runFreely();
    const progress: JobProgressEvent[] = [];
    const info = await handle.wait({ pollIntervalMs: 60_000, onProgress: (event) => progress.push(event) });
    expect(info.status).toBe('completed');
    expect(await provider.created()).toBe(1);
    expect(progress[0]).toMatchObject({ status: 'scheduled', startsAt: opening });
    expect(events.find((event) => event.status === 'validating')).toBeDefined();
    expect((await collect(handle.results())).map((result) => result.ok)).toEqual([true, true, true]);
    // No poll ran in vain before the opening: polls back off towards 5 min, then one wakes at the opening.
    expect(clock.now()).toBeGreaterThanOrEqual(opening);
    await jobs.close();
  });

  it('a cancelled scheduled job is never submitted, and its start timer is gone', async () => {
    const { clock, provider, make } = setup();
    const jobs = make('w1');
    const handle = await jobs.submit(items(2), { window });
    expect(clock.pending()).toEqual([opening - clock.now()]);
    const info = await handle.cancel();
    expect(info.status).toBe('cancelled');
    expect(clock.pending()).toEqual([]);
    await clock.advance(opening - clock.now() + 1);
    await jobs.resume();
    expect(await provider.created()).toBe(0);
    await jobs.close();
  });

  it('refuses a bad window or notBefore, naming the field, before anything is stored', async () => {
    const { store, make } = setup();
    const jobs = make('w1');
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ window: { start: '22:00' } }, 'window.end'],
      [{ window: { start: '7pm', end: '06:00' } }, 'window.start'],
      [{ window: { start: '22:00', end: '22:00' } }, 'window.end'],
      [{ window: { start: '22:00', end: '06:00', timeZone: 'Mars/Olympus_Mons' } }, 'window.timeZone'],
      [{ window: { start: '22:00', end: '06:00', zone: 'UTC' } }, 'window.zone'],
      [{ window: 'nights' }, 'window'],
      [{ notBefore: 'tomorrow' }, 'notBefore'],
      [{ notBefore: new Date('not a date') }, 'notBefore'],
    ];
    for (const [options, field] of cases) await expect(jobs.submit(items(1), options as never)).rejects.toMatchObject({ code: 'INVALID_REQUEST', field });
    expect(await store.list('')).toEqual([]);
    await jobs.close();
  });
});

describe.runIf(redisAvailable())('a scheduled job on Redis with the openai adapter: restart, then two workers race at the opening', () => {
  // One virtual clock for the workers and the server: its batches move through their stages as
  // the clock passes (1 min validating, 10 min running, 1 min finalizing).
  const clock = new VirtualClock({ start: at('2026-01-15T12:00:00Z') });
  let redis: RunningRedis;
  let server: OpenAIServer;
  beforeAll(async () => {
    [redis, server] = await Promise.all([
      startRedis(),
      startOpenAIServer({ recordRequests: true, now: () => clock.now(), batches: { timeline: { validatingMs: 60_000, inProgressMs: 600_000, finalizingMs: 60_000 } } }),
    ]);
  });
  afterAll(async () => {
    await Promise.all([redis?.stop(), server?.close()]);
  });

  const creates = () => server.requests.filter((request) => request.method === 'POST' && request.path === '/v1/batches');

  it('is submitted exactly once per part, by one of the workers running when the window opens', async () => {
    const opening = at('2026-01-15T21:00:00Z');
    const stores: KeyValueStore[] = [];
    const worker = (ownerId?: string) => {
      const store = redisStore({ url: redis.url, keyPrefix: 'schedule-race:' });
      stores.push(store);
      // A 1,000-line batch limit makes three parts of the 2,500 items.
      const target = openai({ id: 'batch', model: 'gpt-4.1-mini', kind: 'batch', baseURL: server.baseURL, apiKey: 'sk-schedule-test-0001', batch: { maxItems: 1_000 }, now: () => clock.now() });
      return new Jobs({ store, targets: [target], emit: () => {}, runOnline: () => Promise.reject(new Error('not used')), clock, ownerId });
    };

    // The first process saves the job and goes away before the window opens.
    const first = worker('first');
    const handle = await first.submit(items(2_500), { window: { start: '22:00', end: '06:00', timeZone: 'Europe/Berlin' } });
    expect((await handle.get()).parts).toHaveLength(3);
    await first.close();
    await stores[0].close?.();
    expect(clock.pending()).toEqual([]);

    // Two new processes (random owner ids, as after a restart) pick it up before the opening.
    const [one, two] = [worker(), worker()];
    for (const jobs of [one, two]) expect((await jobs.resume()).map((job) => job.id)).toEqual([handle.id]);
    expect(creates()).toHaveLength(0);
    expect((await one.list())[0]).toMatchObject({ status: 'scheduled', startsAt: opening });

    // The window opens: both start timers fire at once and race for the three parts.
    expect(clock.pending()).toEqual([opening - clock.now(), opening - clock.now()]);
    const allCreated = server.waitFor((requests) => requests.filter((request) => request.method === 'POST' && request.path === '/v1/batches').length >= 3);
    await clock.advance(opening - clock.now());
    await allCreated;
    // Both wait for the end; time now runs on its own (each poll jumps to the next).
    clock.runFreely(1);
    const [a, b] = await Promise.all([one.wait(handle.id, { pollIntervalMs: 60_000 }), two.wait(handle.id, { pollIntervalMs: 60_000 })]);
    expect([a.status, b.status]).toEqual(['completed', 'completed']);
    const made = creates();
    expect(made).toHaveLength(3);
    expect(made.map((request) => (request.body as { metadata: Record<string, string> }).metadata.inferlane_part).sort()).toEqual(['0', '1', '2']);
    const results = await collect(one.results(handle.id));
    expect(results).toHaveLength(2_500);
    expect(new Set(results.map((result) => result.id)).size).toBe(2_500);
    for (const jobs of [one, two]) await jobs.close();
    for (const store of stores.slice(1)) await store.close?.();
  }, 60_000);
});
