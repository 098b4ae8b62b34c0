/**
 * createClient: the public surface. Validates input, plans (src/router), executes
 * (src/execute), batches (src/batching) and reports through typed events.
 *
 * Imports: everything under src/ except stores other than memory (those load lazily from
 * their own subpath exports).
 */
import EventEmitter from 'eventemitter3';
import type { BatchFlushEvent, MicroBatcherApi } from './batching/micro-batcher.types.js';
import { createMicroBatcher } from './batching/micro-batcher.js';
import { JobCoalescer } from './batching/job-coalescer.js';
import { Jobs, type JobItem, toTextCall } from './batching/jobs.js';
import { Conversation, type ConversationOptions } from './conversation/conversation.js';
import { ReplicaBalancer } from './conversation/replicas.js';
import {
  type AttemptRecord,
  closedClientError,
  DeadlineExceededError,
  InferlaneError,
  InvalidRequestError,
  NoRouteError,
  type Rejection,
  redact,
  toInferlaneError,
} from './errors.js';
import { costOf } from './cost.js';
import { type Clock, systemClock } from './time/clock.js';
import { IdleWaiters } from './time/idle-waiters.js';
import { type AttemptInfo, Executor, type ExecutorEvents, type Outcome, type RunOptions, type StreamOutcome, type StreamSetup } from './execute/executor.js';
import { HedgeBudget, type HedgeBudgetSettings } from './execute/hedge-budget.js';
import { defaultRetrySettings, type RetrySettings } from './execute/retry-policy.js';
import { explainPlan, plan } from './router/plan.js';
import { defaultPlanCacheMs, PlanCache } from './router/plan-cache.js';
import { resolveLatency } from './router/segments.js';
import type { Plan, PlanRequest } from './router/types.js';
import { type Runtime, detectRuntime } from './runtime.js';
import { Stats, type StatsOptions } from './stats/stats.js';
import { memoryStore } from './stores/memory.js';
import type { KeyValueStore } from './stores/store.js';
import {
  type BatchItemResult,
  type CallContext,
  type Message,
  mergeUsage,
  type MicroBatchSettings,
  type Modality,
  type ModelProgressEvent,
  type Segment,
  type StreamPart,
  type Target,
  type TextCall,
  type TextResult,
  type Usage,
} from './target.js';
import { estimateMessagesTokens, estimateTokens } from './tokens.js';
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
} from './types.js';
import { operationModality } from './types.js';
import { validateClientOptions, validateEmbed, validateGenerate, validateImage, validateSpeech, validateTargets, validateTranscribe } from './validate.js';

export interface ClientOptions {
  /** Where requests may go. Order is the tie-break between equal candidates. */
  targets: Target[];
  /** Conversations and jobs persist here. @default memoryStore() */
  store?: KeyValueStore;
  /** Picks micro-batching defaults. @default detected */
  runtime?: Runtime;
  /** Micro-batching defaults for every target (a target's own `microBatch` wins); `false` turns batching off. */
  microBatch?: MicroBatchSettings | false;
  /** Retry policy, see src/execute/retry-policy.ts. @default maxRetries 2, backoff 0.5 s to 8 s */
  retry?: Partial<RetrySettings>;
  /** Hedging: share of requests that may be hedged, and the segments hedged by default. */
  hedge?: HedgeBudgetSettings & {
    /** @default ['realtime'] */
    segments?: Segment[];
    /** Quantile of the primary's first-token time after which to hedge. @default 0.9 */
    quantile?: number;
  };
  stats?: StatsOptions;
  /** Deferred jobs: how `latency: 'batch'` calls sent to a batch endpoint poll for their result. */
  jobs?: {
    /** First poll interval, ms; grows 1.5x per poll. @default 30,000 */
    pollIntervalMs?: number;
    /** Longest poll interval, ms. @default 300,000 */
    maxPollIntervalMs?: number;
    /** Items run at once on a target without a batch endpoint. @default 2 */
    onlineConcurrency?: number;
    /**
     * `latency: 'batch'` calls to the same batch endpoint within this window share one job (one
     * provider batch), ms. 0: calls made in the same tick. @default 100 (serverless: 0)
     */
    coalesceMs?: number;
    /** A gathering job is sent at once when it holds this many items. @default 10,000 */
    maxCoalescedItems?: number;
  };
  /** Default idle limit between stream parts, ms, per segment. @default realtime 1,000, interactive 5,000, batch 30,000 */
  idleMs?: Partial<Record<Segment, number>>;
  /**
   * How long a plan may be reused for requests that route the same way, ms; `0` plans every
   * request. Anything that changes a plan in kind (a failure, availability, a target's first
   * measurements) ends reuse at once; only latency figures can be this old. @default 500
   */
  planCacheMs?: number;
  /**
   * How long a target's `available()` probe may take, ms; one that has not answered by then (even
   * one that ignores its signal) counts as unavailable. A first call waits for the probes at most
   * half its budget, then plans with what is known (a target still probing is tried, and falls
   * back at run time if it cannot serve); after that no call waits for them. @default 5,000
   */
  availabilityTimeoutMs?: number;
  /** For tests: time and randomness. */
  clock?: Clock;
  random?: () => number;
}

