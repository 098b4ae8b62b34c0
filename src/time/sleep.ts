/**
 * The package's one sleep: resolves after `ms` on the given clock, or rejects with the signal's
 * reason when it aborts first (its timer cleared either way).
 *
 * Imports: ./clock.
 */
import { type Clock, maxTimerMs, systemClock } from './clock.js';

export function sleep(ms: number, signal?: AbortSignal, clock: Clock = systemClock): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => {
      clock.clearTimeout(handle);
      reject(signal!.reason);
    };
    const handle = clock.setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, Math.min(Math.max(0, ms), maxTimerMs));
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
