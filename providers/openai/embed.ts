/**
 * `doEmbed`: every input of a call in one `/embeddings` request (the micro-batcher sized the
 * batch), vectors put back in input order by `index`. Floats are asked for (openai-node asks for
 * base64 by default, which many compatible servers lack); a server that answers base64 anyway
 * (or a caller who asked for it through providerOptions) is decoded.
 */
import type OpenAI from 'openai';
import { InvalidRequestError, ProviderError, type CallContext, type EmbedCall, type EmbedResult } from '../../src/provider.js';
import { mapUsage, type WireUsage } from './chat-response.js';
import type { Connection } from './connection.js';

interface WireEmbeddings {
  data?: { embedding: number[] | string; index: number }[];
  usage?: WireUsage;
}

export function embed(connection: Connection, model: string): (call: EmbedCall, ctx: CallContext) => Promise<EmbedResult> {
  const { target } = connection;
  return async (call, ctx) => {
    const replica = connection.replicaOf(ctx);
    if (!Array.isArray(call.inputs) || call.inputs.length === 0) throw new InvalidRequestError('inputs', 'needs at least one string');
    const body: Record<string, unknown> = { model, input: call.inputs, encoding_format: 'float' };
    if (call.dimensions !== undefined) body.dimensions = call.dimensions;
    Object.assign(body, call.providerOptions?.openai ?? {});
    let response: WireEmbeddings;
    try {
      // Read as JSON here, as for chat: with floats asked for, openai-node's parsing adds nothing but promise layers.
      const raw = await connection.client(replica).embeddings.create(body as unknown as OpenAI.EmbeddingCreateParams, { signal: ctx.signal }).asResponse();
      response = (await raw.json()) as WireEmbeddings;
    } catch (error) {
      throw connection.fail(error, ctx);
    }
    const data = response.data ?? [];
    if (data.length !== call.inputs.length) {
      throw new ProviderError(`${target} returned ${data.length} embeddings for ${call.inputs.length} inputs`, { target, retryable: false });
    }
    // The API documents `index`; order in the array is not a promise we rely on.
    const embeddings: number[][] = new Array(call.inputs.length);
    for (const entry of data) {
      const vector = embeddingVector(entry.embedding);
      if (!vector || !Number.isInteger(entry.index) || entry.index < 0 || entry.index >= embeddings.length || embeddings[entry.index]) {
        throw new ProviderError(`${target} returned an embedding list that does not match the inputs`, { target, retryable: false });
      }
      embeddings[entry.index] = vector;
    }
    const result: EmbedResult = { embeddings };
    const usage = mapUsage(response.usage);
    if (usage) result.usage = usage;
    return result;
  };
}

/**
 * A vector as the wire carries it: floats, or base64 of little-endian float32s (the spec's
 * `encoding_format: 'base64'`). Undefined when it is neither.
 */
export function embeddingVector(embedding: unknown): number[] | undefined {
  if (Array.isArray(embedding)) return embedding as number[];
  if (typeof embedding !== 'string') return undefined;
  let binary: string;
  try {
    binary = atob(embedding);
  } catch {
    return undefined;
  }
  if (binary.length % 4 !== 0) return undefined;
  const bytes = new Uint8Array(binary.length);
  for (let index = 0; index < binary.length; index++) bytes[index] = binary.charCodeAt(index);
  const view = new DataView(bytes.buffer);
  const vector = new Array<number>(bytes.length / 4);
  for (let index = 0; index < vector.length; index++) vector[index] = view.getFloat32(index * 4, true);
  return vector;
}
