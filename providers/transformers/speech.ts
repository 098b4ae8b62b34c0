/**
 * `transformersSpeech(settings)`: speech synthesis on this device, through transformers.js's
 * `text-to-speech` pipeline, as a `device` target with `doSpeech`
 * (`inferlane/providers/transformers-speech`). By default it runs the toy the project generates
 * (scripts/generate-tts-model.mjs, `models/inferlane-tiny-tts`): it speaks the tone alphabet the
 * embedded recognizer hears, which is what a voice session's cascaded path needs to run fully on
 * the device. Any VITS export transformers.js loads (e.g. an MMS-TTS folder you copy under
 * `modelPath`) works the same way. Returns WAV (16-bit PCM, the model's rate).
 *
 * A separate factory for now so it could be added beside the transformers adapter without
 * touching it; it shares the adapter's model folder lookup.
 *
 * Imports: src/target.ts, src/errors.ts, and this folder's index.ts (defaultModelPath).
 */
import { AbortedError, InvalidRequestError, ProviderError, TargetUnavailableError } from '../../src/provider.js';
import type { Availability, CallContext, SpeechCall, SpeechResult, Target } from '../../src/provider.js';
import { wavFromPcm16 } from '../../src/provider.js';
import { defaultModelPath } from './index.js';

/** The synthesiser the project ships in `models/`: a toy that speaks the tone alphabet. */
export const defaultSpeechModel = 'inferlane-tiny-tts';

export interface TransformersSpeechSettings {
  /** Unique id in a client. @default `transformers-speech:<model>` */
  id?: string;
  /** Folder name under `modelPath` of a VITS-style text-to-waveform model. @default 'inferlane-tiny-tts' */
  model?: string;
  /** Root folder (Node) or same-origin URL prefix (browser) holding `<model>/config.json`. @default the package's `models/` in Node, '/models/' in browsers */
  modelPath?: string;
  /** onnxruntime execution provider. @default transformers.js's choice */
  device?: 'wasm' | 'webgpu' | 'cpu';
  /** Weight type. @default the model's `transformers.js_config.dtype` */
  dtype?: string;
  /** Where the browser finds onnxruntime-web's `ort-wasm-simd-threaded.*`. @default transformers.js's (a CDN: set it to stay offline) */
  wasmPaths?: string | Record<string, string>;
  /** Latency priors, ms. @default { ttftMs: 10, totalMs: 20 } for the tiny model */
  expected?: { ttftMs?: number; totalMs?: number };
  /** Loads the library. @default () => import('@huggingface/transformers') */
  importLibrary?: () => Promise<unknown>;
}

export interface TransformersSpeechTarget extends Target {
  kind: 'device';
  /** Loads the model now. Safe to call many times. */
  load(): Promise<void>;
}

interface SynthesizerLike {
  (text: string): Promise<{ audio: Float32Array; sampling_rate: number }>;
  dispose?(): Promise<unknown>;
}
interface Library {
  env: { allowRemoteModels: boolean; allowLocalModels: boolean; localModelPath: string; backends: { onnx: { wasm?: { wasmPaths?: unknown } } } };
  pipeline(task: 'text-to-speech', model: string, options?: Record<string, unknown>): Promise<SynthesizerLike>;
}

const isBrowser = !(typeof process !== 'undefined' && typeof process.versions?.node === 'string' && typeof window === 'undefined');

export function transformersSpeech(settings: TransformersSpeechSettings = {}): TransformersSpeechTarget {
  const model = settings.model ?? defaultSpeechModel;
  if (typeof model !== 'string' || model === '') throw new InvalidRequestError('model', 'must be a model folder name');
  const id = settings.id ?? `transformers-speech:${model}`;
  const importLibrary = settings.importLibrary ?? (() => import('@huggingface/transformers'));
  let loading: Promise<SynthesizerLike> | undefined;

  const modelPath = (): string => {
    const path = settings.modelPath ?? (isBrowser ? '/models/' : defaultModelPath());
    const local = isBrowser && /^https?:/.test(path) && new URL(path).origin === location.origin ? new URL(path).pathname : path;
    return local.endsWith('/') ? local : `${local}/`;
  };

  const load = (): Promise<SynthesizerLike> => {
    loading ??= (async () => {
      let lib: Library;
      try {
        const loaded = (await importLibrary()) as Library & { default?: Library };
        lib = loaded.env ? loaded : (loaded.default as Library);
      } catch (error) {
        throw new TargetUnavailableError('@huggingface/transformers could not be imported (an optional peer dependency: npm install @huggingface/transformers)', { target: id, cause: error });
      }
      // transformers.js keeps its settings in one global env: set right before the load, never remote.
      lib.env.allowRemoteModels = false;
      lib.env.allowLocalModels = true;
      lib.env.localModelPath = modelPath();
      if (settings.wasmPaths !== undefined && lib.env.backends.onnx.wasm) lib.env.backends.onnx.wasm.wasmPaths = settings.wasmPaths;
      try {
        return await lib.pipeline('text-to-speech', model, { device: settings.device, dtype: settings.dtype });
      } catch (error) {
        throw new TargetUnavailableError(`${id} could not load the speech model '${model}': ${error instanceof Error ? error.message : String(error)}`, { target: id, cause: error });
      }
    })();
    loading.catch(() => (loading = undefined));
    return loading;
  };

  return {
    id,
    kind: 'device',
    modalities: ['speech'],
    expected: settings.expected ?? (model === defaultSpeechModel ? { ttftMs: 10, totalMs: 20 } : undefined),
    async load() {
      await load();
    },
    async available(): Promise<Availability> {
      if (loading) return loading.then(() => 'available' as const, () => 'unavailable' as const);
      try {
        await importLibrary();
        return 'downloadable';
      } catch {
        return 'unavailable';
      }
    },
    async doSpeech(call: SpeechCall, ctx: CallContext): Promise<SpeechResult> {
      if (typeof call.text !== 'string' || call.text.trim() === '') throw new InvalidRequestError('text', 'expected a non-empty string');
      if (call.format !== undefined && call.format !== 'wav') throw new InvalidRequestError('format', `${id} writes WAV only; got '${call.format}'`);
      const synthesize = await load();
      if (ctx.signal.aborted) throw new AbortedError(`the speech call to ${id} was aborted`, { target: id });
      let output: { audio: Float32Array; sampling_rate: number };
      try {
        output = await synthesize(call.text);
      } catch (error) {
        throw new ProviderError(`${id} failed to synthesize: ${error instanceof Error ? error.message : String(error)}`, { target: id, cause: error });
      }
      // One forward pass cannot be interrupted: the signal is checked on both sides of it.
      if (ctx.signal.aborted) throw new AbortedError(`the speech call to ${id} was aborted`, { target: id });
      return { audio: wav16(output.audio, output.sampling_rate), mediaType: 'audio/wav', usage: { audioSeconds: output.audio.length / output.sampling_rate } };
    },
    async close() {
      const synthesizer = await loading?.catch(() => undefined);
      loading = undefined;
      await synthesizer?.dispose?.();
    },
  };
}

/** Float samples as a 16-bit PCM mono WAV file. */
function wav16(samples: Float32Array, sampleRate: number): Uint8Array {
  const pcm = new Int16Array(samples.length);
  for (let index = 0; index < samples.length; index++) pcm[index] = Math.round(Math.max(-1, Math.min(1, samples[index])) * 32767);
  return wavFromPcm16(pcm, sampleRate);
}
