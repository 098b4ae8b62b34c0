#!/usr/bin/env node
/**
 * Writes `models/inferlane-tiny-gguf/model.gguf`: a tiny llama.cpp model for the llama.cpp
 * target (providers/llamacpp), in GGUF v3, written byte by byte by this script.
 *
 * What it is: a byte-level bigram language model dressed as a 2-layer llama. Each token's
 * embedding is a one-hot vector; attention and feed-forward layers run for real (their query,
 * key, value, gate and up weights are seeded noise, so llama.cpp evaluates and caches real keys
 * and values) but write zeros into the residual stream (`attn_output` and `ffn_down` are zero),
 * so after the final RMS norm the hidden state is still the one-hot vector of the current token
 * and `output.weight` holds log P(next | current), counted on scripts/corpus.txt (prose the
 * project wrote). Its answers are English-looking letter soup; what matters is that llama.cpp
 * really loads it, tokenizes, evaluates, caches, samples and embeds with it. Mean pooling makes
 * its embedding a byte histogram of the text.
 *
 * GGUF v3 layout (little-endian; https://github.com/ggml-org/ggml/blob/master/docs/gguf.md):
 *   header: magic "GGUF", version u32 = 3, tensor count u64, metadata count u64;
 *   metadata: key (u64 length + UTF-8), value type u32, value (strings: u64 length + bytes;
 *             arrays: element type u32, count u64, elements);
 *   tensor infos: name, dimension count u32, dimensions u64 (fastest first), type u32,
 *                 offset u64 from the start of the data section (a multiple of the alignment);
 *   padding to `general.alignment` (32), then every tensor's data, each padded to 32 bytes.
 *
 * Metadata llama.cpp needs for architecture `llama` with a `gpt2` (byte-level BPE) tokenizer,
 * found by trying: `general.architecture`; `llama.context_length`, `llama.embedding_length`,
 * `llama.block_count`, `llama.feed_forward_length`, `llama.attention.head_count` (all u32);
 * `llama.attention.layer_norm_rms_epsilon` (f32); `tokenizer.ggml.model`, `tokenizer.ggml.tokens`
 * and `tokenizer.ggml.merges` (string arrays; merges may be empty). Types are strict: a u32 key
 * written as i32 is refused. A missing `feed_forward_length` or `head_count` is not an error
 * but a failed assertion that aborts the whole process, which is why providers/llamacpp checks
 * these keys before it hands a file to llama.cpp. Optional keys written here:
 * `llama.attention.head_count_kv` (grouped-query attention: 2 KV heads for 4 query heads, so the
 * KV geometry the adapter reads differs from the query heads), `llama.rope.dimension_count`,
 * `llama.vocab_size`, `llama.pooling_type` (1 = mean, for embeddings), `general.name`,
 * `general.file_type` (7 = mostly Q8_0), `general.alignment`, `tokenizer.ggml.pre`,
 * `tokenizer.ggml.token_type`, the BOS/EOS ids and `tokenizer.ggml.add_bos_token`.
 *
 * Tensors (names as llama.cpp looks them up; shapes fastest dimension first):
 *   token_embd.weight [embd, vocab] Q8_0; output_norm.weight [embd] F32;
 *   output.weight [embd, vocab] Q8_0 (optional in llama.cpp: without it the embeddings are tied);
 *   per layer N: blk.N.attn_norm.weight [embd] F32, blk.N.attn_q.weight [embd, embd],
 *   blk.N.attn_k.weight and blk.N.attn_v.weight [embd, kvHeads x headDim],
 *   blk.N.attn_output.weight [embd, embd], blk.N.ffn_norm.weight [embd] F32,
 *   blk.N.ffn_gate.weight and blk.N.ffn_up.weight [embd, ff], blk.N.ffn_down.weight [ff, embd],
 *   the matrices in Q8_0 (blocks of 32 values: an f16 scale, then 32 int8), so llama.cpp runs a
 *   quantized model as it would a real Q8_0 download.
 *
 * Plain Node ESM, no dependencies, no network, deterministic: the same bytes on every run.
 * Usage: node scripts/generate-gguf-model.mjs [--if-missing] [--out <models folder>] [--quiet]
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { modelFolder, writeModelFiles } from './onnx-writer.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const modelName = 'inferlane-tiny-gguf';
const fileName = 'model.gguf';
const { dir: modelDir, quiet } = modelFolder(import.meta.url, modelName, [fileName]);

// ---- sizes ----
/** 256 byte tokens, then the two control tokens. */
const bosId = 256;
const eosId = 257;
const vocabSize = 258;
/** One-hot room for every token, rounded up to the Q8_0 block (32) and to 4 heads of an even width. */
const embd = 320;
const heads = 4;
const kvHeads = 2;
const headDim = embd / heads;
const ff = 256;
const layers = 2;
const contextLength = 4096;
const rmsEpsilon = 1e-5;
/** Log-probabilities below this are clamped (bytes the corpus never shows). */
const floorLogProb = -20;