/** A stream part as the client yields it: `finish` also carries where the stream ran. */
export type ClientStreamPart = Exclude<StreamPart, { type: 'finish' }> | { type: 'finish'; finishReason: TextResult['finishReason']; usage?: Usage; route: Route };

export interface ClientEvents {
  route: [{ operation: Operation; segment: Segment; budgetMs: number; candidates: string[]; rejected: Rejection[] }];
  attempt: [ExecutorEvents['attempt']];
  retry: [ExecutorEvents['retry']];
  fallback: [ExecutorEvents['fallback']];
  hedge: [ExecutorEvents['hedge']];
  'batch-flush': [BatchFlushEvent];
  'job-progress': [unknown];
  'model-progress': [ModelProgressEvent];
  response: [{ operation: Operation; route: Route }];
  error: [{ operation: Operation; code: string; message: string }];
}

export interface Explanation extends Plan {
  /** The plan for people: the chosen order with reasons, then each rejected target and why. */
  text: string;
}

const defaultIdleMs: Record<Segment, number> = { realtime: 1_000, interactive: 5_000, batch: 30_000 };
/** How long `close()` lets calls in flight finish before it ends them, ms. */
const defaultGraceMs = 10_000;
/** How long `close()` waits for the calls it ended to settle, ms. */
const abortSettleMs = 1_000;

export class InferlaneClient extends EventEmitter<ClientEvents> {
  readonly targets: readonly Target[];
  readonly store: KeyValueStore;
  readonly stats: Stats;
  readonly replicas: ReplicaBalancer;
  private readonly byId: Map<string, Target>;
  private readonly executor: Executor;
  private readonly batcher: MicroBatcherApi | undefined;
  private readonly clock: Clock;
  private readonly runtime: Runtime;
  private readonly hedgeSegments: Set<Segment>;
  private readonly hedgeQuantile: number;
  private readonly idleMs: Record<Segment, number>;
  private readonly plans: PlanCache;
  private availabilityChecked: Promise<void> | undefined;
  /** Whether every target's `available()` has answered (true at once when no target has one). */
  private availabilityKnown: boolean;
  /** A call already waited out the probes: later calls plan with what is known, without waiting. */
  private probesOverdue = false;
  private jobsApi: Jobs | undefined;
  private jobCoalescer: JobCoalescer | undefined;
  private closed = false;
  private closing: Promise<void> | undefined;
  /** Conversation turns in flight, which `close()` lets finish writing. */
  private turns = 0;
  private readonly whenTurnsIdle = new IdleWaiters();
  private readonly jobsOptions: ClientOptions['jobs'];
  private readonly availabilityTimeoutMs: number;
  /** Ends each probe still running (its timer cleared, its signal aborted): `close()` calls them. */
  private readonly probesRunning = new Set<() => void>();

  constructor(options: ClientOptions) {
    super();
    if (typeof options !== 'object' || options === null) throw new InvalidRequestError('options', 'createClient needs an options object with targets');
    validateTargets(options.targets);
    validateClientOptions(options as unknown as Record<string, unknown>);
    this.targets = Object.freeze([...options.targets]);
    this.byId = new Map(this.targets.map((t) => [t.id, t]));
    this.availabilityKnown = !this.targets.some((t) => t.available);
    this.store = options.store ?? memoryStore();
    this.clock = options.clock ?? systemClock;
    this.stats = new Stats(options.stats);
    for (const target of this.targets) this.stats.setPrior(target);
    this.replicas = new ReplicaBalancer({ now: () => this.clock.now() });
    this.hedgeSegments = new Set(options.hedge?.segments ?? ['realtime']);
    this.hedgeQuantile = options.hedge?.quantile ?? 0.9;
    this.idleMs = { ...defaultIdleMs, ...options.idleMs };
    this.plans = new PlanCache(this.targets, options.planCacheMs ?? defaultPlanCacheMs);
    this.jobsOptions = options.jobs;
    this.availabilityTimeoutMs = options.availabilityTimeoutMs ?? 5_000;
    const random = options.random ?? Math.random;
    this.executor = new Executor({
      clock: this.clock,
      random,
      stats: this.stats,
      retry: { ...defaultRetrySettings, ...options.retry },
      hedgeBudget: new HedgeBudget(options.hedge),
      emit: (event, payload) => (this.emit as (e: string, p: unknown) => boolean)(event, payload),
      listens: (event) => this.listenerCount(event) > 0,
    });
    this.runtime = options.runtime ?? detectRuntime();
    if (options.microBatch !== false) {
      this.batcher = createMicroBatcher({
        runtime: this.runtime,
        defaults: options.microBatch,
        now: () => this.clock.now(),
        emit: (event, payload) => this.emit(event, payload),
        predictServiceMs: (id) => this.stats.latency(id, 'total', 0.5),
      });
    }
  }

