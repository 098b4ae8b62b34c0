/**
 * Shared, deterministic building blocks of the test servers (OpenAI-compatible routes here,
 * Hugging Face routes in huggingface-routes.ts): seeded randomness, latency distributions,
 * scripted fault steps, reply text, hashed embeddings, token estimates, tiny media files,
 * OpenAI-shaped error bodies and a Buffer-based multipart parser.
 *
 * Nothing here does I/O; the server applies the steps. Imports: src/random.ts, and examples/tone-audio.ts for its WAV writer.
 */
import { mulberry32 } from '../../src/random.js';
import { wavBytes } from '../../examples/tone-audio.js';

// ---------------------------------------------------------------- randomness

/** A seeded generator returning floats in [0, 1). */
export type Random = () => number;

/** mulberry32 (src/random.ts): makes test latencies and shuffles reproducible. */
export function seededRandom(seed: number): Random {
  return mulberry32(seed);
}

/** Fisher-Yates in place with a seeded generator: O(n), so 120,000 batch lines shuffle in milliseconds. */
export function shuffleInPlace<T, List extends { length: number; [index: number]: T }>(items: List, random: Random): List {
  for (let index = items.length - 1; index > 0; index--) {
    const other = Math.floor(random() * (index + 1));
    const swap = items[index];
    items[index] = items[other];
    items[other] = swap;
  }
  return items;
}

/** A latency model: a fixed number of ms, or a draw from a seeded generator. */
export type LatencyModel = number | ((random: Random) => number);

/** Latency distributions for benches; each returns ms and never a negative number. */
export const latency = {
  fixed: (ms: number): LatencyModel => () => ms,
  uniform: (minMs: number, maxMs: number): LatencyModel => (random) => minMs + random() * (maxMs - minMs),
  /** Log-normal around a median; sigma 0.5 gives a p99 about 3.2x the median. */
  logNormal: (medianMs: number, sigma: number): LatencyModel => (random) =>
    medianMs * Math.exp(sigma * standardNormal(random)),
  /** Pareto (heavy tail): most draws near `scaleMs`, a few far above. alpha 1.5 to 3 is typical. */
  pareto: (scaleMs: number, alpha: number): LatencyModel => (random) => scaleMs / Math.pow(1 - random(), 1 / alpha),
  /** Base latency with a probability of an extra slow path (e.g. a GC pause or a cold replica). */
  withSpikes: (base: LatencyModel, probability: number, spikeMs: number): LatencyModel => (random) =>
    drawLatency(base, random) + (random() < probability ? spikeMs : 0),
};

function standardNormal(random: Random): number {
  // Box-Muller; 1 - random() keeps the logarithm away from zero.
  const u = 1 - random();
  const v = random();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}

export function drawLatency(model: LatencyModel | undefined, random: Random): number {
  if (model === undefined) return 0;
  const value = typeof model === 'number' ? model : model(random);
  return Number.isFinite(value) && value > 0 ? value : 0;
}

// ---------------------------------------------------------------- scripted steps

/** Faults that only make sense on a server-sent-event stream. */
export interface StreamFaults {
  /** Extra wait before the first chunk, ms. @default 0 */
  firstChunkDelayMs?: number;
  /** Wait between chunks, ms. @default 0 (the server's `interChunkMs`) */
  interChunkMs?: number;
  /** Destroy the socket after this many chunks were written. */
  resetAfterChunks?: number;
  /** Write one chunk that is not JSON after this many chunks, then carry on. */
  malformedAfterChunks?: number;
  /** End the response cleanly after this many chunks, without a finish chunk or `[DONE]`. */
  truncateAfterChunks?: number;
}

/**
 * What the server does with one request. Steps combine: latency first, then reset, hang
 * or an error status, else the normal answer (with `reply` and `stream` faults applied).
 */
