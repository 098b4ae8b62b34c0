/**
 * PCM16 audio helpers for sessions, Web standards only: WAV in and out, linear resampling,
 * joining chunks. Realtime endpoints speak raw PCM16 LE mono (OpenAI: 24 kHz); one-shot
 * transcription and speech routes speak WAV; the session converts between them.
 *
 * Imports: ../errors.ts, ../target.ts (the WAV writer adapters share).
 */
import { InvalidRequestError } from '../errors.js';
import { wavFromPcm16 } from '../target.js';

export { wavFromPcm16 };

/** Joins byte chunks into one array. */
export function concatBytes(chunks: readonly Uint8Array[]): Uint8Array {
  let length = 0;
  for (const chunk of chunks) length += chunk.length;
  const out = new Uint8Array(length);
  let at = 0;
  for (const chunk of chunks) {
    out.set(chunk, at);
    at += chunk.length;
  }
  return out;
}

/** PCM16 LE bytes as samples (copies, so odd offsets work). */
export function pcm16Samples(bytes: Uint8Array): Int16Array {
  const samples = new Int16Array(bytes.length >> 1);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let index = 0; index < samples.length; index++) samples[index] = view.getInt16(index * 2, true);
  return samples;
}

export function samplesToPcm16(samples: Int16Array): Uint8Array {
  const bytes = new Uint8Array(samples.length * 2);
  const view = new DataView(bytes.buffer);
  for (let index = 0; index < samples.length; index++) view.setInt16(index * 2, samples[index], true);
  return bytes;
}

/** Linear-interpolation resampling of PCM16 samples; the same array when the rates agree. */
export function resample(samples: Int16Array, fromRate: number, toRate: number): Int16Array {
  if (fromRate === toRate || samples.length === 0) return samples;
  const length = Math.max(1, Math.round((samples.length * toRate) / fromRate));
  const out = new Int16Array(length);
  const step = fromRate / toRate;
  for (let index = 0; index < length; index++) {
    const position = index * step;
    const left = Math.floor(position);
    const right = Math.min(left + 1, samples.length - 1);
    const fraction = position - left;
    out[index] = Math.round(samples[Math.min(left, samples.length - 1)] * (1 - fraction) + samples[right] * fraction);
  }
  return out;
}

/**
 * A WAV file's audio as mono PCM16 samples and its rate: 16-bit PCM or 32-bit float, channels
 * averaged. What a speech stage returns, read so the session can speak it as PCM deltas.
 */
export function decodeWav(bytes: Uint8Array, field = 'audio'): { samples: Int16Array; sampleRate: number } {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const tag = (offset: number) => String.fromCharCode(bytes[offset], bytes[offset + 1], bytes[offset + 2], bytes[offset + 3]);
  if (bytes.length < 12 || tag(0) !== 'RIFF' || tag(8) !== 'WAVE') throw new InvalidRequestError(field, 'is not a WAV file (RIFF/WAVE)');
  let format: { encoding: number; channels: number; sampleRate: number; bits: number } | undefined;
  let offset = 12;
  while (offset + 8 <= bytes.length) {
    const id = tag(offset);
    const size = view.getUint32(offset + 4, true);
    const body = offset + 8;
    if (id === 'fmt ') {
      format = { encoding: view.getUint16(body, true), channels: view.getUint16(body + 2, true), sampleRate: view.getUint32(body + 4, true), bits: view.getUint16(body + 14, true) };
    } else if (id === 'data') {
      if (!format) throw new InvalidRequestError(field, 'has a data chunk before its fmt chunk');
      const { encoding, channels, sampleRate, bits } = format;
      const pcm16 = encoding === 1 && bits === 16;
      const float32 = encoding === 3 && bits === 32;
      if (!pcm16 && !float32) throw new InvalidRequestError(field, `holds WAV format ${encoding} with ${bits}-bit samples; 16-bit PCM or 32-bit float expected`);
      const width = bits / 8;
      const end = Math.min(bytes.length, body + size);
      const frames = Math.floor((end - body) / (width * channels));
      const samples = new Int16Array(frames);
      for (let frame = 0; frame < frames; frame++) {
        let sum = 0;
        for (let channel = 0; channel < channels; channel++) {
          const at = body + (frame * channels + channel) * width;
          sum += pcm16 ? view.getInt16(at, true) / 32768 : view.getFloat32(at, true);
        }
        samples[frame] = Math.round(Math.max(-1, Math.min(1, sum / channels)) * 32767);
      }
      return { samples, sampleRate };
    }
    offset = body + size + (size & 1);
  }
  throw new InvalidRequestError(field, 'has no data chunk');
}

/** What `sendAudio` takes, as PCM16 bytes; an odd byte count cannot be PCM16. */
export function toPcm16Bytes(audio: unknown): Uint8Array {
  let bytes: Uint8Array;
  if (audio instanceof Uint8Array) bytes = audio;
  else if (audio instanceof Int16Array) bytes = new Uint8Array(audio.buffer, audio.byteOffset, audio.byteLength);
  else if (audio instanceof ArrayBuffer) bytes = new Uint8Array(audio);
  else throw new InvalidRequestError('audio', 'expected PCM16 LE mono as a Uint8Array, Int16Array or ArrayBuffer');
  if (bytes.length % 2 !== 0) throw new InvalidRequestError('audio', `has ${bytes.length} bytes; PCM16 needs an even count`);
  // A copy: the caller may reuse its buffer (microphone worklets do) while the turn keeps this one.
  return bytes.slice();
}
