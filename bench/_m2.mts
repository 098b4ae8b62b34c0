import { build } from 'esbuild';
import { gzipSync } from 'node:zlib';
for (const [name, contents] of [['full', `export * from './src/index.ts';`], ['lean', `export { createClient } from './src/core.ts';`]]) {
  const r = await build({ stdin: { contents, resolveDir: '/work/wt/core', loader: 'ts', sourcefile: 'e.ts' }, bundle: true, minify: true, write: false, format: 'esm', platform: 'browser', target: 'es2022', logLevel: 'silent' });
  const code = r.outputFiles[0].text; console.log(name, (code.length/1024).toFixed(1), (gzipSync(code, {level: 9}).length/1024).toFixed(2));
}
