/**
 * Validation of every public call. Bad input gets an InvalidRequestError that names the field;
 * nothing invalid reaches a provider.
 */
import { InvalidRequestError } from './errors.js';
import type { ConversationOptions } from './conversation/conversation.js';
import type { JobItem, JobOperation, JobSubmitOptions, JobWaitOptions } from './batching/jobs-types.js';
import type { Message, Target, TextCall } from './target.js';
import type { CommonOptions, EmbedRequest, GenerateRequest, ImageRequest, SpeechRequest, StreamRequest, TranscribeRequest } from './types.js';

const operationMethods = ['doGenerate', 'doStream', 'doGenerateMany', 'doEmbed', 'doImage', 'doTranscribe', 'doSpeech', 'doVideo'] as const;
const targetKinds = new Set(['device', 'realtime', 'cloud', 'batch']);
const modalities = new Set(['text', 'embedding', 'image', 'transcription', 'speech', 'video']);

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function nonNegativeNumber(value: unknown, field: string, options: { integer?: boolean; positive?: boolean } = {}): void {
  if (value === undefined) return;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || (options.positive && value === 0)) {
    throw new InvalidRequestError(field, `must be a ${options.positive ? 'positive' : 'non-negative'} finite number, got ${describe(value)}`);
  }
  if (options.integer && !Number.isInteger(value)) throw new InvalidRequestError(field, `must be an integer, got ${value}`);
}

function describe(value: unknown): string {
  if (typeof value === 'string') return `'${value.length > 40 ? `${value.slice(0, 40)}…` : value}'`;
  if (typeof value === 'number') return String(value);
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value;
}

/*
 * These run on every call. The common request sets few fields, so each optional field is
 * checked at the call site (`!== undefined`) before any helper runs: a helper that is called
 * only to return at once still costs its call on a busy client (cold code between requests).
 */

export function validateCommon(request: CommonOptions): void {
  const latency = request.latency;
  if (latency !== undefined) {
    if (typeof latency === 'number') {
      if (!Number.isFinite(latency) || latency <= 0) throw new InvalidRequestError('latency', `must be a positive number of milliseconds or one of realtime, interactive, batch; got ${describe(latency)}`);
    } else if (latency !== 'realtime' && latency !== 'interactive' && latency !== 'batch') {
      throw new InvalidRequestError('latency', `must be 'realtime', 'interactive', 'batch' or a number of ms; got ${describe(latency)}`);
    }
  }
  if (request.privacy !== undefined && request.privacy !== 'any' && request.privacy !== 'device-only') {
    throw new InvalidRequestError('privacy', `must be 'any' or 'device-only'; got ${describe(request.privacy)}`);
  }
  if (request.maxRetries !== undefined) nonNegativeNumber(request.maxRetries, 'maxRetries', { integer: true });
  if (request.abortSignal !== undefined && !(typeof request.abortSignal === 'object' && request.abortSignal !== null && 'aborted' in request.abortSignal)) {
    throw new InvalidRequestError('abortSignal', 'must be an AbortSignal');
  }
  if (request.targets !== undefined && (!Array.isArray(request.targets) || request.targets.some((t) => typeof t !== 'string'))) {
    throw new InvalidRequestError('targets', 'must be an array of target ids');
  }
  if (request.prefer !== undefined && request.prefer !== 'fastest' && request.prefer !== 'cheapest') {
    throw new InvalidRequestError('prefer', `must be 'fastest' or 'cheapest'; got ${describe(request.prefer)}`);
  }
  if (request.providerOptions !== undefined) validateProviderOptions(request.providerOptions, 'providerOptions');
  if (request.hedge !== undefined && typeof request.hedge !== 'boolean') validateHedge(request.hedge);
}

/** `hedge: { afterMs }` (a NaN or negative delay would hedge every request at once). */
function validateHedge(hedge: unknown): void {
  if (!isObject(hedge)) throw new InvalidRequestError('hedge', `must be true, false or { afterMs }; got ${describe(hedge)}`);
  nonNegativeNumber(hedge.afterMs, 'hedge.afterMs');
  if (hedge.quantile !== undefined) fraction(hedge.quantile, 'hedge.quantile', { open: true });
}

