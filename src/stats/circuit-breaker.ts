/**
 * One target's circuit breaker (DESIGN.md section 14).
 *
 * closed -> open after `consecutiveFailures` failures in a row, or when at least `failureRatio`
 * of the last `windowSize` calls failed (once `minCalls` calls are in the window), or at once on
 * an authentication failure (a wrong key does not heal by retrying).
 * open -> half-open when the cooldown ends. The cooldown starts at `cooldownMs`, doubles on each
 * failed probe up to `maxCooldownMs`, and stretches to a provider's Retry-After when that is longer.
 * half-open lets exactly ONE probe through (`tryAcquire`); its success closes the circuit, its
 * failure reopens it with a doubled cooldown.
 *
 * Time is always passed in; there are no timers.
 *
 * Imports: errors.ts.
 */
import type { InferlaneError } from '../errors.js';
import { countsAgainstTarget } from '../http-status.js';

export type CircuitState = 'closed' | 'open' | 'half-open';

export interface CircuitSettings {
  /** Failures in a row that open the circuit. @default 3 */
  consecutiveFailures?: number;
  /** Calls remembered for the failure ratio, at most 52. @default 20 */
  windowSize?: number;
  /** Calls the window must hold before the ratio can open the circuit. @default 10 */
  minCalls?: number;
  /** Share of failed calls in the window (0..1) that opens the circuit. @default 0.5 */
  failureRatio?: number;
  /** First cooldown after opening, ms. @default 5_000 */
  cooldownMs?: number;
  /** Longest cooldown after repeated failed probes, ms (a longer Retry-After still wins). @default 60_000 */
  maxCooldownMs?: number;
}

export interface CircuitSnapshot {
  state: CircuitState;
  consecutiveFailures: number;
  /** Calls in the window and how many of them failed. */
  recentCalls: number;
  recentFailures: number;
  /** When an open circuit turns half-open, ms since epoch. */
  openUntil?: number;
  /** The cooldown the next opening will use, ms. */
  cooldownMs: number;
  probeInFlight: boolean;
  /** Why it last opened, e.g. '3 consecutive failures'. */
  lastOpenReason?: string;
}

/** Codes that say nothing about the target's health: the caller aborted, or the request itself was bad. */
const neutralCodes = new Set(['ABORTED', 'INVALID_REQUEST', 'CONTEXT_OVERFLOW', 'PRIVACY_VIOLATION', 'NO_ROUTE']);

/**
 * Whether an error counts against a target. Aborts by the caller and 4xx answers about the request
 * (400, 404, 413, 422...) do not; timeouts (408), conflicts (409), rate limits (429), 5xx, network
 * failures and deadline overruns do. 401/403 are handled apart (they open at once).
 */
export function countsAsTargetFailure(error: Pick<InferlaneError, 'code' | 'status'>): boolean {
  if (neutralCodes.has(error.code)) return false;
  const status = error.status;
  if (status !== undefined && status >= 400 && status < 500) {
    return countsAgainstTarget(status);
  }
  return true;
}

function isAuthenticationFailure(error: Pick<InferlaneError, 'code' | 'status'>): boolean {
  return error.code === 'AUTHENTICATION_FAILED' || error.status === 401 || error.status === 403;
}

export class CircuitBreaker {
  private readonly consecutiveLimit: number;
  private readonly windowSize: number;
  private readonly minCalls: number;
  private readonly failureRatio: number;
  private readonly baseCooldownMs: number;
  private readonly maxCooldownMs: number;

  private opened = false;
  private openUntil = 0;
  private nextCooldownMs: number;
  private probeInFlight = false;
  private consecutiveFailures = 0;
  /** Outcomes of the last calls as bits (1 = failure), newest lowest; `calls` of them are valid. */
  private outcomeBits = 0;
  private calls = 0;
  private lastOpenReason: string | undefined;

  constructor(settings: CircuitSettings = {}) {
    this.consecutiveLimit = settings.consecutiveFailures ?? 3;
    // 52 bits stay exact in a double; enough for any sensible window.
    this.windowSize = Math.min(52, Math.max(1, settings.windowSize ?? 20));
    this.minCalls = settings.minCalls ?? 10;
    this.failureRatio = settings.failureRatio ?? 0.5;
    this.baseCooldownMs = settings.cooldownMs ?? 5_000;
    this.maxCooldownMs = settings.maxCooldownMs ?? 60_000;
    this.nextCooldownMs = this.baseCooldownMs;
  }