export interface ScriptStep {
  /** Wait before answering, ms. */
  latencyMs?: number;
  /** Wait drawn from the server's seeded generator, ms (added to `latencyMs`). */
  latency?: (random: Random) => number;
  /** Answer with this HTTP status and an OpenAI-shaped error body. */
  status?: number;
  /** Error message for `status`. @default a sentence naming the status */
  message?: string;
  /** Error `code` field for `status`. @default derived from the status */
  code?: string;
  /** For 429/503: sent as `retry-after` (seconds, rounded up) and `retry-after-ms`. */
  retryAfterMs?: number;
  /** Extra response headers. */
  headers?: Record<string, string>;
  /** Never answer; the request stays open until the client closes it (or the server closes). */
  hang?: boolean;
  /** Destroy the socket without a response. */
  reset?: boolean;
  /** The reply text to generate instead of the default echo. */
  reply?: string;
  /** Replace the whole JSON response body (non-stream answers). */
  body?: unknown;
  /**
   * Answer with this text as the body instead (with `status`, else 200) and `contentType`: error
   * bodies not in OpenAI's shape, an HTML page where JSON or an event stream was due.
   */
  rawBody?: string;
  /** The content type of `rawBody`. @default 'text/plain' */
  contentType?: string;
  /** Chat: answer a `stream: true` request with the plain JSON completion, as servers that ignore the flag do. */
  ignoreStream?: boolean;
  /** Chat: the model declines: `message.refusal` holds this (content null); streamed as `delta.refusal`. */
  refusal?: string;
  /** Chat: fields merged into the answer's `usage` (e.g. `prompt_tokens_details` with `cache_write_tokens`). */
  usage?: Record<string, unknown>;
  /** Stream faults (chat completions with `stream: true`). */
  stream?: StreamFaults;
  /** How many requests this step serves before the next step in the queue. @default 1 */
  times?: number;
}

/** A scripted route: a queue of steps consumed in order, or a function asked on every request. */
export type Script<Request = unknown> = ScriptStep | ScriptStep[] | ((request: Request, random: Random) => ScriptStep | undefined);

/** Named steps for the `x-test-script` header, so concurrent tests each pick their own fault. */
export const scriptPresets: Record<string, ScriptStep> = {
  hang: { hang: true },
  reset: { reset: true },
  '429': { status: 429, retryAfterMs: 1000 },
  '500': { status: 500 },
  '503': { status: 503, retryAfterMs: 1000 },
  '400': { status: 400 },
  '401': { status: 401 },
  truncate: { stream: { truncateAfterChunks: 2 } },
  malformed: { stream: { malformedAfterChunks: 1 } },
  'reset-stream': { stream: { resetAfterChunks: 2 } },
};

/**
 * Reads an `x-test-script` header: a preset name (`hang`, `429`...), `status:<n>`, or a
 * JSON ScriptStep (without functions). Returns undefined for an unusable value.
 */
export function parseScriptHeader(value: string | undefined): ScriptStep | undefined {
  if (!value) return undefined;
  const trimmed = value.trim();
  if (trimmed.startsWith('{')) {
    try {
      const parsed = JSON.parse(trimmed) as unknown;
      return typeof parsed === 'object' && parsed !== null ? (parsed as ScriptStep) : undefined;
    } catch {
      return undefined;
    }
  }
  if (trimmed.startsWith('status:')) {
    const status = Number(trimmed.slice('status:'.length));
    return Number.isInteger(status) ? { status } : undefined;
  }
  return scriptPresets[trimmed];
}

// ---------------------------------------------------------------- errors

const errorTypes: Record<number, [type: string, code: string | null, message: string]> = {
  400: ['invalid_request_error', null, 'The request is invalid.'],
  401: ['invalid_request_error', 'invalid_api_key', 'Incorrect API key provided.'],
  403: ['invalid_request_error', 'unsupported_country_region_territory', 'Access denied.'],
  404: ['invalid_request_error', 'not_found', 'The resource was not found.'],
  408: ['timeout', 'timeout', 'The request timed out.'],
  409: ['invalid_request_error', 'conflict', 'The request conflicts with another.'],
  429: ['requests', 'rate_limit_exceeded', 'Rate limit reached for requests. Please try again later.'],
  500: ['server_error', 'server_error', 'The server had an error while processing your request.'],
  502: ['server_error', 'bad_gateway', 'Bad gateway.'],
  503: ['server_error', 'service_unavailable', 'The engine is currently overloaded, please try again later.'],
};

/** An error body shaped like OpenAI's: `{ error: { message, type, param, code } }`. */
export function openAIErrorBody(status: number, overrides: { message?: string; code?: string; param?: string | null } = {}) {
  const [type, code, message] = errorTypes[status] ?? (status >= 500 ? errorTypes[500] : errorTypes[400]);
  return {
    error: {
      message: overrides.message ?? message,
      type,
      param: overrides.param ?? null,
      code: overrides.code ?? code,
    },
  };
}

// ---------------------------------------------------------------- text, tokens, hashing

/** The server's token estimate: ceil(characters / 4), the same rule as src/tokens.ts. */
export function countTokens(text: string): number {
  return text.length === 0 ? 0 : Math.max(1, Math.ceil(text.length / 4));
}

