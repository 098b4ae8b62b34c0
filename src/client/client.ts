/**
 * The client's public surface: `CoreClient`, what `createClient` returns. Every method is a
 * door into a room beside it: calls go through the pipeline (./pipeline), plans come from the
 * planner (./planner), `close()` and conversation turns belong to the lifecycle (./lifecycle),
 * and what a client adds beyond text, embeddings, images and audio (micro-batching, batch jobs,
 * conversations) comes from the features it was given (./features). The full preset
 * (./preset, the `inferlane` entry) gives it all three.
 *
 * Imports: execute, router, stats, stores/memory, time, target and types, validate, ./*.
 */
import EventEmitter from 'eventemitter3';
import type { Jobs } from '../batching/jobs/index.js';
import type { Conversation } from '../conversation/conversation.js';
import type { ConversationOptions } from '../conversation/options.js';
import type { ReplicaBalancer } from '../conversation/replicas.js';
import { InvalidRequestError } from '../errors.js';
import { Executor } from '../execute/executor.js';
import { HedgeBudget } from '../execute/hedge-budget.js';
import { defaultRetrySettings } from '../execute/retry-policy.js';
import { defaultPlanCacheMs, PlanCache } from '../router/plan-cache.js';
import { resolveLatency } from '../router/segments.js';
import { detectRuntime, type Runtime } from '../runtime.js';
import { Stats } from '../stats/stats.js';
import { memoryStore } from '../stores/memory.js';
import type { KeyValueStore } from '../stores/store.js';
import type { Target } from '../target.js';
import { textBridged } from '../text-bridges.js';
import { type Clock, systemClock } from '../time/clock.js';
import { estimateMessagesTokens, estimateTokens } from '../tokens.js';
import type {
  EmbedRequest,
  EmbedResponse,
  GenerateRequest,
  GenerateResult,
  ImageRequest,
  ImageResponse,
  Operation,
  SpeechRequest,
  SpeechResponse,
  StreamRequest,
  TranscribeRequest,
  TranscribeResponse,
} from '../types.js';
import { validateClientOptions, validateEmbed, validateGenerate, validateTargets } from '../validate.js';
import type { ClientFeature, FeatureHost, FeatureName, InstalledFeature } from './features.js';
import { Lifecycle } from './lifecycle.js';
import { type ClientEvents, type ClientStreamPart, type CoreClientOptions, defaultIdleMs, type Explanation } from './options.js';
import { embedShape, generateShape, imageShape, Pipeline, speechShape, transcribeShape } from './pipeline.js';
import { Planner } from './planner.js';

/** The order runners are composed in: micro-batching wraps the target first, batch jobs around it. */
const runnerOrder: Record<FeatureName, number> = { microBatching: 0, batchJobs: 1, conversations: 2 };

export class CoreClient extends EventEmitter<ClientEvents> implements FeatureHost {
  readonly targets: readonly Target[];
  readonly store: KeyValueStore;
  readonly stats: Stats;
  readonly clock: Clock;
  readonly runtime: Runtime;
  private readonly executor: Executor;
  private readonly planner: Planner;
  private readonly pipeline: Pipeline;
  private readonly lifecycle: Lifecycle;
  private readonly installed: InstalledFeature[];
  private readonly jobsFeature: InstalledFeature['jobs'];
  private readonly conversationFeature: InstalledFeature['conversation'];
  private readonly replicaBalancer: ReplicaBalancer | undefined;

