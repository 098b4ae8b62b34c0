/**
 * The llama.cpp adapter: GGUF models (quantized or not) on this machine's CPU through
 * `node-llama-cpp`, as a `device` target. Nothing leaves the machine.
 *
 * - `node-llama-cpp` is an optional peer dependency, imported on first use. Only the prebuilt
 *   CPU binary it ships (`@node-llama-cpp/<platform>`) is ever loaded: `getLlama({ gpu: false,
 *   build: 'never', skipDownload: true })` never compiles llama.cpp and never downloads anything.
 *   A missing binary or model is a `TargetUnavailableError` carrying llama.cpp's own reason,
 *   which it reports only through its logger (its exception says just "Failed to load model").
 * - The GGUF file's metadata is read and checked here before llama.cpp opens it (providers/
 *   llamacpp/gguf.ts): some missing keys abort the process inside llama.cpp. The same metadata
 *   gives the KV geometry the router's device-memory rule uses.
 * - KV reuse: each conversation keeps its own context sequence between turns (sequence-cache.ts),
 *   as many as the memory budget holds, least recently used evicted; its prefix hashes (from the
 *   conversation store, `CallContext.conversation`) decide whether the kept cache is still the
 *   history's. `usage.cachedInputTokens` reports the prompt tokens llama.cpp did not evaluate.
 * - Structured output (provisional, until the tools contract lands):
 *   `providerOptions.llamacpp.jsonSchema` constrains the answer with llama.cpp's JSON-schema
 *   grammar; the answer is then checked against the schema, or the call fails with a typed error.
 *
 * Node only (a subpath export). Imports: src/target.ts and src/errors.ts only (DESIGN.md section 3).
 */
import { existsSync, statSync } from 'node:fs';
import { availableParallelism, totalmem } from 'node:os';
import { fileURLToPath } from 'node:url';
import PQueue from 'p-queue';
import type { ChatHistoryItem, Llama, LlamaChat, LlamaContext, LlamaContextSequence, LlamaEmbeddingContext, LlamaGrammar, LlamaModel } from 'node-llama-cpp';
import { AbortedError, InferlaneError, InvalidRequestError, ProviderError, TargetUnavailableError, toInferlaneError } from '../../src/provider.js';
import type {
  Availability,
  CallContext,
  EmbedCall,
  EmbedResult,
  FinishReason,
  KvGeometry,
  Message,
  Modality,
  ModelProgressEvent,
  StreamPart,
  Target,
  TextCall,
  TextResult,
  Usage,
} from '../../src/provider.js';
import { cutAtStop } from '../../src/provider.js';
import { ggufFacts, ggufProblems, readGgufHeader, type GgufFacts } from './gguf.js';
import { markLog, reasonSince, sharedLlama, type LlamaLibrary } from './binary.js';
import { SequenceCache, type SequenceCacheCounters } from './sequence-cache.js';

/** The model the project generates (scripts/generate-gguf-model.mjs). */
export const defaultModel = 'inferlane-tiny-gguf';

export type LlamacppTask = 'text' | 'embedding';

