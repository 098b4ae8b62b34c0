/**
 * Crash tests: real child processes, a real redis-server, the real openai adapter against the
 * local OpenAI-compatible server in its own process (spawnServer). A worker dies at a chosen point; a
 * second process resumes; the provider must have created each batch once and every item must
 * be read exactly once across both processes.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnServer, type SpawnedServer } from '../servers/standalone.js';
import { startRedis, type RunningRedis } from '../helpers/redis.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
// The worker runs as `node --import tsx test/batching/fixtures/jobs-worker.ts` too; bundled once
// here so each of the nine processes starts in a fraction of tsx's cold start.
const bundleDirectory = `${root}node_modules/.cache/inferlane-test`;
const script = `${bundleDirectory}/jobs-worker-${process.pid}.mjs`;
let redis: RunningRedis;
let raw: Redis;
let server: SpawnedServer;
/** A server whose batches move on their own (wall clock), for workers that run with default options. */
let timedServer: SpawnedServer;

beforeAll(async () => {
  mkdirSync(bundleDirectory, { recursive: true });
  await build({
    entryPoints: [`${root}test/batching/fixtures/jobs-worker.ts`],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    external: ['ioredis', 'openai'],
    outfile: script,
    logLevel: 'warning',
  });
  [redis, server, timedServer] = await Promise.all([
    startRedis(),
    spawnServer(),
    spawnServer({ options: { batches: { timeline: { validatingMs: 100, inProgressMs: 400, finalizingMs: 100 } } } }),
  ]);
  raw = new Redis(redis.url);
});
afterAll(async () => {
  rmSync(script, { force: true });
  raw?.disconnect();
  await Promise.all([redis?.stop(), server?.close(), timedServer?.close()]);
});

interface Run {
  lines: string[];
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** Runs the worker; SIGKILLs it when it prints PAUSED. `onLine` sees every line (and may signal the child). */
function worker(env: Record<string, string>, options: { onLine?: (line: string, child: ChildProcess) => void } = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [script], {
      cwd: root,
      env: { ...process.env, REDIS_URL: redis.url, SERVER_URL: server.url, ...env },
      stdio: [options.onLine ? 'pipe' : 'ignore', 'pipe', 'pipe'],
    });
    const lines: string[] = [];
    let buffer = '';
    let errors = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      buffer += chunk.toString();
      let newline: number;
      while ((newline = buffer.indexOf('\n')) >= 0) {
        const line = buffer.slice(0, newline);
        buffer = buffer.slice(newline + 1);
        lines.push(line);
        options.onLine?.(line, child);
        if (line === 'PAUSED') child.kill('SIGKILL');
      }
    });
    child.stderr!.on('data', (chunk: Buffer) => (errors += chunk.toString()));
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      if (code !== 0 && code !== 137 && signal !== 'SIGKILL') reject(new Error(`worker exited ${code}: ${errors.slice(-2000)}`));
      else resolve({ lines, code, signal });
    });
  });
}

const results = (run: Run) => run.lines.filter((line) => line.startsWith('RESULT ')).map((line) => line.split(' ')[1]);

/** Provider batches created for the jobs of this test: the server's recorded POST /v1/batches. */
async function providerCreates(prefix: string, on: SpawnedServer = server): Promise<number> {
  const ids = new Set<string>();
  for (const key of await raw.keys(`${prefix}app:v:jobs:*`)) {
    const id = key.slice(`${prefix}app:v:jobs:`.length);
    if (!id.includes(':')) ids.add(id);
  }
  const requests = await on.requests();
  return requests.filter(
    (request) => request.method === 'POST' && request.path === '/v1/batches' && ids.has((request.body as { metadata?: Record<string, string> }).metadata?.inferlane_job_id ?? ''),
  ).length;
}

function expectEachOnce(ids: string[], count: number): void {
  expect(ids).toHaveLength(count);
  expect(new Set(ids).size).toBe(count);
  for (let index = 0; index < count; index++) expect(ids).toContain(`item-${index}`);
}

