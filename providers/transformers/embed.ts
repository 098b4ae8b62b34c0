/**
 * `doEmbed` on the device: every input in one forward pass (the micro-batcher already grouped
 * callers), mean-pooled over the unmasked positions and scaled to unit length, so cosine
 * similarity is a dot product.
 */
import { abortedCallError, InvalidRequestError, toInferlaneError, type CallContext, type EmbedCall, type EmbedResult } from '../../src/provider.js';
import { rowsOf } from './generate.js';
import type { TensorLike } from './library.js';
import type { Session } from './session.js';

export function embedWith(session: Session): (call: EmbedCall, ctx: CallContext) => Promise<EmbedResult> {
  const { id } = session;
  return async (call, ctx) => {
    if (!Array.isArray(call.inputs) || call.inputs.length === 0) throw new InvalidRequestError('input', 'at least one input is required');
    call.inputs.forEach((input, index) => {
      if (typeof input !== 'string') throw new InvalidRequestError(`input[${index}]`, 'must be a string');
    });
    session.throwIfAborted(ctx.signal);
    const { tokenizer, model: instance } = await session.withProgress(session.progressTo(ctx), () => session.loadTask('embedding'));
    session.throwIfAborted(ctx.signal);
    try {
      tokenizer.padding_side = 'right';
      const inputs = tokenizer(call.inputs, { padding: true, truncation: true });
      const outputs = await instance(inputs);
      session.throwIfAborted(ctx.signal);
      const hidden = outputs.last_hidden_state ?? outputs.logits;
      const embeddings = meanPoolNormalised(hidden, inputs.attention_mask);
      const inputTokens = rowsOf(inputs.attention_mask).reduce((sum, row) => sum + row.reduce((s: number, v) => s + Number(v), 0), 0);
      return { embeddings: call.dimensions ? embeddings.map((vector) => renormalise(vector.slice(0, call.dimensions))) : embeddings, usage: { inputTokens, totalTokens: inputTokens } };
    } catch (error) {
      if (ctx.signal.aborted) throw abortedCallError(id, ctx.signal);
      throw toInferlaneError(error, id);
    }
  };
}

/** Mean over the unmasked positions, then unit length. */
function meanPoolNormalised(hidden: TensorLike, mask: TensorLike): number[][] {
  const [batch, length, width] = hidden.dims;
  const values = hidden.data as ArrayLike<number>;
  const maskValues = mask.data;
  const out: number[][] = [];
  for (let row = 0; row < batch; row++) {
    const sum = new Array<number>(width).fill(0);
    let count = 0;
    for (let position = 0; position < length; position++) {
      if (Number(maskValues[row * length + position]) === 0) continue;
      count++;
      const offset = (row * length + position) * width;
      for (let d = 0; d < width; d++) sum[d] += values[offset + d];
    }
    out.push(renormalise(sum.map((value) => value / Math.max(1, count))));
  }
  return out;
}

function renormalise(vector: number[]): number[] {
  const norm = Math.hypot(...vector);
  return norm === 0 ? vector : vector.map((value) => value / norm);
}
