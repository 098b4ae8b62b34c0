/**
 * Online micro-batching (DESIGN.md section 6): many callers' small requests become few provider
 * requests, each caller keeping its own promise, its own error and its own abort.
 *
 * Owns: per-(target, operation, options) queues, flush triggers, per-target concurrency,
 * dedupe of identical in-flight inputs, bisection of poisoned batches.
 *
 * One idea at about 750 lines: a slot's life (queued, cut into a request, sent, answered, or
 * left by its caller) is one state machine, and every part above reads or moves the same slots,
 * callers and timers; split, each part would reach into the others' state. Its contract
 * (micro-batcher.types.ts), its lanes (lane.ts), its settings check and its runner wrapper
 * (micro-batched.ts) already live beside it.
 * Imports: target.ts, errors.ts, tokens.ts, time/ (every timer on the batcher's Clock), the
 * batcher's type contract, ./lane (per-target concurrency).
 */
import {
  AbortedError,
  DeadlineExceededError,
  InferlaneError,
  InvalidRequestError,
  ProviderError,
  QueueFullError,
  toInferlaneError,
} from '../errors.js';
import { isItemFaultStatus } from '../http-status.js';
import type { EmbedResult, MicroBatchSettings, Segment, Target, TextCall, TextResult, Usage } from '../target.js';
import { type Clock, maxTimerMs, systemClock } from '../time/clock.js';
import { nextTurn } from '../time/next-turn.js';
import { estimateMessagesTokens, estimateTokens } from '../tokens.js';
import { Lane } from './lane.js';
import type {
  BatchFlushEvent,
  BatchInfo,
  EnqueueOptions,
  MicroBatcherApi,
  MicroBatcherOptions,
} from './micro-batcher.types.js';

/** Where the client runs; picks the defaults of DESIGN.md section 14. */
export type MicroBatchRuntime = 'server' | 'serverless' | 'browser';

/**
 * What is being batched: `embedding` (cloud embedding APIs), `self-hosted-embedding`
 * (TEI-like servers that run each batch on one accelerator), `text` (`doGenerateMany` on a device).
 */
export type MicroBatchKind = 'embedding' | 'self-hosted-embedding' | 'text';

/** Settings with every field filled in. */
export type ResolvedMicroBatchSettings = Required<MicroBatchSettings>;

/**
 * Token cap of a batch when neither the runtime nor the target says otherwise. OpenAI allows
 * 300,000 per embedding request; we stop at 250,000 because `estimateTokens` (4 characters per
 * token) undercounts text that is not English, and an over-limit batch fails as a whole.
 */
const defaultMaxBatchTokens = 250_000;

/** Predicted service time of one batch when neither stats nor the target's prior know, ms. */
const defaultServiceMs = 50;

/**
 * The default micro-batch settings for a runtime and a kind of work (DESIGN.md section 14).
 * A target's own `microBatch` overrides any field.
 */
export function microBatchDefaults(runtime: MicroBatchRuntime, kind: MicroBatchKind = 'embedding'): ResolvedMicroBatchSettings {
  let maxBatchSize = kind === 'self-hosted-embedding' ? 32 : kind === 'text' ? 8 : 512;
  if (runtime === 'browser') maxBatchSize = Math.min(maxBatchSize, 64);
  // Serverless: coalesce within one tick, as DataLoader does, so no request waits on a timer
  // that may never fire once the response has been sent.
  const maxWaitMs = runtime === 'serverless' ? 0 : runtime === 'browser' ? 15 : 5;
  // A device runs one generation pass at a time; network endpoints take several requests.
  const concurrency = kind === 'text' ? 1 : 4;
  return { maxBatchSize, maxBatchTokens: defaultMaxBatchTokens, maxWaitMs, concurrency, maxQueue: 4 * maxBatchSize, whenFull: 'wait' };
}

