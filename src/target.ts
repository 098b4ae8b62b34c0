/**
 * THE contract every provider implements. A target is one model at one place.
 *
 * Providers under `providers/<name>/` import this file and `errors.ts`, nothing else
 * of the core. `do*` methods are called by the executor (src/execute), never by users:
 * users call `client.generate`, `client.embed`...
 *
 * Owns: the contract's types and the small helpers every side shares (finish reasons, stop
 * sequences, merging usage reports, writing a WAV file). Imports: nothing.
 */

/** What a target can produce. */
export type Modality = 'text' | 'embedding' | 'image' | 'transcription' | 'speech' | 'video';

/** Where a target runs. `device` never touches the network; the others do. */
export type TargetKind = 'device' | 'realtime' | 'cloud' | 'batch';

/** `downloadable`: can run once weights are fetched or loaded; `unavailable`: cannot run here. */
export type Availability = 'available' | 'downloadable' | 'unavailable';

/** Latency segments, see DESIGN.md section 2. */
export type Segment = 'realtime' | 'interactive' | 'batch';

export type Role = 'system' | 'user' | 'assistant' | 'tool';

export interface Message {
  role: Role;
  content: string;
  /** Optional participant name, passed through to providers that take it. */
  name?: string;
}

export interface Usage {
  inputTokens?: number;
  outputTokens?: number;
  /** Input tokens the provider served from its prompt cache. */
  cachedInputTokens?: number;
  /** Input tokens written to a provider cache (breakpoint providers). */
  cacheWriteTokens?: number;
  totalTokens?: number;
  /** Of `outputTokens`, those the model spent reasoning before it answered (OpenAI `reasoning_tokens`). */
  reasoningTokens?: number;
  /** Seconds of audio processed or produced. */
  audioSeconds?: number;
  images?: number;
  /**
   * The processing tier that served the call, as the provider names it (OpenAI `service_tier`:
   * 'default', 'flex', 'priority', 'scale'). Prices differ per tier.
   */
  serviceTier?: string;
}

/**
 * Why the answer ended. `refusal`: the model declined to answer; the text (or the stream's text
 * deltas) is its refusal message, not an answer (OpenAI `message.refusal`).
 */
export type FinishReason = 'stop' | 'length' | 'content-filter' | 'tool-calls' | 'refusal' | 'error' | 'other';

/** One text-generation call, as the executor hands it to a target. */
export interface TextCall {
  messages: Message[];
  /** @default provider's own */
  maxOutputTokens?: number;
  temperature?: number;
  topP?: number;
  stop?: string[];
  seed?: number;
  /** Per-provider options, keyed by provider name, passed through untouched. */
  providerOptions?: Record<string, Record<string, unknown>>;
}

export interface TextResult {
  text: string;
  finishReason: FinishReason;
  usage?: Usage;
  /** The provider's model id as it answered. */
  modelId?: string;
  /** Which replica answered, when the target has several. */
  replica?: number;
}

/**
 * Stream parts: one tagged union, named noun-action (STYLE.md rule 6).
 * `resumed` is emitted only by the executor when a stream has continued on another target,
 * just before that target's first part (`offset`: characters said before the break).
 */
export type StreamPart =
  | { type: 'text-delta'; text: string }
  | { type: 'usage'; usage: Usage }
  | { type: 'finish'; finishReason: FinishReason; usage?: Usage }
  | { type: 'error'; error: unknown }
  | { type: 'resumed'; fromTarget: string; toTarget: string; offset: number; reason: string };

export interface EmbedResult {
  /** One vector per input, in input order. */
  embeddings: number[][];
  usage?: Usage;
}

export interface EmbedCall {
  inputs: string[];
  /** Requested dimensions, for models that take it. */
  dimensions?: number;
  providerOptions?: Record<string, Record<string, unknown>>;
}

export interface ImageCall {
  prompt: string;
  /** e.g. '1024x1024' */
  size?: string;
  /** @default 1 */
  n?: number;
  providerOptions?: Record<string, Record<string, unknown>>;
}

export interface GeneratedImage {
  /** Base64 without a data: prefix. */
  base64?: string;
  url?: string;
  mediaType?: string;
}

export interface ImageResult {
  images: GeneratedImage[];
  usage?: Usage;
}

export interface TranscribeCall {
  audio: Uint8Array;
  /** e.g. 'audio/wav' */
  mediaType?: string;
  language?: string;
  providerOptions?: Record<string, Record<string, unknown>>;
}

export interface TranscribeResult {
  text: string;
  language?: string;
  durationSeconds?: number;
  usage?: Usage;
}

