/**
 * bench/bundle: the browser bundle. Builds each entry with esbuild for `platform: 'browser'`
 * (a Node built-in anywhere in the graph fails the build) and prints minified and gzipped sizes:
 * the smallest useful inferlane bundle (the lean `inferlane/core` client with one OpenAI target,
 * generate and stream; the `openai` package marked external, so its own code is not counted),
 * the full core (`inferlane`), both with the OpenAI provider and its `openai` package, and the AI
 * SDK's `ai` core with and without its OpenAI provider. Then where the smallest bundle's bytes
 * go, by source folder, from esbuild's metafile.
 *
 *   npx tsx bench/bundle.ts
 */
import { build, type Metafile } from 'esbuild';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { runIfMain, table } from './util.js';

const root = fileURLToPath(new URL('..', import.meta.url));

export interface BundleSize {
  minified: number;
  gzipped: number;
  /** Imports the bundle left unresolved (none, unless marked external on purpose). */
  external: string[];
  code: string;
  /** Minified bytes in the output, per input file. */
  inputs: Record<string, number>;
}

/** Bundles `contents` (an ES module) for browsers, minified. Throws when the graph needs Node. */
export async function browserBundle(contents: string, options: { external?: string[] } = {}): Promise<BundleSize> {
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
    external: options.external,
  });
  const code = result.outputFiles[0].text;
  const external = Object.values(result.metafile.inputs)
    .flatMap((input) => input.imports)
    .filter((imp) => imp.external)
    .map((imp) => imp.path);
  return { minified: Buffer.byteLength(code), gzipped: gzipSync(code, { level: 9 }).byteLength, external: [...new Set(external)], code, inputs: bytesPerInput(result.metafile) };
}

function bytesPerInput(metafile: Metafile): Record<string, number> {
  const inputs: Record<string, number> = {};
  for (const output of Object.values(metafile.outputs)) for (const [path, input] of Object.entries(output.inputs)) inputs[path] = (inputs[path] ?? 0) + input.bytesInOutput;
  return inputs;
}

/** The smallest useful client: the lean core, one OpenAI target, generate and stream. */
export const smallestClient = `
import { createClient } from './src/core.ts';
import { openai } from './providers/openai/index.ts';
const client = createClient({ targets: [openai({ model: 'gpt-4.1-mini', apiKey: 'key' })] });
export const generate = (prompt: string) => client.generate({ prompt });
export const stream = (prompt: string) => client.stream({ prompt });
`;

export const entries: Record<string, { contents: string; external?: string[] }> = {
  'inferlane/core + openai target, generate/stream (openai package external)': { contents: smallestClient, external: ['openai'] },
  'inferlane/core createClient alone (no provider)': { contents: `export { createClient } from './src/core.ts';` },
  'inferlane core (full preset, every export)': { contents: `export * from './src/index.ts';` },
  'ai core': { contents: `export * from 'ai';` },
  'inferlane/core + openai target + openai package': { contents: smallestClient },
  'inferlane + openai provider': { contents: `export * from './src/index.ts'; export { openai } from './providers/openai/index.ts';` },
  'ai + @ai-sdk/openai': { contents: `export * from 'ai'; export { createOpenAI } from '@ai-sdk/openai';` },
};

export async function run(): Promise<Record<string, number>> {
  const rows: string[][] = [];
  const results: Record<string, number> = {};
  let smallest: BundleSize | undefined;
  for (const [name, entry] of Object.entries(entries)) {
    const size = await browserBundle(entry.contents, { external: entry.external });
    smallest ??= size;
    rows.push([name, kb(size.minified), kb(size.gzipped)]);
    results[`${name}.gzipped`] = size.gzipped;
  }
  console.log('\nbrowser bundle (esbuild, platform browser, minified)');
  console.log(table(['entry', 'minified', 'min+gzip'], rows));
  console.log('\nwhere the smallest bundle goes (minified bytes by source folder; gzip shrinks each about 3x)');
  console.log(table(['source', 'minified', 'share'], byFolder(smallest!)));
  return results;
}

/** Minified bytes by folder (src/<folder>, providers/<name>/<file>, node_modules/<package>). */
function byFolder(size: BundleSize): string[][] {
  const folders = new Map<string, number>();
  for (const [path, bytes] of Object.entries(size.inputs)) {
    const parts = path.split('/');
    const key = parts[0] === 'node_modules' ? parts.slice(0, parts[1]?.startsWith('@') ? 3 : 2).join('/') : parts[0] === 'providers' ? parts.slice(0, 3).join('/') : parts.length > 2 ? parts.slice(0, 2).join('/') : path;
    folders.set(key, (folders.get(key) ?? 0) + bytes);
  }
  const total = [...folders.values()].reduce((sum, bytes) => sum + bytes, 0);
  return [...folders.entries()]
    .filter(([, bytes]) => bytes > 0)
    .sort((a, b) => b[1] - a[1])
    .map(([folder, bytes]) => [folder, kb(bytes), `${((bytes / total) * 100).toFixed(1)}%`]);
}

function kb(bytes: number): string {
  return `${(bytes / 1024).toFixed(1)} KiB`;
}

runIfMain(import.meta.url, () => run());
