/**
 * Which llama.cpp context sequence (a slot of KV cache) holds which conversation, so turn n+1
 * of a conversation evaluates only its new tokens (DESIGN.md section 8).
 *
 * - At most `capacity` sequences live at once (the adapter derives it from the memory budget);
 *   a new conversation takes a free one, else the least recently used idle one, cleared.
 * - A kept sequence is reused only when the prefix hashes it was built from are a prefix of the
 *   new call's hashes (the conversation's chained hashes, src/conversation/hash.ts): an edited or
 *   refitted history changes a hash, and its stale cache is cleared before anything is evaluated.
 *
 * Pure bookkeeping over any `S`; the adapter supplies how to make and clear a sequence.
 * Imports: nothing.
 */

export interface SequenceLease<S> {
  sequence: S;
  /** True when the kept cache may be continued; false when it was cleared (new, evicted or stale). */
  reused: boolean;
  /** Records what the sequence now holds; call after a successful turn. */
  commit(prefixHashes: string[]): void;
  /**
   * Gives the sequence back. After a failed turn pass `failed`: the sequence is then trusted for
   * what it held before the turn (llama.cpp drops the failed turn's tokens that a later prompt
   * does not repeat), so an aborted turn does not cost the conversation its cache.
   */
  release(failed?: boolean): void;
}

interface Entry<S> {
  sequence: S;
  /** The prefix hashes of the messages last evaluated into the sequence; undefined while a turn runs. */
  hashes?: string[];
  busy: boolean;
}

export interface SequenceCacheCounters {
  /** Calls that continued a kept sequence. */
  hits: number;
  /** Calls that found no kept sequence for their conversation. */
  misses: number;
  /** Calls whose kept sequence no longer matched the history (edited or refitted). */
  stale: number;
  /** Sequences taken from the least recently used conversation. */
  evictions: number;
}

/** True when `kept` is a prefix of `next` (every kept link equal). */
export function isPrefixOf(kept: readonly string[], next: readonly string[]): boolean {
  if (kept.length > next.length) return false;
  for (let index = 0; index < kept.length; index++) if (kept[index] !== next[index]) return false;
  return true;
}

export class SequenceCache<S> {
  /** Map order is recency order: the first entry is the least recently used. */
  private readonly entries = new Map<string, Entry<S>>();
  private readonly counters: SequenceCacheCounters = { hits: 0, misses: 0, stale: 0, evictions: 0 };

  constructor(
    readonly capacity: number,
    private readonly create: () => S,
    private readonly clear: (sequence: S) => Promise<void>,
  ) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError('capacity must be a positive integer');
  }

  /**
   * A sequence for `key`. `prefixHashes` undefined: the caller does not know its history (a
   * one-off call); the sequence is then reused as it is and llama.cpp keeps only the leading
   * tokens that match. Throws when every sequence is busy (the adapter runs one turn at a time).
   */
  async acquire(key: string, prefixHashes: readonly string[] | undefined): Promise<SequenceLease<S>> {
    let entry = this.entries.get(key);
    let reused = false;
    if (entry) {
      if (entry.busy) throw new Error(`sequence for '${key}' is in use`);
      this.entries.delete(key);
      if (prefixHashes === undefined || (entry.hashes !== undefined && isPrefixOf(entry.hashes, prefixHashes))) {
        reused = true;
        this.counters.hits++;
      } else {
        this.counters.stale++;
        await this.clear(entry.sequence);
      }
    } else {
      this.counters.misses++;
      entry = { sequence: this.entries.size < this.capacity ? this.create() : await this.evict(), busy: false };
    }
    this.entries.set(key, entry);
    entry.busy = true;
    // What the sequence held before this turn: the kept hashes, or nothing for a cleared one.
    const before = reused ? entry.hashes : [];
    entry.hashes = undefined; // unknown while the turn runs
    const held = entry;
    return {
      sequence: held.sequence,
      reused,
      commit: (hashes) => (held.hashes = [...hashes]),
      release: (failed) => {
        held.busy = false;
        if (failed) held.hashes = before;
      },
    };
  }

  private async evict(): Promise<S> {
    for (const [key, entry] of this.entries) {
      if (entry.busy) continue;
      this.entries.delete(key);
      this.counters.evictions++;
      await this.clear(entry.sequence);
      return entry.sequence;
    }
    throw new Error('every sequence is in use');
  }

  /** Conversations with a kept sequence, least recently used first. */
  keys(): string[] {
    return [...this.entries.keys()];
  }

  stats(): SequenceCacheCounters & { kept: number; capacity: number } {
    return Object.assign({ kept: this.entries.size, capacity: this.capacity }, this.counters);
  }
}
