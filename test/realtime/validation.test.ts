/** Bad input to client.realtime() and to a session's methods: a typed error naming the field. */
import { afterEach, expect, it } from 'vitest';
import { createClient, type InferlaneClient } from '../../src/index.js';
import { mockTarget } from '../../src/testing.js';
import { decodeWav, wavFromPcm16 } from '../../src/realtime/index.js';
import { resample } from '../../src/realtime/audio.js';
import { EnergyVad } from '../../src/realtime/vad.js';
import { silence, toneSpeech } from '../servers/tone-codec.js';
import { fieldOf } from './helpers.js';

let client: InferlaneClient;
afterEach(async () => {
  await client?.close();
});

it('names the bad option', () => {
  client = createClient({ targets: [mockTarget({ id: 'text' })] });
  expect(fieldOf(() => client.realtime({ latency: -5 }))).toBe('latency');
  expect(fieldOf(() => client.realtime({ turnDetection: 'push-to-talk' as never }))).toBe('turnDetection');
  expect(fieldOf(() => client.realtime({ tools: [{ name: 'has space' }] }))).toBe('tools[0].name');
  expect(fieldOf(() => client.realtime({ targets: ['nope'] }))).toBe('targets');
  expect(fieldOf(() => client.realtime({ targets: ['text'] }))).toBe('targets');
  expect(fieldOf(() => client.realtime({ sampleRate: 0 }))).toBe('sampleRate');
  expect(fieldOf(() => client.realtime({ maxReconnects: 1.5 }))).toBe('maxReconnects');
  expect(fieldOf(() => client.realtime({ cascade: { maxChunkChars: 0 } }))).toBe('cascade.maxChunkChars');
});

it("names the bad input of a session's methods, and refuses them once closed", async () => {
  client = createClient({ targets: [mockTarget({ id: 'text' })] });
  const session = client.realtime({ turnDetection: 'manual' });
  expect(fieldOf(() => session.sendAudio(new Uint8Array(3)))).toBe('audio');
  expect(fieldOf(() => session.sendAudio('pcm' as never))).toBe('audio');
  expect(fieldOf(() => session.commit())).toBe('audio');
  expect(fieldOf(() => session.sendText('  '))).toBe('text');
  expect(fieldOf(() => session.sendToolResult('', 'x'))).toBe('callId');
  await session.close();
  expect(fieldOf(() => session.sendText('late'))).toBe('session');
});

it('WAV and resampling keep the signal: 24 kHz tones through 16 kHz and back', () => {
  const pcm = toneSpeech('abc', 24_000);
  const samples = new Int16Array(pcm.buffer.slice(0));
  const down = resample(samples, 24_000, 16_000);
  expect(down.length).toBe(Math.round((samples.length * 2) / 3));
  const { samples: read, sampleRate } = decodeWav(wavFromPcm16(down, 16_000));
  expect(sampleRate).toBe(16_000);
  expect(Array.from(read)).toEqual(Array.from(down));
  expect(fieldOf(() => decodeWav(new Uint8Array(40)))).toBe('audio');
});

it('the device VAD is timed by the audio, not the clock', () => {
  const vad = new EnergyVad(24_000, { silenceMs: 100 });
  expect(vad.push(silence(500, 24_000))).toEqual([]);
  // One call or many small ones: the same transitions.
  const speech = toneSpeech('hi', 24_000);
  const pieces = [speech.subarray(0, 1001), speech.subarray(1001), silence(60, 24_000)]; // with the last symbol's gap frame: 80 ms of quiet
  expect(pieces.flatMap((piece) => vad.push(piece))).toEqual(['speech-started']);
  expect(vad.push(silence(100, 24_000))).toEqual(['speech-stopped']);
});
