/**
 * WebLLM (MLC, https://github.com/mlc-ai/web-llm) as a `device` target: larger models on the
 * browser's GPU through WebGPU. `@mlc-ai/web-llm` is an optional peer dependency, imported on
 * first use only (or pass `createEngine`, e.g. to run the engine in a Web Worker).
 *
 * Engine surface used: `CreateMLCEngine(model, { initProgressCallback })`,
 * `engine.chat.completions.create({ messages, stream, stream_options: { include_usage } })`
 * (OpenAI-shaped responses and chunks), `engine.interruptGenerate()`, `engine.unload()`.
 *
 * Imports the provider kit (src/provider.ts) only.
 */
import PQueue from 'p-queue';
import { abortedCallError, AbortedError, finishReasonOf, InvalidRequestError, TargetUnavailableError, toInferlaneError } from '../../src/provider.js';
import type { Availability, CallContext, FinishReason, KvGeometry, StreamPart, Target, TextCall, TextResult, Usage } from '../../src/provider.js';

/** The pieces of a WebLLM engine this adapter uses. */
export interface WebLLMEngine {
  chat: {
    completions: {
      create(request: Record<string, unknown>): Promise<WebLLMCompletion | AsyncIterable<WebLLMChunk>>;
    };
  };
  interruptGenerate(): void;
  unload?(): Promise<void>;
}
export interface WebLLMUsage {
  prompt_tokens?: number;
  completion_tokens?: number;
  total_tokens?: number;
}
export interface WebLLMCompletion {
  choices: { message: { content: string | null }; finish_reason: string | null }[];
  usage?: WebLLMUsage;
  model?: string;
}
export interface WebLLMChunk {
  choices: { delta: { content?: string | null }; finish_reason: string | null }[];
  usage?: WebLLMUsage;
}
export interface WebLLMProgress {
  /** 0..1 */
  progress: number;
  timeElapsed?: number;
  text?: string;
}
export type WebLLMEngineFactory = (model: string, config: { initProgressCallback: (report: WebLLMProgress) => void; [key: string]: unknown }) => Promise<WebLLMEngine>;

export interface WebLLMSettings {
  /** Unique id in a client. @default `webllm:<model>` */
  id?: string;
  /** A WebLLM model id, e.g. 'Qwen2.5-0.5B-Instruct-q4f16_1-MLC'. */
  model: string;
  /** Builds the engine. @default `CreateMLCEngine` from a lazy `import('@mlc-ai/web-llm')` */
  createEngine?: WebLLMEngineFactory;
  /** Extra `MLCEngineConfig` fields (e.g. `appConfig` for self-hosted weights). @default none */
  engineConfig?: Record<string, unknown>;
  /**
   * Whether this browser can run WebGPU models.
   * @default resolves true when `navigator.gpu.requestAdapter()` returns an adapter
   */
  hasWebGPU?: () => Promise<boolean> | boolean;
  /** KV geometry for the router's memory check. @default none (set it for the model you load) */
  kv?: KvGeometry;
  /** Latency priors, ms, replaced by measurements. @default { ttftMs: 150, totalMs: 3000 } */
  expected?: { ttftMs?: number; totalMs?: number };
  /** Context window, tokens. @default 4096 */
  contextTokens?: number;
  /** New tokens when the call sets no `maxOutputTokens`. @default 512 */
  maxNewTokens?: number;
}

export interface WebLLMTarget extends Target {
  kind: 'device';
  /** Loads the engine now (e.g. behind a progress bar). Safe to call many times. */
  load(options?: { onProgress?: (report: WebLLMProgress) => void }): Promise<void>;
}

async function browserHasWebGPU(): Promise<boolean> {
  const gpu = (globalThis as { navigator?: { gpu?: { requestAdapter(): Promise<unknown> } } }).navigator?.gpu;
  if (!gpu) return false;
  return (await gpu.requestAdapter().catch(() => null)) != null;
}

