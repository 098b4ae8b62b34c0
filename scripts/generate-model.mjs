#!/usr/bin/env node
/**
 * Writes inferlane's embedded on-device default model, `models/inferlane-tiny-chat/`, for
 * transformers.js (see DESIGN.md sections 12 and 13).
 *
 * - tokenizer: byte-level BPE whose merges are learned from scripts/corpus.txt (prose the
 *   project wrote itself);
 * - language model: a bigram table of log-probabilities over those tokens, stored as bytes
 *   and expanded in the graph (Gather -> Cast -> Mul -> Add gives `logits`);
 * - embedding: a second output, `last_hidden_state`, a hashed character n-gram projection of
 *   each token weighted by its rarity, so mean pooling gives similar sentences close vectors.
 *
 * Plain Node ESM, no dependencies, no network, deterministic: the same bytes on every run.
 * Usage: node scripts/generate-model.mjs [--if-missing] [--out <models folder>]
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FLOAT, INT64, UINT8, floatBytes, int64Bytes, intAttribute, message, modelProto, node, stringField, tensor, valueInfo, modelFolder, writeModelFiles } from './onnx-writer.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const modelName = 'inferlane-tiny-chat';
const files = ['config.json', 'generation_config.json', 'tokenizer.json', 'tokenizer_config.json', 'onnx/model.onnx'];
const { dir: modelDir, quiet } = modelFolder(import.meta.url, modelName, files);

/** Vocabulary size the BPE trainer aims for; it stops earlier when pairs become rare. */
const targetVocabSize = 1024;
/** Width of `last_hidden_state`, the embedding dimension. */
const hiddenSize = 128;
/** Log-probabilities are stored as bytes over [floorLogProb, 0]. */
const floorLogProb = -16;
/**
 * Unseen pairs borrow from the unigram distribution (interpolation with this many pseudo-counts),
 * so a sampled rare continuation is still a common word, not a random byte.
 */
const backoffWeight = 0.1;

const specials = ['<|end|>', '<|pad|>', '<|system|>', '<|user|>', '<|assistant|>'];
const [endId, padId, , userId, assistantId] = [0, 1, 2, 3, 4];

// ---- byte-level alphabet, as GPT-2 defines it: printable bytes keep their character ----
const byteToChar = new Array(256);
{
  let extra = 0;
  for (let b = 0; b < 256; b++) {
    const printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
    byteToChar[b] = String.fromCharCode(printable ? b : 256 + extra++);
  }
}
const charToByte = new Map(byteToChar.map((char, byte) => [char, byte]));
// The split rule of the ByteLevel pre-tokenizer (use_regex: true), so training sees the same words.
const splitPattern = /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu;
const encoder = new TextEncoder();
const toSymbols = (word) => Array.from(encoder.encode(word), (byte) => byteToChar[byte]);

const corpus = readFileSync(join(here, 'corpus.txt'), 'utf8')
  .split('\n')
  .map((line) => line.trim())
  .filter((line) => line.length > 0);

// ---- BPE training: merge the most frequent adjacent pair, ties broken lexically ----
const wordCounts = new Map();
for (const line of corpus) for (const word of line.match(splitPattern) ?? []) wordCounts.set(word, (wordCounts.get(word) ?? 0) + 1);
const words = [...wordCounts.entries()].sort((a, b) => (a[0] < b[0] ? -1 : 1)).map(([word, count]) => ({ symbols: toSymbols(word), count }));

const vocab = [...specials, ...byteToChar];
const merges = [];
while (vocab.length < targetVocabSize) {
  const pairCounts = new Map();
  for (const { symbols, count } of words)
    for (let i = 0; i < symbols.length - 1; i++) {
      const key = symbols[i] + ' ' + symbols[i + 1];
      pairCounts.set(key, (pairCounts.get(key) ?? 0) + count);
    }
  let best;
  let bestCount = 1;
  for (const [key, count] of pairCounts) if (count > bestCount || (count === bestCount && best !== undefined && key < best)) [best, bestCount] = [key, count];
  if (best === undefined) break;
  const [left, right] = best.split(' ');
  merges.push([left, right]);
  vocab.push(left + right);
  for (const word of words) {
    const merged = [];
    for (let i = 0; i < word.symbols.length; i++) {
      if (i < word.symbols.length - 1 && word.symbols[i] === left && word.symbols[i + 1] === right) merged.push(left + right), i++;
      else merged.push(word.symbols[i]);
    }
    word.symbols = merged;
  }
}
const vocabSize = vocab.length;
const tokenId = new Map(vocab.map((token, id) => [token, id]));
const mergeRank = new Map(merges.map(([left, right], rank) => [left + ' ' + right, rank]));

