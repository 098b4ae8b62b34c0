/**
 * OpenAI Realtime API wire events, both ways, for the two dialects the API has spoken:
 * `ga` (gpt-realtime: `session.type`, `audio.input/output`, `response.output_audio.delta`) and
 * `beta` (the preview models behind `OpenAI-Beta: realtime=v1`: a flat session,
 * `response.audio.delta`). Server events are read under both names whatever the dialect, since
 * compatible servers mix them. Pure: no socket, no timer.
 *
 * Client events: session.update, input_audio_buffer.append / commit / clear,
 * conversation.item.create, response.create / cancel. Server events read: session.created /
 * updated, input_audio_buffer.speech_started / speech_stopped / committed,
 * conversation.item.input_audio_transcription.completed, response.created,
 * response.output_item.added, response.output_audio.delta (response.audio.delta),
 * response.output_audio_transcript.delta (response.audio_transcript.delta),
 * response.output_text.delta (response.text.delta), response.function_call_arguments.done,
 * response.done, error. https://platform.openai.com/docs/api-reference/realtime
 *
 * Imports: src/target.ts and src/errors.ts only.
 */
import { AuthenticationError, InferlaneError, ProviderError, RateLimitedError, redact } from '../../src/provider.js';
import type { RealtimeCommand, RealtimeConnectOptions, RealtimeServerEvent, Usage } from '../../src/provider.js';

export type RealtimeDialect = 'ga' | 'beta';

/** Bytes as base64 without Buffer (browsers and edge runtimes have only btoa). */
export function toBase64(bytes: Uint8Array): string {
  let binary = '';
  // 32 KiB at a time: String.fromCharCode takes its arguments on the stack.
  for (let offset = 0; offset < bytes.length; offset += 0x8000) {
    binary += String.fromCharCode.apply(null, bytes.subarray(offset, offset + 0x8000) as unknown as number[]);
  }
  return btoa(binary);
}

export function fromBase64(text: string): Uint8Array {
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let index = 0; index < binary.length; index++) bytes[index] = binary.charCodeAt(index);
  return bytes;
}

/** The `session.update` that configures a new connection. */
export function sessionUpdate(options: RealtimeConnectOptions, settings: { dialect: RealtimeDialect; model: string; sampleRate: number; voice: string; transcriptionModel: string }): Record<string, unknown> {
  const tools = (options.tools ?? []).map((tool) => ({ type: 'function', name: tool.name, description: tool.description ?? '', parameters: tool.parameters ?? { type: 'object', properties: {} } }));
  // The session cancels a response itself when the user speaks over it (the same rule on both
  // paths, and one it can see); the server's own interruption stays off so there is one owner.
  const vad = options.turnDetection === 'vad' ? { type: 'server_vad', create_response: true, interrupt_response: false } : null;
  const voice = options.voice ?? settings.voice;
  if (settings.dialect === 'beta') {
    return {
      type: 'session.update',
      session: {
        modalities: ['audio', 'text'],
        instructions: options.instructions,
        voice,
        tools,
        input_audio_format: 'pcm16',
        output_audio_format: 'pcm16',
        input_audio_transcription: { model: settings.transcriptionModel },
        turn_detection: vad,
      },
    };
  }
  const format = { type: 'audio/pcm', rate: settings.sampleRate };
  return {
    type: 'session.update',
    session: {
      type: 'realtime',
      model: settings.model,
      output_modalities: ['audio'],
      instructions: options.instructions,
      tools,
      audio: {
        input: { format, transcription: { model: settings.transcriptionModel }, turn_detection: vad },
        output: { format, voice },
      },
    },
  };
}

/** One history item as `conversation.item.create` (a reconnect replays the conversation this way). */
export function historyItem(role: 'system' | 'user' | 'assistant', text: string, dialect: RealtimeDialect): Record<string, unknown> {
  // Assistant text is output on both dialects, named 'output_text' since GA and 'text' before.
  const type = role === 'assistant' ? (dialect === 'ga' ? 'output_text' : 'text') : 'input_text';
  return { type: 'conversation.item.create', item: { type: 'message', role, content: [{ type, text }] } };
}

/** A neutral command as its wire event. */
export function commandEvent(command: RealtimeCommand, dialect: RealtimeDialect): Record<string, unknown> {
  switch (command.type) {
    case 'append-audio':
      return { type: 'input_audio_buffer.append', audio: toBase64(command.audio) };
    case 'commit-audio':
      return { type: 'input_audio_buffer.commit' };
    case 'clear-audio':
      return { type: 'input_audio_buffer.clear' };
    case 'add-text':
      return historyItem('user', command.text, dialect);
    case 'add-tool-output':
      return { type: 'conversation.item.create', item: { type: 'function_call_output', call_id: command.callId, output: command.output } };
    case 'create-response':
      return { type: 'response.create' };
    case 'cancel-response':
      return { type: 'response.cancel' };
  }
}

interface WireError {
  type?: string;
  code?: string | null;
  message?: string;
}

