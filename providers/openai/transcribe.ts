/**
 * `doTranscribe`: the bytes uploaded as a file to `/audio/transcriptions`, JSON asked for. Loaded
 * on the first transcription, so a chat-only bundle does not carry it.
 */
import type OpenAI from 'openai';
import { toFile } from 'openai';
import type { CallContext, TranscribeCall, TranscribeResult, Usage } from '../../src/provider.js';
import type { Connection } from './connection.js';

interface WireTranscription {
  text?: string;
  language?: string;
  duration?: number;
  usage?: { type?: string; seconds?: number; input_tokens?: number; output_tokens?: number; total_tokens?: number };
}

export async function transcribe(connection: Connection, model: string, call: TranscribeCall, ctx: CallContext): Promise<TranscribeResult> {
  const replica = connection.replicaOf(ctx);
  const mediaType = call.mediaType ?? 'audio/wav';
  const file = await toFile(call.audio, `audio.${audioExtension(mediaType)}`, { type: mediaType });
  const body: Record<string, unknown> = { file, model, response_format: 'json' };
  if (call.language !== undefined) body.language = call.language;
  Object.assign(body, call.providerOptions?.openai ?? {});
  let response: WireTranscription | string;
  try {
    response = (await connection.client(replica).audio.transcriptions.create(body as unknown as OpenAI.Audio.TranscriptionCreateParamsNonStreaming, { signal: ctx.signal })) as WireTranscription;
  } catch (error) {
    throw connection.fail(error, ctx);
  }
  if (typeof response === 'string') return { text: response };
  const result: TranscribeResult = { text: response.text ?? '' };
  if (response.language) result.language = response.language;
  const seconds = response.duration ?? (response.usage?.type === 'duration' ? response.usage.seconds : undefined);
  if (typeof seconds === 'number') result.durationSeconds = seconds;
  const usage: Usage = {};
  if (typeof seconds === 'number') usage.audioSeconds = seconds;
  if (response.usage?.type === 'tokens') {
    usage.inputTokens = response.usage.input_tokens;
    usage.outputTokens = response.usage.output_tokens;
    usage.totalTokens = response.usage.total_tokens;
  }
  if (Object.keys(usage).length > 0) result.usage = usage;
  return result;
}

function audioExtension(mediaType: string): string {
  const subtype = mediaType.split('/')[1]?.split(';')[0]?.trim().toLowerCase() ?? 'wav';
  const known: Record<string, string> = { mpeg: 'mp3', mp3: 'mp3', 'x-wav': 'wav', wav: 'wav', wave: 'wav', webm: 'webm', ogg: 'ogg', flac: 'flac', mp4: 'mp4', m4a: 'm4a', 'x-m4a': 'm4a' };
  return known[subtype] ?? 'wav';
}
