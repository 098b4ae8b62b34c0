import { build } from 'esbuild';
async function inputs(contents: string) {
  const result = await build({ stdin: { contents, resolveDir: '/work/wt/core', loader: 'ts', sourcefile: 'entry.ts' }, bundle: true, minify: true, write: false, format: 'esm', platform: 'browser', target: 'es2022', logLevel: 'silent', metafile: true });
  const out = Object.values(result.metafile.outputs)[0];
  const m = new Map<string, number>();
  for (const [k, v] of Object.entries(out.inputs)) m.set(k.replace(/^(\.\.\/)+tmp\/core-base\//, ''), v.bytesInOutput);
  return m;
}
const base = await inputs(`export * from '/tmp/core-base/src/index.ts';`);
const now = await inputs(`export * from './src/index.ts';`);
const groups = (m: Map<string, number>) => { const g = new Map<string, number>(); for (const [k, v] of m) { const key = k; g.set(key, (g.get(key) ?? 0) + v); } return g; };
const gb = groups(base), gn = groups(now);
const keys = new Set([...gb.keys(), ...gn.keys()]);
let tb = 0, tn = 0;
for (const k of [...keys].sort()) { const b = gb.get(k) ?? 0, n = gn.get(k) ?? 0; tb += b; tn += n; console.log(String(b).padStart(7), String(n).padStart(7), String(n - b).padStart(6), k); }
console.log(tb, tn, tn - tb);
