/**
 * Reads a GGUF file's metadata (header and key/value section only, never the tensors) and checks
 * it before llama.cpp sees the file: llama.cpp aborts the whole process (a failed GGML_ASSERT,
 * exit 134, which no JavaScript can catch) on some missing keys, e.g. `<arch>.feed_forward_length`
 * or `<arch>.attention.head_count`, and refuses keys of the wrong type. Synchronous on purpose:
 * the router reads a target's `kv` geometry synchronously, and a header is a few reads.
 *
 * Format: https://github.com/ggml-org/ggml/blob/master/docs/gguf.md (v2 and v3; v1 is long gone).
 *
 * Imports: node:fs only (this provider is Node-only).
 */
import { closeSync, openSync, readSync } from 'node:fs';

/** A metadata value as stored: numbers keep their GGUF type so strict checks can be made. */
export type GgufValue =
  | { type: 'u8' | 'i8' | 'u16' | 'i16' | 'u32' | 'i32' | 'f32' | 'f64'; value: number }
  | { type: 'u64' | 'i64'; value: bigint }
  | { type: 'bool'; value: boolean }
  | { type: 'string'; value: string }
  /** Arrays keep their element type and length; their elements are kept only for short arrays. */
  | { type: 'array'; elementType: string; length: number; value?: unknown[] };

export interface GgufHeader {
  version: number;
  tensorCount: bigint;
  metadata: Map<string, GgufValue>;
}

const scalarTypes = ['u8', 'i8', 'u16', 'i16', 'u32', 'i32', 'f32', 'bool', 'string', 'array', 'u64', 'i64', 'f64'] as const;
/** Arrays longer than this are skipped, not kept (a vocabulary has 100,000+ strings). */
const keptArrayLength = 64;

/** Reads the file sequentially in chunks, so a multi-gigabyte model costs only its header. */
class Reader {
  private buffer = new Uint8Array(0);
  private view = new DataView(this.buffer.buffer);
  private start = 0; // file offset of buffer[0]
  private at = 0; // position in buffer
  constructor(private readonly fd: number) {}

  private need(bytes: number): void {
    if (this.at + bytes <= this.buffer.length) return;
    const keep = this.buffer.subarray(this.at);
    const size = Math.max(bytes, 1 << 20);
    const next = new Uint8Array(keep.length + size);
    next.set(keep);
    const read = readSync(this.fd, next, keep.length, size, this.start + this.at + keep.length);
    this.start += this.at;
    this.at = 0;
    this.buffer = next.subarray(0, keep.length + read);
    this.view = new DataView(this.buffer.buffer, this.buffer.byteOffset, this.buffer.byteLength);
    if (this.buffer.length < bytes) throw new Error('the file ends inside its metadata');
  }
  u8(): number {
    this.need(1);
    return this.view.getUint8(this.at++);
  }
  number(type: string): number {
    const size = type === 'u8' || type === 'i8' ? 1 : type === 'u16' || type === 'i16' ? 2 : type === 'f64' ? 8 : 4;
    this.need(size);
    const at = this.at;
    this.at += size;
    switch (type) {
      case 'u8': return this.view.getUint8(at);
      case 'i8': return this.view.getInt8(at);
      case 'u16': return this.view.getUint16(at, true);
      case 'i16': return this.view.getInt16(at, true);
      case 'u32': return this.view.getUint32(at, true);
      case 'i32': return this.view.getInt32(at, true);
      case 'f32': return this.view.getFloat32(at, true);
      default: return this.view.getFloat64(at, true);
    }
  }
  big(signed: boolean): bigint {
    this.need(8);
    const value = signed ? this.view.getBigInt64(this.at, true) : this.view.getBigUint64(this.at, true);
    this.at += 8;
    return value;
  }
  string(): string {
    const length = Number(this.big(false));
    if (length > 1 << 26) throw new Error('a metadata string is implausibly long');
    this.need(length);
    const text = new TextDecoder().decode(this.buffer.subarray(this.at, this.at + length));
    this.at += length;
    return text;
  }
}

function typeName(id: number): (typeof scalarTypes)[number] {
  const name = scalarTypes[id];
  if (name === undefined) throw new Error(`unknown metadata value type ${id}`);
  return name;
}

function readValue(reader: Reader, type: string): GgufValue {
  if (type === 'string') return { type, value: reader.string() };
  if (type === 'bool') return { type, value: reader.u8() !== 0 };
  if (type === 'u64' || type === 'i64') return { type, value: reader.big(type === 'i64') };
  if (type === 'array') {
    const elementType = typeName(reader.number('u32'));
    const length = Number(reader.big(false));
    const kept: unknown[] | undefined = length <= keptArrayLength ? [] : undefined;
    for (let index = 0; index < length; index++) {
      const element = readValue(reader, elementType);
      kept?.push(element.value);
    }
    return { type, elementType, length, value: kept };
  }
  return { type: type as 'u32', value: reader.number(type) };
}

