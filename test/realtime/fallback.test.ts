/**
 * The cascaded path: a refused, slow or dropping realtime endpoint hands the session to speech
 * to text -> the fastest text target (streamed) -> speech, on the local OpenAI-compatible
 * server's transcription, chat and speech routes (the real openai client over HTTP), with the
 * same events and a route per response.
 */
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { createClient, type InferlaneClient } from '../../src/index.js';
import type { RealtimeSessionOptions } from '../../src/realtime/index.js';
import { openai } from '../../providers/openai/index.js';
import { openaiRealtime } from '../../providers/openai/realtime.js';
import { startOpenAIServer, type OpenAIServer } from '../servers/openai-compatible.js';
import { startRealtimeServer, type RealtimeEmulation } from '../servers/realtime.js';
import { silence, toneSpeech } from '../servers/tone-codec.js';
import { SessionReader } from './helpers.js';

let voice: RealtimeEmulation;
let cloud: OpenAIServer;
afterEach(() => cloud?.reset());
let client: InferlaneClient;
const rate = 24_000;

beforeAll(async () => {
  [voice, cloud] = await Promise.all([startRealtimeServer(), startOpenAIServer({ seed: 3 })]);
});
afterAll(async () => {
  await Promise.all([voice.close(), cloud.close()]);
});
afterEach(async () => {
  await client?.close();
  voice.script({ refuseStatus: undefined, hangResponses: false, connectDelayMs: 0, firstAudioDelayMs: 0 });
});

function session(options: RealtimeSessionOptions = {}) {
  client = createClient({
    targets: [
      openaiRealtime({ baseURL: voice.baseURL, apiKey: voice.apiKey }),
      openai({ id: 'cloud', baseURL: cloud.baseURL, apiKey: 'test', model: 'chat-model', transcriptionModel: 'whisper-1', speechModel: 'tts-1' }),
    ],
  });
  const created = client.realtime(Object.assign({ turnDetection: 'manual' as const, latency: 300 }, options));
  return { session: created, reader: new SessionReader(created) };
}

it('a refused realtime endpoint: the session runs cascaded, with the same events and a route per stage', async () => {
  voice.script({ refuseStatus: 503 });
  const { session: s, reader } = session();
  expect(await s.ready).toBe('cascaded');
  const fallback = await reader.next('fallback');
  expect(fallback.reason).toMatch(/could not be used .*PROVIDER_ERROR/);
  s.sendAudio(toneSpeech('hello', rate));
  s.commit();
  const done = await reader.next('response-done');
  expect(done.status).toBe('completed');
  const transcript = (await reader.next('input-transcript')).text;
  expect(transcript).toMatch(/^transcript of \d+ bytes/);
  // The chat route echoes the user's words; the transcript deltas are that answer.
  expect(done.transcript).toContain('transcript of');
  expect(reader.events.filter((event) => event.type === 'audio-delta').length).toBeGreaterThan(0);
  // The same event kinds as the realtime path, in the same order.
  const kinds = reader.types().filter((type) => ['response-started', 'input-transcript', 'transcript-delta', 'audio-delta', 'response-done'].includes(type));
  expect(kinds[0]).toBe('response-started');
  expect(kinds.at(-1)).toBe('response-done');
  expect(done.route).toMatchObject({ path: 'cascaded', fellBack: true });
  expect(done.route.stages.map((stage) => [stage.stage, stage.target, stage.outcome])).toEqual([
    ['connect', 'openai-realtime:gpt-realtime', 'error'],
    ['transcribe', 'cloud', 'ok'],
    ['text', 'cloud', 'ok'],
    ['speech', 'cloud', 'ok'],
  ]);
  expect(done.route.firstAudioMs).toBeGreaterThan(0);
  // One speech call per sentence chunk, each giving one audio delta.
  const spoken = reader.events.filter((event) => event.type === 'audio-delta').length;
  expect(cloud.requests.map((request) => request.route)).toEqual(['/audio/transcriptions', '/chat/completions', ...Array<string>(spoken).fill('/audio/speech')]);
  await s.close();
  // The cascaded turn was recorded by the conversation.
  const messages = await client.conversation(s.conversationId).messages();
  expect(messages.map((message) => message.role)).toEqual(['user', 'assistant']);
});

