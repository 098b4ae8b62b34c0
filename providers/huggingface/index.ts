/**
 * Hugging Face adapter: one factory, `huggingface(settings)`, returning a `Target` built on the
 * official `@huggingface/inference` client. It reaches Inference Providers through the HF router
 * (`provider: 'auto' | 'groq' | 'hf-inference' ...`) or a dedicated endpoint (`endpointUrl`:
 * Inference Endpoints, TGI, TEI, or a local server).
 *
 * Imports: the provider kit (src/provider.ts) and this folder only, as any third-party adapter would.
 *
 * Two choices that keep the executor in charge of time:
 * - the client's own retry on 503 ("model loading") re-requests at once and without limit, so it
 *   is off by default (`retryOnLoading`); a 503 comes back as a retryable ProviderError with the
 *   wait HF estimated, and the executor fits the retry inside the deadline;
 * - every request carries the call's signal, so a deadline, a caller abort or a lost hedge closes
 *   the connection; breaking out of `doStream` does the same.
 */
import { InferenceClient } from '@huggingface/inference';
import type { InferenceProviderOrPolicy, Options as ClientOptions } from '@huggingface/inference';
import { environmentVariable, finishReasonOf, incompleteStreamError, InvalidRequestError, isBrowserLike } from '../../src/provider.js';
import type {
  CallContext,
  EmbedCall,
  EmbedResult,
  FinishReason,
  ImageCall,
  ImageResult,
  MicroBatchSettings,
  Modality,
  StreamPart,
  Target,
  TargetCost,
  TargetLimits,
  TextCall,
  TextResult,
  TranscribeCall,
  TranscribeResult,
  Usage,
} from '../../src/provider.js';
import { toEmbeddingMatrix } from './embeddings.js';
import { mapHuggingFaceError, type ObservedExchange } from './errors.js';

export { mapHuggingFaceError, parseRetryAfter } from './errors.js';
export type { MapErrorContext, ObservedExchange } from './errors.js';
export { meanPool, toEmbeddingMatrix } from './embeddings.js';

/** An Inference Provider of the HF router, or 'auto' (the first the account allows for the model). */
export type HuggingFaceProvider = InferenceProviderOrPolicy;

/** The modalities this adapter can serve. */
export type HuggingFaceModality = Extract<Modality, 'text' | 'embedding' | 'image' | 'transcription'>;

const supportedModalities: readonly HuggingFaceModality[] = ['text', 'embedding', 'image', 'transcription'];

export interface HuggingFaceSettings {
  /** Unique id in a client. @default `hf:<provider>:<model>`, or `hf:endpoint:<model>` with `endpointUrl` */
  id?: string;
  /** Hub model id, e.g. 'meta-llama/Llama-3.1-8B-Instruct'. Used for every modality unless overridden below. */
  model: string;
  /**
   * Inference Provider the HF router sends requests to. Must be unset, 'auto' or 'hf-inference'
   * with `endpointUrl` (endpoints speak the hf-inference protocol).
   * @default 'auto'
   */
  provider?: HuggingFaceProvider;
  /**
   * A dedicated endpoint (Inference Endpoints, TGI, TEI, a local server). Chat goes to
   * `<endpointUrl>/v1/chat/completions`; embeddings, images and transcriptions are posted to the
   * URL itself. @default undefined (the HF router)
   */
  endpointUrl?: string;
  /** HF token or a provider's own key. Never appears in errors. @default process.env.HF_TOKEN */
  accessToken?: string;
  /** 'realtime' for fast providers (Groq, Cerebras), else 'cloud'. @default 'cloud' */
  kind?: 'cloud' | 'realtime';
  /** Which of text, embedding, image and transcription this target serves. @default ['text'] */
  modalities?: HuggingFaceModality[];
  /** Model for `doEmbed` (feature-extraction). @default `model` */
  embeddingModel?: string;
  /** Model for `doImage` (text-to-image). @default `model` */
  imageModel?: string;
  /** Model for `doTranscribe` (automatic-speech-recognition). @default `model` */
  transcriptionModel?: string;
  /** A fetch to use instead of the global one (proxies, tests). @default globalThis.fetch */
  fetch?: typeof fetch;
  /**
   * Let the HF client re-request on 503 ("model loading"). It retries immediately and without
   * limit, bounded only by the call's deadline; off, the executor's retry policy decides.
   * @default false
   */
  retryOnLoading?: boolean;
  /** Allow an access token in a browser page, where any visitor can read it. @default false */
  dangerouslyAllowBrowser?: boolean;
  /**
   * Context and batch limits. @default `{ maxBatchSize: 32 }` for an embedding endpoint at
   * `endpointUrl` (TEI's default batch), else none
   */
  limits?: TargetLimits;
  /** Prices in US dollars. @default undefined (unknown, routed as free) */
  cost?: TargetCost;
  /** Latency priors in ms, replaced by measurements. @default undefined */
  expected?: { ttftMs?: number; totalMs?: number };
  /**
   * Micro-batching of embedding inputs. @default `{ maxBatchSize: 32 }` for an embedding endpoint
   * at `endpointUrl` (self-hosted TEI-like), else the client's runtime defaults
   */
  microBatch?: MicroBatchSettings;
}

