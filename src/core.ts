/**
 * inferlane/core: the lean client. `createClient` carries text (generate, stream), embeddings
 * (straight to the target's `doEmbed`), images, audio, `explain`, `flush` and `close`; each
 * feature beyond them is an option object imported from here and passed in `features`, so a
 * bundle carries only the features it uses:
 *
 *   createClient({ targets, features: [microBatching(), batchJobs(), conversations()] })
 *
 * The `inferlane` entry is the same client with every feature on. Every export is named.
 */
export { createClient, CoreClient } from './client/client.js';
export { microBatching } from './client/micro-batching.js';
export { batchJobs } from './client/batch-jobs.js';
export { conversations } from './client/conversations.js';
export { realtimeSession } from './realtime/session.js';
export type { RealtimeSessionOptions, RealtimeSessionEvent } from './realtime/types.js';
export type { BatchJobsOptions, ClientFeature, FeatureName } from './client/features.js';
export type { ClientEvents, ClientStreamPart, CommonClientOptions, CoreClientOptions, Explanation } from './client/options.js';

export {
  AbortedError,
  AllTargetsFailedError,
  AuthenticationError,
  ContextOverflowError,
  DeadlineExceededError,
  InferlaneError,
  InvalidRequestError,
  NetworkError,
  NoRouteError,
  ProviderError,
  QueueFullError,
  RateLimitedError,
  StoreError,
  StreamInterruptedError,
  TargetUnavailableError,
} from './errors.js';
export type { AttemptRecord, ErrorCode, Rejection } from './errors.js';
export type { Message, Modality, Segment, StreamPart, Target, TargetKind, TextCall, TextResult, Usage } from './target.js';
export type {
  CommonOptions,
  EmbedRequest,
  EmbedResponse,
  GenerateRequest,
  GenerateResult,
  ImageRequest,
  ImageResponse,
  Latency,
  Privacy,
  Route,
  SpeechRequest,
  SpeechResponse,
  StreamRequest,
  TranscribeRequest,
  TranscribeResponse,
} from './types.js';
export { memoryStore } from './stores/memory.js';
export type { KeyValueStore } from './stores/store.js';
export type { Plan, Candidate, PlanRejection, RejectionCode } from './router/types.js';