export function validateMessages(messages: unknown, field = 'messages'): asserts messages is Message[] {
  if (!Array.isArray(messages)) throw new InvalidRequestError(field, `must be an array of messages; got ${describe(messages)}`);
  if (messages.length === 0) throw new InvalidRequestError(field, 'must contain at least one message');
  for (let index = 0; index < messages.length; index++) {
    const message: unknown = messages[index];
    if (typeof message !== 'object' || message === null || Array.isArray(message)) throw new InvalidRequestError(`${field}[${index}]`, 'must be an object with role and content');
    const { role, content } = message as { role?: unknown; content?: unknown };
    if (role !== 'user' && role !== 'system' && role !== 'assistant' && role !== 'tool') {
      throw new InvalidRequestError(`${field}[${index}].role`, `must be one of system, user, assistant, tool; got ${describe(role)}`);
    }
    if (typeof content !== 'string') {
      throw new InvalidRequestError(`${field}[${index}].content`, `must be a string; got ${describe(content)}`);
    }
    const name = (message as { name?: unknown }).name;
    if (name !== undefined && (typeof name !== 'string' || name.length === 0)) {
      throw new InvalidRequestError(`${field}[${index}].name`, `must be a non-empty string; got ${describe(name)}`);
    }
  }
}

/** Returns the messages the request describes (system + messages or prompt). */
export function validateGenerate(request: GenerateRequest | StreamRequest): Message[] {
  if (typeof request !== 'object' || request === null || Array.isArray(request)) throw new InvalidRequestError('request', 'must be an object');
  validateCommon(request);
  const asImage = request as GenerateRequest & { size?: unknown; n?: unknown };
  if (asImage.size !== undefined || asImage.n !== undefined) {
    throw new InvalidRequestError('size', 'image options belong to generateImage(), not generate()');
  }
  validateText(request, '');
  const messages: Message[] = request.messages ?? [{ role: 'user', content: request.prompt! }];
  if (request.maxOutputTokens !== undefined || request.temperature !== undefined || request.topP !== undefined || request.seed !== undefined || request.stop !== undefined) {
    validateSampling(request, '');
  }
  const stream = request as StreamRequest;
  if (stream.firstTokenMs !== undefined) nonNegativeNumber(stream.firstTokenMs, 'firstTokenMs', { positive: true });
  if (stream.idleMs !== undefined) nonNegativeNumber(stream.idleMs, 'idleMs', { positive: true });
  if (stream.onStreamFailure !== undefined && stream.onStreamFailure !== 'resume' && stream.onStreamFailure !== 'error') {
    throw new InvalidRequestError('onStreamFailure', `must be 'resume' or 'error'; got ${describe(stream.onStreamFailure)}`);
  }
  return request.system ? [{ role: 'system', content: request.system }, ...messages] : messages;
}

/**
 * What a call or a job item says: `messages` or a non-empty `prompt`, not both, and a string
 * `system`. `prefix` leads each field's name (`items[2].`).
 */
function validateText(source: { messages?: unknown; prompt?: unknown; system?: unknown }, prefix: string): void {
  if (source.messages !== undefined && source.prompt !== undefined) throw new InvalidRequestError(`${prefix}prompt`, 'give either messages or prompt, not both');
  if (source.system !== undefined && typeof source.system !== 'string') throw new InvalidRequestError(`${prefix}system`, `must be a string; got ${describe(source.system)}`);
  if (source.messages !== undefined) validateMessages(source.messages, `${prefix}messages`);
  else if (source.prompt === undefined) throw new InvalidRequestError(`${prefix}messages`, 'give messages or prompt');
  else if (typeof source.prompt !== 'string' || source.prompt.length === 0) throw new InvalidRequestError(`${prefix}prompt`, `must be a non-empty string; got ${describe(source.prompt)}`);
}