/** Provider-option key: `providerOptions.huggingface` is spread into the client's arguments. */
const providerName = 'huggingface';

/** TEI's default `max_client_batch_size`, inputs per request. */
const selfHostedBatchSize = 32;

export function huggingface(settings: HuggingFaceSettings): Target {
  validate(settings);
  const endpointUrl = settings.endpointUrl;
  const provider: HuggingFaceProvider = settings.provider ?? 'auto';
  const model = settings.model;
  const modalities: HuggingFaceModality[] = settings.modalities ? [...new Set(settings.modalities)] : ['text'];
  const id = settings.id ?? `hf:${endpointUrl ? 'endpoint' : provider}:${model}`;
  const accessToken = settings.accessToken ?? readEnvironmentToken();
  if (accessToken && isBrowserLike() && !settings.dangerouslyAllowBrowser) {
    throw new InvalidRequestError(
      'accessToken',
      'a secret token in a browser page is readable by every visitor; proxy the calls through a server or pass dangerouslyAllowBrowser: true',
    );
  }
  const client = new InferenceClient(accessToken ?? '', endpointUrl ? { endpointUrl } : {});
  const baseFetch: typeof fetch = (input, init) => (settings.fetch ?? globalThis.fetch)(input, init);
  // With an endpoint the client refuses a provider: the endpoint itself decides.
  const routing = endpointUrl ? {} : { provider };

  const selfHostedEmbeddings = endpointUrl !== undefined && modalities.includes('embedding');
  const limits = settings.limits ?? (selfHostedEmbeddings ? { maxBatchSize: selfHostedBatchSize } : undefined);
  const microBatch = settings.microBatch ?? (selfHostedEmbeddings ? { maxBatchSize: selfHostedBatchSize } : undefined);

  /** Per-call plumbing: a signal we can also abort ourselves, and a fetch that records what came back. */
  function open(ctx: CallContext) {
    const local = new AbortController();
    const signal = AbortSignal.any([ctx.signal, local.signal]);
    const observed: ObservedExchange = {};
    const recordingFetch: typeof fetch = async (input, init) => {
      try {
        const response = await baseFetch(input, init);
        observed.response = response;
        return response;
      } catch (error) {
        observed.fetchError = error;
        throw error;
      }
    };
    const options: ClientOptions = { fetch: recordingFetch, signal, retry_on_error: settings.retryOnLoading ?? false };
    const fail = (error: unknown) => mapHuggingFaceError(error, { target: id, signal: ctx.signal, observed });
    return { local, options, fail };
  }

  const target: Target = {
    id,
    kind: settings.kind ?? 'cloud',
    modalities,
    provider: providerName,
    // Every request carries the call's signal (through the client's fetch), and a stream's body
    // read fails when it aborts: test/providers/huggingface-contract.test.ts checks both settle fast.
    honoursAbort: true,
    ...(limits ? { limits } : {}),
    ...(settings.cost ? { cost: settings.cost } : {}),
    ...(settings.expected ? { expected: settings.expected } : {}),
    ...(microBatch ? { microBatch } : {}),
  };

  if (modalities.includes('text')) {
    target.doGenerate = async (call: TextCall, ctx: CallContext): Promise<TextResult> => {
      const exchange = open(ctx);
      try {
        // Object.assign, not `{ ...routing, ... }`: a leading spread followed by more is a slow path in Node 20's V8.
        const response = await client.chatCompletion(Object.assign({}, routing, chatArguments(model, call)), exchange.options);
        const choice = response.choices[0];
        return {
          text: typeof choice?.message?.content === 'string' ? choice.message.content : '',
          finishReason: finishReasonOf(choice?.finish_reason),
          usage: mapUsage(response.usage),
          modelId: response.model,
        };
      } catch (error) {
        throw exchange.fail(error);
      } finally {
        exchange.local.abort();
      }
    };

    target.doStream = (call: TextCall, ctx: CallContext): AsyncIterable<StreamPart> => ({
      [Symbol.asyncIterator]: () => streamChat(call, ctx),
    });
  }

  async function* streamChat(call: TextCall, ctx: CallContext): AsyncGenerator<StreamPart> {
    const exchange = open(ctx);
    let finishReason: FinishReason | undefined;
    let usage: Usage | undefined;
    try {
      const chunks = client.chatCompletionStream(
        // Ask for the final usage chunk (OpenAI-compatible servers, TGI); providerOptions may override.
        Object.assign({}, routing, { stream_options: { include_usage: true } }, chatArguments(model, call)),
        exchange.options,
      );
      for await (const chunk of chunks) {
        if (chunk.usage) usage = mapUsage(chunk.usage);
        const choice = chunk.choices?.[0];
        const text = choice?.delta?.content;
        if (typeof text === 'string' && text.length > 0) yield { type: 'text-delta', text };
        if (choice?.finish_reason) finishReason = finishReasonOf(choice.finish_reason);
      }
    } catch (error) {
      throw exchange.fail(error);
    } finally {
      // Also runs when the consumer breaks out: aborting closes the connection.
      exchange.local.abort();
    }
    // The client ends quietly both at `[DONE]` and when the body just stops, so a stream that
    // never named a finish reason (HF's router and TGI always do) was cut short: retryable, and the
    // executor resumes it elsewhere instead of passing a partial answer on as finished.
    if (finishReason === undefined) {
      throw incompleteStreamError(id);
    }
    if (usage) yield { type: 'usage', usage };
    yield { type: 'finish', finishReason, ...(usage ? { usage } : {}) };
  }

  if (modalities.includes('embedding')) {
    const embeddingModel = settings.embeddingModel ?? model;
    target.doEmbed = async (call: EmbedCall, ctx: CallContext): Promise<EmbedResult> => {
      if (call.inputs.length === 0) return { embeddings: [] };
      const exchange = open(ctx);
      try {
        // All inputs in one request: the micro-batcher already sized the batch.
        const output = await client.featureExtraction(
          Object.assign({}, routing, {
            model: embeddingModel,
            inputs: call.inputs,
            ...(call.dimensions !== undefined ? { dimensions: call.dimensions } : {}),
            ...providerArguments(call.providerOptions),
          }),
          exchange.options,
        );
        return { embeddings: toEmbeddingMatrix(output, call.inputs.length, id) };
      } catch (error) {
        throw exchange.fail(error);
      } finally {
        exchange.local.abort();
      }
    };
  }

  if (modalities.includes('image')) {
    const imageModel = settings.imageModel ?? model;
    target.doImage = async (call: ImageCall, ctx: CallContext): Promise<ImageResult> => {
      const count = call.n ?? 1;
      if (!Number.isInteger(count) || count < 1) throw new InvalidRequestError('n', 'must be a positive integer');
      const size = parseSize(call.size);
      const { parameters: extraParameters, ...extra } = providerArguments(call.providerOptions) as { parameters?: Record<string, unknown> };
      const exchange = open(ctx);
      try {
        // text-to-image answers one image per request; n images are n requests in parallel.
        const blobs = await Promise.all(
          Array.from({ length: count }, () =>
            client.textToImage(
              Object.assign({}, routing, { model: imageModel, inputs: call.prompt, ...extra, parameters: Object.assign({}, size, extraParameters) }),
              Object.assign({}, exchange.options, { outputType: 'blob' as const }),
            ),
          ),
        );
        const images = await Promise.all(
          blobs.map(async (blob) => ({
            base64: bytesToBase64(new Uint8Array(await blob.arrayBuffer())),
            ...(blob.type ? { mediaType: blob.type } : {}),
          })),
        );
        return { images, usage: { images: images.length } };
      } catch (error) {
        throw exchange.fail(error);
      } finally {
        exchange.local.abort();
      }
    };
  }

  if (modalities.includes('transcription')) {
    const transcriptionModel = settings.transcriptionModel ?? model;
    target.doTranscribe = async (call: TranscribeCall, ctx: CallContext): Promise<TranscribeResult> => {
      const exchange = open(ctx);
      try {
        // hf-inference sends the audio as the raw body, so there is no room for `language` there;
        // providers that take parameters get them through providerOptions.huggingface.
        const audio = new Blob([new Uint8Array(call.audio)], { type: call.mediaType ?? 'audio/wav' });
        const output = await client.automaticSpeechRecognition(
          Object.assign({}, routing, { model: transcriptionModel, inputs: audio, ...providerArguments(call.providerOptions) }),
          exchange.options,
        );
        return { text: output.text };
      } catch (error) {
        throw exchange.fail(error);
      } finally {
        exchange.local.abort();
      }
    };
  }

  return target;
}