export interface SpeechCall {
  text: string;
  voice?: string;
  /** e.g. 'mp3', 'wav' */
  format?: string;
  providerOptions?: Record<string, Record<string, unknown>>;
}

export interface SpeechResult {
  audio: Uint8Array;
  mediaType: string;
  usage?: Usage;
}

export interface VideoCall {
  prompt: string;
  durationSeconds?: number;
  providerOptions?: Record<string, Record<string, unknown>>;
}

export interface VideoResult {
  videos: { url?: string; base64?: string; mediaType?: string }[];
  usage?: Usage;
}

/** Events an adapter may report through `ctx.emit`. */
export interface ModelProgressEvent {
  target: string;
  /** e.g. 'initiate' | 'download' | 'progress' | 'done' | 'ready' */
  status: string;
  file?: string;
  loaded?: number;
  total?: number;
  /** 0..1 when known */
  progress?: number;
}

/**
 * Everything the executor gives an adapter for one attempt.
 */
export interface CallContext {
  /** Aborts when the deadline passes, the caller aborts, or a hedge wins elsewhere. */
  signal: AbortSignal;
  /** Absolute deadline, ms since epoch (as `Date.now()`). */
  deadline: number;
  /** A stable key for the provider's prompt cache (OpenAI `prompt_cache_key`). */
  promptCacheKey?: string;
  /**
   * Message indexes after which a cache breakpoint belongs (providers that take
   * explicit breakpoints). Already filtered for the target's minimum prefix.
   */
  cacheBreakpoints?: number[];
  /** The replica index to use when the target has `replicas`. */
  replica?: number;
  /**
   * The conversation this call belongs to, for runtimes that keep a conversation's evaluated
   * prefix between turns (a device KV cache, e.g. providers/llamacpp). Set for targets with `kv`.
   * `prefixHashes[i]` is the chained hash of `call.messages[0..i]` as sent to this target
   * (DESIGN.md section 8): a cache built from messages whose hashes are a prefix of these holds
   * exactly those messages; any edit or dropped turn changes every hash from there on.
   */
  conversation?: { id: string; prefixHashes: string[] };
  /** The segment this call runs under. */
  segment: Segment;
  /** Reports adapter events (e.g. `model-progress`) to the client's emitter. */
  emit(event: 'model-progress', payload: ModelProgressEvent): void;
}

/** Normalised life cycle of a provider batch. The provider's own word is kept as `rawStatus`. */
export type BatchStatus =
  | 'validating'
  | 'in_progress'
  | 'finalizing'
  | 'completed'
  | 'failed'
  | 'expired'
  | 'cancelling'
  | 'cancelled';

export interface BatchCounts {
  total: number;
  completed: number;
  failed: number;
}

export type BatchOperation = 'text' | 'embedding';

/** One line of a provider batch. */
export interface BatchItem {
  /** Unique within a provider batch; results are matched by it, never by order. */
  customId: string;
  operation: BatchOperation;
  /** For `text`. */
  call?: TextCall;
  /** For `embedding`: one input per item. */
  input?: string;
  /** For `embedding`: the vector width, when the caller chose one. */
  dimensions?: number;
}

export interface ProviderBatch {
  id: string;
  status: BatchStatus;
  rawStatus: string;
  counts: BatchCounts;
  inputFileId?: string;
  outputFileId?: string;
  errorFileId?: string;
  /** ms since epoch */
  createdAt?: number;
  /** ms since epoch */
  expiresAt?: number;
  metadata?: Record<string, string>;
  /** Why the provider refused or failed the batch as a whole (OpenAI `errors.data`), in its words. */
  errors?: BatchError[];
  /** Tokens the whole batch used, when the provider reports it. */
  usage?: Usage;
}

/** One reason a provider gave for failing a batch; `line` is the 1-based line of the input file it is about. */
export interface BatchError {
  code: string;
  message: string;
  line?: number;
  param?: string;
}

export type BatchItemResult =
  | { customId: string; ok: true; text?: TextResult; embedding?: number[]; usage?: Usage }
  | { customId: string; ok: false; error: { code: string; message: string; status?: number; line?: number } };

export interface BatchSubmitOptions {
  operation: BatchOperation;
  /** Carried on the provider batch; must include `inferlane_job_id`. At most 16 pairs. */
  metadata: Record<string, string>;
  /** e.g. '24h' */
  completionWindow?: string;
}