/** `providerOptions` of a call or a job item: options keyed by provider name. */
function validateProviderOptions(value: unknown, field: string): void {
  if (value !== undefined && !isObject(value)) throw new InvalidRequestError(field, 'must be an object keyed by provider name');
}

/** The generation settings of a call or a job item; `prefix` leads each field's name (`items[2].`). */
function validateSampling(options: Pick<TextCall, 'maxOutputTokens' | 'temperature' | 'topP' | 'seed' | 'stop'>, prefix: string): void {
  nonNegativeNumber(options.maxOutputTokens, `${prefix}maxOutputTokens`, { integer: true, positive: true });
  nonNegativeNumber(options.temperature, `${prefix}temperature`);
  if (options.topP !== undefined) {
    nonNegativeNumber(options.topP, `${prefix}topP`);
    if (options.topP > 1) throw new InvalidRequestError(`${prefix}topP`, `must be between 0 and 1 (a probability mass); got ${options.topP}`);
  }
  if (options.seed !== undefined && !Number.isSafeInteger(options.seed)) throw new InvalidRequestError(`${prefix}seed`, `must be an integer; got ${describe(options.seed)}`);
  if (options.stop !== undefined && (!Array.isArray(options.stop) || options.stop.some((s) => typeof s !== 'string'))) throw new InvalidRequestError(`${prefix}stop`, 'must be an array of strings');
}

export function validateEmbed(request: EmbedRequest): string[] {
  if (!isObject(request)) throw new InvalidRequestError('request', 'must be an object');
  validateCommon(request);
  const input = request.input;
  const inputs = typeof input === 'string' ? [input] : input;
  if (!Array.isArray(inputs)) throw new InvalidRequestError('input', `must be a string or an array of strings; got ${describe(input)}`);
  if (inputs.length === 0) throw new InvalidRequestError('input', 'must contain at least one string');
  inputs.forEach((item, index) => {
    if (typeof item !== 'string') throw new InvalidRequestError(`input[${index}]`, `must be a string; got ${describe(item)}`);
  });
  nonNegativeNumber(request.dimensions, 'dimensions', { integer: true, positive: true });
  return inputs;
}

export function validateImage(request: ImageRequest): void {
  if (!isObject(request)) throw new InvalidRequestError('request', 'must be an object');
  validateCommon(request);
  if (typeof request.prompt !== 'string' || request.prompt.length === 0) throw new InvalidRequestError('prompt', `must be a non-empty string; got ${describe(request.prompt)}`);
  if (request.size !== undefined && (typeof request.size !== 'string' || !/^\d+x\d+$/.test(request.size))) throw new InvalidRequestError('size', `must look like '1024x1024'; got ${describe(request.size)}`);
  nonNegativeNumber(request.n, 'n', { integer: true, positive: true });
}

export function validateTranscribe(request: TranscribeRequest): Uint8Array {
  if (!isObject(request)) throw new InvalidRequestError('request', 'must be an object');
  validateCommon(request);
  optionalText(request.language, 'language');
  optionalText(request.mediaType, 'mediaType');
  const audio = request.audio;
  if (audio instanceof Uint8Array) {
    if (audio.byteLength === 0) throw new InvalidRequestError('audio', 'must not be empty');
    return audio;
  }
  if (audio instanceof ArrayBuffer) {
    if (audio.byteLength === 0) throw new InvalidRequestError('audio', 'must not be empty');
    return new Uint8Array(audio);
  }
  throw new InvalidRequestError('audio', `must be a Uint8Array or ArrayBuffer; got ${describe(audio)}`);
}

export function validateSpeech(request: SpeechRequest): void {
  if (!isObject(request)) throw new InvalidRequestError('request', 'must be an object');
  validateCommon(request);
  if (typeof request.text !== 'string' || request.text.length === 0) throw new InvalidRequestError('text', `must be a non-empty string; got ${describe(request.text)}`);
  optionalText(request.voice, 'voice');
  optionalText(request.format, 'format');
}

/** An optional setting that, when given, is a non-empty string (a voice, a language, a media type). */
function optionalText(value: unknown, field: string): void {
  if (value !== undefined && (typeof value !== 'string' || value.length === 0)) throw new InvalidRequestError(field, `must be a non-empty string; got ${describe(value)}`);
}

