/**
 * A minimal protobuf writer for the few ONNX messages the model generators need (ModelProto,
 * GraphProto, NodeProto, TensorProto, ValueInfoProto, AttributeProto), following
 * https://github.com/onnx/onnx/blob/main/onnx/onnx.proto. Plain Node ESM, no dependencies.
 * Shared by scripts/generate-model.mjs and scripts/generate-asr-model.mjs, with the command line
 * and file writing they have in common.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The command line every generator takes: [--if-missing] [--out <models folder>] [--quiet].
 * Exits at once under --if-missing when every one of `files` is there.
 */
export function modelFolder(scriptUrl, name, files) {
  const args = process.argv.slice(2);
  const outIndex = args.indexOf('--out');
  const root = outIndex >= 0 ? args[outIndex + 1] : join(dirname(fileURLToPath(scriptUrl)), '..', 'models');
  const dir = join(root, name);
  if (args.includes('--if-missing') && files.every((file) => existsSync(join(dir, file)))) process.exit(0);
  return { dir, quiet: args.includes('--quiet') };
}

/** Writes a model folder: objects as indented JSON, bytes as they are. */
export function writeModelFiles(dir, contents) {
  for (const [file, value] of Object.entries(contents)) {
    mkdirSync(dirname(join(dir, file)), { recursive: true });
    writeFileSync(join(dir, file), value instanceof Uint8Array ? value : JSON.stringify(value, null, 2) + '\n');
  }
}

/** TensorProto.DataType values used here. */
export const FLOAT = 1;
export const UINT8 = 2;
export const INT64 = 7;

export const varint = (value) => {
  const out = [];
  let v = BigInt(value);
  do {
    let byte = Number(v & 0x7fn);
    v >>= 7n;
    if (v > 0n) byte |= 0x80;
    out.push(byte);
  } while (v > 0n);
  return Buffer.from(out);
};
const key = (field, wireType) => varint((field << 3) | wireType);
export const intField = (field, value) => Buffer.concat([key(field, 0), varint(value)]);
export const bytesField = (field, bytes) => Buffer.concat([key(field, 2), varint(bytes.length), bytes]);
export const stringField = (field, text) => bytesField(field, Buffer.from(text, 'utf8'));
export const message = (field, ...parts) => bytesField(field, Buffer.concat(parts));

/** A TensorProto holding `raw` (little-endian bytes) as an initializer named `name`. */
export const tensor = (name, dataType, dims, raw) =>
  Buffer.concat([...dims.map((dim) => intField(1, dim)), intField(2, dataType), stringField(8, name), bytesField(9, raw)]);
/** A ValueInfoProto: a tensor type with fixed (number) or symbolic (string) dimensions. */
export const valueInfo = (name, elemType, dims) =>
  Buffer.concat([
    stringField(1, name),
    message(2, message(1, intField(1, elemType), message(2, ...dims.map((dim) => (typeof dim === 'number' ? message(1, intField(1, dim)) : message(1, stringField(2, dim))))))),
  ]);
/** AttributeProto of type INT (2). */
export const intAttribute = (name, value) => Buffer.concat([stringField(1, name), intField(3, value), intField(20, 2)]);
/** AttributeProto of type INTS (7), written unpacked (parsers accept both forms). */
export const intsAttribute = (name, values) => Buffer.concat([stringField(1, name), ...values.map((value) => intField(8, value)), intField(20, 7)]);
export const node = (opType, inputs, outputs, attributes = []) =>
  Buffer.concat([
    ...inputs.map((input) => stringField(1, input)),
    ...outputs.map((output) => stringField(2, output)),
    stringField(3, `${opType}_${outputs[0]}`),
    stringField(4, opType),
    ...attributes.map((attribute) => message(5, attribute)),
  ]);
export const floatBytes = (values) => Buffer.from(Float32Array.from(values).buffer);
export const int64Bytes = (values) => Buffer.from(BigInt64Array.from(values.map(BigInt)).buffer);

/** A ModelProto around one graph: IR version 8 goes with opset 17. */
export const modelProto = (graph, producer) =>
  Buffer.concat([intField(1, 8), stringField(2, producer), stringField(3, '1'), message(7, graph), message(8, stringField(1, ''), intField(2, 17))]);
