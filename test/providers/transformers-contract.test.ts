/**
 * The transformers.js adapter passes `targetContract` (inferlane/testing) on the model the project
 * generates (models/inferlane-tiny-chat), in this process, offline. Nothing can be made to fail or
 * hang on a local model, so the error check sends a call without messages; the adapter does not
 * declare honoursAbort (one forward pass cannot be interrupted), so the executor guards it.
 */
import { describe, it } from 'vitest';
import { transformers } from '../../providers/transformers/index.js';
import { targetContract } from '../../src/testing.js';

describe('transformers() keeps the target contract', () => {
  // Greedy decoding (temperature 0): the same call gives the same answer, streamed or not.
  const checks = targetContract({ target: () => transformers(), call: { messages: [{ role: 'user', content: 'tell me about the device' }], temperature: 0, maxOutputTokens: 24 }, deterministic: true });
  for (const check of checks) it(check.name, check.run);
});
