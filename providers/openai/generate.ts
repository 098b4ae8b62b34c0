/**
 * `doGenerate`: one chat completion, answered as JSON.
 */
import type OpenAI from 'openai';
import { ProviderError, type CallContext, type TextCall, type TextResult } from '../../src/provider.js';
import { mapChatCompletion, type WireChatCompletion } from './chat-response.js';
import type { Connection } from './connection.js';

/** Builds the request body of one call (the target's model, cache key and breakpoints applied). */
export type ChatBodyOf = (call: TextCall, ctx: CallContext) => Record<string, unknown>;

export function generateText(connection: Connection, chatBody: ChatBodyOf): (call: TextCall, ctx: CallContext) => Promise<TextResult> {
  const { target } = connection;
  return async (call, ctx) => {
    const replica = connection.replicaOf(ctx);
    const body = chatBody(call, ctx);
    let completion: WireChatCompletion;
    try {
      // The raw response, read as JSON here: openai-node's own parsing adds promise layers (and a
      // request-id property nobody reads); skipping them took 2-3% off a call to the local server.
      const response = await connection.client(replica).chat.completions.create(body as unknown as OpenAI.ChatCompletionCreateParamsNonStreaming, { signal: ctx.signal }).asResponse();
      completion = (await response.json()) as WireChatCompletion;
    } catch (error) {
      throw connection.fail(error, ctx);
    }
    const result = mapChatCompletion(completion);
    if (!result) throw new ProviderError(`${target} answered without a choice`, { target, retryable: true });
    if (connection.replicas > 1) result.replica = replica;
    return result;
  };
}