  // -- text -----------------------------------------------------------------------------------

  /** One answer. Resolves once, or rejects once with an InferlaneError. */
  async generate(request: GenerateRequest): Promise<GenerateResult> {
    const messages = validateGenerate(request);
    const { segment, budgetMs } = resolveLatency(request.latency);
    const planned = this.planWhenReady('generate', request, segment, budgetMs, estimateMessagesTokens(messages), request.maxOutputTokens);
    const thePlan = planned instanceof Promise ? await planned : planned;
    const runOptions = this.runOptions('generate', request, thePlan, segment, budgetMs, this.textGoesDirect);
    const outcome = await this.track('generate', this.executor.run<TextResult & { batch?: Route['batched'] }>(runOptions, (target, ctx, info) => {
      const call = textCall(request, info.prepared?.messages ?? messages);
      // A batch-kind target answers through its provider batch endpoint (the discounted path).
      if (textViaBatchJob(target)) return this.batchText(target, call, ctx.signal);
      if (this.textViaMicroBatcher(target)) {
        return this.batcher!
          .generate(target, call, { deadline: ctx.deadline, signal: ctx.signal, segment, context: contextRest(ctx) })
          .then(({ batch, ...result }): TextResult & { batch?: Route['batched'] } => Object.assign(result, { batch }));
      }
      if (target.doGenerate) return target.doGenerate(call, ctx);
      return collectStream(target, target.doStream!(call, ctx));
    }));
    const value = outcome.value;
    const route = routeOf(thePlan, outcome, value.usage, 'text', value.batch);
    this.emit('response', { operation: 'generate', route });
    return { text: value.text, finishReason: value.finishReason, usage: value.usage, route, raw: value };
  }

  /**
   * A stream of parts. For streams the budget bounds the time to the first part; `idleMs` bounds
   * each gap after it. Breaking out of `for await` aborts the request.
   */
  stream(request: StreamRequest): AsyncIterable<ClientStreamPart> {
    // The executor's generator itself, set up on its first `next()`: no wrapper between the
    // caller and the parts (each layer costs microtask hops on every token).
    return this.executor.stream<ClientStreamPart>(() => this.streamSetup(request)) as AsyncIterable<ClientStreamPart>;
  }

