/**
 * bench/overhead: what inferlane costs on top of the plain `openai` client, next to the AI SDK.
 *
 * The local server runs in its own process with zero added latency. Each iteration runs the
 * contenders in a shuffled order (seeded), thousands of calls after a warm-up, in one run:
 *   direct   openai.chat.completions.create
 *   inferlane client.generate / client.stream through providers/openai
 *   ai-sdk   generateText / streamText with @ai-sdk/openai
 * inferlane is measured as users get it: the built package in dist/ (`npm run bench` builds it
 * first); without a build it falls back to the TypeScript sources through tsx, which is slower.
 * Printed: per-call median and p99 with the ratio to direct (and its range over five blocks of
 * consecutive iterations), throughput at concurrency 64 (five rounds, the ratio to direct taken
 * within each round, median and range).
 * Target: inferlane within 1.10x of direct (streaming too) and at least 0.90x its throughput.
 *
 * To compare two builds side by side in one run (a change against the commit before it), point
 * INFERLANE_BASELINE_DIST at the other build's dist/ folder: it joins as 'inferlane (baseline)'.
 *
 *   npx tsx bench/overhead.ts [--calls 3000]
 *   INFERLANE_BASELINE_DIST=/path/to/other/dist npm run bench -- overhead
 */
import { createOpenAI } from '@ai-sdk/openai';
import { generateText, streamText } from 'ai';
import { pathToFileURL } from 'node:url';
import OpenAI from 'openai';
import { spawnServer } from '../test/servers/standalone.js';
import { argValue, mulberry32, quantile, ratio, runIfMain, table } from './util.js';

type Contender = { name: string; generate: () => Promise<unknown>; stream: () => Promise<unknown> };