export function webllm(settings: WebLLMSettings): WebLLMTarget {
  if (!settings || typeof settings.model !== 'string' || settings.model.length === 0) throw new InvalidRequestError('model', 'webllm() needs a model id');
  const { model } = settings;
  const id = settings.id ?? `webllm:${model}`;
  const maxNewTokens = settings.maxNewTokens ?? 512;
  const hasWebGPU = settings.hasWebGPU ?? browserHasWebGPU;
  const createEngine: WebLLMEngineFactory =
    settings.createEngine ??
    (async (name, config) => {
      // A variable specifier keeps bundlers from resolving the optional package at build time.
      const specifier = '@mlc-ai/web-llm';
      const library = (await import(/* @vite-ignore */ specifier)) as { CreateMLCEngine: WebLLMEngineFactory };
      return library.CreateMLCEngine(name, config);
    });

  const progressListeners = new Set<(report: WebLLMProgress) => void>();
  let enginePromise: Promise<WebLLMEngine> | undefined;
  let engineReady = false;
  const engine = (): Promise<WebLLMEngine> => {
    enginePromise ??= (async () => {
      try {
        const created = await createEngine(model, {
          ...settings.engineConfig,
          initProgressCallback: (report) => progressListeners.forEach((listener) => listener(report)),
        });
        engineReady = true;
        return created;
      } catch (error) {
        throw new TargetUnavailableError(`${id}: the WebLLM engine could not load '${model}'`, { target: id, cause: error });
      }
    })();
    // A failed load may work later (GPU freed, package installed): do not keep the failure.
    enginePromise.catch(() => (enginePromise = undefined));
    return enginePromise;
  };
  const engineFor = async (ctx: CallContext): Promise<WebLLMEngine> => {
    const listener = (report: WebLLMProgress) =>
      ctx.emit('model-progress', { target: id, status: report.progress >= 1 ? 'ready' : 'progress', progress: report.progress, file: report.text });
    progressListeners.add(listener);
    try {
      return await engine();
    } finally {
      progressListeners.delete(listener);
    }
  };

  // A WebLLM engine generates one reply at a time; a second request would interleave its state.
  const queue = new PQueue({ concurrency: 1 });
  const aborted = (signal: AbortSignal) => abortedCallError(id, signal);
  const serialise = async <T>(signal: AbortSignal, work: () => Promise<T>): Promise<T> => {
    try {
      return await queue.add(work, { signal });
    } catch (error) {
      if (signal.aborted) throw aborted(signal);
      throw toInferlaneError(error, id);
    }
  };

  const body = (call: TextCall, stream: boolean): Record<string, unknown> => {
    if (!Array.isArray(call.messages) || call.messages.length === 0) throw new InvalidRequestError('messages', 'at least one message is required');
    const request: Record<string, unknown> = {
      // Names the model even though it is optional with one loaded: engines may hold several.
      model,
      // WebLLM knows system, user and assistant; tool output is passed as user text.
      messages: call.messages.map(({ role, content }) => ({ role: role === 'tool' ? 'user' : role, content })),
      max_tokens: call.maxOutputTokens ?? maxNewTokens,
      stream,
      ...(call.temperature !== undefined && { temperature: call.temperature }),
      ...(call.topP !== undefined && { top_p: call.topP }),
      ...(call.stop !== undefined && { stop: call.stop }),
      ...(call.seed !== undefined && { seed: call.seed }),
      ...(stream && { stream_options: { include_usage: true } }),
      ...call.providerOptions?.webllm,
    };
    return request;
  };
  const usageOf = (usage: WebLLMUsage | undefined): Usage | undefined =>
    usage ? { inputTokens: usage.prompt_tokens, outputTokens: usage.completion_tokens, totalTokens: usage.total_tokens } : undefined;

  const target: WebLLMTarget = {
    id,
    kind: 'device',
    provider: 'webllm',
    modalities: ['text'],
    limits: { contextTokens: settings.contextTokens ?? 4096 },
    expected: settings.expected ?? { ttftMs: 150, totalMs: 3000 },
    kv: settings.kv,

    async load(options = {}) {
      const listener = options.onProgress;
      if (listener) progressListeners.add(listener);
      try {
        await engine();
      } finally {
        if (listener) progressListeners.delete(listener);
      }
    },

    async available(): Promise<Availability> {
      if (engineReady) return 'available';
      try {
        return (await hasWebGPU()) ? 'downloadable' : 'unavailable';
      } catch {
        return 'unavailable';
      }
    },

    async doGenerate(call, ctx): Promise<TextResult> {
      const request = body(call, false);
      if (ctx.signal.aborted) throw aborted(ctx.signal);
      const loaded = await engineFor(ctx);
      return serialise(ctx.signal, async () => {
        const onAbort = () => loaded.interruptGenerate();
        ctx.signal.addEventListener('abort', onAbort, { once: true });
        try {
          const response = (await loaded.chat.completions.create(request)) as WebLLMCompletion;
          if (ctx.signal.aborted) throw aborted(ctx.signal);
          const choice = response.choices[0];
          return {
            text: choice?.message.content ?? '',
            finishReason: finishReasonOf(choice?.finish_reason ?? 'stop'),
            usage: usageOf(response.usage),
            modelId: response.model ?? model,
          };
        } finally {
          ctx.signal.removeEventListener('abort', onAbort);
        }
      });
    },

    async *doStream(call, ctx): AsyncGenerator<StreamPart> {
      const request = body(call, true);
      if (ctx.signal.aborted) throw aborted(ctx.signal);
      const loaded = await engineFor(ctx);
      // Hold the engine for the whole stream: release the queue slot when the stream ends.
      let release!: () => void;
      const held = new Promise<void>((resolve) => (release = resolve));
      let acquired!: () => void;
      const slot = new Promise<void>((resolve) => (acquired = resolve));
      const queued = serialise(ctx.signal, () => (acquired(), held));
      queued.catch(() => undefined);
      await Promise.race([slot, queued]);
      const onAbort = () => loaded.interruptGenerate();
      ctx.signal.addEventListener('abort', onAbort, { once: true });
      let finished = false;
      try {
        if (ctx.signal.aborted) throw aborted(ctx.signal);
        const chunks = (await loaded.chat.completions.create(request)) as AsyncIterable<WebLLMChunk>;
        let finishReason: FinishReason = 'stop';
        let usage: Usage | undefined;
        for await (const chunk of chunks) {
          if (ctx.signal.aborted) throw aborted(ctx.signal);
          const choice = chunk.choices[0];
          if (choice?.delta.content) yield { type: 'text-delta', text: choice.delta.content };
          if (choice?.finish_reason) finishReason = finishReasonOf(choice.finish_reason);
          if (chunk.usage) usage = usageOf(chunk.usage);
        }
        if (ctx.signal.aborted) throw aborted(ctx.signal);
        if (usage) yield { type: 'usage', usage };
        yield { type: 'finish', finishReason, usage };
        finished = true;
      } catch (error) {
        throw ctx.signal.aborted ? aborted(ctx.signal) : AbortedError.isInstance(error) ? error : toInferlaneError(error, id);
      } finally {
        // A consumer that leaves early stops the generation.
        if (!finished) loaded.interruptGenerate();
        ctx.signal.removeEventListener('abort', onAbort);
        release();
      }
    },

    async close() {
      const pending = enginePromise;
      enginePromise = undefined;
      engineReady = false;
      const loaded = await pending?.catch(() => undefined);
      await loaded?.unload?.();
    },
  };
  return target;
}
