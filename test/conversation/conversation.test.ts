/**
 * Conversations through the real client, the openai adapter (the real `openai` client) and the
 * local OpenAI-compatible server with its prompt-cache emulation and replicas.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createClient } from '../../src/index.js';
import { ContextOverflowError } from '../../src/errors.js';
import { memoryStore } from '../../src/stores/memory.js';
import { mockTarget } from '../../src/testing.js';
import { prefixHashes } from '../../src/conversation/hash.js';
import type { Target } from '../../src/target.js';
import { openai } from '../../providers/openai/index.js';
import { startOpenAIServer, type OpenAIServer, type RecordedRequest } from '../servers/openai-compatible.js';

const systemPrompt = Array.from({ length: 400 }, (_, index) => `Rule ${index}: answer briefly.`).join(' '); // about 2,000 tokens
let server: OpenAIServer;

beforeAll(async () => {
  server = await startOpenAIServer({ seed: 3, replicas: 4 });
});
afterAll(async () => {
  await server?.close();
});
beforeEach(() => {
  server.reset();
  server.setReplicas(4);
  server.script('*', []);
});

const chats = (): RecordedRequest[] => server.requests.filter((request) => request.path === '/v1/chat/completions');
type WireBody = { messages: { role: string; content: string | { text: string; cache_control?: unknown }[] }[]; prompt_cache_key?: string };
const bodyOf = (request: RecordedRequest) => request.body as WireBody;
const textOf = (content: WireBody['messages'][number]['content']) => (typeof content === 'string' ? content : content.map((part) => part.text).join(''));

function replicated(settings: Partial<Parameters<typeof openai>[0]> = {}): Target {
  return openai({
    id: 'local',
    model: 'local-model',
    apiKey: 'test',
    baseURL: [0, 1, 2, 3].map((replica) => server.replicaURL(replica)),
    cost: { inputPerMTok: 1, cachedInputPerMTok: 0.1, outputPerMTok: 4 },
    limits: { contextTokens: 128_000 },
    ...settings,
  });
}

describe('conversation over the openai adapter and the local server', () => {
  it('keeps one prompt cache key and one replica while warm, and the server reports cached tokens', async () => {
    const client = createClient({ targets: [replicated()], retry: { initialDelayMs: 1, maxDelayMs: 2 } });
    const chat = client.conversation('user-1', { system: systemPrompt });
    for (let turn = 0; turn < 5; turn++) await chat.send(`question ${turn} about caching`);
    const requests = chats();
    expect(requests).toHaveLength(5);
    const keys = new Set(requests.map((request) => bodyOf(request).prompt_cache_key));
    expect(keys.size).toBe(1);
    expect([...keys][0]).toBe(await chat.cacheKey());
    expect(new Set(requests.map((request) => request.replica)).size).toBe(1);
    expect(requests[0].cachedTokens).toBe(0);
    for (const request of requests.slice(1)) expect(request.cachedTokens).toBeGreaterThan(1900);
    const usage = await chat.usage();
    expect(usage.calls).toBe(5);
    expect(usage.cachedInputTokens).toBe(requests.reduce((sum, request) => sum + (request.cachedTokens ?? 0), 0));
    expect(usage.byTarget.local.cachedInputTokens).toBe(usage.cachedInputTokens);
    expect(usage.costUsd).toBeGreaterThan(0);
    const affinity = await chat.affinity();
    expect(affinity).toMatchObject({ target: 'local', replica: requests[0].replica });
    expect(affinity!.warmUntil).toBeGreaterThan(client.now() + 290_000);
    // Each prompt is the stored history plus the new question.
    const messages = await chat.messages();
    expect(messages).toHaveLength(11);
    expect(bodyOf(requests[4]).messages.map((message) => textOf(message.content))).toEqual(messages.slice(0, 10).map((message) => message.content));
  });

  it('spreads different conversations over the replicas', async () => {
    const client = createClient({ targets: [replicated()] });
    for (let user = 0; user < 24; user++) await client.conversation(`spread-${user}`, { system: 'short' }).send('hi');
    expect(new Set(chats().map((request) => request.replica)).size).toBe(4);
  });

  it('moves a conversation off a failing replica, and only then', async () => {
    const client = createClient({ targets: [replicated()], retry: { initialDelayMs: 1, maxDelayMs: 2 } });
    const chat = client.conversation('user-move', { system: systemPrompt });
    await chat.send('first');
    await chat.send('second');
    const home = chats()[0].replica;
    server.script('/chat/completions', (request) => (request.replica === home ? { status: 500 } : undefined));
    const result = await chat.send('third');
    const afterFailure = chats().slice(2);
    expect(afterFailure[0].replica).toBe(home);
    expect(afterFailure[0].status).toBe(500);
    const moved = afterFailure.at(-1)!.replica;
    expect(moved).not.toBe(home);
    expect(result.route.replica).toBe(moved);
    server.script('/chat/completions', []);
    // It stays on the new replica while that one is warm, even though the old one recovered.
    for (let turn = 0; turn < 3; turn++) await chat.send(`after ${turn}`);
    expect(chats().slice(-3).map((request) => request.replica)).toEqual([moved, moved, moved]);
    expect((await chat.affinity())?.replica).toBe(moved);
  });

  it('sends cache breakpoints to a breakpoint provider, skipping short prefixes', async () => {
    const target = openai({
      id: 'anthropic-like',
      model: 'local-model',
      apiKey: 'test',
      baseURL: server.baseURL,
      cache: { mode: 'breakpoints', minTokens: 1024, ttlMs: 300_000, acceptsKey: false },
    });
    const client = createClient({ targets: [target] });
    const chat = client.conversation('bp', { system: systemPrompt });
    await chat.send('one');
    await chat.send('two');
    const [first, second] = chats();
    expect(bodyOf(first).prompt_cache_key).toBeUndefined();
    expect(first.cacheBreakpoints?.map((breakpoint) => breakpoint.message)).toEqual([0, 1]);
    expect(second.cacheBreakpoints?.map((breakpoint) => breakpoint.message)).toEqual([0, 2, 3]);

    const short = client.conversation('bp-short', { system: 'tiny' });
    await short.send('hello');
    expect(chats().at(-1)?.cacheBreakpoints ?? []).toEqual([]);
  });

  it('fits a long conversation to a small window with a prefix that stays put for 10+ turns', async () => {
    const client = createClient({ targets: [replicated({ baseURL: server.baseURL, limits: { contextTokens: 4096 } })] });
    const chat = client.conversation('long', { system: 'Be brief.', reserveOutputTokens: 256 });
    const firstKept: string[] = [];
    for (let turn = 0; turn < 60; turn++) {
      await chat.send(`turn ${turn}: ${'details '.repeat(40)}`, { maxOutputTokens: 256 });
      const body = bodyOf(chats().at(-1)!);
      expect(textOf(body.messages[0].content)).toBe('Be brief.');
      expect(body.messages[1].role).toBe('user');
      firstKept.push(textOf(body.messages[1].content).slice(0, 8));
    }
    const overflowAt = firstKept.findIndex((text) => text !== firstKept[0]);
    expect(overflowAt).toBeGreaterThan(0);
    const runs: number[] = [];
    let run = 1;
    for (let index = overflowAt + 1; index < firstKept.length; index++) {
      if (firstKept[index] === firstKept[index - 1]) run++;
      else runs.push(run), (run = 1);
    }
    expect(runs.length).toBeGreaterThanOrEqual(1);
    for (const length of runs) expect(length).toBeGreaterThanOrEqual(10);
    // Nothing is lost from the record: fitting only shapes what is sent.
    expect(await chat.messages()).toHaveLength(121);
  });

  it("fails with ContextOverflowError in 'error' mode", async () => {
    const client = createClient({ targets: [replicated({ baseURL: server.baseURL, limits: { contextTokens: 2048 } })], retry: { maxRetries: 0 } });
    const chat = client.conversation('strict', { system: 'Be brief.', fit: 'error', reserveOutputTokens: 256 });
    let caught: unknown;
    try {
      for (let turn = 0; turn < 40; turn++) await chat.send(`turn ${turn}: ${'words '.repeat(60)}`);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeDefined();
    const errors = [caught, ...(((caught as { attempts?: unknown[] }).attempts ?? []) as unknown[])];
    const codes = errors.map((error) => (error as { code?: string }).code);
    expect(codes.some((code) => code === 'CONTEXT_OVERFLOW') || caught instanceof ContextOverflowError).toBe(true);
  });

  it('streams and records the assistant message when the stream finishes', async () => {
    const client = createClient({ targets: [replicated()] });
    const chat = client.conversation('streamer', { system: systemPrompt });
    let text = '';
    for await (const part of chat.stream('stream please')) if (part.type === 'text-delta') text += part.text;
    const messages = await chat.messages();
    expect(messages.at(-1)).toMatchObject({ role: 'assistant', content: text, target: 'local' });
    expect(text.length).toBeGreaterThan(0);
    expect(await chat.affinity()).toMatchObject({ target: 'local', replica: chats().at(-1)!.replica });
    // The replica's in-flight count went back to zero.
    expect(client.replicas.load('local')).toEqual([0, 0, 0, 0]);
  });
});

describe('conversation records', () => {
  it('two writers on one conversation lose nothing and keep each turn together', async () => {
    const store = memoryStore();
    const target = mockTarget({ id: 'mock', generate: (call) => `re: ${call.messages.at(-1)?.content}`, delayMs: 0 });
    const first = createClient({ targets: [target], store });
    const second = createClient({ targets: [target], store });
    const sends: Promise<unknown>[] = [];
    for (let index = 0; index < 10; index++) {
      sends.push(first.conversation('shared', { system: 's' }).send(`a${index}`));
      sends.push(second.conversation('shared', { system: 's' }).send(`b${index}`));
    }
    await Promise.all(sends);
    const messages = await first.conversation('shared').messages();
    expect(messages).toHaveLength(41);
    const questions = messages.filter((message) => message.role === 'user').map((message) => message.content);
    expect(questions.sort()).toEqual([...Array.from({ length: 10 }, (_, i) => `a${i}`), ...Array.from({ length: 10 }, (_, i) => `b${i}`)].sort());
    for (let index = 1; index < messages.length; index += 2) expect(messages[index + 1].content).toBe(`re: ${messages[index].content}`);
    // The stored chain is the chain of the stored messages.
    expect(messages.map((message) => message.hash)).toEqual(prefixHashes(messages, { tokenizer: 'estimate' }));
  });

  it('a fork shares the prefix hashes and the cache key, then diverges', async () => {
    const client = createClient({ targets: [mockTarget({ id: 'mock' })] });
    const chat = client.conversation('origin', { system: 'sys' });
    await chat.send('one');
    const fork = await chat.fork('branch');
    expect(await fork.cacheKey()).toBe(await chat.cacheKey());
    const shared = (await chat.messages()).map((message) => message.hash);
    expect((await fork.messages()).map((message) => message.hash)).toEqual(shared);
    await fork.send('fork only');
    await chat.send('origin only');
    const forkHashes = (await fork.messages()).map((message) => message.hash);
    const originHashes = (await chat.messages()).map((message) => message.hash);
    expect(forkHashes.slice(0, 3)).toEqual(originHashes.slice(0, 3));
    expect(forkHashes[3]).not.toBe(originHashes[3]);
    expect((await fork.usage()).calls).toBe(1);
    await expect(chat.fork('branch')).rejects.toMatchObject({ code: 'INVALID_REQUEST', field: 'newId' });
  });

  it("'summarize' mode summarises each block of dropped turns once and sends the summary", async () => {
    const target = mockTarget({ id: 'small', limits: { contextTokens: 2048 }, generate: 'ok' });
    const client = createClient({ targets: [target] });
    const summarized: number[] = [];
    const options = {
      system: 'Be brief.',
      fit: 'summarize' as const,
      reserveOutputTokens: 128,
      summarize: (dropped: { content: string }[]) => {
        summarized.push(dropped.length);
        return `${dropped.length} earlier messages`;
      },
    };
    for (let turn = 0; turn < 40; turn++) await client.conversation('sum', options).send(`turn ${turn}: ${'text '.repeat(50)}`);
    expect(summarized.length).toBeGreaterThan(0);
    expect(summarized.length).toBeLessThan(8); // once per cut, not once per turn
    const last = target.calls.at(-1)!.call as { messages: { role: string; content: string }[] };
    expect(last.messages[0]).toEqual({ role: 'system', content: 'Be brief.' });
    expect(last.messages[1].role).toBe('system');
    expect(last.messages[1].content).toContain(`${summarized.at(-1)} earlier messages`);
    expect(last.messages[2].role).toBe('user');
  });

  it('an exact tokenizer counts differently from the estimate and is used for the record', async () => {
    const client = createClient({ targets: [mockTarget({ id: 'mock' })] });
    const text = 'a a a a a a a a a a a a';
    const estimated = client.conversation('estimate', { system: text });
    const exact = client.conversation('exact', { system: text, tokenizer: 'gpt-tokenizer' });
    const custom = client.conversation('custom', { system: text, tokenizer: (value) => value.split(' ').length });
    await Promise.all([estimated.send('x'), exact.send('x'), custom.send('x')]);
    const [a, b, c] = await Promise.all([estimated.messages(), exact.messages(), custom.messages()]);
    expect(b[0].tokens).not.toBe(a[0].tokens);
    expect(c[0].tokens).toBe(12 + 4);
    expect(b[0].tokens).toBe(12 + 4);
    expect(b[0].hash).not.toBe(a[0].hash);
  });

  it('a record written with another tokenizer is recounted and rehashed when opened, and keeps its turns', async () => {
    const store = memoryStore();
    const client = createClient({ targets: [mockTarget({ id: 'mock', generate: 'fine thanks' })], store });
    await client.conversation('switch', { system: 'Be brief.' }).send('how are you today');
    const before = await client.conversation('switch').messages();
    const words = { name: 'words', count: (text: string) => text.split(' ').filter(Boolean).length };
    const reopened = client.conversation('switch', { tokenizer: words });
    const after = await reopened.messages();
    expect(after.map((message) => message.content)).toEqual(before.map((message) => message.content));
    expect(after.map((message) => message.at)).toEqual(before.map((message) => message.at));
    expect(after[2].target).toBe('mock');
    // 'how are you today' is 4 words plus the per-message overhead the estimate adds too.
    expect(after[1].tokens - before[1].tokens).toBe(4 - Math.ceil('how are you today'.length / 4));
    expect(after.map((message) => message.hash)).toEqual(prefixHashes(after, { tokenizer: 'words' }));
    expect(after[0].hash).not.toBe(before[0].hash);
    await reopened.send('and tomorrow');
    expect((await reopened.messages()).map((message) => message.hash)).toEqual(prefixHashes(await reopened.messages(), { tokenizer: 'words' }));
    expect((await reopened.usage()).calls).toBe(2);
  });

  it('explain() shows the plan a turn would follow and records nothing', async () => {
    const device = mockTarget({ id: 'phone', kind: 'device', expected: { ttftMs: 5, totalMs: 50 } });
    (device as Target).kv = { layers: 28, kvHeads: 8, headDim: 128, bytesPerValue: 2, memoryBudgetBytes: 4 * 1024 ** 3, weightsBytes: 2 * 1024 ** 3 };
    const cloud = mockTarget({ id: 'cloud', kind: 'cloud', expected: { ttftMs: 300, totalMs: 900 } });
    const store = memoryStore();
    const client = createClient({ targets: [device, cloud], store });
    const chat = client.conversation('dry-run', { system: 'Be brief.' });
    const short = await chat.explain('short question');
    expect(short.candidates.map((candidate) => candidate.target.id)).toEqual(['phone', 'cloud']);
    const long = await chat.explain('x'.repeat(36_000));
    expect(long.candidates.map((candidate) => candidate.target.id)).toEqual(['cloud']);
    expect(long.rejected.find((rejection) => rejection.target === 'phone')?.reason).toMatch(/KV|memory/i);
    expect((await chat.messages()).map((message) => message.role)).toEqual(['system']);
    expect(await store.list('')).toEqual([]);
    expect(device.calls.length + cloud.calls.length).toBe(0);
  });

  it('sends a long conversation to the cloud when the device KV cache would not fit', async () => {
    const device = mockTarget({ id: 'phone', kind: 'device', expected: { ttftMs: 5, totalMs: 50 } });
    (device as Target).kv = { layers: 28, kvHeads: 8, headDim: 128, bytesPerValue: 2, memoryBudgetBytes: 4 * 1024 ** 3, weightsBytes: 2 * 1024 ** 3 };
    const cloud = mockTarget({ id: 'cloud', kind: 'cloud', expected: { ttftMs: 300, totalMs: 900 } });
    const client = createClient({ targets: [device, cloud] });
    const chat = client.conversation('kv', { system: 'Be brief.' });
    const short = await chat.send('short question');
    expect(short.route.target).toBe('phone');
    // About 9,000 tokens of history: 112 KiB a token no longer fits 0.7 x 4 GiB - 2 GiB.
    const long = await chat.send('x'.repeat(36_000));
    expect(long.route.target).toBe('cloud');
  });
});
