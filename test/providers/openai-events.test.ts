/**
 * The OpenAI adapter reads a streaming response's body itself (providers/openai/event-stream-reader.ts):
 * the request goes through the real `openai` client to the local server, whose extra route
 * here writes the event stream byte for byte, in pieces, with pauses between them, so the
 * client receives them as separate reads.
 */
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { openai, type OpenAISettings } from '../../providers/openai/index.js';
import { createClient } from '../../src/index.js';
import type { CallContext, StreamPart, TextCall } from '../../src/target.js';
import { mulberry32 } from '../../src/random.js';
import { collect, failure, partsBeforeFailure } from '../helpers/async.js';
import { startOpenAIServer, type OpenAIServer } from '../servers/openai-compatible.js';

let server: OpenAIServer;
/** What the next chat request gets: pieces of the body, written one after another. */
let pieces: (string | Buffer)[] = [];
/** The pause after each piece, ms. */
let pauseMs = 4;

beforeAll(async () => {
  server = await startOpenAIServer({ seed: 3 });
  server.addRoutes(async (req, res, _body, context) => {
    if (context.path !== '/v1/chat/completions' || req.headers['x-raw-events'] !== '1') return false;
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    for (const piece of pieces) {
      await new Promise((resolve) => res.write(piece, resolve));
      if (!(await context.wait(pauseMs))) return true;
    }
    res.end();
    return true;
  });
});
afterAll(async () => {
  await server.close();
});

function target(overrides: Partial<OpenAISettings> = {}) {
  return openai({ model: 'gpt-test', baseURL: server.baseURL, apiKey: 'local', defaultHeaders: { 'x-raw-events': '1' }, ...overrides });
}

function context(): CallContext {
  return { signal: new AbortController().signal, deadline: Date.now() + 10_000, segment: 'interactive', emit() {} };
}

const hello: TextCall = { messages: [{ role: 'user', content: 'hi' }] };

const chunk = (content: string | undefined, finish: string | null = null) =>
  JSON.stringify({ id: 'c1', object: 'chat.completion.chunk', choices: [{ index: 0, delta: content === undefined ? {} : { content }, finish_reason: finish }] });

const textOf = (parts: StreamPart[]) => parts.flatMap((part) => (part.type === 'text-delta' ? [part.text] : [])).join('');

