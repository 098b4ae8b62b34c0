/**
 * One Batch API input line per item, `{custom_id, method, url, body}`, with the body built by the
 * same functions the online calls use (a batch line is exactly what doGenerate or doEmbed sends).
 * Kept apart from the rest of the Batch API code because `itemBytes` must answer synchronously,
 * from the capability the target carries before any batch code has loaded.
 * Spec: BatchRequestInput, https://platform.openai.com/docs/api-reference/batch/request-input
 */
import { InvalidRequestError, type BatchItem, type BatchOperation } from '../../src/provider.js';
import { buildChatBody } from './chat-request.js';
import type { MaxTokensParameter } from './settings.js';

export const batchEndpoints: Record<BatchOperation, '/v1/chat/completions' | '/v1/embeddings'> = {
  text: '/v1/chat/completions',
  embedding: '/v1/embeddings',
};

/** The only `completion_window` the spec allows. */
export const completionWindow = '24h';

export interface LineModels {
  model: string;
  embeddingModel: string;
  maxTokensParameter: MaxTokensParameter;
}

export function batchLine(item: BatchItem, models: LineModels): string {
  const url = batchEndpoints[item.operation];
  if (!url) throw new InvalidRequestError('items[].operation', `must be 'text' or 'embedding', got '${String(item.operation)}'`);
  let body: Record<string, unknown>;
  if (item.operation === 'text') {
    if (!item.call) throw new InvalidRequestError(`items[${item.customId}].call`, 'a text item needs a call');
    body = buildChatBody(item.call, { model: models.model, maxTokensParameter: models.maxTokensParameter });
  } else {
    if (typeof item.input !== 'string') throw new InvalidRequestError(`items[${item.customId}].input`, 'an embedding item needs one input string');
    body = { model: models.embeddingModel, input: item.input, encoding_format: 'float' };
    if (item.dimensions !== undefined) body.dimensions = item.dimensions;
  }
  return JSON.stringify({ custom_id: item.customId, method: 'POST', url, body });
}

/** Refuses a window other than the spec's, naming the field it came from. */
export function checkCompletionWindow(window: string | undefined, field: string): void {
  if (window !== undefined && window !== completionWindow) {
    throw new InvalidRequestError(field, `OpenAI's Batch API takes only '${completionWindow}'; got '${String(window)}'`);
  }
}
