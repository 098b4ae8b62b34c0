/** Small helpers shared by the benchmarks: quantiles, ratios, a seeded PRNG, a text table, CLI bits. */
import { pathToFileURL } from 'node:url';

export { mulberry32 } from '../src/random.js';

export function quantile(samples: readonly number[], q: number): number {
  return quantileOfSorted([...samples].sort((a, b) => a - b), q);
}

/** The `q` quantile of samples already sorted ascending (nearest rank). */
export function quantileOfSorted(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
}

export function ratio(value: number, baseline: number): string {
  return `${(value / baseline).toFixed(2)}x`;
}


export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i])).join('  ');
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

/** The value after `--name` on the command line. */
export function argValue(name: string): string | undefined {
  const index = process.argv.indexOf(name);
  return index === -1 ? undefined : process.argv[index + 1];
}

/** Runs `run` when the file is executed directly (`npx tsx bench/<name>.ts`), not when imported. */
export function runIfMain(url: string, run: () => Promise<unknown>): void {
  if (!process.argv[1] || url !== pathToFileURL(process.argv[1]).href) return;
  run().catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  });
}
