/**
 * `client.conversation(id, options)`: a KV-aware chat (DESIGN.md section 8).
 *
 * The record under `conv:<id>` holds the append-only messages with token counts and chained
 * prefix hashes, the cache affinity (target, replica, warm until), the summaries of dropped
 * turns and the usage totals. Every write is a compare-and-set on the record's version, retried
 * on conflict after a fresh read, so two writers (two serverless instances) never lose a message
 * and each turn's user and assistant messages stay adjacent.
 *
 * Per attempt, the executor calls the hints' `prepare(target)`: the history fitted to THAT
 * target's window, its prompt cache key or breakpoints, and a replica; then `settle()`.
 *
 * One idea at about 500 lines: the record and the turns that read and write it (hashing,
 * fitting, breakpoints, replicas and token counting are their own files beside it).
 *
 * Imports: the contracts (target, types, errors, stores/store, router/types), cost.ts and this folder
 * (its options and their check in options.ts).
 */
import { costOf } from '../cost.js';
import { ContextOverflowError, InferlaneError, InvalidRequestError, StoreError } from '../errors.js';
import type { Plan } from '../router/types.js';
import type { KeyValueStore } from '../stores/store.js';
import { type Message, mergeUsage, type StreamPart, type Target, type Usage } from '../target.js';
import type { ConversationHints, GenerateRequest, GenerateResult, PreparedConversation, StreamRequest } from '../types.js';
import { cacheBreakpoints, defaultCacheMinTokens, promptCacheKey } from './breakpoints.js';
import { fitMessages, type CountedMessage, type FitMode } from './fit.js';
import { chainHash, hash64, prefixHashes, seedHash } from './hash.js';
import { fitsDevice, maxDeviceTokens } from './kv-memory.js';
import type { ReplicaBalancer } from './replicas.js';
import { countMessageTokens, resolveTokenCounter, type TokenCounter } from './tokens.js';
import { type ConversationOptions, validateConversation } from './options.js';

/** What a conversation needs from the client. `createClient` passes itself. */
export interface ConversationHost {
  generate(request: GenerateRequest): Promise<GenerateResult>;
  stream(request: StreamRequest): AsyncIterable<StreamPart>;
  readonly targets: readonly Target[];
  readonly replicas: ReplicaBalancer;
  readonly store: KeyValueStore;
  now(): number;
  explain(request: GenerateRequest): Plan;
  /** A turn began and ended (the client's `close()` lets turns in flight write their answer). */
  beginTurn?(): void;
  endTurn?(): void;
}

/** Options of one `send` / `stream` call: everything of a request but its messages. */
export type SendOptions = Omit<StreamRequest, 'messages' | 'prompt' | 'system' | 'conversation'>;

/** A stored message. */
export interface ConversationMessage extends Message {
  tokens: number;
  /** Chained prefix hash of the conversation up to and including this message. */
  hash: string;
  /** When it was recorded, ms since epoch. */
  at: number;
  /** The target that wrote it (assistant messages). */
  target?: string;
}

export interface UsageTotals {
  calls: number;
  inputTokens: number;
  outputTokens: number;
  cachedInputTokens: number;
  costUsd: number;
}

export interface ConversationUsage extends UsageTotals {
  byTarget: Record<string, UsageTotals>;
}

export interface ConversationAffinity {
  target: string;
  replica?: number;
  /** ms since epoch */
  warmUntil: number;
  /** Prompt tokens the warm target has seen (its cached prefix, at most). */
  cachedTokens?: number;
}

/** The stored record, JSON under `conv:<id>`. */
export interface ConversationRecord {
  schema: 1;
  id: string;
  /** Root of the prompt cache key and replica key; forks keep it. */
  root: string;
  forkedFrom?: string;
  tokenizer: string;
  messages: ConversationMessage[];
  affinity?: ConversationAffinity;
  usage: ConversationUsage;
  /** Summaries of the first `cut` non-system messages, by cut. */
  summaries?: Record<string, { text: string; tokens: number }>;
  createdAt: number;
  updatedAt: number;
}

