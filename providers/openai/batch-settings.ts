/**
 * The Batch API's settings and the capability's public shape (types only, so the settings file
 * and the lazily loaded batch code share them without pulling each other in).
 */
import type { BatchCapability } from '../../src/provider.js';

/** Batch API settings of an `openai()` target. */
export interface OpenAIBatchSettings {
  /** Passed as `completion_window`. @default '24h' (the only window the spec allows; others are refused before sending) */
  completionWindow?: string;
  /** Batch price relative to online prices. @default 0.5 */
  priceMultiplier?: number;
  /** Suggested poll interval for the jobs layer, ms. @default 30_000 */
  pollIntervalMs?: number;
  /** Lines per batch file. @default 50_000 */
  maxItems?: number;
  /** Bytes per batch file. @default 209_715_200 (200 MB) */
  maxBytes?: number;
  /** Embedding inputs per batch. @default 50_000 */
  maxEmbeddingInputs?: number;
  /** Batches `findByMetadata` reads at most before it stops. @default 1_000 */
  maxScan?: number;
  /** `findByMetadata` stops at batches older than this, ms. @default 172_800_000 (48 h) */
  maxAgeMs?: number;
}

export interface OpenAIBatchCapability extends BatchCapability {
  /** Suggested poll interval, ms (the jobs layer adds backoff and jitter). */
  pollIntervalMs: number;
}
