/**
 * A session's life: a dropped socket reconnects once with the conversation restored from the
 * store (the interrupted turn asked again), a second drop falls back to the cascaded path, the
 * provider's session limit ends the session, and close() leaves no socket, timer or call behind.
 */
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { createClient, type InferlaneClient } from '../../src/index.js';
import type { RealtimeSessionOptions } from '../../src/realtime/index.js';
import { openai } from '../../providers/openai/index.js';
import { openaiRealtime, type OpenAIRealtimeSettings } from '../../providers/openai/realtime.js';
import { startOpenAIServer, type OpenAIServer } from '../servers/openai-compatible.js';
import { startRealtimeServer, type RealtimeEmulation } from '../servers/realtime.js';
import { activeResources, countingClock, resourcesBeyond, SessionReader } from './helpers.js';

let voice: RealtimeEmulation;
let cloud: OpenAIServer;
let client: InferlaneClient;

beforeAll(async () => {
  [voice, cloud] = await Promise.all([startRealtimeServer(), startOpenAIServer({ seed: 5 })]);
});
afterAll(async () => {
  await Promise.all([voice.close(), cloud.close()]);
});
afterEach(async () => {
  await client?.close();
  cloud.reset();
  voice.script({ maxSessionMs: undefined, hangResponses: false, connectDelayMs: 0, interDeltaMs: 0 });
});

function session(options: RealtimeSessionOptions = {}, settings: OpenAIRealtimeSettings = {}) {
  client = createClient({
    targets: [
      openaiRealtime(Object.assign({ baseURL: voice.baseURL, apiKey: voice.apiKey }, settings)),
      openai({ id: 'cloud', baseURL: cloud.baseURL, apiKey: 'test', model: 'chat-model', transcriptionModel: 'whisper-1', speechModel: 'tts-1' }),
    ],
  });
  const created = client.realtime(Object.assign({ turnDetection: 'manual' as const, latency: 2_000 }, options));
  return { session: created, reader: new SessionReader(created) };
}

it('a dropped socket reconnects once, with the conversation restored from the store and the cut-off turn asked again', async () => {
  // Turn one is "you said one" (3 audio deltas); the socket is cut after the 4th: inside turn two.
  voice.dropNext(4);
  const { session: s, reader } = session({ conversation: 'voice-user-1' });
  await s.ready;
  s.sendText('one');
  await reader.next('response-done', (event) => event.transcript === 'you said one');
  const firstConnection = voice.connections.at(-1)!;
  s.sendText('two');
  const cut = await reader.next('response-done', (event) => event.status === 'failed');
  expect(cut.reason).toMatch(/dropped/);
  expect(firstConnection.dropped).toBe(true);
  const reconnected = await reader.next('reconnected');
  expect(reconnected.restoredMessages).toBe(2);
  const answer = await reader.next('response-done', (event) => event.transcript === 'you said two');
  expect(answer.status).toBe('completed');
  expect(answer.route.path).toBe('realtime');
  expect(answer.route.stages.map((stage) => [stage.stage, stage.outcome])).toEqual([
    ['realtime', 'error'],
    ['connect', 'ok'],
    ['realtime', 'ok'],
  ]);
  // The new socket started with the history from the store, then the interrupted turn.
  const second = voice.connections.at(-1)!;
  expect(second).not.toBe(firstConnection);
  const created = second.events.filter((event) => event.type === 'conversation.item.create').map((event) => {
    const item = event.event.item as { role: string; content: { type: string; text: string }[] };
    return [item.role, item.content[0].type, item.content[0].text];
  });
  expect(created).toEqual([
    ['user', 'input_text', 'one'],
    ['assistant', 'output_text', 'you said one'],
    ['user', 'input_text', 'two'],
  ]);
  // The emulated model answered turn two knowing turn one (its conversation holds both).
  expect(second.items.map((item) => item.text)).toEqual(['one', 'you said one', 'two', 'you said two']);
  await s.close();
  const stored = await client.conversation('voice-user-1').messages();
  expect(stored.map((message) => message.content)).toEqual(['one', 'you said one', 'two', 'you said two']);
});

