/**
 * Runs in headless Chromium (bundled by test/stores/indexeddb.test.ts). Exposes the real
 * IndexedDB store to the test through `window.__store(name, method, args)`, with a page clock
 * the test moves for TTLs, and a conversation written and read back through the real client.
 */
import { createClient } from '../../../src/index.js';
import { indexedDbStore } from '../../../src/stores/indexeddb.js';
import type { KeyValueStore } from '../../../src/stores/store.js';
import { mockTarget } from '../../../src/testing.js';

interface PageApi {
  __clock: number;
  __store(name: string, method: keyof KeyValueStore, args: unknown[]): Promise<unknown>;
  __advance(ms: number): void;
  __writeConversation(id: string, turns: string[], concurrent: boolean): Promise<unknown>;
  __readConversation(id: string): Promise<unknown>;
  __done?: boolean;
}
const page = window as unknown as PageApi;
page.__clock = 1_700_000_000_000;
const stores = new Map<string, KeyValueStore>();
const storeNamed = (name: string): KeyValueStore => {
  let store = stores.get(name);
  if (!store) stores.set(name, (store = indexedDbStore({ name, now: () => page.__clock })));
  return store;
};
page.__store = async (name, method, args) => (storeNamed(name)[method] as (...values: unknown[]) => Promise<unknown>)(...args);
page.__advance = (ms) => {
  page.__clock += ms;
};

const clientFor = () =>
  createClient({
    targets: [mockTarget({ id: 'mock', generate: (call) => `echo: ${call.messages.at(-1)?.content ?? ''}`, cost: { inputPerMTok: 1, outputPerMTok: 2 } })],
    store: indexedDbStore({ name: 'conversations' }),
  });

page.__writeConversation = async (id, turns, concurrent) => {
  const client = clientFor();
  if (concurrent) {
    // Two writers on one record (two tabs, two instances): both turns must survive.
    await Promise.all(turns.map((text) => client.conversation(id, { system: 'Be brief.' }).send(text)));
  } else {
    const chat = client.conversation(id, { system: 'Be brief.' });
    for (const text of turns) await chat.send(text);
  }
  const messages = await client.conversation(id).messages();
  await client.close();
  return messages;
};

page.__readConversation = async (id) => {
  const client = clientFor();
  const chat = client.conversation(id);
  const result = { messages: await chat.messages(), usage: await chat.usage(), affinity: await chat.affinity() };
  await client.close();
  return result;
};
page.__done = true;