// ---- the GPT-2 byte alphabet: printable bytes keep their character, the rest move above 255 ----
const byteToChar = new Array(256);
{
  let extra = 0;
  for (let byte = 0; byte < 256; byte++) {
    const printable = (byte >= 33 && byte <= 126) || (byte >= 161 && byte <= 172) || (byte >= 174 && byte <= 255);
    byteToChar[byte] = String.fromCharCode(printable ? byte : 256 + extra++);
  }
}
const tokens = [...byteToChar, '<s>', '</s>'];
// llama.cpp token types: 1 normal, 3 control.
const tokenTypes = tokens.map((_, id) => (id >= 256 ? 3 : 1));

// ---- bigram log-probabilities over bytes, one corpus line per document: BOS, bytes, EOS ----
const corpus = readFileSync(join(here, 'corpus.txt'), 'utf8')
  .split('\n')
  .map((line) => line.trim())
  .filter((line) => line.length > 0);
const encoder = new TextEncoder();
const counts = new Float64Array(vocabSize * vocabSize);
for (const line of corpus) {
  const sequence = [bosId, ...encoder.encode(line), eosId];
  for (let i = 0; i < sequence.length - 1; i++) counts[sequence[i] * vocabSize + sequence[i + 1]] += 1;
}
// After the end token a new document starts: it predicts what BOS predicts.
for (let next = 0; next < vocabSize; next++) counts[eosId * vocabSize + next] = counts[bosId * vocabSize + next];
const unigram = new Float64Array(vocabSize);
{
  let total = 0;
  for (let next = 0; next < vocabSize; next++) {
    if (next === bosId) continue; // never generated
    for (let current = 0; current < vocabSize; current++) unigram[next] += counts[current * vocabSize + next];
    total += unigram[next];
  }
  for (let next = 0; next < vocabSize; next++) unigram[next] /= total;
}
/** logProb[current][next], interpolated with the unigram (one pseudo-count) so nothing seen is impossible. */
const logProb = (current, next) => {
  if (next === bosId || unigram[next] === 0) return floorLogProb;
  let rowTotal = 0;
  for (let other = 0; other < vocabSize; other++) rowTotal += counts[current * vocabSize + other];
  const p = (counts[current * vocabSize + next] + unigram[next]) / (rowTotal + 1);
  return Math.max(floorLogProb, Math.log(p));
};

// ---- seeded noise (mulberry32) for the weights whose values do not reach the output ----
let state = 0x1f2e3d4c;
const random = () => {
  state = (state + 0x6d2b79f5) | 0;
  let t = Math.imul(state ^ (state >>> 15), 1 | state);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
};
const noise = (count, amplitude) => Float32Array.from({ length: count }, () => (random() * 2 - 1) * amplitude);

// ---- tensors (row-major: `rows` rows of `width` values, width = the fastest GGUF dimension) ----
const tensors = [];
const addTensor = (name, width, rows, values, type) => tensors.push({ name, dims: rows === 1 ? [width] : [width, rows], values, type });
const F32 = 0;
const Q8_0 = 8;