  /** Validates and plans a stream (on its first `next()`, so errors surface in `for await`). */
  private streamSetup(request: StreamRequest): StreamSetup<ClientStreamPart> | Promise<StreamSetup<ClientStreamPart>> {
    try {
      const messages = validateGenerate(request);
      const { segment, budgetMs } = resolveLatency(request.latency);
      const planned = this.planWhenReady('stream', request, segment, budgetMs, estimateMessagesTokens(messages), request.maxOutputTokens);
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
    if (!InferlaneError.isInstance(error) || error.code === 'INVALID_REQUEST') reportError(this, 'stream', error);
    throw error;
  }

  private streamCall(request: StreamRequest, messages: Message[], thePlan: Plan, segment: Segment, budgetMs: number): StreamCall {
    // The stream's fields are set on the run options object rather than spread into a new one:
    // in Node 20's V8 a spread followed by more properties (`{ ...a, b }`) takes a slow path,
    // about 4.5 µs per stream in a hot loop (`{ ...a }` alone and plain sets take 0.03 µs).
    const options = this.runOptions('stream', request, thePlan, segment, budgetMs, undefined) as StreamSetup<ClientStreamPart>['options'];
    options.idleMs = request.idleMs ?? this.idleMs[segment];
    options.firstTokenMs = request.firstTokenMs;
    options.onStreamFailure = request.onStreamFailure ?? 'resume';
    return new StreamCall(this, this.batchText, request, messages, options);
  }

  // -- other modalities -----------------------------------------------------------------------

  /** Embeddings, micro-batched with concurrent callers. One vector per input, in order. */
  async embed(request: EmbedRequest): Promise<EmbedResponse> {
    const inputs = validateEmbed(request);
    const { segment, budgetMs } = resolveLatency(request.latency);
    const tokens = inputs.reduce((sum, input) => sum + estimateTokens(input), 0);
    const thePlan = await this.planFor('embed', request, segment, budgetMs, tokens, 0);
    const runOptions = this.runOptions('embed', request, thePlan, segment, budgetMs, this.embeddingHonoursSignal);
    const outcome = await this.track('embed', this.executor.run(runOptions, async (target, ctx) => {
      if (embeddingViaBatchJob(target)) {
        // All inputs in one job, shared with other batch-latency calls to this endpoint.
        const results = await this.coalescer.run(target.id, 'embedding', inputs.map((input) => ({ input, dimensions: request.dimensions })), ctx.signal);
        return { embeddings: results.map((r) => r.embedding!), usage: sumUsage(results.map((r) => r.usage)) } as { embeddings: number[][]; usage?: Usage; batch?: Route['batched'] };
      }
      const call = { dimensions: request.dimensions, providerOptions: request.providerOptions };
      if (this.batcher) return this.batcher.embed(target, inputs, call, { deadline: ctx.deadline, signal: ctx.signal, segment, context: contextRest(ctx) });
      return target.doEmbed!({ inputs, ...call }, ctx);
    }));
    const value = outcome.value as { embeddings: number[][]; usage?: Usage; batch?: Route['batched'] };
    const route = routeOf(thePlan, outcome, value.usage, 'embedding', value.batch);
    this.emit('response', { operation: 'embed', route });
    return { embeddings: value.embeddings, embedding: value.embeddings[0], usage: value.usage, route };
  }

  async generateImage(request: ImageRequest): Promise<ImageResponse> {
    validateImage(request);
    const { segment, budgetMs } = resolveLatency(request.latency);
    const thePlan = await this.planFor('image', request, segment, budgetMs, estimateTokens(request.prompt), 0);
    const outcome = await this.track('image', this.executor.run(this.runOptions('image', request, thePlan, segment, budgetMs, targetHonoursAbort), (target, ctx) =>
      target.doImage!({ prompt: request.prompt, size: request.size, n: request.n, providerOptions: request.providerOptions }, ctx),
    ));
    const usage = outcome.value.usage ?? { images: outcome.value.images.length };
    const route = routeOf(thePlan, outcome, usage, 'image');
    this.emit('response', { operation: 'image', route });
    return { images: outcome.value.images, image: outcome.value.images[0], route };
  }

  async transcribe(request: TranscribeRequest): Promise<TranscribeResponse> {
    const audio = validateTranscribe(request);
    const { segment, budgetMs } = resolveLatency(request.latency);
    const thePlan = await this.planFor('transcribe', request, segment, budgetMs, 0, 0);
    const outcome = await this.track('transcribe', this.executor.run(this.runOptions('transcribe', request, thePlan, segment, budgetMs, targetHonoursAbort), (target, ctx) =>
      target.doTranscribe!({ audio, mediaType: request.mediaType, language: request.language, providerOptions: request.providerOptions }, ctx),
    ));
    const route = routeOf(thePlan, outcome, outcome.value.usage, 'transcription');
    this.emit('response', { operation: 'transcribe', route });
    return { text: outcome.value.text, language: outcome.value.language, durationSeconds: outcome.value.durationSeconds, route };
  }

  async generateSpeech(request: SpeechRequest): Promise<SpeechResponse> {
    validateSpeech(request);
    const { segment, budgetMs } = resolveLatency(request.latency);
    const thePlan = await this.planFor('speech', request, segment, budgetMs, estimateTokens(request.text), 0);
    const outcome = await this.track('speech', this.executor.run(this.runOptions('speech', request, thePlan, segment, budgetMs, targetHonoursAbort), (target, ctx) =>
      target.doSpeech!({ text: request.text, voice: request.voice, format: request.format, providerOptions: request.providerOptions }, ctx),
    ));
    const route = routeOf(thePlan, outcome, outcome.value.usage, 'speech');
    this.emit('response', { operation: 'speech', route });
    return { audio: outcome.value.audio, mediaType: outcome.value.mediaType, route };
  }

  // -- planning -------------------------------------------------------------------------------

  /** The plan for a request, without running it: the chosen order, and each rejected target and why. */
  explain(request: GenerateRequest & { operation?: Operation; input?: string | string[] }): Explanation {
    const operation = request.operation ?? (request.input !== undefined ? 'embed' : 'generate');
    const { segment, budgetMs } = resolveLatency(request.latency);
    const tokens = operation === 'embed' ? validateEmbed(request as EmbedRequest).reduce((s, i) => s + estimateTokens(i), 0) : estimateMessagesTokens(validateGenerate(request));
    const thePlan = plan(this.planRequest(operation, request, segment, budgetMs, tokens, request.maxOutputTokens), this.targets, this.stats);
    return { ...thePlan, text: explainPlan(thePlan) };
  }

  /** Sends whatever waits in the micro-batch queues (serverless handlers call it before returning). */
  async flush(): Promise<void> {
    this.jobCoalescer?.flush();
    await this.batcher?.flush();
  }

  /** A KV-aware conversation, persisted in the client's store (or `options.store`). */
  conversation(id: string, options: ConversationOptions = {}): Conversation {
    return new Conversation(this, id, options);
  }

  /** `latency: 'batch'` calls on batch endpoints, gathered into shared jobs. */
  private get coalescer(): JobCoalescer {
    this.jobCoalescer ??= new JobCoalescer(() => this.jobs, {
      windowMs: this.jobsOptions?.coalesceMs ?? (this.runtime === 'serverless' ? 0 : 100),
      maxItems: this.jobsOptions?.maxCoalescedItems ?? 10_000,
      wait: { pollIntervalMs: this.jobsOptions?.pollIntervalMs, maxPollIntervalMs: this.jobsOptions?.maxPollIntervalMs },
      clock: this.clock,
    });
    return this.jobCoalescer;
  }

  /** Deferred batch jobs on provider batch endpoints (or online at low concurrency). */
  get jobs(): Jobs {
    if (this.jobsApi === undefined && this.closed) {
      // Made after close(): closed too, so its calls refuse rather than reach a closed store.
      this.jobsApi = this.createJobs();
      void this.jobsApi.close();
    }
    return (this.jobsApi ??= this.createJobs());
  }

  private createJobs(): Jobs {
    return new Jobs({
      store: this.store,
      targets: [...this.targets],
      emit: (event, payload) => this.emit(event, payload),
      clock: this.clock,
      onlineConcurrency: this.jobsOptions?.onlineConcurrency,
      runOnline: (operation, item, targetId, signal) => this.runJobItemOnline(operation, item, targetId, signal),
    });
  }

  /**
   * Closes the client: later calls reject with INVALID_REQUEST (field `client`). What waits in the
   * batching queues is sent; calls in flight (and conversation turns, whose answers are then
   * written) may finish for up to `graceMs`, after which they end with ABORTED; then targets
   * (model sessions, sockets) and the store close. A call waiting on a provider batch job ends at
   * once with ABORTED naming the job, which goes on at the provider and stays in the store
   * (`jobs.get`, or `jobs.resume()` after a restart). Idempotent: a second call returns the first's promise.
   */
  close(options: { graceMs?: number } = {}): Promise<void> {
    if (this.closing) return this.closing;
    const graceMs = options?.graceMs ?? defaultGraceMs;
    if (typeof graceMs !== 'number' || !(graceMs >= 0)) return Promise.reject(new InvalidRequestError('graceMs', 'expected a number of ms, 0 or more'));
    // Batch-latency calls: their gathering jobs are sent (which may make the jobs API), then every
    // wait ends (AbortedError naming the job, which stays in the store) and online job runners
    // stop, all before `closed` refuses the items they would run next and the store closes.
    this.jobCoalescer?.close();
    const jobsClosed = this.jobsApi?.close();
    this.closed = true;
    this.closing = (async () => {
      // Queued items go now; not awaited: a request in flight belongs to calls the drain bounds
      // (a hung one held close() for good, found by a soak).
      void this.batcher?.flush();
      await this.drain(graceMs, jobsClosed);
      for (const end of [...this.probesRunning]) end();
      await Promise.all(this.targets.map((t) => t.close?.()));
      await this.store.close?.();
      this.removeAllListeners();
    })();
    return this.closing;
  }

  /**
   * Waits for calls and conversation turns in flight, and the jobs' submissions under way, at most
   * `graceMs`; then ends the calls, stops the uploads (their jobs saved for `jobs.resume()`) and
   * gives them a moment to settle. A stream its caller stopped reading never settles: it ends with
   * ABORTED on its next read. An upload that hangs at the provider cannot hold close() either.
   */
  private async drain(graceMs: number, jobsClosed: Promise<void> | undefined): Promise<void> {
    const settled = () => Promise.all([this.executor.idle(), this.turnsIdle(), jobsClosed]);
    if (await this.within(settled(), graceMs)) return;
    // Calls first: their callers get ABORTED before a stopped upload's error could reach them.
    this.executor.abortAll();
    this.jobsApi?.stopSubmissions();
    await this.within(settled(), abortSettleMs);
  }

  /** Whether `promise` settles within `ms` (its timer cleared either way). */
  private async within(promise: Promise<unknown>, ms: number): Promise<boolean> {
    let timer: unknown;
    const late = new Promise<false>((resolve) => {
      timer = this.clock.setTimeout(() => resolve(false), ms);
    });
    try {
      return await Promise.race([promise.then(() => true as const), late]);
    } finally {
      this.clock.clearTimeout(timer);
    }
  }

  /** A conversation turn began (its store reads and writes lie outside the executor's call). @internal */
  beginTurn(): void {
    if (this.closed) throw closedClientError();
    this.turns++;
  }

  /** @internal */
  endTurn(): void {
    if (--this.turns === 0) this.whenTurnsIdle.wake();
  }

  private turnsIdle(): Promise<void> {
    return this.whenTurnsIdle.wait(this.turns === 0);
  }

  /** Current time from the client's clock, ms since epoch (conversations use it). */
  now(): number {
    return this.clock.now();
  }

  // -- internals ------------------------------------------------------------------------------

  private async planFor(operation: Operation, request: CommonOptions, segment: Segment, budgetMs: number, inputTokens: number, outputTokens: number | undefined): Promise<Plan> {
    if (!this.availabilityKnown && !this.probesOverdue) await this.availabilityWithin(budgetMs / 2);
    return this.planNow(operation, request, segment, budgetMs, inputTokens, outputTokens);
  }

  /** The plan at once when availability is known (every call after the first), else a promise of it. */
  private planWhenReady(operation: Operation, request: CommonOptions, segment: Segment, budgetMs: number, inputTokens: number, outputTokens: number | undefined): Plan | Promise<Plan> {
    return this.availabilityKnown
      ? this.planNow(operation, request, segment, budgetMs, inputTokens, outputTokens)
      : this.planFor(operation, request, segment, budgetMs, inputTokens, outputTokens);
  }

  /** Plans with the availability already known; throws NO_ROUTE (reported) when nothing can serve. */
  private planNow(operation: Operation, request: CommonOptions, segment: Segment, budgetMs: number, inputTokens: number, outputTokens: number | undefined): Plan {
    // Every call plans: after close() none may quietly open sockets or reload a model again.
    // A conversation turn that began before close() may still run its call (`beginTurn` refuses later ones).
    if (this.closed && (request.conversation === undefined || this.turns === 0)) throw closedClientError();
    const now = this.clock.now();
    const epoch = this.stats.epoch;
    let thePlan = this.plans.find(operation, request, segment, budgetMs, inputTokens, outputTokens, now, epoch);
    if (thePlan === undefined) {
      thePlan = plan(this.planRequest(operation, request, segment, budgetMs, inputTokens, outputTokens), this.targets, this.stats);
      this.plans.remember(thePlan, now, epoch, this.circuitsClosed(thePlan, now));
    }
    if (this.listenerCount('route') > 0) {
      this.emit('route', { operation, segment, budgetMs, candidates: thePlan.candidates.map((c) => c.target.id), rejected: thePlan.rejected });
    }
    if (thePlan.candidates.length === 0) {
      const error = noRouteError(operation, request, budgetMs, thePlan);
      reportError(this, operation, error);
      throw error;
    }
    return thePlan;
  }

  /** Whether every circuit a plan looked at was closed (only such plans are reused: see PlanCache). */
  private circuitsClosed(thePlan: Plan, now: number): boolean {
    for (const rejection of thePlan.rejected) if (rejection.code === 'circuit-open') return false;
    for (const candidate of thePlan.candidates) if (this.stats.circuit(candidate.target.id, now) !== 'closed') return false;
    return true;
  }

  private planRequest(operation: Operation, request: CommonOptions, segment: Segment, budgetMs: number, inputTokens: number, outputTokens: number | undefined): PlanRequest {
    const conversation = request.conversation;
    return {
      operation,
      modality: operationModality[operation],
      segment,
      budgetMs,
      privacy: request.privacy ?? 'any',
      inputTokens,
      outputTokens: outputTokens ?? (operation === 'generate' || operation === 'stream' ? 256 : 0),
      only: request.targets,
      prefer: request.prefer,
      conversation: conversation && { affinity: conversation.affinity, prefixTokens: conversation.prefixTokens, totalTokens: conversation.totalTokens },
      now: this.clock.now(),
    };
  }

  /**
   * Device targets report availability once, before their first plans; failures fall back at run
   * time. A first call waits for the probes at most `ms` (part of its budget), then goes on.
   */
  private availabilityWithin(ms: number): Promise<void> {
    this.availabilityChecked ??= Promise.all(this.targets.filter((t) => t.available).map((t) => this.probeAvailability(t))).then(() => {
      this.availabilityKnown = true;
    });
    return this.within(this.availabilityChecked, ms).then((answered) => {
      if (!answered) this.probesOverdue = true;
    });
  }

  /** One target's probe: an error, or no answer within `availabilityTimeoutMs`, means unavailable. */
  private async probeAvailability(target: Target): Promise<void> {
    const controller = new AbortController();
    let timer: unknown;
    let finish!: (giveUp: boolean) => void;
    const givenUp = new Promise<'unavailable'>((resolve) => {
      finish = (giveUp) => {
        this.clock.clearTimeout(timer);
        if (giveUp) controller.abort(new DeadlineExceededError(this.availabilityTimeoutMs, { target: target.id, detail: 'available() did not answer' }));
        resolve('unavailable');
      };
      timer = this.clock.setTimeout(() => finish(true), this.availabilityTimeoutMs);
    });
    const giveUp = () => finish(true);
    this.probesRunning.add(giveUp);
    try {
      const availability = await Promise.race([Promise.resolve(target.available!(controller.signal)).catch(() => 'unavailable' as const), givenUp]);
      this.stats.setAvailability(target.id, availability);
    } finally {
      this.probesRunning.delete(giveUp);
      finish(false);
    }
  }

  private runOptions(operation: Operation, request: CommonOptions, thePlan: Plan, segment: Segment, budgetMs: number, attemptsHonourSignal: RunOptions['attemptsHonourSignal']): RunOptions {
    return {
      operation,
      plan: thePlan,
      segment,
      budgetMs,
      abortSignal: request.abortSignal,
      maxRetries: request.maxRetries,
      hedge: this.hedgeOption(request, segment),
      conversation: request.conversation,
      attemptsHonourSignal,
    };
  }

  /** Hedging for a request: its own setting, else the client's segments. */
  private hedgeOption(request: CommonOptions, segment: Segment): RunOptions['hedge'] {
    const hedge = request.hedge ?? this.hedgeSegments.has(segment);
    return hedge === false ? false : { quantile: this.hedgeQuantile, ...(typeof hedge === 'object' ? hedge : {}) };
  }

  private async track<T>(operation: Operation, promise: Promise<T>): Promise<T> {
    try {
      return await promise;
    } catch (error) {
      reportError(this, operation, error);
      throw error;
    }
  }

  /**
   * Whether a generate attempt on `target` settles on abort by itself: it goes straight to an
   * adapter that honours its signal (not through a provider batch job or the micro-batcher).
   */
  private readonly textGoesDirect = (target: Target): boolean =>
    target.honoursAbort === true && !textViaBatchJob(target) && !this.textViaMicroBatcher(target);

  /** Embedding attempts settle on abort through the micro-batcher, or an adapter that honours its signal. */
  private readonly embeddingHonoursSignal = (target: Target): boolean =>
    !embeddingViaBatchJob(target) && (this.batcher !== undefined || target.honoursAbort === true);

  /** Generation on a device runtime that runs several prompts in one pass goes through the micro-batcher. */
  private textViaMicroBatcher(target: Target): boolean {
    return this.batcher !== undefined && target.batchedGeneration === true && target.doGenerateMany !== undefined;
  }


  /** A text call as one item of a (shared) job on a batch endpoint (generate, and streams there). */
  private readonly batchText = async (target: Target, call: TextCall, signal: AbortSignal): Promise<TextResult> => {
    // The call is the item: every generation setting rides on it (a batch line is a full request).
    const [result] = await this.coalescer.run(target.id, 'text', [call], signal);
    return result.text!;
  };

  private async runJobItemOnline(operation: 'text' | 'embedding', item: JobItem, targetId: string, signal: AbortSignal): Promise<BatchItemResult> {
    try {
      if (operation === 'embedding') {
        const response = await this.embed({ input: item.input ?? '', dimensions: item.dimensions, targets: [targetId], latency: 'batch', abortSignal: signal });
        return { customId: item.id, ok: true, embedding: response.embedding, usage: response.usage };
      }
      // The item becomes the same call its batch line would carry.
      const response = await this.generate(Object.assign(toTextCall(item), { targets: [targetId], latency: 'batch' as const, abortSignal: signal }));
      return { customId: item.id, ok: true, text: response.raw, usage: response.usage };
    } catch (error) {
      const e = InferlaneError.isInstance(error) ? error : undefined;
      return { customId: item.id, ok: false, error: { code: e?.code ?? 'PROVIDER_ERROR', message: redact(error instanceof Error ? error.message : String(error)), status: e?.status } };
    }
  }
}

/** Where a call ran: the segment, the target that answered, every attempt, timings, usage and cost. */
function routeOf(thePlan: Plan, outcome: Omit<Outcome<unknown>, 'value'>, usage: Usage | undefined, modality: Modality, batched?: Route['batched']): Route {
  const target = outcome.candidate.target;
  const multiplier = target.kind === 'batch' ? (target.batch?.priceMultiplier ?? 1) : 1;
  return {
    segment: thePlan.segment,
    budgetMs: thePlan.budgetMs,
    target: target.id,
    replica: outcome.replica,
    reason: outcome.candidate.reason,
    attempts: outcome.attempts,
    ttftMs: outcome.ttftMs ?? (outcome.attempts.find((a) => a.outcome === 'ok')?.durationMs),
    totalMs: outcome.totalMs,
    usage,
    cachedTokens: usage?.cachedInputTokens,
    costUsd: costOf(target.cost, usage, modality, multiplier),
    fellBack: outcome.fellBack,
    hedged: outcome.hedged,
    batched,
  };
}

/** Tells `error` listeners, with the message redacted. */
function reportError(client: InferlaneClient, operation: Operation, error: unknown): void {
  const e = InferlaneError.isInstance(error) ? error : undefined;
  client.emit('error', { operation, code: e?.code ?? 'PROVIDER_ERROR', message: redact(error instanceof Error ? error.message : String(error)) });
}

/**
 * One stream call: what the executor runs it with, how it opens on a target, and how it ends.
 * Methods on one object rather than closures made per call.
 */
class StreamCall implements StreamSetup<ClientStreamPart> {
  constructor(
    private readonly client: InferlaneClient,
    private readonly batchText: (target: Target, call: TextCall, signal: AbortSignal) => Promise<TextResult>,
    private readonly request: StreamRequest,
    private readonly messages: Message[],
    readonly options: StreamSetup<ClientStreamPart>['options'],
  ) {}

