/**
 * `mockTarget()`: a recording mock target for users' own tests, like the AI SDK's
 * MockLanguageModel. It implements the Target contract with scripted behaviour and records
 * every call the executor makes, so an application can assert what inferlane sent where.
 */
import type {
  CallContext,
  EmbedCall,
  EmbedResult,
  ImageCall,
  ImageResult,
  Modality,
  StreamPart,
  Target,
  TargetKind,
  TextCall,
  TextResult,
} from '../target.js';

export interface RecordedCall {
  method: 'doGenerate' | 'doStream' | 'doEmbed' | 'doImage';
  call: TextCall | EmbedCall | ImageCall;
  promptCacheKey?: string;
  replica?: number;
  segment: CallContext['segment'];
}

/** What the mock does on a call: a value, an error to throw, or a function of the call. */
export type MockBehaviour<T, C> = T | Error | ((call: C, ctx: CallContext, index: number) => T | Promise<T>);

export interface MockTargetOptions {
  /** @default 'mock' */
  id?: string;
  /** @default 'cloud' */
  kind?: TargetKind;
  /** @default ['text', 'embedding'] */
  modalities?: Modality[];
  /** Answer of doGenerate (and the text doStream splits into words). @default echoes the last user message */
  generate?: MockBehaviour<TextResult | string, TextCall>;
  /** Parts doStream yields. @default the generate answer split on spaces */
  stream?: MockBehaviour<StreamPart[], TextCall>;
  /** Vectors doEmbed returns. @default a 4-dimensional vector from each input's character codes */
  embed?: MockBehaviour<EmbedResult, EmbedCall>;
  image?: MockBehaviour<ImageResult, ImageCall>;
  /** Waits this long before answering, honouring the abort signal, ms. @default 0 */
  delayMs?: number;
  expected?: Target['expected'];
  cost?: Target['cost'];
  limits?: Target['limits'];
}

export interface MockTarget extends Target {
  /** Every call, in order. */
  readonly calls: RecordedCall[];
}

const abortError = () => Object.assign(new Error('aborted'), { name: 'AbortError' });

function wait(ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.reject(abortError());
  if (ms <= 0) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(abortError());
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

async function resolveBehaviour<T, C>(behaviour: MockBehaviour<T, C> | undefined, fallback: (call: C) => T, call: C, ctx: CallContext, index: number): Promise<T> {
  if (behaviour === undefined) return fallback(call);
  if (behaviour instanceof Error) throw behaviour;
  if (typeof behaviour === 'function') return (behaviour as (c: C, x: CallContext, i: number) => T | Promise<T>)(call, ctx, index);
  return behaviour;
}

const echo = (call: TextCall): TextResult => {
  const last = [...call.messages].reverse().find((m) => m.role === 'user');
  return { text: `echo: ${last?.content ?? ''}`, finishReason: 'stop', usage: { inputTokens: 1, outputTokens: 1 } };
};

/** A Target whose answers you script and whose calls you can inspect. */
export function mockTarget(options: MockTargetOptions = {}): MockTarget {
  const calls: RecordedCall[] = [];
  const delayMs = options.delayMs ?? 0;
  const record = (method: RecordedCall['method'], call: RecordedCall['call'], ctx: CallContext) => {
    calls.push({ method, call, promptCacheKey: ctx.promptCacheKey, replica: ctx.replica, segment: ctx.segment });
    return calls.length - 1;
  };
  const text = async (call: TextCall, ctx: CallContext, index: number): Promise<TextResult> => {
    const value = await resolveBehaviour(options.generate, echo, call, ctx, index);
    return typeof value === 'string' ? { text: value, finishReason: 'stop' } : value;
  };
  return {
    id: options.id ?? 'mock',
    kind: options.kind ?? 'cloud',
    modalities: options.modalities ?? ['text', 'embedding'],
    expected: options.expected,
    cost: options.cost,
    limits: options.limits,
    calls,
    async doGenerate(call, ctx) {
      const index = record('doGenerate', call, ctx);
      await wait(delayMs, ctx.signal);
      return text(call, ctx, index);
    },
    async *doStream(call, ctx) {
      const index = record('doStream', call, ctx);
      await wait(delayMs, ctx.signal);
      const parts =
        options.stream === undefined
          ? await text(call, ctx, index).then((r): StreamPart[] => [
              ...r.text.split(/(?<= )/).map((t): StreamPart => ({ type: 'text-delta', text: t })),
              { type: 'finish', finishReason: r.finishReason, usage: r.usage },
            ])
          : await resolveBehaviour(options.stream, () => [], call, ctx, index);
      for (const part of parts) {
        if (ctx.signal.aborted) throw abortError();
        yield part;
      }
    },
    async doEmbed(call, ctx) {
      const index = record('doEmbed', call, ctx);
      await wait(delayMs, ctx.signal);
      return resolveBehaviour(
        options.embed,
        (c) => ({ embeddings: c.inputs.map((input) => [input.length, input.charCodeAt(0) || 0, input.charCodeAt(input.length - 1) || 0, 1]) }),
        call,
        ctx,
        index,
      );
    },
    ...(options.image
      ? {
          async doImage(call: ImageCall, ctx: CallContext) {
            const index = record('doImage', call, ctx);
            await wait(delayMs, ctx.signal);
            return resolveBehaviour(options.image, () => ({ images: [] }), call, ctx, index);
          },
        }
      : {}),
  };
}
