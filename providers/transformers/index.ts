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
 * This file only composes; each idea has its own file: settings.ts (options, defaults, the model
 * folder), library.ts (the library's shapes), session.ts (loading, progress, availability,
 * release), generate.ts, stream.ts, embed.ts, transcribe.ts (with decode-audio.ts).
 *
 * Imports the provider kit (src/provider.ts) only, as any third-party adapter would.
 */
import type { Modality } from '../../src/provider.js';
import { embedWith } from './embed.js';
import { createGenerator } from './generate.js';
import { createSession } from './session.js';
import { defaultModel, tinyModelKv, type TransformersSettings, type TransformersTarget } from './settings.js';
import { streamGeneration } from './stream.js';
import { transcribeWith } from './transcribe.js';

export { defaultModel, defaultModelPath, defaultTranscriptionModel } from './settings.js';
export type { TransformersSettings, TransformersTarget, TransformersTask } from './settings.js';

export function transformers(settings: TransformersSettings = {}): TransformersTarget {
  const model = settings.model ?? defaultModel;
  const id = settings.id ?? `transformers:${model}`;
  const tasks = settings.tasks ?? (model === defaultModel ? ['text', 'embedding'] : ['text']);
  const session = createSession(settings, model, id);
  const generator = createGenerator(session, settings.maxNewTokens ?? 64);

  const target: TransformersTarget = {
    id,
    kind: 'device',
    provider: 'transformers',
    modalities: tasks.map((task): Modality => task),
    limits: { contextTokens: settings.contextTokens ?? 4096, maxBatchSize: 64 },
    expected: settings.expected ?? (model === defaultModel ? { ttftMs: 30, totalMs: 200 } : undefined),
    kv: settings.kv ?? (model === defaultModel ? tinyModelKv : undefined),
    // Browser defaults from DESIGN.md section 14: small batches, a short window.
    microBatch: { maxBatchSize: 64, maxWaitMs: 15, concurrency: 1 },
    batchedGeneration: tasks.includes('text'),

    async load(options = {}) {
      await session.withProgress(options.onProgress, () => session.loadAll(tasks));
      if (options.signal) session.throwIfAborted(options.signal);
    },
    generationStats: () => generator.stats(),
    available: (signal) => session.available(tasks, signal),
    close: () => session.close(),
  };

  if (tasks.includes('text')) {
    target.doGenerate = generator.doGenerate;
    target.doGenerateMany = generator.doGenerateMany;
    target.doStream = streamGeneration(session, generator);
  }
  if (tasks.includes('embedding')) target.doEmbed = embedWith(session);
  if (tasks.includes('transcription')) target.doTranscribe = transcribeWith(session);
  return target;
}