  open(target: Target, ctx: CallContext, info: AttemptInfo, partial: string): AsyncIterable<StreamPart> {
    const base = info.prepared?.messages ?? this.messages;
    const call = textCall(this.request, partial ? [...base, { role: 'assistant', content: partial }] : base);
    // A batch endpoint answers whole, at its discount: one text part when the job is done.
    if (textViaBatchJob(target)) return singlePartStream(() => this.batchText(target, call, ctx.signal));
    if (target.doStream) return target.doStream(call, ctx);
    return singlePartStream(() => target.doGenerate!(call, ctx));
  }

  finish(outcome: StreamOutcome): ClientStreamPart {
    const route = routeOf(this.options.plan, outcome, outcome.usage, 'text');
    this.client.emit('response', { operation: 'stream', route });
    return { type: 'finish', finishReason: outcome.finishReason, usage: outcome.usage, route };
  }

  failed(error: unknown): void {
    reportError(this.client, 'stream', error);
  }
}

/** Creates a client. See README.md for a tour. */
export function createClient(options: ClientOptions): InferlaneClient {
  return new InferlaneClient(options);
}

// -- helpers ------------------------------------------------------------------------------------

/** Text answered through the provider's batch endpoint: a batch-kind target, or one without online methods. */
function textViaBatchJob(target: Target): boolean {
  return target.batch !== undefined && (target.kind === 'batch' || (!target.doGenerate && !target.doStream));
}

/** Embeddings answered through the provider's batch endpoint. */
function embeddingViaBatchJob(target: Target): boolean {
  return target.batch !== undefined && (target.kind === 'batch' || !target.doEmbed);
}

function targetHonoursAbort(target: Target): boolean {
  return target.honoursAbort === true;
}

function textCall(request: GenerateRequest, messages: TextCall['messages']): TextCall {
  return {
    messages,
    maxOutputTokens: request.maxOutputTokens,
    temperature: request.temperature,
    topP: request.topP,
    stop: request.stop,
    seed: request.seed,
    providerOptions: request.providerOptions,
  };
}

function contextRest(ctx: Parameters<NonNullable<Target['doGenerate']>>[1]) {
  return { promptCacheKey: ctx.promptCacheKey, cacheBreakpoints: ctx.cacheBreakpoints, replica: ctx.replica, emit: ctx.emit };
}

/** `generate` on a target that only streams: its parts gathered into one result. */
async function collectStream(target: Target, parts: AsyncIterable<StreamPart>): Promise<TextResult> {
  let text = '';
  let usage: Usage | undefined;
  let finishReason: TextResult['finishReason'] = 'stop';
  let any = false;
  for await (const part of parts) {
    any = true;
    if (part.type === 'text-delta') text += part.text;
    else if (part.type === 'usage') usage = mergeUsage(usage, part.usage);
    else if (part.type === 'finish') {
      finishReason = part.finishReason;
      usage = mergeUsage(usage, part.usage);
    } else if (part.type === 'error') throw toInferlaneError(part.error, target.id);
  }
  // As for streams: a stream that ended before any part failed on this target (the next may answer).
  if (!any) throw new InferlaneError('PROVIDER_ERROR', 'the stream ended before any part', { retryable: true, target: target.id });
  return usage ? { text, finishReason, usage } : { text, finishReason };
}

/** `stream` on a target that answers whole (generate-only, or a batch endpoint): its answer as one text part and a finish. */
async function* singlePartStream(answer: () => Promise<TextResult>): AsyncGenerator<StreamPart> {
  const result = await answer();
  if (result.text) yield { type: 'text-delta', text: result.text };
  yield { type: 'finish', finishReason: result.finishReason, usage: result.usage };
}

function sumUsage(usages: (Usage | undefined)[]): Usage | undefined {
  const present = usages.filter((u): u is Usage => u !== undefined);
  if (present.length === 0) return undefined;
  return { inputTokens: present.reduce((s, u) => s + (u.inputTokens ?? 0), 0), totalTokens: present.reduce((s, u) => s + (u.totalTokens ?? u.inputTokens ?? 0), 0) };
}

function noRouteError(operation: Operation, request: CommonOptions, budgetMs: number, thePlan: Plan): NoRouteError {
  const modality = operationModality[operation];
  const summary = `no target can serve ${operation} (modality '${modality}') within ${budgetMs} ms`;
  if (request.privacy === 'device-only' && thePlan.rejected.some((r) => r.code === 'privacy')) {
    return new NoRouteError(`${summary} on this device (privacy: 'device-only' forbids network targets)`, thePlan.rejected, 'PRIVACY_VIOLATION');
  }
  return new NoRouteError(summary, thePlan.rejected);
}

export type { AttemptRecord };
