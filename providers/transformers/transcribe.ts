/**
 * `doTranscribe` on the device: transformers.js's `automatic-speech-recognition` pipeline on the
 * decoded samples (decode-audio.ts), at the rate the model's feature extractor asks for.
 */
import { abortedCallError, toInferlaneError, type CallContext, type TranscribeCall, type TranscribeResult } from '../../src/provider.js';
import { decodeAudioBytes, samplesAt } from './decode-audio.js';
import type { Session } from './session.js';

export function transcribeWith(session: Session): (call: TranscribeCall, ctx: CallContext) => Promise<TranscribeResult> {
  const { id } = session;
  return async (call, ctx) => {
    session.throwIfAborted(ctx.signal);
    // Decode before paying for a load; the rate check needs the model's feature extractor.
    const decoded = decodeAudioBytes(call.audio, call.mediaType);
    const recognizer = await session.withProgress(session.progressTo(ctx), session.loadRecognizer);
    session.throwIfAborted(ctx.signal);
    const sampleRate = recognizer.processor?.feature_extractor?.config?.sampling_rate ?? 16_000;
    const samples = samplesAt(decoded, sampleRate);
    const options: Record<string, unknown> = { ...call.providerOptions?.transformers };
    // Only Whisper takes a language; wav2vec2-style models warn and ignore it.
    if (call.language && /whisper/.test(recognizer.model?.config?.model_type ?? '')) options.language ??= call.language;
    try {
      // One forward pass cannot be interrupted: an abort during it is honoured when it returns.
      const output = await recognizer(samples, options);
      session.throwIfAborted(ctx.signal);
      const text = (Array.isArray(output) ? output[0] : output).text.trim();
      return { text, language: call.language, durationSeconds: samples.length / sampleRate };
    } catch (error) {
      if (ctx.signal.aborted) throw abortedCallError(id, ctx.signal);
      throw toInferlaneError(error, id);
    }
  };
}