/** Options of {@link MicroBatcher}: the fixed contract plus the runtime used for built-in defaults. */
export interface MicroBatcherConstructorOptions extends MicroBatcherOptions {
  /** Which built-in defaults apply before `defaults` and the target's `microBatch`. @default 'server' */
  runtime?: MicroBatchRuntime;
  /**
   * Send at the end of the current tick, not at the window's end, when the target has no request
   * in flight or waiting (Nagle's rule): a lone caller on an idle target pays no window, while
   * under load items still gather behind the requests in flight. `maxWaitMs` stays the longest wait.
   * @default true
   */
  sendWhenIdle?: boolean;
}

type Operation = 'embed' | 'generate';
type SlotState = 'waiting' | 'scheduled' | 'sent' | 'done';

/** One unit of work in a provider request: one embedding input or one generation call. */
interface Slot {
  key: string;
  queue: Queue;
  payload: unknown;
  tokens: number;
  waiters: Set<Caller>;
  state: SlotState;
  enqueuedAt: number;
  /** Earliest deadline among the waiters; drives the deadline flush. */
  deadline: number;
  batch?: Batch;
  value?: unknown;
  /** The request that answered this slot. */
  info?: BatchInfo;
  /** This slot's share of the provider's reported input tokens. */
  inputTokens?: number;
}

/** One call of `embed` or `generate`. */
interface Caller {
  slots: Slot[];
  remaining: Set<Slot>;
  options: EnqueueOptions;
  enqueuedAt: number;
  settled: boolean;
  /** Shapes the caller's result from its slots' values, in input order. */
  build(values: unknown[], slots: Slot[], info: BatchInfo): unknown;
  resolve(value: never): void;
  reject(error: unknown): void;
  onAbort(): void;
}

/** One provider request (or a chunk cut for one). */
interface Batch {
  queue: Queue;
  slots: Slot[];
  reason: string;
  controller: AbortController;
  started: boolean;
  sentAt?: number;
  done: Promise<void>;
}

/** One queue per (target, operation, options key). */
interface Queue {
  key: string;
  target: Target;
  operation: Operation;
  settings: ResolvedMicroBatchSettings;
  /** What every slot of this queue shares (dimensions, providerOptions). */
  shared: { dimensions?: number; providerOptions?: Record<string, Record<string, unknown>> };
  slots: Slot[];
  tokens: number;
  /** Earliest deadline among waiting slots; Infinity when unknown or empty. Kept incrementally. */
  earliestDeadline: number;
  /** Slots waiting here or cut into batches that have not started: what `maxQueue` bounds. */
  unsent: number;
  /** Slots not yet settled, by dedupe key (waiting or in flight). */
  byKey: Map<string, Slot>;
  timer?: { cancel(): void; at: number; reason: string };
}

/**
 * The online micro-batcher. Construct one per client; it is safe to share between requests.
 */
export class MicroBatcher implements MicroBatcherApi {
  private readonly options: MicroBatcherConstructorOptions;
  private readonly clock: Clock;
  private readonly queues = new Map<string, Queue>();
  /** Callers waiting for room in a full queue, by queue key (a queue may be dropped and rebuilt meanwhile). */
  private readonly roomWaiters = new Map<string, Set<() => void>>();
  private readonly lanes = new Map<string, Lane>();
  private readonly batches = new Set<Batch>();
  private pendingSlots = 0;
  private uniqueKey = 0;

  constructor(options: MicroBatcherConstructorOptions) {
    this.options = options;
    this.clock = options.clock ?? systemClock;
  }

  private now(): number {
    return this.clock.now();
  }