/** Checks the targets given to createClient. */
export function validateTargets(targets: unknown): asserts targets is Target[] {
  if (!Array.isArray(targets) || targets.length === 0) throw new InvalidRequestError('targets', 'give at least one target');
  const seen = new Set<string>();
  targets.forEach((target, index) => {
    const field = `targets[${index}]`;
    if (!isObject(target)) throw new InvalidRequestError(field, 'must be a target object (from a provider factory)');
    if (typeof target.id !== 'string' || target.id.length === 0) throw new InvalidRequestError(`${field}.id`, 'must be a non-empty string');
    if (seen.has(target.id)) throw new InvalidRequestError(`${field}.id`, `'${target.id}' is used by another target; ids must be unique`);
    seen.add(target.id);
    if (typeof target.kind !== 'string' || !targetKinds.has(target.kind)) throw new InvalidRequestError(`${field}.kind`, `must be device, realtime, cloud or batch; got ${describe(target.kind)}`);
    if (!Array.isArray(target.modalities) || target.modalities.length === 0 || target.modalities.some((m) => !modalities.has(m as string))) {
      throw new InvalidRequestError(`${field}.modalities`, 'must list at least one of text, embedding, image, transcription, speech, video');
    }
    const hasMethod = operationMethods.some((name) => typeof target[name] === 'function') || isObject(target.batch) || isObject(target.realtime);
    if (!hasMethod) throw new InvalidRequestError(field, `target '${target.id}' implements no do* method, no batch endpoint and no realtime sessions`);
    validateTargetFigures(target, field);
  });
}

const priceKeys = ['inputPerMTok', 'cachedInputPerMTok', 'cacheWritePerMTok', 'outputPerMTok', 'perImage', 'perSecondAudio', 'perRequest'];

/** The numbers a target declares (prices, priors, limits, KV geometry, batching): the router and the timers read them. */
function validateTargetFigures(target: Record<string, unknown>, field: string): void {
  const prices = (table: Record<string, unknown>, prefix: string) => {
    for (const key of priceKeys) nonNegativeNumber(table[key], `${prefix}.${key}`);
  };
  const cost = section(target.cost, `${field}.cost`);
  if (cost) {
    prices(cost, `${field}.cost`);
    const byModality = section(cost.byModality, `${field}.cost.byModality`);
    for (const [modality, table] of Object.entries(byModality ?? {})) {
      const prefix = `${field}.cost.byModality.${modality}`;
      if (!modalities.has(modality)) throw new InvalidRequestError(prefix, 'is not a modality');
      prices(section(table, prefix)!, prefix);
    }
  }
  const expected = section(target.expected, `${field}.expected`);
  if (expected) for (const key of ['ttftMs', 'totalMs']) nonNegativeNumber(expected[key], `${field}.expected.${key}`);
  const limits = section(target.limits, `${field}.limits`);
  if (limits) for (const key of ['contextTokens', 'maxBatchSize', 'maxBatchTokens', 'maxInputTokens']) nonNegativeNumber(limits[key], `${field}.limits.${key}`, { integer: true, positive: true });
  const kv = section(target.kv, `${field}.kv`);
  if (kv) {
    for (const key of ['layers', 'kvHeads', 'headDim', 'bytesPerValue', 'memoryBudgetBytes']) {
      if (kv[key] === undefined) throw new InvalidRequestError(`${field}.kv.${key}`, 'is required for a KV geometry');
      nonNegativeNumber(kv[key], `${field}.kv.${key}`, { positive: true });
    }
    nonNegativeNumber(kv.weightsBytes, `${field}.kv.weightsBytes`);
    nonNegativeNumber(kv.slidingWindow, `${field}.kv.slidingWindow`, { integer: true, positive: true });
  }
  if (target.microBatch !== undefined) validateMicroBatch(target.microBatch, `${field}.microBatch`);
}

