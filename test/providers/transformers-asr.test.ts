/**
 * On-device transcription through the transformers.js adapter, against the real library and
 * onnxruntime-node, with the tone-alphabet recognizer scripts/generate-asr-model.mjs writes.
 * No doubles: the audio is synthesised (examples/tone-audio.ts) and the model is real ONNX.
 */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { failure } from '../helpers/async.js';
import { expectRegeneratesCommittedModel } from '../helpers/models.js';
import { createClient } from '../../src/index.js';
import { AbortedError, InvalidRequestError, TargetUnavailableError } from '../../src/errors.js';
import type { CallContext, ModelProgressEvent } from '../../src/target.js';
import { openai } from '../../providers/openai/index.js';
import { defaultTranscriptionModel, transformers, type TransformersTarget } from '../../providers/transformers/index.js';
import { toneSamples, wavBytes } from '../../examples/tone-audio.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const files = ['config.json', 'preprocessor_config.json', 'tokenizer.json', 'tokenizer_config.json', 'onnx/model.onnx'];

function context(signal: AbortSignal = new AbortController().signal, events: ModelProgressEvent[] = []): CallContext {
  return { signal, deadline: Date.now() + 30_000, segment: 'interactive', emit: (_name, payload) => events.push(payload) };
}
const wav = (text: string, options: Parameters<typeof wavBytes>[1] = {}) => wavBytes(toneSamples(text), options);

let target: TransformersTarget;
beforeAll(async () => {
  target = transformers({ id: 'device:asr', tasks: ['transcription'] });
  await target.load();
});
afterAll(async () => {
  await target.close?.();
});

describe('the generated speech model', () => {
  it('is what the generator writes today, byte for byte (deterministic, committed), and small', () => {
    expect(expectRegeneratesCommittedModel('scripts/generate-asr-model.mjs', defaultTranscriptionModel, files)).toBeLessThan(256 * 1024);
  });
});

