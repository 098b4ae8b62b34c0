/**
 * Per-target health and speed: decaying latency quantiles and circuit breakers. Implements the
 * router's `StatsView`; the executor feeds it (`recordSuccess`, `recordFailure`, `tryAcquire`).
 *
 * Everything takes `now` from the caller (ms since epoch); there are no timers, so a serverless
 * process is never kept alive by it and tests control time exactly.
 *
 * Imports: errors.ts, target.ts, router/types.ts (types only), validation primitives, ./*.
 */
import type { InferlaneError } from '../errors.js';
import type { StatsView } from '../router/types.js';
import type { Availability, Target } from '../target.js';
import { CircuitBreaker, type CircuitSettings, type CircuitSnapshot, type CircuitState } from './circuit-breaker.js';
import { LatencyHistogram } from './latency-histogram.js';
import { priorQuantile } from './prior.js';
import { fraction, nonNegativeNumber, section } from '../validation/checks.js';

export type LatencyMetric = 'ttft' | 'total';

export interface LatencySample {
  /** Time to first token, ms (streams and text). */
  ttftMs?: number;
  /** Time to the whole answer, ms. */
  totalMs: number;
}

export interface StatsOptions {
  /** After this long a latency sample weighs half as much as a new one, ms. @default 60_000 */
  halfLifeMs?: number;
  /** Samples a metric needs before measurements replace the prior. @default 5 */
  minSamples?: number;
  /** Circuit breaker settings, for every target. */
  circuit?: CircuitSettings;
}

/** Checks `StatsOptions` (the client's `stats`): a zero half-life or a NaN cooldown would break every quantile or circuit. */
export function validateStatsOptions(value: unknown, field: string): void {
  const stats = section(value, field);
  if (!stats) return;
  nonNegativeNumber(stats.halfLifeMs, `${field}.halfLifeMs`, { positive: true });
  nonNegativeNumber(stats.minSamples, `${field}.minSamples`, { integer: true, positive: true });
  const circuit = section(stats.circuit, `${field}.circuit`);
  if (circuit) {
    for (const key of ['consecutiveFailures', 'windowSize', 'minCalls']) nonNegativeNumber(circuit[key], `${field}.circuit.${key}`, { integer: true, positive: true });
    fraction(circuit.failureRatio, `${field}.circuit.failureRatio`);
    for (const key of ['cooldownMs', 'maxCooldownMs']) nonNegativeNumber(circuit[key], `${field}.circuit.${key}`);
  }
}

export interface TargetStatsSnapshot {
  circuit: CircuitSnapshot;
  availability?: Availability;
  prior?: { ttftMs?: number; totalMs?: number };
  latency: Record<LatencyMetric, { samples: number; p50?: number; p90?: number; p99?: number }>;
}

interface TargetRecord {
  ttft: LatencyHistogram;
  total: LatencyHistogram;
  circuit: CircuitBreaker;
  availability?: Availability;
  prior?: { ttftMs?: number; totalMs?: number };
  /** Whether a call ever succeeded on it (a device's model has loaded). */
  answered?: boolean;
}

export class Stats implements StatsView {
  private readonly halfLifeMs: number;
  private readonly minSamples: number;
  private readonly circuitSettings: CircuitSettings | undefined;
  private readonly records = new Map<string, TargetRecord>();
  /**
   * Moves whenever something a plan depends on changes in kind rather than degree: a failure
   * (circuits), availability, a prior, a metric that turns from prior to measured. Latency
   * measurements alone do not move it (see `PlanCache`).
   */
  epoch = 0;

  constructor(options: StatsOptions = {}) {
    this.halfLifeMs = options.halfLifeMs ?? 60_000;
    this.minSamples = Math.max(1, options.minSamples ?? 5);
    this.circuitSettings = options.circuit;
    if (!(this.halfLifeMs > 0) || !Number.isFinite(this.halfLifeMs)) {
      throw new RangeError('halfLifeMs must be a finite number of ms above 0');
    }
  }

  /** Uses `target.expected` as the prediction until `minSamples` measurements exist. */
  setPrior(target: Pick<Target, 'id' | 'expected'>): void {
    const record = this.recordFor(target.id);
    record.prior = target.expected ? { ...target.expected } : undefined;
    this.epoch++;
  }

  /** Adds a latency measurement (no effect on the circuit). */
  record(targetId: string, sample: LatencySample, now: number): void {
    this.measure(this.recordFor(targetId), sample, now);
  }

