/**
 * `viaBatchJob(target, coalescer)`: the runner of a target that answers through its provider
 * batch endpoint (the discounted path): a batch-kind target, or one without online methods for
 * the operation. Each call becomes items of a job the coalescer shares with other `latency:
 * 'batch'` calls to that endpoint; a stream gets the answer as one text part when the job is done.
 *
 * Imports: target, target-runner, text-bridges, ./job-coalescer (types).
 */
import type { Target, TextResult, Usage } from '../target.js';
import { type RunnerMethods, runnerOver } from '../target-runner.js';
import { singlePartStream } from '../text-bridges.js';
import type { JobCoalescer } from './job-coalescer.js';

/** Text answered through the provider's batch endpoint: a batch-kind target, or one without online text methods. */
export function textViaBatchJob(target: Target): boolean {
  return target.batch !== undefined && (target.kind === 'batch' || (!target.doGenerate && !target.doStream));
}

/** Embeddings answered through the provider's batch endpoint. */
export function embeddingViaBatchJob(target: Target): boolean {
  return target.batch !== undefined && (target.kind === 'batch' || !target.doEmbed);
}

/**
 * The runner; `target` itself when it answers nothing through a batch job. The coalescer answers
 * an aborted caller at once (the job goes on for the others), so its methods honour their signal.
 */
export function viaBatchJob(target: Target, coalescer: Pick<JobCoalescer, 'run'>): Target {
  const methods: RunnerMethods = {};
  if (textViaBatchJob(target)) {
    // The call is the item: every generation setting rides on it (a batch line is a full request).
    const answer = async (call: Parameters<NonNullable<Target['doGenerate']>>[0], signal: AbortSignal): Promise<TextResult> => {
      const [result] = await coalescer.run(target.id, 'text', [call], signal);
      return result.text!;
    };
    methods.doGenerate = (call, ctx) => answer(call, ctx.signal);
    // A batch endpoint answers whole, at its discount: one text part when the job is done.
    methods.doStream = (call, ctx) => singlePartStream(() => answer(call, ctx.signal));
  }
  if (embeddingViaBatchJob(target)) {
    // All inputs in one job, shared with other batch-latency calls to this endpoint.
    methods.doEmbed = async (call, ctx) => {
      const results = await coalescer.run(target.id, 'embedding', call.inputs.map((input) => ({ input, dimensions: call.dimensions })), ctx.signal);
      return { embeddings: results.map((result) => result.embedding!), usage: sumUsage(results.map((result) => result.usage)) };
    };
  }
  if (methods.doGenerate === undefined && methods.doEmbed === undefined) return target;
  return runnerOver(target, methods, true);
}

function sumUsage(usages: (Usage | undefined)[]): Usage | undefined {
  const present = usages.filter((u): u is Usage => u !== undefined);
  if (present.length === 0) return undefined;
  return { inputTokens: present.reduce((s, u) => s + (u.inputTokens ?? 0), 0), totalTokens: present.reduce((s, u) => s + (u.totalTokens ?? u.inputTokens ?? 0), 0) };
}
