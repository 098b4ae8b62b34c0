import type { KeyValueStore, SetOptions, StoreEntry } from './store.js';

interface Slot {
  entry?: StoreEntry;
  list?: string[];
  expiresAt?: number;
}

export interface MemoryStoreOptions {
  /** Clock for TTLs, ms since epoch. @default Date.now */
  now?: () => number;
}

/**
 * The default store: a Map in this process. Expired keys are dropped lazily on read,
 * so no timer keeps a serverless process alive.
 */
export function memoryStore(options: MemoryStoreOptions = {}): KeyValueStore {
  const now = options.now ?? Date.now;
  const slots = new Map<string, Slot>();

  const live = (key: string): Slot | undefined => {
    const slot = slots.get(key);
    if (slot?.expiresAt !== undefined && slot.expiresAt <= now()) {
      slots.delete(key);
      return undefined;
    }
    return slot;
  };
  const write = (key: string, value: string, version: number, setOptions?: SetOptions): number => {
    slots.set(key, { entry: { value, version }, expiresAt: setOptions?.ttlMs === undefined ? undefined : now() + setOptions.ttlMs });
    return version;
  };

  return {
    async get(key) {
      const entry = live(key)?.entry;
      return entry && { ...entry };
    },
    async set(key, value, setOptions) {
      return write(key, value, (live(key)?.entry?.version ?? 0) + 1, setOptions);
    },
    async compareAndSet(key, expectedVersion, value, setOptions) {
      const current = live(key)?.entry?.version ?? null;
      if (current !== expectedVersion) return undefined;
      return write(key, value, (current ?? 0) + 1, setOptions);
    },
    async delete(key) {
      slots.delete(key);
    },
    async append(key, values) {
      const slot = live(key) ?? {};
      slot.list = [...(slot.list ?? []), ...values];
      slots.set(key, slot);
      return slot.list.length;
    },
    async range(key, start, end) {
      return (live(key)?.list ?? []).slice(start, end);
    },
    async list(prefix) {
      return [...slots.keys()].filter((key) => key.startsWith(prefix) && live(key)).sort();
    },
  };
}
