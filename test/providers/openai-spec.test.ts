/**
 * Issue 23's conformance check: every request body the OpenAI adapter sends (chat, stream,
 * embeddings, images, transcription, speech, files, batches, and each line of a batch file) is
 * recorded by the local server and validated against the request schemas of OpenAI's published
 * OpenAPI spec, vendored in fixtures/openai-openapi.json (fixtures/README.md says from where and
 * what was trimmed). The validator is ajv; a few bodies the spec refuses show it can fail.
 */
import { readFileSync } from 'node:fs';
import Ajv, { type ValidateFunction } from 'ajv';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openai, type OpenAISettings } from '../../providers/openai/index.js';
import type { BatchItem, CallContext, TextCall } from '../../src/target.js';
import { startOpenAIServer, type OpenAIServer, type RecordedRequest } from '../servers/openai-compatible.js';
import { collect } from '../helpers/async.js';

const spec = JSON.parse(readFileSync(new URL('./fixtures/openai-openapi.json', import.meta.url), 'utf8')) as object;
// OpenAPI 3.0 schemas: `nullable` is ajv's own keyword; `format: binary` (multipart files) is not validated.
const ajv = new Ajv({ strict: false, allErrors: true, validateFormats: false });
ajv.addSchema(spec, 'openai');
const schema = (name: string): ValidateFunction => {
  const validate = ajv.getSchema(`openai#/components/schemas/${name}`);
  if (!validate) throw new Error(`the fixture has no schema ${name}`);
  return validate;
};

/** Which schema each request the adapter makes must satisfy, by method and route. */
const schemaOfRoute: Record<string, string> = {
  'POST /chat/completions': 'CreateChatCompletionRequest',
  'POST /embeddings': 'CreateEmbeddingRequest',
  'POST /images/generations': 'CreateImageRequest',
  'POST /audio/transcriptions': 'CreateTranscriptionRequest',
  'POST /audio/speech': 'CreateSpeechRequest',
  'POST /files': 'CreateFileRequest',
  'POST /batches': 'CreateBatchRequest',
};
const schemaOfLine: Record<string, string> = { '/v1/chat/completions': 'CreateChatCompletionRequest', '/v1/embeddings': 'CreateEmbeddingRequest' };

let server: OpenAIServer;
beforeAll(async () => {
  server = await startOpenAIServer({ seed: 9 });
});
afterAll(() => server.close());

const context = (overrides: Partial<CallContext> = {}): CallContext => ({ signal: new AbortController().signal, deadline: Date.now() + 10_000, segment: 'interactive', emit() {}, ...overrides });
const target = (overrides: Partial<OpenAISettings> = {}) =>
  openai({ model: 'gpt-4.1-mini', embeddingModel: 'text-embedding-3-small', imageModel: 'dall-e-3', transcriptionModel: 'whisper-1', speechModel: 'tts-1', baseURL: server.baseURL, apiKey: 'sk-spec-0123456789', ...overrides });
/** What the client addresses to api.openai.com goes to the local server (a process-edge double). */
const towardsLocal: typeof fetch = (input, init) => {
  const url = new URL(input instanceof Request ? input.url : String(input));
  return fetch(url.origin === 'https://api.openai.com' ? `${server.url}${url.pathname}${url.search}` : input, init);
};

const everyField: TextCall = {
  messages: [
    { role: 'system', content: 'be brief' },
    { role: 'user', content: 'what is a latency budget?', name: 'ada' },
    { role: 'assistant', content: 'a deadline for one call' },
    { role: 'user', content: 'and a segment?' },
  ],
  maxOutputTokens: 40,
  temperature: 0.7,
  topP: 0.9,
  stop: ['\n\n', 'END', '###', '--'],
  seed: 7,
};

/** A multipart body as the server recorded it, files standing for their bytes (the spec's `format: binary` strings). */
function bodyOf(request: RecordedRequest): unknown {
  if (!request.multipartFields) return request.body;
  const fields = request.body as Record<string, unknown>;
  return Object.fromEntries(Object.entries(fields).map(([name, value]) => [name, typeof value === 'object' && value !== null ? '<binary>' : value]));
}

function violations(name: string, body: unknown): string[] {
  const validate = schema(name);
  return validate(body) ? [] : (validate.errors ?? []).map((error) => `${name}${error.instancePath} ${error.message} ${JSON.stringify(error.params)}`);
}

