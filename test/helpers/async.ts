/** Small helpers for tests that read async iterables and expect typed failures. */
import { expect } from 'vitest';
import { InferlaneError } from '../../src/errors.js';

/** Every item of an async iterable, in order. */
export async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const all: T[] = [];
  for await (const item of items) all.push(item);
  return all;
}

/** The InferlaneError a promise rejects with; fails the test when it resolves or throws something else. */
export async function failure(promise: Promise<unknown>): Promise<InferlaneError> {
  const error = await promise.then(
    () => undefined,
    (thrown: unknown) => thrown,
  );
  expect(InferlaneError.isInstance(error), `expected an InferlaneError, got ${String(error)}`).toBe(true);
  return error as InferlaneError;
}

/** What an async iterable yields before it fails, and the InferlaneError it fails with (the test fails if it ends without one). */
export async function partsBeforeFailure<T>(items: AsyncIterable<T>): Promise<{ parts: T[]; error: InferlaneError }> {
  const parts: T[] = [];
  const error = await failure(
    (async () => {
      for await (const item of items) parts.push(item);
    })(),
  );
  return { parts, error };
}