/** A provider's deferred batch endpoint. Batch is a capability, not a flag (STYLE.md rule 5). */
export interface BatchCapability {
  /** Lines per provider batch. @default 50_000 for OpenAI */
  maxItems: number;
  /** Bytes per uploaded file. @default 200 MB for OpenAI */
  maxBytes: number;
  /** Total embedding inputs per batch. */
  maxEmbeddingInputs?: number;
  /** Price multiplier for batch work, e.g. 0.5. */
  priceMultiplier?: number;
  /** Bytes of one item as it will be uploaded (for packing). */
  itemBytes(item: BatchItem): number;
  submit(items: BatchItem[], options: BatchSubmitOptions, ctx: BatchContext): Promise<ProviderBatch>;
  /** Find provider batches by a metadata pair (reconciliation after a crash). */
  findByMetadata(key: string, value: string, ctx: BatchContext): Promise<ProviderBatch[]>;
  status(id: string, ctx: BatchContext): Promise<ProviderBatch>;
  /** Per-item results from both the output and the error file, in any order. */
  results(batch: ProviderBatch, ctx: BatchContext): AsyncIterable<BatchItemResult>;
  cancel(id: string, ctx: BatchContext): Promise<ProviderBatch>;
}

export interface BatchContext {
  signal: AbortSignal;
  /**
   * `submit` only. An adapter calls it after everything that can be undone (the file upload) and
   * right before the step that cannot (creating the provider batch); when it rejects, the adapter
   * stops with that error and creates nothing. The jobs layer checks here that its claim on the
   * part is still live: a worker paused past its lease must not create a second batch.
   */
  beforeCreate?(): Promise<void>;
}

/** Micro-batching settings a target may declare (DESIGN.md section 6). */
export interface MicroBatchSettings {
  /** Items per provider request. */
  maxBatchSize?: number;
  /** Estimated tokens per provider request. */
  maxBatchTokens?: number;
  /** Longest wait for more items, ms. */
  maxWaitMs?: number;
  /** Provider requests in flight at once for this target. */
  concurrency?: number;
  /** Items waiting, at most. */
  maxQueue?: number;
  /**
   * What a call does when the queue is full: `wait` for room (bounded by its own deadline, so a
   * burst is admitted as batches drain) or `reject` at once with QUEUE_FULL. @default 'wait'
   */
  whenFull?: 'wait' | 'reject';
}

export interface TargetLimits {
  /** Context window in tokens. */
  contextTokens?: number;
  /** Inputs per embedding request (OpenAI: 2,048). */
  maxBatchSize?: number;
  /** Tokens per embedding request (OpenAI: 300,000). */
  maxBatchTokens?: number;
  /** Tokens per single input (OpenAI embeddings: 8,192). */
  maxInputTokens?: number;
}

/**
 * Prices in US dollars. Tokens per million: `inputTokens` counts every prompt token, those read
 * from (`cachedInputTokens`) and written to (`cacheWriteTokens`) a provider cache included, and
 * each kind is priced at its own rate (cached and written default to the input price).
 */
export interface PriceTable {
  inputPerMTok?: number;
  cachedInputPerMTok?: number;
  cacheWritePerMTok?: number;
  outputPerMTok?: number;
  perImage?: number;
  perSecondAudio?: number;
  perRequest?: number;
}

/** A target's prices; `byModality` for a target whose models are priced differently per modality. */
export interface TargetCost extends PriceTable {
  /**
   * Prices that replace the ones above for one modality's calls, e.g. an OpenAI target whose chat,
   * embedding and image models each have their own price list.
   */
  byModality?: Partial<Record<Modality, PriceTable>>;
}

/** Device KV-cache geometry; bytes per token = 2 x layers x kvHeads x headDim x bytesPerValue. */
export interface KvGeometry {
  layers: number;
  kvHeads: number;
  headDim: number;
  bytesPerValue: number;
  /** Memory the device may use for this model, bytes. */
  memoryBudgetBytes: number;
  /** Bytes of weights already resident. @default 0 */
  weightsBytes?: number;
  /** Sliding-window size, tokens, when layers use one. */
  slidingWindow?: number;
}

/** How the provider caches prompts. */
export interface PromptCacheSettings {
  /** `prefix`: automatic prefix caching (OpenAI, vLLM); `breakpoints`: explicit markers. */
  mode: 'prefix' | 'breakpoints';
  /** Below this prefix length nothing is cached. @default 1024 */
  minTokens?: number;
  /** Idle time before the cache is dropped, ms. @default 300_000 */
  ttlMs?: number;
  /** Whether the target sends `promptCacheKey`. */
  acceptsKey?: boolean;
}

