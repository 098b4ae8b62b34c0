/** Per-target latency quantiles and circuit breakers; see README.md. */
export { Stats, type LatencyMetric, type LatencySample, type StatsOptions, type TargetStatsSnapshot } from './stats.js';
export { CircuitBreaker, countsAsTargetFailure, type CircuitSettings, type CircuitSnapshot, type CircuitState } from './circuit-breaker.js';
export { LatencyHistogram } from './latency-histogram.js';
export { priorQuantile } from './prior.js';
