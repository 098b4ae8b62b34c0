/**
 * bench/cold-start: what a serverless function pays before its first answer. Each sample is a
 * fresh Node process that imports the library, builds its client and makes one chat call to the
 * local server (its own process, no added latency), timing each step from inside the child:
 *   direct     the `openai` client alone
 *   inferlane  createClient with one openai() target (the built package in dist/)
 *   ai-sdk     generateText with @ai-sdk/openai
 * The order of contenders is shuffled per round (seeded). Printed: the median of each step.
 *
 *   npx tsx bench/cold-start.ts [--rounds 15]
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { spawnServer } from '../test/servers/standalone.js';
import { argValue, mulberry32, quantile, runIfMain, table } from './util.js';

const root = fileURLToPath(new URL('../', import.meta.url));

/** The child's script per contender: import, client, first call; prints the three times as JSON. */
const scripts: Record<string, string> = {
  direct: `
    const t0 = performance.now();
    const { default: OpenAI } = await import('openai');
    const t1 = performance.now();
    const client = new OpenAI({ baseURL: process.env.BASE_URL, apiKey: 'bench', maxRetries: 0 });
    const t2 = performance.now();
    await client.chat.completions.create({ model: 'bench-model', messages: [{ role: 'user', content: 'hello' }] });
    const t3 = performance.now();
    console.log(JSON.stringify({ importMs: t1 - t0, clientMs: t2 - t1, firstCallMs: t3 - t2 }));`,
  inferlane: `
    const t0 = performance.now();
    const { createClient } = await import('./dist/index.js');
    const { openai } = await import('./dist/providers/openai.js');
    const t1 = performance.now();
    const client = createClient({ targets: [openai({ model: 'bench-model', baseURL: process.env.BASE_URL, apiKey: 'bench' })] });
    const t2 = performance.now();
    await client.generate({ messages: [{ role: 'user', content: 'hello' }] });
    const t3 = performance.now();
    console.log(JSON.stringify({ importMs: t1 - t0, clientMs: t2 - t1, firstCallMs: t3 - t2 }));`,
  'ai-sdk': `
    const t0 = performance.now();
    const { generateText } = await import('ai');
    const { createOpenAI } = await import('@ai-sdk/openai');
    const t1 = performance.now();
    const model = createOpenAI({ baseURL: process.env.BASE_URL, apiKey: 'bench' }).chat('bench-model');
    const t2 = performance.now();
    await generateText({ model, messages: [{ role: 'user', content: 'hello' }], maxRetries: 0 });
    const t3 = performance.now();
    console.log(JSON.stringify({ importMs: t1 - t0, clientMs: t2 - t1, firstCallMs: t3 - t2 }));`,
};

interface Sample {
  importMs: number;
  clientMs: number;
  firstCallMs: number;
  processMs: number;
}

function runChild(script: string, baseURL: string): Promise<Sample> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { cwd: root, env: { ...process.env, BASE_URL: baseURL } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) return reject(new Error(`child exited ${code}: ${stderr.slice(0, 500)}`));
      resolve({ ...(JSON.parse(stdout.trim().split('\n').at(-1)!) as Omit<Sample, 'processMs'>), processMs: performance.now() - started });
    });
  });
}

export async function run(options: { rounds?: number } = {}): Promise<Record<string, number>> {
  const rounds = options.rounds ?? Number(argValue('--rounds') ?? 15);
  if (!existsSync(`${root}dist/index.js`)) throw new Error('bench/cold-start needs the build: run `npm run build` (npm run bench builds first)');
  const server = await spawnServer({ profile: 'bench', options: { maxReplyWords: 8 } });
  try {
    const random = mulberry32(7);
    const samples = new Map<string, Sample[]>(Object.keys(scripts).map((name) => [name, []]));
    // One untimed round: the file system cache, as a warm serverless host has it.
    for (const script of Object.values(scripts)) await runChild(script, server.baseURL);
    for (let round = 0; round < rounds; round++) {
      const order = Object.keys(scripts).sort(() => random() - 0.5);
      for (const name of order) samples.get(name)!.push(await runChild(scripts[name], server.baseURL));
    }
    const results: Record<string, number> = {};
    const rows = [...samples].map(([name, list]) => {
      const median = (key: keyof Sample) => quantile(list.map((sample) => sample[key]), 0.5);
      for (const key of ['importMs', 'clientMs', 'firstCallMs', 'processMs'] as const) results[`${name}.${key}`] = median(key);
      const toAnswer = median('importMs') + median('clientMs') + median('firstCallMs');
      return [name, median('importMs').toFixed(1), median('clientMs').toFixed(2), median('firstCallMs').toFixed(1), toAnswer.toFixed(1), median('processMs').toFixed(0)];
    });
    console.log(`\ncold start: ${rounds} fresh processes per contender, shuffled; medians, ms`);
    console.log(table(['contender', 'import', 'client', 'first call', 'import to answer', 'whole process'], rows));
    return results;
  } finally {
    await server.close();
  }
}

runIfMain(import.meta.url, () => run());
