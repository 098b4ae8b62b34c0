/**
 * bench/bundle: the browser bundle. Builds each entry with esbuild for `platform: 'browser'`
 * (a Node built-in anywhere in the graph fails the build) and prints minified and gzipped sizes,
 * inferlane's core next to the AI SDK's `ai` core, and each with its OpenAI provider.
 *
 *   npx tsx bench/bundle.ts
 */
import { build } from 'esbuild';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { runIfMain, table } from './util.js';

const root = fileURLToPath(new URL('..', import.meta.url));

export interface BundleSize {
  minified: number;
  gzipped: number;
  /** Imports the bundle left unresolved (should be none). */
  external: string[];
  code: string;
}

/** Bundles `contents` (an ES module) for browsers, minified. Throws when the graph needs Node. */
export async function browserBundle(contents: string): Promise<BundleSize> {
  const result = await build({
    stdin: { contents, resolveDir: root, loader: 'ts', sourcefile: 'entry.ts' },
    bundle: true,
    minify: true,
    write: false,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    logLevel: 'silent',
    metafile: true,
  });
  const code = result.outputFiles[0].text;
  const external = Object.values(result.metafile.inputs)
    .flatMap((input) => input.imports)
    .filter((imp) => imp.external)
    .map((imp) => imp.path);
  return { minified: Buffer.byteLength(code), gzipped: gzipSync(code, { level: 9 }).byteLength, external, code };
}

export const entries: Record<string, string> = {
  'inferlane core': `export * from './src/index.ts';`,
  'ai core': `export * from 'ai';`,
  'inferlane + openai provider': `export * from './src/index.ts'; export { openai } from './providers/openai/index.ts';`,
  'ai + @ai-sdk/openai': `export * from 'ai'; export { createOpenAI } from '@ai-sdk/openai';`,
};

export async function run(): Promise<Record<string, number>> {
  const rows: string[][] = [];
  const results: Record<string, number> = {};
  for (const [name, contents] of Object.entries(entries)) {
    const size = await browserBundle(contents);
    rows.push([name, kb(size.minified), kb(size.gzipped)]);
    results[`${name}.gzipped`] = size.gzipped;
  }
  console.log('\nbrowser bundle (esbuild, platform browser, minified)');
  console.log(table(['entry', 'minified', 'min+gzip'], rows));
  return results;
}

function kb(bytes: number): string {
  return `${(bytes / 1024).toFixed(1)} KiB`;
}

runIfMain(import.meta.url, () => run());
