/**
 * The tone alphabet of models/inferlane-tiny-asr (examples/tone-audio.ts) at any sample rate,
 * both ways: text to PCM16 "speech" and PCM16 back to text. The Realtime emulation hears and
 * speaks it (so a session's audio carries words a test can read), and tests make input with it.
 * Frames are 20 ms at every rate; each symbol's tone is a whole number of cycles per frame.
 *
 * Imports: examples/tone-audio.ts (the alphabet from the generated model's config).
 */
import { toneAlphabet } from '../../examples/tone-audio.js';

const frameMs = 20;

export interface ToneSpeechOptions {
  /** Frames per symbol. @default 3 */
  symbolFrames?: number;
  /** Silent frames after every symbol (so a doubled letter stays two). @default 1 */
  gapFrames?: number;
  /** Silent frames after the last symbol (a voice-activity detector's end of speech). @default 0 */
  trailingSilenceFrames?: number;
  /** @default the model's tone amplitude (0.5) */
  amplitude?: number;
}

/** Samples per 20 ms frame at `sampleRate`. */
export const frameSamples = (sampleRate: number): number => Math.round((sampleRate * frameMs) / 1000);

/** `text` (a-z and spaces; anything else is silence) as float samples at `sampleRate`. */
export function toneFloat(text: string, sampleRate: number, options: ToneSpeechOptions = {}): Float32Array {
  const { tones, tone_amplitude } = toneAlphabet();
  const { symbolFrames = 3, gapFrames = 1, trailingSilenceFrames = 0, amplitude = tone_amplitude } = options;
  const frame = frameSamples(sampleRate);
  const symbols = [...text.toLowerCase()].map((char) => (char === ' ' ? '|' : char));
  const out = new Float32Array(symbols.length * (symbolFrames + gapFrames) * frame + trailingSilenceFrames * frame);
  let at = 0;
  for (const symbol of symbols) {
    const frequency = tones[symbol];
    if (frequency !== undefined) {
      for (let n = 0; n < symbolFrames * frame; n++) out[at + n] = amplitude * Math.sin((2 * Math.PI * frequency * n) / sampleRate);
    }
    at += (symbolFrames + gapFrames) * frame;
  }
  return out;
}

/** Float samples in [-1, 1] as PCM16 little-endian bytes. */
export function pcm16(samples: Float32Array): Uint8Array {
  const bytes = new Uint8Array(samples.length * 2);
  const view = new DataView(bytes.buffer);
  for (let index = 0; index < samples.length; index++) view.setInt16(index * 2, Math.round(Math.max(-1, Math.min(1, samples[index])) * 32767), true);
  return bytes;
}

/** `text` spoken in the tone alphabet as PCM16 LE mono bytes at `sampleRate`. */
export function toneSpeech(text: string, sampleRate: number, options: ToneSpeechOptions = {}): Uint8Array {
  return pcm16(toneFloat(text, sampleRate, options));
}

/** Silence, as PCM16 bytes. */
export function silence(ms: number, sampleRate: number): Uint8Array {
  return new Uint8Array(Math.round((sampleRate * ms) / 1000) * 2);
}

/**
 * Reads tone-alphabet PCM16 back into text: per 20 ms frame, the strongest tone (Goertzel) if it
 * is loud enough, else silence; repeats collapse, silence separates. What the device recognizer
 * does with a CTC graph, done here in plain arithmetic for the emulation's ears.
 */
export function decodeTones(bytes: Uint8Array, sampleRate: number): string {
  const { tones } = toneAlphabet();
  const frame = frameSamples(sampleRate);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const count = Math.floor(bytes.byteLength / 2);
  const entries = Object.entries(tones);
  let text = '';
  let previous: string | undefined;
  for (let start = 0; start + frame <= count; start += frame) {
    let best: string | undefined;
    let bestAmplitude = 0.1; // below this a frame is silence (the model's blank_below_amplitude)
    for (const [symbol, frequency] of entries) {
      const amplitude = toneAmplitude(view, start, frame, frequency, sampleRate);
      if (amplitude > bestAmplitude) {
        bestAmplitude = amplitude;
        best = symbol;
      }
    }
    if (best !== undefined && best !== previous) text += best === '|' ? ' ' : best;
    previous = best;
  }
  return text.replace(/\s+/g, ' ').trim();
}

/** Amplitude of one frequency over one frame (Goertzel), for a sine of amplitude A about A. */
function toneAmplitude(view: DataView, start: number, length: number, frequency: number, sampleRate: number): number {
  const coefficient = 2 * Math.cos((2 * Math.PI * frequency) / sampleRate);
  let s1 = 0;
  let s2 = 0;
  for (let n = 0; n < length; n++) {
    const s0 = view.getInt16((start + n) * 2, true) / 32767 + coefficient * s1 - s2;
    s2 = s1;
    s1 = s0;
  }
  const power = s1 * s1 + s2 * s2 - coefficient * s1 * s2;
  return (2 * Math.sqrt(Math.max(0, power))) / length;
}
