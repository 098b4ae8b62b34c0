import { execFile } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { redisStore } from '../../src/stores/redis.js';
import { redisAvailable, startRedis, type RunningRedis } from '../helpers/redis.js';
import { formatDuration, main, progressLine } from '../../src/cli.js';
import { openai } from '../../providers/openai/index.js';
import { startOpenAIServer, type OpenAIServer } from '../servers/openai-compatible.js';
import { Jobs } from '../../src/batching/jobs/index.js';
import { memoryStore } from '../../src/stores/memory.js';
import type { Target } from '../../src/target.js';

function io(isTty: boolean) {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, io: { out: (line: string) => out.push(line), err: (line: string) => err.push(line), isTty, sleep: async () => {} } };
}

async function onlineJob(count: number) {
  const store = memoryStore();
  const target: Target = { id: 'cloud', kind: 'cloud', modalities: ['text'], doGenerate: async () => ({ text: 'x', finishReason: 'stop' }) };
  const jobs = new Jobs({
    store,
    targets: [target],
    emit: () => {},
    runOnline: async (_operation, item) => ({ customId: item.id, ok: true, text: { text: `answer ${item.prompt}`, finishReason: 'stop' } }),
  });
  const handle = await jobs.submit(Array.from({ length: count }, (_, index) => ({ id: `i${index}`, prompt: `p${index}` })));
  return { store, jobs, handle };
}