  constructor(options: CoreClientOptions) {
    super();
    if (typeof options !== 'object' || options === null) throw new InvalidRequestError('options', 'createClient needs an options object with targets');
    validateTargets(options.targets);
    validateClientOptions(options as unknown as Record<string, unknown>);
    const features = checkedFeatures(options.features, options.targets);
    this.targets = Object.freeze([...options.targets]);
    this.store = options.store ?? memoryStore();
    this.clock = options.clock ?? systemClock;
    this.runtime = options.runtime ?? detectRuntime();
    this.stats = new Stats(options.stats);
    for (const target of this.targets) this.stats.setPrior(target);
    this.executor = new Executor({
      clock: this.clock,
      random: options.random ?? Math.random,
      stats: this.stats,
      retry: { ...defaultRetrySettings, ...options.retry },
      hedgeBudget: new HedgeBudget(options.hedge),
      emit: (event, payload) => (this.emit as (e: string, p: unknown) => boolean)(event, payload),
      listens: (event) => this.listenerCount(event) > 0,
    });
    this.installed = features.map((feature) => feature.install(this));
    this.jobsFeature = this.installed.find((feature) => feature.jobs)?.jobs;
    this.conversationFeature = this.installed.find((feature) => feature.conversation)?.conversation;
    this.replicaBalancer = this.installed.find((feature) => feature.replicas)?.replicas;
    this.lifecycle = new Lifecycle({
      clock: this.clock,
      executor: this.executor,
      features: this.installed,
      targets: this.targets,
      store: this.store,
      endProbes: () => this.planner.endProbes(),
      removeAllListeners: () => this.removeAllListeners(),
    });
    this.planner = new Planner({
      targets: this.targets,
      stats: this.stats,
      clock: this.clock,
      plans: new PlanCache(this.targets, options.planCacheMs ?? defaultPlanCacheMs),
      availabilityTimeoutMs: options.availabilityTimeoutMs ?? 5_000,
      events: this,
      lifecycle: this.lifecycle,
    });
    this.pipeline = new Pipeline({
      events: this,
      planner: this.planner,
      executor: this.executor,
      runnerFor: this.composeRunners(features),
      hedgeSegments: new Set(options.hedge?.segments ?? ['realtime']),
      hedgeQuantile: options.hedge?.quantile ?? 0.9,
      idleMs: { ...defaultIdleMs, ...options.idleMs },
    });
  }

  /**
   * Each target's runner, composed once: the text bridges, then each feature's wrapper (micro-
   * batching, then batch jobs). Undefined when every target runs as it is.
   */
  private composeRunners(features: ClientFeature[]): ((target: Target) => Target) | undefined {
    const order = features.map((feature, index) => ({ rank: runnerOrder[feature.name], installed: this.installed[index] })).sort((a, b) => a.rank - b.rank);
    const runners = new Map<Target, Target>();
    for (const target of this.targets) {
      let runner = textBridged(target);
      for (const { installed } of order) runner = installed.runner?.(target, runner) ?? runner;
      if (runner !== target) runners.set(target, runner);
    }
    if (runners.size === 0) return undefined;
    return (target) => runners.get(target) ?? target;
  }

  // -- calls --------------------------------------------------------------------------------

  /** One answer. Resolves once, or rejects once with an InferlaneError. */
  generate(request: GenerateRequest): Promise<GenerateResult> {
    return this.pipeline.call(generateShape, request);
  }

  /**
   * A stream of parts. For streams the budget bounds the time to the first part; `idleMs` bounds
   * each gap after it. Breaking out of `for await` aborts the request.
   */
  stream(request: StreamRequest): AsyncIterable<ClientStreamPart> {
    return this.pipeline.stream(request);
  }

  /** Embeddings (micro-batched with concurrent callers when the client has micro-batching). One vector per input, in order. */
  embed(request: EmbedRequest): Promise<EmbedResponse> {
    return this.pipeline.call(embedShape, request);
  }

  generateImage(request: ImageRequest): Promise<ImageResponse> {
    return this.pipeline.call(imageShape, request);
  }

  transcribe(request: TranscribeRequest): Promise<TranscribeResponse> {
    return this.pipeline.call(transcribeShape, request);
  }

  generateSpeech(request: SpeechRequest): Promise<SpeechResponse> {
    return this.pipeline.call(speechShape, request);
  }

  /** The plan for a request, without running it: the chosen order, and each rejected target and why. */
  explain(request: GenerateRequest & { operation?: Operation; input?: string | string[] }): Explanation {
    const operation = request.operation ?? (request.input !== undefined ? 'embed' : 'generate');
    const { segment, budgetMs } = resolveLatency(request.latency);
    const tokens = operation === 'embed' ? validateEmbed(request as EmbedRequest).reduce((s, i) => s + estimateTokens(i), 0) : estimateMessagesTokens(validateGenerate(request));
    return this.planner.explain(operation, request, segment, budgetMs, tokens, request.maxOutputTokens);
  }

  /** Sends whatever waits in the micro-batch queues and gathering jobs (serverless handlers call it before returning). */
  async flush(): Promise<void> {
    await Promise.all(this.installed.map((feature) => feature.flush?.()));
  }

