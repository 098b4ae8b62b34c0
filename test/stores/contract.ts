/**
 * The KeyValueStore contract, run against every implementation (memory, redis, indexeddb).
 * Each test uses its own key namespace so implementations backed by a shared server can run
 * the suite without cleanup between tests.
 */
import { describe, expect, it } from 'vitest';
import type { KeyValueStore } from '../../src/stores/store.js';

export interface ContractSubject {
  /** A fresh store (or a fresh view of a shared backend). */
  store(): KeyValueStore;
  /** Moves the store's clock forward (memory), or undefined when TTLs must be checked another way. */
  advance?(ms: number): Promise<void> | void;
}

let namespaceCounter = 0;
const namespace = () => `t${++namespaceCounter}-${process.pid}:`;

export function storeContract(name: string, subject: ContractSubject): void {
  describe(`${name} store contract`, () => {
    it('get returns undefined for a missing key and the value with version 1 after the first set', async () => {
      const store = subject.store();
      const ns = namespace();
      expect(await store.get(`${ns}missing`)).toBeUndefined();
      expect(await store.set(`${ns}a`, 'one')).toBe(1);
      expect(await store.get(`${ns}a`)).toEqual({ value: 'one', version: 1 });
    });

    it('every set increments the version', async () => {
      const store = subject.store();
      const ns = namespace();
      await store.set(`${ns}a`, 'one');
      expect(await store.set(`${ns}a`, 'two')).toBe(2);
      expect(await store.set(`${ns}a`, 'three')).toBe(3);
      expect(await store.get(`${ns}a`)).toEqual({ value: 'three', version: 3 });
    });

    it('stores any string, including empty, unicode and JSON', async () => {
      const store = subject.store();
      const ns = namespace();
      const values = ['', 'héllo ✓ 日本', JSON.stringify({ a: [1, 2], b: 'x\ny' }), 'x'.repeat(100_000)];
      for (const [index, value] of values.entries()) {
        await store.set(`${ns}${index}`, value);
        expect((await store.get(`${ns}${index}`))?.value).toBe(value);
      }
    });

    it('compareAndSet with null creates only when the key is absent', async () => {
      const store = subject.store();
      const ns = namespace();
      expect(await store.compareAndSet(`${ns}a`, null, 'first')).toBe(1);
      expect(await store.compareAndSet(`${ns}a`, null, 'second')).toBeUndefined();
      expect(await store.get(`${ns}a`)).toEqual({ value: 'first', version: 1 });
    });

    it('compareAndSet writes only at the expected version', async () => {
      const store = subject.store();
      const ns = namespace();
      await store.set(`${ns}a`, 'v1');
      expect(await store.compareAndSet(`${ns}a`, 5, 'nope')).toBeUndefined();
      expect(await store.compareAndSet(`${ns}a`, 1, 'v2')).toBe(2);
      expect(await store.compareAndSet(`${ns}a`, 1, 'stale')).toBeUndefined();
      expect(await store.get(`${ns}a`)).toEqual({ value: 'v2', version: 2 });
      expect(await store.compareAndSet(`${ns}missing`, 1, 'x')).toBeUndefined();
      expect(await store.get(`${ns}missing`)).toBeUndefined();
    });

    it('concurrent compareAndSet on one version: exactly one writer wins', async () => {
      const store = subject.store();
      const ns = namespace();
      await store.set(`${ns}a`, 'base');
      const outcomes = await Promise.all(Array.from({ length: 20 }, (_, index) => store.compareAndSet(`${ns}a`, 1, `w${index}`)));
      const winners = outcomes.filter((outcome) => outcome !== undefined);
      expect(winners).toEqual([2]);
      const winner = outcomes.findIndex((outcome) => outcome !== undefined);
      expect((await store.get(`${ns}a`))?.value).toBe(`w${winner}`);
    });

    it('delete removes a value and a list', async () => {
      const store = subject.store();
      const ns = namespace();
      await store.set(`${ns}a`, 'x');
      await store.append(`${ns}a`, ['1']);
      await store.delete(`${ns}a`);
      expect(await store.get(`${ns}a`)).toBeUndefined();
      expect(await store.range(`${ns}a`, 0)).toEqual([]);
      await store.delete(`${ns}never`);
    });

    it('append returns the new length and range reads [start, end) like Array.slice', async () => {
      const store = subject.store();
      const ns = namespace();
      expect(await store.append(`${ns}l`, ['a', 'b'])).toBe(2);
      expect(await store.append(`${ns}l`, ['c'])).toBe(3);
      expect(await store.append(`${ns}l`, [])).toBe(3);
      const all = ['a', 'b', 'c'];
      expect(await store.range(`${ns}l`, 0)).toEqual(all);
      for (const [start, end] of [[0, 1], [1, 3], [1, undefined], [2, 2], [3, 5], [0, 0], [5, undefined], [2, 1]] as [number, number | undefined][]) {
        expect(await store.range(`${ns}l`, start, end), `range(${start}, ${end})`).toEqual(all.slice(start, end));
      }
      expect(await store.range(`${ns}missing`, 0)).toEqual([]);
    });

    it('concurrent appends keep every value, each call contiguous', async () => {
      const store = subject.store();
      const ns = namespace();
      await Promise.all(Array.from({ length: 10 }, (_, index) => store.append(`${ns}l`, [`${index}-a`, `${index}-b`])));
      const items = await store.range(`${ns}l`, 0);
      expect(items).toHaveLength(20);
      for (let index = 0; index < 20; index += 2) {
        const [writer] = items[index].split('-');
        expect(items[index + 1]).toBe(`${writer}-b`);
      }
    });

    it('a value and a list under one key do not disturb each other', async () => {
      const store = subject.store();
      const ns = namespace();
      await store.set(`${ns}k`, 'value');
      await store.append(`${ns}k`, ['item']);
      expect(await store.get(`${ns}k`)).toEqual({ value: 'value', version: 1 });
      expect(await store.range(`${ns}k`, 0)).toEqual(['item']);
      expect(await store.list(`${ns}k`)).toEqual([`${ns}k`]);
    });

    it('list returns value and list keys with the prefix, sorted, once each', async () => {
      const store = subject.store();
      const ns = namespace();
      await store.set(`${ns}b`, '1');
      await store.set(`${ns}a:1`, '1');
      await store.append(`${ns}a:2`, ['x']);
      await store.set(`${ns}c*[x]`, '1');
      await store.set(`other-${ns}`, '1');
      expect(await store.list(`${ns}a:`)).toEqual([`${ns}a:1`, `${ns}a:2`]);
      expect(await store.list(ns)).toEqual([`${ns}a:1`, `${ns}a:2`, `${ns}b`, `${ns}c*[x]`]);
      // Glob characters in the prefix are literal.
      expect(await store.list(`${ns}c*`)).toEqual([`${ns}c*[x]`]);
      expect(await store.list(`${ns}zz`)).toEqual([]);
    });

    it('list scans past many keys', async () => {
      const store = subject.store();
      const ns = namespace();
      await Promise.all(Array.from({ length: 2500 }, (_, index) => store.set(`${ns}${String(index).padStart(5, '0')}`, 'x')));
      const keys = await store.list(ns);
      expect(keys).toHaveLength(2500);
      expect(keys[0]).toBe(`${ns}00000`);
      expect(keys[2499]).toBe(`${ns}02499`);
    });

    if (subject.advance) {
      it('a value written with ttlMs disappears after the TTL; set without TTL keeps it', async () => {
        const store = subject.store();
        const ns = namespace();
        await store.set(`${ns}short`, 'x', { ttlMs: 1000 });
        await store.set(`${ns}kept`, 'x', { ttlMs: 1000 });
        await store.set(`${ns}kept`, 'y');
        await store.compareAndSet(`${ns}cas`, null, 'z', { ttlMs: 1000 });
        expect((await store.get(`${ns}short`))?.value).toBe('x');
        await subject.advance!(1500);
        expect(await store.get(`${ns}short`)).toBeUndefined();
        expect(await store.get(`${ns}cas`)).toBeUndefined();
        expect(await store.get(`${ns}kept`)).toEqual({ value: 'y', version: 2 });
        expect(await store.list(ns)).toEqual([`${ns}kept`]);
        // A key written again after it expired starts over at version 1.
        expect(await store.compareAndSet(`${ns}short`, null, 'again')).toBe(1);
      });
    }
  });
}
