/**
 * A runner: the target an attempt really runs on, composed around a planned target once (when
 * the client is made) instead of branched on for every call. `microBatched(target, batcher)`,
 * `viaBatchJob(target, coalescer)` and the client's text bridges each return one. The router
 * plans over the planned targets; the executor runs their runners (`RunOptions.runnerFor`).
 *
 * A runner reads every fact through to the target it wraps (id, kind, limits, microBatch...),
 * carries the text and embedding methods it was given, and binds every other `do*` method to
 * the target it wraps, so an adapter's methods always run with their own `this`.
 *
 * Imports: target (types).
 */
import type { Target } from './target.js';

/** The methods a runner may replace. */
export type RunnerMethods = Partial<Pick<Target, 'doGenerate' | 'doStream' | 'doEmbed'>>;

const methodNames = ['doGenerate', 'doStream', 'doGenerateMany', 'doEmbed', 'doImage', 'doTranscribe', 'doSpeech', 'doVideo'] as const;

/**
 * A runner over `inner` with `methods` in place of its own. `honours`: whether the given methods
 * settle on their signal by themselves; the runner's `honoursAbort` is true only when every text
 * and embedding method it exposes does (its own, and the ones it passes through from `inner`).
 */
export function runnerOver(inner: Target, methods: RunnerMethods, honours: boolean): Target {
  const runner = Object.create(inner) as Target;
  const own = runner as unknown as Record<string, unknown>;
  const from = inner as unknown as Record<string, unknown>;
  for (const name of methodNames) {
    const given = (methods as Record<string, unknown>)[name];
    if (given !== undefined) own[name] = given;
    else if (typeof from[name] === 'function') own[name] = (from[name] as (...args: unknown[]) => unknown).bind(inner);
  }
  const passesThrough = (['doGenerate', 'doStream', 'doEmbed'] as const).some((name) => methods[name] === undefined && inner[name] !== undefined);
  runner.honoursAbort = honours && (!passesThrough || inner.honoursAbort === true);
  return runner;
}
