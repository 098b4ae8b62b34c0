/**
 * The Redis store (`inferlane/stores/redis`): the KeyValueStore contract on `ioredis`, for
 * serverless functions and many instances sharing conversations and jobs.
 *
 * Layout, under `keyPrefix`:
 *   `<prefix>v:<key>`  a hash `{ v: <value>, ver: <version> }` (value keys)
 *   `<prefix>l:<key>`  a list (append/range keys)
 * The type tag keeps a value and a list with the same name apart without a suffix that a
 * caller's key could collide with. Writes that read a version run as Lua scripts, so
 * version increments and compare-and-set are atomic on the server.
 *
 * `ioredis` is an optional peer dependency, imported lazily on the first command, so the
 * core never loads it. Imports: store.ts, errors.ts.
 */
import type { Redis, RedisOptions } from 'ioredis';
import { StoreError, redact } from '../errors.js';
import type { KeyValueStore, SetOptions, StoreEntry } from './store.js';

export interface RedisStoreOptions {
  /** Connection URL, e.g. `redis://:password@host:6379/0`. @default 'redis://127.0.0.1:6379' */
  url?: string;
  /** An existing client. The store does not quit a client it did not create. */
  client?: Redis;
  /** Prepended to every Redis key. @default 'inferlane:' */
  keyPrefix?: string;
  /** Extra ioredis options for a client the store creates (ignored with `client`). */
  redisOptions?: RedisOptions;
}

// KEYS[1] value hash; ARGV[1] value, ARGV[2] ttl ms or ''.
const setScript = `
local version = redis.call('HINCRBY', KEYS[1], 'ver', 1)
redis.call('HSET', KEYS[1], 'v', ARGV[1])
if ARGV[2] ~= '' then redis.call('PEXPIRE', KEYS[1], ARGV[2]) else redis.call('PERSIST', KEYS[1]) end
return version`;

// KEYS[1] value hash; ARGV[1] expected version or '' (must not exist), ARGV[2] value, ARGV[3] ttl ms or ''.
const compareAndSetScript = `
local current = redis.call('HGET', KEYS[1], 'ver')
if ARGV[1] == '' then
  if current then return false end
elseif current ~= ARGV[1] then
  return false
end
local version = redis.call('HINCRBY', KEYS[1], 'ver', 1)
redis.call('HSET', KEYS[1], 'v', ARGV[2])
if ARGV[3] ~= '' then redis.call('PEXPIRE', KEYS[1], ARGV[3]) else redis.call('PERSIST', KEYS[1]) end
return version`;

interface ScriptedRedis extends Redis {
  inferlaneSet(key: string, value: string, ttl: string): Promise<number>;
  inferlaneCompareAndSet(key: string, expected: string, value: string, ttl: string): Promise<number | null>;
}

/** Escapes glob metacharacters for SCAN MATCH. */
function escapeGlob(text: string): string {
  return text.replace(/[*?[\]\\]/g, (character) => `\\${character}`);
}

function ttlArgument(options?: SetOptions): string {
  if (options?.ttlMs === undefined) return '';
  if (!Number.isFinite(options.ttlMs) || options.ttlMs <= 0) {
    throw new StoreError('invalid ttlMs: must be a positive number of milliseconds', { retryable: false });
  }
  return String(Math.ceil(options.ttlMs));
}

