/**
 * Maps every failure of the Hugging Face client onto inferlane's error classes, in one place
 * (STYLE.md rule 8). Failures with an HTTP response are mapped by status (`errorForStatus`, the
 * provider kit's one rule); failures without one (connection refused or reset, DNS) become
 * `NetworkError`; aborts keep the reason the executor gave the signal (a deadline, a losing hedge)
 * or become `AbortedError`.
 *
 * The client's HTTP errors do not carry response headers, so the adapter wraps `fetch` and hands
 * the last response it saw (`ObservedExchange`) to this function, which reads `retry-after` there.
 */
import {
  InferenceClientHubApiError,
  InferenceClientInputError,
  InferenceClientProviderApiError,
  InferenceClientProviderOutputError,
  InferenceClientRoutingError,
} from '@huggingface/inference';
import {
  AbortedError,
  errorForStatus,
  InferlaneError,
  isAbortError,
  isNetworkFailure,
  NetworkError,
  networkFailureCode,
  ProviderError,
  providerText,
  retryAfterMs,
} from '../../src/provider.js';

/** What the adapter's fetch wrapper saw during one call. */
export interface ObservedExchange {
  /** The last HTTP response, when one arrived. */
  response?: Response;
  /** The last error `fetch` itself threw (no response at all). */
  fetchError?: unknown;
}

export interface MapErrorContext {
  /** The target id, carried on the error. */
  target: string;
  /** The signal of the call: when it fired, its reason wins over whatever the client threw. */
  signal?: AbortSignal;
  observed?: ObservedExchange;
  /** Time source for HTTP-date `retry-after` values, ms since epoch. @default Date.now */
  now?: () => number;
}

/** Longest provider message kept in our error text, characters. */
const maxDetailLength = 200;

/**
 * Converts anything the Hugging Face client (or our fetch) threw into an `InferlaneError`.
 * Never includes the access token or a request body.
 */
export function mapHuggingFaceError(error: unknown, context: MapErrorContext): InferlaneError {
  const { target, signal, observed } = context;
  if (signal?.aborted) {
    if (InferlaneError.isInstance(signal.reason)) return signal.reason;
    return new AbortedError(undefined, { target, cause: error });
  }
  if (InferlaneError.isInstance(error)) return error;
  if (isAbortError(error)) return new AbortedError(undefined, { target, cause: error });

  if (error instanceof InferenceClientProviderApiError || error instanceof InferenceClientHubApiError) {
    const status = error.httpResponse.status;
    const source = error instanceof InferenceClientHubApiError ? 'the Hugging Face Hub' : 'the provider';
    return fromStatus(status, source, describe(error.httpResponse.body, error.message), error, context);
  }
  if (error instanceof InferenceClientInputError || error instanceof InferenceClientRoutingError) {
    // A target misconfiguration (model, provider, token kind): this target cannot serve the call,
    // another one may, so it is a provider error rather than the caller's invalid request.
    return new ProviderError(`${target} is misconfigured: ${clip(error.message)}`, { target, retryable: false, cause: error });
  }
  if (error instanceof InferenceClientProviderOutputError) {
    return new ProviderError(`${target} returned a malformed response: ${clip(error.message)}`, {
      target,
      retryable: false,
      cause: error,
    });
  }
  if (observed?.fetchError !== undefined && error === observed.fetchError) {
    return new NetworkError(`${target} could not be reached: ${clip(networkReason(error))}`, { target, cause: error });
  }
  if (isNetworkFailure(error)) {
    // The body broke off after the headers arrived (reset, truncated stream).
    return new NetworkError(`the connection to ${target} failed: ${clip(networkReason(error))}`, { target, cause: error });
  }
  if (error instanceof SyntaxError) {
    return new ProviderError(`${target} sent a response that is not valid JSON`, { target, retryable: true, cause: error });
  }
  const message = error instanceof Error ? error.message : String(error);
  return new ProviderError(`${target} failed: ${clip(message)}`, { target, retryable: false, cause: error });
}

function fromStatus(status: number, source: string, detail: string, cause: unknown, context: MapErrorContext): InferlaneError {
  const { target } = context;
  const headers = context.observed?.response?.status === status ? context.observed.response.headers : undefined;
  const retryAfter = parseRetryAfter(headers, context.now ?? Date.now) ?? estimatedLoadingMs(cause);
  if (status === 200) {
    // An error event inside a stream that had started: the provider failed mid-answer.
    return new ProviderError(`${target} failed while streaming: ${detail}`, { target, status, retryable: true, cause });
  }
  let message: string;
  if (status === 401 || status === 403) {
    message = `${target}: ${status === 401 ? 'the access token was refused' : 'the access token may not use this model'} (HTTP ${status}); check accessToken or HF_TOKEN`;
  } else if (status === 429) {
    message = `${target}: ${source} is rate limiting (HTTP 429): ${detail}`;
  } else {
    // 503 is also HF's "model loading": retryable, with the wait HF estimated.
    message = `${target}: ${source} answered HTTP ${status}${status === 503 ? ' (the model may be loading)' : ''}: ${detail}`;
  }
  return errorForStatus(status, { target, message, retryAfterMs: retryAfter, cause });
}

/** Retry-After parsing lives in one place for every adapter: see `retryAfterMs` in the provider kit. */
export const parseRetryAfter = retryAfterMs;

/** HF's 503 "model is loading" body carries `estimated_time` in seconds. */
function estimatedLoadingMs(error: unknown): number | undefined {
  const body = (error as { httpResponse?: { body?: unknown } }).httpResponse?.body;
  if (typeof body !== 'object' || body === null) return undefined;
  const seconds = (body as { estimated_time?: unknown }).estimated_time;
  return typeof seconds === 'number' && Number.isFinite(seconds) && seconds >= 0 ? seconds * 1000 : undefined;
}

/** The provider's own words when it sent some, else the client's message. */
function describe(body: unknown, fallback: string): string {
  if (typeof body === 'string' && body.trim() !== '') return clip(body);
  if (typeof body === 'object' && body !== null) {
    const record = body as { error?: unknown; message?: unknown; detail?: unknown };
    const nested = typeof record.error === 'object' && record.error !== null ? (record.error as { message?: unknown }).message : undefined;
    for (const candidate of [record.error, nested, record.message, record.detail]) {
      if (typeof candidate === 'string' && candidate.trim() !== '') return clip(candidate);
    }
  }
  return clip(fallback.replace(/^Failed to perform inference: /, ''));
}

function clip(text: string): string {
  return providerText(text, maxDetailLength);
}

function networkReason(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const code = networkFailureCode(error.cause);
  return code ? `${error.message} (${code})` : error.message;
}