/** Store key of a conversation record. */
export const conversationKey = (id: string): string => `conv:${id}`;

const emptyTotals = (): UsageTotals => ({ calls: 0, inputTokens: 0, outputTokens: 0, cachedInputTokens: 0, costUsd: 0 });
const defaultAffinityTtlMs = 300_000;
const summaryPrefix = 'Summary of the earlier conversation: ';

const plain = (message: Message): Message => (message.name === undefined ? { role: message.role, content: message.content } : { role: message.role, content: message.content, name: message.name });

interface CallState {
  lastPrepared?: { target: Target; replica?: number; tokens: number };
  lastOk?: { target: Target; replica?: number };
}

export class Conversation {
  readonly id: string;
  private readonly host: ConversationHost;
  private readonly options: ConversationOptions;
  private readonly store: KeyValueStore;
  private counter?: TokenCounter;
  private record?: ConversationRecord;

  constructor(host: ConversationHost, id: string, options: ConversationOptions = {}) {
    validateConversation(id, options);
    this.host = host;
    this.id = id;
    this.options = options;
    this.store = options.store ?? host.store;
  }

  private async tokenCounter(): Promise<TokenCounter> {
    this.counter ??= await resolveTokenCounter(this.options.tokenizer);
    return this.counter;
  }

  private fresh(counter: TokenCounter, now: number): ConversationRecord {
    const record: ConversationRecord = {
      schema: 1,
      id: this.id,
      root: this.id,
      tokenizer: counter.name,
      messages: [],
      usage: { ...emptyTotals(), byTarget: {} },
      createdAt: now,
      updatedAt: now,
    };
    if (this.options.system !== undefined) appendMessages(record, counter, [{ role: 'system', content: this.options.system }], now);
    return record;
  }

  /** Reads the record; a record counted with another tokenizer is recounted and rehashed. */
  private async read(): Promise<{ record: ConversationRecord; version: number | null }> {
    const counter = await this.tokenCounter();
    let entry;
    try {
      entry = await this.store.get(conversationKey(this.id));
    } catch (error) {
      throw new StoreError(`reading conversation '${this.id}' failed`, { cause: error });
    }
    if (!entry) return { record: this.fresh(counter, this.host.now()), version: null };
    let record: ConversationRecord;
    try {
      record = JSON.parse(entry.value) as ConversationRecord;
    } catch (error) {
      throw new StoreError(`conversation '${this.id}' holds a malformed record`, { cause: error, retryable: false });
    }
    if (record.tokenizer !== counter.name) record = recount(record, counter);
    return { record, version: entry.version };
  }

  /** Read, change, compare-and-set; on conflict read again and reapply. */
  private async update(change: (record: ConversationRecord) => void): Promise<ConversationRecord> {
    const attempts = this.options.maxWriteAttempts ?? 32;
    for (let attempt = 0; attempt < attempts; attempt++) {
      const { record, version } = await this.read();
      change(record);
      record.updatedAt = this.host.now();
      let written: number | undefined;
      try {
        written = await this.store.compareAndSet(conversationKey(this.id), version, JSON.stringify(record), this.options.ttlMs === undefined ? undefined : { ttlMs: this.options.ttlMs });
      } catch (error) {
        throw new StoreError(`writing conversation '${this.id}' failed`, { cause: error });
      }
      if (written !== undefined) {
        this.record = record;
        return record;
      }
    }
    throw new StoreError(`conversation '${this.id}': ${attempts} concurrent writes conflicted; try again`);
  }

  /** Re-reads the record from the store. */
  async load(): Promise<this> {
    this.record = (await this.read()).record;
    return this;
  }

  /** Alias of `load`. */
  refresh(): Promise<this> {
    return this.load();
  }

  /** The stored messages, system message first (read from the store). */
  async messages(): Promise<ConversationMessage[]> {
    await this.load();
    return this.record!.messages.map((message) => ({ ...message }));
  }

