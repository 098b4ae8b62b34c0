/**
 * The OpenAI Realtime adapter on its own: settings, ephemeral secrets, refusals mapped to typed
 * errors without the key, and the wire reader's tolerance for both dialects' names.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { AuthenticationError, InferlaneError } from '../../src/errors.js';
import type { RealtimeServerEvent } from '../../src/target.js';
import { createClientSecret, openaiRealtime } from '../../providers/openai/realtime.js';
import { ServerEventReader } from '../../providers/openai/realtime-wire.js';
import { startRealtimeServer, type RealtimeEmulation } from '../servers/realtime.js';
import { fieldOf } from '../realtime/helpers.js';

let server: RealtimeEmulation;
beforeAll(async () => {
  server = await startRealtimeServer();
});
afterAll(async () => {
  await server.close();
});

const connectOnce = async (target: ReturnType<typeof openaiRealtime>) => {
  const events: RealtimeServerEvent[] = [];
  const connection = await target.realtime.connect({ turnDetection: 'manual', onEvent: (event) => events.push(event) }, { signal: new AbortController().signal });
  await connection.close();
  return events;
};

it('mints an ephemeral client secret server-side and connects with it', async () => {
  const secret = await createClientSecret({ apiKey: server.apiKey, baseURL: server.baseURL, expiresAfterSeconds: 60 });
  expect(secret.value).toMatch(/^ek_/);
  expect(secret.expiresAt).toBeGreaterThan(Date.now());
  let asked = 0;
  const target = openaiRealtime({ baseURL: server.baseURL, clientSecret: () => (asked++, secret.value) });
  const events = await connectOnce(target);
  expect(events.at(-1)).toMatchObject({ type: 'closed', expected: true });
  expect(asked).toBe(1);
  expect(server.connections.at(-1)!.credential).toBe('client-secret');
});

it('a wrong secret key cannot mint secrets', async () => {
  const error = await createClientSecret({ apiKey: 'sk-wrong-key-1234567890', baseURL: server.baseURL }).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(AuthenticationError);
  expect(String((error as Error).message)).not.toContain('sk-wrong-key');
});

it.each([
  [401, 'AUTHENTICATION_FAILED', false],
  [429, 'RATE_LIMITED', true],
  [503, 'PROVIDER_ERROR', true],
])('a refused upgrade (%i) is %s, retryable %s, and never names the key', async (status, code, retryable) => {
  server.script({ refuseStatus: status });
  try {
    const target = openaiRealtime({ baseURL: server.baseURL, apiKey: 'sk-secret-realtime-key-123456' });
    const error = (await target.realtime.connect({ turnDetection: 'vad', onEvent: () => undefined }, { signal: new AbortController().signal }).catch((e: unknown) => e)) as InferlaneError;
    expect(InferlaneError.isInstance(error)).toBe(true);
    expect([error.code, error.status, error.retryable]).toEqual([code, status, retryable]);
    expect(JSON.stringify({ message: error.message, json: error.toJSON() })).not.toContain('sk-secret-realtime-key');
  } finally {
    server.script({ refuseStatus: undefined });
  }
});

it('an aborted connection attempt rejects with the signal’s reason once its socket is gone', async () => {
  server.script({ connectDelayMs: 10_000 });
  try {
    const controller = new AbortController();
    const target = openaiRealtime({ baseURL: server.baseURL, apiKey: server.apiKey });
    const attempt = target.realtime.connect({ turnDetection: 'vad', onEvent: () => undefined }, { signal: controller.signal });
    await server.waitFor((connection) => !connection.closed);
    const reason = new InferlaneError('DEADLINE_EXCEEDED', 'budget');
    controller.abort(reason);
    await expect(attempt).rejects.toBe(reason);
  } finally {
    server.script({ connectDelayMs: 0 });
  }
});

it('checks its settings, naming the field', () => {
  const field = fieldOf;
  expect(field(() => openaiRealtime({ apiKey: 'k', dialect: 'v2' as never }))).toBe('dialect');
  expect(field(() => openaiRealtime({ apiKey: 'k', baseURL: 'ftp://example.test' }))).toBe('baseURL');
  expect(field(() => openaiRealtime({ apiKey: 'k', maxSessionMs: -1 }))).toBe('maxSessionMs');
  expect(field(() => openaiRealtime({ apiKey: 'k', clientSecret: 42 as never }))).toBe('clientSecret');
  const saved = process.env.OPENAI_API_KEY;
  delete process.env.OPENAI_API_KEY;
  try {
    expect(field(() => openaiRealtime({}))).toBe('apiKey');
  } finally {
    if (saved !== undefined) process.env.OPENAI_API_KEY = saved;
  }
  expect(openaiRealtime({ apiKey: 'k', baseURL: 'https://example.test/v1/' }).id).toBe('openai-realtime:gpt-realtime');
});

it('reads both dialects, finds a tool call’s name from its item, and redacts secrets in server errors', () => {
  const reader = new ServerEventReader('t');
  expect(reader.read({ type: 'response.audio.delta', response_id: 'r', delta: btoa('\u0001\u0002') })).toEqual([{ type: 'audio-delta', responseId: 'r', audio: new Uint8Array([1, 2]) }]);
  expect(reader.read({ type: 'response.output_audio.delta', response_id: 'r', delta: btoa('\u0003\u0004') })[0]).toMatchObject({ type: 'audio-delta', audio: new Uint8Array([3, 4]) });
  expect(reader.read({ type: 'response.audio_transcript.delta', response_id: 'r', delta: 'hi' })).toEqual([{ type: 'transcript-delta', responseId: 'r', text: 'hi' }]);
  reader.read({ type: 'response.output_item.added', response_id: 'r', item: { id: 'item_9', type: 'function_call', name: 'lookup', call_id: 'call_9' } });
  expect(reader.read({ type: 'response.function_call_arguments.done', response_id: 'r', item_id: 'item_9', arguments: '{}' })).toEqual([{ type: 'tool-call', responseId: 'r', callId: 'call_9', name: 'lookup', arguments: '{}' }]);
  const [error] = reader.read({ type: 'error', error: { code: 'invalid_api_key', message: 'bad key ek_68af296e8e408191a1 or sk-proj-abcdefghijkl' } }) as Extract<RealtimeServerEvent, { type: 'error' }>[];
  expect((error.error as Error).message).toBe('t reported an error (invalid_api_key): bad key [redacted] or [redacted]');
  expect(reader.read({ type: 'error', error: { code: 'session_expired', message: 'limit' } })[0]).toMatchObject({ fatal: true });
});