export interface LlamacppSettings {
  /** Unique id in a client. @default `llamacpp:<model file name without .gguf>` */
  id?: string;
  /** Path of the .gguf file. @default the generated `models/inferlane-tiny-gguf/model.gguf` of this package */
  modelPath?: string;
  /** What the target serves. @default ['text', 'embedding'] */
  tasks?: LlamacppTask[];
  /**
   * Context window per conversation, tokens; at least 2,048 (a chat template with a system
   * prompt alone can take hundreds of tokens on a byte-level vocabulary).
   * @default the model's training context, capped at 4,096
   */
  contextTokens?: number;
  /**
   * CPU threads for evaluation. llama.cpp's threads spin while they wait: more threads than free
   * cores slows it down many times over (measured: 2 threads on 2 busy cores, 5x slower prompts
   * and 10x slower generation than 1).
   * @default the cores available to this process minus one (for the event loop), at least 1, at most 8
   */
  threads?: number;
  /**
   * Memory this model may use on the device: weights plus every kept conversation's KV cache, bytes.
   * Bounds how many conversations keep their sequence, and feeds the router's device-memory rule.
   * @default a quarter of the machine's memory, at most 2 GiB
   */
  memoryBudgetBytes?: number;
  /**
   * llama.cpp's flash attention. Off by default: on the CPU build, measured on the tiny model with
   * a 1,100-token cache, it made the short evaluations of a continued conversation 7x slower (28
   * new tokens: 35 ms of CPU against 5) and each generated token 2x slower, while it saved a
   * third on a whole prompt evaluated from nothing. Conversations mostly continue.
   * @default false
   */
  flashAttention?: boolean;
  /** Conversations that keep their KV cache at once, at most (the memory budget may allow fewer). @default 4 */
  maxSequences?: number;
  /** Bytes per cached key or value: 2 for llama.cpp's default f16 cache. @default 2 */
  kvBytesPerValue?: number;
  /** New tokens when the call sets no `maxOutputTokens`. @default 64 */
  maxNewTokens?: number;
  /** Latency priors, ms, replaced by measurements. @default { ttftMs: 60, totalMs: 400 } for the tiny model */
  expected?: { ttftMs?: number; totalMs?: number };
  /**
   * Loads the library. Override when a bundler needs a static specifier, or to simulate its absence.
   * @default () => import('node-llama-cpp')
   */
  importLibrary?: () => Promise<unknown>;
}

/** What `stats()` reports: llama.cpp's own token counts and the sequence cache's. */
export interface LlamacppStats extends SequenceCacheCounters {
  /** Prompt tokens llama.cpp evaluated, every call together. */
  evaluatedInputTokens: number;
  /** Tokens generated, every call together. */
  generatedTokens: number;
  /** Sequences kept now, and the most the memory budget allows. */
  kept: number;
  capacity: number;
  /** Threads used for evaluation. */
  threads: number;
}

/** A device target with a few extras for apps and tests. */
export interface LlamacppTarget extends Target {
  kind: 'device';
  /** Loads the binary and the model now (e.g. behind a progress bar). Safe to call many times. */
  load(options?: { onProgress?: (event: ModelProgressEvent) => void }): Promise<void>;
  /** Token and cache counters since the target was made. */
  stats(): LlamacppStats;
}

/** The parts of node-llama-cpp used here. */
interface Library extends LlamaLibrary {
  LlamaChat: new (options: { contextSequence: LlamaContextSequence; autoDisposeSequence?: boolean }) => LlamaChat;
}

/** One conversation's sequence and the chat bound to it. */
interface Slot {
  sequence: LlamaContextSequence;
  chat: LlamaChat;
}

interface Loaded {
  llama: Llama;
  model: LlamaModel;
  context: LlamaContext;
  slots: SequenceCache<Slot>;
}

const minimumContextTokens = 2048;
const anonymousKey = '\u0000anonymous';

/** The generated model shipped in this package's `models/` folder, found by walking up from this file. */
export function defaultModelPath(): string {
  let folder = new URL('./', import.meta.url);
  for (let depth = 0; depth < 6; depth++) {
    const candidate = fileURLToPath(new URL(`models/${defaultModel}/model.gguf`, folder));
    if (existsSync(candidate)) return candidate;
    folder = new URL('../', folder);
  }
  return fileURLToPath(new URL(`../../models/${defaultModel}/model.gguf`, import.meta.url));
}

/** Threads from the cores this process may use, one left for the event loop. */
export function defaultThreads(): number {
  return Math.max(1, Math.min(8, availableParallelism() - 1));
}

