/**
 * Context fitting (DESIGN.md section 8). When a history outgrows a target's context window, the
 * oldest turns are dropped in BLOCKS: enough in one go to get back to about half the window, so
 * the kept prefix (and the provider's prompt cache of it) stays identical for many turns,
 * instead of sliding by one turn each time and missing the cache on every call.
 *
 * The cut is a pure function of the history: it replays the history's growth message by message
 * and moves only when the window overflows. Every instance, every retry and every target with
 * the same window computes the same cut without shared state.
 *
 * Imports: errors.ts, target.ts (types).
 */
import { ContextOverflowError } from '../errors.js';
import type { Message } from '../target.js';

export type FitMode = 'drop-oldest' | 'error' | 'summarize';

/** A message with its token count. */
export interface CountedMessage extends Message {
  tokens: number;
}

export interface FitOptions {
  /** The target's context window, tokens. Undefined: no limit, nothing is dropped. */
  contextTokens: number | undefined;
  /** Tokens kept free for the answer. @default 1024 (capped at a quarter of the window) */
  reserveOutputTokens?: number;
  /** @default 'drop-oldest' */
  mode?: FitMode;
  /** After an overflow, the share of the usable window the kept turns may fill. @default 0.55 */
  lowWater?: number;
  /** Tokens set aside for a summary in `'summarize'` mode. @default 512 */
  summaryTokens?: number;
  /**
   * `'summarize'` mode: the summary of the first `cut` non-system messages, when one has been
   * computed (see `Conversation`). Undefined: the turns are dropped without a summary.
   */
  summaryFor?(cut: number): CountedMessage | undefined;
}

export interface FitResult {
  /** The messages to send: system, optional summary, then the kept turns. */
  messages: CountedMessage[];
  /** Non-system messages dropped from the front (0 when everything fits). */
  cut: number;
  /** Tokens of `messages`. */
  tokens: number;
  /** True when a summary message stands in for the dropped turns. */
  summarized: boolean;
}

export const defaultReserveOutputTokens = 1024;
export const defaultLowWater = 0.55;
export const defaultSummaryTokens = 512;

const sum = (messages: readonly CountedMessage[]): number => messages.reduce((total, message) => total + message.tokens, 0);

/** Splits a leading system message from the turns. */
function splitSystem(messages: readonly CountedMessage[]): { system?: CountedMessage; body: readonly CountedMessage[] } {
  return messages[0]?.role === 'system' ? { system: messages[0], body: messages.slice(1) } : { body: messages };
}

/** Output tokens reserved for a window: the caller's value, else 1,024 capped at a quarter of the window. */
export function reservedOutput(contextTokens: number, reserveOutputTokens?: number): number {
  return reserveOutputTokens ?? Math.min(defaultReserveOutputTokens, Math.floor(contextTokens / 4));
}

/**
 * The stable cut: how many leading non-system messages to drop so the rest fits `budget`.
 * Replays the growth of the history; the cut moves only on overflow, then by a block, and
 * always lands on a user message so turns stay whole. Returns -1 when even the newest message
 * alone does not fit.
 */
export function stableCut(body: readonly CountedMessage[], budget: number, lowWater = defaultLowWater): number {
  let cut = 0;
  let kept = 0;
  for (let end = 0; end < body.length; end++) {
    kept += body[end].tokens;
    if (kept <= budget) continue;
    const target = Math.floor(budget * lowWater);
    while (cut < end && kept > target) kept -= body[cut++].tokens;
    while (cut < end && body[cut].role !== 'user') kept -= body[cut++].tokens;
    if (kept > budget && end === body.length - 1) return -1;
  }
  return cut;
}

/** Fits a history to a context window; see the module comment. */
export function fitMessages(messages: readonly CountedMessage[], options: FitOptions): FitResult {
  const total = sum(messages);
  const { contextTokens } = options;
  if (contextTokens === undefined) return { messages: [...messages], cut: 0, tokens: total, summarized: false };
  const mode = options.mode ?? 'drop-oldest';
  const window = contextTokens - reservedOutput(contextTokens, options.reserveOutputTokens);
  if (total <= window) return { messages: [...messages], cut: 0, tokens: total, summarized: false };
  if (mode === 'error') throw new ContextOverflowError(total, window);

  const { system, body } = splitSystem(messages);
  const summaryTokens = mode === 'summarize' ? (options.summaryTokens ?? defaultSummaryTokens) : 0;
  const budget = window - (system?.tokens ?? 0) - summaryTokens;
  const cut = budget > 0 ? stableCut(body, budget, options.lowWater) : -1;
  if (cut < 0) throw new ContextOverflowError(total, window);

  const kept = body.slice(cut);
  const summary = mode === 'summarize' && cut > 0 ? options.summaryFor?.(cut) : undefined;
  const usable = summary && summary.tokens <= summaryTokens ? summary : undefined;
  const fitted = [...(system ? [system] : []), ...(usable ? [usable] : []), ...kept];
  return { messages: fitted, cut, tokens: sum(fitted), summarized: usable !== undefined };
}
