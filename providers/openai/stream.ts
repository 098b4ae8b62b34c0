/**
 * `doStream`: a streaming chat completion. The request goes through the `openai` client (auth,
 * headers, errors, abort) up to its response headers; the body is read by `EventStreamReader`.
 *
 * The generator only pumps: it awaits the body's reader itself (no layer between it and the
 * socket), and opening the request, decoding events and the checks at the end live in plain
 * functions, because every `await` and `yield` of an async generator saves and restores its live
 * locals (docs/routing-and-execution.md, "Overhead").
 *
 * A server that answers a stream request with plain JSON (some compatible servers ignore
 * `stream: true`) is read as the answer it is; one that answers with an HTML page (a proxy's)
 * fails saying so, instead of as a stream cut short.
 */
import OpenAI, { APIError } from 'openai';
import { finishReasonOf, incompleteStreamError, ProviderError, type CallContext, type FinishReason, type StreamPart, type TextCall, type Usage } from '../../src/provider.js';
import { mapChatCompletion, mapUsage, type WireChatCompletion, type WireUsage } from './chat-response.js';
import type { Connection } from './connection.js';
import { EventStreamReader, ServerErrorEvent } from './event-stream-reader.js';
import type { ChatBodyOf } from './generate.js';

/** What a stream's chunks said besides text. */
interface ChunksSeen {
  finishReason: FinishReason | undefined;
  usage: Usage | undefined;
  /** Refusal text arrived (`delta.refusal`): the finish reason is 'refusal'. */
  refused: boolean;
  /** The body ended (a stream cut short is cancelled instead). */
  completed: boolean;
  /** `[DONE]` arrived: later events are ignored. */
  done: boolean;
}

interface ChatChunk {
  choices?: { delta?: { content?: string | null; refusal?: string | null }; finish_reason?: string | null }[];
  usage?: WireUsage | null;
  service_tier?: string | null;
}

/** Asked for on every stream so usage arrives; the caller's own `stream_options` keys win. */
const includeUsage = { include_usage: true };