export function llamacpp(settings: LlamacppSettings = {}): LlamacppTarget {
  const modelPath = settings.modelPath ?? defaultModelPath();
  const fileStem = modelPath.replace(/\\/g, '/').split('/').pop()!.replace(/\.gguf$/i, '');
  const isDefault = settings.modelPath === undefined;
  const name = isDefault ? defaultModel : fileStem;
  const id = settings.id ?? `llamacpp:${name}`;
  const tasks = settings.tasks ?? ['text', 'embedding'];
  const modalities: Modality[] = tasks.map((task): Modality => task);
  const threads = settings.threads ?? defaultThreads();
  const maxNewTokens = settings.maxNewTokens ?? 64;
  const maxSequences = settings.maxSequences ?? 4;
  const memoryBudgetBytes = settings.memoryBudgetBytes ?? Math.min(2 ** 31, Math.floor(totalmem() / 4));
  const bytesPerValue = settings.kvBytesPerValue ?? 2;
  const importLibrary = settings.importLibrary ?? (() => import('node-llama-cpp'));
  if (settings.contextTokens !== undefined && !(Number.isInteger(settings.contextTokens) && settings.contextTokens >= minimumContextTokens))
    throw new InvalidRequestError('contextTokens', `must be an integer of at least ${minimumContextTokens}`);
  if (!Number.isInteger(threads) || threads < 1) throw new InvalidRequestError('threads', 'must be a positive integer');

  // ---- the model file: checked before llama.cpp sees it ----
  let facts: { value: GgufFacts; size: number } | undefined;
  /** The file's facts, or why it cannot be used. Re-read until it succeeds (the file may appear later). */
  const inspect = (): { value: GgufFacts; size: number } | { problem: string } => {
    if (facts) return facts;
    if (!existsSync(modelPath)) return { problem: `the model file ${modelPath} does not exist${isDefault ? '; run `npm run models`' : ''}` };
    try {
      const header = readGgufHeader(modelPath);
      const problems = ggufProblems(header);
      if (problems.length > 0) return { problem: `the model file ${modelPath} lacks what llama.cpp needs: ${problems.join('; ')}` };
      facts = { value: ggufFacts(header), size: statSync(modelPath).size };
      return facts;
    } catch (error) {
      return { problem: `the model file ${modelPath} cannot be read as GGUF: ${(error as Error).message}` };
    }
  };
  const contextTokensFor = (value: GgufFacts): number => settings.contextTokens ?? Math.max(minimumContextTokens, Math.min(4096, value.trainContextTokens));
  const geometry = (): KvGeometry | undefined => {
    const inspected = inspect();
    if (!('value' in inspected)) return undefined;
    const { value, size } = inspected;
    const kv: KvGeometry = { layers: value.layers, kvHeads: value.kvHeads, headDim: value.headDim, bytesPerValue, memoryBudgetBytes, weightsBytes: size };
    if (value.slidingWindow) kv.slidingWindow = value.slidingWindow;
    return kv;
  };
  /** Sequences the budget holds: 70% of it (the router's headroom) less the weights, per full context. */
  const capacityFor = (kv: KvGeometry, contextTokens: number): number => {
    const perSequence = 2 * kv.layers * kv.kvHeads * kv.headDim * kv.bytesPerValue * contextTokens;
    return Math.max(1, Math.min(maxSequences, Math.floor((0.7 * kv.memoryBudgetBytes - (kv.weightsBytes ?? 0)) / perSequence)));
  };

  // ---- progress, to everyone waiting for the load ----
  const progressListeners = new Set<(event: ModelProgressEvent) => void>();
  const emitProgress = (event: ModelProgressEvent): void => {
    for (const listener of progressListeners) listener(event);
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

  // ---- the library and the binary (shared by every target: binary.ts) ----
  let libraryPromise: Promise<Library> | undefined;
  const library = (): Promise<Library> => {
    libraryPromise ??= importLibrary().then(
      (loaded) => {
        const candidate = ((loaded as Library).getLlama ? loaded : (loaded as { default?: unknown }).default) as Library;
        if (typeof candidate?.getLlama !== 'function') throw new Error('node-llama-cpp did not load as expected');
        return candidate;
      },
      (error) => {
        throw new TargetUnavailableError(`${id}: node-llama-cpp is not installed; add it with \`npm install node-llama-cpp@3.21.1\``, { target: id, cause: error });
      },
    );
    libraryPromise.catch(() => (libraryPromise = undefined));
    return libraryPromise;
  };

  const binary = (): Promise<Llama> =>
    library().then(async (lib) => {
      const mark = markLog();
      try {
        return await sharedLlama(lib);
      } catch (error) {
        throw new TargetUnavailableError(`${id}: the prebuilt llama.cpp binary could not be loaded (${(error as Error).message?.slice(0, 200)})${reasonSince(mark)}`, { target: id, cause: error });
      }
    });

  let loadPromise: Promise<Loaded> | undefined;
  let loadedNow: Loaded | undefined;
  const load = (): Promise<Loaded> => {
    loadPromise ??= (async () => {
      const inspected = inspect();
      if (!('value' in inspected)) throw new TargetUnavailableError(`${id}: ${inspected.problem}`, { target: id });
      const llama = await binary();
      const lib = await library();
      emitProgress({ target: id, status: 'initiate', file: modelPath, total: inspected.size });
      const mark = markLog();
      let model: LlamaModel;
      try {
        model = await llama.loadModel({
          modelPath,
          gpuLayers: 0,
          onLoadProgress: (progress: number) => emitProgress({ target: id, status: 'progress', file: modelPath, progress, loaded: Math.round(progress * inspected.size), total: inspected.size }),
        });
      } catch (error) {
        throw new TargetUnavailableError(`${id}: llama.cpp could not load ${modelPath}${reasonSince(mark) || `: ${(error as Error).message}`}`, { target: id, cause: error });
      }
      const kv = geometry()!;
      const contextTokens = contextTokensFor(inspected.value);
      const capacity = capacityFor(kv, contextTokens);
      let context: LlamaContext;
      try {
        context = await model.createContext({ contextSize: contextTokens, sequences: capacity, threads, flashAttention: settings.flashAttention ?? false });
      } catch (error) {
        await model.dispose();
        throw new TargetUnavailableError(`${id}: llama.cpp could not make a context of ${contextTokens} tokens x ${capacity} sequences${reasonSince(mark) || `: ${(error as Error).message}`}`, { target: id, cause: error });
      }
      const slots = new SequenceCache<Slot>(
        capacity,
        () => {
          const sequence = context.getSequence();
          return { sequence, chat: new lib.LlamaChat({ contextSequence: sequence, autoDisposeSequence: false }) };
        },
        (slot) => slot.sequence.clearHistory(),
      );
      emitProgress({ target: id, status: 'ready', file: modelPath, progress: 1 });
      loadedNow = { llama, model, context, slots };
      return loadedNow;
    })();
    // A failed load may succeed later (the file appears, the package is installed).
    loadPromise.catch(() => (loadPromise = undefined));
    return loadPromise;
  };

  const throwIfAborted = (signal: AbortSignal): void => {
    if (signal.aborted) throw new AbortedError(`${id}: the call was aborted`, { target: id, cause: signal.reason });
  };
  /** Waits for `promise` but gives up when `signal` aborts (a load is shared: it goes on for the others). */
  const untilAborted = <T>(promise: Promise<T>, signal: AbortSignal): Promise<T> => {
    throwIfAborted(signal);
    return new Promise<T>((resolve, reject) => {
      const onAbort = (): void => reject(new AbortedError(`${id}: the call was aborted`, { target: id, cause: signal.reason }));
      signal.addEventListener('abort', onAbort, { once: true });
      promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
    });
  };
  const loadFor = (ctx: CallContext): Promise<Loaded> =>
    untilAborted(
      withProgress((event) => ctx.emit('model-progress', event), load),
      ctx.signal,
    );

  // One evaluation at a time: on a small device a second prompt would only slow the first, and
  // the sequence cache hands each conversation's sequence to one turn at a time.
  const queue = new PQueue({ concurrency: 1 });
  // The queue's own abort support is not used: p-queue rejects a running task's promise on abort
  // and starts the next one while llama.cpp is still finishing the first. An aborted caller stops
  // waiting at once; its task, when it runs, sees the signal and ends.
  const serialise = <T>(signal: AbortSignal, work: () => Promise<T>): Promise<T> =>
    untilAborted(
      queue.add(async () => {
        throwIfAborted(signal);
        return work();
      }) as Promise<T>,
      signal,
    );

  const totals = { evaluatedInputTokens: 0, generatedTokens: 0 };
  const grammars = new Map<string, Promise<LlamaGrammar & { parse(text: string): unknown }>>();
  const schemaOf = (call: TextCall): object | undefined => {
    const schema = call.providerOptions?.llamacpp?.jsonSchema;
    if (schema === undefined) return undefined;
    if (typeof schema !== 'object' || schema === null || Array.isArray(schema)) throw new InvalidRequestError('providerOptions.llamacpp.jsonSchema', 'must be a JSON schema object');
    return schema;
  };
  const grammarFor = (llama: Llama, schema: object): Promise<LlamaGrammar & { parse(text: string): unknown }> => {
    const key = JSON.stringify(schema);
    let grammar = grammars.get(key);
    if (!grammar) {
      grammar = (llama.createGrammarForJsonSchema(schema as never) as Promise<LlamaGrammar & { parse(text: string): unknown }>).catch((error: unknown) => {
        grammars.delete(key);
        throw new InvalidRequestError('providerOptions.llamacpp.jsonSchema', `llama.cpp cannot build a grammar from it: ${(error as Error).message?.slice(0, 200)}`);
      });
      grammars.set(key, grammar);
    }
    return grammar;
  };

  const validate = (call: TextCall): void => {
    if (!Array.isArray(call.messages) || call.messages.length === 0) throw new InvalidRequestError('messages', 'at least one message is required');
    call.messages.forEach((message, index) => {
      if (typeof message?.content !== 'string') throw new InvalidRequestError(`messages[${index}].content`, 'must be a string');
    });
  };

  /** One turn: acquire the conversation's sequence, evaluate what is new, generate. */
  const runTurn = async (call: TextCall, ctx: CallContext, onText?: (text: string) => void): Promise<TextResult> => {
    validate(call);
    const schema = schemaOf(call);
    const loaded = await loadFor(ctx);
    const grammar = schema ? await untilAborted(grammarFor(loaded.llama, schema), ctx.signal) : undefined;
    return serialise(ctx.signal, async () => {
      throwIfAborted(ctx.signal);
      const key = ctx.conversation ? `conversation\u0000${ctx.conversation.id}` : anonymousKey;
      const lease = await loaded.slots.acquire(key, ctx.conversation?.prefixHashes);
      const { sequence, chat } = lease.sequence;
      let failed = true;
      try {
        const history = historyOf(call.messages);
        const inputTokens = chat.chatWrapper.generateContextState({ chatHistory: history }).contextText.tokenize(loaded.model.tokenizer).length;
        const before = sequence.tokenMeter.getState();
        const stop = (call.stop ?? []).filter((sequenceText) => typeof sequenceText === 'string' && sequenceText.length > 0);
        const options: Record<string, unknown> = { maxTokens: call.maxOutputTokens ?? maxNewTokens, signal: ctx.signal, stopOnAbortSignal: false };
        if (call.temperature !== undefined) options.temperature = call.temperature;
        if (call.topP !== undefined) options.topP = call.topP;
        if (call.seed !== undefined) options.seed = call.seed;
        if (stop.length > 0) options.customStopTriggers = stop;
        if (grammar) options.grammar = grammar;
        if (onText) options.onTextChunk = onText;
        const response = await chat.generateResponse(history, options as never);
        throwIfAborted(ctx.signal);
        const after = sequence.tokenMeter.getState();
        // The meter counts a prompt pass as its tokens minus the one whose logits it returns.
        const evaluated = Math.min(inputTokens, after.usedInputTokens - before.usedInputTokens + 1);
        const outputTokens = after.usedOutputTokens - before.usedOutputTokens;
        totals.evaluatedInputTokens += evaluated;
        totals.generatedTokens += outputTokens;
        const { text, stopped } = cutAtStop(response.response, stop);
        const stopReason = response.metadata.stopReason;
        const finishReason: FinishReason = stopReason === 'maxTokens' && !stopped ? 'length' : 'stop';
        const usage: Usage = { inputTokens, cachedInputTokens: Math.max(0, inputTokens - evaluated), outputTokens, totalTokens: inputTokens + outputTokens };
        if (grammar) checkSchema(grammar, text, finishReason);
        if (ctx.conversation) lease.commit(ctx.conversation.prefixHashes);
        failed = false;
        return { text, finishReason, usage, modelId: name };
      } catch (error) {
        if (ctx.signal.aborted) throw new AbortedError(`${id}: the call was aborted`, { target: id, cause: ctx.signal.reason });
        throw toInferlaneError(error, id);
      } finally {
        lease.release(failed);
      }
    });
  };

  /** The grammar fixes the shape; a small model can still say something the schema refuses. */
  const checkSchema = (grammar: { parse(text: string): unknown }, text: string, finishReason: FinishReason): void => {
    try {
      grammar.parse(text);
    } catch (error) {
      const why = finishReason === 'length' ? 'the answer was cut at maxOutputTokens before the JSON ended' : (error as Error).message?.slice(0, 200);
      throw new ProviderError(`${id}: the answer does not satisfy providerOptions.llamacpp.jsonSchema (${why})`, { target: id, cause: error, retryable: false });
    }
  };

  const target: LlamacppTarget = {
    id,
    kind: 'device',
    provider: 'llamacpp',
    modalities,
    get limits() {
      const inspected = inspect();
      return 'value' in inspected ? { contextTokens: contextTokensFor(inspected.value), maxBatchSize: 32 } : { maxBatchSize: 32 };
    },
    get kv() {
      return geometry();
    },
    expected: settings.expected ?? (isDefault ? { ttftMs: 60, totalMs: 400 } : undefined),
    microBatch: { maxBatchSize: 32, maxWaitMs: 5, concurrency: 1 },
    // Every wait here (the load, the queue, llama.cpp's token loop) takes ctx.signal.
    honoursAbort: true,

    async load(options = {}) {
      await withProgress(options.onProgress, load);
    },

    stats() {
      const cache = loadedNow?.slots.stats() ?? { kept: 0, capacity: 0, hits: 0, misses: 0, stale: 0, evictions: 0 };
      return Object.assign({ threads }, totals, cache);
    },

    async available() {
      if (loadedNow) return 'available';
      if (!('value' in inspect())) return 'unavailable';
      try {
        await binary();
        return 'downloadable' as Availability;
      } catch {
        return 'unavailable';
      }
    },

    async close() {
      const pending = loadPromise;
      const embedding = embeddingPromise;
      loadPromise = undefined;
      embeddingPromise = undefined;
      loadedNow = undefined;
      grammars.clear();
      queue.clear();
      await (await embedding?.catch(() => undefined))?.dispose();
      const loaded = await pending?.catch(() => undefined);
      if (loaded) {
        await loaded.context.dispose();
        await loaded.model.dispose();
      }
    },
  };

  if (tasks.includes('text')) {
    target.doGenerate = (call, ctx) => runTurn(call, ctx);
    target.doStream = (call, ctx) => streamTurn(call, ctx);
  }

  async function* streamTurn(call: TextCall, ctx: CallContext): AsyncGenerator<StreamPart> {
    // Breaking out of `for await` aborts the generation (STYLE.md rule 6).
    const controller = new AbortController();
    const onAbort = (): void => controller.abort(ctx.signal.reason);
    if (ctx.signal.aborted) onAbort();
    else ctx.signal.addEventListener('abort', onAbort, { once: true });
    const pending: string[] = [];
    let wake: (() => void) | undefined;
    const notify = (): void => {
      wake?.();
      wake = undefined;
    };
    let outcome: { result?: TextResult; error?: unknown } | undefined;
    runTurn(call, Object.assign({}, ctx, { signal: controller.signal }), (text) => {
      pending.push(text);
      notify();
    }).then(
      (result) => ((outcome = { result }), notify()),
      (error) => ((outcome = { error }), notify()),
    );
    try {
      for (;;) {
        while (pending.length > 0) {
          const text = pending.shift()!;
          if (text) yield { type: 'text-delta', text };
        }
        if (outcome) break;
        await new Promise<void>((resolve) => (wake = resolve));
      }
      if (outcome.error) throw outcome.error;
      const result = outcome.result!;
      if (result.usage) yield { type: 'usage', usage: result.usage };
      yield { type: 'finish', finishReason: result.finishReason, usage: result.usage };
    } finally {
      ctx.signal.removeEventListener('abort', onAbort);
      if (!outcome) controller.abort(new AbortedError(`${id}: the stream was left early`, { target: id }));
    }
  }

  let embeddingPromise: Promise<LlamaEmbeddingContext> | undefined;
  const embeddingContext = (loaded: Loaded): Promise<LlamaEmbeddingContext> => {
    const mark = markLog();
    embeddingPromise ??= loaded.model.createEmbeddingContext({ contextSize: Math.min(minimumContextTokens, loaded.context.contextSize), threads }).catch((error: unknown) => {
      embeddingPromise = undefined;
      throw new TargetUnavailableError(`${id}: llama.cpp could not make an embedding context${reasonSince(mark)}`, { target: id, cause: error });
    });
    return embeddingPromise;
  };

  if (tasks.includes('embedding')) {
    target.doEmbed = async (call: EmbedCall, ctx: CallContext): Promise<EmbedResult> => {
      if (!Array.isArray(call.inputs) || call.inputs.length === 0) throw new InvalidRequestError('input', 'at least one input is required');
      call.inputs.forEach((input, index) => {
        if (typeof input !== 'string') throw new InvalidRequestError(`input[${index}]`, 'must be a string');
      });
      const loaded = await loadFor(ctx);
      const embedder = await untilAborted(embeddingContext(loaded), ctx.signal);
      return serialise(ctx.signal, async () => {
        try {
          const embeddings: number[][] = [];
          let inputTokens = 0;
          for (const input of call.inputs) {
            throwIfAborted(ctx.signal);
            inputTokens += loaded.model.tokenize(input).length;
            const vector = [...(await embedder.getEmbeddingFor(input)).vector];
            embeddings.push(unit(call.dimensions ? vector.slice(0, call.dimensions) : vector));
          }
          return { embeddings, usage: { inputTokens, totalTokens: inputTokens } };
        } catch (error) {
          if (ctx.signal.aborted) throw new AbortedError(`${id}: the call was aborted`, { target: id, cause: ctx.signal.reason });
          throw InferlaneError.isInstance(error) ? error : toInferlaneError(error, id);
        }
      });
    };
  }

  return target;
}

/** Our messages as node-llama-cpp's chat history, ending with the empty answer to generate. */
function historyOf(messages: Message[]): ChatHistoryItem[] {
  const history: ChatHistoryItem[] = [];
  for (const message of messages) {
    if (message.role === 'system') history.push({ type: 'system', text: message.content });
    else if (message.role === 'assistant') history.push({ type: 'model', response: [message.content] });
    // Tool results go in as user turns until the tools contract gives them their own shape.
    else history.push({ type: 'user', text: message.role === 'tool' ? `Tool result: ${message.content}` : message.content });
  }
  history.push({ type: 'model', response: [] });
  return history;
}

/** Unit length, so cosine similarity is a dot product (as the other adapters return). */
function unit(vector: number[]): number[] {
  const norm = Math.hypot(...vector);
  return norm === 0 ? vector : vector.map((value) => value / norm);
}