/** The header and every metadata key of a GGUF file. Throws when the file is not GGUF or is cut short. */
export function readGgufHeader(path: string): GgufHeader {
  const fd = openSync(path, 'r');
  try {
    const reader = new Reader(fd);
    const magic = String.fromCharCode(reader.u8(), reader.u8(), reader.u8(), reader.u8());
    if (magic !== 'GGUF') throw new Error('not a GGUF file (bad magic)');
    const version = reader.number('u32');
    if (version < 2 || version > 3) throw new Error(`GGUF version ${version} is not supported (2 or 3)`);
    const tensorCount = reader.big(false);
    const count = Number(reader.big(false));
    const metadata = new Map<string, GgufValue>();
    for (let index = 0; index < count; index++) {
      const key = reader.string();
      metadata.set(key, readValue(reader, typeName(reader.number('u32'))));
    }
    return { version, tensorCount, metadata };
  } finally {
    closeSync(fd);
  }
}

/**
 * Keys llama.cpp reads with "required" (a missing one fails the load or aborts the process), by
 * suffix after `<architecture>.`, with the type it insists on. Found against llama.cpp as shipped
 * in node-llama-cpp 3.21.1 (see scripts/generate-gguf-model.mjs).
 */
const requiredArchitectureKeys: [string, GgufValue['type'][]][] = [
  ['context_length', ['u32']],
  ['embedding_length', ['u32']],
  ['block_count', ['u32']],
  ['feed_forward_length', ['u32', 'array']],
  ['attention.head_count', ['u32', 'array']],
];

/** Every problem found, as sentences; empty when llama.cpp can be given the file. */
export function ggufProblems(header: GgufHeader): string[] {
  const problems: string[] = [];
  const metadata = header.metadata;
  const architecture = metadata.get('general.architecture');
  if (architecture?.type !== 'string') return ['general.architecture is missing'];
  const arch = architecture.value;
  for (const [suffix, types] of requiredArchitectureKeys) {
    const key = `${arch}.${suffix}`;
    const entry = metadata.get(key);
    if (!entry) problems.push(`${key} is missing`);
    else if (!types.includes(entry.type)) problems.push(`${key} is ${entry.type}, llama.cpp expects ${types.join(' or ')}`);
  }
  const epsilon = metadata.get(`${arch}.attention.layer_norm_rms_epsilon`) ?? metadata.get(`${arch}.attention.layer_norm_epsilon`);
  if (!epsilon) problems.push(`${arch}.attention.layer_norm_rms_epsilon is missing`);
  else if (epsilon.type !== 'f32') problems.push(`${arch}.attention.layer_norm_rms_epsilon is ${epsilon.type}, llama.cpp expects f32`);
  const tokenizer = metadata.get('tokenizer.ggml.model');
  if (tokenizer?.type !== 'string') problems.push('tokenizer.ggml.model is missing');
  const tokens = metadata.get('tokenizer.ggml.tokens');
  if (tokens?.type !== 'array' || tokens.elementType !== 'string') problems.push('tokenizer.ggml.tokens is missing');
  if (tokenizer?.type === 'string' && tokenizer.value === 'gpt2' && !metadata.has('tokenizer.ggml.merges')) problems.push('tokenizer.ggml.merges is missing (a gpt2 tokenizer needs it)');
  return problems;
}

const numberOf = (value: GgufValue | undefined): number | undefined => {
  if (!value) return undefined;
  if (value.type === 'array') return Array.isArray(value.value) ? Math.max(...(value.value as number[])) : undefined;
  if (typeof value.value === 'number') return value.value;
  if (typeof value.value === 'bigint') return Number(value.value);
  return undefined;
};

/** What the router needs from a model's metadata. */
export interface GgufFacts {
  architecture: string;
  name?: string;
  trainContextTokens: number;
  layers: number;
  heads: number;
  /** Key/value heads (grouped-query attention); the largest when layers differ. */
  kvHeads: number;
  /** Width of one key head. */
  headDim: number;
  embeddingLength: number;
  slidingWindow?: number;
}

/** Facts for KV geometry; call after `ggufProblems` found nothing. */
export function ggufFacts(header: GgufHeader): GgufFacts {
  const metadata = header.metadata;
  const arch = (metadata.get('general.architecture') as { value: string }).value;
  const read = (suffix: string) => numberOf(metadata.get(`${arch}.${suffix}`));
  const embeddingLength = read('embedding_length')!;
  const heads = read('attention.head_count')!;
  const name = metadata.get('general.name');
  return {
    architecture: arch,
    name: name?.type === 'string' ? name.value : undefined,
    trainContextTokens: read('context_length')!,
    layers: read('block_count')!,
    heads,
    kvHeads: read('attention.head_count_kv') ?? heads,
    headDim: read('attention.key_length') ?? Math.floor(embeddingLength / heads),
    embeddingLength,
    slidingWindow: read('attention.sliding_window'),
  };
}
