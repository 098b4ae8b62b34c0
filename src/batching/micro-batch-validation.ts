/**
 * The micro-batcher's own check: `MicroBatchSettings`, given to the client (`microBatch`, or
 * `microBatching(settings)`) or on a target (`targets[i].microBatch`). A NaN window would spin a
 * timer; a zero batch size would never send.
 *
 * Imports: errors, validation primitives.
 */
import { InvalidRequestError } from '../errors.js';
import { describe, nonNegativeNumber, section } from '../validation/checks.js';

export function validateMicroBatchSettings(value: unknown, field: string): void {
  const batch = section(value, field);
  if (!batch) return;
  for (const key of ['maxBatchSize', 'maxBatchTokens', 'concurrency', 'maxQueue']) nonNegativeNumber(batch[key], `${field}.${key}`, { integer: true, positive: true });
  nonNegativeNumber(batch.maxWaitMs, `${field}.maxWaitMs`);
  if (batch.whenFull !== undefined && batch.whenFull !== 'wait' && batch.whenFull !== 'reject') {
    throw new InvalidRequestError(`${field}.whenFull`, `must be 'wait' or 'reject'; got ${describe(batch.whenFull)}`);
  }
}