/** FNV-1a, 32 bits, over UTF-16 code units; `seed` gives independent hashes. */
export function hash32(text: string, seed = 0x811c9dc5): number {
  let hash = seed >>> 0;
  for (let index = 0; index < text.length; index++) {
    hash ^= text.charCodeAt(index);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}

/** A content part of a chat message, as both OpenAI and Anthropic-style clients send them. */
export interface ContentPart {
  type?: string;
  text?: string;
  cache_control?: { type?: string; ttl?: string };
  [key: string]: unknown;
}

export interface ChatMessageBody {
  role?: string;
  content?: string | ContentPart[] | null;
  [key: string]: unknown;
}

/** The text of a message's content, content parts joined (non-text parts count as nothing). */
export function messageText(message: ChatMessageBody | undefined): string {
  const content = message?.content;
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  let text = '';
  for (const part of content) if (part && typeof part.text === 'string') text += part.text;
  return text;
}

/**
 * The prompt as the server "tokenizes" it: `role\ncontent\n` per message. Token i is
 * characters [4i, 4i+4), so prompt prefixes and cached token counts are well defined.
 */
export function serializePrompt(messages: ChatMessageBody[]): string {
  let text = '';
  for (const message of messages) text += `${message.role ?? 'user'}\n${messageText(message)}\n`;
  return text;
}

/** Default words in an echoed reply, so long prompts do not make long answers. */
export const defaultMaxReplyWords = 32;

/**
 * The default, deterministic reply: `echo: <last user message>`, whitespace collapsed,
 * cut to `maxWords` words.
 */
export function replyFor(messages: ChatMessageBody[], maxWords = defaultMaxReplyWords): string {
  let last: ChatMessageBody | undefined;
  for (let index = messages.length - 1; index >= 0; index--) {
    if (messages[index]?.role === 'user') {
      last = messages[index];
      break;
    }
  }
  const words = messageText(last).split(/\s+/).filter(Boolean).slice(0, maxWords);
  return `echo: ${words.join(' ')}`.trimEnd();
}

/** Splits a reply into `wordsPerDelta`-word pieces that concatenate back to the reply exactly. */
export function splitIntoDeltas(text: string, wordsPerDelta = 1): string[] {
  const words = text.match(/\S+\s*/g) ?? [];
  const deltas: string[] = [];
  const size = Math.max(1, Math.floor(wordsPerDelta));
  for (let index = 0; index < words.length; index += size) deltas.push(words.slice(index, index + size).join(''));
  const leading = text.match(/^\s+/)?.[0];
  if (leading && deltas.length > 0) deltas[0] = leading + deltas[0];
  return deltas;
}

/**
 * The embedding the server returns for `text`: each lower-cased word adds a hashed
 * pseudo-random direction, the sum is L2-normalised, and values are rounded to float32
 * (so the JSON and base64 encodings decode to the same numbers). Texts that share words
 * are close; the same text always gives the same vector.
 */
export function expectedEmbedding(text: string, dimensions = 8): number[] {
  const vector = new Float64Array(dimensions);
  const words = text.toLowerCase().split(/[^\p{L}\p{N}]+/u).filter(Boolean);
  if (words.length === 0) words.push('');
  for (const word of words) {
    let state = hash32(word);
    for (let index = 0; index < dimensions; index++) {
      // xorshift32 from the word's hash: a fixed direction per word, no allocation.
      state ^= state << 13;
      state ^= state >>> 17;
      state ^= state << 5;
      vector[index] += ((state >>> 0) / 4294967296) * 2 - 1;
    }
  }
  let norm = 0;
  for (let index = 0; index < dimensions; index++) norm += vector[index] * vector[index];
  norm = Math.sqrt(norm) || 1;
  const result = new Array<number>(dimensions);
  for (let index = 0; index < dimensions; index++) result[index] = Math.fround(vector[index] / norm);
  return result;
}

/** Cosine similarity, for tests that check "similar texts are close". */
export function cosineSimilarity(left: ArrayLike<number>, right: ArrayLike<number>): number {
  let dot = 0;
  let leftNorm = 0;
  let rightNorm = 0;
  for (let index = 0; index < left.length; index++) {
    dot += left[index] * right[index];
    leftNorm += left[index] * left[index];
    rightNorm += right[index] * right[index];
  }
  return dot / (Math.sqrt(leftNorm) * Math.sqrt(rightNorm) || 1);
}

/** Float32 little-endian bytes in base64, as OpenAI's `encoding_format: 'base64'` returns. */
export function embeddingToBase64(vector: number[]): string {
  return Buffer.from(new Float32Array(vector).buffer).toString('base64');
}

// ---------------------------------------------------------------- media

/** A valid 1x1 transparent PNG. */
export const tinyPngBase64 =
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==';

/** The transcript the server returns for audio bytes: their length and a hash of their content. */
export function transcriptFor(audio: Uint8Array): string {
  let hash = 0x811c9dc5;
  for (let index = 0; index < audio.length; index++) {
    hash ^= audio[index];
    hash = Math.imul(hash, 0x01000193);
  }
  return `transcript of ${audio.length} bytes ${(hash >>> 0).toString(16).padStart(8, '0')}`;
}

/** Seconds of audio the server pretends `bytes` hold (16 kHz, 16-bit mono). */
export function audioSecondsFor(bytes: number): number {
  return bytes / 32_000;
}

/**
 * A valid WAV file (8 kHz, 16-bit mono) whose length and samples derive from `text`:
 * 20 ms of audio per character, a tone whose pitch follows the character codes.
 */
export function speechFor(text: string): Buffer {
  const sampleRate = 8000;
  const samplesPerCharacter = 160;
  const samples = new Float32Array(Math.max(1, text.length) * samplesPerCharacter);
  for (let index = 0; index < samples.length; index++) {
    const code = text.charCodeAt(Math.floor(index / samplesPerCharacter)) || 64;
    const frequency = 200 + (code % 64) * 10;
    samples[index] = (8000 / 32767) * Math.sin((2 * Math.PI * frequency * index) / sampleRate);
  }
  return Buffer.from(wavBytes(samples, { sampleRate }));
}

// ---------------------------------------------------------------- multipart

export interface MultipartPart {
  name: string;
  filename?: string;
  contentType?: string;
  /** A view into the request body, not a copy. */
  data: Buffer;
}

/**
 * Parses multipart/form-data held in one Buffer. Part contents are subarrays of `body`,
 * so a tens-of-MB upload is never copied nor turned into a string here.
 */
export function parseMultipart(body: Buffer, contentType: string): MultipartPart[] {
  const boundary = /boundary=(?:"([^"]+)"|([^;]+))/i.exec(contentType);
  if (!boundary) return [];
  const delimiter = Buffer.from(`--${boundary[1] ?? boundary[2]}`);
  const nextDelimiter = Buffer.from(`\r\n--${boundary[1] ?? boundary[2]}`);
  const parts: MultipartPart[] = [];
  let position = body.indexOf(delimiter);
  if (position === -1) return parts;
  position += delimiter.length;
  while (position < body.length) {
    // '--' right after a delimiter closes the body.
    if (body[position] === 0x2d && body[position + 1] === 0x2d) break;
    const headerStart = position + 2; // skip CRLF
    const headerEnd = body.indexOf('\r\n\r\n', headerStart);
    if (headerEnd === -1) break;
    const next = body.indexOf(nextDelimiter, headerEnd + 4);
    if (next === -1) break;
    const headers = body.toString('utf8', headerStart, headerEnd);
    const disposition = /content-disposition:[^\r\n]*/i.exec(headers)?.[0] ?? '';
    const name = /\bname="([^"]*)"/i.exec(disposition)?.[1] ?? '';
    const filename = /\bfilename="([^"]*)"/i.exec(disposition)?.[1];
    const partType = /content-type:\s*([^\r\n]*)/i.exec(headers)?.[1];
    parts.push({ name, filename, contentType: partType, data: body.subarray(headerEnd + 4, next) });
    position = next + nextDelimiter.length;
  }
  return parts;
}

/** Calls `onLine(start, end)` for each non-blank line of a JSONL buffer, without splitting it into strings. */
export function forEachLine(buffer: Buffer, onLine: (start: number, end: number, lineNumber: number) => void): void {
  let start = 0;
  let lineNumber = 0;
  while (start < buffer.length) {
    let end = buffer.indexOf(0x0a, start);
    if (end === -1) end = buffer.length;
    lineNumber++;
    let contentEnd = end;
    if (contentEnd > start && buffer[contentEnd - 1] === 0x0d) contentEnd--;
    let blank = true;
    for (let index = start; index < contentEnd; index++) {
      const byte = buffer[index];
      if (byte !== 0x20 && byte !== 0x09) {
        blank = false;
        break;
      }
    }
    if (!blank) onLine(start, contentEnd, lineNumber);
    start = end + 1;
  }
}