const embedding = new Float32Array(vocabSize * embd);
for (let id = 0; id < vocabSize; id++) embedding[id * embd + id] = 1;
addTensor('token_embd.weight', embd, vocabSize, embedding, Q8_0);
// A one-hot row has RMS 1/sqrt(embd); the final norm scales it to sqrt(embd): undo that.
addTensor('output_norm.weight', embd, 1, new Float32Array(embd).fill(1 / Math.sqrt(embd)), F32);
const output = new Float32Array(vocabSize * embd);
for (let next = 0; next < vocabSize; next++) for (let current = 0; current < vocabSize; current++) output[next * embd + current] = logProb(current, next);
addTensor('output.weight', embd, vocabSize, output, Q8_0);
for (let layer = 0; layer < layers; layer++) {
  const prefix = `blk.${layer}.`;
  addTensor(`${prefix}attn_norm.weight`, embd, 1, new Float32Array(embd).fill(1), F32);
  addTensor(`${prefix}attn_q.weight`, embd, embd, noise(embd * embd, 0.1), Q8_0);
  addTensor(`${prefix}attn_k.weight`, embd, kvHeads * headDim, noise(embd * kvHeads * headDim, 0.1), Q8_0);
  addTensor(`${prefix}attn_v.weight`, embd, kvHeads * headDim, noise(embd * kvHeads * headDim, 0.1), Q8_0);
  addTensor(`${prefix}attn_output.weight`, embd, embd, new Float32Array(embd * embd), Q8_0);
  addTensor(`${prefix}ffn_norm.weight`, embd, 1, new Float32Array(embd).fill(1), F32);
  addTensor(`${prefix}ffn_gate.weight`, embd, ff, noise(embd * ff, 0.1), Q8_0);
  addTensor(`${prefix}ffn_up.weight`, embd, ff, noise(embd * ff, 0.1), Q8_0);
  addTensor(`${prefix}ffn_down.weight`, ff, embd, new Float32Array(ff * embd), Q8_0);
}

// ---- metadata: [key, type, value]; type names follow the GGUF spec ----
const metadata = [
  ['general.architecture', 'string', 'llama'],
  ['general.name', 'string', modelName],
  ['general.file_type', 'u32', 7],
  ['general.alignment', 'u32', 32],
  ['llama.context_length', 'u32', contextLength],
  ['llama.embedding_length', 'u32', embd],
  ['llama.block_count', 'u32', layers],
  ['llama.feed_forward_length', 'u32', ff],
  ['llama.attention.head_count', 'u32', heads],
  ['llama.attention.head_count_kv', 'u32', kvHeads],
  ['llama.attention.layer_norm_rms_epsilon', 'f32', rmsEpsilon],
  ['llama.rope.dimension_count', 'u32', headDim],
  ['llama.vocab_size', 'u32', vocabSize],
  ['llama.pooling_type', 'u32', 1],
  ['tokenizer.ggml.model', 'string', 'gpt2'],
  ['tokenizer.ggml.pre', 'string', 'gpt-2'],
  ['tokenizer.ggml.tokens', 'string[]', tokens],
  ['tokenizer.ggml.token_type', 'i32[]', tokenTypes],
  ['tokenizer.ggml.merges', 'string[]', []],
  ['tokenizer.ggml.bos_token_id', 'u32', bosId],
  ['tokenizer.ggml.eos_token_id', 'u32', eosId],
  ['tokenizer.ggml.add_bos_token', 'bool', true],
];

// ---- the writer ----
const typeIds = { u32: 4, i32: 5, f32: 6, bool: 7, string: 8, array: 9, u64: 10 };
const chunks = [];
let length = 0;
const push = (bytes) => (chunks.push(bytes), (length += bytes.length));
const u32 = (value) => {
  const bytes = new Uint8Array(4);
  new DataView(bytes.buffer).setUint32(0, value, true);
  push(bytes);
};
const i32 = (value) => {
  const bytes = new Uint8Array(4);
  new DataView(bytes.buffer).setInt32(0, value, true);
  push(bytes);
};
const u64 = (value) => {
  const bytes = new Uint8Array(8);
  new DataView(bytes.buffer).setBigUint64(0, BigInt(value), true);
  push(bytes);
};
const f32 = (value) => {
  const bytes = new Uint8Array(4);
  new DataView(bytes.buffer).setFloat32(0, value, true);
  push(bytes);
};
const string = (value) => {
  const bytes = encoder.encode(value);
  u64(bytes.length);
  push(bytes);
};
const pad = () => {
  const extra = (32 - (length % 32)) % 32;
  if (extra > 0) push(new Uint8Array(extra));
};

