/**
 * Every modality through the client, end to end: the real `openai` client talking HTTP to the
 * local server. Each answer carries its route (target, attempts, fallback) and its cost from the
 * target's declared prices; a job sent to a target without a batch endpoint runs online.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { openai } from '../../providers/openai/index.js';
import { createClient } from '../../src/index.js';
import { expectedEmbedding, startOpenAIServer, type OpenAIServer } from '../servers/openai-compatible.js';
import { audioSecondsFor, speechFor, tinyPngBase64, transcriptFor } from '../servers/scripts.js';
import { collect } from '../helpers/async.js';

let server: OpenAIServer;
let backupServer: OpenAIServer;

beforeAll(async () => {
  server = await startOpenAIServer({ seed: 11 });
  backupServer = await startOpenAIServer({ seed: 12 });
});
afterAll(async () => {
  await server.close();
  await backupServer.close();
});
afterEach(() => {
  server.reset();
  backupServer.reset();
});

// One target, four models: each modality has its own price list.
const prices = {
  inputPerMTok: 2,
  outputPerMTok: 8,
  byModality: {
    embedding: { inputPerMTok: 0.02 },
    image: { perImage: 0.04 },
    transcription: { perSecondAudio: 0.0001 },
    speech: { perRequest: 0.001 },
  },
};

function cloud(id: string, baseURL: string) {
  return openai({
    id,
    model: 'gpt-test',
    embeddingModel: 'text-embedding-test',
    imageModel: 'dall-e-3',
    transcriptionModel: 'whisper-1',
    speechModel: 'tts-1',
    baseURL,
    apiKey: 'sk-test-modalities-0000',
    cost: prices,
    expected: { ttftMs: 20, totalMs: 40 },
  });
}

function client() {
  return createClient({ targets: [cloud('cloud', server.baseURL), cloud('backup', backupServer.baseURL)], retry: { initialDelayMs: 5, maxDelayMs: 20 } });
}

describe('each modality through the client', () => {
  it('generateImage: the image, its route and its price per image', async () => {
    const result = await client().generateImage({ prompt: 'a red fox', n: 2, size: '256x256' });
    expect(result.images).toEqual([
      { base64: tinyPngBase64, mediaType: 'image/png' },
      { base64: tinyPngBase64, mediaType: 'image/png' },
    ]);
    expect(result.image).toEqual(result.images[0]);
    expect(result.route).toMatchObject({ target: 'cloud', fellBack: false, usage: { images: 2 } });
    // The image model's token usage is not billed at the chat model's prices.
    expect(result.route.costUsd).toBeCloseTo(2 * 0.04, 10);
    expect(server.requests.map((request) => request.route)).toEqual(['/images/generations']);
  });

  it('generateImage falls back to the next target after repeated 500s', async () => {
    server.script('/images/generations', { status: 500, times: 10 });
    const result = await client().generateImage({ prompt: 'a red fox', latency: 'batch' });
    expect(result.route.target).toBe('backup');
    expect(result.route.fellBack).toBe(true);
    expect(result.route.attempts.map((attempt) => [attempt.target, attempt.outcome])).toEqual([
      ['cloud', 'error'],
      ['cloud', 'error'],
      ['cloud', 'error'],
      ['backup', 'ok'],
    ]);
    expect(backupServer.requests).toHaveLength(1);
  });

  it('transcribe: the text, the audio length, and its price per second', async () => {
    const audio = new Uint8Array(96_000).map((_, index) => (index * 7) % 253);
    const result = await client().transcribe({ audio, mediaType: 'audio/wav', language: 'en' });
    const seconds = Math.ceil(audioSecondsFor(audio.length));
    expect(result.text).toBe(transcriptFor(audio));
    expect(result.durationSeconds).toBe(seconds);
    expect(result.route).toMatchObject({ target: 'cloud', usage: { audioSeconds: seconds } });
    expect(result.route.costUsd).toBeCloseTo(seconds * 0.0001, 10);
    expect(server.requests[0]).toMatchObject({ route: '/audio/transcriptions', body: { model: 'whisper-1', language: 'en' } });
  });

  it('generateSpeech: the audio bytes with their media type, and the route', async () => {
    const result = await client().generateSpeech({ text: 'hello from the cloud', voice: 'nova', format: 'wav' });
    expect(Buffer.from(result.audio).equals(speechFor('hello from the cloud'))).toBe(true);
    expect(result.mediaType).toBe('audio/wav');
    expect(result.route).toMatchObject({ target: 'cloud', segment: 'interactive', fellBack: false, costUsd: 0.001 });
    expect(server.requests[0]).toMatchObject({ route: '/audio/speech', body: { model: 'tts-1', input: 'hello from the cloud', voice: 'nova', response_format: 'wav' } });
  });

  it('embed: one vector per input, in order, with usage and cost', async () => {
    const inputs = ['alpha beta', 'gamma', 'delta epsilon zeta'];
    const result = await client().embed({ input: inputs });
    expect(result.embeddings).toEqual(inputs.map((input) => expectedEmbedding(input)));
    expect(result.route.target).toBe('cloud');
    expect(result.usage?.inputTokens).toBeGreaterThan(0);
    expect(result.route.costUsd).toBeCloseTo((result.usage!.inputTokens! * 0.02) / 1e6, 12);
  });
});

describe('a job on a target without a batch endpoint', () => {
  it('runs its items online through the client, and serves them through the same results API', async () => {
    const jobsClient = createClient({ targets: [cloud('cloud', server.baseURL)] });
    const handle = await jobsClient.jobs.submit(
      [
        { id: 'first', prompt: 'one two three' },
        { id: 'second', prompt: 'four five' },
      ],
      { target: 'cloud' },
    );
    const info = await handle.wait({ pollIntervalMs: 10 });
    expect(info).toMatchObject({ status: 'completed', mode: 'online', counts: { total: 2, completed: 2, failed: 0 } });
    const results = await collect(handle.results());
    const byId = new Map(results.map((result) => [result.id, result]));
    expect(byId.get('first')?.result?.text).toContain('one two three');
    expect(byId.get('second')?.result?.text).toContain('four five');
    expect(byId.get('first')?.costUsd).toBeGreaterThan(0);
    // Online means the chat route, never the Files or Batch API.
    expect(new Set(server.requests.map((request) => request.route))).toEqual(new Set(['/chat/completions']));
    expect(server.requests).toHaveLength(2);
  });

  it('an item that fails online gets its own error; the others still answer', async () => {
    server.script('/chat/completions', { status: 400, times: 1 });
    const jobsClient = createClient({ targets: [cloud('cloud', server.baseURL)] });
    const handle = await jobsClient.jobs.submit([{ id: 'only', prompt: 'rejected' }], { target: 'cloud' });
    const info = await handle.wait({ pollIntervalMs: 10 });
    expect(info.counts).toMatchObject({ total: 1, completed: 0, failed: 1 });
    const [result] = await collect(handle.results());
    expect(result).toMatchObject({ id: 'only', ok: false, error: { status: 400 } });
    expect(result.error?.message).not.toContain('sk-test-modalities-0000');
  });
});
