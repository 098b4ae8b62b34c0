/**
 * Whether a promise resolves within `ms` on a clock (its timer cleared either way; a rejection
 * within the time rejects). The client's availability probes and `close()` wait this way.
 *
 * Imports: ./clock.
 */
import type { Clock } from './clock.js';

export async function within(clock: Clock, promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: unknown;
  const late = new Promise<false>((resolve) => {
    timer = clock.setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([promise.then(() => true as const), late]);
  } finally {
    clock.clearTimeout(timer);
  }
}