  /** The settings a target gets for an operation: built-in defaults, then `defaults`, then `target.microBatch`, clamped to `target.limits`. */
  settingsFor(target: Target, operation: Operation): ResolvedMicroBatchSettings {
    const base = microBatchDefaults(this.options.runtime ?? 'server', operation === 'embed' ? 'embedding' : 'text');
    const merged: MicroBatchSettings = { ...base, ...dropUndefined(this.options.defaults), ...dropUndefined(target.microBatch) };
    let maxBatchSize = positive(merged.maxBatchSize, base.maxBatchSize);
    let maxBatchTokens = positive(merged.maxBatchTokens, base.maxBatchTokens);
    if (operation === 'embed') {
      // The provider's hard caps win over any preference: an over-limit request fails whole.
      if (target.limits?.maxBatchSize) maxBatchSize = Math.min(maxBatchSize, target.limits.maxBatchSize);
      if (target.limits?.maxBatchTokens) maxBatchTokens = Math.min(maxBatchTokens, target.limits.maxBatchTokens);
    }
    const explicitQueue = target.microBatch?.maxQueue ?? this.options.defaults?.maxQueue;
    return {
      maxBatchSize,
      maxBatchTokens,
      maxWaitMs: Math.max(0, merged.maxWaitMs ?? base.maxWaitMs),
      concurrency: positive(merged.concurrency, base.concurrency),
      maxQueue: positive(explicitQueue, 4 * maxBatchSize),
      whenFull: merged.whenFull ?? base.whenFull,
    };
  }

  embed(
    target: Target,
    inputs: string[],
    call: { dimensions?: number; providerOptions?: Record<string, Record<string, unknown>> },
    options: EnqueueOptions,
  ): Promise<EmbedResult & { batch: BatchInfo }> {
    if (typeof target.doEmbed !== 'function') {
      return Promise.reject(new InvalidRequestError('target', `${target.id} cannot embed (no doEmbed)`));
    }
    const limit = target.limits?.maxInputTokens;
    const payloads: { key: string; payload: unknown; tokens: number }[] = [];
    for (let index = 0; index < inputs.length; index++) {
      const text = inputs[index];
      if (typeof text !== 'string') {
        return Promise.reject(new InvalidRequestError(inputs.length === 1 ? 'input' : `input[${index}]`, 'must be a string'));
      }
      const tokens = estimateTokens(text);
      // Checked here so an over-long input fails its caller alone instead of the whole batch.
      if (limit !== undefined && tokens > limit) {
        return Promise.reject(
          new InvalidRequestError(
            inputs.length === 1 ? 'input' : `input[${index}]`,
            `about ${tokens} tokens, over the ${limit}-token limit of ${target.id}; split or shorten it`,
          ),
        );
      }
      payloads.push({ key: text, payload: text, tokens });
    }
    const shared = { dimensions: call.dimensions, providerOptions: call.providerOptions };
    const queueKey = `${target.id}\u0000embed\u0000${stableStringify(shared)}`;
    return this.enqueue(target, 'embed', queueKey, shared, payloads, options, (values, slots, info) => ({
      embeddings: values as number[][],
      usage: sumUsage(slots),
      batch: info,
    }));
  }

  generate(target: Target, call: TextCall, options: EnqueueOptions): Promise<TextResult & { batch: BatchInfo }> {
    if (typeof target.doGenerateMany !== 'function') {
      return Promise.reject(new InvalidRequestError('target', `${target.id} cannot batch generation (no doGenerateMany)`));
    }
    const tokens = estimateMessagesTokens(call.messages);
    // Generation is never deduplicated: two equal prompts may rightly sample different text.
    const payload = { key: `unique:${this.uniqueKey++}`, payload: call, tokens };
    // One pass runs with one set of generation settings, so calls that differ in them wait in
    // different queues (`stop` is applied per call after decoding, so it may differ).
    const { maxOutputTokens, temperature, topP, seed, providerOptions } = call;
    const queueKey = `${target.id}\u0000generate\u0000${stableStringify({ maxOutputTokens, temperature, topP, seed, providerOptions })}`;
    // Object.assign rather than `{ ...a, b }`: a spread followed by properties is a slow path in
    // Node 20's V8 (about 1 µs a time); see docs/routing-and-execution.md, "Overhead, measured".
    return this.enqueue(target, 'generate', queueKey, {}, [payload], options, (values, _slots, info) => Object.assign({}, values[0] as TextResult, { batch: info }));
  }

  async flush(): Promise<void> {
    for (const queue of [...this.queues.values()]) {
      if (queue.slots.length > 0) this.cut(queue, 'flush', true);
    }
    await Promise.allSettled([...this.batches].map((batch) => batch.done));
  }

