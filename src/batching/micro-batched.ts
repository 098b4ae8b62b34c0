/**
 * `microBatched(target, batcher)`: the runner of a target whose embeddings (and, on device
 * runtimes that run several prompts in one pass, whose generations) go through the micro-batcher,
 * gathered with other callers' inputs. Streams never do: a stream goes to the target itself.
 *
 * Imports: target and target-runner, ./micro-batcher.types (types).
 */
import type { CallContext, Target } from '../target.js';
import { type RunnerMethods, runnerOver } from '../target-runner.js';
import type { EnqueueOptions, MicroBatcherApi } from './micro-batcher.types.js';

/** Whether the micro-batcher runs a target's generations (a device runtime with `doGenerateMany`). */
export function batchesGeneration(target: Target): boolean {
  return target.batchedGeneration === true && target.doGenerateMany !== undefined;
}

/**
 * The runner; `target` itself when nothing of it is batched. The batcher rejects a caller whose
 * signal aborts by itself, so its methods honour their signal.
 */
export function microBatched(target: Target, batcher: MicroBatcherApi): Target {
  const methods: RunnerMethods = {};
  if (target.doEmbed !== undefined) {
    methods.doEmbed = (call, ctx) => batcher.embed(target, call.inputs, { dimensions: call.dimensions, providerOptions: call.providerOptions }, enqueueOptions(ctx));
  }
  // The result keeps the batch it rode in (`batch`), which the route reports.
  if (batchesGeneration(target)) methods.doGenerate = (call, ctx) => batcher.generate(target, call, enqueueOptions(ctx));
  if (methods.doEmbed === undefined && methods.doGenerate === undefined) return target;
  return runnerOver(target, methods, true);
}

/** The batch owns the signal and the deadline; the rest of the context rides along. */
function enqueueOptions(ctx: CallContext): EnqueueOptions {
  return { deadline: ctx.deadline, signal: ctx.signal, segment: ctx.segment, context: { promptCacheKey: ctx.promptCacheKey, cacheBreakpoints: ctx.cacheBreakpoints, replica: ctx.replica, emit: ctx.emit } };
}
