/**
 * On-device speech synthesis with the generated tone-alphabet model (transformers.js's
 * text-to-speech pipeline on onnxruntime-node): it regenerates byte for byte, the embedded
 * recognizer hears exactly what it says, and a voice session can run wholly on the device.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createClient, InvalidRequestError, type InferlaneClient } from '../../src/index.js';
import { decodeWav, wavFromPcm16 } from '../../src/realtime/index.js';
import { pcm16Samples, resample } from '../../src/realtime/audio.js';
import { transformers } from '../../providers/transformers/index.js';
import { defaultSpeechModel, transformersSpeech } from '../../providers/transformers/speech.js';
import { expectRegeneratesCommittedModel } from '../helpers/models.js';
import { toneSpeech } from '../servers/tone-codec.js';
import { SessionReader } from '../realtime/helpers.js';

let client: InferlaneClient;
const voice = transformersSpeech({ id: 'device:tts' });
const ears = transformers({ id: 'device:asr', tasks: ['transcription'] });

beforeAll(async () => {
  await Promise.all([voice.load(), ears.load()]);
  client = createClient({ targets: [voice, ears, transformers({ id: 'device:tiny' })] });
}, 60_000);
afterAll(async () => {
  await client?.close();
});

it('the generator writes the committed model again, byte for byte, and it is small', () => {
  expect(expectRegeneratesCommittedModel('scripts/generate-tts-model.mjs', defaultSpeechModel, ['config.json', 'tokenizer.json', 'tokenizer_config.json', 'onnx/model.onnx'])).toBeLessThan(256 * 1024);
});

it.each(['hello world', 'Good morning, Dave!', 'a batch job'])('the recognizer hears what the synthesiser says: %s', async (text) => {
  const spoken = await client.generateSpeech({ text, format: 'wav', privacy: 'device-only' });
  expect(spoken.route.target).toBe('device:tts');
  expect(spoken.mediaType).toBe('audio/wav');
  expect(decodeWav(spoken.audio).sampleRate).toBe(16_000);
  const heard = await client.transcribe({ audio: spoken.audio, privacy: 'device-only' });
  expect(heard.text).toBe(text.toLowerCase().replace(/[^a-z ]/g, ''));
});

it('refuses formats it cannot write and empty text, naming the field', async () => {
  const ctx = { signal: new AbortController().signal, deadline: Date.now() + 1_000, segment: 'interactive' as const, emit: () => undefined };
  await expect(voice.doSpeech!({ text: 'x', format: 'mp3' }, ctx)).rejects.toMatchObject({ field: 'format' });
  await expect(voice.doSpeech!({ text: ' ' }, ctx)).rejects.toBeInstanceOf(InvalidRequestError);
});

it("a voice session with privacy 'device-only': every stage on the device, audio the recognizer can read back", async () => {
  const session = client.realtime({ turnDetection: 'manual', privacy: 'device-only', cascade: { maxOutputTokens: 12 } });
  const reader = new SessionReader(session);
  expect(await session.ready).toBe('cascaded');
  session.sendAudio(toneSpeech('hello', 24_000));
  session.commit();
  const done = await reader.next('response-done');
  expect(done.status).toBe('completed');
  expect(done.route.stages.map((stage) => stage.target)).toEqual(['device:asr', 'device:tiny', 'device:tts']);
  // The answer's audio (resampled to the session's 24 kHz) says the answer's letters.
  const heard = await client.transcribe({ audio: wavOf(reader.audioOf(done.responseId)), privacy: 'device-only' });
  expect(heard.text).toBe(done.transcript.toLowerCase().replace(/[^a-z ]/g, '').replace(/\s+/g, ' ').trim());
  await session.close();
});

/** PCM16 at 24 kHz as a 16 kHz WAV the recognizer takes. */
const wavOf = (pcm24k: Uint8Array): Uint8Array => wavFromPcm16(resample(pcm16Samples(pcm24k), 24_000, 16_000), 16_000);
