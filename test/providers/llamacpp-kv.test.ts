/**
 * KV reuse on the llama.cpp target: a conversation keeps its context sequence between turns, so
 * the next turn evaluates only its new tokens; the conversation's prefix hashes decide whether a
 * kept sequence is still the history's; sequences are bounded by the memory budget and evicted
 * least recently used. Token counts come from llama.cpp's own meter (`stats()`), never from time.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClient, memoryStore } from '../../src/index.js';
import { prefixHashes } from '../../src/conversation/hash.js';
import type { CallContext, Message, Target } from '../../src/target.js';
import { llamacpp, type LlamacppTarget } from '../../providers/llamacpp/index.js';

const longQuestion = 'The router reads the latency budget before it picks a target, and the budget is a deadline. '.repeat(11);

function context(conversation?: CallContext['conversation']): CallContext {
  return { signal: new AbortController().signal, deadline: Date.now() + 30_000, segment: 'interactive', emit: () => {}, conversation };
}

let target: LlamacppTarget;
beforeAll(async () => {
  target = llamacpp({ id: 'device:llama', maxSequences: 2 });
  await target.load();
});
afterAll(async () => {
  await target.close?.();
});

/** What one call evaluated, by llama.cpp's token meter. */
async function evaluated<T>(run: () => Promise<T>): Promise<{ result: T; evaluated: number }> {
  const before = target.stats().evaluatedInputTokens;
  const result = await run();
  return { result, evaluated: target.stats().evaluatedInputTokens - before };
}

describe('a conversation on the llama.cpp target', () => {
  it('turn two evaluates only its new tokens; usage and route report the reused ones', async () => {
    const client = createClient({ targets: [target], store: memoryStore() });
    const chat = client.conversation('kv-1', { system: 'You are a tiny model.' });
    const first = await evaluated(() => chat.send(longQuestion, { maxOutputTokens: 8 }));
    expect(first.result.route.target).toBe('device:llama');
    expect(first.result.usage?.cachedInputTokens).toBe(0);
    expect(first.evaluated).toBeGreaterThan(1000);

    const second = await evaluated(() => chat.send('And then?', { maxOutputTokens: 8 }));
    const usage = second.result.usage!;
    expect(second.evaluated).toBeLessThan(first.evaluated / 10);
    expect(usage.inputTokens).toBeGreaterThan(first.evaluated);
    expect(usage.cachedInputTokens).toBe(usage.inputTokens! - second.evaluated);
    expect(second.result.route.cachedTokens).toBe(usage.cachedInputTokens);
    expect((await chat.usage()).cachedInputTokens).toBe(usage.cachedInputTokens);
  });

  it('the adapter gets the prefix hashes of the messages as sent, the conversation store\'s own chain', async () => {
    const seen: { call: Message[]; ctx: CallContext }[] = [];
    // Observes our target from outside; kv and limits are read through, as the router reads them.
    const observed: Target = Object.assign(Object.create(target) as Target, {
      doGenerate: (call: { messages: Message[] }, ctx: CallContext) => (seen.push({ call: call.messages, ctx }), target.doGenerate!(call, ctx)),
    });
    const client = createClient({ targets: [observed], store: memoryStore() });
    const chat = client.conversation('kv-hashes', { system: 'Hashes.' });
    await chat.send('one', { maxOutputTokens: 2 });
    await chat.send('two', { maxOutputTokens: 2 });
    const stored = await chat.messages();
    const last = seen.at(-1)!;
    expect(last.ctx.conversation?.id).toBe('kv-hashes');
    expect(last.ctx.conversation?.prefixHashes).toEqual(prefixHashes(last.call));
    expect(last.ctx.conversation?.prefixHashes.slice(0, 3)).toEqual(stored.slice(0, 3).map((message) => message.hash));
  });
});

