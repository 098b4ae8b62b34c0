/**
 * The transformers.js adapter: runs ONNX models on this device (Node through onnxruntime-node,
 * browsers through onnxruntime-web) as a `device` target. Nothing leaves the machine.
 *
 * `@huggingface/transformers` is an optional peer dependency, imported on first use only, so
 * apps that never route to the device do not pay for it. The default model is the tiny one the
 * project generates (scripts/generate-model.mjs): a bigram language model and a hashed n-gram
 * embedding in one graph. Transcription (opt-in, `tasks: [..., 'transcription']`) runs
 * transformers.js's `automatic-speech-recognition` pipeline, by default on the toy tone-alphabet
 * recognizer of scripts/generate-asr-model.mjs.
 *
 * Imports: src/target.ts and src/errors.ts only (DESIGN.md section 3).
 */
import PQueue from 'p-queue';
import { AbortedError, InvalidRequestError, TargetUnavailableError, toInferlaneError } from '../../src/errors.js';
import { decodeAudioBytes, samplesAt } from './audio.js';
import type {
  Availability,
  CallContext,
  EmbedCall,
  EmbedResult,
  FinishReason,
  KvGeometry,
  Modality,
  ModelProgressEvent,
  StreamPart,
  Target,
  TextCall,
  TextResult,
  TranscribeCall,
  TranscribeResult,
  Usage,
} from '../../src/target.js';
import { cutAtStop } from '../../src/target.js';

/** The model the project ships in `models/`. */
export const defaultModel = 'inferlane-tiny-chat';
/** The speech model the project ships in `models/`: a toy that transcribes a tone alphabet (scripts/generate-asr-model.mjs). */
export const defaultTranscriptionModel = 'inferlane-tiny-asr';

export type TransformersTask = 'text' | 'embedding' | 'transcription';

export interface TransformersSettings {
  /** Unique id in a client. @default `transformers:<model>` */
  id?: string;
  /** Folder name under `modelPath` (transformers.js model id). @default 'inferlane-tiny-chat' */
  model?: string;
  /**
   * What the target serves. 'transcription' is opt-in: it runs `transcriptionModel` through
   * transformers.js's `automatic-speech-recognition` pipeline.
   * @default ['text', 'embedding'] for the default model, ['text'] otherwise
   */
  tasks?: TransformersTask[];
  /**
   * Folder name under `modelPath` of the speech model 'transcription' uses: a wav2vec2-CTC or
   * Whisper ONNX export that transformers.js's `automatic-speech-recognition` pipeline loads.
   * @default 'inferlane-tiny-asr' (the generated tone-alphabet toy, not a real speech model)
   */
  transcriptionModel?: string;
  /**
   * Root folder (Node) or URL prefix (browser) that holds `<model>/config.json`.
   * @default the package's `models/` folder in Node, '/models/' in browsers
   */
  modelPath?: string;
  /** onnxruntime execution provider. @default transformers.js's choice ('cpu' in Node, 'wasm' in browsers) */
  device?: 'wasm' | 'webgpu' | 'cpu';
  /** Weight type, e.g. 'fp32', 'q8'. @default the model's `transformers.js_config.dtype` */
  dtype?: string;
  /** Where the browser finds `ort-wasm-simd-threaded.*` (a URL prefix or a file map). @default transformers.js's (a CDN: set it to stay offline) */
  wasmPaths?: string | Record<string, string>;
  /** KV-cache geometry the router checks memory with. @default the tiny model's, with a 64 MiB budget */
  kv?: KvGeometry;
  /** Latency priors, ms, replaced by measurements. @default { ttftMs: 30, totalMs: 200 } for the tiny model */
  expected?: { ttftMs?: number; totalMs?: number };
  /** New tokens when the call sets no `maxOutputTokens`. @default 64 */
  maxNewTokens?: number;
  /** Context window, tokens. @default 4096 */
  contextTokens?: number;
  /**
   * Loads the library. Override when a bundler needs a static specifier or the library comes
   * from elsewhere. @default () => import('@huggingface/transformers')
   */
  importLibrary?: () => Promise<unknown>;
}

