/**
 * `inferlane/provider`: the provider kit. Everything an adapter needs, and nothing else of the
 * core: the Target contract (src/target.ts), the error classes and the one status-to-error rule,
 * the helpers every wire format needs (usage merging, finish reasons, stop sequences, a stream cut
 * short, network failures, retry-after, redaction) and runtime detection.
 *
 * The adapters under `providers/` import this path only, as a third party's adapter would
 * (`import { errorForStatus, type Target } from 'inferlane/provider'`); a test walks their imports.
 * How to write one: docs/providers/writing-an-adapter.md. How to check one: `targetContract` in
 * `inferlane/testing`.
 *
 * Imports: target.ts, errors.ts, http-status.ts, runtime.ts (all floor 1); re-exports only.
 */
export type * from './target.js';
export { cutAtStop, finishReasonOf, isNetworkTarget, mergeUsage, wavFromPcm16 } from './target.js';

export {
  AbortedError,
  AuthenticationError,
  ContextOverflowError,
  DeadlineExceededError,
  InferlaneError,
  InvalidRequestError,
  NetworkError,
  ProviderError,
  RateLimitedError,
  TargetUnavailableError,
  abortedCallError,
  errorForStatus,
  incompleteStreamError,
  isAbortError,
  isNetworkFailure,
  networkFailureCode,
  providerText,
  redact,
  retryAfterMs,
  toInferlaneError,
} from './errors.js';
export type { ErrorCode, InferlaneErrorOptions, StatusErrorOptions } from './errors.js';

export { countsAgainstTarget, isAuthenticationStatus, isItemFaultStatus, isRequestFaultStatus, isRetryableStatus } from './http-status.js';

export { detectRuntime, environmentVariable, isBrowserLike } from './runtime.js';
export type { Runtime } from './runtime.js';
