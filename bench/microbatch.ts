/**
 * bench/microbatch: what client-side micro-batching buys for embeddings.
 *
 * The OpenAI-compatible server runs in its own process and charges a per-request cost model
 * (5 ms per request + 0.05 ms per input) behind a concurrency limit of 8, as a real embedding
 * endpoint does. In one run, side by side:
 *   batching on    10,000 concurrent `client.embed({ input })`, micro-batched (server defaults)
 *   batching off   the same through a client with `microBatch: false`: one request per call
 *   ai-sdk         `embed()` from `ai` with `@ai-sdk/openai`, one request per call
 * then a light-load pass (calls one after the other) that measures the latency batching adds.
 * Printed: throughput, p50/p99 caller latency, provider requests, and ratios to batching off.
 * Target: at least 10x the throughput of batching off; p50 added latency at light load at most maxWaitMs.
 *
 *   npx tsx bench/microbatch.ts [--calls 10000] [--light 200]
 */
import { createOpenAI } from '@ai-sdk/openai';
import { embed } from 'ai';
import { createClient } from '../src/index.js';
import { microBatchDefaults } from '../src/batching/micro-batcher.js';
import { openai } from '../providers/openai/index.js';
import { spawnServer } from '../test/servers/standalone.js';
import { argValue, quantile, ratio, runIfMain, table } from './util.js';

const model = 'text-embedding-3-small';
/** Over 2 s is the batch segment; targets without a batch endpoint serve it online. Big so no call times out under 10,000 at once. */
const budgetMs = 600_000;

interface Outcome {
  name: string;
  ms: number;
  latencies: number[];
  requests: number;
  failures: number;
  /** Failures by error code (or name). */
  reasons: Map<string, number>;
}

/** A fetch that counts the requests it makes: the real network call, only counted. */
function countingFetch(): { fetch: typeof globalThis.fetch; count: () => number } {
  let count = 0;
  return {
    fetch: (input, init) => {
      count++;
      return globalThis.fetch(input, init);
    },
    count: () => count,
  };
}

async function measure(name: string, texts: string[], call: (text: string) => Promise<unknown>, requests: () => number): Promise<Outcome> {
  const latencies: number[] = new Array(texts.length);
  let failures = 0;
  const reasons = new Map<string, number>();
  const before = requests();
  const start = performance.now();
  await Promise.all(
    texts.map(async (text, index) => {
      const begin = performance.now();
      try {
        await call(text);
      } catch (error) {
        failures++;
        const reason = String((error as { code?: unknown }).code ?? (error as Error).name ?? 'error');
        reasons.set(reason, (reasons.get(reason) ?? 0) + 1);
      }
      latencies[index] = performance.now() - begin;
    }),
  );
  return { name, ms: performance.now() - start, latencies, requests: requests() - before, failures, reasons };
}

async function sequential(texts: string[], call: (text: string) => Promise<unknown>): Promise<number[]> {
  const latencies: number[] = [];
  for (const text of texts) {
    const begin = performance.now();
    await call(text);
    latencies.push(performance.now() - begin);
  }
  return latencies;
}