  pending(): number {
    return this.pendingSlots;
  }

  // ---------------------------------------------------------------------------------------------

  private enqueue<R>(
    target: Target,
    operation: Operation,
    queueKey: string,
    shared: Queue['shared'],
    payloads: { key: string; payload: unknown; tokens: number }[],
    options: EnqueueOptions,
    build: (values: unknown[], slots: Slot[], info: BatchInfo) => R,
  ): Promise<R> {
    if (options.signal.aborted) return Promise.reject(new AbortedError(undefined, { target: target.id }));
    if (payloads.length === 0) {
      return Promise.resolve(build([], [], { size: 0, reason: 'empty', waitMs: 0 }));
    }
    const queue = this.queueFor(queueKey, target, operation, shared);
    const { maxQueue } = queue.settings;
    let fresh = 0;
    if (payloads.length === 1) {
      fresh = queue.byKey.has(payloads[0].key) ? 0 : 1;
    } else {
      const keys = new Set<string>();
      for (const item of payloads) if (!queue.byKey.has(item.key)) keys.add(item.key);
      fresh = keys.size;
    }
    // The bound rejects a burst at once rather than letting it wait past its deadline; a single
    // call larger than the bound is admitted when nothing else waits, so big calls stay possible.
    if (queue.unsent + fresh > maxQueue && !(fresh > maxQueue && queue.unsent === 0)) {
      this.dropQueueIfIdle(queue);
      if (queue.settings.whenFull === 'wait') {
        // Backpressure by waiting: try again when items leave the queue (the caller's own
        // deadline, through its signal, still bounds the wait).
        return this.roomIn(queueKey, options.signal, target.id).then(() => this.enqueue(target, operation, queueKey, shared, payloads, options, build));
      }
      return Promise.reject(
        new QueueFullError(
          `the micro-batch queue of ${target.id} holds ${queue.unsent} items (maxQueue ${maxQueue}); retry later or raise microBatch.maxQueue`,
          { target: target.id },
        ),
      );
    }

    const now = this.now();
    return new Promise<R>((resolve, reject) => {
      const caller: Caller = {
        slots: [],
        remaining: new Set(),
        options,
        enqueuedAt: now,
        settled: false,
        build,
        resolve: resolve as (value: never) => void,
        reject,
        onAbort: () => this.rejectCaller(caller, new AbortedError(undefined, { target: target.id })),
      };
      options.signal.addEventListener('abort', caller.onAbort, { once: true });

      for (const item of payloads) {
        let slot = queue.byKey.get(item.key);
        if (slot === undefined) {
          slot = {
            key: item.key,
            queue,
            payload: item.payload,
            tokens: item.tokens,
            waiters: new Set(),
            state: 'waiting',
            enqueuedAt: now,
            deadline: options.deadline,
          };
          queue.byKey.set(item.key, slot);
          this.pendingSlots++;
          queue.unsent++;
          // Adding this slot would pass the token cap: send what waits first.
          if (queue.slots.length > 0 && queue.tokens + slot.tokens > queue.settings.maxBatchTokens) this.cut(queue, 'tokens', false);
          queue.slots.push(slot);
          queue.tokens += slot.tokens;
          queue.earliestDeadline = Math.min(queue.earliestDeadline, slot.deadline);
        } else if (slot.state === 'waiting' && options.deadline < slot.deadline) {
          slot.deadline = options.deadline;
          queue.earliestDeadline = Math.min(queue.earliestDeadline, slot.deadline);
        }
        slot.waiters.add(caller);
        caller.slots.push(slot);
        caller.remaining.add(slot);
        if (queue.slots.length >= queue.settings.maxBatchSize) this.cut(queue, 'size', false);
        else if (queue.tokens >= queue.settings.maxBatchTokens) this.cut(queue, 'tokens', false);
      }

      if (options.segment === 'realtime') {
        if (queue.slots.length > 0) this.cut(queue, 'realtime', true);
      } else {
        this.schedule(queue);
      }
    });
  }

