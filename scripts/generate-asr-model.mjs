#!/usr/bin/env node
/**
 * Writes inferlane's embedded on-device speech recognizer, `models/inferlane-tiny-asr/`, for
 * transformers.js's `automatic-speech-recognition` pipeline (the Wav2Vec2-CTC path).
 *
 * A toy, but a working one: it recognises a "tone alphabet". Each letter a-z and the word
 * delimiter '|' (a space) is a pure sine tone at its own frequency; the graph measures, for each
 * 20 ms frame, how much energy the audio has at each symbol's frequency:
 *
 *   input_values [batch, samples]  (16 kHz float audio)
 *   -> Unsqueeze                    [batch, 1, samples]
 *   -> Conv, a sine and a cosine filter per symbol, kernel = stride = one frame
 *                                   [batch, 2 x symbols, frames]
 *   -> Mul (square)
 *   -> Conv 1x1: sin^2 + cos^2 per symbol, plus a constant bias for the CTC blank (<pad>)
 *                                   [batch, vocab, frames]
 *   -> Transpose                    logits [batch, frames, vocab]
 *
 * A tone's frequency is a whole number of cycles per frame, so the filters are orthogonal: a
 * frame of one tone of amplitude A scores A^2 for its own symbol and 0 for every other one,
 * whatever its phase. Silence scores 0 everywhere, so the blank's constant wins and CTC
 * decoding (collapse repeats, drop blanks) leaves nothing. "hello" is h, e, l, a short
 * silence, l, o.
 *
 * Plain Node ESM, no dependencies, no network, deterministic: the same bytes on every run.
 * Usage: node scripts/generate-asr-model.mjs [--if-missing] [--out <models folder>] [--quiet]
 */
import { FLOAT, INT64, floatBytes, int64Bytes, intsAttribute, message, modelProto, node, stringField, tensor, valueInfo, modelFolder, writeModelFiles } from './onnx-writer.mjs';

const modelName = 'inferlane-tiny-asr';
const files = ['config.json', 'preprocessor_config.json', 'tokenizer.json', 'tokenizer_config.json', 'onnx/model.onnx'];
const { dir: modelDir, quiet } = modelFolder(import.meta.url, modelName, files);

/** Audio rate the feature extractor declares and the graph assumes, Hz. */
const sampleRate = 16_000;
/** Samples per frame (20 ms): one logits row per frame. */
const frameSamples = 320;
/** Frequency resolution of one frame: a tone of k x binHz has exactly k cycles per frame. */
const binHz = sampleRate / frameSamples;
/** Symbols two bins apart, from 200 Hz up: well below Nyquist and apart enough to survive misaligned frames. */
const firstBin = 4;
const binStep = 2;
/** Amplitude the synthesiser uses (scores amplitude^2 = 0.25); the blank wins below amplitude 0.1. */
const toneAmplitude = 0.5;
const blankScore = 0.01;
/** Never predicted: <unk> is there because CTC tokenizers expect one. */
const unkScore = -1;

const specials = ['<pad>', '<unk>'];
const symbols = ['|', ...'abcdefghijklmnopqrstuvwxyz'];
const vocab = [...specials, ...symbols];
const vocabSize = vocab.length;
const tones = Object.fromEntries(symbols.map((symbol, index) => [symbol, (firstBin + binStep * index) * binHz]));

// ---- weights ----
// Filter 2s is the sine of symbol s, 2s + 1 its cosine, scaled by 2/frameSamples so a tone of
// amplitude A projects to (A cos phase, A sin phase).
const filters = new Float32Array(2 * symbols.length * frameSamples);
symbols.forEach((symbol, index) => {
  const cycles = firstBin + binStep * index;
  for (let n = 0; n < frameSamples; n++) {
    const angle = (2 * Math.PI * cycles * n) / frameSamples;
    filters[(2 * index) * frameSamples + n] = (2 / frameSamples) * Math.sin(angle);
    filters[(2 * index + 1) * frameSamples + n] = (2 / frameSamples) * Math.cos(angle);
  }
});
// Row v of the 1x1 conv sums the two squared projections of vocab entry v's symbol.
const pairSums = new Float32Array(vocabSize * 2 * symbols.length);
symbols.forEach((_, index) => {
  const row = specials.length + index;
  pairSums[row * 2 * symbols.length + 2 * index] = 1;
  pairSums[row * 2 * symbols.length + 2 * index + 1] = 1;
});
const biases = new Float32Array(vocabSize);
biases[0] = blankScore;
biases[1] = unkScore;