describe('reading the event stream', () => {
  it('puts events back together across reads: split lines, a character split between reads, CRLF, comments, event names', async () => {
    const accented = Buffer.from(`data: ${chunk('café ☕ ')}\n\n`, 'utf8');
    const cut = accented.indexOf(Buffer.from('☕')) + 1; // inside the three bytes of the cup
    pieces = [
      ': keep-alive\n\n',
      `data: ${chunk('Hel')}`,
      `\n\ndata:${chunk('lo, ')}\n\n`,
      accented.subarray(0, cut),
      accented.subarray(cut),
      `event: message\r\ndata: ${chunk('world')}\r\n\r\n`,
      `data: ${chunk(undefined, 'stop')}\n\ndata: ${JSON.stringify({ id: 'c1', choices: [], usage: { prompt_tokens: 3, completion_tokens: 4, total_tokens: 7 } })}\n\n`,
      'data: [DONE]\n\n',
    ];
    const parts = await collect(target().doStream!(hello, context()));
    expect(textOf(parts)).toBe('Hello, café ☕ world');
    expect(parts.at(-1)).toEqual({ type: 'finish', finishReason: 'stop', usage: { inputTokens: 3, outputTokens: 4, totalTokens: 7 } });
  });

  it('any framing of the same events gives the same answer (seeded: line endings, comments, ids, event names, byte splits)', async () => {
    const random = mulberry32(20261126);
    const words = ['plain ', 'café ', '☕ ', '日本語 ', '🙂 ', '"quoted" ', 'back\\slash ', 'new\nline ', ''];
    pauseMs = 1;
    try {
      for (let round = 0; round < 25; round++) {
        const deltas = Array.from({ length: 1 + Math.floor(random() * 8) }, () => words[Math.floor(random() * words.length)]);
        const end = ['\n', '\r\n', '\r'][Math.floor(random() * 3)];
        const lines: string[] = [];
        for (const delta of deltas) {
          if (random() < 0.3) lines.push(': keep-alive', '');
          if (random() < 0.3) lines.push(`id: ${round}`);
          if (random() < 0.3) lines.push('event: message');
          lines.push(`data:${random() < 0.5 ? ' ' : ''}${chunk(delta)}`, '');
        }
        lines.push(`data: ${chunk(undefined, 'stop')}`, '', 'data: [DONE]', '', '');
        const body = Buffer.from(lines.join(end), 'utf8');
        // Cut the bytes at random points (inside characters too).
        const cuts = Array.from({ length: Math.floor(random() * 6) }, () => Math.floor(random() * body.length)).sort((a, b) => a - b);
        pieces = [0, ...cuts].map((start, index, starts) => body.subarray(start, starts[index + 1] ?? body.length)).filter((piece) => piece.length > 0);
        const parts = await collect(target().doStream!(hello, context()));
        expect(textOf(parts), `round ${round}, ${JSON.stringify(end)} line ends, cuts at ${cuts.join(',')}`).toBe(deltas.join(''));
        expect(parts.at(-1)).toMatchObject({ type: 'finish', finishReason: 'stop' });
      }
    } finally {
      pauseMs = 4;
    }
  });

  it('a stream that says [DONE] without ever giving a finish reason is complete (finish reason other); one that just stops is cut short', async () => {
    pieces = [`data: ${chunk('all ')}\n\n`, `data: ${chunk('there')}\n\n`, 'data: [DONE]\n\n'];
    const parts = await collect(target().doStream!(hello, context()));
    expect(textOf(parts)).toBe('all there');
    expect(parts.at(-1)).toEqual({ type: 'finish', finishReason: 'other' });
    pieces = [`data: ${chunk('all ')}\n\n`, `data: ${chunk('there')}\n\n`];
    expect(await failure(collect(target().doStream!(hello, context())))).toMatchObject({ name: 'NetworkError', retryable: true });
  });

  it('ignores whatever follows [DONE]', async () => {
    pieces = [`data: ${chunk('kept', 'stop')}\n\n`, 'data: [DONE]\n\n', `data: ${chunk(' dropped')}\n\n`, 'data: {not json\n\n'];
    const parts = await collect(target().doStream!(hello, context()));
    expect(textOf(parts)).toBe('kept');
    expect(parts.at(-1)).toMatchObject({ type: 'finish', finishReason: 'stop' });
  });

  it('an error payload mid-stream is a retryable ProviderError carrying the provider words, after the parts before it', async () => {
    pieces = [`data: ${chunk('partial ')}\n\n`, `data: ${JSON.stringify({ error: { message: 'the model is overloaded', type: 'server_error' } })}\n\n`];
    const { parts: seen, error } = await partsBeforeFailure(target().doStream!(hello, context()));
    expect(error).toMatchObject({ name: 'ProviderError', retryable: true, target: 'openai:gpt-test' });
    expect(error.message).toContain('mid-stream: the model is overloaded');
    expect(textOf(seen)).toBe('partial ');
  });

  it('an event named error fails the stream whatever its data looks like (JSON with a message, an error object, plain text)', async () => {
    const shapes = [
      ['{"message":"upstream timed out"}', 'upstream timed out'],
      ['{"error":{"message":"shard 3 failed","type":"server_error"}}', 'shard 3 failed'],
      ['{"error":"out of memory"}', 'out of memory'],
      ['the model crashed', 'the model crashed'],
    ];
    for (const [data, words] of shapes) {
      pieces = [`data: ${chunk('before ')}\n\n`, `event: error\ndata: ${data}\n\n`, `data: ${chunk('after', 'stop')}\n\ndata: [DONE]\n\n`];
      const { parts: seen, error } = await partsBeforeFailure(target().doStream!(hello, context()));
      expect(error).toMatchObject({ name: 'ProviderError', retryable: true });
      expect(error.message).toContain(`mid-stream: ${words}`);
      expect(textOf(seen)).toBe('before ');
    }
  });

  it('data that is not JSON is a retryable ProviderError, logged only through a logger that asked for it', async () => {
    const printed = vi.spyOn(console, 'error').mockImplementation(() => {});
    try {
      pieces = [`data: ${chunk('a')}\n\n`, 'data: {"choices":[{"delta":{"content":\n\n'];
      expect(await failure(collect(target().doStream!(hello, context())))).toMatchObject({ name: 'ProviderError', retryable: true });
      expect(printed).not.toHaveBeenCalled();
      const logged: unknown[][] = [];
      const logger = { error: (...args: unknown[]) => logged.push(args), warn() {}, info() {}, debug() {} };
      await failure(collect(target({ logLevel: 'error', logger }).doStream!(hello, context())));
      expect(logged).toEqual([['Could not parse message into JSON:', '{"choices":[{"delta":{"content":']]);
      expect(printed).not.toHaveBeenCalled();
    } finally {
      printed.mockRestore();
    }
  });

  it('an event that never ends is cut off past its limit with a typed error, not held in memory', async () => {
    // The server is still writing (more of the same line) when the client gives up on it.
    pieces = [`data: ${chunk('x')}\n\n`, `data: "${'y'.repeat(9 * 1024 * 1024)}`, ...Array.from({ length: 100 }, () => 'y'.repeat(1000))];
    const error = await failure(collect(target().doStream!(hello, context())));
    expect(error).toMatchObject({ name: 'ProviderError', target: 'openai:gpt-test' });
    expect(error.message).toContain('grew past 8388608 characters');
    await server.waitFor((requests) => requests.at(-1)?.finishedAt !== undefined);
    expect(server.requests.at(-1)!.aborted).toBe(true);
  });

  it('reads a body that is an async iterable rather than a web stream (a fetch like node-fetch)', async () => {
    const nodeStyleFetch: typeof fetch = async (input, init) => {
      const response = await fetch(input, init);
      const body = Readable.fromWeb(response.body! as never);
      return new Proxy(response, { get: (real, key) => (key === 'body' ? body : Reflect.get(real, key, real)) });
    };
    pieces = [`data: ${chunk('from ')}\n\n`, `data: ${chunk('node', 'stop')}\n\ndata: [DONE]\n\n`];
    const parts = await collect(target({ fetch: nodeStyleFetch }).doStream!(hello, context()));
    expect(textOf(parts)).toBe('from node');
    expect(parts.at(-1)).toMatchObject({ type: 'finish', finishReason: 'stop' });
  });

  it('through the client: a stream cut before its finish falls back to the next target before its first part', async () => {
    pieces = [': nothing yet\n\n'];
    const client = createClient({
      targets: [target({ id: 'raw' }), openai({ id: 'plain', model: 'gpt-test', baseURL: server.baseURL, apiKey: 'local' })],
      microBatch: false,
    });
    try {
      const parts = await collect(client.stream({ prompt: 'one two', latency: 5000 }));
      const finish = parts.at(-1) as Extract<(typeof parts)[number], { type: 'finish' }>;
      expect(finish.route.target).toBe('plain');
      expect(finish.route.attempts.map((attempt) => [attempt.target, attempt.outcome])).toEqual([
        ['raw', 'error'],
        ['plain', 'ok'],
      ]);
    } finally {
      await client.close();
    }
  });
});