  private queueFor(key: string, target: Target, operation: Operation, shared: Queue['shared']): Queue {
    let queue = this.queues.get(key);
    if (queue === undefined || queue.target !== target) {
      queue = {
        key,
        target,
        operation,
        settings: this.settingsFor(target, operation),
        shared,
        slots: [],
        tokens: 0,
        earliestDeadline: Infinity,
        unsent: 0,
        byKey: new Map(),
      };
      this.queues.set(key, queue);
    }
    return queue;
  }

  private laneFor(target: Target, settings: ResolvedMicroBatchSettings): Lane {
    let lane = this.lanes.get(target.id);
    if (lane === undefined) {
      lane = new Lane(settings.concurrency);
      this.lanes.set(target.id, lane);
    }
    return lane;
  }

  private serviceMs(target: Target): number {
    return this.options.predictServiceMs?.(target.id) ?? target.expected?.totalMs ?? defaultServiceMs;
  }

  /** Sets the queue's one timer to the earlier of its window end and its deadline flush. */
  private schedule(queue: Queue): void {
    if (queue.slots.length === 0) {
      this.clearTimer(queue);
      return;
    }
    const { at, reason } = this.due(queue);
    if (queue.timer !== undefined && queue.timer.at <= at) return;
    this.clearTimer(queue);
    const now = this.now();
    const fire = () => {
      queue.timer = undefined;
      if (queue.slots.length === 0) return;
      // The reason decided when the timer was set: by now an idle target may be busy, or the reverse.
      this.cut(queue, reason, true);
    };
    if (at <= now) {
      // Due now (maxWaitMs 0, or a deadline already close): wait one tick so callers arriving in
      // the same turn of the event loop share the request, as DataLoader does.
      queue.timer = { cancel: nextTurn(this.clock, fire), at, reason };
    } else {
      const { clock } = this;
      const handle = clock.setTimeout(fire, Math.min(at - now, maxTimerMs));
      queue.timer = { cancel: () => clock.clearTimeout(handle), at, reason };
    }
  }

  private due(queue: Queue): { at: number; reason: string } {
    const windowAt = queue.slots[0].enqueuedAt + queue.settings.maxWaitMs;
    const deadlineAt = queue.earliestDeadline - this.serviceMs(queue.target);
    if (this.options.sendWhenIdle !== false && windowAt > queue.slots[0].enqueuedAt && this.idle(queue.target)) {
      // Nagle's rule: with nothing in flight there is nothing to wait behind, so waiting the
      // window only adds latency; send after this tick (which still coalesces a burst).
      return { at: queue.slots[0].enqueuedAt, reason: 'idle' };
    }
    return deadlineAt < windowAt ? { at: deadlineAt, reason: 'deadline' } : { at: windowAt, reason: 'window' };
  }

  /** True when the target has no request in flight or waiting for a lane. */
  private idle(target: Target): boolean {
    const lane = this.lanes.get(target.id);
    return lane === undefined || (lane.size === 0 && lane.pending === 0);
  }

  private clearTimer(queue: Queue): void {
    if (queue.timer === undefined) return;
    queue.timer.cancel();
    queue.timer = undefined;
  }

  /** Cuts waiting slots into provider-sized batches and hands them to the target's lane. */
  private cut(queue: Queue, reason: string, all: boolean): void {
    do {
      let count = 0;
      let tokens = 0;
      while (count < queue.slots.length && count < queue.settings.maxBatchSize) {
        const next = queue.slots[count];
        if (count > 0 && tokens + next.tokens > queue.settings.maxBatchTokens) break;
        tokens += next.tokens;
        count++;
      }
      const chunk = queue.slots.splice(0, count);
      queue.tokens -= tokens;
      if (chunk.length > 0) this.dispatch(queue, chunk, reason);
    } while (all && queue.slots.length > 0);
    if (queue.slots.length === 0) queue.tokens = 0;
    recomputeEarliestDeadline(queue);
    // The slots left behind start a fresh window from the oldest of them.
    this.clearTimer(queue);
    this.schedule(queue);
  }

