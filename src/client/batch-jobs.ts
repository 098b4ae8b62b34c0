/**
 * `batchJobs(options?)`: the feature that gives a client `client.jobs` (deferred, durable provider
 * batch jobs, DESIGN.md section 7) and sends `latency: 'batch'` calls on batch endpoints through
 * shared jobs (a JobCoalescer) at the provider's batch discount.
 *
 * Imports: batching (jobs, the coalescer, their runner wrapper and settings check), errors,
 * target and types (types), ./features (types).
 */
import { JobCoalescer } from '../batching/job-coalescer.js';
import { validateJobsSettings } from '../batching/job-validation.js';
import { type JobItem, Jobs, type JobsSettings, jobsSettingNames, toTextCall } from '../batching/jobs/index.js';
import { viaBatchJob } from '../batching/via-batch-job.js';
import { InferlaneError, redact } from '../errors.js';
import type { BatchItemResult } from '../target.js';
import type { BatchJobsOptions, ClientFeature, FeatureHost } from './features.js';

/**
 * Batch jobs for the lean client (`inferlane/core`); the full preset has them on (its `jobs`
 * option). Each field's unit and default are on `BatchJobsOptions`. @default {}
 */
export function batchJobs(options: BatchJobsOptions = {}): ClientFeature {
  validateJobsSettings(options, 'batchJobs');
  return {
    name: 'batchJobs',
    install(host) {
      let jobs: Jobs | undefined;
      const create = () =>
        new Jobs({
          store: host.store,
          targets: [...host.targets],
          emit: (event, payload) => host.emit(event, payload),
          clock: host.clock,
          ...jobsSettingsOf(options),
          runOnline: (operation, item, targetId, signal) => runJobItemOnline(host, operation, item, targetId, signal),
        });
      const jobsApi = (): Jobs => {
        if (jobs === undefined && host.closed) {
          // Made after close(): closed too, so its calls refuse rather than reach a closed store.
          jobs = create();
          void jobs.close();
        }
        return (jobs ??= create());
      };
      // `latency: 'batch'` calls on batch endpoints, gathered into shared jobs.
      const coalescer = new JobCoalescer(jobsApi, {
        windowMs: options.coalesceMs ?? (host.runtime === 'serverless' ? 0 : 100),
        maxItems: options.maxCoalescedItems ?? 10_000,
        wait: { pollIntervalMs: options.pollIntervalMs, maxPollIntervalMs: options.maxPollIntervalMs },
        clock: host.clock,
      });
      return {
        runner: (_target, runner) => viaBatchJob(runner, coalescer),
        flush: () => coalescer.flush(),
        // Gathering jobs are sent (which may make the jobs API), then every wait ends (AbortedError
        // naming the job, which stays in the store) and online job runners stop.
        close: () => {
          coalescer.close();
          return jobs?.close();
        },
        stop: () => jobs?.stopSubmissions(),
        jobs: jobsApi,
      };
    },
  };
}

/** One job item run online (a target without a batch endpoint), as its batch line would have asked. */
async function runJobItemOnline(host: FeatureHost, operation: 'text' | 'embedding', item: JobItem, targetId: string, signal: AbortSignal): Promise<BatchItemResult> {
  try {
    if (operation === 'embedding') {
      const response = await host.embed({ input: item.input ?? '', dimensions: item.dimensions, targets: [targetId], latency: 'batch', abortSignal: signal });
      return { customId: item.id, ok: true, embedding: response.embedding, usage: response.usage };
    }
    // The item becomes the same call its batch line would carry.
    const response = await host.generate(Object.assign(toTextCall(item), { targets: [targetId], latency: 'batch' as const, abortSignal: signal }));
    return { customId: item.id, ok: true, text: response.raw, usage: response.usage };
  } catch (error) {
    const e = InferlaneError.isInstance(error) ? error : undefined;
    return { customId: item.id, ok: false, error: { code: e?.code ?? 'PROVIDER_ERROR', message: redact(error instanceof Error ? error.message : String(error)), status: e?.status } };
  }
}

/** The jobs' own settings out of the client's `jobs` section (the coalescing fields stay here). */
function jobsSettingsOf(options: BatchJobsOptions): JobsSettings {
  const settings: Record<string, unknown> = {};
  for (const name of jobsSettingNames) if (options[name] !== undefined) settings[name] = options[name];
  return settings as JobsSettings;
}