describe('the sequence cache', () => {
  const system: Message = { role: 'system', content: 'You are a tiny model.' };
  const turn = (id: string, messages: Message[]) =>
    evaluated(() => target.doGenerate!({ messages, maxOutputTokens: 4, temperature: 0 }, context({ id, prefixHashes: prefixHashes(messages) })));

  it('an edited history does not reuse the stale cache: it is cleared and evaluated anew', async () => {
    const history: Message[] = [system, { role: 'user', content: longQuestion }];
    const first = await turn('edit', history);
    const next: Message[] = [...history, { role: 'assistant', content: first.result.text }, { role: 'user', content: 'more' }];
    const kept = await turn('edit', next);
    expect(kept.result.usage!.cachedInputTokens).toBeGreaterThan(1000);

    const stale = target.stats().stale;
    // The same conversation id, but its first question was edited: every hash from there differs.
    const edited: Message[] = [system, { role: 'user', content: longQuestion.replace('deadline', 'promise') }, ...next.slice(2)];
    const rebuilt = await turn('edit', edited);
    expect(target.stats().stale).toBe(stale + 1);
    expect(rebuilt.result.usage!.cachedInputTokens).toBe(0);
    expect(rebuilt.evaluated).toBe(rebuilt.result.usage!.inputTokens);
  });

  it('an aborted turn keeps the conversation\'s cache: the retried turn still reuses the history', async () => {
    const history: Message[] = [system, { role: 'user', content: `abort: ${longQuestion}` }];
    const first = await turn('abort', history);
    const next: Message[] = [...history, { role: 'assistant', content: first.result.text }, { role: 'user', content: 'more' }];
    const controller = new AbortController();
    const call = { messages: next, maxOutputTokens: 2000 };
    const aborted = await (async () => {
      for await (const part of target.doStream!(call, { ...context({ id: 'abort', prefixHashes: prefixHashes(next) }), signal: controller.signal })) if (part.type === 'text-delta') controller.abort();
    })().catch((e) => e);
    expect(aborted?.code).toBe('ABORTED');
    const retried = await turn('abort', next);
    expect(retried.result.usage!.cachedInputTokens).toBeGreaterThan(1000);
    expect(retried.evaluated).toBeLessThan(100);
  });

  it('holds at most maxSequences conversations, evicting the least recently used, rebuilt on a miss', async () => {
    const messages = (name: string): Message[] => [system, { role: 'user', content: `${name}: ${longQuestion}` }];
    const follow = (name: string, answer: string): Message[] => [...messages(name), { role: 'assistant', content: answer }, { role: 'user', content: 'again' }];
    const a = await turn('lru-a', messages('a'));
    const b = await turn('lru-b', messages('b'));
    // a is used again (a hit), so b is now the least recently used.
    expect((await turn('lru-a', follow('a', a.result.text))).result.usage!.cachedInputTokens).toBeGreaterThan(1000);
    const evictions = target.stats().evictions;
    await turn('lru-c', messages('c'));
    expect(target.stats().evictions).toBe(evictions + 1);
    expect(target.stats().kept).toBe(2);
    // b was evicted: its next turn misses and evaluates everything; a kept its sequence.
    const bAgain = await turn('lru-b', follow('b', b.result.text));
    expect(bAgain.result.usage!.cachedInputTokens).toBe(0);
    expect(bAgain.evaluated).toBe(bAgain.result.usage!.inputTokens);
  });

  it('the memory budget bounds the kept sequences (weights + per-sequence KV under 70% of it)', async () => {
    // Per sequence: 2 x 2 layers x 2 KV heads x 80 x 2 bytes x 4,096 tokens = 5.2 MB; weights 1.4 MB.
    const small = llamacpp({ id: 'device:budget', memoryBudgetBytes: 12 * 1024 * 1024, maxSequences: 8 });
    try {
      await small.load();
      expect(small.stats().capacity).toBe(1);
      const larger = llamacpp({ id: 'device:budget-2', memoryBudgetBytes: 18 * 1024 * 1024, maxSequences: 8 });
      await larger.load();
      expect(larger.stats().capacity).toBe(2);
      await larger.close?.();
    } finally {
      await small.close?.();
    }
  });
});
