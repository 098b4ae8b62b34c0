/**
 * Prefix hashing for prompt-cache affinity (DESIGN.md sections 8 and 14).
 *
 * A small pure 64-bit hash (two 32-bit multiply-xorshift lanes, in the spirit of cyrb53, widened
 * to 64 bits) so the core runs in browsers and edge runtimes without Node `crypto`, and
 * synchronously, which `prepare()` needs. Not a cryptographic hash: it keys caches, it does
 * not protect anything.
 *
 * Imports: target.ts (types only).
 */
import type { Message } from '../target.js';

/** Characters per block when long messages are hashed in blocks (about 16 tokens of English). */
export const defaultBlockChars = 64;

const hex32 = (value: number): string => (value >>> 0).toString(16).padStart(8, '0');

/**
 * 64-bit hash of a string as 16 hex characters. `seed` selects an independent hash family.
 * Works on UTF-16 code units so every runtime gives the same answer.
 */
export function hash64(text: string, seed = 0): string {
  let lane1 = 0xdeadbeef ^ seed;
  let lane2 = 0x41c6ce57 ^ seed;
  for (let index = 0; index < text.length; index++) {
    const code = text.charCodeAt(index);
    lane1 = Math.imul(lane1 ^ code, 2654435761);
    lane2 = Math.imul(lane2 ^ code, 1597334677);
  }
  // Length is mixed in so strings of NULs of different lengths differ.
  lane1 ^= text.length;
  lane1 = Math.imul(lane1 ^ (lane1 >>> 16), 2246822507);
  lane1 ^= Math.imul(lane2 ^ (lane2 >>> 13), 3266489909);
  lane2 = Math.imul(lane2 ^ (lane2 >>> 16), 2246822507);
  lane2 ^= Math.imul(lane1 ^ (lane1 >>> 13), 3266489909);
  return hex32(lane2) + hex32(lane1);
}

/**
 * Canonical form of a message: only `role`, `content` and `name` (no ids, no timestamps), keys
 * sorted, JSON-escaped, so the same message always serialises to the same string.
 */
export function canonicalMessage(message: Pick<Message, 'role' | 'content' | 'name'>): string {
  const canonical: Record<string, string> = {};
  canonical.content = message.content;
  if (message.name !== undefined) canonical.name = message.name;
  canonical.role = message.role;
  return JSON.stringify(canonical);
}

export interface HashSeed {
  /** The target the prefix is cached on; '' for a target-agnostic chain. @default '' */
  target?: string;
  /** The tokenizer's name: token boundaries differ between tokenizers. @default 'estimate' */
  tokenizer?: string;
}

/** The chain's starting value for a (target, tokenizer) pair. */
export function seedHash(seed: HashSeed = {}): string {
  return hash64(`inferlane/prefix/v1\u0000${seed.target ?? ''}\u0000${seed.tokenizer ?? 'estimate'}`);
}

/** One link: h_i = H(h_{i-1} || canon(m_i)). */
export function chainHash(previous: string, message: Pick<Message, 'role' | 'content' | 'name'>): string {
  return hash64(`${previous}\u0000${canonicalMessage(message)}`);
}

/**
 * Chained prefix hashes, one per message boundary: `result[i]` identifies messages[0..i].
 * Equal histories give equal hashes; an edit to message k changes every hash from k on.
 */
export function prefixHashes(messages: readonly Pick<Message, 'role' | 'content' | 'name'>[], seed: HashSeed = {}): string[] {
  const hashes: string[] = [];
  let previous = seedHash(seed);
  for (const message of messages) {
    previous = chainHash(previous, message);
    hashes.push(previous);
  }
  return hashes;
}

/**
 * Chained hashes of a text's fixed-size blocks, so two long messages that share a beginning can
 * be scored by how many blocks they share. A trailing partial block is hashed too.
 */
export function blockHashes(text: string, blockChars = defaultBlockChars, seed = ''): string[] {
  if (!Number.isInteger(blockChars) || blockChars <= 0) throw new RangeError('blockChars must be a positive integer');
  const hashes: string[] = [];
  let previous = hash64(`inferlane/block/v1\u0000${seed}`);
  for (let start = 0; start < text.length; start += blockChars) {
    previous = hash64(`${previous}\u0000${text.slice(start, start + blockChars)}`);
    hashes.push(previous);
  }
  return hashes;
}

/** How many leading hashes two chains share (the longest common prefix, in links). */
export function sharedPrefixLength(left: readonly string[], right: readonly string[]): number {
  const length = Math.min(left.length, right.length);
  let index = 0;
  while (index < length && left[index] === right[index]) index++;
  return index;
}

/**
 * How much of `candidate`'s history a cache holding `cached` can serve, 0..1 by characters:
 * whole shared messages, then the shared blocks of the first message that differs.
 */
export function prefixMatchScore(
  cached: readonly Pick<Message, 'role' | 'content' | 'name'>[],
  candidate: readonly Pick<Message, 'role' | 'content' | 'name'>[],
  blockChars = defaultBlockChars,
): number {
  const total = candidate.reduce((sum, message) => sum + canonicalMessage(message).length, 0);
  if (total === 0) return 0;
  const shared = sharedPrefixLength(prefixHashes(cached), prefixHashes(candidate));
  let matched = 0;
  for (let index = 0; index < shared; index++) matched += canonicalMessage(candidate[index]).length;
  const cachedNext = cached[shared];
  const candidateNext = candidate[shared];
  if (cachedNext && candidateNext && cachedNext.role === candidateNext.role && cachedNext.name === candidateNext.name) {
    const blocks = sharedPrefixLength(blockHashes(cachedNext.content, blockChars), blockHashes(candidateNext.content, blockChars));
    // A trailing partial block matches only when the whole text matches, so count full blocks.
    matched += Math.min(blocks * blockChars, candidateNext.content.length, cachedNext.content.length);
  }
  return Math.min(1, matched / total);
}