describe('inferlane jobs CLI', () => {
  it('lists jobs with status and counts', async () => {
    const { store, handle } = await onlineJob(3);
    await handle.wait({ pollIntervalMs: 60_000 });
    const run = io(false);
    expect(await main(['jobs', 'list'], run.io, store)).toBe(0);
    expect(run.out).toHaveLength(1);
    expect(run.out[0]).toContain(`${handle.id} completed total=3 completed=3 failed=0`);
  });

  it('watch prints plain lines off a TTY and a bar on a TTY, and exits at a terminal state', async () => {
    const { store, handle } = await onlineJob(4);
    await handle.wait({ pollIntervalMs: 60_000 });
    const plain = io(false);
    expect(await main(['jobs', 'watch', handle.id], plain.io, store)).toBe(0);
    expect(plain.out).toEqual([`${handle.id} completed total=4 completed=4 failed=0`]);
    const tty = io(true);
    expect(await main(['jobs', 'watch', handle.id], tty.io, store)).toBe(0);
    expect(tty.out[0]).toMatch(/^\r\[#{24}\] 100% 4\/4 ok 4 failed 0 completed$/);
  });

  it('results prints the parts and, for online jobs, every stored result', async () => {
    const { store, handle, jobs } = await onlineJob(3);
    await handle.wait({ pollIntervalMs: 60_000 });
    const run = io(false);
    expect(await main(['jobs', 'results', handle.id], run.io, store)).toBe(0);
    const results = run.out.filter((line) => line.startsWith('{')).map((line) => JSON.parse(line));
    expect(results.map((result) => result.id).sort()).toEqual(['i0', 'i1', 'i2']);
    // The CLI read does not move the worker's saved cursor.
    let count = 0;
    for await (const _ of jobs.results(handle.id)) count++;
    expect(count).toBe(3);
  });

  it('fails clearly without a store or with an unknown job', async () => {
    const saved = process.env.REDIS_URL;
    delete process.env.REDIS_URL;
    const run = io(false);
    expect(await main(['jobs', 'list'], run.io)).toBe(2);
    expect(run.err[0]).toContain('REDIS_URL');
    if (saved !== undefined) process.env.REDIS_URL = saved;
    const missing = io(false);
    expect(await main(['jobs', 'watch', 'job_nope'], missing.io, memoryStore())).toBe(1);
    expect(missing.err[0]).toContain("no job with id 'job_nope'");
  });

  it('refuses a watch interval that is not a positive number instead of polling without pause', async () => {
    const { store, handle } = await onlineJob(1);
    for (const interval of ['soon', '0', '-5']) {
      const run = io(false);
      expect(await main(['jobs', 'watch', handle.id, '--interval', interval], run.io, store)).toBe(2);
      expect(run.err[0]).toContain('--interval must be a positive number');
    }
  });

  it('formats a partial bar with an ETA', () => {
    const line = progressLine({ id: 'j', status: 'in_progress', counts: { total: 1000, completed: 390, failed: 10 }, etaMs: 125_000 } as never, 10);
    expect(line).toBe('[####------]  40% 400/1000 ok 390 failed 10 in_progress eta 2m 5s');
    expect(formatDuration(7_500_000)).toBe('2h 5m');
  });
});

describe('inferlane jobs results for a provider batch job', () => {
  let server: OpenAIServer;
  beforeAll(async () => {
    server = await startOpenAIServer({ batches: { timeline: { validatingMs: 5, inProgressMs: 10, finalizingMs: 5 }, failItems: /FAIL/ } });
  });
  afterAll(() => server.close());

  it('reads every item from the provider files with OPENAI_API_KEY and the base URL, and says how when they are missing', async () => {
    const store = memoryStore();
    const target = openai({ id: 'openai-batch', model: 'm', kind: 'batch', baseURL: server.baseURL, apiKey: 'sk-cli-test-1234567890' });
    const jobs = new Jobs({ store, targets: [target], emit: () => {}, runOnline: () => Promise.reject(new Error('not used')) });
    const handle = await jobs.submit(['one', 'two', 'FAIL three'].map((prompt, index) => ({ id: `item-${index}`, prompt })));
    await handle.wait({ pollIntervalMs: 10, maxPollIntervalMs: 20 });
    const saved = { key: process.env.OPENAI_API_KEY, url: process.env.OPENAI_BASE_URL };
    delete process.env.OPENAI_BASE_URL;
    try {
      delete process.env.OPENAI_API_KEY;
      const hint = io(false);
      expect(await main(['jobs', 'results', handle.id], hint.io, store)).toBe(0);
      expect(hint.out.at(-1)).toContain('pass --openai-base-url');
      process.env.OPENAI_API_KEY = 'sk-cli-test-1234567890';
      const run = io(false);
      expect(await main(['jobs', 'results', handle.id, '--openai-base-url', server.baseURL], run.io, store)).toBe(0);
      expect(run.out[0]).toContain(`${handle.id} completed total=3 completed=2 failed=1`);
      expect(run.out[1]).toMatch(/^part 0: 3 items completed .* batch=batch_/);
      const results = run.out.filter((line) => line.startsWith('{')).map((line) => JSON.parse(line));
      expect(results.map((result) => [result.id, result.ok]).sort()).toEqual([
        ['item-0', true],
        ['item-1', true],
        ['item-2', false],
      ]);
      expect(results.find((result) => result.id === 'item-0').result.text).toContain('one');
      expect(run.out.join('\n')).not.toContain('sk-cli-test');
    } finally {
      if (saved.key === undefined) delete process.env.OPENAI_API_KEY;
      else process.env.OPENAI_API_KEY = saved.key;
      if (saved.url !== undefined) process.env.OPENAI_BASE_URL = saved.url;
    }
  });
});

describe.runIf(redisAvailable())('inferlane jobs through the .bin symlink npm installs (npx inferlane)', () => {
  const root = fileURLToPath(new URL('../..', import.meta.url));
  const bundleDirectory = `${root}node_modules/.cache/inferlane-test/cli-${process.pid}`;
  let redis: RunningRedis;
  let binDirectory: string;
  beforeAll(async () => {
    // The CLI as the package ships it (an ESM bundle with its shebang), behind a symlink named
    // `inferlane` in a node_modules/.bin of another folder, as npm links a bin.
    mkdirSync(bundleDirectory, { recursive: true });
    await build({ entryPoints: [`${root}src/cli.ts`], bundle: true, platform: 'node', format: 'esm', target: 'node20', external: ['ioredis', 'openai'], outfile: `${bundleDirectory}/cli.js`, logLevel: 'warning' });
    chmodSync(`${bundleDirectory}/cli.js`, 0o755);
    binDirectory = join(mkdtempSync(join(tmpdir(), 'inferlane-app-')), 'node_modules', '.bin');
    mkdirSync(binDirectory, { recursive: true });
    symlinkSync(`${bundleDirectory}/cli.js`, join(binDirectory, 'inferlane'));
    redis = await startRedis();
  });
  afterAll(async () => {
    rmSync(bundleDirectory, { recursive: true, force: true });
    if (binDirectory) rmSync(join(binDirectory, '..', '..'), { recursive: true, force: true });
    await redis?.stop();
  });

  it('jobs list prints every job, a scheduled one with its start time, and exits 0', async () => {
    const store = redisStore({ url: redis.url, keyPrefix: 'inferlane:' });
    const target: Target = { id: 'cloud', kind: 'cloud', modalities: ['text'], doGenerate: async () => ({ text: 'x', finishReason: 'stop' }) };
    const jobs = new Jobs({ store, targets: [target], emit: () => {}, runOnline: async (_operation, item) => ({ customId: item.id, ok: true, text: { text: 'done', finishReason: 'stop' } }) });
    const done = await jobs.submit([{ id: 'a', prompt: 'now' }]);
    await done.wait({ pollIntervalMs: 60_000 });
    const later = Date.now() + 86_400_000;
    const scheduled = await jobs.submit([{ id: 'b', prompt: 'tomorrow' }], { notBefore: later });
    await jobs.close();
    await store.close?.();

    const run = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      const child = execFile(join(binDirectory, 'inferlane'), ['jobs', 'list'], { env: { ...process.env, REDIS_URL: redis.url } }, (_error, stdout, stderr) => resolve({ code: child.exitCode, stdout, stderr }));
    });
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const lines = run.stdout.trim().split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toContain(`${done.id} completed total=1 completed=1 failed=0`);
    expect(lines[1]).toContain(`${scheduled.id} scheduled total=1 completed=0 failed=0 starts=${new Date(later).toISOString()}`);
  });
});
