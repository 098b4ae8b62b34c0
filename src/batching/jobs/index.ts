/**
 * Deferred jobs, the public face: `new Jobs(options)` and the shapes around it. Everything a
 * caller outside this folder uses comes through here.
 *
 * Imports: this folder only.
 */
export { Jobs } from './jobs.js';
export { jobsSettingNames, validateJobsSettings, type JobsOptions, type JobsSettings } from './options.js';
export { customIdOf, toTextCall } from './packing.js';
export { parseWindow } from './schedule.js';
export { aggregateStatus } from './status.js';
export {
  terminalStatuses,
  type JobHandle,
  type JobInfo,
  type JobItem,
  type JobOperation,
  type JobPartInfo,
  type JobProgressEvent,
  type JobRecord,
  type JobResult,
  type JobResultsOptions,
  type JobSchedule,
  type JobStatus,
  type JobSubmitOptions,
  type JobWaitOptions,
  type JobWindow,
  type PartRecord,
  type PartState,
  type RunOnline,
} from './types.js';
