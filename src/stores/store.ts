/**
 * The one store contract (DESIGN.md section 9). Conversations and jobs persist through it;
 * nothing else does. Values are strings (callers serialise JSON), so every backend stores
 * them the same way.
 *
 * Implementations: memory (default, src/stores/memory.ts), Redis (inferlane/stores/redis),
 * IndexedDB (inferlane/stores/indexeddb).
 *
 * Imports: nothing of the core but errors.
 */

export interface StoreEntry {
  value: string;
  /** Increments on every write; compare-and-set compares it. */
  version: number;
}

export interface SetOptions {
  /** Time to live, ms. Omit to keep forever. */
  ttlMs?: number;
}

export interface KeyValueStore {
  get(key: string): Promise<StoreEntry | undefined>;
  /** Unconditional write. Returns the new version. */
  set(key: string, value: string, options?: SetOptions): Promise<number>;
  /**
   * Writes only when the current version equals `expectedVersion` (`null`: only when the key
   * does not exist). Returns the new version, or `undefined` when another writer won.
   */
  compareAndSet(key: string, expectedVersion: number | null, value: string, options?: SetOptions): Promise<number | undefined>;
  delete(key: string): Promise<void>;
  /** Appends to a list; returns the list's new length. Atomic per call. */
  append(key: string, values: string[]): Promise<number>;
  /** Reads list items [start, end) (end omitted: to the end). */
  range(key: string, start: number, end?: number): Promise<string[]>;
  /** Keys that start with `prefix` (values and lists alike), in lexical order. */
  list(prefix: string): Promise<string[]>;
  /** Releases connections. */
  close?(): Promise<void>;
}
