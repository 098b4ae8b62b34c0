import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InferlaneError } from '../../src/errors.js';
import { redisStore } from '../../src/stores/redis.js';
import type { KeyValueStore } from '../../src/stores/store.js';
import { startRedis, type RunningRedis } from '../helpers/redis.js';
import { storeContract } from './contract.js';

let redis: RunningRedis;
const opened: KeyValueStore[] = [];
let raw: Redis;

beforeAll(async () => {
  redis = await startRedis();
  raw = new Redis(redis.url, { lazyConnect: true });
});

afterAll(async () => {
  await Promise.all(opened.map((store) => store.close?.()));
  raw?.disconnect();
  await redis?.stop();
});

const open = (options: Parameters<typeof redisStore>[0] = {}) => {
  const store = redisStore({ url: redis.url, ...options });
  opened.push(store);
  return store;
};

storeContract('redis', { store: () => open() });

describe('redis store specifics', () => {
  it('sets PEXPIRE for ttlMs and clears it on a write without TTL', async () => {
    const store = open({ keyPrefix: 'ttl:' });
    await store.set('a', 'x', { ttlMs: 5000 });
    const ttl = await raw.pttl('ttl:v:a');
    expect(ttl).toBeGreaterThan(4000);
    expect(ttl).toBeLessThanOrEqual(5000);
    await store.set('a', 'y');
    expect(await raw.pttl('ttl:v:a')).toBe(-1);
    await store.compareAndSet('a', 2, 'z', { ttlMs: 2000 });
    expect(await raw.pttl('ttl:v:a')).toBeGreaterThan(1000);
  });

  it('keeps keys under its prefix, values and lists apart', async () => {
    const one = open({ keyPrefix: 'one:' });
    const two = open({ keyPrefix: 'two:' });
    await one.set('k', 'from-one');
    await one.append('k', ['item']);
    expect(await two.get('k')).toBeUndefined();
    expect(await two.list('')).toEqual([]);
    expect(await raw.type('one:v:k')).toBe('hash');
    expect(await raw.type('one:l:k')).toBe('list');
  });

  it('uses a caller-provided client and does not quit it on close', async () => {
    const client = new Redis(redis.url);
    const store = redisStore({ client, keyPrefix: 'own:' });
    await store.set('a', '1');
    await store.close?.();
    expect(await client.ping()).toBe('PONG');
    await client.quit();
  });

  it('maps connection failures to StoreError without the password', async () => {
    const store = redisStore({
      url: 'redis://user:s3cret-pass@127.0.0.1:1/0',
      redisOptions: { maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: 500 },
    });
    const error = await store.get('x').catch((caught: unknown) => caught);
    await store.close?.();
    expect(InferlaneError.isInstance(error)).toBe(true);
    expect((error as InferlaneError).code).toBe('STORE_ERROR');
    expect((error as Error).message).not.toContain('s3cret-pass');
  });

  it('rejects calls after close', async () => {
    const store = redisStore({ url: redis.url });
    await store.set('closing', '1');
    await store.close?.();
    await expect(store.get('closing')).rejects.toMatchObject({ code: 'STORE_ERROR' });
  });
});