function validateMicroBatch(value: unknown, field: string): void {
  const batch = section(value, field)!;
  for (const key of ['maxBatchSize', 'maxBatchTokens', 'concurrency', 'maxQueue']) nonNegativeNumber(batch[key], `${field}.${key}`, { integer: true, positive: true });
  nonNegativeNumber(batch.maxWaitMs, `${field}.maxWaitMs`);
  if (batch.whenFull !== undefined && batch.whenFull !== 'wait' && batch.whenFull !== 'reject') {
    throw new InvalidRequestError(`${field}.whenFull`, `must be 'wait' or 'reject'; got ${describe(batch.whenFull)}`);
  }
}

const segments = new Set(['realtime', 'interactive', 'batch']);

function fraction(value: unknown, field: string, options: { open?: boolean } = {}): void {
  if (value === undefined) return;
  if (typeof value !== 'number' || !(value >= 0 && value <= 1) || (options.open && (value === 0 || value === 1))) {
    throw new InvalidRequestError(field, `must be a number ${options.open ? 'between 0 and 1, exclusive' : 'from 0 to 1'}; got ${describe(value)}`);
  }
}

function section(value: unknown, field: string): Record<string, unknown> | undefined {
  if (value === undefined) return undefined;
  if (!isObject(value)) throw new InvalidRequestError(field, `must be an object; got ${describe(value)}`);
  return value;
}

/**
 * Checks createClient's settings other than its targets (`validateTargets`): every number a
 * timer, a retry or a breaker depends on (a NaN idle limit would spin a timer every
 * millisecond), and the names of segments and runtimes.
 */
export function validateClientOptions(options: Record<string, unknown>): void {
  const retry = section(options.retry, 'retry');
  if (retry) {
    nonNegativeNumber(retry.maxRetries, 'retry.maxRetries', { integer: true });
    for (const key of ['initialDelayMs', 'maxDelayMs', 'maxRetryAfterMs']) nonNegativeNumber(retry[key], `retry.${key}`);
  }
  const hedge = section(options.hedge, 'hedge');
  if (hedge) {
    fraction(hedge.ratio, 'hedge.ratio');
    nonNegativeNumber(hedge.burst, 'hedge.burst');
    fraction(hedge.quantile, 'hedge.quantile', { open: true });
    if (hedge.segments !== undefined && (!Array.isArray(hedge.segments) || hedge.segments.some((s) => !segments.has(s as string)))) {
      throw new InvalidRequestError('hedge.segments', 'must list segments: realtime, interactive, batch');
    }
  }
  const stats = section(options.stats, 'stats');
  if (stats) {
    nonNegativeNumber(stats.halfLifeMs, 'stats.halfLifeMs', { positive: true });
    nonNegativeNumber(stats.minSamples, 'stats.minSamples', { integer: true, positive: true });
    const circuit = section(stats.circuit, 'stats.circuit');
    if (circuit) {
      for (const key of ['consecutiveFailures', 'windowSize', 'minCalls']) nonNegativeNumber(circuit[key], `stats.circuit.${key}`, { integer: true, positive: true });
      fraction(circuit.failureRatio, 'stats.circuit.failureRatio');
      for (const key of ['cooldownMs', 'maxCooldownMs']) nonNegativeNumber(circuit[key], `stats.circuit.${key}`);
    }
  }
  const jobs = section(options.jobs, 'jobs');
  if (jobs) {
    nonNegativeNumber(jobs.pollIntervalMs, 'jobs.pollIntervalMs', { positive: true });
    nonNegativeNumber(jobs.maxPollIntervalMs, 'jobs.maxPollIntervalMs', { positive: true });
    nonNegativeNumber(jobs.onlineConcurrency, 'jobs.onlineConcurrency', { integer: true, positive: true });
    nonNegativeNumber(jobs.coalesceMs, 'jobs.coalesceMs');
    nonNegativeNumber(jobs.maxCoalescedItems, 'jobs.maxCoalescedItems', { integer: true, positive: true });
  }
  const idle = section(options.idleMs, 'idleMs');
  if (idle) {
    for (const [segment, value] of Object.entries(idle)) {
      if (!segments.has(segment)) throw new InvalidRequestError(`idleMs.${segment}`, 'is not a segment (realtime, interactive, batch)');
      nonNegativeNumber(value, `idleMs.${segment}`, { positive: true });
    }
  }
  if (options.microBatch !== undefined && options.microBatch !== false) validateMicroBatch(options.microBatch, 'microBatch');
  nonNegativeNumber(options.planCacheMs, 'planCacheMs');
  nonNegativeNumber(options.availabilityTimeoutMs, 'availabilityTimeoutMs', { positive: true });
  if (options.runtime !== undefined && options.runtime !== 'server' && options.runtime !== 'serverless' && options.runtime !== 'browser') {
    throw new InvalidRequestError('runtime', `must be 'server', 'serverless' or 'browser'; got ${describe(options.runtime)}`);
  }
  validateStore(options.store, 'store');
  const clock = options.clock;
  if (clock !== undefined && !(isObject(clock) && ['now', 'setTimeout', 'clearTimeout'].every((name) => typeof clock[name] === 'function'))) {
    throw new InvalidRequestError('clock', 'must have now, setTimeout and clearTimeout');
  }
}