it('a slow first audio: the response is cancelled at the endpoint within the budget and answered cascaded', async () => {
  voice.script({ hangResponses: true });
  const { session: s, reader } = session({ latency: 250 });
  expect(await s.ready).toBe('realtime');
  s.sendText('are you there');
  const fallback = await reader.next('fallback');
  expect(fallback.reason).toMatch(/first audio missed the 250 ms budget/);
  const done = await reader.next('response-done', (event) => event.route.path === 'cascaded');
  expect(done.status).toBe('completed');
  expect(done.transcript).toContain('are you there');
  const [realtime] = done.route.stages;
  expect(realtime).toMatchObject({ stage: 'realtime', outcome: 'timeout', code: 'DEADLINE_EXCEEDED' });
  // Timers never fire early: the switch happened once the budget was spent, not before.
  expect(realtime.ms).toBeGreaterThanOrEqual(250);
  expect(done.route.stages.slice(1).map((stage) => stage.stage)).toEqual(['text', 'speech']);
  // The endpoint was told to stop, and its socket closed.
  const connection = voice.connections.at(-1)!;
  expect(connection.events.map((event) => event.type)).toEqual(['session.update', 'conversation.item.create', 'response.create', 'response.cancel']);
  await voice.waitFor((record) => record === connection && record.closed);
  // Later turns stay on the cascaded path.
  s.sendText('and now');
  const next = await reader.next('response-done', (event) => event.transcript.includes('and now'));
  expect(next.route.path).toBe('cascaded');
  expect(voice.connections.at(-1)).toBe(connection);
  await s.close();
});

it('an endpoint that does not connect within the budget: cascaded from the start', async () => {
  voice.script({ connectDelayMs: 5_000 });
  const { session: s, reader } = session({ latency: 200 });
  expect(await s.ready).toBe('cascaded');
  const fallback = await reader.next('fallback');
  expect(fallback.reason).toMatch(/DEADLINE_EXCEEDED/);
  expect(fallback.afterMs).toBeGreaterThanOrEqual(200);
  s.sendText('hi');
  const done = await reader.next('response-done');
  expect(done.route.stages[0]).toMatchObject({ stage: 'connect', outcome: 'timeout' });
  await s.close();
  expect(voice.openSockets()).toBe(0);
});

it("privacy 'device-only' never opens a realtime socket", async () => {
  const before = voice.upgrades;
  const { session: s, reader } = session({ privacy: 'device-only' });
  expect(await s.ready).toBe('cascaded');
  s.sendText('secret');
  const done = await reader.next('response-done');
  // No device target in this client: the stage fails with NO_ROUTE rather than reaching the network.
  expect(done.status).toBe('failed');
  expect(voice.upgrades).toBe(before);
  expect(cloud.requests.length).toBe(0);
  await s.close();
});

it('cascade: false ends the session with an error when the realtime path fails', async () => {
  voice.script({ refuseStatus: 401 });
  const { session: s, reader } = session({ cascade: false });
  const error = await reader.next('error');
  expect(String((error.error as Error).message)).toMatch(/cascade is off.*AUTHENTICATION_FAILED/);
  expect((await reader.next('closed')).reason).toBe('failed');
  await s.close();
});

it('voice detection on the device: the quiet before a turn is not sent to transcription', async () => {
  voice.script({ refuseStatus: 503 });
  const { session: s, reader } = session({ turnDetection: 'vad' });
  await s.ready;
  for (let second = 0; second < 5; second++) s.sendAudio(silence(1_000, rate)); // 5 s of a quiet room
  s.sendAudio(toneSpeech('hi', rate));
  s.sendAudio(silence(300, rate));
  await reader.next('response-done');
  const upload = cloud.requests.find((request) => request.route === '/audio/transcriptions')!;
  const file = (upload.body as { file: { bytes: number } }).file;
  // 'hi' is 160 ms of tones and gaps; with 300 ms before and the 300 ms after it, at 16 kHz, 16-bit:
  // about 25 KB. Five seconds of the room would have been 160 KB more.
  expect(file.bytes).toBeLessThan(32_000);
  expect(file.bytes).toBeGreaterThan(44 + 2 * 16 * (160 + 200));
  await s.close();
});