export function streamText(connection: Connection, chatBody: ChatBodyOf): (call: TextCall, ctx: CallContext) => AsyncIterable<StreamPart> {
  const { target } = connection;

  async function* streamChat(call: TextCall, ctx: CallContext): AsyncGenerator<StreamPart> {
    const replica = connection.replicaOf(ctx);
    const response = await openChatStream(call, ctx, replica);
    if (!isEventStream(response)) {
      yield* answerOf(await readNonStream(response, ctx));
      return;
    }
    if (!response.body) throw new ProviderError(`${target} answered a stream without a body`, { target, retryable: true });
    const events = new EventStreamReader(response.body);
    const seen: ChunksSeen = { finishReason: undefined, usage: undefined, refused: false, completed: false, done: false };
    try {
      for (;;) {
        const step = await events.read();
        if (step.done) break;
        const data = events.take(step.value);
        for (let i = 0; i < data.length; i++) {
          const text = takeEvent(data[i], seen, response, replica);
          if (text !== undefined) yield { type: 'text-delta', text };
        }
      }
      seen.completed = true;
    } catch (error) {
      throw connection.fail(error, ctx);
    } finally {
      // Breaking out of `for await` (or failing) lands here: close the HTTP response, not just our loop.
      if (!seen.completed) events.cancel();
    }
    yield finishOf(seen, ctx);
  }

  async function openChatStream(call: TextCall, ctx: CallContext, replica: number): Promise<Response> {
    // Set on the built body, not spread into a new one (`{ ...a, b }` is a slow path in Node 20's V8).
    const body = chatBody(call, ctx);
    body.stream = true;
    const own = body.stream_options;
    body.stream_options = own !== null && typeof own === 'object' ? Object.assign({}, includeUsage, own) : includeUsage;
    try {
      return await connection.client(replica).chat.completions.create(body as unknown as OpenAI.ChatCompletionCreateParamsStreaming, { signal: ctx.signal }).asResponse();
    } catch (error) {
      throw connection.fail(error, ctx);
    }
  }

  /** The body of an answer that is not an event stream: JSON is the answer; anything else a wrong content type. */
  async function readNonStream(response: Response, ctx: CallContext): Promise<WireChatCompletion> {
    const type = contentType(response);
    if (!type.includes('json')) {
      response.body?.cancel().catch(() => undefined);
      throw new ProviderError(`${target} answered a stream request with content type '${type}', not an event stream`, { target, retryable: true });
    }
    let completion: WireChatCompletion;
    try {
      completion = (await response.json()) as WireChatCompletion;
      if (completion?.error) throw new APIError(undefined, completion.error as object, undefined, response.headers);
    } catch (error) {
      throw connection.fail(error, ctx);
    }
    return completion;
  }

  /** A JSON answer as the parts a stream of it would have given. */
  function* answerOf(completion: WireChatCompletion): Generator<StreamPart> {
    const result = mapChatCompletion(completion);
    if (!result) throw new ProviderError(`${target} answered without a choice`, { target, retryable: true });
    if (result.text) yield { type: 'text-delta', text: result.text };
    yield result.usage ? { type: 'finish', finishReason: result.finishReason, usage: result.usage } : { type: 'finish', finishReason: result.finishReason };
  }

  /**
   * One event's data: its text, if any (its finish reason and usage are kept in `seen`). After
   * `[DONE]` the rest is ignored, as openai-node does. An error payload throws as openai-node's
   * `APIError` would (mapped like any other), and data that is not JSON throws (logged only when
   * the client's logging is on: it holds the model's words). An event named `error` fails the
   * stream whatever its data looks like (openai-node passes one without an `error` field on as a
   * chunk; some compatible servers send `{ "message": ... }` or plain text).
   */
  function takeEvent(data: string | ServerErrorEvent, seen: ChunksSeen, response: Response, replica: number): string | undefined {
    if (seen.done) return undefined;
    if (typeof data !== 'string') throw new APIError(undefined, errorPayload(data.data), undefined, response.headers);
    if (data.startsWith('[DONE]')) {
      seen.done = true;
      return undefined;
    }
    let chunk: (ChatChunk & { error?: unknown }) | null;
    try {
      chunk = JSON.parse(data) as ChatChunk | null;
    } catch (error) {
      const client = connection.client(replica);
      if (client.logLevel !== undefined && client.logLevel !== 'off') client.logger.error('Could not parse message into JSON:', data);
      throw error;
    }
    if (chunk === null || typeof chunk !== 'object') return undefined;
    if (chunk.error) throw new APIError(undefined, chunk.error as object, undefined, response.headers);
    return takeChunk(chunk, seen);
  }

  /** The finish part, once the chunks ran out; throws when they ran out too soon. */
  function finishOf(seen: ChunksSeen, ctx: CallContext): StreamPart {
    // An abort that lands as the body ends finds no read to fail: look ourselves.
    if (ctx.signal.aborted) throw connection.fail(ctx.signal.reason ?? new DOMException('aborted', 'AbortError'), ctx);
    const { usage } = seen;
    let finishReason = seen.finishReason;
    if (finishReason === undefined) {
      // `[DONE]` says the server finished; a server that names no reason is not cut short.
      if (!seen.done) throw incompleteStreamError(target);
      finishReason = 'other';
    }
    if (seen.refused) finishReason = 'refusal';
    // Usage rides on the finish part (one part less to pass through every layer).
    return usage ? { type: 'finish', finishReason, usage } : { type: 'finish', finishReason };
  }

  return (call, ctx) => streamChat(call, ctx);
}

/** Takes in one chunk: returns its text (or refusal text), keeps its finish reason and usage. */
function takeChunk(chunk: ChatChunk, seen: ChunksSeen): string | undefined {
  const choice = chunk.choices?.[0];
  if (choice?.finish_reason) seen.finishReason = finishReasonOf(choice.finish_reason);
  // The service tier rides on every chunk; the usage chunk's is the one kept.
  if (chunk.usage) seen.usage = mapUsage(chunk.usage, chunk.service_tier);
  const delta = choice?.delta;
  if (delta === undefined) return undefined;
  const text = delta.content;
  if (typeof text === 'string' && text.length > 0) return text;
  const refusal = delta.refusal;
  if (typeof refusal === 'string' && refusal.length > 0) {
    seen.refused = true;
    return refusal;
  }
  return undefined;
}

function contentType(response: Response): string {
  return response.headers.get('content-type')?.toLowerCase() ?? '';
}

/** An event stream, or an answer without a content type (read as one, as before: some servers send none). */
function isEventStream(response: Response): boolean {
  const type = contentType(response);
  return type === '' || type.includes('text/event-stream') || !(type.includes('json') || type.includes('text/html'));
}

/** What a named `error` event said, as the error body openai-node's `APIError` takes (`message` is what we report). */
function errorPayload(data: string): object {
  let parsed: unknown;
  try {
    parsed = JSON.parse(data);
  } catch {
    return { message: data.trim() || 'no message' };
  }
  if (parsed !== null && typeof parsed === 'object') {
    const inner = (parsed as { error?: unknown }).error;
    if (inner !== null && typeof inner === 'object') return inner;
    if (typeof inner === 'string') return { message: inner };
    return parsed;
  }
  return { message: String(parsed) };
}
