/**
 * The one place where OpenAI client failures become inferlane errors (STYLE.md rule 8).
 *
 * HTTP failures are classed by status; failures without a response (connect, reset, DNS,
 * timeout) are kept apart as `NetworkError`, and aborts become `AbortedError` so the
 * executor can tell a deadline from a caller abort by looking at its own signals.
 * Messages carry the target id, the status and the provider's own words passed through
 * `redact`: never the API key, never the request body.
 */
import { APIConnectionError, APIError, APIUserAbortError } from 'openai';
import {
  AbortedError,
  AuthenticationError,
  InferlaneError,
  NetworkError,
  ProviderError,
  RateLimitedError,
  isAbortError,
  isNetworkFailure,
  networkFailureCode,
  redact,
  retryAfterMs,
} from '../../src/errors.js';

/** Longest provider message we pass on, characters; provider bodies can be long. */
const maxDetailLength = 300;

export interface MapErrorOptions {
  /** The target id set on every error. */
  target: string;
  /** The attempt's signal: when it has fired, any failure is reported as an abort. */
  signal?: AbortSignal;
  /** @default Date.now */
  now?: () => number;
}

/**
 * Maps anything the OpenAI client (or fetch under it) throws onto our error classes.
 * Errors that are already inferlane errors pass through untouched.
 */
export function mapOpenAIError(error: unknown, options: MapErrorOptions): InferlaneError {
  const { target } = options;
  if (InferlaneError.isInstance(error)) return error;

  if (error instanceof APIUserAbortError || isAbortError(error) || options.signal?.aborted) {
    return new AbortedError(`the request to ${target} was aborted`, { target, cause: error });
  }

  // APIConnectionTimeoutError extends APIConnectionError: both mean no response arrived.
  if (error instanceof APIConnectionError || isNamed(error, 'APIConnectionError', 'APIConnectionTimeoutError')) {
    const timedOut = isNamed(error, 'APIConnectionTimeoutError');
    return new NetworkError(
      `${target} could not be reached${timedOut ? ' (timed out before the response)' : ''}${describeCause(error)}`,
      { target, cause: error },
    );
  }

  if (error instanceof APIError || isNamed(error, 'APIError')) {
    return mapStatusError(error as APIError, options);
  }

  if (isNetworkFailure(error)) {
    return new NetworkError(`the connection to ${target} failed${describeCause(error)}`, { target, cause: error });
  }

  if (error instanceof SyntaxError) {
    // A response (or one stream chunk) that is not JSON: the server misbehaved, another try may not.
    return new ProviderError(`${target} sent a response that is not valid JSON`, { target, cause: error, retryable: true });
  }

  const message = error instanceof Error ? error.message : String(error);
  return new ProviderError(`${target} failed: ${detail(message)}`, { target, cause: error, retryable: false });
}

function mapStatusError(error: APIError, options: MapErrorOptions): InferlaneError {
  const { target } = options;
  const status = typeof error.status === 'number' ? error.status : undefined;
  const providerMessage = detail(providerWords(error));
  const retryAfterMs = parseRetryAfter(error.headers, options.now ?? Date.now);

  if (status === undefined) {
    // An error event inside an SSE stream: the provider failed mid-answer, worth another try.
    return new ProviderError(`${target} reported an error mid-stream: ${providerMessage}`, {
      target,
      cause: error,
      retryable: true,
    });
  }
  const prefix = `${target} answered ${status}: ${providerMessage}`;
  if (status === 401 || status === 403) {
    return new AuthenticationError(`${prefix} (check the apiKey, organization and project)`, { target, status, cause: error });
  }
  if (status === 429) {
    return new RateLimitedError(prefix, { target, status, cause: error, retryAfterMs });
  }
  if (status === 408 || status === 409 || status >= 500) {
    return new ProviderError(prefix, { target, status, cause: error, retryable: true, retryAfterMs });
  }
  // 400, 404, 422 and any other 4xx: the same request will fail again.
  return new ProviderError(prefix, { target, status, cause: error, retryable: false });
}

/** Retry-After parsing lives in one place for every adapter: see `retryAfterMs` in src/errors.ts. */
export const parseRetryAfter = retryAfterMs;

/** The provider's own sentence, without openai-node's status prefix. */
function providerWords(error: APIError): string {
  const body = error.error as { message?: unknown } | undefined;
  if (body && typeof body.message === 'string') return body.message;
  return error.message.replace(/^\d{3}\s+/, '') || 'no message';
}

function detail(text: string): string {
  const clean = redact(text).replace(/\s+/g, ' ').trim();
  return clean.length > maxDetailLength ? `${clean.slice(0, maxDetailLength)}...` : clean;
}

function isNamed(error: unknown, ...names: string[]): boolean {
  return typeof error === 'object' && error !== null && names.includes((error as { name?: string }).name ?? '');
}

/** The deepest socket code in the cause chain, e.g. " (ECONNREFUSED)". */
function describeCause(error: unknown): string {
  const code = networkFailureCode(error);
  return code ? ` (${code})` : '';
}
