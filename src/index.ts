/**
 * inferlane: one client API that sends every AI inference request to the place that fits it.
 * The core uses Web standards only; Node-only pieces live behind subpath exports.
 */
export { createClient, InferlaneClient } from './client.js';
export type { ClientOptions, ClientEvents, ClientStreamPart, Explanation } from './client.js';
export * from './errors.js';
export type * from './target.js';
export { cutAtStop, isNetworkTarget } from './target.js';
export type * from './types.js';
export { memoryStore } from './stores/memory.js';
export type { KeyValueStore, StoreEntry, SetOptions } from './stores/store.js';
export { resolveLatency } from './router/segments.js';
export { plan, explainPlan } from './router/plan.js';
export type { Plan, Candidate, PlanRequest } from './router/types.js';
export { estimateTokens } from './tokens.js';
export * from './realtime/index.js';
