/**
 * Text bridges: a target that implements one of the two text methods serves both. `generate` on
 * a stream-only target gathers its parts; `stream` on a generate-only target (or a batch job's
 * answer) yields the answer as one text part and a finish.
 *
 * Imports: errors, target, target-runner.
 */
import { InferlaneError, toInferlaneError } from './errors.js';
import { mergeUsage, type StreamPart, type Target, type TextResult, type Usage } from './target.js';
import { runnerOver } from './target-runner.js';

/** The runner that gives `target` both text methods; `target` itself when it has both, or neither. */
export function textBridged(target: Target): Target {
  if (target.doGenerate !== undefined && target.doStream === undefined) {
    return runnerOver(target, { doStream: (call, ctx) => singlePartStream(() => target.doGenerate!(call, ctx)) }, target.honoursAbort === true);
  }
  if (target.doStream !== undefined && target.doGenerate === undefined) {
    return runnerOver(target, { doGenerate: (call, ctx) => collectStream(target, target.doStream!(call, ctx)) }, target.honoursAbort === true);
  }
  return target;
}

/** `generate` on a target that only streams: its parts gathered into one result. */
export async function collectStream(target: Target, parts: AsyncIterable<StreamPart>): Promise<TextResult> {
  let text = '';
  let usage: Usage | undefined;
  let finishReason: TextResult['finishReason'] = 'stop';
  let any = false;
  for await (const part of parts) {
    any = true;
    if (part.type === 'text-delta') text += part.text;
    else if (part.type === 'usage') usage = mergeUsage(usage, part.usage);
    else if (part.type === 'finish') {
      finishReason = part.finishReason;
      usage = mergeUsage(usage, part.usage);
    } else if (part.type === 'error') throw toInferlaneError(part.error, target.id);
  }
  // As for streams: a stream that ended before any part failed on this target (the next may answer).
  if (!any) throw new InferlaneError('PROVIDER_ERROR', 'the stream ended before any part', { retryable: true, target: target.id });
  return usage ? { text, finishReason, usage } : { text, finishReason };
}

/** A whole answer as a stream, asked for on the first read: its text as one part, then the finish. */
export async function* singlePartStream(answer: () => Promise<TextResult>): AsyncGenerator<StreamPart> {
  const result = await answer();
  if (result.text) yield { type: 'text-delta', text: result.text };
  yield { type: 'finish', finishReason: result.finishReason, usage: result.usage };
}
