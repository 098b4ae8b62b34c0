/**
 * Deferred jobs, end to end: pack and submit 50,000 chat requests and read 50,000 results
 * through the local OpenAI-compatible server running in its own process, then the same work
 * as a hand-written loop over the `openai` client (build JSONL, upload, create the batch,
 * poll, read the output file). Prints wall time, peak RSS and heap, and bytes uploaded, side
 * by side from one run. Results are streamed: neither path keeps all 50,000 answers.
 *
 * Run: `npx tsx bench/jobs.ts [items] [rounds]` (or through bench/run.ts, which imports `run`).
 */
import OpenAI, { toFile } from 'openai';
import { pathToFileURL } from 'node:url';
import { openai } from '../providers/openai/index.js';
import { Jobs } from '../src/batching/jobs/index.js';
import { pollingClock } from '../test/helpers/virtual-clock.js';
import { memoryStore } from '../src/stores/memory.js';
import { spawnServer, type SpawnedServer } from '../test/servers/standalone.js';

export interface JobsBenchRow {
  name: string;
  ms: number;
  peakRssMb: number;
  peakHeapMb: number;
  uploadedBytes: number;
  results: number;
}

/** Samples memory every 20 ms while `body` runs; the sampler never keeps the process alive. */
async function measure(name: string, body: () => Promise<{ uploadedBytes: number; results: number }>): Promise<JobsBenchRow> {
  globalThis.gc?.();
  let peakRss = 0;
  let peakHeap = 0;
  const sample = () => {
    const usage = process.memoryUsage();
    peakRss = Math.max(peakRss, usage.rss);
    peakHeap = Math.max(peakHeap, usage.heapUsed);
  };
  const timer = setInterval(sample, 20);
  timer.unref();
  const started = performance.now();
  try {
    const outcome = await body();
    sample();
    return { name, ms: Math.round(performance.now() - started), peakRssMb: peakRss / 2 ** 20, peakHeapMb: peakHeap / 2 ** 20, ...outcome };
  } finally {
    clearInterval(timer);
  }
}

const prompt = (index: number) => `Summarise ticket ${index}: the customer reports that the export button does nothing.`;

async function viaJobs(server: SpawnedServer, count: number): Promise<{ uploadedBytes: number; results: number }> {
  const target = openai({ model: 'gpt-4.1-mini', kind: 'batch', baseURL: server.baseURL, apiKey: 'sk-bench-0000000000' });
  const store = memoryStore();
  const jobs = new Jobs({
    store,
    targets: [target],
    emit: () => {},
    runOnline: () => Promise.reject(new Error('not used')),
    // Each poll moves the server's batches one stage instead of waiting on a clock.
    clock: pollingClock(() => server.advanceBatches()),
  });
  const items = Array.from({ length: count }, (_, index) => ({ id: `ticket-${index}`, prompt: prompt(index), maxOutputTokens: 64 }));
  const handle = await jobs.submit(items);
  items.length = 0;
  await handle.wait({ pollIntervalMs: 1 });
  let results = 0;
  for await (const result of handle.results()) if (result.ok) results++;
  // The record keeps the bytes of the items as the adapter encodes them (JSONL lines).
  const record = await store.get(`jobs:${handle.id}`);
  return { uploadedBytes: record ? (JSON.parse(record.value) as { bytes: number }).bytes : 0, results };
}

