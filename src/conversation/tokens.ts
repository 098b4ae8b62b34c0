/**
 * Token counting for conversations: the cheap estimate of src/tokens.ts by default, an exact
 * tokenizer when configured. `gpt-tokenizer` is imported lazily (an optional dependency), so
 * the core stays small where it is not used.
 *
 * Imports: tokens.ts, errors.ts, target.ts (types).
 */
import { InvalidRequestError } from '../errors.js';
import type { Message } from '../target.js';
import { estimateTokens, messageOverheadTokens } from '../tokens.js';

/** A named token counter. The name seeds prefix hashes: token boundaries depend on it. */
export interface TokenCounter {
  name: string;
  count(text: string): number;
}

/**
 * `'estimate'`: about 4 characters a token; `'gpt-tokenizer'`: exact counts for OpenAI models
 * (o200k_base); a function or a `TokenCounter` for anything else.
 */
export type TokenizerOption = 'estimate' | 'gpt-tokenizer' | ((text: string) => number) | TokenCounter;

export const estimateCounter: TokenCounter = { name: 'estimate', count: estimateTokens };

let gptTokenizerCounter: Promise<TokenCounter> | undefined;

async function loadGptTokenizer(): Promise<TokenCounter> {
  // The specifier sits in a variable so bundlers do not pull the vocabulary into the core.
  const specifier = 'gpt-tokenizer';
  const module = (await import(/* @vite-ignore */ specifier)) as { countTokens(text: string): number };
  return { name: 'gpt-tokenizer/o200k_base', count: (text) => (text.length === 0 ? 0 : module.countTokens(text)) };
}

/** Resolves a tokenizer option to a counter (loading `gpt-tokenizer` on first use). */
export async function resolveTokenCounter(option: TokenizerOption | undefined): Promise<TokenCounter> {
  if (option === undefined || option === 'estimate') return estimateCounter;
  if (option === 'gpt-tokenizer') {
    gptTokenizerCounter ??= loadGptTokenizer().catch((error: unknown) => {
      gptTokenizerCounter = undefined;
      throw new InvalidRequestError('tokenizer', `'gpt-tokenizer' could not be loaded; install it or pass a function (${error instanceof Error ? error.message : String(error)})`);
    });
    return gptTokenizerCounter;
  }
  if (typeof option === 'function') return { name: option.name ? `function:${option.name}` : 'function', count: option };
  if (typeof option === 'object' && typeof option.count === 'function') return option;
  throw new InvalidRequestError('tokenizer', "expected 'estimate', 'gpt-tokenizer', a function or { name, count }");
}

/** Tokens one chat message takes, role markers included. */
export function countMessageTokens(counter: TokenCounter, message: Pick<Message, 'content' | 'name'>): number {
  return counter.count(message.content) + (message.name ? counter.count(message.name) : 0) + messageOverheadTokens;
}
