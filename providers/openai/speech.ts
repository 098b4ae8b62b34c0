/**
 * `doSpeech`: `/audio/speech`, the audio bytes and their media type. The spec's bounds
 * (CreateSpeechRequest: `input` at most 4,096 characters, `response_format` one of six) are checked
 * before sending. Loaded on the first speech call, so a chat-only bundle does not carry it.
 */
import type OpenAI from 'openai';
import { InvalidRequestError, type CallContext, type SpeechCall, type SpeechResult } from '../../src/provider.js';
import type { Connection } from './connection.js';

const maxInputCharacters = 4096;
/** The spec's `response_format` values and the media type of each. */
const mediaTypes: Record<string, string> = { mp3: 'audio/mpeg', opus: 'audio/ogg', aac: 'audio/aac', flac: 'audio/flac', wav: 'audio/wav', pcm: 'audio/pcm' };

export async function synthesise(connection: Connection, model: string, call: SpeechCall, ctx: CallContext): Promise<SpeechResult> {
  const replica = connection.replicaOf(ctx);
  const format = call.format ?? 'mp3';
  if (!Object.hasOwn(mediaTypes, format)) throw new InvalidRequestError('format', `OpenAI speaks ${Object.keys(mediaTypes).join(', ')}; got '${String(format)}'`);
  if (typeof call.text === 'string' && call.text.length > maxInputCharacters) {
    throw new InvalidRequestError('text', `OpenAI speaks at most ${maxInputCharacters} characters per request; got ${call.text.length} (split it)`);
  }
  const body: Record<string, unknown> = { model, input: call.text, voice: call.voice ?? 'alloy', response_format: format };
  Object.assign(body, call.providerOptions?.openai ?? {});
  try {
    const response = await connection.client(replica).audio.speech.create(body as unknown as OpenAI.Audio.SpeechCreateParams, { signal: ctx.signal });
    const audio = new Uint8Array(await response.arrayBuffer());
    const header = response.headers.get('content-type')?.split(';')[0]?.trim();
    return { audio, mediaType: header && header !== 'application/octet-stream' ? header : mediaTypes[format] };
  } catch (error) {
    throw connection.fail(error, ctx);
  }
}
