/**
 * Normalises what a feature-extraction endpoint returns into one vector per input, in input order.
 *
 * Endpoints answer in several shapes depending on the model and whether pooling ran on the server
 * (https://huggingface.co/docs/inference-providers/tasks/feature-extraction):
 *   number[][]     one pooled vector per input (sentence-transformers, TEI)
 *   number[][][]   one vector per token per input (a bare transformer): we mean-pool the tokens
 *   number[]       one pooled vector, when a single input was sent
 *   number[][]     token vectors of a single input, when the batch dimension was dropped
 */
import { ProviderError } from '../../src/provider.js';

type Nested = number | Nested[];

/** @throws ProviderError when the shape does not match the inputs. */
export function toEmbeddingMatrix(output: unknown, inputCount: number, target: string): number[][] {
  const malformed = (why: string) =>
    new ProviderError(`${target} returned embeddings of an unexpected shape: ${why}`, { target, retryable: false });
  if (!Array.isArray(output)) throw malformed('not an array');
  const depth = depthOf(output as Nested[]);

  if (depth === 1) {
    if (inputCount !== 1) throw malformed(`one vector for ${inputCount} inputs`);
    return [output as number[]];
  }
  if (depth === 2) {
    const rows = output as number[][];
    if (rows.some((row) => row.length !== rows[0].length)) throw malformed('vectors of different widths');
    if (rows.length === inputCount) return rows.map((row) => [...row]);
    // A single input answered with its token vectors, batch dimension dropped.
    if (inputCount === 1) return [meanPool(rows, target)];
    throw malformed(`${rows.length} vectors for ${inputCount} inputs`);
  }
  if (depth === 3) {
    const batches = output as number[][][];
    if (batches.length !== inputCount) throw malformed(`${batches.length} token sequences for ${inputCount} inputs`);
    return batches.map((tokens) => meanPool(tokens, target));
  }
  throw malformed(`nesting depth ${depth}`);
}

/** The element-wise mean of token vectors (what sentence-transformers' mean pooling does without a mask). */
export function meanPool(tokens: number[][], target = 'huggingface'): number[] {
  if (tokens.length === 0) {
    throw new ProviderError(`${target} returned no token vectors for an input`, { target, retryable: false });
  }
  const width = tokens[0].length;
  const sum = new Array<number>(width).fill(0);
  for (const token of tokens) {
    if (token.length !== width) {
      throw new ProviderError(`${target} returned token vectors of different widths`, { target, retryable: false });
    }
    for (let index = 0; index < width; index++) sum[index] += token[index];
  }
  return sum.map((value) => value / tokens.length);
}

/** Depth of the first branch, checking every branch agrees; 0 for a number, -1 when ragged or empty. */
function depthOf(value: Nested[]): number {
  if (value.length === 0) return -1;
  const first = value[0];
  if (typeof first === 'number') {
    return value.every((item) => typeof item === 'number' && Number.isFinite(item)) ? 1 : -1;
  }
  if (!Array.isArray(first)) return -1;
  const inner = depthOf(first);
  if (inner < 0) return -1;
  for (const item of value) {
    if (!Array.isArray(item) || depthOf(item) !== inner) return -1;
  }
  return inner + 1;
}
