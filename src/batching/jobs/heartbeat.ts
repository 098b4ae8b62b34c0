/**
 * A claim kept alive while its owner works: renewed every `intervalMs` (a third of the lease,
 * so two renewals may fail before it lapses), and `signal` aborted the moment a renewal finds
 * the claim gone, because another worker took the part over while this one was paused.
 *
 * The timer is unref'd where the runtime allows: the work it guards (an upload, online items)
 * keeps the process alive by itself, and `stop()` clears it the moment that work settles.
 *
 * Imports: errors.ts, time/clock.ts.
 */
import { JobError } from '../../errors.js';
import type { Clock } from '../../time/clock.js';

export class Heartbeat {
  private readonly controller = new AbortController();
  private timer: unknown;
  private stopped = false;

  /**
   * @param renew extends the claim; resolves false when the claim is no longer ours. A renewal
   * that fails (the store is down) is tried again next beat: the final compare-and-set still
   * refuses a worker whose lease lapsed meanwhile.
   */
  constructor(
    private readonly renew: () => Promise<boolean>,
    private readonly intervalMs: number,
    private readonly clock: Clock,
    private readonly what: string,
  ) {
    this.arm();
  }

  /** Aborted (with a JobError) when the claim was found taken over. */
  get signal(): AbortSignal {
    return this.controller.signal;
  }

  get lost(): boolean {
    return this.controller.signal.aborted;
  }

  stop(): void {
    this.stopped = true;
    this.clock.clearTimeout(this.timer);
  }

  private arm(): void {
    if (this.stopped) return;
    this.timer = this.clock.setTimeout(() => void this.beat(), this.intervalMs);
    unref(this.timer);
  }

  private async beat(): Promise<void> {
    if (this.stopped) return;
    let held = true;
    try {
      held = await this.renew();
    } catch {
      // Tried again at the next beat.
    }
    if (this.stopped) return;
    if (!held) {
      this.stopped = true;
      this.controller.abort(new JobError(`${this.what}: another worker took the claim over (this one lost its lease)`));
      return;
    }
    this.arm();
  }
}

/** Lets the process exit while only this timer is pending (Node's Timeout; a no-op elsewhere). */
export function unref(timer: unknown): void {
  (timer as { unref?: () => void } | undefined)?.unref?.();
}
