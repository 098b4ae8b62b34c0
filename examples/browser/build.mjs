#!/usr/bin/env node
/** Builds the example page into examples/browser/dist/ (app.js + index.html). */
import { copyFileSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const here = dirname(fileURLToPath(import.meta.url));
export const distDir = join(here, 'dist');

export async function buildExample() {
  mkdirSync(distDir, { recursive: true });
  await build({
    entryPoints: [join(here, 'main.ts')],
    outfile: join(distDir, 'app.js'),
    bundle: true,
    platform: 'browser',
    format: 'esm',
    target: 'es2022',
    minify: true,
    logLevel: 'warning',
  });
  copyFileSync(join(here, 'index.html'), join(distDir, 'index.html'));
  return distDir;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  await buildExample();
  console.log(`built ${distDir}`);
}
