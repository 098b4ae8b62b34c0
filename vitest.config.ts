import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const root = fileURLToPath(new URL('.', import.meta.url));

export default defineConfig({
  resolve: {
    alias: [
      { find: /^inferlane$/, replacement: `${root}src/index.ts` },
      { find: /^inferlane\/core$/, replacement: `${root}src/core.ts` },
      { find: /^inferlane\/(.*)$/, replacement: `${root}$1` },
    ],
  },
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    globalSetup: ['test/setup/global.ts'],
  },
});
