/**
 * A conversation whose store fails: every failure is a typed STORE_ERROR that says which
 * conversation and keeps its cause, retryable when trying again can help, and the model is never
 * called with a history the conversation could not read.
 *
 * The store here is the memory store behind a wrapper that fails the way a remote store (Redis)
 * does: the store contract is the edge; the client and the conversation are real.
 */
import { describe, expect, it } from 'vitest';
import { createClient, InferlaneError, type StoreError } from '../../src/index.js';
import { memoryStore } from '../../src/stores/memory.js';
import type { KeyValueStore } from '../../src/stores/store.js';
import { mockTarget } from '../../src/testing.js';

function failing(overrides: Partial<KeyValueStore>): KeyValueStore {
  const inner = memoryStore();
  return {
    get: (key) => inner.get(key),
    set: (key, value, options) => inner.set(key, value, options),
    compareAndSet: (key, expected, value, options) => inner.compareAndSet(key, expected, value, options),
    delete: (key) => inner.delete(key),
    append: (key, values) => inner.append(key, values),
    range: (key, start, end) => inner.range(key, start, end),
    list: (prefix) => inner.list(prefix),
    ...overrides,
  };
}

async function storeError(promise: Promise<unknown>): Promise<InferlaneError> {
  const error = await promise.then(
    () => undefined,
    (thrown: unknown) => thrown,
  );
  expect(InferlaneError.isInstance(error)).toBe(true);
  expect((error as InferlaneError).code).toBe('STORE_ERROR');
  return error as InferlaneError;
}

describe('a conversation whose store fails', () => {
  it('a read that fails is a retryable STORE_ERROR naming the conversation; the model is not called', async () => {
    const target = mockTarget();
    const store = failing({
      get: async () => {
        throw new Error('ECONNREFUSED 127.0.0.1:6379');
      },
    });
    const chat = createClient({ targets: [target] }).conversation('user-42', { store });
    const error = await storeError(chat.send('hello'));
    expect(error.message).toContain("reading conversation 'user-42' failed");
    expect(error.retryable).toBe(true);
    expect((error.cause as Error).message).toContain('ECONNREFUSED');
    expect(target.calls).toHaveLength(0);
  });

  it('a malformed record is a STORE_ERROR that retrying cannot fix', async () => {
    const store = memoryStore();
    const target = mockTarget();
    const chat = createClient({ targets: [target] }).conversation('user-7', { store });
    await chat.send('hello');
    const [key] = await store.list('');
    await store.set(key, '{ not json');
    const error = await storeError(chat.send('again'));
    expect(error.message).toContain("conversation 'user-7' holds a malformed record");
    expect(error.retryable).toBe(false);
    expect(target.calls).toHaveLength(1);
  });

  it('a write that fails after the answer is a STORE_ERROR that carries the answer', async () => {
    let writes = 0;
    const store = failing({
      compareAndSet: async () => {
        writes++;
        throw new Error('READONLY You can’t write against a read only replica.');
      },
    });
    const chat = createClient({ targets: [mockTarget()] }).conversation('user-9', { store });
    const error = await storeError(chat.send('hello'));
    expect(error.message).toContain("writing conversation 'user-9' failed");
    expect(writes).toBe(1);
    // The answer came back and was paid for: it travels with the error.
    expect((error as StoreError).unsaved).toMatchObject({ text: 'echo: hello', route: { target: 'mock' } });
  });

  it('writes that keep conflicting end after maxWriteAttempts with a STORE_ERROR saying so', async () => {
    let attempts = 0;
    const store = failing({
      compareAndSet: async () => {
        attempts++;
        return undefined; // someone else always wrote first
      },
    });
    const chat = createClient({ targets: [mockTarget()] }).conversation('busy', { store, maxWriteAttempts: 4 });
    const error = await storeError(chat.send('hello'));
    expect(error.message).toContain('4 concurrent writes conflicted');
    expect(attempts).toBe(4);
  });
});
