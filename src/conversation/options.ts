/**
 * What `client.conversation(id, options)` takes, and its check: made when the handle is made,
 * before any turn is paid for.
 *
 * Imports: errors, target and stores/store (types), validation primitives, this folder's types.
 */
import { InvalidRequestError } from '../errors.js';
import type { KeyValueStore } from '../stores/store.js';
import type { Message } from '../target.js';
import { describe, isObject, nonNegativeNumber, validateStore } from '../validation/checks.js';
import type { FitMode } from './fit.js';
import type { TokenizerOption } from './tokens.js';

/** Writes the summary of turns dropped by context fitting (`fit: 'summarize'`). */
export type Summarizer = (dropped: Message[], info: { conversationId: string; cut: number }) => Promise<string> | string;

export interface ConversationOptions {
  /** The system message, used when the conversation is created (a stored one wins). */
  system?: string;
  /** Where the record lives. @default the client's store */
  store?: KeyValueStore;
  /** Token counting; its name seeds the prefix hashes. @default 'estimate' */
  tokenizer?: TokenizerOption;
  /** What to do when the history outgrows a target's window. @default 'drop-oldest' */
  fit?: FitMode;
  /** Required by `fit: 'summarize'`; without it the dropped turns go unsummarised. */
  summarize?: Summarizer;
  /** Tokens kept free for the answer when fitting, tokens. @default maxOutputTokens, else 1,024 (at most a quarter of the window) */
  reserveOutputTokens?: number;
  /** Idle time after which the store drops the record, ms. @default forever */
  ttlMs?: number;
  /** Compare-and-set attempts before a write fails with `StoreError`. @default 32 */
  maxWriteAttempts?: number;
}

/** `client.conversation(id, options)`: the id and every option, each error naming its field. */
export function validateConversation(id: unknown, options: ConversationOptions): void {
  if (typeof id !== 'string' || id.length === 0) throw new InvalidRequestError('id', `a conversation id is a non-empty string; got ${describe(id)}`);
  if (!isObject(options)) throw new InvalidRequestError('options', 'must be an object');
  if (options.system !== undefined && typeof options.system !== 'string') throw new InvalidRequestError('system', `must be a string; got ${describe(options.system)}`);
  validateStore(options.store, 'store');
  const tokenizer: unknown = options.tokenizer;
  if (tokenizer !== undefined && tokenizer !== 'estimate' && tokenizer !== 'gpt-tokenizer' && typeof tokenizer !== 'function' && !(isObject(tokenizer) && typeof tokenizer.count === 'function' && typeof tokenizer.name === 'string')) {
    throw new InvalidRequestError('tokenizer', `expected 'estimate', 'gpt-tokenizer', a function or { name, count }; got ${describe(tokenizer)}`);
  }
  if (options.fit !== undefined && options.fit !== 'drop-oldest' && options.fit !== 'error' && options.fit !== 'summarize') {
    throw new InvalidRequestError('fit', `expected 'drop-oldest', 'error' or 'summarize'; got ${describe(options.fit)}`);
  }
  if (options.summarize !== undefined && typeof options.summarize !== 'function') throw new InvalidRequestError('summarize', 'must be a function');
  nonNegativeNumber(options.reserveOutputTokens, 'reserveOutputTokens', { integer: true });
  nonNegativeNumber(options.ttlMs, 'ttlMs', { positive: true });
  nonNegativeNumber(options.maxWriteAttempts, 'maxWriteAttempts', { integer: true, positive: true });
}