/** A device target with a few extras for pages and tests. */
export interface TransformersTarget extends Target {
  kind: 'device';
  /** Loads the model now (e.g. while the page shows a progress bar). Safe to call many times. */
  load(options?: { onProgress?: (event: ModelProgressEvent) => void; signal?: AbortSignal }): Promise<void>;
  /** Generation is one at a time on one model instance: how many run and wait right now, and the most that ever ran at once. */
  generationStats(): { running: number; waiting: number; maxRunning: number };
}

// Minimal shapes of the transformers.js pieces used here; the library's own types stay out of
// our public declarations because the package is optional.
interface TensorLike {
  dims: number[];
  data: ArrayLike<number | bigint>;
  tolist(): unknown;
}
interface TokenizerLike {
  padding_side: string;
  apply_chat_template(messages: { role: string; content: string }[], options: Record<string, unknown>): unknown;
  (texts: string | string[], options?: Record<string, unknown>): { input_ids: TensorLike; attention_mask: TensorLike };
  batch_decode(ids: bigint[][] | TensorLike, options?: Record<string, unknown>): string[];
  decode(ids: bigint[], options?: Record<string, unknown>): string;
}
interface ModelLike {
  generate(options: Record<string, unknown>): Promise<TensorLike>;
  (inputs: Record<string, unknown>): Promise<Record<string, TensorLike>>;
  dispose?(): Promise<unknown>;
  generation_config?: { eos_token_id?: number | number[] };
  config?: { eos_token_id?: number | number[] };
}
interface StoppingCriteriaLike {
  interrupt(): void;
}
interface Library {
  env: {
    allowRemoteModels: boolean;
    allowLocalModels: boolean;
    localModelPath: string;
    backends: { onnx: { wasm?: { wasmPaths?: unknown } } };
  };
  AutoTokenizer: { from_pretrained(model: string, options?: Record<string, unknown>): Promise<TokenizerLike> };
  AutoModelForCausalLM: { from_pretrained(model: string, options?: Record<string, unknown>): Promise<ModelLike> };
  AutoModel: { from_pretrained(model: string, options?: Record<string, unknown>): Promise<ModelLike> };
  TextStreamer: new (tokenizer: TokenizerLike, options: Record<string, unknown>) => unknown;
  InterruptableStoppingCriteria: new () => StoppingCriteriaLike;
  pipeline(task: 'automatic-speech-recognition', model: string, options?: Record<string, unknown>): Promise<RecognizerLike>;
}
/** transformers.js's AutomaticSpeechRecognitionPipeline, as far as it is used here. */
interface RecognizerLike {
  (audio: Float32Array, options?: Record<string, unknown>): Promise<{ text: string } | { text: string }[]>;
  processor?: { feature_extractor?: { config?: { sampling_rate?: number } } };
  model?: { config?: { model_type?: string } };
  dispose?(): Promise<unknown>;
}

interface Loaded {
  tokenizer: TokenizerLike;
  model: ModelLike;
}

/** Node reads models from disk; everything else (pages, workers, extensions) fetches them. */
const isBrowser = !(typeof process !== 'undefined' && typeof process.versions?.node === 'string' && typeof window === 'undefined');

/**
 * Node only: the `models/` folder shipped with this package (found by walking up from this
 * file, so it works from the sources and from a built `dist/`). Ends with a slash.
 */
export function defaultModelPath(): string {
  const nodeProcess = (globalThis as { process?: { getBuiltinModule?(name: string): unknown } }).process;
  const fs = nodeProcess?.getBuiltinModule?.('node:fs') as { existsSync(path: string): boolean } | undefined;
  const url = nodeProcess?.getBuiltinModule?.('node:url') as { fileURLToPath(url: URL): string } | undefined;
  if (!fs || !url) throw new TargetUnavailableError('defaultModelPath() needs Node 20.16 or later; pass modelPath instead');
  let folder = new URL('./', import.meta.url);
  for (let depth = 0; depth < 6; depth++) {
    const candidate = new URL('models/', folder);
    if (fs.existsSync(url.fileURLToPath(new URL(`${defaultModel}/config.json`, candidate)))) return url.fileURLToPath(candidate);
    folder = new URL('../', folder);
  }
  throw new TargetUnavailableError(`the ${defaultModel} model folder was not found; run \`npm run models\` or pass modelPath`);
}