/** A Redis-backed KeyValueStore. The connection opens on the first command. */
export function redisStore(options: RedisStoreOptions = {}): KeyValueStore {
  const prefix = options.keyPrefix ?? 'inferlane:';
  const valueKey = (key: string) => `${prefix}v:${key}`;
  const listKey = (key: string) => `${prefix}l:${key}`;
  const ownsClient = options.client === undefined;
  const secrets = secretsOf(options.url);
  let clientPromise: Promise<ScriptedRedis> | undefined;
  let closed = false;

  const describe = (error: unknown): string => {
    let message = error instanceof Error ? error.message : String(error);
    for (const secret of secrets) message = message.split(secret).join('[redacted]');
    return redact(message.replace(/(rediss?:\/\/)[^@\s/]*@/gi, '$1[redacted]@'));
  };

  const connect = async (): Promise<ScriptedRedis> => {
    let client: Redis;
    if (options.client) {
      client = options.client;
    } else {
      let module: typeof import('ioredis');
      try {
        module = await import('ioredis');
      } catch (error) {
        throw new StoreError('redisStore needs the optional peer dependency `ioredis`: npm install ioredis', { cause: error, retryable: false });
      }
      const RedisClass = module.Redis ?? (module as unknown as { default: typeof Redis }).default;
      const settings: RedisOptions = { lazyConnect: true, maxRetriesPerRequest: 2, ...options.redisOptions };
      client = options.url ? new RedisClass(options.url, settings) : new RedisClass(settings);
      // Errors reach callers through the commands; without a listener ioredis logs them.
      client.on('error', () => {});
    }
    if (!('inferlaneSet' in client)) {
      client.defineCommand('inferlaneSet', { numberOfKeys: 1, lua: setScript });
      client.defineCommand('inferlaneCompareAndSet', { numberOfKeys: 1, lua: compareAndSetScript });
    }
    return client as ScriptedRedis;
  };

  const run = async <T>(operation: string, body: (client: ScriptedRedis) => Promise<T>): Promise<T> => {
    if (closed) throw new StoreError(`redis store: ${operation} after close()`, { retryable: false });
    clientPromise ??= connect();
    try {
      return await body(await clientPromise);
    } catch (error) {
      if (error instanceof StoreError) throw error;
      throw new StoreError(`redis store: ${operation} failed: ${describe(error)}`, { cause: error });
    }
  };

  return {
    get: (key) =>
      run('get', async (client) => {
        const [value, version] = await client.hmget(valueKey(key), 'v', 'ver');
        if (version === null || value === null) return undefined;
        return { value, version: Number(version) } satisfies StoreEntry;
      }),
    set: (key, value, setOptions) => {
      const ttl = ttlArgument(setOptions);
      return run('set', async (client) => Number(await client.inferlaneSet(valueKey(key), value, ttl)));
    },
    compareAndSet: (key, expectedVersion, value, setOptions) => {
      const ttl = ttlArgument(setOptions);
      return run('compareAndSet', async (client) => {
        const version = await client.inferlaneCompareAndSet(valueKey(key), expectedVersion === null ? '' : String(expectedVersion), value, ttl);
        return version === null ? undefined : Number(version);
      });
    },
    delete: (key) =>
      run('delete', async (client) => {
        await client.del(valueKey(key), listKey(key));
      }),
    append: (key, values) =>
      run('append', async (client) => (values.length === 0 ? client.llen(listKey(key)) : client.rpush(listKey(key), ...values))),
    range: (key, start, end) =>
      run('range', async (client) => {
        // LRANGE's end is inclusive; the contract's is exclusive, like Array.slice.
        if (end === 0) return [];
        const stop = end === undefined ? -1 : end - 1;
        if (end !== undefined && start >= 0 && end > 0 && end <= start) return [];
        return client.lrange(listKey(key), start, stop);
      }),
    list: (keyPrefixToList) =>
      run('list', async (client) => {
        const found = new Set<string>();
        for (const tag of ['v:', 'l:']) {
          const head = `${prefix}${tag}`;
          const pattern = `${escapeGlob(head + keyPrefixToList)}*`;
          let cursor = '0';
          // SCAN, not KEYS: it never blocks the server on a large keyspace.
          do {
            const [next, keys] = await client.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
            cursor = next;
            for (const key of keys) found.add(key.slice(head.length));
          } while (cursor !== '0');
        }
        return [...found].sort();
      }),
    async close() {
      if (closed) return;
      closed = true;
      if (!clientPromise || !ownsClient) return;
      const client = await clientPromise.catch(() => undefined);
      if (!client) return;
      try {
        await client.quit();
      } catch {
        client.disconnect();
      }
    },
  };
}

/** The password (and user) in a connection URL, so error messages can strip them. */
function secretsOf(url: string | undefined): string[] {
  if (!url) return [];
  try {
    const parsed = new URL(url);
    return [parsed.password, decodeURIComponent(parsed.password)].filter((secret) => secret.length > 0);
  } catch {
    return [];
  }
}
