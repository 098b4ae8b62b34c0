/**
 * Speaks the tone alphabet of `models/inferlane-tiny-asr` (scripts/generate-asr-model.mjs): each
 * letter a-z and the word delimiter (a space) is a pure sine tone at the frequency the model's
 * config.json lists, so tests (and anyone trying the toy recognizer) can make audio it
 * transcribes exactly. Node only (reads the config from disk).
 */
import { readFileSync } from 'node:fs';

interface ToneConfig {
  sample_rate: number;
  frame_samples: number;
  tone_amplitude: number;
  tones: Record<string, number>;
}

const configUrl = new URL('../models/inferlane-tiny-asr/config.json', import.meta.url);
let cached: ToneConfig | undefined;
/** The alphabet the generated model was built with. */
export function toneAlphabet(): ToneConfig {
  cached ??= (JSON.parse(readFileSync(configUrl, 'utf8')) as { inferlane: ToneConfig }).inferlane;
  return cached;
}

export interface ToneOptions {
  /** Frames (20 ms each) per symbol. @default 3 */
  symbolFrames?: number;
  /** Silent frames between two equal symbols, so CTC keeps both (two, so one whole frame is silent even when the audio is not frame-aligned). @default 2 */
  gapFrames?: number;
  /** Silent frames before and after. @default 2 */
  padFrames?: number;
  /** Silent samples before everything, to test audio not aligned with the model's frames. @default 0 */
  offsetSamples?: number;
  /** Peak amplitude. @default the model's `tone_amplitude` (0.5) */
  amplitude?: number;
}

/** 16 kHz mono samples that the tiny recognizer transcribes as `text` (a-z and spaces). */
export function toneSamples(text: string, options: ToneOptions = {}): Float32Array {
  const { sample_rate: rate, frame_samples: frame, tone_amplitude, tones } = toneAlphabet();
  const { symbolFrames = 3, gapFrames = 2, padFrames = 2, offsetSamples = 0, amplitude = tone_amplitude } = options;
  const symbols = [...text.toLowerCase()].map((char) => (char === ' ' ? '|' : char));
  for (const symbol of symbols) if (!(symbol in tones)) throw new Error(`the tone alphabet has no '${symbol}' (a-z and space only)`);
  const out: number[] = new Array(offsetSamples + padFrames * frame).fill(0);
  symbols.forEach((symbol, index) => {
    if (index > 0 && symbols[index - 1] === symbol) for (let n = 0; n < gapFrames * frame; n++) out.push(0);
    for (let n = 0; n < symbolFrames * frame; n++) out.push(amplitude * Math.sin((2 * Math.PI * tones[symbol] * n) / rate));
  });
  for (let n = 0; n < padFrames * frame; n++) out.push(0);
  return Float32Array.from(out);
}

export interface WavOptions {
  /** @default 16000 */
  sampleRate?: number;
  /** 'pcm16' (format 1) or 'float32' (format 3). @default 'pcm16' */
  encoding?: 'pcm16' | 'float32';
  /** The same samples in every channel. @default 1 */
  channels?: number;
}

/** A RIFF/WAVE file holding `samples`. */
export function wavBytes(samples: Float32Array, options: WavOptions = {}): Uint8Array {
  const { sampleRate = 16_000, encoding = 'pcm16', channels = 1 } = options;
  const bytesPerSample = encoding === 'pcm16' ? 2 : 4;
  const dataBytes = samples.length * channels * bytesPerSample;
  const view = new DataView(new ArrayBuffer(44 + dataBytes));
  const ascii = (offset: number, text: string) => [...text].forEach((char, index) => view.setUint8(offset + index, char.charCodeAt(0)));
  ascii(0, 'RIFF');
  view.setUint32(4, 36 + dataBytes, true);
  ascii(8, 'WAVE');
  ascii(12, 'fmt ');
  view.setUint32(16, 16, true);
  view.setUint16(20, encoding === 'pcm16' ? 1 : 3, true);
  view.setUint16(22, channels, true);
  view.setUint32(24, sampleRate, true);
  view.setUint32(28, sampleRate * channels * bytesPerSample, true);
  view.setUint16(32, channels * bytesPerSample, true);
  view.setUint16(34, bytesPerSample * 8, true);
  ascii(36, 'data');
  view.setUint32(40, dataBytes, true);
  let offset = 44;
  for (const sample of samples)
    for (let channel = 0; channel < channels; channel++) {
      if (encoding === 'pcm16') view.setInt16(offset, Math.round(Math.max(-1, Math.min(1, sample)) * 32767), true);
      else view.setFloat32(offset, sample, true);
      offset += bytesPerSample;
    }
  return new Uint8Array(view.buffer);
}