async function byHand(server: SpawnedServer, count: number): Promise<{ uploadedBytes: number; results: number }> {
  const client = new OpenAI({ baseURL: server.baseURL, apiKey: 'sk-bench-0000000000' });
  const lines: string[] = [];
  for (let index = 0; index < count; index++) {
    lines.push(
      JSON.stringify({
        custom_id: `ticket-${index}`,
        method: 'POST',
        url: '/v1/chat/completions',
        body: { model: 'gpt-4.1-mini', messages: [{ role: 'user', content: prompt(index) }], max_completion_tokens: 64 },
      }),
    );
  }
  const bytes = Buffer.from(`${lines.join('\n')}\n`);
  lines.length = 0;
  const file = await client.files.create({ file: await toFile(bytes, 'batch.jsonl'), purpose: 'batch' });
  let batch = await client.batches.create({ input_file_id: file.id, endpoint: '/v1/chat/completions', completion_window: '24h' });
  while (!['completed', 'failed', 'expired', 'cancelled'].includes(batch.status)) {
    await server.advanceBatches();
    batch = await client.batches.retrieve(batch.id);
  }
  // The hand-written loop does not split: above 50,000 lines the provider rejects the file.
  if (!batch.output_file_id) throw new Error(`the hand-written batch ended ${batch.status} without an output file (more than 50,000 lines needs splitting)`);
  let results = 0;
  const response = await client.files.content(batch.output_file_id);
  const reader = (response.body as ReadableStream<Uint8Array>).getReader();
  const decoder = new TextDecoder();
  let pending = '';
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    pending += decoder.decode(value, { stream: true });
    let newline: number;
    while ((newline = pending.indexOf('\n')) >= 0) {
      const line = pending.slice(0, newline);
      pending = pending.slice(newline + 1);
      if (line && (JSON.parse(line) as { response?: { status_code: number } }).response?.status_code === 200) results++;
    }
  }
  return { uploadedBytes: bytes.length, results };
}

const median = (values: number[]) => [...values].sort((x, y) => x - y)[Math.floor(values.length / 2)];

/**
 * One warm-up of each path (not counted: the first run of either pays for JIT and connections),
 * then `rounds` rounds of both, the order alternating, so both see the same machine. On a shared
 * machine the load drifts: the ratio that counts is the median of each round's own ratio.
 */
export async function run(options: { items?: number; rounds?: number } = {}): Promise<JobsBenchRow[]> {
  const count = options.items ?? 50_000;
  const rounds = options.rounds ?? 5;
  const server = await spawnServer({ profile: 'bench' });
  const paths = [
    { name: 'inferlane jobs', body: () => viaJobs(server, count) },
    { name: 'openai client by hand', body: () => byHand(server, count) },
  ];
  try {
    for (const path of paths) await measure(path.name, path.body);
    const rows: JobsBenchRow[][] = [[], []];
    for (let round = 0; round < rounds; round++) {
      const order = round % 2 === 0 ? [0, 1] : [1, 0];
      for (const index of order) rows[index].push(await measure(paths[index].name, paths[index].body));
    }
    const summary = rows.map((runs) => ({
      ...runs[0],
      ms: median(runs.map((row) => row.ms)),
      peakRssMb: median(runs.map((row) => row.peakRssMb)),
      peakHeapMb: median(runs.map((row) => row.peakHeapMb)),
    }));
    for (const [index, row] of summary.entries()) {
      console.log(
        `${row.name.padEnd(24)} median ${String(row.ms).padStart(6)} ms (runs ${rows[index].map((run) => run.ms).join(', ')})  peak rss ${row.peakRssMb.toFixed(0).padStart(4)} MB  peak heap ${row.peakHeapMb.toFixed(0).padStart(4)} MB (max ${Math.max(...rows[index].map((run) => run.peakHeapMb)).toFixed(0)})  uploaded ${(row.uploadedBytes / 1e6).toFixed(1)} MB  results ${row.results}`,
      );
    }
    const ratios = rows[0].map((row, round) => row.ms / rows[1][round].ms);
    console.log(
      `jobs / by hand: time ${median(ratios).toFixed(2)}x (median of ${rounds} paired rounds: ${ratios.map((ratio) => ratio.toFixed(2)).join(', ')}), peak heap ${(summary[0].peakHeapMb / summary[1].peakHeapMb).toFixed(2)}x`,
    );
    return summary;
  } finally {
    await server.close();
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const items = Number(process.argv[2] ?? 50_000);
  const rounds = Number(process.argv[3] ?? 5);
  run({ items, rounds }).catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  });
}