  /** Tokens, cached tokens and cost, in total and per target (read from the store). */
  async usage(): Promise<ConversationUsage> {
    await this.load();
    return structuredClone(this.record!.usage);
  }

  /** The cache affinity, when one has been recorded. */
  async affinity(): Promise<ConversationAffinity | undefined> {
    await this.load();
    return this.record!.affinity && { ...this.record!.affinity };
  }

  /** The prompt cache key every call of this conversation (and its forks) carries. */
  async cacheKey(): Promise<string> {
    await this.load();
    return promptCacheKey(systemOf(this.record!), this.record!.root);
  }

  /**
   * A new conversation that starts with this one's messages (same hashes, same cache key, same
   * affinity), so its first call reuses the shared prefix's cache. Usage starts at zero.
   */
  async fork(newId?: string): Promise<Conversation> {
    const id = newId ?? `${this.id}~${randomSuffix()}`;
    if (typeof id !== 'string' || id.length === 0 || id === this.id) throw new InvalidRequestError('newId', 'a fork needs a new, non-empty id');
    const { record } = await this.read();
    const now = this.host.now();
    const copy: ConversationRecord = { ...structuredClone(record), id, forkedFrom: this.id, usage: { ...emptyTotals(), byTarget: {} }, createdAt: now, updatedAt: now };
    const written = await this.store.compareAndSet(conversationKey(id), null, JSON.stringify(copy), this.options.ttlMs === undefined ? undefined : { ttlMs: this.options.ttlMs });
    if (written === undefined) throw new InvalidRequestError('newId', `a conversation '${id}' already exists`);
    return new Conversation(this.host, id, this.options);
  }

  /**
   * Records messages that were answered outside `send`/`stream`, e.g. a realtime voice session's
   * turns (the provider ran them over its own socket). Appended in order, hashes chained, no call
   * made; `target` is the one that wrote the assistant messages.
   */
  async append(messages: Message[], options: { target?: string } = {}): Promise<void> {
    if (!Array.isArray(messages) || messages.length === 0) throw new InvalidRequestError('messages', 'expected at least one message');
    messages.forEach((message, index) => {
      if (typeof message?.content !== 'string' || !['system', 'user', 'assistant', 'tool'].includes(message.role)) {
        throw new InvalidRequestError(`messages[${index}]`, 'must have a role (system, user, assistant or tool) and string content');
      }
    });
    const counter = await this.tokenCounter();
    const now = this.host.now();
    await this.update((record) => {
      appendMessages(record, counter, messages.map((message) => (message.role === 'assistant' && options.target !== undefined ? Object.assign(plain(message), { target: options.target }) : plain(message))), now);
    });
  }

  /** The plan `send(text, options)` would follow now (dry run, nothing recorded). */
  async explain(text: string, options: SendOptions = {}): Promise<Plan> {
    const { request } = await this.prepareCall(text, options, {});
    return this.host.explain(request);
  }

  /** Sends a user message; records it with the answer, usage and cache affinity. */
  async send(text: string, options: SendOptions = {}): Promise<GenerateResult> {
    this.host.beginTurn?.();
    try {
      return await this.sendTurn(text, options);
    } finally {
      this.host.endTurn?.();
    }
  }

  private async sendTurn(text: string, options: SendOptions): Promise<GenerateResult> {
    const state: CallState = {};
    const { request, user, summaries, release } = await this.prepareCall(text, options, state);
    let result: GenerateResult;
    try {
      result = await this.host.generate(request);
    } finally {
      release();
    }
    const target = this.targetById(result.route.target) ?? state.lastOk?.target ?? state.lastPrepared?.target;
    try {
      await this.recordTurn({
        user,
        answer: result.text,
        target,
        replica: result.route.replica ?? state.lastOk?.replica,
        usage: result.usage ?? result.route.usage,
        costUsd: result.route.costUsd,
        promptTokens: state.lastPrepared?.tokens,
        summaries,
      });
    } catch (error) {
      // The answer arrived (and was paid for) but its turn could not be written: it travels
      // with the error instead of being lost; the history does not hold it.
      if (InferlaneError.isInstance(error) && error.code === 'STORE_ERROR') (error as StoreError).unsaved = result;
      throw error;
    }
    return result;
  }

