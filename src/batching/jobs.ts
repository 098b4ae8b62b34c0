/**
 * Transitional: jobs live in `./jobs/` (its index is the facade, which names every export). This
 * file keeps the old import path working until the client imports `./batching/jobs/index.js`;
 * then it goes.
 */
export * from './jobs/index.js';
