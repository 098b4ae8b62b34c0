/**
 * Validation of the client's calls and settings: bad input gets an InvalidRequestError that names
 * the field; nothing invalid reaches a provider. Serves the client only: each other area checks its
 * own options (conversations, jobs, the micro-batcher, the retry policy, stats) with the
 * primitives of src/validation.
 *
 * Imports: errors, target and types (types), validation primitives, and the option checks of the
 * areas whose settings the client takes (execute/retry-policy, stats, batching validation files).
 */
import { InvalidRequestError } from './errors.js';
import { validateMicroBatchSettings } from './batching/micro-batch-validation.js';
import { validateRetrySettings } from './execute/retry-policy.js';
import { validateStatsOptions } from './stats/stats.js';
import type { Message, Target } from './target.js';
import type { CommonOptions, EmbedRequest, GenerateRequest, ImageRequest, SpeechRequest, StreamRequest, TranscribeRequest } from './types.js';
import { describe, fraction, implementsMethods, isObject, nonNegativeNumber, optionalText, section, validateStore } from './validation/checks.js';
import { validateProviderOptions, validateSampling, validateText } from './validation/text-call.js';

const operationMethods = ['doGenerate', 'doStream', 'doGenerateMany', 'doEmbed', 'doImage', 'doTranscribe', 'doSpeech', 'doVideo'] as const;
const targetKinds = new Set(['device', 'realtime', 'cloud', 'batch']);
const modalities = new Set(['text', 'embedding', 'image', 'transcription', 'speech', 'video']);

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
  if (target.microBatch !== undefined) validateMicroBatchSettings(target.microBatch, `${field}.microBatch`);
}

const segments = new Set(['realtime', 'interactive', 'batch']);

/**
 * Checks createClient's settings other than its targets (`validateTargets`) and its features
 * (each checks its own): every number a timer, a retry or a breaker depends on (a NaN idle limit
 * would spin a timer every millisecond), and the names of segments and runtimes.
 */
export function validateClientOptions(options: Record<string, unknown>): void {
  validateRetrySettings(options.retry, 'retry');
  const hedge = section(options.hedge, 'hedge');
  if (hedge) {
    fraction(hedge.ratio, 'hedge.ratio');
    nonNegativeNumber(hedge.burst, 'hedge.burst');
    fraction(hedge.quantile, 'hedge.quantile', { open: true });
    if (hedge.segments !== undefined && (!Array.isArray(hedge.segments) || hedge.segments.some((s) => !segments.has(s as string)))) {
      throw new InvalidRequestError('hedge.segments', 'must list segments: realtime, interactive, batch');
    }
  }
  validateStatsOptions(options.stats, 'stats');
  const idle = section(options.idleMs, 'idleMs');
  if (idle) {
    for (const [segment, value] of Object.entries(idle)) {
      if (!segments.has(segment)) throw new InvalidRequestError(`idleMs.${segment}`, 'is not a segment (realtime, interactive, batch)');
      nonNegativeNumber(value, `idleMs.${segment}`, { positive: true });
    }
  }
  nonNegativeNumber(options.planCacheMs, 'planCacheMs');
  nonNegativeNumber(options.availabilityTimeoutMs, 'availabilityTimeoutMs', { positive: true });
  if (options.runtime !== undefined && options.runtime !== 'server' && options.runtime !== 'serverless' && options.runtime !== 'browser') {
    throw new InvalidRequestError('runtime', `must be 'server', 'serverless' or 'browser'; got ${describe(options.runtime)}`);
  }
  validateStore(options.store, 'store');
  const clock = options.clock;
  if (clock !== undefined && !implementsMethods(clock, ['now', 'setTimeout', 'clearTimeout'])) {
    throw new InvalidRequestError('clock', 'must have now, setTimeout and clearTimeout');
  }
}
