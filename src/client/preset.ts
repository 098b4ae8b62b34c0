/**
 * The full preset: `InferlaneClient`, what the `inferlane` entry's `createClient` returns. Every
 * feature is on (batch jobs, micro-batching unless `microBatch: false`, conversations),
 * configured by the options as they always were; `inferlane/core` offers the lean client
 * instead, which carries only the features passed to it.
 *
 * Imports: batching (settings checks), errors, realtime (the voice session), ./client, ./batch-jobs, ./conversations,
 * ./micro-batching, ./options (types).
 */
import { validateJobsSettings } from '../batching/job-validation.js';
import { validateMicroBatchSettings } from '../batching/micro-batch-validation.js';
import { InvalidRequestError } from '../errors.js';
import { type RealtimeSession, realtimeSession } from '../realtime/session.js';
import type { RealtimeSessionOptions } from '../realtime/types.js';
import { batchJobs } from './batch-jobs.js';
import { CoreClient } from './client.js';
import { conversations } from './conversations.js';
import type { ClientFeature } from './features.js';
import { microBatching } from './micro-batching.js';
import type { ClientOptions, CoreClientOptions } from './options.js';

export class InferlaneClient extends CoreClient {
  constructor(options: ClientOptions) {
    super(withEveryFeature(options));
  }

  /**
   * A voice session: the realtime endpoint, or speech to text, text and speech (src/realtime).
   * On the lean client (`inferlane/core`), `realtimeSession(client, options)` does the same.
   */
  realtime(options: RealtimeSessionOptions = {}): RealtimeSession {
    return realtimeSession(this, options);
  }
}

/** Creates a client with every feature on. See README.md for a tour. */
export function createClient(options: ClientOptions): InferlaneClient {
  return new InferlaneClient(options);
}

/** The lean client's options for the full preset: its own settings checked here, every feature given. */
function withEveryFeature(options: ClientOptions): CoreClientOptions {
  if (typeof options !== 'object' || options === null) throw new InvalidRequestError('options', 'createClient needs an options object with targets');
  // Checked under the preset's names (`jobs`, `microBatch`) before the features check them again under theirs.
  validateJobsSettings(options.jobs, 'jobs');
  if (options.microBatch !== false) validateMicroBatchSettings(options.microBatch, 'microBatch');
  const features: ClientFeature[] = [batchJobs(options.jobs)];
  if (options.microBatch !== false) features.push(microBatching(options.microBatch));
  features.push(conversations());
  // The options object keeps its own fields; only `features` is set (never a spread: see pipeline.ts).
  return Object.assign({}, options, { features }) as CoreClientOptions;
}