export async function run(options: { calls?: number; light?: number } = {}): Promise<void> {
  const calls = options.calls ?? Number(argValue('--calls') ?? 10_000);
  const light = options.light ?? Number(argValue('--light') ?? 200);
  const server = await spawnServer({ profile: 'bench', options: { embeddingCost: { perRequestMs: 5, perInputMs: 0.05 }, maxConcurrent: 8 } });
  try {
    const defaults = microBatchDefaults('server', 'embedding');
    const onFetch = countingFetch();
    const offFetch = countingFetch();
    const sdkFetch = countingFetch();
    // The queue bound (4 x maxBatchSize by default) would reject most of a 10,000-call burst with
    // QueueFullError; here every call must be served, so the bound is raised to the burst.
    const batched = createClient({
      runtime: 'server',
      targets: [openai({ model, baseURL: server.baseURL, apiKey: 'bench', fetch: onFetch.fetch, microBatch: { maxQueue: calls } })],
    });
    const unbatched = createClient({
      runtime: 'server',
      targets: [openai({ model, baseURL: server.baseURL, apiKey: 'bench', fetch: offFetch.fetch })],
      microBatch: false,
    });
    const sdkModel = createOpenAI({ baseURL: server.baseURL, apiKey: 'bench', fetch: sdkFetch.fetch }).embedding(model);

    const contenders: { name: string; call: (text: string) => Promise<unknown>; requests: () => number }[] = [
      { name: 'batching on', call: (text) => batched.embed({ input: text, latency: budgetMs }), requests: onFetch.count },
      { name: 'batching off', call: (text) => unbatched.embed({ input: text, latency: budgetMs }), requests: offFetch.count },
      { name: 'ai-sdk embed', call: (text) => embed({ model: sdkModel, value: text, maxRetries: 0 }), requests: sdkFetch.count },
    ];

    // Warm-up: load modules, open connections, fill the router's latency stats.
    for (const contender of contenders) await Promise.all(Array.from({ length: 20 }, (_, index) => contender.call(`warm up ${index}`)));

    const texts = Array.from({ length: calls }, (_, index) => `document ${index}: notes on ${['latency', 'budgets', 'batching', 'routing'][index % 4]} ${index * 31}`);
    const outcomes: Outcome[] = [];
    for (const contender of contenders) outcomes.push(await measure(contender.name, texts, contender.call, contender.requests));

    const off = outcomes.find((outcome) => outcome.name === 'batching off')!;
    const throughput = (outcome: Outcome) => (outcome.latencies.length - outcome.failures) / (outcome.ms / 1000);
    console.log(`\nmicro-batching: ${calls.toLocaleString('en-US')} concurrent single-text embed calls; server 5 ms/request + 0.05 ms/input, 8 at once (own process)\n`);
    console.log(
      table(
        ['path', 'wall ms', 'calls/s', 'p50 ms', 'p99 ms', 'requests', 'failed', 'throughput vs off'],
        outcomes.map((outcome) => [
          outcome.name,
          outcome.ms.toFixed(0),
          throughput(outcome).toFixed(0),
          quantile(outcome.latencies, 0.5).toFixed(1),
          quantile(outcome.latencies, 0.99).toFixed(1),
          String(outcome.requests),
          String(outcome.failures),
          ratio(throughput(outcome), throughput(off)),
        ]),
      ),
    );

    for (const outcome of outcomes) {
      if (outcome.failures > 0) console.log(`${outcome.name} failures: ${[...outcome.reasons].map(([reason, count]) => `${reason} x${count}`).join(', ')}`);
    }

    // Light load: one call at a time, so the only difference is the batching window.
    const lightTexts = Array.from({ length: light }, (_, index) => `light ${index}`);
    const waits: number[] = [];
    const lightOn = await sequential(lightTexts, async (text) => {
      const response = await batched.embed({ input: text, latency: budgetMs });
      waits.push(response.route.batched?.waitMs ?? 0);
    });
    const lightOff = await sequential(lightTexts, contenders[1].call);
    const added = quantile(lightOn, 0.5) - quantile(lightOff, 0.5);
    console.log(
      `\nlight load (${light} calls one at a time): p50 ${quantile(lightOn, 0.5).toFixed(1)} ms batching on, ${quantile(lightOff, 0.5).toFixed(1)} ms off: ` +
        `added ${added.toFixed(1)} ms; the batcher's own p50 wait ${quantile(waits, 0.5).toFixed(1)} ms (maxWaitMs ${defaults.maxWaitMs}; timers fire late on a busy machine)`,
    );
    const speedup = throughput(outcomes[0]) / throughput(off);
    console.log(
      `target: >= 10x throughput vs off: ${speedup >= 10 ? 'met' : 'NOT met'} (${speedup.toFixed(1)}x); ` +
        `p50 added latency <= ${defaults.maxWaitMs} ms: ${added <= defaults.maxWaitMs ? 'met' : 'NOT met'}\n`,
    );
  } finally {
    await server.close();
  }
}


runIfMain(import.meta.url, () => run());