/**
 * Reads server events into neutral ones. Stateful only for tool calls: the name of a call
 * arrives with its item (`response.output_item.added`), its arguments with
 * `response.function_call_arguments.done`, which not every server names.
 */
export class ServerEventReader {
  private readonly callNames = new Map<string, { name: string; callId: string }>();
  private ready = false;

  constructor(private readonly target: string) {}

  /** Neutral events for one wire event (none for the many this session does not need). */
  read(event: Record<string, unknown>): RealtimeServerEvent[] {
    const type = typeof event.type === 'string' ? event.type : '';
    switch (type) {
      case 'session.updated':
        if (this.ready) return [];
        this.ready = true;
        return [{ type: 'session-ready' }];
      case 'input_audio_buffer.speech_started':
        return [{ type: 'speech-started' }];
      case 'input_audio_buffer.speech_stopped':
        return [{ type: 'speech-stopped' }];
      case 'input_audio_buffer.committed':
        return [{ type: 'input-committed' }];
      case 'conversation.item.input_audio_transcription.completed':
        return [{ type: 'input-transcript', text: String(event.transcript ?? '') }];
      case 'response.created':
        return [{ type: 'response-started', responseId: responseIdOf(event) }];
      case 'response.output_item.added': {
        const item = event.item as { id?: string; type?: string; name?: string; call_id?: string } | undefined;
        if (item?.type === 'function_call' && item.id) this.callNames.set(item.id, { name: item.name ?? '', callId: item.call_id ?? item.id });
        return [];
      }
      case 'response.output_audio.delta':
      case 'response.audio.delta':
        return typeof event.delta === 'string' ? [{ type: 'audio-delta', responseId: responseIdOf(event), audio: fromBase64(event.delta) }] : [];
      case 'response.output_audio_transcript.delta':
      case 'response.audio_transcript.delta':
      case 'response.output_text.delta':
      case 'response.text.delta':
        return typeof event.delta === 'string' ? [{ type: 'transcript-delta', responseId: responseIdOf(event), text: event.delta }] : [];
      case 'response.function_call_arguments.done': {
        const known = typeof event.item_id === 'string' ? this.callNames.get(event.item_id) : undefined;
        const callId = String(event.call_id ?? known?.callId ?? event.item_id ?? '');
        const name = String(event.name ?? known?.name ?? '');
        return [{ type: 'tool-call', responseId: responseIdOf(event), callId, name, arguments: String(event.arguments ?? '') }];
      }
      case 'response.done': {
        const response = (event.response ?? {}) as { id?: string; status?: string; usage?: { input_tokens?: number; output_tokens?: number; total_tokens?: number } };
        const status = response.status === 'cancelled' || response.status === 'failed' || response.status === 'incomplete' ? response.status : 'completed';
        const done: RealtimeServerEvent = { type: 'response-done', responseId: response.id ?? '', status };
        if (response.usage) done.usage = usageOf(response.usage);
        return [done];
      }
      case 'error': {
        const error = (event.error ?? {}) as WireError;
        return [{ type: 'error', error: serverError(error, this.target), fatal: error.code === 'session_expired' }];
      }
      default:
        return [];
    }
  }
}

function responseIdOf(event: Record<string, unknown>): string {
  if (typeof event.response_id === 'string') return event.response_id;
  const response = event.response as { id?: unknown } | undefined;
  return typeof response?.id === 'string' ? response.id : '';
}

function usageOf(usage: { input_tokens?: number; output_tokens?: number; total_tokens?: number }): Usage {
  const mapped: Usage = {};
  if (typeof usage.input_tokens === 'number') mapped.inputTokens = usage.input_tokens;
  if (typeof usage.output_tokens === 'number') mapped.outputTokens = usage.output_tokens;
  if (typeof usage.total_tokens === 'number') mapped.totalTokens = usage.total_tokens;
  return mapped;
}

/** A server `error` event as our error, with the provider's words (redacted) and code. */
function serverError(error: WireError, target: string): InferlaneError {
  const detail = redact(String(error.message ?? 'unknown error').slice(0, 300));
  const code = error.code ? ` (${error.code})` : '';
  return new ProviderError(`${target} reported an error${code}: ${detail}`, { target, retryable: error.code === 'session_expired' || error.type === 'server_error' });
}

/** Why a socket could not open: the HTTP status of a refused upgrade, mapped as for HTTP calls. */
export function refusedError(status: number | undefined, target: string, cause: unknown): InferlaneError {
  const options = { target, status, cause };
  if (status === 401 || status === 403) return new AuthenticationError(`${target} refused the realtime connection (${status}): check the key or client secret`, options);
  if (status === 429) return new RateLimitedError(`${target} refused the realtime connection: rate limited (429)`, options);
  if (status !== undefined) return new ProviderError(`${target} refused the realtime connection (${status})`, Object.assign(options, { retryable: status >= 500 || status === 408 || status === 409 }));
  return new ProviderError(`${target} closed the realtime connection before it was ready`, Object.assign(options, { retryable: true }));
}