  /**
   * Quantile `q` (0..1) of a metric, ms: measured once `minSamples` samples exist, else from the
   * prior, else undefined (the router then uses its own defaults).
   */
  latency(targetId: string, metric: LatencyMetric, q: number): number | undefined {
    const record = this.records.get(targetId);
    if (record === undefined) return undefined;
    const histogram = metric === 'ttft' ? record.ttft : record.total;
    if (histogram.count >= this.minSamples) return histogram.quantile(q);
    const prior = metric === 'ttft' ? record.prior?.ttftMs : record.prior?.totalMs;
    return prior === undefined ? undefined : priorQuantile(prior, q);
  }

  /**
   * True once `minSamples` real measurements back the metric (not the prior). The router reads
   * it where only measurements count (a cloud target in the realtime segment).
   */
  measured(targetId: string, metric: LatencyMetric): boolean {
    const record = this.records.get(targetId);
    if (record === undefined) return false;
    return (metric === 'ttft' ? record.ttft : record.total).count >= this.minSamples;
  }

  /** A call succeeded: records its latency and tells the circuit. */
  recordSuccess(targetId: string, latency: LatencySample, now: number): void {
    const record = this.recordFor(targetId);
    this.measure(record, latency, now);
    record.circuit.recordSuccess(now);
    record.answered = true;
    // An answer proves a model that had to load first ('downloadable') is loaded now.
    if (record.availability === 'downloadable') this.setAvailability(targetId, 'available');
  }

  /**
   * A call failed. Caller aborts and 4xx answers about the request itself do not count against
   * the target; 401/403 open the circuit at once; `retryAfterMs` (429, 503) can lengthen the cooldown.
   */
  recordFailure(targetId: string, error: InferlaneError, now: number): void {
    const retryAfterMs = (error as { retryAfterMs?: unknown }).retryAfterMs;
    this.epoch++;
    this.recordFor(targetId).circuit.recordFailure(
      { code: error.code, status: error.status, retryAfterMs: typeof retryAfterMs === 'number' ? retryAfterMs : undefined },
      now,
    );
  }

  /** A failed call that says nothing about the target's health (its budget was too tight for it): only frees a probe. */
  recordInconclusive(targetId: string): void {
    this.recordFor(targetId).circuit.recordInconclusive();
  }

  circuit(targetId: string, now: number): CircuitState {
    const record = this.records.get(targetId);
    return record === undefined ? 'closed' : record.circuit.state(now);
  }

  /** May a call go to this target now? In half-open, true for a single probe only. */
  tryAcquire(targetId: string, now: number): boolean {
    return this.recordFor(targetId).circuit.tryAcquire(now);
  }

  /** Whether a call ever succeeded on the target (in this client). */
  answered(targetId: string): boolean {
    return this.records.get(targetId)?.answered === true;
  }

  availability(targetId: string): Availability | undefined {
    return this.records.get(targetId)?.availability;
  }

  setAvailability(targetId: string, availability: Availability): void {
    const record = this.recordFor(targetId);
    if (record.availability !== availability) this.epoch++;
    record.availability = availability;
  }

  /** A plain, JSON-safe view of every target, for debugging. `now` decides open vs half-open. @default now 0 */
  snapshot(now = 0): Record<string, TargetStatsSnapshot> {
    const out: Record<string, TargetStatsSnapshot> = {};
    for (const [id, record] of this.records) {
      const view = (histogram: LatencyHistogram) => ({
        samples: histogram.count,
        p50: histogram.quantile(0.5),
        p90: histogram.quantile(0.9),
        p99: histogram.quantile(0.99),
      });
      out[id] = {
        circuit: record.circuit.snapshot(now),
        availability: record.availability,
        prior: record.prior ? { ...record.prior } : undefined,
        latency: { ttft: view(record.ttft), total: view(record.total) },
      };
    }
    return out;
  }

  private measure(record: TargetRecord, sample: LatencySample, now: number): void {
    if (sample.ttftMs !== undefined) {
      record.ttft.record(sample.ttftMs, now);
      if (record.ttft.count === this.minSamples) this.epoch++;
    }
    record.total.record(sample.totalMs, now);
    if (record.total.count === this.minSamples) this.epoch++;
  }

  private recordFor(targetId: string): TargetRecord {
    let record = this.records.get(targetId);
    if (record === undefined) {
      record = {
        ttft: new LatencyHistogram(this.halfLifeMs),
        total: new LatencyHistogram(this.halfLifeMs),
        circuit: new CircuitBreaker(this.circuitSettings),
      };
      this.records.set(targetId, record);
    }
    return record;
  }
}