/** Standard BPE encoding: repeatedly apply the lowest-ranked merge present in the word. */
function encodeWord(word) {
  let symbols = toSymbols(word);
  for (;;) {
    let bestRank = Infinity;
    let at = -1;
    for (let i = 0; i < symbols.length - 1; i++) {
      const rank = mergeRank.get(symbols[i] + ' ' + symbols[i + 1]);
      if (rank !== undefined && rank < bestRank) [bestRank, at] = [rank, i];
    }
    if (at < 0) return symbols.map((symbol) => tokenId.get(symbol));
    symbols = [...symbols.slice(0, at), symbols[at] + symbols[at + 1], ...symbols.slice(at + 2)];
  }
}
const encodeText = (text) => (text.match(splitPattern) ?? []).flatMap(encodeWord);

// ---- bigram counts: an assistant (or user) turn is one corpus line, then the end token ----
const counts = new Float64Array(vocabSize * vocabSize);
const documentFrequency = new Float64Array(vocabSize);
const add = (from, to) => (counts[from * vocabSize + to] += 1);
for (const line of corpus) {
  const ids = encodeText(line);
  for (const id of new Set(ids)) documentFrequency[id] += 1;
  for (const opener of [assistantId, userId]) {
    const sequence = [opener, ...ids, endId];
    for (let i = 0; i < sequence.length - 1; i++) add(sequence[i], sequence[i + 1]);
  }
  add(endId, assistantId);
  add(endId, userId);
}
// Tokens that must never be generated stay at the floor: padding and the role markers.
const neverNext = new Set([padId, 2, userId, assistantId]);
// Unigram probabilities of what can follow anything, with a tiny floor so no token is impossible.
const unigram = new Float64Array(vocabSize);
{
  let total = 0;
  for (let to = 0; to < vocabSize; to++) {
    if (neverNext.has(to)) continue;
    for (let from = 0; from < vocabSize; from++) unigram[to] += counts[from * vocabSize + to];
    unigram[to] += 1e-3;
    total += unigram[to];
  }
  for (let to = 0; to < vocabSize; to++) unigram[to] /= total;
}
const logProbBytes = new Uint8Array(vocabSize * vocabSize);
const scale = -floorLogProb / 255;
for (let from = 0; from < vocabSize; from++) {
  let rowCount = 0;
  for (let to = 0; to < vocabSize; to++) rowCount += counts[from * vocabSize + to];
  for (let to = 0; to < vocabSize; to++) {
    if (neverNext.has(to)) continue;
    const probability = (counts[from * vocabSize + to] + backoffWeight * unigram[to]) / (rowCount + backoffWeight);
    const logProb = Math.max(floorLogProb, Math.log(probability));
    logProbBytes[from * vocabSize + to] = Math.round((logProb - floorLogProb) / scale);
  }
}

// ---- embedding rows: hashed character trigrams of each token, weighted by rarity ----
function fnv1a(text) {
  let hash = 0x811c9dc5;
  for (const byte of encoder.encode(text)) hash = Math.imul(hash ^ byte, 0x01000193) >>> 0;
  return hash;
}
const embedTable = new Float32Array(vocabSize * hiddenSize);
for (let id = specials.length; id < vocabSize; id++) {
  const text = new TextDecoder().decode(Uint8Array.from(Array.from(vocab[id], (char) => charToByte.get(char)))).toLowerCase();
  const core = text.trim();
  if (core.length === 0) continue;
  const marked = (text.startsWith(' ') ? '<' : '') + core;
  const features = [`w:${core}`];
  for (let i = 0; i + 3 <= marked.length; i++) features.push(`t:${marked.slice(i, i + 3)}`);
  if (marked.length < 3) features.push(`t:${marked}`);
  const row = new Float64Array(hiddenSize);
  for (const feature of features) {
    const hash = fnv1a(feature);
    row[hash % hiddenSize] += hash & 0x80000000 ? -1 : 1;
  }
  const norm = Math.hypot(...row) || 1;
  // Frequent tokens ("the", ".") say little about a sentence's topic: weight by inverse frequency.
  const weight = Math.log((corpus.length + 1) / (documentFrequency[id] + 1)) + 1;
  for (let d = 0; d < hiddenSize; d++) embedTable[id * hiddenSize + d] = (row[d] / norm) * weight;
}

