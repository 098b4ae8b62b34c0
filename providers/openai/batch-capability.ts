/**
 * `target.batch` for an `openai()` target: the limits and `itemBytes` answer at once; the calls
 * (submit, status, results, cancel, findByMetadata) load batch.ts on first use. `openai({ kind:
 * 'batch' })` works as before, and a bundler that splits dynamic imports (Vite, webpack, esbuild
 * with splitting, our tsup build) keeps the Batch API out of an app that only chats.
 */
import type { BatchContext, BatchItemResult, ProviderBatch } from '../../src/provider.js';
import type { BatchApi, BatchDependencies, BatchLimits } from './batch.js';
import { batchLine, checkCompletionWindow } from './batch-lines.js';
import type { OpenAIBatchCapability, OpenAIBatchSettings } from './batch-settings.js';

const encoder = new TextEncoder();

export function createBatchCapability(settings: OpenAIBatchSettings, deps: BatchDependencies): OpenAIBatchCapability {
  checkCompletionWindow(settings.completionWindow, 'batch.completionWindow');
  const limits: BatchLimits = {
    maxItems: settings.maxItems ?? 50_000,
    maxBytes: settings.maxBytes ?? 200 * 1024 * 1024,
    maxEmbeddingInputs: settings.maxEmbeddingInputs ?? 50_000,
    maxScan: settings.maxScan ?? 1_000,
    maxAgeMs: settings.maxAgeMs ?? 48 * 3_600_000,
    completionWindow: settings.completionWindow,
  };
  let loading: Promise<BatchApi> | undefined;
  const api = (): Promise<BatchApi> => {
    loading ??= import('./batch.js').then((module) => module.batchApi(deps, limits));
    // A failed load (a chunk the network lost) may work on the next call.
    loading.catch(() => (loading = undefined));
    return loading;
  };
  return {
    maxItems: limits.maxItems,
    maxBytes: limits.maxBytes,
    maxEmbeddingInputs: limits.maxEmbeddingInputs,
    priceMultiplier: settings.priceMultiplier ?? 0.5,
    pollIntervalMs: settings.pollIntervalMs ?? 30_000,
    // The line plus its newline: the sum over items is the uploaded file's size.
    itemBytes: (item) => encoder.encode(batchLine(item, deps)).length + 1,
    submit: async (items, options, ctx) => (await api()).submit(items, options, ctx),
    findByMetadata: async (key, value, ctx) => (await api()).findByMetadata(key, value, ctx),
    status: async (id, ctx) => (await api()).status(id, ctx),
    cancel: async (id, ctx) => (await api()).cancel(id, ctx),
    results: (batch: ProviderBatch, ctx: BatchContext): AsyncIterable<BatchItemResult> => ({
      async *[Symbol.asyncIterator]() {
        yield* (await api()).results(batch, ctx);
      },
    }),
  };
}
