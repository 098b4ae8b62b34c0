/**
 * The cascaded path on the device: the generated tone-alphabet recognizer (transformers.js on
 * onnxruntime-node) hears the session's 24 kHz PCM16 (resampled to its 16 kHz), the generated
 * tiny chat model answers on the device, and the local server's speech route speaks.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createClient, type InferlaneClient } from '../../src/index.js';
import { openai } from '../../providers/openai/index.js';
import { transformers } from '../../providers/transformers/index.js';
import { startOpenAIServer, type OpenAIServer } from '../servers/openai-compatible.js';
import { silence, toneSpeech } from '../servers/tone-codec.js';
import { SessionReader } from './helpers.js';

let cloud: OpenAIServer;
let client: InferlaneClient;
const rate = 24_000;

beforeAll(async () => {
  cloud = await startOpenAIServer({ seed: 11 });
  const ears = transformers({ id: 'device:asr', tasks: ['transcription'] });
  const brain = transformers({ id: 'device:tiny' });
  await Promise.all([ears.load(), brain.load()]);
  client = createClient({ targets: [ears, brain, openai({ id: 'cloud:tts', baseURL: cloud.baseURL, apiKey: 'test', model: 'tts-1', modalities: ['speech'] })] });
}, 60_000);
afterAll(async () => {
  await client?.close();
  await cloud?.close();
});

it('hears the words on the device, answers on the device, speaks through the speech route', async () => {
  const session = client.realtime({ turnDetection: 'manual', cascade: { textTargets: ['device:tiny'], maxOutputTokens: 12 } });
  const reader = new SessionReader(session);
  expect(await session.ready).toBe('cascaded');
  session.sendAudio(toneSpeech('hello world', rate));
  session.commit();
  const done = await reader.next('response-done');
  expect(done.status).toBe('completed');
  expect((await reader.next('input-transcript')).text).toBe('hello world');
  expect(done.transcript.length).toBeGreaterThan(0);
  expect(done.route.reason).toBe('no realtime target');
  expect(done.route.stages.map((stage) => [stage.stage, stage.target])).toEqual([
    ['transcribe', 'device:asr'],
    ['text', 'device:tiny'],
    ['speech', 'cloud:tts'],
  ]);
  // Only the speech stage left the device.
  expect(cloud.requests.map((request) => request.route).every((route) => route === '/audio/speech')).toBe(true);
  await session.close();
});

it('voice activity on the device ends the turn and barge-in stops the answer', async () => {
  // A slow speech route keeps the answer in progress while the user speaks again.
  cloud.script('/audio/speech', [{ latencyMs: 300 }]);
  const session = client.realtime({ turnDetection: 'vad', cascade: { textTargets: ['device:tiny'], maxOutputTokens: 12 } });
  const reader = new SessionReader(session);
  await session.ready;
  session.sendAudio(toneSpeech('hi', rate));
  session.sendAudio(silence(300, rate)); // 200 ms of quiet ends the turn
  await reader.next('speech-stopped');
  const started = await reader.next('response-started');
  await reader.next('transcript-delta', (event) => event.responseId === started.responseId);
  session.sendAudio(toneSpeech('stop', rate));
  const done = await reader.next('response-done', (event) => event.responseId === started.responseId);
  expect(done.status).toBe('cancelled');
  expect(done.reason).toBe('barge-in');
  expect((await reader.next('input-transcript')).text).toBe('hi');
  session.sendAudio(silence(300, rate));
  const next = await reader.next('input-transcript', (event) => event.text !== 'hi');
  expect(next.text).toBe('stop');
  await session.close();
  cloud.script('/audio/speech', []);
}, 20_000);
