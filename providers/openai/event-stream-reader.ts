/**
 * Server-sent events from a streaming response body, read in one pass.
 *
 * openai-node's own `Stream` decodes a chat stream through four nested async generators (the
 * body's iterator, SSE chunks, SSE messages, JSON chunks) and copies the buffered bytes on every
 * read; the adapter's own generator sat on top of that. Here the adapter's generator awaits the
 * body reader itself, and each read is decoded, split into events (eventsource-parser) and handed
 * back as the events' data, synchronously. Measured against the local server, a whole stream this
 * way costs less than iterating openai-node's `Stream` (docs/routing-and-execution.md, "Overhead").
 *
 * The request itself still goes through the `openai` client (auth, headers, errors, abort):
 * only the body of its response is read here.
 */
import { createParser, type EventSourceParser } from 'eventsource-parser';

/** Largest event (or unterminated line) held while it arrives, characters: a guard against a runaway stream. */
const maxEventChars = 8 * 1024 * 1024;

type BodyChunk = Uint8Array | ArrayBuffer | string;

/** An event the server named `error` (its data as sent): the stream failed there. */
export class ServerErrorEvent {
  constructor(readonly data: string) {}
}

export class EventStreamReader {
  /** Data of the events completed by the last `take`, in order (reused between reads). */
  private readonly ready: (string | ServerErrorEvent)[] = [];
  private readonly parser: EventSourceParser;
  private readonly decoder = new TextDecoder();
  private overflow = false;
  private readonly reader: { read(): Promise<IteratorResult<BodyChunk>>; cancel(): Promise<unknown> };

  constructor(body: ReadableStream<Uint8Array> | AsyncIterable<BodyChunk>) {
    this.parser = createParser({
      onEvent: (event) => void this.ready.push(event.event === 'error' ? new ServerErrorEvent(event.data) : event.data),
      maxBufferSize: maxEventChars,
      onError: (error) => {
        if (error.type === 'max-buffer-size-exceeded') this.overflow = true;
      },
    });
    this.reader = readerOf(body);
  }

  /** The next chunk of the body (`done` at its end). */
  read(): Promise<IteratorResult<BodyChunk>> {
    return this.reader.read();
  }

  /**
   * Takes in one chunk; returns the data of every event it completed (an event named `error` as
   * a `ServerErrorEvent`). The array is reused: read it before the next call.
   */
  take(chunk: BodyChunk): (string | ServerErrorEvent)[] {
    this.ready.length = 0;
    this.parser.feed(typeof chunk === 'string' ? chunk : this.decoder.decode(chunk, { stream: true }));
    if (this.overflow) throw new EventTooLargeError(maxEventChars);
    return this.ready;
  }

  /** Stops reading: the body (and with it the HTTP response) is cancelled. */
  cancel(): void {
    this.reader.cancel().catch(() => undefined);
  }
}

/** An event (or a line without its end) longer than the reader holds. */
class EventTooLargeError extends Error {
  constructor(limit: number) {
    super(`a server-sent event grew past ${limit} characters without ending`);
    this.name = 'EventTooLargeError';
  }
}

/** A web stream's reader, or the iterator of any other async iterable body (some custom fetch implementations). */
function readerOf(body: ReadableStream<Uint8Array> | AsyncIterable<BodyChunk>): { read(): Promise<IteratorResult<BodyChunk>>; cancel(): Promise<unknown> } {
  if (typeof (body as ReadableStream<Uint8Array>).getReader === 'function') {
    const reader = (body as ReadableStream<Uint8Array>).getReader();
    return { read: () => reader.read() as Promise<IteratorResult<BodyChunk>>, cancel: () => reader.cancel() };
  }
  const iterator = (body as AsyncIterable<BodyChunk>)[Symbol.asyncIterator]();
  return { read: () => iterator.next(), cancel: async () => iterator.return?.() };
}
