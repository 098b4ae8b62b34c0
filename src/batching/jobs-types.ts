/**
 * Transitional: the job types live in `./jobs/types.ts`. This file keeps the old import path of
 * validate.ts and job-coalescer.ts working until they import `./jobs/index.js`; then it goes.
 */
export * from './jobs/types.js';