  /**
   * Streams the answer to a user message. The turn is recorded when the stream finishes; a
   * stream the caller leaves early, or that fails, records nothing.
   */
  async *stream(text: string, options: SendOptions = {}): AsyncGenerator<StreamPart, void, undefined> {
    this.host.beginTurn?.();
    try {
      yield* this.streamTurn(text, options);
    } finally {
      this.host.endTurn?.();
    }
  }

  private async *streamTurn(text: string, options: SendOptions): AsyncGenerator<StreamPart, void, undefined> {
    const state: CallState = {};
    const { request, user, summaries, release } = await this.prepareCall(text, options, state);
    let answer = '';
    let usage: Usage | undefined;
    let resumedTo: string | undefined;
    let route: { target?: string; replica?: number; costUsd?: number } | undefined;
    let failed = false;
    try {
      for await (const part of this.host.stream(request)) {
        if (part.type === 'text-delta') answer += part.text;
        else if (part.type === 'usage') usage = mergeUsage(usage, part.usage);
        else if (part.type === 'finish') {
          usage = mergeUsage(usage, part.usage);
          // The client's finish part also says where the stream ran.
          route = (part as { route?: typeof route }).route;
        } else if (part.type === 'resumed') resumedTo = part.toTarget;
        else if (part.type === 'error') failed = true;
        yield part;
      }
    } finally {
      release();
    }
    if (failed) return;
    const settled = state.lastOk ?? state.lastPrepared;
    const target = this.targetById(route?.target ?? resumedTo) ?? settled?.target;
    const replica = route?.target !== undefined ? route.replica : settled?.replica;
    await this.recordTurn({ user, answer, target, replica, usage, costUsd: route?.costUsd, promptTokens: state.lastPrepared?.tokens, summaries });
  }

  private targetById(id: string | undefined): Target | undefined {
    return id === undefined ? undefined : this.host.targets.find((target) => target.id === id);
  }

