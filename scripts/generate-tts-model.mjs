#!/usr/bin/env node
/**
 * Writes inferlane's embedded on-device speech synthesiser, `models/inferlane-tiny-tts/`, for
 * transformers.js's `text-to-speech` pipeline (the VITS path: text -> tokenizer -> one forward
 * pass -> `waveform`).
 *
 * A toy, the mirror of scripts/generate-asr-model.mjs: it speaks the same tone alphabet, so the
 * embedded recognizer hears exactly what it says. Each character is a token; each token's row of
 * a table is its sound: three 20 ms frames of its tone (a-z, and '|' for a space) then one frame
 * of silence, so a doubled letter stays two. Anything else is silence.
 *
 *   input_ids [batch, tokens]  (int64)
 *   -> Gather (the table [vocab, 4 frames x 320 samples])   [batch, tokens, 1280]
 *   -> Reshape [0, -1]                                       waveform [batch, samples]  (16 kHz float)
 *
 * Plain Node ESM, no dependencies, no network, deterministic: the same bytes on every run.
 * Usage: node scripts/generate-tts-model.mjs [--if-missing] [--out <models folder>] [--quiet]
 */
import { FLOAT, INT64, int64Bytes, message, modelProto, node, stringField, tensor, valueInfo, modelFolder, writeModelFiles } from './onnx-writer.mjs';

const modelName = 'inferlane-tiny-tts';
const files = ['config.json', 'tokenizer.json', 'tokenizer_config.json', 'onnx/model.onnx'];
const { dir: modelDir, quiet } = modelFolder(import.meta.url, modelName, files);

// The recognizer's alphabet (scripts/generate-asr-model.mjs): 16 kHz, 20 ms frames, '|' at 200 Hz,
// then every 100 Hz from 'a' at 300 Hz; a whole number of cycles per frame.
const sampleRate = 16_000;
const frameSamples = 320;
const binHz = sampleRate / frameSamples;
const toneAmplitude = 0.5;
const symbolFrames = 3;
const gapFrames = 1;
const symbols = ['|', ...'abcdefghijklmnopqrstuvwxyz'];
const tones = Object.fromEntries(symbols.map((symbol, index) => [symbol, (4 + 2 * index) * binHz]));

// Tokens: <pad> and <unk> are silence; a space speaks '|'.
const vocab = ['<pad>', '<unk>', ' ', ...'abcdefghijklmnopqrstuvwxyz'];
const tokenSamples = (symbolFrames + gapFrames) * frameSamples;
const table = new Float32Array(vocab.length * tokenSamples);
vocab.forEach((token, id) => {
  const symbol = token === ' ' ? '|' : token;
  const frequency = tones[symbol];
  if (frequency === undefined) return;
  for (let n = 0; n < symbolFrames * frameSamples; n++) table[id * tokenSamples + n] = toneAmplitude * Math.sin((2 * Math.PI * frequency * n) / sampleRate);
});

const graph = Buffer.concat([
  message(1, node('Gather', ['sounds', 'input_ids'], ['frames'])),
  message(1, node('Reshape', ['frames', 'flat_shape'], ['waveform'])),
  stringField(2, 'inferlane_tiny_tts'),
  message(5, tensor('sounds', FLOAT, [vocab.length, tokenSamples], Buffer.from(table.buffer))),
  message(5, tensor('flat_shape', INT64, [2], int64Bytes([0, -1]))),
  message(11, valueInfo('input_ids', INT64, ['batch_size', 'tokens'])),
  message(12, valueInfo('waveform', FLOAT, ['batch_size', 'samples'])),
]);
const model = modelProto(graph, 'inferlane scripts/generate-tts-model.mjs');

const config = {
  model_type: 'vits',
  architectures: ['VitsModel'],
  vocab_size: vocab.length,
  sampling_rate: sampleRate,
  pad_token_id: 0,
  torch_dtype: 'float32',
  'transformers.js_config': { dtype: 'fp32' },
  inferlane: { kind: 'tone-alphabet synthesiser', sample_rate: sampleRate, frame_samples: frameSamples, symbol_frames: symbolFrames, gap_frames: gapFrames, tone_amplitude: toneAmplitude, tones },
};
// One token per character: lower-cased, split into single characters, looked up (unknown: <unk>).
const tokenizer = {
  version: '1.0',
  truncation: null,
  padding: null,
  added_tokens: [
    { id: 0, content: '<pad>', single_word: false, lstrip: false, rstrip: false, normalized: false, special: true },
    { id: 1, content: '<unk>', single_word: false, lstrip: false, rstrip: false, normalized: false, special: true },
  ],
  normalizer: { type: 'Lowercase' },
  pre_tokenizer: { type: 'Split', pattern: { Regex: '[\\s\\S]' }, behavior: 'Isolated', invert: false },
  post_processor: null,
  decoder: null,
  model: { vocab: Object.fromEntries(vocab.map((token, id) => [token, id])) },
};
const tokenizerConfig = {
  tokenizer_class: 'VitsTokenizer',
  pad_token: '<pad>',
  unk_token: '<unk>',
  add_blank: false,
  do_lower_case: true,
  clean_up_tokenization_spaces: false,
  model_max_length: 100_000,
};

writeModelFiles(modelDir, { 'config.json': config, 'tokenizer.json': tokenizer, 'tokenizer_config.json': tokenizerConfig, 'onnx/model.onnx': model });
if (!quiet) console.log(`wrote ${modelDir}: ${vocab.length} tokens, model.onnx ${(model.length / 1024).toFixed(0)} KiB`);
