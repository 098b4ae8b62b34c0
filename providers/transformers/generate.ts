/**
 * Text generation on the device: one generation at a time on one model instance (onnxruntime
 * sessions are not re-entrant for generation state, and a second prompt would only slow the first
 * on a small device), several prompts in one batched pass when they share their settings
 * (`doGenerateMany`), stop sequences cut after decoding (the runtime cannot stop on them itself).
 */
import PQueue from 'p-queue';
import { abortedCallError, cutAtStop, InvalidRequestError, toInferlaneError, type CallContext, type FinishReason, type TextCall, type TextResult, type Usage } from '../../src/provider.js';
import type { ModelLike, StoppingCriteriaLike, TensorLike } from './library.js';
import type { Session } from './session.js';

export interface Generator {
  /** Runs one batched generation; `onText` receives the streamed text of row 0 when given. */
  run(calls: TextCall[], ctx: CallContext, onText?: (text: string) => void, criteria?: StoppingCriteriaLike): Promise<TextResult[]>;
  /** Runs `work` when the model is free, in arrival order; an aborted wait leaves the queue. */
  serialise<T>(signal: AbortSignal, work: () => Promise<T>): Promise<T>;
  /** Throws InvalidRequestError (field `messages`) for a call without messages. */
  validate(call: TextCall): void;
  doGenerate(call: TextCall, ctx: CallContext): Promise<TextResult>;
  doGenerateMany(calls: TextCall[], ctx: CallContext): Promise<TextResult[]>;
  stats(): { running: number; waiting: number; maxRunning: number };
}

export function createGenerator(session: Session, maxNewTokens: number): Generator {
  const { id, model } = session;
  const queue = new PQueue({ concurrency: 1 });
  let running = 0;
  let maxRunning = 0;

  const serialise = async <T>(signal: AbortSignal, work: () => Promise<T>): Promise<T> => {
    try {
      return await queue.add(
        async () => {
          running++;
          maxRunning = Math.max(maxRunning, running);
          try {
            return await work();
          } finally {
            running--;
          }
        },
        { signal },
      );
    } catch (error) {
      if (signal.aborted) throw abortedCallError(id, signal);
      throw error;
    }
  };

  const generationOptions = (call: TextCall): Record<string, unknown> => {
    const options: Record<string, unknown> = { max_new_tokens: call.maxOutputTokens ?? maxNewTokens };
    if (call.temperature !== undefined && call.temperature > 0) {
      options.do_sample = true;
      options.temperature = call.temperature;
    } else if (call.temperature === 0) options.do_sample = false;
    if (call.topP !== undefined) options.top_p = call.topP;
    const own = call.providerOptions?.transformers;
    if (own) Object.assign(options, own);
    return options;
  };

  const validate = (call: TextCall): void => {
    if (!Array.isArray(call.messages) || call.messages.length === 0) throw new InvalidRequestError('messages', 'at least one message is required');
  };

  const run = async (calls: TextCall[], ctx: CallContext, onText?: (text: string) => void, criteria?: StoppingCriteriaLike): Promise<TextResult[]> => {
    // Load first: it maps a missing library or model onto TargetUnavailableError.
    const { tokenizer, model: instance } = await session.withProgress(session.progressTo(ctx), () => session.loadTask('text'));
    const lib = await session.library();
    session.throwIfAborted(ctx.signal);
    const prompts = calls.map(
      (call) => tokenizer.apply_chat_template(call.messages.map(({ role, content }) => ({ role, content })), { tokenize: false, add_generation_prompt: true }) as string,
    );
    // Decoder-only models continue from the right edge: pad on the left.
    tokenizer.padding_side = 'left';
    const inputs = tokenizer(prompts, { padding: true, add_special_tokens: false });
    const stopping = criteria ?? new lib.InterruptableStoppingCriteria();
    const onAbort = (): void => stopping.interrupt();
    ctx.signal.addEventListener('abort', onAbort, { once: true });
    try {
      const options: Record<string, unknown> = Object.assign({}, inputs, generationOptions(calls[0]), { stopping_criteria: [stopping] });
      if (onText) options.streamer = new lib.TextStreamer(tokenizer, { skip_prompt: true, skip_special_tokens: true, callback_function: onText });
      const output = await instance.generate(options);
      session.throwIfAborted(ctx.signal);
      const promptLength = inputs.input_ids.dims[1];
      const promptRows = rowsOf(inputs.attention_mask);
      const ends = endTokens(instance);
      return rowsOf(output).map((row, index) => {
        let generated = row.slice(promptLength);
        const endAt = generated.findIndex((token) => ends.has(BigInt(token)));
        const ended = endAt >= 0;
        if (ended) generated = generated.slice(0, endAt);
        // A model may end its answer at once (end-of-sequence first): an empty answer, which the
        // tokenizer refuses to decode.
        const decoded = generated.length === 0 ? '' : tokenizer.decode(generated.map((token) => BigInt(token)), { skip_special_tokens: true });
        const { text, stopped } = cutAtStop(decoded, calls[index].stop);
        const finishReason: FinishReason = ended || stopped ? 'stop' : 'length';
        const inputTokens = promptRows[index].reduce((sum: number, value) => sum + Number(value), 0);
        const usage: Usage = { inputTokens, outputTokens: generated.length, totalTokens: inputTokens + generated.length };
        return { text, finishReason, usage, modelId: model };
      });
    } catch (error) {
      if (ctx.signal.aborted) throw abortedCallError(id, ctx.signal);
      throw toInferlaneError(error, id);
    } finally {
      ctx.signal.removeEventListener('abort', onAbort);
    }
  };

  return {
    run,
    serialise,
    validate,
    async doGenerate(call, ctx) {
      validate(call);
      session.throwIfAborted(ctx.signal);
      const [result] = await serialise(ctx.signal, () => run([call], ctx));
      return result;
    },
    async doGenerateMany(calls, ctx) {
      if (calls.length === 0) return [];
      calls.forEach(validate);
      session.throwIfAborted(ctx.signal);
      // One pass shares the generation settings: calls that differ run in groups.
      const groups = new Map<string, number[]>();
      calls.forEach((call, index) => {
        const key = JSON.stringify(generationOptions(call));
        groups.set(key, [...(groups.get(key) ?? []), index]);
      });
      const results: TextResult[] = new Array(calls.length);
      for (const indexes of groups.values()) {
        const group = await serialise(ctx.signal, () => run(indexes.map((index) => calls[index]), ctx));
        group.forEach((result, position) => (results[indexes[position]] = result));
      }
      return results;
    },
    stats: () => ({ running, waiting: queue.size, maxRunning }),
  };
}

function endTokens(instance: ModelLike): Set<bigint> {
  const raw = instance.generation_config?.eos_token_id ?? instance.config?.eos_token_id;
  const list = raw === undefined ? [] : Array.isArray(raw) ? raw : [raw];
  return new Set(list.map((value) => BigInt(value)));
}

export function rowsOf(tensor: TensorLike): bigint[][] {
  return tensor.tolist() as bigint[][];
}
