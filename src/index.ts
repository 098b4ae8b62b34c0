/**
 * inferlane: one client API that sends every AI inference request to the place that fits it.
 * This entry is the full preset: `createClient` carries every feature (micro-batching, batch
 * jobs, conversations). `inferlane/core` is the lean client that carries only the features
 * passed to it. The core uses Web standards only; Node-only pieces live behind subpath exports.
 *
 * Every export is named (no `export *`), so nothing internal leaks into the public surface.
 */
export { createClient, InferlaneClient } from './client/preset.js';
export type { CoreClient } from './client/client.js';
export type { ClientOptions, CommonClientOptions, ClientEvents, ClientStreamPart, Explanation } from './client/options.js';
export type { BatchJobsOptions } from './client/features.js';

export {
  AbortedError,
  AllTargetsFailedError,
  AuthenticationError,
  ContextOverflowError,
  DeadlineExceededError,
  incompleteStreamError,
  InferlaneError,
  InvalidRequestError,
  isAbortError,
  isNetworkFailure,
  JobError,
  NetworkError,
  networkFailureCode,
  NoRouteError,
  ProviderError,
  QueueFullError,
  RateLimitedError,
  redact,
  retryAfterMs,
  StoreError,
  StreamInterruptedError,
  TargetUnavailableError,
  toInferlaneError,
} from './errors.js';
export type { AttemptRecord, ErrorCode, InferlaneErrorOptions, Rejection } from './errors.js';

export { cutAtStop, isNetworkTarget } from './target.js';
export type {
  Availability,
  BatchCapability,
  BatchContext,
  BatchCounts,
  BatchItem,
  BatchItemResult,
  BatchOperation,
  BatchStatus,
  BatchSubmitOptions,
  CallContext,
  EmbedCall,
  EmbedResult,
  FinishReason,
  GeneratedImage,
  ImageCall,
  ImageResult,
  KvGeometry,
  Message,
  MicroBatchSettings,
  Modality,
  ModelProgressEvent,
  PriceTable,
  PromptCacheSettings,
  ProviderBatch,
  Role,
  Segment,
  SpeechCall,
  SpeechResult,
  StreamPart,
  Target,
  TargetCost,
  TargetKind,
  TargetLimits,
  TextCall,
  TextResult,
  TranscribeCall,
  TranscribeResult,
  Usage,
  VideoCall,
  VideoResult,
} from './target.js';
export type {
  CommonOptions,
  ConversationHints,
  EmbedRequest,
  EmbedResponse,
  GenerateRequest,
  GenerateResult,
  ImageRequest,
  ImageResponse,
  Latency,
  Operation,
  PreparedConversation,
  Privacy,
  Route,
  SpeechRequest,
  SpeechResponse,
  StreamRequest,
  TranscribeRequest,
  TranscribeResponse,
} from './types.js';

export { Conversation } from './conversation/conversation.js';
export type { ConversationAffinity, ConversationMessage, ConversationRecord, ConversationUsage, SendOptions, UsageTotals } from './conversation/conversation.js';
export type { ConversationOptions, Summarizer } from './conversation/options.js';
export type { FitMode } from './conversation/fit.js';
export type { TokenizerOption } from './conversation/tokens.js';
export type { Jobs, JobsSettings } from './batching/jobs/index.js';
export type {
  JobHandle,
  JobInfo,
  JobItem,
  JobOperation,
  JobPartInfo,
  JobProgressEvent,
  JobResult,
  JobResultsOptions,
  JobStatus,
  JobSubmitOptions,
  JobWaitOptions,
} from './batching/jobs/index.js';

export { memoryStore } from './stores/memory.js';
export type { KeyValueStore, StoreEntry, SetOptions } from './stores/store.js';
export { resolveLatency } from './router/segments.js';
export { plan, explainPlan } from './router/plan.js';
export type { Plan, Candidate, PlanRejection, PlanRequest, RejectionCode } from './router/types.js';
export { estimateTokens } from './tokens.js';
export { RealtimeSession, realtimeSession, decodeWav, wavFromPcm16 } from './realtime/index.js';
export type {
  CascadeOptions,
  RealtimeHost,
  RealtimePath,
  RealtimeResponseStatus,
  RealtimeRoute,
  RealtimeSessionEvent,
  RealtimeSessionOptions,
  RealtimeSessionTool,
  RealtimeStage,
  VadSettings,
} from './realtime/index.js';
