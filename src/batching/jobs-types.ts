/**
 * Transitional: the job types live in `./jobs/types.ts`. This file keeps the old import path of
 * validate.ts and job-coalescer.ts working until they import `./jobs/index.js`; then it goes.
 */
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
} from './jobs/types.js';