/**
 * A speech-to-speech session endpoint (OpenAI's Realtime API and the like): one socket per
 * session, audio and text in, audio and transcript out. The session object of `client.realtime()`
 * (src/realtime) drives it with provider-neutral commands and reads provider-neutral events; the
 * adapter maps both onto its wire protocol. Realtime is a capability, not a flag (STYLE.md rule 5).
 */
export interface RealtimeCapability {
  /** Longest a session may run at the provider, ms (OpenAI: 60 minutes); the session closes itself then. */
  maxSessionMs: number;
  /** The PCM16 little-endian mono sample rate the connection sends and receives, Hz (OpenAI: 24,000). */
  sampleRate: number;
  /** Opens one session. Rejects (a typed error) when the endpoint refuses, or when `ctx.signal` aborts first. */
  connect(options: RealtimeConnectOptions, ctx: RealtimeContext): Promise<RealtimeConnection>;
}

/** A function the model may call inside a session (JSON Schema parameters, as OpenAI's tools). */
export interface RealtimeTool {
  name: string;
  description?: string;
  /** JSON Schema of the arguments. */
  parameters?: Record<string, unknown>;
}

/** One message of the history a connection starts with (a reconnect restores the conversation this way). */
export interface RealtimeHistoryItem {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

export interface RealtimeConnectOptions {
  instructions?: string;
  voice?: string;
  tools?: RealtimeTool[];
  /** `vad`: the provider detects speech and answers when it stops; `manual`: only on `commitAudio` + `createResponse`. */
  turnDetection: 'vad' | 'manual';
  /** Added to the provider's conversation before anything else is sent. */
  history?: RealtimeHistoryItem[];
  /** Receives every event of the connection, in order, until `closed`. */
  onEvent(event: RealtimeServerEvent): void;
}

export interface RealtimeContext {
  /** Aborts the connection attempt (the session's budget or its caller). */
  signal: AbortSignal;
}

/** Commands a session sends; the adapter maps each to its wire events. */
export type RealtimeCommand =
  | { type: 'append-audio'; audio: Uint8Array }
  | { type: 'commit-audio' }
  | { type: 'clear-audio' }
  | { type: 'add-text'; text: string }
  | { type: 'add-tool-output'; callId: string; output: string }
  | { type: 'create-response' }
  | { type: 'cancel-response' };

/** Events a connection reports, provider-neutral. Audio is PCM16 LE mono at the capability's `sampleRate`. */
export type RealtimeServerEvent =
  | { type: 'session-ready' }
  | { type: 'speech-started' }
  | { type: 'speech-stopped' }
  | { type: 'input-committed' }
  | { type: 'input-transcript'; text: string }
  | { type: 'response-started'; responseId: string }
  | { type: 'audio-delta'; responseId: string; audio: Uint8Array }
  | { type: 'transcript-delta'; responseId: string; text: string }
  | { type: 'tool-call'; responseId: string; callId: string; name: string; arguments: string }
  | { type: 'response-done'; responseId: string; status: 'completed' | 'cancelled' | 'failed' | 'incomplete'; usage?: Usage }
  | { type: 'error'; error: unknown; fatal: boolean }
  /** The socket closed. `expected`: by `close()`; else a drop (the session may reconnect) or the provider's session limit. */
  | { type: 'closed'; expected: boolean; code?: number; reason?: string; sessionExpired?: boolean };

export interface RealtimeConnection {
  send(command: RealtimeCommand): void;
  /** Closes the socket; resolves once it is gone (the last event is `closed`, `expected: true`). Idempotent. */
  close(): Promise<void>;
}

export interface Target {
  /** Unique in a client, e.g. 'openai:gpt-4.1-mini'. */
  id: string;
  kind: TargetKind;
  modalities: Modality[];
  /** Provider name used for `providerOptions`, e.g. 'openai'. */
  provider?: string;
  limits?: TargetLimits;
  cost?: TargetCost;
  /** Priors, replaced by measurements. */
  expected?: { ttftMs?: number; totalMs?: number };
  kv?: KvGeometry;
  cache?: PromptCacheSettings;
  /** Number of replicas behind this target (self-hosted). Replica affinity picks one per conversation. */
  replicas?: number;
  microBatch?: MicroBatchSettings;
  /** True when `doGenerateMany` can run several prompts in one pass (device runtimes). */
  batchedGeneration?: boolean;
  /**
   * True when every promise and stream step this target returns settles soon after `ctx.signal`
   * aborts (its HTTP client takes the signal and closes the request). The executor then skips
   * its own per-call and per-part guards, which otherwise make sure a deadline holds even against
   * an adapter that ignores the signal. Set it only when tests prove it (the built-in HTTP
   * adapters do). @default false
   */
  honoursAbort?: boolean;

