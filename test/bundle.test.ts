/**
 * The core runs in browsers: an esbuild browser build of `inferlane` (and of each browser-facing
 * subpath) succeeds with no Node built-in anywhere in its graph.
 */
import { describe, expect, it } from 'vitest';
import { browserBundle } from '../bench/bundle.js';

const browserEntries: Record<string, string> = {
  inferlane: `export * from './src/index.ts';`,
  'inferlane/testing': `export * from './src/testing.ts';`,
  'inferlane/stores/indexeddb': `export * from './src/stores/indexeddb.ts';`,
  'inferlane/providers/openai': `export * from './providers/openai/index.ts';`,
  'inferlane/providers/openai-realtime': `export * from './providers/openai/realtime.ts';`,
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