  private dispatch(queue: Queue, slots: Slot[], reason: string): void {
    const controller = new AbortController();
    const batch: Batch = { queue, slots, reason, controller, started: false, done: Promise.resolve() };
    for (const slot of slots) {
      slot.state = 'scheduled';
      slot.batch = batch;
    }
    this.batches.add(batch);
    const lane = this.laneFor(queue.target, queue.settings);
    batch.done = lane
      .add(() => this.run(batch))
      .catch(() => undefined)
      .finally(() => {
        this.batches.delete(batch);
        this.dropQueueIfIdle(queue);
      });
  }

  private async run(batch: Batch): Promise<void> {
    const { queue } = batch;
    batch.started = true;
    for (const slot of batch.slots) if (slot.state === 'scheduled') queue.unsent--;
    this.wakeWaiters(queue.key);
    // Slots whose callers all aborted while the batch waited for a lane are never sent.
    const live = batch.slots.filter((slot) => slot.state === 'scheduled');
    batch.slots = live;
    if (live.length === 0) return;
    const now = this.now();
    batch.sentAt = now;
    for (const slot of live) slot.state = 'sent';

    // The request may run until the last of its callers' deadlines; it stops earlier only when
    // every caller has gone (see detach).
    let latest = 0;
    for (const slot of live) for (const caller of slot.waiters) latest = Math.max(latest, caller.options.deadline);
    const deadlineTimer =
      latest - now < maxTimerMs
        ? this.clock.setTimeout(
            () =>
              batch.controller.abort(
                new DeadlineExceededError(Math.max(0, latest - now), { target: queue.target.id, detail: "the micro-batch request ran past every caller's deadline" }),
              ),
            Math.max(0, latest - now),
          )
        : undefined;
    try {
      await this.send(batch, live, batch.reason, latest);
    } finally {
      if (deadlineTimer !== undefined) this.clock.clearTimeout(deadlineTimer);
      for (const slot of live) if (slot.state !== 'done') this.finishSlot(slot);
    }
  }

  /** One provider request for `slots`; on a non-retryable 4xx with several slots, bisects. */
  private async send(batch: Batch, slots: Slot[], reason: string, deadline: number): Promise<void> {
    const { queue } = batch;
    const live = slots.filter((slot) => slot.waiters.size > 0);
    if (live.length === 0 || batch.controller.signal.aborted) {
      if (batch.controller.signal.aborted) this.failSlots(live, this.abortReason(batch));
      return;
    }
    const now = this.now();
    let oldest = Infinity;
    for (const slot of live) oldest = Math.min(oldest, slot.enqueuedAt);
    const waitMs = Math.max(0, now - oldest);
    try {
      this.options.emit('batch-flush', { target: queue.target.id, operation: queue.operation, size: live.length, reason, waitMs } satisfies BatchFlushEvent);
    } catch {
      // A throwing listener must not fail other people's requests.
    }
    const first = [...live[0].waiters][0];
    const segment: Segment = live.some((slot) => [...slot.waiters].some((caller) => caller.options.segment === 'realtime'))
      ? 'realtime'
      : first.options.segment;
    const context = Object.assign({}, first.options.context, { signal: batch.controller.signal, deadline, segment });
    const info: BatchInfo = { size: live.length, reason, waitMs };
    try {
      const values = await this.call(queue, live, context);
      this.succeed(live, values, info, now);
    } catch (error) {
      const failure = batch.controller.signal.aborted ? this.abortReason(batch) : toInferlaneError(error, queue.target.id);
      if (live.length > 1 && isolatable(failure)) {
        const middle = Math.ceil(live.length / 2);
        // Halves run one after the other inside this lane slot: sending them through the lane
        // again could deadlock once every slot waits on its own halves.
        await this.send(batch, live.slice(0, middle), 'bisect', deadline);
        await this.send(batch, live.slice(middle), 'bisect', deadline);
        return;
      }
      this.failSlots(live, failure);
    }
  }

