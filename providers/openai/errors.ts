/**
 * The one place where OpenAI client failures become inferlane errors (STYLE.md rule 8).
 *
 * HTTP failures are classed by status (`errorForStatus`, the kit's one rule); failures without a
 * response (connect, reset, DNS, timeout) are kept apart as `NetworkError`, and aborts become
 * `AbortedError` so the executor can tell a deadline from a caller abort by looking at its own
 * signals. Messages carry the target id, the status and the provider's own words passed through
 * `providerText` (redacted, clipped): never the API key, never the request body.
 */
import { APIConnectionError, APIError, APIUserAbortError } from 'openai';
import {
  AbortedError,
  errorForStatus,
  InferlaneError,
  isAbortError,
  isAuthenticationStatus,
  isNetworkFailure,
  NetworkError,
  networkFailureCode,
  ProviderError,
  providerText,
  retryAfterMs,
} from '../../src/provider.js';

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
  return new ProviderError(`${target} failed: ${providerText(message)}`, { target, cause: error, retryable: false });
}

function mapStatusError(error: APIError, options: MapErrorOptions): InferlaneError {
  const { target } = options;
  const status = typeof error.status === 'number' ? error.status : undefined;
  const words = providerText(providerWords(error));
  if (status === undefined) {
    // An error event inside an SSE stream: the provider failed mid-answer, worth another try.
    return new ProviderError(`${target} reported an error mid-stream: ${words}`, { target, cause: error, retryable: true });
  }
  const message = `${target} answered ${status}: ${words}`;
  return errorForStatus(status, {
    target,
    message: isAuthenticationStatus(status) ? `${message} (check the apiKey, organization and project)` : message,
    retryAfterMs: retryAfterMs(error.headers, options.now ?? Date.now),
    cause: error,
  });
}

/** Retry-After parsing lives in one place for every adapter: see `retryAfterMs` in the provider kit. */
export const parseRetryAfter = retryAfterMs;

/**
 * The provider's own sentence, without openai-node's status prefix. OpenAI's envelope
 * (`{ error: { message } }`, or `{ error: "..." }`) first; else the other shapes servers send: RFC
 * 9457 problem+json (`title`, `detail`), FastAPI's `{ detail }` (a string, or a list of `{ loc,
 * msg }` whose `input` echoes the request and is left out), `{ message }`.
 */
function providerWords(error: APIError): string {
  const inner = error.error as { message?: unknown } | string | undefined;
  if (typeof inner === 'string' && inner.trim() !== '') return inner;
  if (inner && typeof inner === 'object' && typeof inner.message === 'string') return inner.message;
  const body = (error as { body?: unknown }).body;
  if (body !== null && typeof body === 'object') {
    const words = bodyWords(body as Record<string, unknown>);
    if (words) return words;
  }
  return error.message.replace(/^\d{3}\s+/, '') || 'no message';
}

function bodyWords(body: Record<string, unknown>): string | undefined {
  const { title, detail, message } = body;
  if (Array.isArray(detail)) {
    const items = detail
      .map((item) => {
        if (typeof item === 'string') return item;
        const { loc, msg } = (item ?? {}) as { loc?: unknown; msg?: unknown };
        if (typeof msg !== 'string') return undefined;
        return Array.isArray(loc) ? `${loc.join('.')}: ${msg}` : msg;
      })
      .filter((item): item is string => item !== undefined);
    if (items.length > 0) return items.join('; ');
  }
  const parts = [title, detail, message].filter((part): part is string => typeof part === 'string' && part.trim() !== '');
  return parts.length > 0 ? parts.join(': ') : undefined;
}

function isNamed(error: unknown, ...names: string[]): boolean {
  return typeof error === 'object' && error !== null && names.includes((error as { name?: string }).name ?? '');
}

/** The deepest socket code in the cause chain, e.g. " (ECONNREFUSED)". */
function describeCause(error: unknown): string {
  const code = networkFailureCode(error);
  return code ? ` (${code})` : '';
}
