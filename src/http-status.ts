/**
 * What an HTTP status says, written once (DESIGN.md section 14, STYLE.md rules 8 and 9). The
 * adapters' error mapping (`errorForStatus` in errors.ts), the retry policy, the circuit breaker
 * and the micro-batcher's bisection all ask these questions of a status; before, each kept its
 * own table, and the five tables had begun to disagree.
 *
 * Owns: the status facts. Imports: nothing (floor 1).
 */

/** 401 and 403: the credentials were refused; no retry helps, and the target is unusable until they change. */
export function isAuthenticationStatus(status: number): boolean {
  return status === 401 || status === 403;
}

/**
 * 408, 409, 429 and 5xx: the same request may succeed when tried again (openai-node's policy;
 * 503 is also Hugging Face's "model loading").
 */
export function isRetryableStatus(status: number): boolean {
  return status === 408 || status === 409 || status === 429 || status >= 500;
}

/**
 * 400, 413 and 422: the request itself is wrong (malformed, too large, unprocessable), so another
 * target given the same request would refuse it too. 404 is not one: a model one server lacks,
 * another may have.
 */
export function isRequestFaultStatus(status: number): boolean {
  return status === 400 || status === 413 || status === 422;
}

/**
 * Whether an answer with this status counts against the target's health (its circuit). A 4xx
 * about the request (400, 404, 413, 422...) says nothing about the target; auth failures,
 * timeouts, conflicts, rate limits and 5xx do. Statuses below 400 are not failures.
 */
export function countsAgainstTarget(status: number): boolean {
  if (status < 400) return false;
  if (status >= 500) return true;
  return isAuthenticationStatus(status) || isRetryableStatus(status);
}

/**
 * Whether a failed multi-item request (a micro-batch) may owe its failure to one item: a final 4xx
 * that is not about the whole request's credentials (401, 403) or address (404), which fail every
 * item alike. Bisecting the batch finds the items at fault.
 */
export function isItemFaultStatus(status: number): boolean {
  return status >= 400 && status < 500 && !isAuthenticationStatus(status) && status !== 404 && !isRetryableStatus(status);
}
