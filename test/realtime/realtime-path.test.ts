/**
 * Voice sessions on the realtime path: the real adapter (ws) against the Realtime emulation
 * over a socket on 127.0.0.1, through client.realtime().
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createClient, type InferlaneClient } from '../../src/index.js';
import { openaiRealtime } from '../../providers/openai/realtime.js';
import { startRealtimeServer, type RealtimeEmulation } from '../servers/realtime.js';
import { decodeTones, silence, toneSpeech } from '../servers/tone-codec.js';
import { SessionReader } from './helpers.js';

let server: RealtimeEmulation;
let client: InferlaneClient;
const rate = 24_000;

beforeAll(async () => {
  server = await startRealtimeServer();
});
afterAll(async () => {
  await server.close();
});
afterEach(async () => {
  await client?.close();
  server.script({ dialect: 'ga', firstAudioDelayMs: 0, hangResponses: false, refuseStatus: undefined, reply: undefined });
});

function voiceClient(settings: Parameters<typeof openaiRealtime>[0] = {}): InferlaneClient {
  client = createClient({ targets: [openaiRealtime({ baseURL: server.baseURL, apiKey: server.apiKey, ...settings })] });
  return client;
}

describe.each(['ga', 'beta'] as const)('a full turn (%s event names)', (dialect) => {
  it('takes audio in and gives audio deltas and the transcript out, with a realtime route', async () => {
    server.script({ dialect });
    const session = voiceClient({ dialect }).realtime({ turnDetection: 'manual', instructions: 'Be brief.' });
    const reader = new SessionReader(session);
    expect(await session.ready).toBe('realtime');
    session.sendAudio(toneSpeech('hello there', rate));
    session.commit();
    const done = await reader.next('response-done');
    expect(done.status).toBe('completed');
    expect(done.transcript).toBe('you said hello there');
    expect((await reader.next('input-transcript')).text).toBe('hello there');
    // The deltas are audio that says the transcript (the emulation speaks the tone alphabet).
    const deltas = reader.events.filter((event) => event.type === 'audio-delta');
    expect(deltas.length).toBeGreaterThan(1);
    expect(decodeTones(reader.audioOf(done.responseId), rate)).toBe('you said hello there');
    expect(reader.events.filter((event) => event.type === 'transcript-delta').map((event) => (event as { text: string }).text).join('')).toBe('you said hello there');
    expect(done.route).toMatchObject({ path: 'realtime', target: 'openai-realtime:gpt-realtime', fellBack: false, withinBudget: true });
    expect(done.route.firstAudioMs).toBeGreaterThanOrEqual(0);
    expect(done.route.stages.map((stage) => stage.stage)).toEqual(['realtime']);
    const connection = server.connections.at(-1)!;
    expect(connection.auth).toBe('header');
    expect(connection.events.map((event) => event.type)).toEqual(['session.update', 'input_audio_buffer.append', 'input_audio_buffer.commit', 'response.create']);
    const update = connection.events[0].event.session as Record<string, unknown>;
    expect(update.instructions).toBe('Be brief.');
    if (dialect === 'ga') expect(update.type).toBe('realtime');
    else expect(update.input_audio_format).toBe('pcm16');
    await session.close();
    // The turn is in the conversation store.
    const messages = await client.conversation(session.conversationId).messages();
    expect(messages.map((message) => [message.role, message.content])).toEqual([
      ['system', 'Be brief.'],
      ['user', 'hello there'],
      ['assistant', 'you said hello there'],
    ]);
    expect(messages[2].target).toBe('openai-realtime:gpt-realtime');
  });
});

it('a typed message gets a spoken answer', async () => {
  const session = voiceClient().realtime({ turnDetection: 'manual' });
  const reader = new SessionReader(session);
  session.sendText('what time is it');
  const done = await reader.next('response-done');
  expect(done.transcript).toBe('you said what time is it');
  expect(server.connections.at(-1)!.events.map((event) => event.type)).toEqual(['session.update', 'conversation.item.create', 'response.create']);
  await session.close();
});

it('a tool call is answered with function_call_output and a new response.create', async () => {
  const calls: unknown[] = [];
  const session = voiceClient().realtime({
    turnDetection: 'manual',
    tools: [{ name: 'lookup', description: 'Looks a word up', parameters: { type: 'object', properties: { text: { type: 'string' } } }, execute: (args) => (calls.push(args), 'sunny') }],
  });
  const reader = new SessionReader(session);
  session.sendText('call the weather');
  const call = await reader.next('tool-call');
  expect(call).toMatchObject({ name: 'lookup', arguments: JSON.stringify({ text: 'the weather' }) });
  const answer = await reader.next('response-done', (event) => event.transcript !== '');
  expect(answer.transcript).toBe('the tool said sunny');
  expect(calls).toEqual([{ text: 'the weather' }]);
  const sent = server.connections.at(-1)!.events;
  const output = sent.find((event) => event.type === 'conversation.item.create' && (event.event.item as { type: string }).type === 'function_call_output')!;
  expect(output.event.item).toEqual({ type: 'function_call_output', call_id: call.callId, output: 'sunny' });
  // The tool's answer was asked for after its output: response.create follows the item.
  expect(sent.slice(sent.indexOf(output)).map((event) => event.type)).toEqual(['conversation.item.create', 'response.create']);
  expect(sent.filter((event) => event.type === 'response.create')).toHaveLength(2);
  expect(sent.some((event) => event.type === 'response.cancel')).toBe(false);
  await session.close();
});

it('a tool without execute is answered by the caller with sendToolResult', async () => {
  const session = voiceClient().realtime({ turnDetection: 'manual', tools: [{ name: 'lookup' }] });
  const reader = new SessionReader(session);
  session.sendText('call home');
  const call = await reader.next('tool-call');
  session.sendToolResult(call.callId, { answer: 42 });
  const answer = await reader.next('response-done', (event) => event.transcript !== '');
  expect(answer.transcript).toBe('the tool said {"answer":42}');
  await session.close();
});

it('barge-in: speech over a response sends response.cancel and the response ends cancelled', async () => {
  // Slow deltas keep the first answer going while the user speaks again.
  server.script({ interDeltaMs: 40 });
  const session = voiceClient().realtime({ turnDetection: 'vad' });
  const reader = new SessionReader(session);
  session.sendAudio(toneSpeech('one', rate));
  session.sendAudio(silence(400, rate)); // the server's VAD ends the turn and answers
  const started = await reader.next('response-started');
  await reader.next('audio-delta', (event) => event.responseId === started.responseId);
  session.sendAudio(toneSpeech('two', rate)); // the user talks over the answer
  const done = await reader.next('response-done', (event) => event.responseId === started.responseId);
  expect(done.status).toBe('cancelled');
  expect(done.reason).toBe('barge-in');
  const sent = server.connections.at(-1)!.events.map((event) => event.type);
  expect(sent).toContain('response.cancel');
  // Speech started was seen before the cancel went out.
  const speech = reader.events.findIndex((event, index) => event.type === 'speech-started' && index > reader.events.indexOf(started));
  expect(speech).toBeGreaterThan(-1);
  // The new turn is answered once it ends.
  session.sendAudio(silence(400, rate));
  const second = await reader.next('response-done', (event) => event.responseId !== started.responseId);
  expect(second.transcript).toBe('you said two');
  server.script({ interDeltaMs: 0 });
  await session.close();
});

it('cancel() sends response.cancel for the response in progress', async () => {
  server.script({ hangResponses: true });
  const session = voiceClient().realtime({ turnDetection: 'manual', latency: 60_000 });
  const reader = new SessionReader(session);
  session.sendText('hang on');
  await reader.next('response-started');
  session.cancel();
  const done = await reader.next('response-done');
  expect(done.status).toBe('cancelled');
  expect(server.connections.at(-1)!.events.map((event) => event.type)).toContain('response.cancel');
  await session.close();
});
