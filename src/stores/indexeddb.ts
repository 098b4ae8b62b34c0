/**
 * `inferlane/stores/indexeddb`: the KeyValueStore contract (src/stores/store.ts) on the
 * browser's IndexedDB, so conversations and jobs survive a reload. Each operation is one
 * IndexedDB transaction; read-write transactions over the same object store never overlap
 * (https://w3c.github.io/IndexedDB/#transaction-scheduling), which makes compare-and-set and
 * append atomic, across tabs too. Values and lists live in two object stores, as in Redis,
 * so a value and a list under one key do not disturb each other.
 *
 * TTLs: expired values read as absent and are deleted by the next write that meets them; no
 * timer runs.
 *
 * Imports: errors.ts, stores/store.ts.
 */
import { StoreError } from '../errors.js';
import type { KeyValueStore, SetOptions, StoreEntry } from './store.js';

export interface IndexedDbStoreOptions {
  /** Database name; stores with different names are independent. @default 'inferlane' */
  name?: string;
  /** The IndexedDB factory (another window's, or a polyfill). @default globalThis.indexedDB */
  indexedDB?: IDBFactory;
  /** Clock for TTLs, ms since epoch. @default Date.now */
  now?: () => number;
  /**
   * Commit durability of write transactions: `'strict'` waits for the disk, `'relaxed'` for the
   * OS (atomicity and ordering are the same; only a power loss can undo a relaxed commit).
   * @default 'relaxed'
   */
  durability?: 'strict' | 'relaxed' | 'default';
}

interface ValueRecord {
  value: string;
  version: number;
  /** ms since epoch */
  expiresAt?: number;
}

const valuesStore = 'values';
const listsStore = 'lists';
const schemaVersion = 1;
/** Calls per group commit, so one transaction never holds a huge batch in memory. */
const maxGroup = 500;

