/**
 * `npm run bench`: every benchmark in one run, each printing its own table.
 *   npm run bench                   all of them
 *   npm run bench -- overhead plan  only these
 * Each bench is also runnable alone: `npx tsx bench/<name>.ts`.
 */
const benches: Record<string, () => Promise<{ run: () => Promise<unknown> }>> = {
  overhead: () => import('./overhead.js'),
  plan: () => import('./plan.js'),
  bundle: () => import('./bundle.js'),
  microbatch: () => import('./microbatch.js'),
  hedging: () => import('./hedging.js'),
  affinity: () => import('./affinity.js'),
  jobs: () => import('./jobs.js'),
  'cold-start': () => import('./cold-start.js'),
  device: () => import('./device.js'),
  voice: () => import('./voice.js'),
};

const selected = process.argv.slice(2).filter((a) => !a.startsWith('-'));
const names = selected.length > 0 ? selected : Object.keys(benches);
for (const name of names) {
  const load = benches[name];
  if (!load) {
    console.error(`unknown bench '${name}'; known: ${Object.keys(benches).join(', ')}`);
    process.exitCode = 2;
    continue;
  }
  console.log(`\n=== bench/${name} ===`);
  const started = performance.now();
  await (await load()).run();
  console.log(`(bench/${name} took ${((performance.now() - started) / 1000).toFixed(1)} s)`);
}
export {};