/**
 * `jobs.submit`: the items (one operation per job, inferred from the first item when not given)
 * and the options. Checks every item as `generate` or `embed` would check the same call, so a
 * bad item fails here, before anything is stored or uploaded. Returns the job's operation.
 */
export function validateJobSubmit(items: unknown, options: JobSubmitOptions): JobOperation {
  if (!isObject(options)) throw new InvalidRequestError('options', 'must be an object');
  const operation = options.operation;
  if (operation !== undefined && operation !== 'text' && operation !== 'embedding') {
    throw new InvalidRequestError('operation', `must be 'text' or 'embedding'; got ${describe(operation)}`);
  }
  if (options.target !== undefined && (typeof options.target !== 'string' || options.target === '')) throw new InvalidRequestError('target', `must be a target id; got ${describe(options.target)}`);
  if (options.completionWindow !== undefined && typeof options.completionWindow !== 'string') {
    throw new InvalidRequestError('completionWindow', `must look like '24h', '30m', '7d' or '90s'; got ${describe(options.completionWindow)}`);
  }
  validateJobMetadata(options.metadata);
  if (!Array.isArray(items) || items.length === 0) throw new InvalidRequestError('items', `must be a non-empty array; got ${Array.isArray(items) ? 'an empty array' : describe(items)}`);
  const ids = new Set<string>();
  let inferred: JobOperation | undefined = operation;
  for (let index = 0; index < items.length; index++) {
    const item: unknown = items[index];
    const field = `items[${index}]`;
    if (!isObject(item)) throw new InvalidRequestError(field, `must be an object; got ${describe(item)}`);
    const { id } = item as Partial<JobItem>;
    if (typeof id !== 'string' || id.length === 0) throw new InvalidRequestError(`${field}.id`, `must be a non-empty string; got ${describe(id)}`);
    if (ids.has(id)) throw new InvalidRequestError(`${field}.id`, `duplicates an earlier item's id ('${id}')`);
    ids.add(id);
    const kind: JobOperation = item.input !== undefined ? 'embedding' : 'text';
    inferred ??= kind;
    if (kind !== inferred) throw new InvalidRequestError(field, `is ${kind === 'text' ? 'a text' : 'an embedding'} item in ${inferred === 'text' ? 'a text' : 'an embedding'} job; one job holds one operation`);
    if (kind === 'embedding') {
      if (typeof item.input !== 'string') throw new InvalidRequestError(`${field}.input`, `must be a string; got ${describe(item.input)}`);
      nonNegativeNumber(item.dimensions, `${field}.dimensions`, { integer: true, positive: true });
    } else validateJobTextItem(item as Partial<JobItem>, field);
  }
  return inferred!;
}

function validateJobTextItem(item: Partial<JobItem>, field: string): void {
  validateText(item, `${field}.`);
  validateSampling(item, `${field}.`);
  validateProviderOptions(item.providerOptions, `${field}.providerOptions`);
}