/** IEEE half from a float, round to nearest even (the scale of a Q8_0 block). */
function toHalf(value) {
  const view = new DataView(new ArrayBuffer(4));
  view.setFloat32(0, value);
  const bits = view.getUint32(0);
  const sign = (bits >>> 16) & 0x8000;
  const exponent = ((bits >>> 23) & 0xff) - 127 + 15;
  let mantissa = bits & 0x7fffff;
  if (exponent <= 0) {
    if (exponent < -10) return sign;
    mantissa |= 0x800000;
    const shift = 14 - exponent;
    const half = mantissa >>> shift;
    const rest = mantissa & ((1 << shift) - 1);
    const midpoint = 1 << (shift - 1);
    return sign | (half + (rest > midpoint || (rest === midpoint && half & 1) ? 1 : 0));
  }
  if (exponent >= 31) return sign | 0x7c00;
  const half = (exponent << 10) | (mantissa >>> 13);
  const rest = mantissa & 0x1fff;
  return sign | (half + (rest > 0x1000 || (rest === 0x1000 && half & 1) ? 1 : 0));
}
function fromHalf(half) {
  const exponent = (half >>> 10) & 0x1f;
  const mantissa = half & 0x3ff;
  const value = exponent === 0 ? mantissa * 2 ** -24 : (1 + mantissa / 1024) * 2 ** (exponent - 15);
  return half & 0x8000 ? -value : value;
}

/** ggml's Q8_0: per 32 values, d = max|x| / 127 as f16, then round(x / d) as int8. */
function quantizeQ8(values) {
  const blocks = values.length / 32;
  const bytes = new Uint8Array(blocks * 34);
  const view = new DataView(bytes.buffer);
  for (let block = 0; block < blocks; block++) {
    let max = 0;
    for (let i = 0; i < 32; i++) max = Math.max(max, Math.abs(values[block * 32 + i]));
    const scaleHalf = toHalf(max / 127);
    const scale = fromHalf(scaleHalf);
    view.setUint16(block * 34, scaleHalf, true);
    for (let i = 0; i < 32; i++) view.setInt8(block * 34 + 2 + i, scale === 0 ? 0 : Math.max(-127, Math.min(127, Math.round(values[block * 32 + i] / scale))));
  }
  return bytes;
}
const tensorBytes = (tensor) => (tensor.type === Q8_0 ? quantizeQ8(tensor.values) : new Uint8Array(tensor.values.buffer.slice(0)));

push(encoder.encode('GGUF'));
u32(3);
u64(tensors.length);
u64(metadata.length);
for (const [key, type, value] of metadata) {
  string(key);
  if (type.endsWith('[]')) {
    const element = type.slice(0, -2);
    u32(typeIds.array);
    u32(typeIds[element]);
    u64(value.length);
    for (const item of value) element === 'string' ? string(item) : i32(item);
    continue;
  }
  u32(typeIds[type]);
  if (type === 'string') string(value);
  else if (type === 'u32') u32(value);
  else if (type === 'f32') f32(value);
  else if (type === 'bool') push(Uint8Array.of(value ? 1 : 0));
}
const data = tensors.map(tensorBytes);
let offset = 0;
tensors.forEach((tensor, index) => {
  string(tensor.name);
  u32(tensor.dims.length);
  for (const dim of tensor.dims) u64(dim);
  u32(tensor.type);
  u64(offset);
  offset += Math.ceil(data[index].length / 32) * 32;
});
pad();
for (const bytes of data) {
  push(bytes);
  pad();
}

const file = new Uint8Array(length);
let at = 0;
for (const chunk of chunks) file.set(chunk, at), (at += chunk.length);
writeModelFiles(modelDir, { [fileName]: file });
if (!quiet) console.log(`wrote ${join(modelDir, fileName)} (${file.length} bytes, ${tensors.length} tensors, vocabulary ${vocabSize}, ${layers} layers)`);
