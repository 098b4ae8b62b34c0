/**
 * Those waiting for work in flight to reach none (the client's `close()`: calls, conversation
 * turns, job submissions).
 *
 * Imports: nothing.
 */
export class IdleWaiters {
  private waiting: (() => void)[] = [];

  /** Resolves at once when already idle, else at the next `wake()`. */
  wait(idle: boolean): Promise<void> {
    if (idle) return Promise.resolve();
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  /** The work reached none: every waiter resolves. */
  wake(): void {
    if (this.waiting.length === 0) return;
    const waiting = this.waiting;
    this.waiting = [];
    for (const resolve of waiting) resolve();
  }
}
