/**
 * `openai(settings)`: one OpenAI (or OpenAI-compatible) model at one place, as a `Target`.
 *
 * This file only composes; each idea has its own file:
 *   settings.ts        what may be passed, checked and resolved
 *   connection.ts      an `openai` client per replica, the replica of a call, the error mapping (errors.ts)
 *   chat-request.ts    chat bodies (online and batch lines), checked against the spec
 *   chat-response.ts   answers and usage read back
 *   generate.ts        doGenerate          stream.ts  doStream (event-stream-reader.ts reads the body)
 *   embed.ts           doEmbed
 *   image.ts, transcribe.ts, speech.ts    loaded on first use
 *   batch-capability.ts  target.batch; the Batch API itself (batch.ts, lines.ts) loads on first use
 *
 * Built on the official `openai` client with its retries off (the executor owns retries,
 * deadlines and fallbacks) and the attempt's signal on every request, so an abort closes the HTTP
 * connection. Imports the provider kit (src/provider.ts) only, as any third-party adapter would.
 */
import type { CallContext, Target, TextCall } from '../../src/provider.js';
import { createBatchCapability } from './batch-capability.js';
import type { OpenAIBatchCapability } from './batch-settings.js';
import { buildChatBody } from './chat-request.js';
import { createConnection } from './connection.js';
import { embed } from './embed.js';
import { generateText } from './generate.js';
import { resolveSettings, type OpenAISettings } from './settings.js';
import { streamText } from './stream.js';

export { mapOpenAIError, parseRetryAfter } from './errors.js';
export type { OpenAIBatchCapability, OpenAIBatchSettings } from './batch-settings.js';
export type { MaxTokensParameter, OpenAISettings } from './settings.js';

export interface OpenAITarget extends Target {
  provider: 'openai';
  batch?: OpenAIBatchCapability;
}

export function openai(settings: OpenAISettings): OpenAITarget {
  const resolved = resolveSettings(settings);
  const { id, kind, modalities, cache } = resolved;
  const connection = createConnection(resolved, settings);
  const acceptsKey = cache.acceptsKey !== false;
  const breakpoints = cache.mode === 'breakpoints';
  const chatBody = (call: TextCall, ctx: CallContext): Record<string, unknown> =>
    buildChatBody(call, {
      model: resolved.model,
      maxTokensParameter: resolved.maxTokensParameter,
      promptCacheKey: acceptsKey ? ctx.promptCacheKey : undefined,
      cacheBreakpoints: breakpoints ? ctx.cacheBreakpoints : undefined,
    });

  const target: OpenAITarget = {
    id,
    kind,
    provider: 'openai',
    modalities,
    cache,
    // Every request carries ctx.signal to openai-node, which aborts its fetch: a pending request
    // or stream step settles on abort (tests: hangs, idle streams, caller aborts against the local
    // server, and targetContract).
    honoursAbort: true,
    doGenerate: generateText(connection, chatBody),
    doStream: streamText(connection, chatBody),
    doEmbed: embed(connection, resolved.embeddingModel),
    // Image and audio code loads on its first call: a chat-only bundle does not carry it.
    doImage: (call, ctx) => import('./image.js').then((module) => module.generateImage(connection, resolved.imageModel, call, ctx)),
    doTranscribe: (call, ctx) => import('./transcribe.js').then((module) => module.transcribe(connection, resolved.transcriptionModel, call, ctx)),
    doSpeech: (call, ctx) => import('./speech.js').then((module) => module.synthesise(connection, resolved.speechModel, call, ctx)),
    async close() {
      connection.close();
    },
  };

  if (kind === 'batch' || settings.batch) {
    target.batch = createBatchCapability(settings.batch ?? {}, {
      target: id,
      model: resolved.model,
      embeddingModel: resolved.embeddingModel,
      maxTokensParameter: resolved.maxTokensParameter,
      client: () => connection.client(0),
      now: resolved.now,
    });
  }
  if (connection.replicas > 1) target.replicas = connection.replicas;
  if (settings.cost) target.cost = settings.cost;
  if (settings.expected) target.expected = settings.expected;
  if (settings.microBatch) target.microBatch = settings.microBatch;
  const limits = settings.limits ?? (modalities.includes('embedding') ? { maxBatchSize: 2048, maxBatchTokens: 300_000, maxInputTokens: 8192 } : undefined);
  if (limits) target.limits = limits;
  return target;
}
