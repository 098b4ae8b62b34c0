/**
 * Chat Completions request bodies and response mapping, shared by the online calls
 * and the Batch API lines (one builder, so a batch line is exactly what doGenerate sends).
 */
import { finishReasonOf, type TextCall, type TextResult, type Usage } from '../../src/target.js';

export type MaxTokensParameter = 'max_tokens' | 'max_completion_tokens';

export interface ChatBodyOptions {
  model: string;
  maxTokensParameter: MaxTokensParameter;
  promptCacheKey?: string;
  /** Message indexes that carry an ephemeral cache marker (Anthropic-style servers). */
  cacheBreakpoints?: number[];
}

/** Wire shape of one chat message; content becomes parts only when it carries a cache marker. */
type WireContent = string | { type: 'text'; text: string; cache_control?: { type: 'ephemeral' } }[];

export function buildChatBody(call: TextCall, options: ChatBodyOptions): Record<string, unknown> {
  const breakpoints = options.cacheBreakpoints;
  const messages = call.messages.map((message, index) => {
    const content: WireContent = breakpoints !== undefined && breakpoints.includes(index)
      ? [{ type: 'text', text: message.content, cache_control: { type: 'ephemeral' } }]
      : message.content;
    const wire: Record<string, unknown> = { role: message.role, content };
    if (message.name !== undefined) wire.name = message.name;
    return wire;
  });

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

/** The subset of a chat completion (JSON or one SSE chunk) we read. */
export interface WireUsage {
  prompt_tokens?: number;
  completion_tokens?: number;
  total_tokens?: number;
  prompt_tokens_details?: { cached_tokens?: number } | null;
  /** Anthropic-compatible servers report cache writes here. */
  cache_creation_input_tokens?: number;
}

export function mapUsage(usage: WireUsage | null | undefined): Usage | undefined {
  if (!usage) return undefined;
  const result: Usage = {};
  if (typeof usage.prompt_tokens === 'number') result.inputTokens = usage.prompt_tokens;
  if (typeof usage.completion_tokens === 'number') result.outputTokens = usage.completion_tokens;
  const cached = usage.prompt_tokens_details?.cached_tokens;
  if (typeof cached === 'number') result.cachedInputTokens = cached;
  if (typeof usage.cache_creation_input_tokens === 'number') result.cacheWriteTokens = usage.cache_creation_input_tokens;
  if (typeof usage.total_tokens === 'number') result.totalTokens = usage.total_tokens;
  else if (result.inputTokens !== undefined && result.outputTokens !== undefined) {
    result.totalTokens = result.inputTokens + result.outputTokens;
  }
  return result;
}

export interface WireChatCompletion {
  model?: string;
  choices?: { message?: { content?: string | null; refusal?: string | null }; finish_reason?: string | null }[];
  usage?: WireUsage | null;
}

/** Returns undefined when the completion has no choice (the caller raises a typed error). */
export function mapChatCompletion(completion: WireChatCompletion): TextResult | undefined {
  const choice = completion.choices?.[0];
  if (!choice) return undefined;
  const result: TextResult = {
    text: choice.message?.content ?? choice.message?.refusal ?? '',
    finishReason: finishReasonOf(choice.finish_reason),
  };
  const usage = mapUsage(completion.usage);
  if (usage) result.usage = usage;
  if (completion.model) result.modelId = completion.model;
  return result;
}
