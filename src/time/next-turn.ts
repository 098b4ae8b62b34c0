/**
 * Runs a callback on the next turn of the event loop, after everything queued in this one: the
 * micro-batcher's "send after this tick" (callers arriving in the same turn share one request, as
 * DataLoader coalesces). On the system clock that is `setImmediate` where the runtime has it (a
 * zero timeout waits about 1 ms in Node); any other clock, or a runtime without it, gets a zero
 * timeout on that clock, so a test's clock still drives it.
 *
 * Imports: ./clock.
 */
import { type Clock, systemClock } from './clock.js';

type Immediate = { setImmediate?: (callback: () => void) => unknown; clearImmediate?: (handle: unknown) => void };

/** Schedules `callback` for the next turn; returns the function that cancels it. */
export function nextTurn(clock: Clock, callback: () => void): () => void {
  const runtime = globalThis as Immediate;
  if (clock === systemClock && typeof runtime.setImmediate === 'function') {
    const handle = runtime.setImmediate(callback);
    return () => runtime.clearImmediate?.(handle);
  }
  const handle = clock.setTimeout(callback, 0);
  return () => clock.clearTimeout(handle);
}
