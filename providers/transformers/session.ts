/**
 * The models of one `transformers()` target on this device: the library imported on first use and
 * configured for offline loading, each task's model loaded once (a failed load may succeed later,
 * so failures are not kept), load progress passed to everyone waiting, whether the files are
 * there (`available`), and releasing it all (`close`).
 */
import { abortedCallError, TargetUnavailableError, type Availability, type CallContext, type ModelProgressEvent } from '../../src/provider.js';
import type { Library, Loaded, RecognizerLike, TokenizerLike } from './library.js';
import { defaultModelPath, defaultTranscriptionModel, isBrowser, type TransformersSettings, type TransformersTask } from './settings.js';

export interface Session {
  readonly id: string;
  readonly model: string;
  /** The library, imported once. */
  library(): Promise<Library>;
  /** The tokenizer and model of 'text' or 'embedding' (both share one tokenizer). */
  loadTask(task: 'text' | 'embedding'): Promise<Loaded>;
  /** The speech pipeline of 'transcription'. */
  loadRecognizer(): Promise<RecognizerLike>;
  /** Loads every task (`target.load()`). */
  loadAll(tasks: TransformersTask[]): Promise<unknown>;
  /** Runs `run` with `listener` receiving load progress meanwhile. */
  withProgress<T>(listener: ((event: ModelProgressEvent) => void) | undefined, run: () => Promise<T>): Promise<T>;
  /** A progress listener that reports to the call's event sink. */
  progressTo(ctx: CallContext): (event: ModelProgressEvent) => void;
  throwIfAborted(signal: AbortSignal): void;
  available(tasks: TransformersTask[], signal: AbortSignal): Promise<Availability>;
  close(): Promise<void>;
}

/** What every speech model transformers.js loads has; its ONNX file names depend on the architecture (Whisper has an encoder and a decoder). */
const speechFiles = ['config.json', 'preprocessor_config.json', 'tokenizer.json'];

export function createSession(settings: TransformersSettings, model: string, id: string): Session {
  const transcriptionModel = settings.transcriptionModel ?? defaultTranscriptionModel;
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
  const loadTask = (task: 'text' | 'embedding'): Promise<Loaded> => {
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

  const withProgress = async <T>(listener: ((event: ModelProgressEvent) => void) | undefined, run: () => Promise<T>): Promise<T> => {
    if (!listener) return run();
    progressListeners.add(listener);
    try {
      return await run();
    } finally {
      progressListeners.delete(listener);
    }
  };

  return {
    id,
    model,
    library,
    loadTask,
    loadRecognizer,
    loadAll: (tasks) => Promise.all(tasks.map((task) => (task === 'transcription' ? loadRecognizer() : loadTask(task)))),
    withProgress,
    progressTo: (ctx) => (event) => ctx.emit('model-progress', event),
    throwIfAborted(signal) {
      if (signal.aborted) throw abortedCallError(id, signal);
    },
    async available(tasks, signal) {
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
}

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