describe('jobs survive a crash (redis, child processes)', () => {
  it('(a) dies after the record is written, before the provider call: the restarted worker submits once', async () => {
    const prefix = 'a:';
    const first = await worker({ PREFIX: prefix, MODE: 'submit', ITEMS: '60', OWNER: 'w1', CRASH_AT: 'before-provider' });
    expect(first.code).toBe(137);
    expect(await providerCreates(prefix)).toBe(0);
    const keys = await raw.keys(`${prefix}app:v:jobs:*`);
    expect(keys.filter((key) => !key.slice(`${prefix}app:v:jobs:`.length).includes(':'))).toHaveLength(1);
    // Same worker name: its own claim, so it need not wait for the lease.
    const second = await worker({ PREFIX: prefix, MODE: 'resume', OWNER: 'w1' });
    expect(second.lines.at(-1)).toBe('DONE');
    expect(await providerCreates(prefix)).toBe(1);
    expectEachOnce(results(second), 60);
  });

  it('(b) killed after the provider created the batch, before its id was stored: resume adopts it', async () => {
    const prefix = 'b:';
    const first = await worker({ PREFIX: prefix, MODE: 'submit', ITEMS: '60', OWNER: 'w1', CRASH_AT: 'after-create' });
    expect(first.signal).toBe('SIGKILL');
    expect(await providerCreates(prefix)).toBe(1);
    // Another worker, an hour later: the dead worker's lease has expired.
    const second = await worker({ PREFIX: prefix, MODE: 'resume', OWNER: 'w2', CLOCK_OFFSET_MS: '3600000' });
    expect(second.lines.at(-1)).toBe('DONE');
    expect(await providerCreates(prefix)).toBe(1);
    expectEachOnce(results(second), 60);
  });

  it('(c) killed while results are read: the next reader continues without duplicates or gaps', async () => {
    const prefix = 'c:';
    const first = await worker({ PREFIX: prefix, MODE: 'submit', ITEMS: '80', OWNER: 'w1', CRASH_AT: 'results:37' });
    expect(first.signal).toBe('SIGKILL');
    expect(results(first)).toHaveLength(37);
    const second = await worker({ PREFIX: prefix, MODE: 'resume', OWNER: 'w2' });
    expect(results(second)).toHaveLength(43);
    expectEachOnce([...results(first), ...results(second)], 80);
    expect(await providerCreates(prefix)).toBe(1);
  });

  it('two processes resuming the same stranded job at once create one provider batch', async () => {
    const prefix = 'd:';
    await worker({ PREFIX: prefix, MODE: 'submit', ITEMS: '50', OWNER: 'dead', CRASH_AT: 'before-provider' });
    const [one, two] = await Promise.all([
      worker({ PREFIX: prefix, MODE: 'resume', OWNER: 'r1', CLOCK_OFFSET_MS: '3600000', CRASH_AT: 'results:0' }),
      worker({ PREFIX: prefix, MODE: 'resume', OWNER: 'r2', CLOCK_OFFSET_MS: '3600000', CRASH_AT: 'results:0' }),
    ]);
    expect(one.lines).toContain('PAUSED');
    expect(two.lines).toContain('PAUSED');
    expect(await providerCreates(prefix)).toBe(1);
    // Both stopped before reading; one reader now gets one set of results.
    const reader = await worker({ PREFIX: prefix, MODE: 'resume', OWNER: 'r3' });
    expectEachOnce(results(reader), 50);
    expect(await providerCreates(prefix)).toBe(1);
  });

  it('(e) SIGKILLed during the file upload: a new process with default options finishes the job within 30 s, one batch, every item once', async () => {
    const prefix = 'e:';
    // The dying worker runs with defaults too: the 10 s lease its heartbeat renewed until the kill.
    const first = await worker({ PREFIX: prefix, MODE: 'submit', ITEMS: '60', DEFAULTS: '1', CRASH_AT: 'during-upload', SERVER_URL: timedServer.url });
    expect(first.signal).toBe('SIGKILL');
    expect(await providerCreates(prefix, timedServer)).toBe(0);
    // A restarted process: default options, a new random owner id, the system clock.
    const second = await worker({ PREFIX: prefix, MODE: 'resume', DEFAULTS: '1', SERVER_URL: timedServer.url });
    expect(second.lines.at(-1)).toBe('DONE');
    const elapsed = Number(second.lines.find((line) => line.startsWith('ELAPSED '))!.split(' ')[1]);
    expect(elapsed).toBeLessThan(30_000);
    expect(await providerCreates(prefix, timedServer)).toBe(1);
    expectEachOnce(results(second), 60);
  }, 60_000);

  it('(f) a worker stopped (SIGSTOP) after its upload, past its lease, creates no second batch when it resumes', async () => {
    const prefix = 'f:';
    // The provider fixture uploads, then calls beforeCreate, then creates: the worker stops in between.
    let firstChild: ChildProcess | undefined;
    let onStopped!: () => void;
    const isStopped = new Promise<void>((resolve) => (onStopped = resolve));
    const firstRun = worker(
      { PREFIX: prefix, MODE: 'submit', ITEMS: '40', DEFAULTS: '1', LEASE_MS: '1500', CRASH_AT: 'after-upload', SERVER_URL: '' },
      {
        onLine: (line, child) => {
          if (line !== 'STOPPED') return;
          firstChild = child;
          child.kill('SIGSTOP');
          onStopped();
        },
      },
    );
    await isStopped;
    // While it is stopped its heartbeat cannot run; its lease lapses and a new process takes over.
    const second = await worker({ PREFIX: prefix, MODE: 'resume', DEFAULTS: '1', SERVER_URL: '' });
    expect(second.lines.at(-1)).toBe('DONE');
    expectEachOnce(results(second), 40);
    const created = await raw.lrange(`${prefix}provider:l:created`, 0, -1);
    expect(created).toHaveLength(1);
    // The stopped worker wakes with its upload done and goes on to the create: its claim is gone.
    firstChild!.stdin!.write('go\n');
    firstChild!.kill('SIGCONT');
    const first = await firstRun;
    expect(first.lines).toContain('RESUMED');
    expect(first.lines.at(-1)).toBe('DONE');
    expect(await raw.lrange(`${prefix}provider:l:created`, 0, -1)).toHaveLength(1);
    // Every item was read once, by the second worker; the first finds nothing left to read.
    expect(results(first)).toHaveLength(0);
  }, 60_000);
});
