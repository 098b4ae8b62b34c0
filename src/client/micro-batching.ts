/**
 * `microBatching(settings?)`: the feature that gathers concurrent callers' embeddings (and
 * generations on device runtimes that run several prompts in one pass) into few provider
 * requests (DESIGN.md section 6, src/batching/README.md).
 *
 * Imports: batching (the micro-batcher, its runner wrapper and settings check), target (types), ./features (types).
 */
import { createMicroBatcher } from '../batching/micro-batcher.js';
import { microBatched } from '../batching/micro-batched.js';
import { validateMicroBatchSettings } from '../batching/micro-batch-validation.js';
import type { MicroBatchSettings } from '../target.js';
import type { ClientFeature } from './features.js';

/**
 * Micro-batching for the lean client (`inferlane/core`); the full preset has it on (its
 * `microBatch` option). `settings` are defaults for every target (a target's own `microBatch`
 * wins); each field's unit and default are on `MicroBatchSettings`. @default the runtime's defaults
 */
export function microBatching(settings?: MicroBatchSettings): ClientFeature {
  validateMicroBatchSettings(settings, 'microBatching');
  return {
    name: 'microBatching',
    install(host) {
      const batcher = createMicroBatcher({
        runtime: host.runtime,
        defaults: settings,
        clock: host.clock,
        emit: (event, payload) => host.emit(event, payload),
        predictServiceMs: (id) => host.stats.latency(id, 'total', 0.5),
      });
      return {
        runner: (_target, runner) => microBatched(runner, batcher),
        flush: () => batcher.flush(),
        close: () => {
          // Queued items go now; not awaited: a request in flight belongs to calls the drain bounds
          // (a hung one held close() for good, found by a soak).
          void batcher.flush();
          return undefined;
        },
      };
    },
  };
}
