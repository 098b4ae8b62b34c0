/**
 * A `Clock` whose time moves only when a test lets it: timers fire in due order at their own
 * time. Manual: `advance(ms)` moves time and fires what falls due (timers due at the same time in
 * the same turn), awaiting the work they start as far as it runs without I/O. Auto: whenever a timer is pending and the process has
 * nothing else to do in this turn (after `setImmediate`, or after `realDelayMs` of real time),
 * time jumps to the earliest timer and fires it, so a poll loop runs through hours at once.
 *
 * Also `frozenView(clock)`: the same time, timers that never fire (a dead process's heartbeat);
 * `trackingClock(base)`: a clock that counts its pending timers (none may outlive the work); and
 * `pollingClock(onPoll)`: wall-clock time where a short timer (a test's poll) runs `onPoll` and
 * fires at once, for tests against a server whose batches move when told.
 */
import type { Clock } from '../../src/time/clock.js';

interface Timer {
  at: number;
  ms: number;
  callback: () => void;
}

export interface VirtualClockOptions {
  /** ms since epoch at the start. @default 1_700_000_000_000 */
  start?: number;
  /** Fire the earliest timer whenever the process is idle. @default false */
  auto?: boolean;
  /** Auto mode: wait this much real time before each jump (lets real I/O move meanwhile), ms. @default 0 (setImmediate) */
  realDelayMs?: number;
  /** Called with a timer's delay just before it fires. */
  onFire?: (ms: number) => void;
}

export class VirtualClock implements Clock {
  private time: number;
  private nextId = 0;
  private readonly timers = new Map<number, Timer>();
  private jumping = false;
  /** The delays of the timers that fired, in firing order. */
  readonly fired: number[] = [];

  private readonly options: VirtualClockOptions;

  constructor(options: VirtualClockOptions = {}) {
    this.options = { ...options };
    this.time = options.start ?? 1_700_000_000_000;
  }

  now(): number {
    return this.time;
  }

  setTimeout(callback: () => void, ms: number): unknown {
    const id = ++this.nextId;
    this.timers.set(id, { at: this.time + Math.max(0, ms), ms, callback });
    if (this.options.auto) this.scheduleJump();
    return id;
  }

  clearTimeout(handle: unknown): void {
    this.timers.delete(handle as number);
  }

  /** Delays from now of the pending timers, soonest first. */
  pending(): number[] {
    return [...this.timers.values()].map((timer) => timer.at - this.time).sort((a, b) => a - b);
  }

  /** Moves time forward by `ms`, firing each timer that falls due at its own time. */
  async advance(ms: number): Promise<void> {
    const until = this.time + ms;
    // Always one turn of the event loop, even when nothing is due: work waiting on the thread pool
    // (a digest, a file) must get to run, or a test looping on advance(0) would spin forever.
    await idle();
    for (;;) {
      const due = this.earliest();
      if (!due || due[1].at > until) break;
      // Timers due at the same time fire in the same turn, as Node's do.
      for (const entry of [...this.timers]) if (entry[1].at === due[1].at) this.fire(entry);
      await idle();
    }
    this.time = Math.max(this.time, until);
  }

  /** From now on, fire the earliest timer whenever the process is idle (after `realDelayMs` of real time). */
  runFreely(realDelayMs?: number): void {
    this.options.auto = true;
    this.options.realDelayMs = realDelayMs;
    if (this.timers.size > 0) this.scheduleJump();
  }

  /** Moves time forward by `ms` without firing anything (a process that slept through it). */
  skip(ms: number): void {
    this.time += ms;
  }

  private earliest(): [number, Timer] | undefined {
    let best: [number, Timer] | undefined;
    for (const entry of this.timers) if (!best || entry[1].at < best[1].at) best = entry;
    return best;
  }

  private fire([id, timer]: [number, Timer]): void {
    this.timers.delete(id);
    this.time = Math.max(this.time, timer.at);
    this.fired.push(timer.ms);
    this.options.onFire?.(timer.ms);
    timer.callback();
  }

  private scheduleJump(): void {
    if (this.jumping) return;
    this.jumping = true;
    const jump = () => {
      this.jumping = false;
      const due = this.earliest();
      if (!due) return;
      this.fire(due);
      if (this.timers.size > 0) this.scheduleJump();
    };
    if (this.options.realDelayMs) setTimeout(jump, this.options.realDelayMs);
    else setImmediate(jump);
  }
}

/** Lets the work a timer started run as far as it can without I/O. */
function idle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** The clock's time with timers that never fire: a process that died (its heartbeat never beats again). */
export function frozenView(clock: Clock): Clock {
  return { now: () => clock.now(), setTimeout: () => undefined, clearTimeout: () => {} };
}

/** `base` with a count of its timers that are armed and neither fired nor cleared. */
export function trackingClock(base: Clock): { clock: Clock; pending(): number } {
  const armed = new Set<unknown>();
  const clock: Clock = {
    now: () => base.now(),
    setTimeout: (callback, ms) => {
      const handle = base.setTimeout(() => {
        armed.delete(handle);
        callback();
      }, ms);
      armed.add(handle);
      return handle;
    },
    clearTimeout: (handle) => {
      armed.delete(handle);
      base.clearTimeout(handle);
    },
  };
  return { clock, pending: () => armed.size };
}

/**
 * Wall-clock time (plus `offsetMs`). A timer under `shortMs` (the 1 ms polls these tests ask for)
 * runs `onPoll` (which moves the server's batches one stage) and then fires on the next turn, so
 * nothing waits on a wall clock; with `never` it never fires (online work wakes its waiter when
 * it ends; a poll that never ends proves it). Longer timers (a claim's heartbeat) keep real time.
 */
export function pollingClock(onPoll: () => void | Promise<void>, never = false, options: { offsetMs?: number; shortMs?: number } = {}): Clock {
  const shortMs = options.shortMs ?? 1000;
  const tokens = new WeakSet<object>();
  const cancelled = new WeakSet<object>();
  return {
    now: () => Date.now() + (options.offsetMs ?? 0),
    setTimeout: (callback, ms) => {
      if (ms >= shortMs) return setTimeout(callback, ms);
      const token = {};
      tokens.add(token);
      if (never) return token;
      void Promise.resolve(onPoll()).then(() =>
        setImmediate(() => {
          if (!cancelled.has(token)) callback();
        }),
      );
      return token;
    },
    clearTimeout: (handle) => {
      if (typeof handle === 'object' && handle !== null && tokens.has(handle)) cancelled.add(handle);
      else clearTimeout(handle as ReturnType<typeof setTimeout>);
    },
  };
}