  state(now: number): CircuitState {
    if (!this.opened) return 'closed';
    return now < this.openUntil ? 'open' : 'half-open';
  }

  /**
   * Asks to send a call. Closed: always yes. Open: no. Half-open: yes for the first caller only
   * (the probe); everyone else waits for its outcome.
   */
  tryAcquire(now: number): boolean {
    const state = this.state(now);
    if (state === 'closed') return true;
    if (state === 'open' || this.probeInFlight) return false;
    this.probeInFlight = true;
    return true;
  }

  recordSuccess(now: number): void {
    if (this.opened) {
      // Only a probe's success closes; a straggler from before the opening proves less.
      if (this.state(now) === 'half-open') this.close();
      return;
    }
    this.consecutiveFailures = 0;
    this.push(false);
  }

  /** A call that says nothing about the target's health (e.g. it timed out on a budget the target never meets): a probe's slot is freed. */
  recordInconclusive(): void {
    if (this.opened) this.probeInFlight = false;
  }

  recordFailure(error: Pick<InferlaneError, 'code' | 'status'> & { retryAfterMs?: number }, now: number): void {
    const retryAfterMs = typeof error.retryAfterMs === 'number' && error.retryAfterMs > 0 && Number.isFinite(error.retryAfterMs) ? error.retryAfterMs : 0;
    if (!countsAsTargetFailure(error)) {
      // The probe told us nothing; let another call probe.
      if (this.opened) this.probeInFlight = false;
      return;
    }
    const auth = isAuthenticationFailure(error);
    if (this.opened) {
      if (this.state(now) === 'half-open') {
        this.open(now, retryAfterMs, auth ? 'authentication failed' : 'the probe failed');
      } else if (retryAfterMs > 0) {
        // A call that was already in flight reports a longer wait: honour it.
        this.openUntil = Math.max(this.openUntil, now + retryAfterMs);
      }
      return;
    }
    this.consecutiveFailures++;
    this.push(true);
    if (auth) return this.open(now, retryAfterMs, 'authentication failed');
    if (this.consecutiveFailures >= this.consecutiveLimit) {
      return this.open(now, retryAfterMs, `${this.consecutiveFailures} consecutive failures`);
    }
    if (this.calls >= this.minCalls) {
      const failures = this.recentFailures();
      if (failures / this.calls >= this.failureRatio) {
        return this.open(now, retryAfterMs, `${failures} of the last ${this.calls} calls failed`);
      }
    }
  }

  snapshot(now: number): CircuitSnapshot {
    return {
      state: this.state(now),
      consecutiveFailures: this.consecutiveFailures,
      recentCalls: this.calls,
      recentFailures: this.recentFailures(),
      openUntil: this.opened ? this.openUntil : undefined,
      cooldownMs: this.nextCooldownMs,
      probeInFlight: this.probeInFlight,
      lastOpenReason: this.lastOpenReason,
    };
  }

  private open(now: number, retryAfterMs: number, reason: string): void {
    const cooldown = this.nextCooldownMs;
    this.opened = true;
    this.openUntil = now + Math.max(cooldown, retryAfterMs);
    this.nextCooldownMs = Math.min(this.maxCooldownMs, cooldown * 2);
    this.probeInFlight = false;
    this.lastOpenReason = reason;
  }

  private close(): void {
    this.opened = false;
    this.openUntil = 0;
    this.nextCooldownMs = this.baseCooldownMs;
    this.probeInFlight = false;
    this.consecutiveFailures = 0;
    // A fresh window: the failures that opened the circuit must not reopen it at once.
    this.outcomeBits = 0;
    this.calls = 0;
  }

  private push(failed: boolean): void {
    // Shift left by one inside windowSize bits (multiplication keeps all 52 bits; << would cut at 32).
    const span = 2 ** this.windowSize;
    this.outcomeBits = ((this.outcomeBits * 2) % span) + (failed ? 1 : 0);
    if (this.calls < this.windowSize) this.calls++;
  }

  private recentFailures(): number {
    let bits = this.outcomeBits;
    let failures = 0;
    while (bits > 0) {
      failures += bits % 2;
      bits = Math.floor(bits / 2);
    }
    return failures;
  }
}
