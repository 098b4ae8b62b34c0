/**
 * The core runs in browsers: an esbuild browser build of `inferlane` (and of each browser-facing
 * subpath) succeeds with no Node built-in anywhere in its graph. And the lean client
 * (`inferlane/core`) is tree-shakable: a bundle of it with one OpenAI target and plain
 * generate/stream carries no micro-batcher, jobs, conversation, IndexedDB or p-queue code.
 */
import { describe, expect, it } from 'vitest';
import { browserBundle, smallestClient } from '../bench/bundle.js';

const browserEntries: Record<string, string> = {
  inferlane: `export * from './src/index.ts';`,
  'inferlane/core': `export * from './src/core.ts';`,
  'inferlane/testing': `export * from './src/testing.ts';`,
  'inferlane/stores/indexeddb': `export * from './src/stores/indexeddb.ts';`,
  'inferlane/providers/openai': `export * from './providers/openai/index.ts';`,
  'inferlane/providers/openai-realtime': `export * from './providers/openai/realtime.ts';`,
};

/** Text each feature's code carries, whatever the minifier renames (its messages, its store keys). */
const featureMarkers: Record<string, RegExp> = {
  'micro-batcher': /the micro-batch queue of|every caller of the micro-batch aborted/,
  jobs: /already exists in the store|the job finished without a result for this call/,
  conversation: /concurrent writes conflicted|Summary of the earlier conversation/,
  indexeddb: /indexedDB/,
  'p-queue': /to be a number from 1 and up/,
};

describe('browser bundle', () => {
  it.each(Object.entries(browserEntries))('%s builds for the browser without Node built-ins', async (_name, contents) => {
    const size = await browserBundle(contents);
    expect(size.external).toEqual([]);
    expect(size.code).not.toMatch(/\brequire\(["'](node:)?(fs|path|http|https|net|crypto|child_process|os)["']\)/);
    expect(size.minified).toBeGreaterThan(1000);
  });

  it('fails when something in the graph needs Node (the check can fail)', async () => {
    await expect(browserBundle(`export * from './src/stores/redis.ts'; import 'node:fs';`)).rejects.toThrow();
  });
});

describe('the lean client is tree-shakable', () => {
  it('inferlane/core with one OpenAI target and generate/stream carries no feature it was not given', async () => {
    const size = await browserBundle(smallestClient, { external: ['openai'] });
    expect(size.external).toEqual(['openai']);
    for (const [feature, marker] of Object.entries(featureMarkers)) expect({ feature, found: marker.test(size.code) }).toEqual({ feature, found: false });
    // Nor any module of theirs (by path, from the metafile).
    const modules = Object.keys(size.inputs).filter((path) => size.inputs[path] > 0);
    expect(modules.filter((path) => /src\/batching\/(micro-batcher|jobs|job-coalescer|lane)|src\/conversation\/conversation|src\/stores\/indexeddb|node_modules\/p-queue/.test(path))).toEqual([]);
  });

  it('carries a feature once it is given (the markers are real: the check can fail)', async () => {
    const withFeatures = await browserBundle(`
      import { createClient, microBatching, batchJobs, conversations } from './src/core.ts';
      export const client = () => createClient({ targets: [], features: [microBatching(), batchJobs(), conversations()] });
    `);
    for (const feature of ['micro-batcher', 'jobs', 'conversation']) expect({ feature, found: featureMarkers[feature].test(withFeatures.code) }).toEqual({ feature, found: true });
    const indexeddb = await browserBundle(`export * from './src/stores/indexeddb.ts';`);
    expect(featureMarkers.indexeddb.test(indexeddb.code)).toBe(true);
    const queue = await browserBundle(`export { default } from 'p-queue';`);
    expect(featureMarkers['p-queue'].test(queue.code)).toBe(true);
  });
});
