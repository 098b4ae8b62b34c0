/**
 * KV-aware conversations: prefix hashes, token counts, context fitting, cache affinity,
 * replica routing and device KV memory. See README.md in this folder.
 */
export { Conversation, conversationKey } from './conversation.js';
export type {
  ConversationAffinity,
  ConversationHost,
  ConversationMessage,
  ConversationRecord,
  ConversationUsage,
  SendOptions,
  UsageTotals,
} from './conversation.js';
export { validateConversation } from './options.js';
export type { ConversationOptions, Summarizer } from './options.js';
export { ReplicaBalancer } from './replicas.js';
export type { PickOptions, ReplicaBalancerOptions, ReplicaStrategy } from './replicas.js';
export { fitMessages, stableCut } from './fit.js';
export type { CountedMessage, FitMode, FitOptions, FitResult } from './fit.js';
export { blockHashes, canonicalMessage, chainHash, hash64, prefixHashes, prefixMatchScore, seedHash, sharedPrefixLength } from './hash.js';
export { cacheBreakpoints, promptCacheKey } from './breakpoints.js';
export { fitsDevice, kvBytesFor, kvBytesPerToken, maxDeviceTokens } from './kv-memory.js';
export { countMessageTokens, estimateCounter, resolveTokenCounter } from './tokens.js';
export type { TokenCounter, TokenizerOption } from './tokens.js';