function chatArguments(model: string, call: TextCall) {
  return {
    model,
    messages: call.messages.map((message) => ({
      role: message.role,
      content: message.content,
      ...(message.name !== undefined ? { name: message.name } : {}),
    })),
    ...(call.maxOutputTokens !== undefined ? { max_tokens: call.maxOutputTokens } : {}),
    ...(call.temperature !== undefined ? { temperature: call.temperature } : {}),
    ...(call.topP !== undefined ? { top_p: call.topP } : {}),
    ...(call.stop !== undefined ? { stop: call.stop } : {}),
    ...(call.seed !== undefined ? { seed: call.seed } : {}),
    ...providerArguments(call.providerOptions),
  };
}

function providerArguments(providerOptions: Record<string, Record<string, unknown>> | undefined): Record<string, unknown> {
  return providerOptions?.[providerName] ?? {};
}

interface WireUsage {
  prompt_tokens?: number;
  completion_tokens?: number;
  total_tokens?: number;
  prompt_tokens_details?: { cached_tokens?: number } | null;
}

function mapUsage(usage: WireUsage | undefined | null): Usage | undefined {
  if (!usage) return undefined;
  const cached = usage.prompt_tokens_details?.cached_tokens;
  return {
    ...(usage.prompt_tokens !== undefined ? { inputTokens: usage.prompt_tokens } : {}),
    ...(usage.completion_tokens !== undefined ? { outputTokens: usage.completion_tokens } : {}),
    ...(usage.total_tokens !== undefined ? { totalTokens: usage.total_tokens } : {}),
    ...(cached !== undefined ? { cachedInputTokens: cached } : {}),
  };
}