  private async call(queue: Queue, slots: Slot[], context: Parameters<NonNullable<Target['doEmbed']>>[1]): Promise<unknown[]> {
    const { target } = queue;
    if (queue.operation === 'embed') {
      const result = await target.doEmbed!(
        { inputs: slots.map((slot) => slot.payload as string), dimensions: queue.shared.dimensions, providerOptions: queue.shared.providerOptions },
        context,
      );
      if (!Array.isArray(result?.embeddings) || result.embeddings.length !== slots.length) {
        throw new ProviderError(`${target.id} returned ${result?.embeddings?.length ?? 0} embeddings for ${slots.length} inputs`, { target: target.id, retryable: true });
      }
      const reported = result.usage?.inputTokens;
      if (reported !== undefined) {
        const estimated = slots.reduce((sum, slot) => sum + slot.tokens, 0) || 1;
        for (const slot of slots) slot.inputTokens = (reported * slot.tokens) / estimated;
      }
      return result.embeddings;
    }
    const results = await target.doGenerateMany!(slots.map((slot) => slot.payload as TextCall), context);
    if (!Array.isArray(results) || results.length !== slots.length) {
      throw new ProviderError(`${target.id} returned ${results?.length ?? 0} results for ${slots.length} prompts`, { target: target.id, retryable: true });
    }
    return results;
  }

  private succeed(slots: Slot[], values: unknown[], info: BatchInfo, sentAt: number): void {
    slots.forEach((slot, index) => {
      slot.value = values[index];
      slot.info = info;
      const waiters = [...slot.waiters];
      this.finishSlot(slot);
      for (const caller of waiters) {
        if (caller.settled) continue;
        caller.remaining.delete(slot);
        if (caller.remaining.size > 0) continue;
        // A caller whose inputs spanned several requests reports the one that carried its first input.
        const callerInfo = caller.slots[0].info ?? info;
        this.settleCaller(caller);
        const waitMs = Math.max(0, sentAt - caller.enqueuedAt);
        caller.resolve(caller.build(caller.slots.map((each) => each.value), caller.slots, Object.assign({}, callerInfo, { waitMs })) as never);
      }
      // Nobody waits on an answered slot any more: a request whose other items all lose their
      // callers (during a bisection) may then be cancelled.
      slot.waiters.clear();
    });
  }

  private failSlots(slots: Slot[], error: InferlaneError): void {
    for (const slot of slots) {
      const waiters = [...slot.waiters];
      this.finishSlot(slot);
      for (const caller of waiters) this.rejectCaller(caller, error);
    }
  }

  private abortReason(batch: Batch): InferlaneError {
    const reason = batch.controller.signal.reason;
    return InferlaneError.isInstance(reason) ? reason : new AbortedError(undefined, { target: batch.queue.target.id });
  }

  /** A slot leaves every index: it is settled (or dropped) and no longer pending. */
  private finishSlot(slot: Slot): void {
    if (slot.state === 'done') return;
    const { queue } = slot;
    if (slot.state === 'waiting' || (slot.state === 'scheduled' && slot.batch && !slot.batch.started)) {
      queue.unsent--;
      this.wakeWaiters(queue.key);
    }
    slot.state = 'done';
    this.pendingSlots--;
    if (queue.byKey.get(slot.key) === slot) queue.byKey.delete(slot.key);
  }

  private settleCaller(caller: Caller): void {
    caller.settled = true;
    caller.options.signal.removeEventListener('abort', caller.onAbort);
  }

  /** Rejects one caller once, and lets go of its slots so no one waits on work nobody wants. */
  private rejectCaller(caller: Caller, error: unknown): void {
    if (caller.settled) return;
    this.settleCaller(caller);
    caller.reject(error);
    for (const slot of new Set(caller.slots)) this.detach(slot, caller);
  }

