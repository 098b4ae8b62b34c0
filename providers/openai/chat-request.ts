/**
 * Chat Completions request bodies, shared by the online calls and the Batch API lines (one
 * builder, so a batch line is exactly what doGenerate sends). The call's fields are checked
 * against OpenAI's spec (CreateChatCompletionRequest) before anything is sent: a request the API
 * would refuse fails here with an InvalidRequestError naming the field, without a round trip.
 * `providerOptions.openai` is passed through untouched, unchecked: it is the escape hatch (a
 * compatible server that takes more than the spec allows).
 */
import { InvalidRequestError, type Message, type TextCall } from '../../src/provider.js';
import type { MaxTokensParameter } from './settings.js';

export interface ChatBodyOptions {
  model: string;
  maxTokensParameter: MaxTokensParameter;
  promptCacheKey?: string;
  /** Message indexes that carry an ephemeral cache marker (Anthropic-style servers). */
  cacheBreakpoints?: number[];
}

/** Wire shape of one chat message's content; it becomes parts only when it carries a cache marker. */
type WireContent = string | { type: 'text'; text: string; cache_control?: { type: 'ephemeral' } }[];

/** OpenAI's limits on the sampling fields (spec: `temperature` 0..2, `stop` up to 4 sequences). */
const maxTemperature = 2;
const maxStopSequences = 4;

export function buildChatBody(call: TextCall, options: ChatBodyOptions): Record<string, unknown> {
  checkCall(call);
  const breakpoints = options.cacheBreakpoints;
  const source = call.messages;
  const messages: Record<string, unknown>[] = new Array(source.length);
  for (let index = 0; index < source.length; index++) messages[index] = wireMessage(source[index], breakpoints !== undefined && breakpoints.includes(index));

  const body: Record<string, unknown> = { model: options.model, messages };
  if (call.maxOutputTokens !== undefined) body[options.maxTokensParameter] = call.maxOutputTokens;
  if (call.temperature !== undefined) body.temperature = call.temperature;
  if (call.topP !== undefined) body.top_p = call.topP;
  if (call.stop !== undefined && call.stop.length > 0) body.stop = call.stop;
  if (call.seed !== undefined) body.seed = call.seed;
  if (options.promptCacheKey !== undefined) body.prompt_cache_key = options.promptCacheKey;
  // Caller-chosen provider options win over ours: they are the escape hatch.
  const own = call.providerOptions?.openai;
  if (own !== undefined) Object.assign(body, own);
  return body;
}

/**
 * One message as the wire carries it: the one place messages are mapped, so new message kinds
 * (tool calls and tool results, images) grow here.
 */
function wireMessage(message: Message, breakpoint: boolean): Record<string, unknown> {
  const content: WireContent = breakpoint ? [{ type: 'text', text: message.content, cache_control: { type: 'ephemeral' } }] : message.content;
  const wire: Record<string, unknown> = { role: message.role, content };
  if (message.name !== undefined) wire.name = message.name;
  return wire;
}

/** The spec's bounds the client's own validation does not know (they are OpenAI's, not every provider's). */
function checkCall(call: TextCall): void {
  if (call.temperature !== undefined && !(call.temperature >= 0 && call.temperature <= maxTemperature)) {
    throw new InvalidRequestError('temperature', `OpenAI takes a temperature from 0 to ${maxTemperature}; got ${call.temperature}`);
  }
  if (call.stop !== undefined && call.stop.length > maxStopSequences) {
    throw new InvalidRequestError('stop', `OpenAI takes at most ${maxStopSequences} stop sequences; got ${call.stop.length}`);
  }
}
