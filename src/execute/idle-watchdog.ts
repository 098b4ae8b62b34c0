/**
 * The idle watchdog of a started stream: `idleMs` without a part from the provider ends it.
 *
 * Imports: errors, time/clock (types), ./deadline.
 */
import { AbortedError, DeadlineExceededError, type InferlaneError } from '../errors.js';
import type { Clock } from '../time/clock.js';
import { abortWith } from './deadline.js';

/** The idle deadline of one started stream (see `IdleWatchdog`). */
export interface Watchdog {
  /** The next step, failed at once when the stream idles out or is aborted (any iterator). */
  next<P>(iterator: AsyncIterator<P>): Promise<IteratorResult<P>>;
  /** Before awaiting a step of an iterator that honours its signal (no guard promise). */
  waiting(): void;
  /** After that step: throws the watchdog's failure when it fired meanwhile. */
  stepped(): void;
  /** Why the watchdog ended the stream, if it did. */
  failure(): InferlaneError | undefined;
  stop(): void;
}

/**
 * The idle deadline of a started stream: one timer per stream instead of one per part, re-armed
 * only when it fires. Only time spent waiting on the provider counts: a caller that holds a part
 * for a while (writing it to a slow socket, say) does not make the provider idle. It also fails
 * the pending step at once when the attempt is aborted, so a hung iterator never holds the caller.
 * (A class: one object per stream rather than a closure per method.)
 */
export class IdleWatchdog implements Watchdog {
  private timer: unknown;
  private failed: unknown = undefined;
  /** When the pending `next()` started waiting; undefined while the caller holds a part. */
  private waitingSince: number | undefined = undefined;
  /**
   * The pending step's reject: one settle function per part instead of a Promise.race, whose
   * reactions on a long-lived promise would pile up for the whole stream.
   */
  private rejectStep: ((error: unknown) => void) | undefined = undefined;
  private readonly onAbort: (() => void) | undefined = undefined;

  constructor(
    private readonly idleMs: number,
    private readonly controller: AbortController,
    private readonly targetId: string,
    private readonly trusted: boolean,
    private readonly clock: Clock,
  ) {
    this.timer = clock.setTimeout(() => this.check(), idleMs);
    // Already aborted (the caller aborted while holding the first part): fail the first step.
    if (controller.signal.aborted) this.fail(new AbortedError('aborted'));
    // Only a guarded step needs waking on abort; a trusted one is checked when it returns.
    else if (!trusted) {
      this.onAbort = () => this.fail(new AbortedError('aborted'));
      controller.signal.addEventListener('abort', this.onAbort, { once: true });
    }
  }

  waiting(): void {
    if (this.failed !== undefined) throw this.failed;
    this.waitingSince = this.clock.now();
  }

  stepped(): void {
    this.waitingSince = undefined;
    if (this.failed === undefined && this.controller.signal.aborted) this.failed = new AbortedError('aborted');
    if (this.failed !== undefined) throw this.failed;
  }

  failure(): InferlaneError | undefined {
    return this.failed as InferlaneError | undefined;
  }

  next<P>(iterator: AsyncIterator<P>): Promise<IteratorResult<P>> {
    if (this.failed !== undefined) return Promise.reject(this.failed);
    this.waitingSince = this.clock.now();
    return new Promise<IteratorResult<P>>((resolve, reject) => {
      this.rejectStep = reject;
      iterator.next().then(
        (step) => {
          this.settled();
          resolve(step);
        },
        (error: unknown) => {
          this.settled();
          reject(error);
        },
      );
    });
  }

  stop(): void {
    this.clock.clearTimeout(this.timer);
    if (this.onAbort) this.controller.signal.removeEventListener('abort', this.onAbort);
    this.settled();
  }

  private check(): void {
    const idle = this.waitingSince === undefined ? 0 : this.clock.now() - this.waitingSince;
    if (idle >= this.idleMs) {
      // Fail first: aborting wakes the abort listener, which must not decide the error.
      this.fail(new DeadlineExceededError(this.idleMs, { target: this.targetId, detail: `no stream part for ${this.idleMs} ms (idleMs)` }));
      abortWith(this.controller, 'stream-timeout');
    } else this.timer = this.clock.setTimeout(() => this.check(), this.idleMs - idle);
  }

  private fail(error: unknown): void {
    if (this.failed !== undefined) return;
    this.failed = error;
    this.rejectStep?.(error);
  }

  private settled(): void {
    this.waitingSince = undefined;
    this.rejectStep = undefined;
  }
}