describe('transformers target: transcription', () => {
  it('serves only transcription when asked for it alone, and is available once loaded', async () => {
    expect(target.modalities).toEqual(['transcription']);
    expect(target.doGenerate).toBeUndefined();
    expect(await target.available!(new AbortController().signal)).toBe('available');
  });

  it.each(['hello world', 'inferlane', 'the quick brown fox jumps over the lazy dog', 'aardvark bookkeeper'])('transcribes the tones of %j exactly', async (text) => {
    const result = await target.doTranscribe!({ audio: wav(text), mediaType: 'audio/wav' }, context());
    expect(result.text).toBe(text);
    expect(result.durationSeconds).toBeCloseTo(toneSamples(text).length / 16_000, 6);
  });

  it('reads 32-bit float and stereo WAV, audio not aligned with its frames, and raw float32 samples', async () => {
    expect((await target.doTranscribe!({ audio: wav('float', { encoding: 'float32' }) }, context())).text).toBe('float');
    expect((await target.doTranscribe!({ audio: wav('stereo', { channels: 2 }) }, context())).text).toBe('stereo');
    const shifted = wavBytes(toneSamples('hello offset', { offsetSamples: 137 }));
    expect((await target.doTranscribe!({ audio: shifted }, context())).text).toBe('hello offset');
    const samples = toneSamples('raw samples');
    const raw = new Uint8Array(samples.buffer, samples.byteOffset, samples.byteLength);
    expect((await target.doTranscribe!({ audio: raw, mediaType: 'audio/pcm;encoding=float32;rate=16000' }, context())).text).toBe('raw samples');
  });

  it('hears nothing in silence', async () => {
    expect((await target.doTranscribe!({ audio: wavBytes(new Float32Array(16_000)) }, context())).text).toBe('');
  });

  it('refuses audio it cannot read with InvalidRequestError naming the field', async () => {
    const cases: [Uint8Array, string | undefined, string, RegExp][] = [
      [new TextEncoder().encode('not a wav file at all'), 'audio/wav', 'audio', /RIFF/],
      [wav('hello', { sampleRate: 44_100 }), undefined, 'audio', /44100 Hz; the model needs 16000 Hz/],
      [wav('hello').slice(0, 40), undefined, 'audio', /data chunk/],
      [wav('hello'), 'audio/mpeg', 'mediaType', /not supported/],
      [new Uint8Array(8), 'audio/pcm;encoding=s16le', 'mediaType', /float32/],
    ];
    for (const [audio, mediaType, field, message] of cases) {
      const error = await failure(target.doTranscribe!({ audio, mediaType }, context()));
      expect(error, `${field} ${message}`).toBeInstanceOf(InvalidRequestError);
      expect((error as InvalidRequestError).field).toBe(field);
      expect((error as Error).message).toMatch(message);
    }
    // 8-bit PCM is valid WAV, but not a format the adapter reads.
    const eightBit = wav('hi');
    new DataView(eightBit.buffer).setUint16(34, 8, true);
    expect((await failure(target.doTranscribe!({ audio: eightBit }, context()))).message).toMatch(/16-bit PCM or 32-bit float/);
  });

  it('rejects with AbortedError when the signal is already aborted, and when it aborts during the call', async () => {
    const before = new AbortController();
    before.abort();
    expect(await failure(target.doTranscribe!({ audio: wav('hello') }, context(before.signal)))).toBeInstanceOf(AbortedError);
    const during = new AbortController();
    const pending = target.doTranscribe!({ audio: wav('hello') }, context(during.signal));
    during.abort();
    expect(await failure(pending)).toBeInstanceOf(AbortedError);
  });

  it('loads lazily with progress events, and says unavailable (TargetUnavailableError) without the model', async () => {
    const fresh = transformers({ id: 'device:asr-fresh', tasks: ['transcription'] });
    const events: ModelProgressEvent[] = [];
    try {
      expect(await fresh.available!(new AbortController().signal)).toBe('downloadable');
      expect((await fresh.doTranscribe!({ audio: wav('lazy') }, context(undefined, events))).text).toBe('lazy');
      expect(events.map((event) => event.status)).toContain('ready');
    } finally {
      await fresh.close?.();
    }
    const missing = transformers({ id: 'device:asr-missing', tasks: ['transcription'], transcriptionModel: 'no-such-speech-model' });
    expect(await missing.available!(new AbortController().signal)).toBe('unavailable');
    expect(await failure(missing.doTranscribe!({ audio: wav('x') }, context()))).toBeInstanceOf(TargetUnavailableError);
  });
});

describe('through the client', () => {
  it('client.transcribe with privacy device-only answers from the device, never from a cloud that could', async () => {
    // A cloud target that transcribes too, at an address where nothing listens: reaching it shows in the attempts.
    const cloud = openai({ id: 'cloud', model: 'm', baseURL: 'http://127.0.0.1:9/v1', apiKey: 'test', transcriptionModel: 'whisper-1' });
    const client = createClient({ targets: [cloud, target] });
    const result = await client.transcribe({ audio: wav('hello world'), mediaType: 'audio/wav', targets: ['cloud', 'device:asr'], privacy: 'device-only' });
    expect(result.text).toBe('hello world');
    expect(result.route.target).toBe('device:asr');
    expect(result.route.attempts.map((attempt) => attempt.target)).toEqual(['device:asr']);
  });

  it('a device-only client transcribes, and a bad WAV surfaces as INVALID_REQUEST on the audio field', async () => {
    const client = createClient({ targets: [target] });
    const result = await client.transcribe({ audio: wav('inferlane').buffer as ArrayBuffer, privacy: 'device-only' });
    expect(result).toMatchObject({ text: 'inferlane', route: { target: 'device:asr' } });
    const error = await failure(client.transcribe({ audio: wav('hello', { sampleRate: 8_000 }), privacy: 'device-only' }));
    expect(error).toMatchObject({ code: 'INVALID_REQUEST' });
    expect(JSON.stringify(error) + String(error)).toMatch(/8000 Hz/);
  });
});
