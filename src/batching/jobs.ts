/**
 * Transitional: jobs live in `./jobs/` (its index is the facade). This file keeps the old import
 * path working until the client imports `./batching/jobs/index.js`; then it goes.
 */
export {
  aggregateStatus,
  customIdOf,
  Jobs,
  jobsSettingNames,
  parseWindow,
  terminalStatuses,
  toTextCall,
  validateJobsSettings,
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
  type JobsOptions,
  type JobsSettings,
  type JobWaitOptions,
  type JobWindow,
  type PartRecord,
  type PartState,
  type RunOnline,
} from './jobs/index.js';