it('a second drop after the reconnect falls back to the cascaded path, answering the cut-off turn there', async () => {
  voice.dropNext(1);
  voice.dropNext(1);
  const { session: s, reader } = session();
  await s.ready;
  s.sendText('hello');
  const fallback = await reader.next('fallback');
  expect(fallback.reason).toMatch(/dropped again/);
  const answer = await reader.next('response-done', (event) => event.status === 'completed');
  expect(answer.route.path).toBe('cascaded');
  expect(answer.transcript).toContain('hello');
  expect(voice.connections.slice(-2).every((connection) => connection.dropped)).toBe(true);
  await s.close();
});

it("the provider's session limit ends the session without a reconnect", async () => {
  voice.script({ maxSessionMs: 30 });
  const before = voice.connections.length;
  const { session: s, reader } = session();
  const closed = await reader.next('closed');
  expect(closed.reason).toBe('session-limit');
  expect(reader.types()).toContain('error'); // session_expired, passed on
  expect(voice.connections.length).toBe(before + 1);
  await reader.done;
  expect(() => s.sendText('late')).toThrow(/closed/);
});

it("the session closes itself at the provider's declared limit", async () => {
  const { reader } = session({}, { maxSessionMs: 80 });
  const ready = await reader.next('session-ready');
  expect(ready.path).toBe('realtime');
  expect((await reader.next('closed')).reason).toBe('session-limit');
  await voice.waitFor((connection) => connection === voice.connections.at(-1) && connection.closed);
});

it('close() leaves no socket, timer or call behind: idle, mid-response, mid-connect and mid-cascade', async () => {
  const baseline = activeResources();
  const settle = async () => {
    // The emulation (in this process) lets go of its side once it sees the socket close; then
    // closed handles leave Node's list on the next turn of the event loop. A socket the session
    // had left open would keep both sides, and the server's timers, in the list.
    await voice.waitFor(() => voice.openSockets() === 0);
    await new Promise<void>((resolve) => setImmediate(resolve));
  };

  // Idle on the realtime path.
  let { session: s } = session();
  await s.ready;
  await s.close();
  await client.close();
  await settle();
  expect(resourcesBeyond(baseline)).toEqual({});

  // A response in flight (the model hangs), with its budget timer armed.
  voice.script({ hangResponses: true });
  let reader: SessionReader;
  ({ session: s, reader } = session({ latency: 60_000 }));
  s.sendText('wait');
  await reader.next('response-started');
  await s.close();
  await reader.done;
  expect(reader.events.at(-1)).toEqual({ type: 'closed', reason: 'client' });
  expect(reader.events.find((event) => event.type === 'response-done')).toMatchObject({ status: 'cancelled' });
  await client.close();
  await settle();
  expect(resourcesBeyond(baseline)).toEqual({});
  voice.script({ hangResponses: false });

  // While connecting (the endpoint is slow to start the session).
  voice.script({ connectDelayMs: 10_000 });
  ({ session: s } = session({ latency: 60_000 }));
  await voice.waitFor((connection) => !connection.closed);
  await s.close();
  expect(await s.ready).toBe('closed');
  await client.close();
  await settle();
  expect(resourcesBeyond(baseline)).toEqual({});
  voice.script({ connectDelayMs: 0 });

  // A cascaded turn in flight (the cloud's chat route hangs). The test server keeps its side of
  // an aborted request's socket, so here the session's own timers are counted through its clock
  // and the abort is read from the server's record.
  cloud.script('/chat/completions', [{ hang: true }]);
  const clock = countingClock();
  ({ session: s, reader } = session({ targets: [], latency: 60_000, maxDurationMs: 600_000, clock }));
  s.sendText('slow answer');
  await cloud.waitForRequests(1, '/chat/completions');
  await s.close();
  await reader.done;
  expect(reader.events.find((event) => event.type === 'response-done')).toMatchObject({ status: 'cancelled' });
  // The chat request was aborted: the server saw its connection close.
  await cloud.waitFor((requests) => requests.every((request) => request.finishedAt !== undefined));
  expect(cloud.requests.find((request) => request.route === '/chat/completions')?.aborted).toBe(true);
  expect(clock.live()).toBe(0);
});