/** The tiny model has no attention, hence no KV cache to speak of; its config says 1 layer of 1 head. */
const tinyModelKv: KvGeometry = { layers: 1, kvHeads: 1, headDim: 128, bytesPerValue: 4, memoryBudgetBytes: 64 * 1024 * 1024, weightsBytes: 1_600_000 };

export function transformers(settings: TransformersSettings = {}): TransformersTarget {
  const model = settings.model ?? defaultModel;
  const id = settings.id ?? `transformers:${model}`;
  const tasks = settings.tasks ?? (model === defaultModel ? ['text', 'embedding'] : ['text']);
  const modalities: Modality[] = tasks.map((task): Modality => task);
  const transcriptionModel = settings.transcriptionModel ?? defaultTranscriptionModel;
  const maxNewTokens = settings.maxNewTokens ?? 64;
  const importLibrary = settings.importLibrary ?? (() => import('@huggingface/transformers'));
  let modelPath: string | undefined = settings.modelPath;
  const resolveModelPath = (): string => {
    if (modelPath === undefined) modelPath = isBrowser ? '/models/' : defaultModelPath();
    // transformers.js treats a full URL as remote (which we forbid): a same-origin URL becomes its path.
    if (isBrowser && /^https?:/.test(modelPath) && new URL(modelPath).origin === location.origin) modelPath = new URL(modelPath).pathname;
    return modelPath.endsWith('/') ? modelPath : `${modelPath}/`;
  };

  let libraryPromise: Promise<Library> | undefined;
  const library = (): Promise<Library> => {
    libraryPromise ??= importLibrary().then((loaded) => {
      const candidate = ((loaded as { default?: unknown }).default && !(loaded as Library).env ? (loaded as { default: unknown }).default : loaded) as Library;
      if (!candidate?.env || !candidate.AutoTokenizer) throw new TargetUnavailableError('@huggingface/transformers did not load as expected', { target: id });
      return candidate;
    });
    libraryPromise.catch(() => (libraryPromise = undefined));
    return libraryPromise;
  };

  /** transformers.js keeps its settings in one global `env`: set them right before each load. */
  const configure = (lib: Library): void => {
    lib.env.allowRemoteModels = false;
    lib.env.allowLocalModels = true;
    lib.env.localModelPath = resolveModelPath();
    if (settings.wasmPaths !== undefined && lib.env.backends.onnx.wasm) lib.env.backends.onnx.wasm.wasmPaths = settings.wasmPaths;
  };

  // Progress goes to everyone waiting for a load, not only the call that started it.
  const progressListeners = new Set<(event: ModelProgressEvent) => void>();
  const emitProgress = (event: ModelProgressEvent): void => {
    for (const listener of progressListeners) listener(event);
  };
  const onLibraryProgress = (info: Record<string, unknown>): void => {
    const percent = typeof info.progress === 'number' ? info.progress : undefined;
    emitProgress({
      target: id,
      status: String(info.status ?? 'progress'),
      file: typeof info.file === 'string' ? info.file : undefined,
      loaded: typeof info.loaded === 'number' ? info.loaded : undefined,
      total: typeof info.total === 'number' ? info.total : undefined,
      // transformers.js reports percent; our event says 0..1.
      progress: percent === undefined ? undefined : Math.min(1, percent / 100),
    });
  };

  /** The library, configured, and the options every from_pretrained/pipeline call takes. */
  const openLibrary = async (): Promise<{ lib: Library; options: Record<string, unknown> }> => {
    let lib: Library;
    try {
      lib = await library();
    } catch (error) {
      throw new TargetUnavailableError(`${id}: @huggingface/transformers is not installed or failed to load`, { target: id, cause: error });
    }
    configure(lib);
    const options: Record<string, unknown> = { progress_callback: onLibraryProgress, local_files_only: true };
    if (settings.device) options.device = settings.device;
    if (settings.dtype) options.dtype = settings.dtype;
    return { lib, options };
  };

  const loads = new Map<TransformersTask, Promise<Loaded>>();
  let tokenizerPromise: Promise<TokenizerLike> | undefined;
  const loaded = new Set<TransformersTask>();
  const loadTask = (task: TransformersTask): Promise<Loaded> => {
    let promise = loads.get(task);
    if (promise) return promise;
    promise = (async () => {
      const { lib, options } = await openLibrary();
      try {
        // Both tasks share one tokenizer; only the model sessions differ.
        tokenizerPromise ??= lib.AutoTokenizer.from_pretrained(model, options);
        tokenizerPromise.catch(() => (tokenizerPromise = undefined));
        const tokenizer = await tokenizerPromise;
        const instance = await (task === 'text' ? lib.AutoModelForCausalLM : lib.AutoModel).from_pretrained(model, options);
        loaded.add(task);
        emitProgress({ target: id, status: 'ready', progress: 1 });
        return { tokenizer, model: instance };
      } catch (error) {
        const reason = error instanceof Error ? `: ${error.message.slice(0, 200)}` : '';
        throw new TargetUnavailableError(`${id}: the model '${model}' could not be loaded from ${resolveModelPath()}${reason}`, { target: id, cause: error });
      }
    })();
    // A failed load may succeed later (files copied, library installed): do not cache failures.
    promise.catch(() => loads.delete(task));
    loads.set(task, promise);
    return promise;
  };

  let recognizerPromise: Promise<RecognizerLike> | undefined;
  const loadRecognizer = (): Promise<RecognizerLike> => {
    recognizerPromise ??= (async () => {
      const { lib, options } = await openLibrary();
      try {
        const recognizer = await lib.pipeline('automatic-speech-recognition', transcriptionModel, options);
        loaded.add('transcription');
        emitProgress({ target: id, status: 'ready', progress: 1 });
        return recognizer;
      } catch (error) {
        const reason = error instanceof Error ? `: ${error.message.slice(0, 200)}` : '';
        throw new TargetUnavailableError(`${id}: the speech model '${transcriptionModel}' could not be loaded from ${resolveModelPath()}${reason}`, { target: id, cause: error });
      }
    })();
    // As for the other tasks, a failed load may succeed later.
    recognizerPromise.catch(() => (recognizerPromise = undefined));
    return recognizerPromise;
  };
  const loadAny = (task: TransformersTask): Promise<unknown> => (task === 'transcription' ? loadRecognizer() : loadTask(task));

  const withProgress = async <T>(listener: ((event: ModelProgressEvent) => void) | undefined, run: () => Promise<T>): Promise<T> => {
    if (!listener) return run();
    progressListeners.add(listener);
    try {
      return await run();
    } finally {
      progressListeners.delete(listener);
    }
  };
  const contextListener = (ctx: CallContext) => (event: ModelProgressEvent) => ctx.emit('model-progress', event);

  const throwIfAborted = (signal: AbortSignal): void => {
    if (signal.aborted) throw new AbortedError(`${id}: the call was aborted`, { target: id, cause: signal.reason });
  };

  // One generation at a time on one model instance: onnxruntime sessions are not re-entrant
  // for generation state, and a second prompt would only slow the first on a small device.
  const generationQueue = new PQueue({ concurrency: 1 });
  let running = 0;
  let maxRunning = 0;
  const serialise = async <T>(signal: AbortSignal, work: () => Promise<T>): Promise<T> => {
    try {
      return await generationQueue.add(
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
      if (signal.aborted) throw new AbortedError(`${id}: the call was aborted`, { target: id, cause: signal.reason });
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

  const endTokens = (instance: ModelLike): Set<bigint> => {
    const raw = instance.generation_config?.eos_token_id ?? instance.config?.eos_token_id;
    const list = raw === undefined ? [] : Array.isArray(raw) ? raw : [raw];
    return new Set(list.map((value) => BigInt(value)));
  };


  const rowsOf = (tensor: TensorLike): bigint[][] => tensor.tolist() as bigint[][];

  /** Runs one batched generation; `onText` receives streamed text of row 0 when given. */
  const runGeneration = async (
    calls: TextCall[],
    ctx: CallContext,
    onText?: (text: string) => void,
    criteria?: StoppingCriteriaLike,
  ): Promise<TextResult[]> => {
    // Load first: it maps a missing library or model onto TargetUnavailableError.
    const { tokenizer, model: instance } = await withProgress(contextListener(ctx), () => loadTask('text'));
    const lib = await library();
    throwIfAborted(ctx.signal);
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
      throwIfAborted(ctx.signal);
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
      if (ctx.signal.aborted) throw new AbortedError(`${id}: the call was aborted`, { target: id, cause: ctx.signal.reason });
      throw toInferlaneError(error, id);
    } finally {
      ctx.signal.removeEventListener('abort', onAbort);
    }
  };

  const target: TransformersTarget = {
    id,
    kind: 'device',
    provider: 'transformers',
    modalities,
    limits: { contextTokens: settings.contextTokens ?? 4096, maxBatchSize: 64 },
    expected: settings.expected ?? (model === defaultModel ? { ttftMs: 30, totalMs: 200 } : undefined),
    kv: settings.kv ?? (model === defaultModel ? tinyModelKv : undefined),
    // Browser defaults from DESIGN.md section 14: small batches, a short window.
    microBatch: { maxBatchSize: 64, maxWaitMs: 15, concurrency: 1 },
    batchedGeneration: tasks.includes('text'),

    async load(options = {}) {
      await withProgress(options.onProgress, () => Promise.all(tasks.map((task) => loadAny(task))));
      if (options.signal) throwIfAborted(options.signal);
    },

    generationStats: () => ({ running, waiting: generationQueue.size, maxRunning }),

    async available(signal) {
      try {
        // One loaded task is enough: the others read the same files and load in moments.
        if (loaded.size > 0) return 'available';
        await library();
        // Every model the tasks need must be there: the chat model and/or the speech model.
        const checks = tasks.includes('transcription') ? [filesExist(resolveModelPath(), transcriptionModel, undefined, signal, speechFiles)] : [];
        if (tasks.some((task) => task !== 'transcription')) checks.push(filesExist(resolveModelPath(), model, settings.dtype, signal));
        const present = await Promise.all(checks);
        return present.every(Boolean) ? 'downloadable' : 'unavailable';
      } catch {
        return 'unavailable';
      }
    },

    async close() {
      const pending = [...loads.values()];
      const recognizer = recognizerPromise;
      loads.clear();
      tokenizerPromise = undefined;
      recognizerPromise = undefined;
      loaded.clear();
      for (const promise of pending) {
        const instance = await promise.catch(() => undefined);
        await instance?.model.dispose?.();
      }
      await (await recognizer?.catch(() => undefined))?.dispose?.();
    },
  };

  if (tasks.includes('text')) {
    target.doGenerate = async (call, ctx) => {
      validate(call);
      throwIfAborted(ctx.signal);
      const [result] = await serialise(ctx.signal, () => runGeneration([call], ctx));
      return result;
    };

    target.doGenerateMany = async (calls, ctx) => {
      if (calls.length === 0) return [];
      calls.forEach(validate);
      throwIfAborted(ctx.signal);
      // One pass shares the generation settings: calls that differ run in groups.
      const groups = new Map<string, number[]>();
      calls.forEach((call, index) => {
        const key = JSON.stringify(generationOptions(call));
        groups.set(key, [...(groups.get(key) ?? []), index]);
      });
      const results: TextResult[] = new Array(calls.length);
      for (const indexes of groups.values()) {
        const group = await serialise(ctx.signal, () => runGeneration(indexes.map((index) => calls[index]), ctx));
        group.forEach((result, position) => (results[indexes[position]] = result));
      }
      return results;
    };

    target.doStream = (call, ctx) => streamGeneration(call, ctx);
  }

  async function* streamGeneration(call: TextCall, ctx: CallContext): AsyncGenerator<StreamPart> {
    validate(call);
    throwIfAborted(ctx.signal);
    const lib = await library().catch((error) => {
      throw new TargetUnavailableError(`${id}: @huggingface/transformers is not installed or failed to load`, { target: id, cause: error });
    });
    // The streamer's callback is synchronous inside generate(): bridge it to this iterator.
    const pending: string[] = [];
    let wake: (() => void) | undefined;
    const notify = (): void => {
      wake?.();
      wake = undefined;
    };
    const stopping = new lib.InterruptableStoppingCriteria();
    const holdBack = Math.max(0, ...(call.stop ?? []).map((sequence) => sequence.length - 1));
    let received = '';
    let emitted = 0;
    let stoppedEarly = false;
    const onText = (text: string): void => {
      if (stoppedEarly) return;
      received += text;
      const { text: kept, stopped } = cutAtStop(received, call.stop);
      if (stopped) {
        stoppedEarly = true;
        stopping.interrupt();
        pending.push(kept.slice(emitted));
        emitted = kept.length;
      } else if (received.length - holdBack > emitted) {
        // Keep back a possible prefix of a stop sequence until it is decided.
        pending.push(received.slice(emitted, received.length - holdBack));
        emitted = received.length - holdBack;
      }
      notify();
    };
    let outcome: { result?: TextResult; error?: unknown } | undefined;
    serialise(ctx.signal, () => runGeneration([call], ctx, onText, stopping)).then(
      ([result]) => ((outcome = { result }), notify()),
      (error) => ((outcome = { error }), notify()),
    );
    try {
      for (;;) {
        while (pending.length > 0) {
          throwIfAborted(ctx.signal);
          const text = pending.shift()!;
          if (text) yield { type: 'text-delta', text };
        }
        throwIfAborted(ctx.signal);
        if (outcome) break;
        await new Promise<void>((resolve) => (wake = resolve));
      }
      if (outcome.error) throw outcome.error;
      const result = outcome.result!;
      // What the stop rule held back and was not a stop sequence after all.
      const rest = result.text.slice(emitted);
      if (rest && !stoppedEarly) yield { type: 'text-delta', text: rest };
      if (result.usage) yield { type: 'usage', usage: result.usage };
      yield { type: 'finish', finishReason: result.finishReason, usage: result.usage };
    } finally {
      // A consumer that breaks out of `for await` cancels the generation (STYLE.md rule 6).
      if (!outcome) stopping.interrupt();
    }
  }

  if (tasks.includes('embedding')) {
    target.doEmbed = async (call: EmbedCall, ctx: CallContext): Promise<EmbedResult> => {
      if (!Array.isArray(call.inputs) || call.inputs.length === 0) throw new InvalidRequestError('input', 'at least one input is required');
      call.inputs.forEach((input, index) => {
        if (typeof input !== 'string') throw new InvalidRequestError(`input[${index}]`, 'must be a string');
      });
      throwIfAborted(ctx.signal);
      const { tokenizer, model: instance } = await withProgress(contextListener(ctx), () => loadTask('embedding'));
      throwIfAborted(ctx.signal);
      try {
        tokenizer.padding_side = 'right';
        const inputs = tokenizer(call.inputs, { padding: true, truncation: true });
        // One forward pass for every input (the micro-batcher already grouped callers).
        const outputs = await instance(inputs);
        throwIfAborted(ctx.signal);
        const hidden = outputs.last_hidden_state ?? outputs.logits;
        const embeddings = meanPoolNormalised(hidden, inputs.attention_mask);
        const inputTokens = rowsOf(inputs.attention_mask).reduce((sum, row) => sum + row.reduce((s: number, v) => s + Number(v), 0), 0);
        return { embeddings: call.dimensions ? embeddings.map((vector) => renormalise(vector.slice(0, call.dimensions))) : embeddings, usage: { inputTokens, totalTokens: inputTokens } };
      } catch (error) {
        if (ctx.signal.aborted) throw new AbortedError(`${id}: the call was aborted`, { target: id, cause: ctx.signal.reason });
        throw toInferlaneError(error, id);
      }
    };
  }

  if (tasks.includes('transcription')) {
    target.doTranscribe = async (call: TranscribeCall, ctx: CallContext): Promise<TranscribeResult> => {
      throwIfAborted(ctx.signal);
      // Decode before paying for a load; the rate check needs the model's feature extractor.
      const decoded = decodeAudioBytes(call.audio, call.mediaType);
      const recognizer = await withProgress(contextListener(ctx), loadRecognizer);
      throwIfAborted(ctx.signal);
      const sampleRate = recognizer.processor?.feature_extractor?.config?.sampling_rate ?? 16_000;
      const samples = samplesAt(decoded, sampleRate);
      const options: Record<string, unknown> = { ...call.providerOptions?.transformers };
      // Only Whisper takes a language; wav2vec2-style models warn and ignore it.
      if (call.language && /whisper/.test(recognizer.model?.config?.model_type ?? '')) options.language ??= call.language;
      try {
        // One forward pass cannot be interrupted: an abort during it is honoured when it returns.
        const output = await recognizer(samples, options);
        throwIfAborted(ctx.signal);
        const text = (Array.isArray(output) ? output[0] : output).text.trim();
        return { text, language: call.language, durationSeconds: samples.length / sampleRate };
      } catch (error) {
        if (ctx.signal.aborted) throw new AbortedError(`${id}: the call was aborted`, { target: id, cause: ctx.signal.reason });
        throw toInferlaneError(error, id);
      }
    };
  }

  return target;
}

/** Mean over the unmasked positions, then unit length, so cosine similarity is a dot product. */
function meanPoolNormalised(hidden: TensorLike, mask: TensorLike): number[][] {
  const [batch, length, width] = hidden.dims;
  const values = hidden.data as ArrayLike<number>;
  const maskValues = mask.data;
  const out: number[][] = [];
  for (let row = 0; row < batch; row++) {
    const sum = new Array<number>(width).fill(0);
    let count = 0;
    for (let position = 0; position < length; position++) {
      if (Number(maskValues[row * length + position]) === 0) continue;
      count++;
      const offset = (row * length + position) * width;
      for (let d = 0; d < width; d++) sum[d] += values[offset + d];
    }
    out.push(renormalise(sum.map((value) => value / Math.max(1, count))));
  }
  return out;
}

function renormalise(vector: number[]): number[] {
  const norm = Math.hypot(...vector);
  return norm === 0 ? vector : vector.map((value) => value / norm);
}

/** What every speech model transformers.js loads has; its ONNX file names depend on the architecture (Whisper has an encoder and a decoder). */
const speechFiles = ['config.json', 'preprocessor_config.json', 'tokenizer.json'];

/** Whether the model's files are present, without loading anything. Never throws. */
async function filesExist(root: string, model: string, dtype: string | undefined, signal: AbortSignal, files?: string[]): Promise<boolean> {
  const onnxFile = !dtype || dtype === 'fp32' ? 'onnx/model.onnx' : `onnx/model_${dtype === 'q8' ? 'quantized' : dtype}.onnx`;
  const needed = files ?? ['config.json', 'tokenizer.json', onnxFile];
  try {
    if (isBrowser || /^https?:/.test(root)) {
      // HEAD keeps the check cheap: nothing is downloaded.
      const responses = await Promise.all(needed.map((file) => fetch(`${root}${model}/${file}`, { method: 'HEAD', signal })));
      return responses.every((response) => response.ok);
    }
    // getBuiltinModule keeps `node:fs` out of browser bundles.
    const nodeProcess = (globalThis as { process?: { getBuiltinModule?(name: string): unknown } }).process;
    const fs = nodeProcess?.getBuiltinModule?.('node:fs') as { existsSync(path: string): boolean } | undefined;
    return fs !== undefined && needed.every((file) => fs.existsSync(`${root}${model}/${file}`));
  } catch {
    return false;
  }
}
