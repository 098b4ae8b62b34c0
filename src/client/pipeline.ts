/**
 * How a call goes through the client, one pipeline for every modality: validate -> resolve the
 * latency -> plan -> run (the executor, on the targets' runners for text and embeddings) ->
 * route -> the `response` event (or the `error` event). A modality is a `CallShape`: how it
 * validates, what it asks of a target, and how its answer reads. Streams take the same steps,
 * with the executor's generator handed to the caller as it is.
 *
 * Imports: errors, execute (executor, types), router (segments, types), target and types,
 * tokens, validate, ./options, ./planner (types), ./report, ./stream-call.
 */
import type EventEmitter from 'eventemitter3';
import { InferlaneError } from '../errors.js';
import type { Executor } from '../execute/executor.js';
import type { AttemptFn, Outcome, RunOptions, StreamSetup } from '../execute/types.js';
import { resolveLatency } from '../router/segments.js';
import type { Plan } from '../router/types.js';
import type { EmbedResult, ImageResult, Message, Modality, Segment, SpeechResult, Target, TextResult, TranscribeResult, Usage } from '../target.js';
import { estimateMessagesTokens, estimateTokens } from '../tokens.js';
import type {
  CommonOptions,
  EmbedRequest,
  EmbedResponse,
  GenerateRequest,
  GenerateResult,
  ImageRequest,
  ImageResponse,
  Operation,
  Route,
  SpeechRequest,
  SpeechResponse,
  StreamRequest,
  TranscribeRequest,
  TranscribeResponse,
} from '../types.js';
import { validateEmbed, validateGenerate, validateImage, validateSpeech, validateTranscribe } from '../validate.js';
import type { ClientEvents, ClientStreamPart } from './options.js';
import type { Planner } from './planner.js';
import { reportError, routeOf } from './report.js';
import { StreamCall, textCall } from './stream-call.js';

/** A modality's part of the pipeline. */
export interface CallShape<Request extends CommonOptions, Input, Value, Response> {
  readonly operation: Operation;
  readonly modality: Modality;
  /** Whether attempts run on the targets' runners (text and embeddings: batching, bridges) or on the targets themselves. */
  readonly viaRunners: boolean;
  /** Checks the request (InvalidRequestError naming the field); returns what the attempts use. */
  validate(request: Request): Input;
  inputTokens(request: Request, input: Input): number;
  outputTokens(request: Request): number | undefined;
  /** One attempt of this call on a target. */
  attempt(request: Request, input: Input): AttemptFn<Value>;
  usage(value: Value): Usage | undefined;
  batched(value: Value): Route['batched'];
  respond(value: Value, route: Route): Response;
}

/** A result that rode in a micro-batch says so. */
type Batched = { batch?: Route['batched'] };
const noBatch = (): undefined => undefined;

export const generateShape: CallShape<GenerateRequest, Message[], TextResult & Batched, GenerateResult> = {
  operation: 'generate',
  modality: 'text',
  viaRunners: true,
  validate: validateGenerate,
  inputTokens: (_request, messages) => estimateMessagesTokens(messages),
  outputTokens: (request) => request.maxOutputTokens,
  attempt: (request, messages) => (target, ctx, info) => target.doGenerate!(textCall(request, info.prepared?.messages ?? messages), ctx),
  usage: (value) => value.usage,
  batched: (value) => value.batch,
  respond: (value, route) => ({ text: value.text, finishReason: value.finishReason, usage: value.usage, route, raw: value }),
};

export const embedShape: CallShape<EmbedRequest, string[], EmbedResult & Batched, EmbedResponse> = {
  operation: 'embed',
  modality: 'embedding',
  viaRunners: true,
  validate: validateEmbed,
  inputTokens: (_request, inputs) => inputs.reduce((sum, input) => sum + estimateTokens(input), 0),
  outputTokens: () => 0,
  attempt: (request, inputs) => (target, ctx) => target.doEmbed!({ inputs, dimensions: request.dimensions, providerOptions: request.providerOptions }, ctx),
  usage: (value) => value.usage,
  batched: (value) => value.batch,
  respond: (value, route) => ({ embeddings: value.embeddings, embedding: value.embeddings[0], usage: value.usage, route }),
};

export const imageShape: CallShape<ImageRequest, void, ImageResult, ImageResponse> = {
  operation: 'image',
  modality: 'image',
  viaRunners: false,
  validate: validateImage,
  inputTokens: (request) => estimateTokens(request.prompt),
  outputTokens: () => 0,
  attempt: (request) => (target, ctx) => target.doImage!({ prompt: request.prompt, size: request.size, n: request.n, providerOptions: request.providerOptions }, ctx),
  usage: (value) => value.usage ?? { images: value.images.length },
  batched: noBatch,
  respond: (value, route) => ({ images: value.images, image: value.images[0], route }),
};

export const transcribeShape: CallShape<TranscribeRequest, Uint8Array, TranscribeResult, TranscribeResponse> = {
  operation: 'transcribe',
  modality: 'transcription',
  viaRunners: false,
  validate: validateTranscribe,
  inputTokens: () => 0,
  outputTokens: () => 0,
  attempt: (request, audio) => (target, ctx) => target.doTranscribe!({ audio, mediaType: request.mediaType, language: request.language, providerOptions: request.providerOptions }, ctx),
  usage: (value) => value.usage,
  batched: noBatch,
  respond: (value, route) => ({ text: value.text, language: value.language, durationSeconds: value.durationSeconds, route }),
};

