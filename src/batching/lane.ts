/**
 * One target's lane: at most `concurrency` provider requests of the micro-batcher in flight,
 * the rest waiting in arrival order. What the batcher needs of a queue library (add, how many
 * wait, how many run), in a few lines: p-queue and p-timeout came to 8.9 KB of the minified
 * browser core for these three.
 *
 * Imports: nothing.
 */
export class Lane {
  /** Tasks running now. */
  pending = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(private readonly concurrency: number) {}

  /** Tasks waiting for a free slot. */
  get size(): number {
    return this.waiting.length;
  }

  /** Runs `task` when a slot is free (at once when one is); settles as the task does. */
  add<T>(task: () => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const run = () => {
        this.pending++;
        let result: Promise<T>;
        try {
          result = task();
        } catch (error) {
          result = Promise.reject(error);
        }
        result.then(resolve, reject).finally(() => {
          this.pending--;
          this.waiting.shift()?.();
        });
      };
      if (this.pending < this.concurrency) run();
      else this.waiting.push(run);
    });
  }
}
