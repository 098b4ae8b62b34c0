/** Reading a session's events in tests: every event kept, waits resolve on the event itself (no polling, no sleeps). */
import type { RealtimeSession, RealtimeSessionEvent } from '../../src/realtime/index.js';
import { expect } from 'vitest';
import { InvalidRequestError } from '../../src/errors.js';
import { concatBytes } from '../../src/realtime/audio.js';
import { type Clock, systemClock } from '../../src/time/clock.js';

export class SessionReader {
  readonly events: RealtimeSessionEvent[] = [];
  private readonly waiters: { predicate: (event: RealtimeSessionEvent) => boolean; resolve: (event: RealtimeSessionEvent) => void; reject: (error: Error) => void }[] = [];
  private ended = false;
  readonly done: Promise<void>;

  constructor(session: RealtimeSession) {
    this.done = (async () => {
      for await (const event of session) {
        this.events.push(event);
        for (const waiter of [...this.waiters]) {
          if (waiter.predicate(event)) {
            this.waiters.splice(this.waiters.indexOf(waiter), 1);
            waiter.resolve(event);
          }
        }
      }
      this.ended = true;
      for (const waiter of this.waiters.splice(0)) waiter.reject(new Error(`the session ended before the awaited event; it yielded: ${this.types().join(', ')}`));
    })();
  }

  /** The first event (seen already at or after index `from`, or still to come) that matches. */
  next<T extends RealtimeSessionEvent['type']>(type: T, predicate: (event: Extract<RealtimeSessionEvent, { type: T }>) => boolean = () => true, from = 0): Promise<Extract<RealtimeSessionEvent, { type: T }>> {
    const matches = (event: RealtimeSessionEvent) => event.type === type && predicate(event as Extract<RealtimeSessionEvent, { type: T }>);
    const seen = this.events.slice(from).find(matches);
    if (seen) return Promise.resolve(seen as Extract<RealtimeSessionEvent, { type: T }>);
    if (this.ended) return Promise.reject(new Error(`the session ended; it yielded: ${this.types().join(', ')}`));
    return new Promise((resolve, reject) => this.waiters.push({ predicate: matches, resolve: resolve as (event: RealtimeSessionEvent) => void, reject }));
  }

  types(): string[] {
    return this.events.map((event) => event.type);
  }

  /** Every audio delta of one response, joined. */
  audioOf(responseId: string): Uint8Array {
    return concatBytes(this.events.filter((event): event is Extract<RealtimeSessionEvent, { type: 'audio-delta' }> => event.type === 'audio-delta' && event.responseId === responseId).map((event) => event.audio));
  }
}

/** Node's handles of a kind right now (sockets, timers), to check nothing outlives a close. */
export function activeResources(): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const name of process.getActiveResourcesInfo()) counts[name] = (counts[name] ?? 0) + 1;
  return counts;
}

/** Kinds of handle (and how many) present now beyond `baseline`: what something left behind. */
export function resourcesBeyond(baseline: Record<string, number>): Record<string, number> {
  const extra: Record<string, number> = {};
  for (const [kind, count] of Object.entries(activeResources())) if (count > (baseline[kind] ?? 0)) extra[kind] = count - (baseline[kind] ?? 0);
  return extra;
}

/** The system clock, counting the timers set through it that have neither fired nor been cleared. */
export function countingClock(): Clock & { live(): number } {
  const live = new Set<unknown>();
  return {
    now: () => systemClock.now(),
    setTimeout(callback, ms) {
      const handle: unknown = systemClock.setTimeout(() => {
        live.delete(handle);
        callback();
      }, ms);
      live.add(handle);
      return handle;
    },
    clearTimeout(handle) {
      live.delete(handle);
      systemClock.clearTimeout(handle);
    },
    live: () => live.size,
  };
}

/** The `field` of the InvalidRequestError `run` throws (undefined when it throws nothing). */
export function fieldOf(run: () => unknown): string | undefined {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidRequestError);
    return (error as InvalidRequestError).field;
  }
  return undefined;
}
