/**
 * Chat Completions answers read into our types, shared by doGenerate, the stream's closing parts
 * and Batch API result lines: the text (or the refusal), the finish reason, and usage with the
 * spec's details (cached and written prompt tokens, reasoning tokens, the service tier).
 */
import { finishReasonOf, type TextResult, type Usage } from '../../src/provider.js';

/** The subset of a chat completion's `usage` (JSON or the last SSE chunk) we read. */
export interface WireUsage {
  prompt_tokens?: number;
  completion_tokens?: number;
  total_tokens?: number;
  prompt_tokens_details?: { cached_tokens?: number; cache_write_tokens?: number } | null;
  completion_tokens_details?: { reasoning_tokens?: number } | null;
  /** Anthropic-compatible servers report cache writes here. */
  cache_creation_input_tokens?: number;
}

export interface WireChatCompletion {
  model?: string;
  choices?: { message?: { content?: string | null; refusal?: string | null }; finish_reason?: string | null }[];
  usage?: WireUsage | null;
  service_tier?: string | null;
  error?: unknown;
}

/** Usage in our words; `serviceTier` is the answer's `service_tier` (it sits beside `usage` on the wire). */
export function mapUsage(usage: WireUsage | null | undefined, serviceTier?: string | null): Usage | undefined {
  if (!usage) return typeof serviceTier === 'string' ? { serviceTier } : undefined;
  const result: Usage = {};
  if (typeof usage.prompt_tokens === 'number') result.inputTokens = usage.prompt_tokens;
  if (typeof usage.completion_tokens === 'number') result.outputTokens = usage.completion_tokens;
  const prompt = usage.prompt_tokens_details;
  if (prompt) {
    if (typeof prompt.cached_tokens === 'number') result.cachedInputTokens = prompt.cached_tokens;
    if (typeof prompt.cache_write_tokens === 'number') result.cacheWriteTokens = prompt.cache_write_tokens;
  }
  if (result.cacheWriteTokens === undefined && typeof usage.cache_creation_input_tokens === 'number') result.cacheWriteTokens = usage.cache_creation_input_tokens;
  const reasoning = usage.completion_tokens_details?.reasoning_tokens;
  if (typeof reasoning === 'number') result.reasoningTokens = reasoning;
  if (typeof usage.total_tokens === 'number') result.totalTokens = usage.total_tokens;
  else if (result.inputTokens !== undefined && result.outputTokens !== undefined) {
    result.totalTokens = result.inputTokens + result.outputTokens;
  }
  if (typeof serviceTier === 'string') result.serviceTier = serviceTier;
  return result;
}

/**
 * The first choice as a TextResult, or undefined when the completion has none (the caller raises
 * a typed error). A refusal (`message.refusal`, content null) is the text, with finish reason
 * 'refusal', so a caller can tell "the model declined" from an answer.
 */
export function mapChatCompletion(completion: WireChatCompletion): TextResult | undefined {
  const choice = completion.choices?.[0];
  if (!choice) return undefined;
  const message = choice.message;
  const refusal = message?.refusal;
  const refused = typeof refusal === 'string' && refusal !== '' && !message?.content;
  const result: TextResult = {
    text: refused ? refusal : (message?.content ?? ''),
    finishReason: refused ? 'refusal' : finishReasonOf(choice.finish_reason),
  };
  const usage = mapUsage(completion.usage, completion.service_tier);
  if (usage) result.usage = usage;
  if (completion.model) result.modelId = completion.model;
  return result;
}