function validateJobMetadata(metadata: unknown): void {
  if (metadata === undefined) return;
  if (!isObject(metadata)) throw new InvalidRequestError('metadata', `must be an object of string values; got ${describe(metadata)}`);
  const entries = Object.entries(metadata);
  // OpenAI allows 16 metadata pairs per batch, keys up to 64 characters and values up to 512; two pairs carry the job id and part.
  if (entries.length > 14) throw new InvalidRequestError('metadata', `holds at most 14 pairs (the provider allows 16; inferlane uses 2); got ${entries.length}`);
  for (const [key, value] of entries) {
    if (key.startsWith('inferlane_')) throw new InvalidRequestError(`metadata.${key}`, "keys starting with 'inferlane_' are reserved");
    if (key.length > 64) throw new InvalidRequestError(`metadata.${key.slice(0, 20)}…`, `keys hold at most 64 characters; this one has ${key.length}`);
    if (typeof value !== 'string') throw new InvalidRequestError(`metadata.${key}`, `must be a string; got ${describe(value)}`);
    if (value.length > 512) throw new InvalidRequestError(`metadata.${key}`, `holds at most 512 characters; got ${value.length}`);
  }
}

/** `jobs.wait`: poll intervals must be positive (a NaN or zero interval would poll without pause). */
export function validateJobWait(options: JobWaitOptions): void {
  if (!isObject(options)) throw new InvalidRequestError('options', 'must be an object');
  nonNegativeNumber(options.pollIntervalMs, 'pollIntervalMs', { positive: true });
  nonNegativeNumber(options.maxPollIntervalMs, 'maxPollIntervalMs', { positive: true });
  if (options.onProgress !== undefined && typeof options.onProgress !== 'function') throw new InvalidRequestError('onProgress', 'must be a function');
}

function validateStore(store: unknown, field: string): void {
  if (store !== undefined && !(isObject(store) && ['get', 'set', 'compareAndSet', 'delete', 'append', 'range', 'list'].every((name) => typeof store[name] === 'function'))) {
    throw new InvalidRequestError(field, 'must implement the KeyValueStore contract (get, set, compareAndSet, delete, append, range, list)');
  }
}

/** `client.conversation(id, options)`: checked when the handle is made, before any turn is paid for. */
export function validateConversation(id: unknown, options: ConversationOptions): void {
  if (typeof id !== 'string' || id.length === 0) throw new InvalidRequestError('id', `a conversation id is a non-empty string; got ${describe(id)}`);
  if (!isObject(options)) throw new InvalidRequestError('options', 'must be an object');
  if (options.system !== undefined && typeof options.system !== 'string') throw new InvalidRequestError('system', `must be a string; got ${describe(options.system)}`);
  validateStore(options.store, 'store');
  const tokenizer: unknown = options.tokenizer;
  if (tokenizer !== undefined && tokenizer !== 'estimate' && tokenizer !== 'gpt-tokenizer' && typeof tokenizer !== 'function' && !(isObject(tokenizer) && typeof tokenizer.count === 'function' && typeof tokenizer.name === 'string')) {
    throw new InvalidRequestError('tokenizer', `expected 'estimate', 'gpt-tokenizer', a function or { name, count }; got ${describe(tokenizer)}`);
  }
  if (options.fit !== undefined && options.fit !== 'drop-oldest' && options.fit !== 'error' && options.fit !== 'summarize') {
    throw new InvalidRequestError('fit', `expected 'drop-oldest', 'error' or 'summarize'; got ${describe(options.fit)}`);
  }
  if (options.summarize !== undefined && typeof options.summarize !== 'function') throw new InvalidRequestError('summarize', 'must be a function');
  nonNegativeNumber(options.reserveOutputTokens, 'reserveOutputTokens', { integer: true });
  nonNegativeNumber(options.ttlMs, 'ttlMs', { positive: true });
  nonNegativeNumber(options.maxWriteAttempts, 'maxWriteAttempts', { integer: true, positive: true });
}
