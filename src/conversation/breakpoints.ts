/**
 * Prompt-cache hints for adapters (DESIGN.md sections 8 and 14).
 *
 * Breakpoints (Anthropic-style providers): at most 4 per request, each caching the prefix that
 * ends at it; a prefix shorter than the provider's minimum is never cached, so a breakpoint
 * there only wastes one of the four. We mark the end of the system message (shared by every
 * turn), the end of the previous turn (what this call can read), and the end of this request
 * (what the next turn will read).
 *
 * Prompt cache key (OpenAI `prompt_cache_key`): stable for a conversation's prefix so the
 * provider routes every turn to the machine holding it.
 *
 * Imports: hash.ts, fit.ts (types).
 */
import type { CountedMessage } from './fit.js';
import { hash64 } from './hash.js';

/** Providers take at most this many breakpoints per request. */
export const maxBreakpoints = 4;

/** Below this prefix length nothing is cached. */
export const defaultCacheMinTokens = 1024;

/**
 * Message indexes after which a cache breakpoint belongs, ascending, for the messages as sent.
 * Skips prefixes shorter than `minTokens`.
 */
export function cacheBreakpoints(messages: readonly CountedMessage[], minTokens = defaultCacheMinTokens): number[] {
  if (messages.length === 0) return [];
  const candidates = new Set<number>();
  if (messages[0].role === 'system') candidates.add(0);
  // The end of the previous turn: the last assistant message before the newest user message.
  for (let index = messages.length - 2; index >= 0; index--) {
    if (messages[index].role === 'assistant') {
      candidates.add(index);
      break;
    }
  }
  candidates.add(messages.length - 1);

  const prefixTokens: number[] = [];
  let running = 0;
  for (const message of messages) prefixTokens.push((running += message.tokens));
  const kept = [...candidates].sort((left, right) => left - right).filter((index) => prefixTokens[index] >= minTokens);
  // Too many: keep the longest prefixes, which cache the most.
  return kept.slice(Math.max(0, kept.length - maxBreakpoints));
}

/**
 * `il-` + 64-bit hash of the system message and the conversation's root id. Forks keep the root,
 * so they share the key and the cache of their common prefix.
 */
export function promptCacheKey(system: string | undefined, rootId: string): string {
  return `il-${hash64(`${system ?? ''}\u0000${rootId}`)}`;
}