// ---- the ONNX graph (protobuf helpers in scripts/onnx-writer.mjs) ----
const graph = Buffer.concat([
  message(1, node('Gather', ['bigram_log_probs', 'input_ids'], ['gathered_bytes'], [intAttribute('axis', 0)])),
  message(1, node('Cast', ['gathered_bytes'], ['gathered_floats'], [intAttribute('to', FLOAT)])),
  message(1, node('Mul', ['gathered_floats', 'log_prob_scale'], ['scaled'])),
  message(1, node('Add', ['scaled', 'log_prob_floor'], ['logits'])),
  message(1, node('Gather', ['token_vectors', 'input_ids'], ['token_rows'], [intAttribute('axis', 0)])),
  message(1, node('Cast', ['attention_mask'], ['mask_floats'], [intAttribute('to', FLOAT)])),
  message(1, node('Unsqueeze', ['mask_floats', 'last_axis'], ['mask_column'])),
  message(1, node('Mul', ['token_rows', 'mask_column'], ['last_hidden_state'])),
  stringField(2, 'inferlane_tiny_chat'),
  message(5, tensor('bigram_log_probs', UINT8, [vocabSize, vocabSize], Buffer.from(logProbBytes.buffer))),
  message(5, tensor('log_prob_scale', FLOAT, [], floatBytes([scale]))),
  message(5, tensor('log_prob_floor', FLOAT, [], floatBytes([floorLogProb]))),
  message(5, tensor('token_vectors', FLOAT, [vocabSize, hiddenSize], Buffer.from(embedTable.buffer))),
  message(5, tensor('last_axis', INT64, [1], int64Bytes([-1]))),
  message(11, valueInfo('input_ids', INT64, ['batch_size', 'sequence_length'])),
  message(11, valueInfo('attention_mask', INT64, ['batch_size', 'sequence_length'])),
  message(12, valueInfo('logits', FLOAT, ['batch_size', 'sequence_length', vocabSize])),
  message(12, valueInfo('last_hidden_state', FLOAT, ['batch_size', 'sequence_length', hiddenSize])),
]);
const model = modelProto(graph, 'inferlane scripts/generate-model.mjs');

// ---- the JSON files transformers.js reads ----
const addedTokens = specials.map((content, id) => ({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true }));
const tokenizer = {
  version: '1.0',
  truncation: null,
  padding: null,
  added_tokens: addedTokens,
  normalizer: null,
  pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
  post_processor: null,
  decoder: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
  model: {
    type: 'BPE',
    dropout: null,
    unk_token: null,
    continuing_subword_prefix: null,
    end_of_word_suffix: null,
    fuse_unk: false,
    byte_fallback: false,
    ignore_merges: false,
    vocab: Object.fromEntries(vocab.map((token, id) => [token, id])),
    merges: merges.map(([left, right]) => `${left} ${right}`),
  },
};
const chatTemplate =
  "{% for message in messages %}{{ '<|' + message['role'] + '|>' + message['content'] + '<|end|>' }}{% endfor %}" +
  "{% if add_generation_prompt %}{{ '<|assistant|>' }}{% endif %}";
const tokenizerConfig = {
  tokenizer_class: 'PreTrainedTokenizerFast',
  model_max_length: 4096,
  eos_token: '<|end|>',
  pad_token: '<|pad|>',
  bos_token: null,
  unk_token: null,
  add_bos_token: false,
  add_eos_token: false,
  clean_up_tokenization_spaces: false,
  chat_template: chatTemplate,
  added_tokens_decoder: Object.fromEntries(addedTokens.map(({ id, ...rest }) => [String(id), rest])),
};
const config = {
  model_type: 'llama',
  architectures: ['LlamaForCausalLM'],
  vocab_size: vocabSize,
  hidden_size: hiddenSize,
  // A bigram table has no attention and no KV cache; one layer of one head keeps tools that read these fields content.
  num_hidden_layers: 1,
  num_attention_heads: 1,
  num_key_value_heads: 1,
  head_dim: hiddenSize,
  intermediate_size: hiddenSize,
  max_position_embeddings: 4096,
  eos_token_id: endId,
  pad_token_id: padId,
  bos_token_id: null,
  torch_dtype: 'float32',
  'transformers.js_config': { dtype: 'fp32' },
  inferlane: { kind: 'bigram', corpus: 'scripts/corpus.txt', embedding: 'hashed character trigrams, idf-weighted, mean pooled' },
};
const generationConfig = { eos_token_id: endId, pad_token_id: padId, max_new_tokens: 64, do_sample: false, no_repeat_ngram_size: 2 };

writeModelFiles(modelDir, {
  'config.json': config,
  'generation_config.json': generationConfig,
  'tokenizer.json': tokenizer,
  'tokenizer_config.json': tokenizerConfig,
  'onnx/model.onnx': model,
});
if (!quiet) console.log(`wrote ${modelDir}: ${vocabSize} tokens, ${merges.length} merges, model.onnx ${(model.length / 1024).toFixed(0)} KiB`);