function requestResult<T>(request: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

function ttlOf(options?: SetOptions): number | undefined {
  if (options?.ttlMs === undefined) return undefined;
  if (!Number.isFinite(options.ttlMs) || options.ttlMs <= 0) throw new StoreError('invalid ttlMs: must be a positive number of milliseconds', { retryable: false });
  return options.ttlMs;
}

/** A KeyValueStore on IndexedDB. The database opens on the first call. */
export function indexedDbStore(options: IndexedDbStoreOptions = {}): KeyValueStore {
  const name = options.name ?? 'inferlane';
  const now = options.now ?? Date.now;
  let opening: Promise<IDBDatabase> | undefined;

  const open = (): Promise<IDBDatabase> => {
    opening ??= new Promise<IDBDatabase>((resolve, reject) => {
      const factory = options.indexedDB ?? (globalThis as { indexedDB?: IDBFactory }).indexedDB;
      if (!factory) {
        reject(new StoreError('IndexedDB is not available in this runtime; use memoryStore() or redisStore()', { retryable: false }));
        return;
      }
      const request = factory.open(name, schemaVersion);
      request.onupgradeneeded = () => {
        const db = request.result;
        if (!db.objectStoreNames.contains(valuesStore)) db.createObjectStore(valuesStore);
        if (!db.objectStoreNames.contains(listsStore)) db.createObjectStore(listsStore);
      };
      request.onsuccess = () => {
        const db = request.result;
        // Another tab upgrading the schema: let it, and reopen on our next call.
        db.onversionchange = () => {
          db.close();
          opening = undefined;
        };
        resolve(db);
      };
      request.onerror = () => reject(new StoreError(`opening IndexedDB database '${name}' failed`, { cause: request.error }));
      request.onblocked = () => reject(new StoreError(`opening IndexedDB database '${name}' is blocked by another tab`));
    }).catch((error: unknown) => {
      opening = undefined;
      throw error;
    });
    return opening;
  };

  // Group commit: calls queue in order and each drain runs every waiting call, in call order,
  // inside ONE transaction over both object stores. Within a group, the keys the calls read are
  // fetched together, the calls are applied in order on an in-memory overlay, and the writes go
  // out together: a few IndexedDB round trips per group instead of two per call. The effects
  // equal one transaction per call run in turn (IndexedDB serialises them anyway), other tabs
  // see each group atomically, and Chromium commits a group of hundreds about as fast as one
  // call (thousands of separate transactions were measured at several ms each).
  type StoreName = typeof valuesStore | typeof listsStore;
  interface View {
    read<T>(store: StoreName, key: string): T | undefined;
    write(store: StoreName, key: string, value: unknown): void;
  }
  interface Call {
    operation: string;
    writes: boolean;
    /** Keys to fetch before `apply`; `list` calls scan instead. */
    reads: [StoreName, string][];
    apply?(view: View): unknown;
    scan?(transaction: IDBTransaction): Promise<unknown>;
    resolve(value: unknown): void;
    reject(error: unknown): void;
  }
  const waiting: Call[] = [];
  let draining = false;

  const enqueue = <T>(call: Omit<Call, 'resolve' | 'reject'>): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      waiting.push({ ...call, resolve: resolve as (value: unknown) => void, reject });
      if (!draining) void drain();
    });

  const drain = async (): Promise<void> => {
    draining = true;
    try {
      while (waiting.length > 0) await runGroup(waiting.splice(0, maxGroup));
    } finally {
      draining = false;
    }
  };

  const runGroup = async (group: Call[]): Promise<void> => {
    const operation = group.length === 1 ? group[0].operation : `${group[0].operation} (+${group.length - 1} grouped)`;
    const fail = (error: unknown) => {
      const failure = storeErrorFrom(error, operation);
      for (const call of group) call.reject(failure);
    };
    let transaction: IDBTransaction;
    try {
      const db = await open();
      const mode: IDBTransactionMode = group.some((call) => call.writes) ? 'readwrite' : 'readonly';
      transaction = db.transaction([valuesStore, listsStore], mode, { durability: options.durability ?? 'relaxed' });
    } catch (error) {
      fail(error);
      return;
    }
    const committed = new Promise<void>((resolve, reject) => {
      transaction.oncomplete = () => resolve();
      transaction.onabort = () => reject(transaction.error ?? new Error('transaction aborted'));
    });
    const results: unknown[] = [];
    const overlay = new Map<string, unknown>();
    const slot = (store: StoreName, key: string) => `${store}\u0000${key}`;
    const view: View = {
      read: <T>(store: StoreName, key: string) => overlay.get(slot(store, key)) as T | undefined,
      write: (store, key, value) => {
        overlay.set(slot(store, key), value);
        const objectStore = transaction.objectStore(store);
        // Issued now, in call order; IndexedDB runs a transaction's requests in order.
        writes.push(value === undefined ? requestResult(objectStore.delete(key)) : requestResult(objectStore.put(value, key)));
      },
    };
    const writes: Promise<unknown>[] = [];
    try {
      let index = 0;
      while (index < group.length) {
        if (group[index].scan) {
          results.push(await group[index].scan!(transaction));
          index++;
          continue;
        }
        // A run of key calls: fetch every key not yet in the overlay at once, then apply in order.
        let end = index;
        while (end < group.length && !group[end].scan) end++;
        const fetch = new Map<string, [StoreName, string]>();
        for (let position = index; position < end; position++)
          for (const [store, key] of group[position].reads) if (!overlay.has(slot(store, key))) fetch.set(slot(store, key), [store, key]);
        const fetched = await Promise.all([...fetch.values()].map(([store, key]) => requestResult(transaction.objectStore(store).get(key))));
        [...fetch.keys()].forEach((name, position) => overlay.set(name, fetched[position]));
        for (let position = index; position < end; position++) results.push(group[position].apply!(view));
        index = end;
      }
      await Promise.all(writes);
      await committed;
    } catch (error) {
      committed.catch(() => undefined);
      try {
        transaction.abort();
      } catch {
        // already finished
      }
      fail(error);
      return;
    }
    group.forEach((call, position) => call.resolve(results[position]));
  };

  const live = (record: ValueRecord | undefined): ValueRecord | undefined =>
    record && (record.expiresAt === undefined || record.expiresAt > now()) ? record : undefined;

  const writeValue = (view: View, key: string, value: string, version: number, ttlMs: number | undefined): number => {
    const record: ValueRecord = { value, version };
    if (ttlMs !== undefined) record.expiresAt = now() + ttlMs;
    view.write(valuesStore, key, record);
    return version;
  };

  return {
    get(key) {
      return enqueue({
        operation: 'get',
        writes: false,
        reads: [[valuesStore, key]],
        apply: (view) => {
          const record = live(view.read<ValueRecord>(valuesStore, key));
          return record && ({ value: record.value, version: record.version } satisfies StoreEntry);
        },
      });
    },
    async set(key, value, setOptions) {
      const ttlMs = ttlOf(setOptions);
      return enqueue({
        operation: 'set',
        writes: true,
        reads: [[valuesStore, key]],
        apply: (view) => writeValue(view, key, value, (live(view.read<ValueRecord>(valuesStore, key))?.version ?? 0) + 1, ttlMs),
      });
    },
    async compareAndSet(key, expectedVersion, value, setOptions) {
      const ttlMs = ttlOf(setOptions);
      return enqueue({
        operation: 'compareAndSet',
        writes: true,
        reads: [[valuesStore, key]],
        apply: (view) => {
          const current = live(view.read<ValueRecord>(valuesStore, key));
          if ((current?.version ?? null) !== expectedVersion) return undefined;
          return writeValue(view, key, value, (current?.version ?? 0) + 1, ttlMs);
        },
      });
    },
    async delete(key) {
      await enqueue({
        operation: 'delete',
        writes: true,
        reads: [],
        apply: (view) => {
          view.write(valuesStore, key, undefined);
          view.write(listsStore, key, undefined);
        },
      });
    },
    append(key, values) {
      return enqueue({
        operation: 'append',
        writes: values.length > 0,
        reads: [[listsStore, key]],
        apply: (view) => {
          const current = view.read<string[]>(listsStore, key) ?? [];
          if (values.length === 0) return current.length;
          const next = current.concat(values);
          view.write(listsStore, key, next);
          return next.length;
        },
      });
    },
    range(key, start, end) {
      return enqueue({
        operation: 'range',
        writes: false,
        reads: [[listsStore, key]],
        apply: (view) => (view.read<string[]>(listsStore, key) ?? []).slice(start, end),
      });
    },
    list(prefix) {
      return enqueue({
        operation: 'list',
        writes: false,
        reads: [],
        scan: async (transaction) => {
          const keys = new Set<string>();
          // Walk from the prefix up and stop at the first key without it: keys sort by code unit.
          const scanStore = (storeName: StoreName, keep: (cursor: IDBCursorWithValue) => boolean) =>
            new Promise<void>((resolve, reject) => {
              const request = transaction.objectStore(storeName).openCursor(IDBKeyRange.lowerBound(prefix));
              request.onerror = () => reject(request.error);
              request.onsuccess = () => {
                const cursor = request.result;
                if (!cursor || typeof cursor.key !== 'string' || !cursor.key.startsWith(prefix)) return resolve();
                if (keep(cursor)) keys.add(cursor.key);
                cursor.continue();
              };
            });
          await Promise.all([scanStore(valuesStore, (cursor) => live(cursor.value as ValueRecord) !== undefined), scanStore(listsStore, () => true)]);
          return [...keys].sort((left, right) => (left < right ? -1 : left > right ? 1 : 0));
        },
      });
    },
    async close() {
      const pending = opening;
      opening = undefined;
      if (pending) (await pending.catch(() => undefined))?.close();
    },
  };
}

function storeErrorFrom(error: unknown, operation: string): StoreError {
  if (error instanceof StoreError) return error;
  const name = (error as { name?: string } | null)?.name;
  // QuotaExceededError is not retryable without freeing space; others (e.g. a closing db) may be.
  return new StoreError(`IndexedDB ${operation} failed${name ? ` (${name})` : ''}`, { cause: error, retryable: name !== 'QuotaExceededError' });
}