  private detach(slot: Slot, caller: Caller): void {
    if (!slot.waiters.delete(caller) || slot.waiters.size > 0) return;
    const batch = slot.batch;
    if (slot.state === 'waiting') {
      const { queue } = slot;
      const index = queue.slots.indexOf(slot);
      if (index >= 0) {
        queue.slots.splice(index, 1);
        queue.tokens -= slot.tokens;
        if (slot.deadline <= queue.earliestDeadline) recomputeEarliestDeadline(queue);
      }
      this.finishSlot(slot);
      this.schedule(queue);
      this.dropQueueIfIdle(queue);
      return;
    }
    if (slot.state === 'scheduled') {
      this.finishSlot(slot);
      return;
    }
    if (slot.state === 'sent') {
      // Later callers with the same text must not join a request that may be cancelled.
      if (slot.queue.byKey.get(slot.key) === slot) slot.queue.byKey.delete(slot.key);
      if (batch && batch.slots.every((each) => each.waiters.size === 0)) {
        batch.controller.abort(new AbortedError('every caller of the micro-batch aborted', { target: batch.queue.target.id }));
      }
    }
  }

  /** Resolves when items leave the queue `key` (or rejects when `signal` aborts first). */
  private roomIn(key: string, signal: AbortSignal, targetId: string): Promise<void> {
    return new Promise((resolve, reject) => {
      const waiters = this.roomWaiters.get(key) ?? new Set<() => void>();
      this.roomWaiters.set(key, waiters);
      const onAbort = () => {
        waiters.delete(wake);
        reject(new AbortedError(undefined, { target: targetId }));
      };
      const wake = () => {
        signal.removeEventListener('abort', onAbort);
        resolve();
      };
      waiters.add(wake);
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** Items left the queue: let every waiter try again (those that still do not fit wait again). */
  private wakeWaiters(key: string): void {
    const waiters = this.roomWaiters.get(key);
    if (!waiters || waiters.size === 0) return;
    this.roomWaiters.delete(key);
    for (const wake of waiters) wake();
  }

  private dropQueueIfIdle(queue: Queue): void {
    if (queue.slots.length === 0 && queue.byKey.size === 0 && queue.timer === undefined && this.queues.get(queue.key) === queue) {
      this.queues.delete(queue.key);
    }
  }
}

/** Creates a {@link MicroBatcher}. */
export function createMicroBatcher(options: MicroBatcherConstructorOptions): MicroBatcher {
  return new MicroBatcher(options);
}

/**
 * Errors that belong to some item rather than to the request: a non-retryable 4xx. Auth (401,
 * 403) and not-found (404) fail every item alike, so bisecting them only multiplies requests.
 */
function isolatable(error: InferlaneError): boolean {
  if (error.retryable || error.code === 'ABORTED' || error.code === 'DEADLINE_EXCEEDED') return false;
  const status = error.status;
  return status !== undefined && isItemFaultStatus(status);
}

function recomputeEarliestDeadline(queue: Queue): void {
  let earliest = Infinity;
  for (const slot of queue.slots) if (slot.deadline < earliest) earliest = slot.deadline;
  queue.earliestDeadline = earliest;
}

function sumUsage(slots: Slot[]): Usage | undefined {
  let total = 0;
  let known = false;
  for (const slot of new Set(slots)) {
    if (slot.inputTokens === undefined) continue;
    known = true;
    total += slot.inputTokens;
  }
  if (!known) return undefined;
  const inputTokens = Math.round(total);
  return { inputTokens, totalTokens: inputTokens };
}

function positive(value: number | undefined, fallback: number): number {
  return typeof value === 'number' && Number.isFinite(value) && value >= 1 ? Math.floor(value) : fallback;
}

function dropUndefined<T extends object>(value: T | undefined): Partial<T> {
  if (!value) return {};
  return Object.fromEntries(Object.entries(value).filter(([, each]) => each !== undefined)) as Partial<T>;
}


/** JSON with sorted object keys, so equal options always land in the same queue. */
function stableStringify(value: unknown): string {
  if (value === undefined) return '';
  if (value === null || typeof value !== 'object') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(stableStringify).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, each]) => each !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([key, each]) => `${JSON.stringify(key)}:${stableStringify(each)}`).join(',')}}`;
}