function parseSize(size: string | undefined): { width?: number; height?: number } {
  if (size === undefined) return {};
  const match = /^(\d+)x(\d+)$/.exec(size);
  if (!match) throw new InvalidRequestError('size', `expected WIDTHxHEIGHT in pixels, e.g. '1024x1024'`);
  return { width: Number(match[1]), height: Number(match[2]) };
}

/** Base64 with web standards only (btoa), in chunks so large images do not overflow the call stack. */
function bytesToBase64(bytes: Uint8Array): string {
  let binary = '';
  const chunk = 0x8000;
  for (let offset = 0; offset < bytes.length; offset += chunk) {
    binary += String.fromCharCode(...bytes.subarray(offset, offset + chunk));
  }
  return btoa(binary);
}

function validate(settings: HuggingFaceSettings): void {
  if (typeof settings?.model !== 'string' || settings.model.trim() === '') {
    throw new InvalidRequestError('model', 'a Hugging Face model id is required, e.g. "meta-llama/Llama-3.1-8B-Instruct"');
  }
  if (settings.endpointUrl !== undefined) {
    if (!/^https?:\/\//.test(settings.endpointUrl)) {
      throw new InvalidRequestError('endpointUrl', 'must be an http(s) URL');
    }
    if (settings.provider !== undefined && settings.provider !== 'auto' && settings.provider !== 'hf-inference') {
      throw new InvalidRequestError('provider', 'an endpointUrl speaks the hf-inference protocol; leave provider unset or use a router provider without endpointUrl');
    }
  }
  if (settings.kind !== undefined && settings.kind !== 'cloud' && settings.kind !== 'realtime') {
    throw new InvalidRequestError('kind', `must be 'cloud' or 'realtime'`);
  }
  if (settings.modalities !== undefined) {
    if (!Array.isArray(settings.modalities) || settings.modalities.length === 0) {
      throw new InvalidRequestError('modalities', 'list at least one of text, embedding, image, transcription');
    }
    settings.modalities.forEach((modality, index) => {
      if (!supportedModalities.includes(modality)) {
        throw new InvalidRequestError(`modalities[${index}]`, `'${String(modality)}' is not served by this adapter; use text, embedding, image or transcription`);
      }
    });
  }
}

function readEnvironmentToken(): string | undefined {
  const token = environmentVariable('HF_TOKEN');
  return token && token.trim() !== '' ? token : undefined;
}