  available?(signal: AbortSignal): Promise<Availability>;
  doGenerate?(call: TextCall, ctx: CallContext): Promise<TextResult>;
  doStream?(call: TextCall, ctx: CallContext): AsyncIterable<StreamPart>;
  /**
   * Several independent prompts in one pass; one result per call, in order. The micro-batcher
   * sends calls that share their generation settings (maxOutputTokens, temperature, topP, seed,
   * providerOptions); only `stop` and the messages differ within a pass.
   */
  doGenerateMany?(calls: TextCall[], ctx: CallContext): Promise<TextResult[]>;
  /** Batch-native: one vector per input, in order. */
  doEmbed?(call: EmbedCall, ctx: CallContext): Promise<EmbedResult>;
  doImage?(call: ImageCall, ctx: CallContext): Promise<ImageResult>;
  doTranscribe?(call: TranscribeCall, ctx: CallContext): Promise<TranscribeResult>;
  doSpeech?(call: SpeechCall, ctx: CallContext): Promise<SpeechResult>;
  doVideo?(call: VideoCall, ctx: CallContext): Promise<VideoResult>;
  batch?: BatchCapability;
  /** Speech-to-speech sessions (`client.realtime()`); a target with it needs no `do*` method. */
  realtime?: RealtimeCapability;
  /** Releases sockets, workers, model sessions. */
  close?(): Promise<void>;
}

/**
 * Two usage reports of one answer merged (a stream may report usage in several parts): the later
 * one's defined fields win. Neither argument is changed.
 */
export function mergeUsage(a: Usage | undefined, b: Usage | undefined): Usage | undefined {
  if (!b) return a;
  if (!a) return b; // never mutated: a later merge makes a new object
  const merged: Record<string, unknown> = { ...a };
  for (const key in b) {
    const value = (b as Record<string, unknown>)[key];
    if (value !== undefined) merged[key] = value;
  }
  return merged as Usage;
}

/**
 * An OpenAI-style `finish_reason` as a FinishReason, for adapters of OpenAI-compatible wire
 * formats: OpenAI's words plus those of TGI-backed servers (`eos_token`, `stop_sequence`).
 */
export function finishReasonOf(reason: string | null | undefined): FinishReason {
  switch (reason) {
    case 'stop':
    case 'eos_token':
    case 'stop_sequence':
      return 'stop';
    case 'length':
      return 'length';
    case 'content_filter':
      return 'content-filter';
    case 'tool_calls':
    case 'function_call':
      return 'tool-calls';
    default:
      return 'other';
  }
}

/**
 * Cuts `text` at the earliest of `TextCall.stop`'s sequences, for runtimes that cannot stop on
 * their own (device runtimes, the Prompt API). `stopped` says whether one was found.
 */
export function cutAtStop(text: string, stop: readonly string[] | undefined): { text: string; stopped: boolean } {
  let cut = -1;
  for (const sequence of stop ?? []) {
    const at = sequence ? text.indexOf(sequence) : -1;
    if (at >= 0 && (cut < 0 || at < cut)) cut = at;
  }
  return cut < 0 ? { text, stopped: false } : { text: text.slice(0, cut), stopped: true };
}

/**
 * A RIFF/WAVE file (PCM16 mono) holding `samples`: what speech adapters return and what
 * transcription calls take, shared by adapters and the core's voice sessions.
 */
export function wavFromPcm16(samples: Int16Array, sampleRate: number): Uint8Array {
  const dataBytes = samples.length * 2;
  const bytes = new Uint8Array(44 + dataBytes);
  const view = new DataView(bytes.buffer);
  const ascii = (offset: number, text: string) => {
    for (let index = 0; index < text.length; index++) view.setUint8(offset + index, text.charCodeAt(index));
  };
  ascii(0, 'RIFF');
  view.setUint32(4, 36 + dataBytes, true);
  ascii(8, 'WAVE');
  ascii(12, 'fmt ');
  view.setUint32(16, 16, true);
  view.setUint16(20, 1, true);
  view.setUint16(22, 1, true);
  view.setUint32(24, sampleRate, true);
  view.setUint32(28, sampleRate * 2, true);
  view.setUint16(32, 2, true);
  view.setUint16(34, 16, true);
  ascii(36, 'data');
  view.setUint32(40, dataBytes, true);
  for (let index = 0; index < samples.length; index++) view.setInt16(44 + index * 2, samples[index], true);
  return bytes;
}

/** Whether a target's work leaves the device. */
export function isNetworkTarget(target: Pick<Target, 'kind'>): boolean {
  return target.kind !== 'device';
}