export const speechShape: CallShape<SpeechRequest, void, SpeechResult, SpeechResponse> = {
  operation: 'speech',
  modality: 'speech',
  viaRunners: false,
  validate: validateSpeech,
  inputTokens: (request) => estimateTokens(request.text),
  outputTokens: () => 0,
  attempt: (request) => (target, ctx) => target.doSpeech!({ text: request.text, voice: request.voice, format: request.format, providerOptions: request.providerOptions }, ctx),
  usage: (value) => value.usage,
  batched: noBatch,
  respond: (value, route) => ({ audio: value.audio, mediaType: value.mediaType, route }),
};

export interface PipelineParts {
  events: EventEmitter<ClientEvents>;
  planner: Planner;
  executor: Executor;
  /** The runner of each planned target that has one (undefined: every target runs as it is). */
  runnerFor: ((target: Target) => Target) | undefined;
  hedgeSegments: ReadonlySet<Segment>;
  hedgeQuantile: number;
  idleMs: Record<Segment, number>;
}

export class Pipeline {
  constructor(private readonly parts: PipelineParts) {}

  /** One unary call of any modality. Resolves once, or rejects once with an InferlaneError. */
  async call<Request extends CommonOptions, Input, Value, Response>(shape: CallShape<Request, Input, Value, Response>, request: Request): Promise<Response> {
    const input = shape.validate(request);
    const { segment, budgetMs } = resolveLatency(request.latency);
    const planned = this.parts.planner.planWhenReady(shape.operation, request, segment, budgetMs, shape.inputTokens(request, input), shape.outputTokens(request));
    const thePlan = planned instanceof Promise ? await planned : planned;
    let outcome: Outcome<Value>;
    try {
      outcome = await this.parts.executor.run(this.runOptions(shape.operation, request, thePlan, segment, budgetMs, shape.viaRunners), shape.attempt(request, input));
    } catch (error) {
      reportError(this.parts.events, shape.operation, error);
      throw error;
    }
    const value = outcome.value;
    const route = routeOf(thePlan, outcome, shape.usage(value), shape.modality, shape.batched(value));
    this.parts.events.emit('response', { operation: shape.operation, route });
    return shape.respond(value, route);
  }

  /**
   * A stream of parts. The executor's generator itself, set up on its first `next()` (so errors
   * surface in `for await`): no wrapper between the caller and the parts (each layer costs
   * microtask hops on every token).
   */
  stream(request: StreamRequest): AsyncIterable<ClientStreamPart> {
    return this.parts.executor.stream<ClientStreamPart>(() => this.streamSetup(request)) as AsyncIterable<ClientStreamPart>;
  }

  /** Validates and plans a stream. */
  private streamSetup(request: StreamRequest): StreamSetup<ClientStreamPart> | Promise<StreamSetup<ClientStreamPart>> {
    try {
      const messages = validateGenerate(request);
      const { segment, budgetMs } = resolveLatency(request.latency);
      const planned = this.parts.planner.planWhenReady('stream', request, segment, budgetMs, estimateMessagesTokens(messages), request.maxOutputTokens);
      if (planned instanceof Promise) {
        return planned.then(
          (thePlan) => this.streamCall(request, messages, thePlan, segment, budgetMs),
          (error: unknown) => this.streamSetupFailed(error),
        );
      }
      return this.streamCall(request, messages, planned, segment, budgetMs);
    } catch (error) {
      return this.streamSetupFailed(error);
    }
  }

  private streamSetupFailed(error: unknown): never {
    // NO_ROUTE was reported where it was raised; bad input and surprises are reported here.
    if (!InferlaneError.isInstance(error) || error.code === 'INVALID_REQUEST') reportError(this.parts.events, 'stream', error);
    throw error;
  }

  private streamCall(request: StreamRequest, messages: Message[], thePlan: Plan, segment: Segment, budgetMs: number): StreamCall {
    // The stream's fields are set on the run options object rather than spread into a new one:
    // in Node 20's V8 a spread followed by more properties (`{ ...a, b }`) takes a slow path,
    // about 4.5 µs per stream in a hot loop (`{ ...a }` alone and plain sets take 0.03 µs).
    const options = this.runOptions('stream', request, thePlan, segment, budgetMs, true) as StreamSetup<ClientStreamPart>['options'];
    options.idleMs = request.idleMs ?? this.parts.idleMs[segment];
    options.firstTokenMs = request.firstTokenMs;
    options.onStreamFailure = request.onStreamFailure ?? 'resume';
    return new StreamCall(this.parts.events, request, messages, options);
  }

  private runOptions(operation: Operation, request: CommonOptions, thePlan: Plan, segment: Segment, budgetMs: number, viaRunners: boolean): RunOptions {
    return {
      operation,
      plan: thePlan,
      segment,
      budgetMs,
      abortSignal: request.abortSignal,
      maxRetries: request.maxRetries,
      hedge: this.hedgeOption(request, segment),
      conversation: request.conversation,
      runnerFor: viaRunners ? this.parts.runnerFor : undefined,
    };
  }

  /** Hedging for a request: its own setting, else the client's segments. */
  private hedgeOption(request: CommonOptions, segment: Segment): RunOptions['hedge'] {
    const hedge = request.hedge ?? this.parts.hedgeSegments.has(segment);
    return hedge === false ? false : { quantile: this.parts.hedgeQuantile, ...(typeof hedge === 'object' ? hedge : {}) };
  }
}
