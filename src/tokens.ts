/** Characters per token for English text, roughly. */
const charsPerToken = 4;

/**
 * A cheap token estimate used where no exact tokenizer is configured: about 4 characters
 * per token for English text, never less than one token per non-empty string.
 * Exact counts come from a tokenizer the caller configures (e.g. `gpt-tokenizer`).
 */
export function estimateTokens(text: string): number {
  if (text.length === 0) return 0;
  return Math.max(1, Math.ceil(text.length / charsPerToken));
}

/** `estimateTokens` of each message's content plus its role markers, summed. */
export function estimateMessagesTokens(messages: readonly { content: string }[]): number {
  let tokens = 0;
  for (const message of messages) tokens += estimateTokens(message.content) + messageOverheadTokens;
  return tokens;
}

/** Per-message overhead in chat formats (role markers), tokens. */
export const messageOverheadTokens = 4;