describe('every request body the OpenAI adapter sends conforms to the spec', () => {
  it('chat (both max-token dialects, cache keys and breakpoints), stream, embeddings, images, transcription, speech, files, batches and batch lines', async () => {
    await target().doGenerate!(everyField, context({ promptCacheKey: 'conversation-1' }));
    await target({ baseURL: 'https://api.openai.com/v1', fetch: towardsLocal }).doGenerate!(everyField, context({ promptCacheKey: 'conversation-1' }));
    await target({ cache: { mode: 'breakpoints', acceptsKey: false } }).doGenerate!(everyField, context({ cacheBreakpoints: [0, 2] }));
    await collect(target().doStream!(everyField, context({ promptCacheKey: 'conversation-1' })));
    await target().doEmbed!({ inputs: ['alpha', 'beta gamma'], dimensions: 16 }, context());
    await target().doImage!({ prompt: 'a red square', n: 2, size: '1024x1024' }, context());
    await target({ imageModel: 'gpt-image-1' }).doImage!({ prompt: 'a blue circle' }, context());
    await target().doTranscribe!({ audio: new Uint8Array(3200).fill(7), mediaType: 'audio/wav', language: 'en' }, context());
    await target().doSpeech!({ text: 'hello there', voice: 'nova', format: 'wav' }, context());
    const batch = target({ kind: 'batch' }).batch!;
    const textItems: BatchItem[] = [0, 1].map((index) => ({ customId: `t-${index}`, operation: 'text', call: { ...everyField, seed: index } }));
    const embedItems: BatchItem[] = [0, 1].map((index) => ({ customId: `e-${index}`, operation: 'embedding', input: `input ${index}`, dimensions: 8 }));
    const textBatch = await batch.submit(textItems, { operation: 'text', metadata: { inferlane_job_id: 'spec-text', team: 'search' } }, { signal: new AbortController().signal });
    const embedBatch = await batch.submit(embedItems, { operation: 'embedding', metadata: { inferlane_job_id: 'spec-embed' } }, { signal: new AbortController().signal });

    const problems: string[] = [];
    const seen = new Set<string>();
    for (const request of server.requests) {
      const key = `${request.method} ${request.route}`;
      const name = schemaOfRoute[key];
      expect(name, `a schema for ${key}`).toBeDefined();
      seen.add(key);
      problems.push(...violations(name, bodyOf(request)));
    }
    let lines = 0;
    for (const fileId of [textBatch.inputFileId!, embedBatch.inputFileId!]) {
      for (const text of server.files.content(fileId)!.toString('utf8').trim().split('\n')) {
        const line = JSON.parse(text) as { url: string; body: unknown };
        lines++;
        problems.push(...violations('BatchRequestInput', line), ...violations(schemaOfLine[line.url], line.body));
      }
    }
    expect(problems).toEqual([]);
    expect([...seen].sort()).toEqual(Object.keys(schemaOfRoute).sort());
    expect(lines).toBe(4);
    // The dialects both reached the wire: max_tokens for a compatible server, max_completion_tokens on OpenAI's.
    const chats = server.requests.filter((request) => request.route === '/chat/completions').map((request) => request.body as Record<string, unknown>);
    expect(chats.map((body) => ('max_completion_tokens' in body ? 'max_completion_tokens' : 'max_tokens'))).toEqual(['max_tokens', 'max_completion_tokens', 'max_tokens', 'max_tokens']);
  });

  it('the schemas refuse what the adapter refuses before sending (the check can fail)', () => {
    const chat = { model: 'gpt-4.1-mini', messages: [{ role: 'user', content: 'hi' }] };
    expect(violations('CreateChatCompletionRequest', chat)).toEqual([]);
    expect(violations('CreateChatCompletionRequest', { ...chat, temperature: 2.5 }).join()).toContain('/temperature must be <= 2');
    expect(violations('CreateChatCompletionRequest', { ...chat, stop: ['a', 'b', 'c', 'd', 'e'] }).join()).toContain('/stop');
    expect(violations('CreateChatCompletionRequest', { ...chat, messages: [{ role: 'tool', content: 'x' }] }).join()).toContain('/messages/0');
    expect(violations('CreateImageRequest', { prompt: 'x', n: 11 }).join()).toContain('/n must be <= 10');
    expect(violations('CreateSpeechRequest', { model: 'tts-1', input: 'x', voice: 'nova', response_format: 'ogg' }).join()).toContain('/response_format must be equal to one of the allowed values');
    expect(violations('CreateSpeechRequest', { model: 'tts-1', input: 'x'.repeat(4097), voice: 'nova' }).join()).toContain('/input must NOT have more than 4096 characters');
    expect(violations('CreateBatchRequest', { input_file_id: 'f', endpoint: '/v1/embeddings', completion_window: '7d' }).join()).toContain('/completion_window');
    expect(violations('CreateEmbeddingRequest', { model: 'e', input: ['a'], encoding_format: 'float', extra: true }).join()).toContain('must NOT have additional properties');
  });
});
