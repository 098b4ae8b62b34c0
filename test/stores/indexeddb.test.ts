/**
 * The IndexedDB store in real headless Chromium: the shared store contract runs in Node with
 * every call forwarded to the real store in the page (the page does the IndexedDB work), then a
 * conversation is written through the real client, the page reloads, and it is read back.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fileURLToPath } from 'node:url';
import type { KeyValueStore } from '../../src/stores/store.js';
import { bundleForBrowser, launchChromium, modulePage, pageResult, startStaticServer, type BrowserSession, type StaticServer } from '../helpers/chromium.js';
import { storeContract } from './contract.js';

let session: BrowserSession;
let server: StaticServer;
let storeCounter = 0;

beforeAll(async () => {
  const bundle = await bundleForBrowser(fileURLToPath(new URL('./pages/indexeddb-page.ts', import.meta.url)));
  server = await startStaticServer({ '/': modulePage('indexeddb store'), '/app.js': bundle });
  session = await launchChromium();
  await session.page.goto(`${server.origin}/`);
  await pageResult(session);
});

afterAll(async () => {
  await session?.close();
  await server?.close();
});

type Method = keyof KeyValueStore;
type PendingCall = { store: string; method: Method; args: unknown[]; resolve(value: unknown): void; reject(error: unknown): void };
let pending: PendingCall[] = [];

/**
 * Sends the calls made in one tick to the page in one round trip (a CDP evaluate costs
 * milliseconds here); the page starts them together, so the store still sees concurrent calls.
 */
function flushCalls(): void {
  const calls = pending;
  pending = [];
  session.page
    .evaluate(
      (batch) =>
        Promise.all(
          batch.map(([store, method, args]) =>
            (window as unknown as { __store(n: string, m: string, a: unknown[]): Promise<unknown> })
              .__store(store, method, args)
              .then((value) => ({ ok: true, value }), (error: unknown) => ({ ok: false, value: String(error) })),
          ),
        ),
      calls.map((call) => [call.store, call.method, call.args] as [string, string, unknown[]]),
    )
    .then(
      (results) => results.forEach((result, index) => (result.ok ? calls[index].resolve(result.value) : calls[index].reject(new Error(String(result.value))))),
      (error: unknown) => calls.forEach((call) => call.reject(error)),
    );
}

/** A KeyValueStore whose every call runs on the real IndexedDB store inside Chromium. */
function pageStore(name: string): KeyValueStore {
  const call =
    (method: Method) =>
    (...args: unknown[]) =>
      new Promise((resolve, reject) => {
        if (pending.length === 0) queueMicrotask(flushCalls);
        pending.push({ store: name, method, args, resolve, reject });
      });
  return {
    get: call('get'),
    set: call('set'),
    compareAndSet: call('compareAndSet'),
    delete: call('delete'),
    append: call('append'),
    range: call('range'),
    list: call('list'),
  } as KeyValueStore;
}

storeContract('indexeddb (Chromium)', {
  // A database per test: the contract expects lists of keys under fresh namespaces only.
  store: () => pageStore(`contract-${++storeCounter}`),
  advance: (ms) => session.page.evaluate((value) => (window as unknown as { __advance(ms: number): void }).__advance(value), ms),
});

describe('indexeddb store in Chromium', () => {
  it('keeps values, versions and lists across a page reload', async () => {
    const store = pageStore('reload');
    await store.set('k', 'v');
    await store.set('k', 'v2');
    await store.append('l', ['a', 'b']);
    await session.page.reload();
    await pageResult(session);
    const reopened = pageStore('reload');
    expect(await reopened.get('k')).toEqual({ value: 'v2', version: 2 });
    expect(await reopened.range('l', 0)).toEqual(['a', 'b']);
  });

  it('a conversation written through the client reads back identically after a reload', async () => {
    type Stored = { role: string; content: string; hash: string; tokens: number };
    const written = await session.page.evaluate(() =>
      (window as unknown as { __writeConversation(id: string, turns: string[], concurrent: boolean): Promise<Stored[]> }).__writeConversation('user-7', ['hello', 'how are you', 'bye'], false),
    );
    expect(written.map((message) => message.role)).toEqual(['system', 'user', 'assistant', 'user', 'assistant', 'user', 'assistant']);
    expect(written[6].content).toBe('echo: bye');
    await session.page.reload();
    await pageResult(session);
    const read = await session.page.evaluate(() =>
      (window as unknown as { __readConversation(id: string): Promise<{ messages: Stored[]; usage: { calls: number; costUsd: number }; affinity?: { target: string } }> }).__readConversation('user-7'),
    );
    expect(read.messages).toEqual(written);
    expect(new Set(read.messages.map((message) => message.hash)).size).toBe(7);
    expect(read.usage.calls).toBe(3);
    expect(read.affinity?.target).toBe('mock');
  });

  it('two concurrent writers on one conversation both land (IndexedDB compare-and-set)', async () => {
    type Stored = { role: string; content: string };
    const turns = Array.from({ length: 6 }, (_, index) => `writer ${index}`);
    const messages = await session.page.evaluate(
      (texts) => (window as unknown as { __writeConversation(id: string, turns: string[], concurrent: boolean): Promise<Stored[]> }).__writeConversation('shared', texts, true),
      turns,
    );
    expect(messages).toHaveLength(1 + 2 * turns.length);
    const users = messages.filter((message) => message.role === 'user').map((message) => message.content);
    expect([...users].sort()).toEqual([...turns].sort());
    // Each answer directly follows its question.
    for (let index = 1; index < messages.length; index += 2) expect(messages[index + 1].content).toBe(`echo: ${messages[index].content}`);
  });
});