const graph = Buffer.concat([
  message(1, node('Unsqueeze', ['input_values', 'channel_axis'], ['waveform'])),
  message(1, node('Conv', ['waveform', 'tone_filters'], ['projections'], [intsAttribute('kernel_shape', [frameSamples]), intsAttribute('strides', [frameSamples])])),
  message(1, node('Mul', ['projections', 'projections'], ['squared'])),
  message(1, node('Conv', ['squared', 'pair_sums', 'blank_bias'], ['scores'], [intsAttribute('kernel_shape', [1])])),
  message(1, node('Transpose', ['scores'], ['logits'], [intsAttribute('perm', [0, 2, 1])])),
  stringField(2, 'inferlane_tiny_asr'),
  message(5, tensor('channel_axis', INT64, [1], int64Bytes([1]))),
  message(5, tensor('tone_filters', FLOAT, [2 * symbols.length, 1, frameSamples], Buffer.from(filters.buffer))),
  message(5, tensor('pair_sums', FLOAT, [vocabSize, 2 * symbols.length, 1], Buffer.from(pairSums.buffer))),
  message(5, tensor('blank_bias', FLOAT, [vocabSize], floatBytes(biases))),
  message(11, valueInfo('input_values', FLOAT, ['batch_size', 'samples'])),
  message(12, valueInfo('logits', FLOAT, ['batch_size', 'frames', vocabSize])),
]);
const model = modelProto(graph, 'inferlane scripts/generate-asr-model.mjs');

// ---- the JSON files transformers.js reads (Wav2Vec2ForCTC, Wav2Vec2FeatureExtractor, a CTC tokenizer) ----
const config = {
  model_type: 'wav2vec2',
  architectures: ['Wav2Vec2ForCTC'],
  vocab_size: vocabSize,
  pad_token_id: 0,
  bos_token_id: null,
  eos_token_id: null,
  ctc_loss_reduction: 'mean',
  torch_dtype: 'float32',
  'transformers.js_config': { dtype: 'fp32' },
  inferlane: {
    kind: 'tone-alphabet CTC',
    sample_rate: sampleRate,
    frame_samples: frameSamples,
    tone_amplitude: toneAmplitude,
    blank_below_amplitude: Math.sqrt(blankScore),
    // Hz per symbol; '|' is the word delimiter (a space in the transcript).
    tones,
  },
};
// do_normalize would rescale quiet audio to unit variance, turning silence into noise: the graph
// scores absolute energy, so it stays off.
const preprocessorConfig = {
  feature_extractor_type: 'Wav2Vec2FeatureExtractor',
  feature_size: 1,
  sampling_rate: sampleRate,
  padding_value: 0,
  padding_side: 'right',
  do_normalize: false,
  return_attention_mask: false,
};
// <pad> is the CTC blank: it must not be a special added token, because transformers.js drops
// special tokens before the CTC decoder collapses repeats, which would merge the two l's of "hello".
const addedTokens = [{ id: 1, content: '<unk>', single_word: false, lstrip: true, rstrip: true, normalized: false, special: true }];
const tokenizer = {
  version: '1.0',
  truncation: null,
  padding: null,
  added_tokens: addedTokens,
  normalizer: null,
  pre_tokenizer: null,
  post_processor: null,
  decoder: { type: 'CTC', pad_token: '<pad>', word_delimiter_token: '|', cleanup: true },
  model: { vocab: Object.fromEntries(vocab.map((token, id) => [token, id])) },
};
const tokenizerConfig = {
  tokenizer_class: 'Wav2Vec2CTCTokenizer',
  pad_token: '<pad>',
  unk_token: '<unk>',
  bos_token: null,
  eos_token: null,
  word_delimiter_token: '|',
  do_lower_case: false,
  clean_up_tokenization_spaces: false,
  model_max_length: 1_000_000,
  added_tokens_decoder: Object.fromEntries(addedTokens.map(({ id, ...rest }) => [String(id), rest])),
};

writeModelFiles(modelDir, {
  'config.json': config,
  'preprocessor_config.json': preprocessorConfig,
  'tokenizer.json': tokenizer,
  'tokenizer_config.json': tokenizerConfig,
  'onnx/model.onnx': model,
});
if (!quiet) console.log(`wrote ${modelDir}: ${symbols.length} tones, ${vocabSize} tokens, model.onnx ${(model.length / 1024).toFixed(0)} KiB`);