  /** Builds the request: the full history plus the new message, and the per-target hooks. */
  private async prepareCall(text: string, options: SendOptions, state: CallState) {
    if (typeof text !== 'string' || text.length === 0) throw new InvalidRequestError('text', 'expected a non-empty string');
    const counter = await this.tokenCounter();
    const { record } = await this.read();
    this.record = record;
    const now = this.host.now();
    const user: CountedMessage = { role: 'user', content: text, tokens: countMessageTokens(counter, { content: text }) };
    const history: CountedMessage[] = [...record.messages.map((message) => ({ ...plain(message), tokens: message.tokens })), user];
    const mode = this.options.fit ?? 'drop-oldest';
    const reserveOutputTokens = this.options.reserveOutputTokens ?? options.maxOutputTokens;
    const summaries = { ...(record.summaries ?? {}) };
    if (mode === 'summarize' && this.options.summarize) await this.summarizeFor(history, reserveOutputTokens, options.targets, summaries, counter);
    const summaryFor = (cut: number): CountedMessage | undefined => {
      const summary = summaries[String(cut)];
      return summary && { role: 'system', content: summaryPrefix + summary.text, tokens: summary.tokens };
    };

    const system = systemOf(record);
    const cacheKey = promptCacheKey(system, record.root);
    const replicaKey = hash64(`replica\u0000${cacheKey}`);
    const affinity = record.affinity;
    const warm = affinity !== undefined && affinity.warmUntil > now;
    const historyTokens = history.reduce((total, message) => total + message.tokens, 0);
    const acquired = new Map<string, number>();
    const balancer = this.host.replicas;
    let storedHashes: string[] | undefined;
    const historyHashes = (): string[] => {
      if (storedHashes) return storedHashes;
      storedHashes = record.messages.map((message) => message.hash);
      storedHashes.push(chainHash(storedHashes.at(-1) ?? seedHash({ tokenizer: counter.name }), user));
      return storedHashes;
    };

    const hints: ConversationHints = {
      id: this.id,
      affinity: affinity && { ...affinity },
      prefixTokens: warm ? affinity.cachedTokens : undefined,
      totalTokens: historyTokens + (options.maxOutputTokens ?? 0),
      prepare: (target: Target): PreparedConversation => {
        const fitted = fitMessages(history, { contextTokens: target.limits?.contextTokens, reserveOutputTokens, mode, summaryFor });
        if (target.kv && !fitsDevice(target.kv, fitted.tokens + (options.maxOutputTokens ?? 0)))
          throw new ContextOverflowError(fitted.tokens + (options.maxOutputTokens ?? 0), maxDeviceTokens(target.kv), { target: target.id });
        const prepared: PreparedConversation = { messages: fitted.messages.map(plain) };
        // A device runtime that keeps this conversation's KV cache checks it against these hashes:
        // the stored chain when nothing was dropped, else the chain of what is actually sent.
        if (target.kv) prepared.prefixHashes = fitted.cut === 0 && !fitted.summarized ? historyHashes() : prefixHashes(fitted.messages, { tokenizer: counter.name });
        if (target.cache?.acceptsKey) prepared.promptCacheKey = cacheKey;
        if (target.cache?.mode === 'breakpoints') {
          const breakpoints = cacheBreakpoints(fitted.messages, target.cache.minTokens ?? defaultCacheMinTokens);
          if (breakpoints.length > 0) prepared.cacheBreakpoints = breakpoints;
        }
        const replicas = target.replicas ?? 1;
        if (replicas > 1) {
          const previous = acquired.get(target.id);
          if (previous !== undefined) balancer.release(target.id, replicas, previous);
          const preferred = warm && affinity.target === target.id ? affinity.replica : undefined;
          const replica = balancer.pick(target.id, replicas, replicaKey, { preferred, now: this.host.now() });
          balancer.acquire(target.id, replicas, replica);
          acquired.set(target.id, replica);
          prepared.replica = replica;
        }
        state.lastPrepared = { target, replica: prepared.replica, tokens: fitted.tokens };
        return prepared;
      },
      settle: (target: Target, replica: number | undefined, ok: boolean): void => {
        const replicas = target.replicas ?? 1;
        const held = acquired.get(target.id);
        if (held !== undefined) {
          balancer.release(target.id, replicas, held);
          acquired.delete(target.id);
        }
        const used = replica ?? held;
        if (ok) state.lastOk = { target, replica: used };
        else if (used !== undefined && replicas > 1) balancer.markFailed(target.id, used, this.host.now(), replicas);
      },
    };
    // `messages` holds what no fitting may drop (the system message and the new question), so
    // the router's context check rejects only targets that cannot hold even that
    // (src/router/plan.ts); `prepare()` gives each attempt the history fitted to its target.
    const required = [...(history[0]?.role === 'system' ? [history[0]] : []), user];
    const request: StreamRequest = Object.assign({}, options, { messages: required.map(plain), conversation: hints });
    /** Releases replicas whose attempt never reached `settle` (e.g. a stream that failed to open). */
    const release = (): void => {
      for (const [targetId, replica] of acquired) {
        const target = this.targetById(targetId);
        balancer.release(targetId, target?.replicas ?? 1, replica);
      }
      acquired.clear();
    };
    return { request, user, summaries, release };
  }

