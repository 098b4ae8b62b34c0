/**
 * Pure packing: items into parts, one endpoint and model per provider batch, each part below
 * 90% of the endpoint's limits (lines, bytes, embedding inputs), and an item into the provider
 * line it becomes. Custom ids are `r<item index>`, so results match by id, never by order.
 *
 * Imports: errors.ts, target.ts (types), ./status (newPart), ./types.
 */
import { InvalidRequestError } from '../../errors.js';
import type { BatchItem, Message, Target, TextCall } from '../../target.js';
import { newPart } from './status.js';
import type { JobItem, JobOperation, PartRecord } from './types.js';

/** Fraction of a provider limit a part may fill; headroom for encoding differences. */
const limitFraction = 0.9;

export interface PackingLimits {
  items: number;
  bytes: number;
}

export function packingLimits(target: Target, mode: 'batch' | 'online', onlinePartSize: number): PackingLimits {
  if (mode === 'online') return { items: onlinePartSize, bytes: Number.MAX_SAFE_INTEGER };
  const batch = target.batch!;
  let items = Math.max(1, Math.floor(batch.maxItems * limitFraction));
  // Embedding batches are one input per line, so the inputs cap is an items cap.
  if (batch.maxEmbeddingInputs !== undefined) items = Math.min(items, Math.max(1, Math.floor(batch.maxEmbeddingInputs * limitFraction)));
  return { items, bytes: Math.max(1, Math.floor(batch.maxBytes * limitFraction)) };
}

/**
 * Cuts `count` items into parts: a new part when the items or bytes limit would be passed.
 * `sizeOf(index)` is an item's size as uploaded; an item larger than a whole part is refused
 * (InvalidRequestError naming `items[i]`).
 */
export function packParts(count: number, sizeOf: (index: number) => number, limits: PackingLimits, targetId: string): { parts: PartRecord[]; bytes: number } {
  const parts: PartRecord[] = [];
  let partStart = 0;
  let partBytes = 0;
  let totalBytes = 0;
  for (let index = 0; index < count; index++) {
    const bytes = sizeOf(index);
    if (bytes > limits.bytes) throw new InvalidRequestError(`items[${index}]`, `is ${bytes} bytes, above the ${limits.bytes}-byte limit of one ${targetId} batch`);
    if (index - partStart >= limits.items || partBytes + bytes > limits.bytes) {
      parts.push(newPart(parts.length, partStart, index, partBytes));
      partStart = index;
      partBytes = 0;
    }
    partBytes += bytes;
    totalBytes += bytes;
  }
  parts.push(newPart(parts.length, partStart, count, partBytes));
  return { parts, bytes: totalBytes };
}

export function customIdOf(index: number): string {
  return `r${index}`;
}

/** The item index a custom id names, or undefined for one that is not ours. */
export function customIdIndex(customId: string): number | undefined {
  if (customId.length < 2 || customId.charCodeAt(0) !== 114 /* r */) return undefined;
  for (let position = 1; position < customId.length; position++) {
    const code = customId.charCodeAt(position);
    if (code < 48 || code > 57) return undefined;
  }
  return Number(customId.slice(1));
}

export function toTextCall(item: JobItem): TextCall {
  const messages: Message[] = [];
  if (item.system !== undefined) messages.push({ role: 'system', content: item.system });
  if (item.messages) messages.push(...item.messages);
  else if (item.prompt !== undefined) messages.push({ role: 'user', content: item.prompt });
  const call: TextCall = { messages };
  if (item.maxOutputTokens !== undefined) call.maxOutputTokens = item.maxOutputTokens;
  if (item.temperature !== undefined) call.temperature = item.temperature;
  if (item.topP !== undefined) call.topP = item.topP;
  if (item.stop !== undefined) call.stop = item.stop;
  if (item.seed !== undefined) call.seed = item.seed;
  if (item.providerOptions !== undefined) call.providerOptions = item.providerOptions;
  return call;
}

export function toBatchItem(item: JobItem, index: number, operation: JobOperation): BatchItem {
  if (operation === 'text') return { customId: customIdOf(index), operation, call: toTextCall(item) };
  const batchItem: BatchItem = { customId: customIdOf(index), operation, input: item.input };
  if (item.dimensions !== undefined) batchItem.dimensions = item.dimensions;
  return batchItem;
}

const encoder = new TextEncoder();

/** UTF-8 bytes of the item's JSON: the size of an online item (it is never uploaded as a line). */
export function jsonBytes(value: unknown): number {
  return encoder.encode(JSON.stringify(value)).length;
}