export async function run(options: { calls?: number; concurrency?: number } = {}): Promise<Record<string, number>> {
  const calls = options.calls ?? Number(argValue('--calls') ?? 3000);
  const concurrency = options.concurrency ?? 64;
  const { createClient, openai, build } = await loadInferlane();
  console.log(`inferlane from ${build}`);
  const server = await spawnServer({ profile: 'bench', options: { maxReplyWords: 8 } });
  try {
    const direct = new OpenAI({ baseURL: server.baseURL, apiKey: 'bench', maxRetries: 0 });
    const inferlane = createClient({ targets: [openai({ model: 'bench-model', baseURL: server.baseURL, apiKey: 'bench' })], microBatch: false });
    const sdk = createOpenAI({ baseURL: server.baseURL, apiKey: 'bench' }).chat('bench-model');
    const messages = [{ role: 'user' as const, content: 'Say something short about latency budgets.' }];

    const baseline = await loadBaseline();
    const baselineClient = baseline?.createClient({ targets: [baseline.openai({ model: 'bench-model', baseURL: server.baseURL, apiKey: 'bench' })], microBatch: false });
    const contenders: Contender[] = [
      {
        name: 'direct openai',
        generate: () => direct.chat.completions.create({ model: 'bench-model', messages }),
        stream: async () => {
          const stream = await direct.chat.completions.create({ model: 'bench-model', messages, stream: true, stream_options: { include_usage: true } });
          for await (const _ of stream) void _;
        },
      },
      {
        name: 'inferlane',
        generate: () => inferlane.generate({ messages, latency: 'interactive' }),
        stream: async () => {
          for await (const _ of inferlane.stream({ messages, latency: 'interactive' })) void _;
        },
      },
      ...(baselineClient
        ? [
            {
              name: 'inferlane (baseline)',
              generate: () => baselineClient.generate({ messages, latency: 'interactive' }),
              stream: async () => {
                for await (const _ of baselineClient.stream({ messages, latency: 'interactive' })) void _;
              },
            },
          ]
        : []),
      {
        name: 'ai-sdk',
        generate: () => generateText({ model: sdk, messages, maxRetries: 0 }),
        stream: async () => {
          const result = streamText({ model: sdk, messages, maxRetries: 0 });
          for await (const _ of result.textStream) void _;
        },
      },
    ];

    const random = mulberry32(42);
    const results: Record<string, number> = {};
    for (const mode of ['generate', 'stream'] as const) {
      // Warm-up: JIT, sockets, lazy imports.
      for (let i = 0; i < 200; i++) for (const c of contenders) await c[mode]();
      const samples = new Map<string, number[]>(contenders.map((c) => [c.name, []]));
      for (let i = 0; i < calls; i++) {
        const order = [...contenders].sort(() => random() - 0.5);
        for (const c of order) {
          const t0 = performance.now();
          await c[mode]();
          samples.get(c.name)!.push(performance.now() - t0);
        }
      }
      const rows: string[][] = [];
      const directMedian = quantile(samples.get('direct openai')!, 0.5);
      // The median ratio also per block of consecutive iterations: how far it moves within one run.
      const blocks = 5;
      const blockRatios = (name: string) => {
        const own = samples.get(name)!;
        const base = samples.get('direct openai')!;
        const size = Math.floor(own.length / blocks);
        return Array.from({ length: blocks }, (_, b) => quantile(own.slice(b * size, (b + 1) * size), 0.5) / quantile(base.slice(b * size, (b + 1) * size), 0.5));
      };
      // Throughput: five rounds in rotated order, so warm-up and machine drift do not favour
      // whoever runs last. The ratio to the direct call is taken within each round (the machine's
      // speed drifts between rounds more than the contenders differ) and reported as the median
      // with its range.
      const throughputRounds = 5;
      const rounds = new Map<string, number[]>(contenders.map((c) => [c.name, []]));
      for (let round = 0; round < throughputRounds; round++) {
        for (let k = 0; k < contenders.length; k++) {
          const c = contenders[(k + round) % contenders.length];
          rounds.get(c.name)!.push(await measureThroughput(c[mode], concurrency, Math.max(2000, calls)));
        }
      }
      const directRounds = rounds.get('direct openai')!;
      for (const c of contenders) {
        const s = samples.get(c.name)!;
        const median = quantile(s, 0.5);
        const p99 = quantile(s, 0.99);
        const perRound = rounds.get(c.name)!;
        const ratios = perRound.map((value, round) => value / directRounds[round]);
        const throughput = quantile(perRound, 0.5);
        const throughputRatio = quantile(ratios, 0.5);
        const spread = `${Math.min(...ratios).toFixed(2)}-${Math.max(...ratios).toFixed(2)}`;
        const medianRatios = blockRatios(c.name);
        const medianSpread = `${Math.min(...medianRatios).toFixed(2)}-${Math.max(...medianRatios).toFixed(2)}`;
        rows.push([c.name, median.toFixed(3), p99.toFixed(3), `${ratio(median, directMedian)} (${medianSpread})`, `${Math.round(throughput)}`, `${throughputRatio.toFixed(2)}x (${spread})`]);
        results[`${mode}.${c.name}.medianMs`] = median;
        results[`${mode}.${c.name}.throughput`] = throughput;
        results[`${mode}.${c.name}.throughputRatio`] = throughputRatio;
      }
      console.log(`\n${mode}: ${calls} calls each, shuffled order, server in its own process`);
      console.log(table(['contender', 'median ms', 'p99 ms', 'vs direct (per-block range)', `req/s @${concurrency}`, 'throughput vs direct (per-round range)'], rows));
    }
    return results;
  } finally {
    await server.close();
  }
}

/** The built package when there is one (what users run), else the sources. */
async function loadInferlane() {
  try {
    const core = await import('../dist/index.js' as string);
    const provider = await import('../dist/providers/openai.js' as string);
    return { createClient: core.createClient as typeof import('../src/index.js').createClient, openai: provider.openai as typeof import('../providers/openai/index.js').openai, build: 'dist/ (built)' };
  } catch {
    const core = await import('../src/index.js');
    const provider = await import('../providers/openai/index.js');
    return { createClient: core.createClient, openai: provider.openai, build: 'src/ through tsx (run `npm run build` for the real figures)' };
  }
}

/** The build INFERLANE_BASELINE_DIST points at, if any. */
async function loadBaseline() {
  const dist = process.env.INFERLANE_BASELINE_DIST;
  if (!dist) return undefined;
  const core = await import(pathToFileURL(`${dist}/index.js`).href);
  const provider = await import(pathToFileURL(`${dist}/providers/openai.js`).href);
  console.log(`inferlane (baseline) from ${dist}`);
  return { createClient: core.createClient as typeof import('../src/index.js').createClient, openai: provider.openai as typeof import('../providers/openai/index.js').openai };
}

async function measureThroughput(call: () => Promise<unknown>, concurrency: number, total: number): Promise<number> {
  let started = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (started < total) {
        started++;
        await call();
      }
    }),
  );
  return total / ((performance.now() - t0) / 1000);
}


runIfMain(import.meta.url, () => run());