  /** Computes, once per cut, the summary each text target's window will need. */
  private async summarizeFor(
    history: CountedMessage[],
    reserveOutputTokens: number | undefined,
    only: string[] | undefined,
    summaries: Record<string, { text: string; tokens: number }>,
    counter: TokenCounter,
  ): Promise<void> {
    const windows = new Set<number>();
    for (const target of this.host.targets) {
      if (!target.modalities.includes('text') || target.limits?.contextTokens === undefined) continue;
      if (only && !only.includes(target.id)) continue;
      windows.add(target.limits.contextTokens);
    }
    const offset = history[0]?.role === 'system' ? 1 : 0;
    for (const contextTokens of windows) {
      let cut: number;
      try {
        cut = fitMessages(history, { contextTokens, reserveOutputTokens, mode: 'summarize' }).cut;
      } catch {
        continue; // this window cannot hold the newest message; prepare() reports it
      }
      if (cut === 0 || summaries[String(cut)]) continue;
      const dropped = history.slice(offset, offset + cut).map(plain);
      const text = await this.options.summarize!(dropped, { conversationId: this.id, cut });
      summaries[String(cut)] = { text, tokens: countMessageTokens(counter, { content: summaryPrefix + text }) };
    }
  }

  private async recordTurn(turn: {
    user: CountedMessage;
    answer: string;
    target?: Target;
    replica?: number;
    usage?: Usage;
    costUsd?: number;
    promptTokens?: number;
    summaries: Record<string, { text: string; tokens: number }>;
  }): Promise<void> {
    const counter = await this.tokenCounter();
    const now = this.host.now();
    const target = turn.target;
    const costUsd = turn.costUsd ?? costOf(target?.cost, turn.usage, 'text') ?? 0;
    await this.update((record) => {
      appendMessages(
        record,
        counter,
        [
          { role: 'user', content: turn.user.content },
          { role: 'assistant', content: turn.answer, target: target?.id },
        ],
        now,
      );
      if (Object.keys(turn.summaries).length > 0) record.summaries = { ...turn.summaries, ...record.summaries };
      addUsage(record.usage, turn.usage, costUsd);
      if (target) {
        record.usage.byTarget[target.id] ??= emptyTotals();
        addUsage(record.usage.byTarget[target.id], turn.usage, costUsd);
        // The prompt as sent is what the target now holds in its cache.
        record.affinity = {
          target: target.id,
          replica: turn.replica,
          warmUntil: now + (target.cache?.ttlMs ?? defaultAffinityTtlMs),
          cachedTokens: turn.usage?.inputTokens ?? turn.promptTokens,
        };
      }
    });
  }
}

function systemOf(record: ConversationRecord): string | undefined {
  return record.messages[0]?.role === 'system' ? record.messages[0].content : undefined;
}

function appendMessages(record: ConversationRecord, counter: TokenCounter, messages: (Message & { target?: string })[], now: number): void {
  let previous = record.messages.at(-1)?.hash ?? seedHash({ tokenizer: counter.name });
  for (const message of messages) {
    previous = chainHash(previous, message);
    const stored: ConversationMessage = Object.assign(plain(message), { tokens: countMessageTokens(counter, message), hash: previous, at: now });
    if (message.target !== undefined) stored.target = message.target;
    record.messages.push(stored);
  }
}

function recount(record: ConversationRecord, counter: TokenCounter): ConversationRecord {
  const messages = record.messages;
  const copy: ConversationRecord = { ...record, tokenizer: counter.name, messages: [], summaries: undefined };
  for (const message of messages) {
    appendMessages(copy, counter, [message], message.at);
    copy.messages[copy.messages.length - 1].at = message.at;
  }
  return copy;
}

function addUsage(totals: UsageTotals, usage: Usage | undefined, costUsd: number): void {
  totals.calls += 1;
  totals.inputTokens += usage?.inputTokens ?? 0;
  totals.outputTokens += usage?.outputTokens ?? 0;
  totals.cachedInputTokens += usage?.cachedInputTokens ?? 0;
  totals.costUsd += costUsd;
}

function randomSuffix(): string {
  const crypto = (globalThis as { crypto?: { randomUUID?(): string } }).crypto;
  return crypto?.randomUUID ? crypto.randomUUID().slice(0, 8) : Math.random().toString(36).slice(2, 10);
}