  // -- features -----------------------------------------------------------------------------

  /** A KV-aware conversation, persisted in the client's store (or `options.store`). Needs the `conversations()` feature. */
  conversation(id: string, options: ConversationOptions = {}): Conversation {
    if (this.conversationFeature === undefined) throw missingFeature('conversation', 'conversations');
    return this.conversationFeature(id, options);
  }

  /** Deferred batch jobs on provider batch endpoints (or online at low concurrency). Needs the `batchJobs()` feature. */
  get jobs(): Jobs {
    if (this.jobsFeature === undefined) throw missingFeature('jobs', 'batchJobs');
    return this.jobsFeature();
  }

  /** Replica affinity of conversations. Needs the `conversations()` feature. */
  get replicas(): ReplicaBalancer {
    if (this.replicaBalancer === undefined) throw missingFeature('replicas', 'conversations');
    return this.replicaBalancer;
  }

  // -- lifecycle ----------------------------------------------------------------------------

  /**
   * Closes the client: later calls reject with INVALID_REQUEST (field `client`). What waits in the
   * batching queues is sent; calls in flight (and conversation turns, whose answers are then
   * written) may finish for up to `graceMs`, after which they end with ABORTED; then targets
   * (model sessions, sockets) and the store close. A call waiting on a provider batch job ends at
   * once with ABORTED naming the job, which goes on at the provider and stays in the store
   * (`jobs.get`, or `jobs.resume()` after a restart). Idempotent: a second call returns the first's promise.
   * @param options.graceMs how long calls in flight may finish, ms. @default 10,000
   */
  close(options: { graceMs?: number } = {}): Promise<void> {
    return this.lifecycle.close(options);
  }

  /** Whether `close()` has begun. */
  get closed(): boolean {
    return this.lifecycle.closed;
  }

  /** A conversation turn began (its store reads and writes lie outside the executor's call). @internal */
  beginTurn(): void {
    this.lifecycle.beginTurn();
  }

  /** @internal */
  endTurn(): void {
    this.lifecycle.endTurn();
  }

  /** Current time from the client's clock, ms since epoch (conversations use it). */
  now(): number {
    return this.clock.now();
  }
}

/** Creates a lean client: text, embeddings, images and audio, plus the `features` given. */
export function createClient(options: CoreClientOptions): CoreClient {
  return new CoreClient(options);
}

function missingFeature(field: string, feature: FeatureName): InvalidRequestError {
  return new InvalidRequestError(field, `needs the ${feature}() feature: createClient({ targets, features: [${feature}()] }), with ${feature} imported from 'inferlane/core' (the 'inferlane' client has every feature)`);
}

/**
 * The features, checked: each a feature object, none twice; and a target that answers only
 * through a batch endpoint (kind 'batch', or no online method) needs batch jobs, without which
 * it would be called online at full price or not at all.
 */
function checkedFeatures(features: unknown, targets: Target[]): ClientFeature[] {
  if (features === undefined) features = [];
  if (!Array.isArray(features)) throw new InvalidRequestError('features', 'must be an array of features (microBatching(), batchJobs(), conversations())');
  const seen = new Set<string>();
  features.forEach((feature: unknown, index) => {
    const name = (feature as Partial<ClientFeature> | null)?.name;
    if (typeof feature !== 'object' || feature === null || typeof (feature as ClientFeature).install !== 'function' || name === undefined || !(name in runnerOrder)) {
      throw new InvalidRequestError(`features[${index}]`, 'must be a feature from microBatching(), batchJobs() or conversations()');
    }
    if (seen.has(name)) throw new InvalidRequestError(`features[${index}]`, `${name}() is given twice`);
    seen.add(name);
  });
  if (!seen.has('batchJobs')) {
    targets.forEach((target, index) => {
      const online = target.doGenerate || target.doStream || target.doEmbed || target.doImage || target.doTranscribe || target.doSpeech || target.doVideo || target.doGenerateMany;
      if (target.batch !== undefined && (target.kind === 'batch' || !online)) {
        throw new InvalidRequestError(`targets[${index}]`, `'${target.id}' answers through its batch endpoint: add batchJobs() to features (import { batchJobs } from 'inferlane/core')`);
      }
    });
  }
  return features as ClientFeature[];
}

