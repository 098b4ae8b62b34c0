#!/usr/bin/env node
/**
 * `inferlane jobs list | watch <id> | results <id>`: looks at deferred jobs in a Redis store.
 *
 * The CLI reads job records; it does not poll providers. `watch` re-reads the record that the
 * worker process (the one calling `jobs.wait()` or `jobs.resume()`) updates, so it shows what
 * that worker last saw. `results` prints the stored record's per-part summary, then every item's
 * result: online jobs from the store; provider batch jobs from the provider's output and error
 * files, read through an OpenAI-compatible Batch API at `--openai-base-url <url>` (or
 * `OPENAI_BASE_URL`) with the key in `OPENAI_API_KEY` (never a flag: argv shows in `ps`).
 *
 * Store: `--redis <url>` or `REDIS_URL`; `--prefix <keyPrefix>` (default 'inferlane:').
 *
 * Node-only (a bin): `node:fs` and `node:url` load lazily, for the is-main check alone.
 */
import { Jobs, terminalStatuses, type JobInfo } from './batching/jobs/index.js';
import { redisStore } from './stores/redis.js';
import type { KeyValueStore } from './stores/store.js';
import type { Target } from './target.js';

export interface CliIo {
  out(line: string): void;
  err(line: string): void;
  /** Whether stdout is a terminal (progress bar) or not (plain lines). */
  isTty: boolean;
  /** Between two reads of `watch`. @default a setTimeout (not unref'd: the watch awaits it) */
  sleep?: (ms: number) => Promise<void>;
}

const usage = `usage: inferlane jobs list [--status <status>]
       inferlane jobs watch <id> [--interval <ms>]
       inferlane jobs results <id> [--openai-base-url <url>]
options: --redis <url> (or REDIS_URL), --prefix <redis key prefix> (default 'inferlane:')
         --openai-base-url <url> (or OPENAI_BASE_URL) with OPENAI_API_KEY: where a provider batch job's results are read`;

function parseArguments(argv: string[]): { positional: string[]; flags: Record<string, string> } {
  const positional: string[] = [];
  const flags: Record<string, string> = {};
  for (let index = 0; index < argv.length; index++) {
    const argument = argv[index];
    if (argument.startsWith('--')) {
      const [name, inline] = argument.slice(2).split('=', 2);
      flags[name] = inline ?? argv[++index] ?? '';
    } else positional.push(argument);
  }
  return { positional, flags };
}

/** A bar like `[########------------]  40% 400/1000 ok 390 failed 10 eta 2m 5s`. */
export function progressLine(info: JobInfo, width = 24): string {
  const done = info.counts.completed + info.counts.failed;
  const fraction = info.counts.total === 0 ? 1 : done / info.counts.total;
  const filled = Math.round(fraction * width);
  const eta = info.etaMs === undefined ? '' : ` eta ${formatDuration(info.etaMs)}`;
  const starts = info.startsAt === undefined ? '' : ` starts ${new Date(info.startsAt).toISOString()}`;
  return `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${String(Math.floor(fraction * 100)).padStart(3)}% ${done}/${info.counts.total} ok ${info.counts.completed} failed ${info.counts.failed} ${info.status}${starts}${eta}`;
}

export function formatDuration(ms: number): string {
  const seconds = Math.round(ms / 1000);
  if (seconds < 60) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes}m ${seconds % 60}s`;
  return `${Math.floor(minutes / 60)}h ${minutes % 60}m`;
}

function plainLine(info: JobInfo): string {
  const starts = info.startsAt === undefined ? '' : ` starts=${new Date(info.startsAt).toISOString()}`;
  return `${info.id} ${info.status} total=${info.counts.total} completed=${info.counts.completed} failed=${info.counts.failed}${starts}${info.etaMs === undefined ? '' : ` eta_ms=${info.etaMs}`}`;
}

const defaultSleep = (ms: number) =>
  new Promise<void>((resolve) => {
    setTimeout(resolve, ms);
  });

/** Runs the CLI; returns the exit code. `store` is for tests; else one is opened from the flags. */
export async function main(argv: string[], io: CliIo, store?: KeyValueStore): Promise<number> {
  const { positional, flags } = parseArguments(argv);
  const [group, command, id] = positional;
  if (group !== 'jobs' || !command || flags.help !== undefined) {
    io.err(usage);
    return group === undefined || flags.help !== undefined ? 0 : 2;
  }
  const url = flags.redis ?? process.env.REDIS_URL;
  if (!store && !url) {
    io.err('no store: pass --redis <url> or set REDIS_URL');
    return 2;
  }
  const opened = store ?? redisStore({ url, keyPrefix: flags.prefix });
  // No targets unless `results` needs a provider: the CLI reads records and runs nothing.
  let jobs = readOnlyJobs(opened, []);
  try {
    switch (command) {
      case 'list': {
        const infos = await jobs.list(flags.status ? { status: flags.status.split(',') as JobInfo['status'][] } : {});
        if (infos.length === 0) io.out('no jobs');
        for (const info of infos) io.out(`${plainLine(info)} target=${info.target} created=${new Date(info.createdAt).toISOString()}`);
        return 0;
      }
      case 'watch': {
        if (!id) return fail(io, 'watch needs a job id');
        const interval = Number(flags.interval ?? 2000);
        if (!Number.isFinite(interval) || interval <= 0) return fail(io, `--interval must be a positive number of milliseconds, got '${flags.interval}'`);
        const sleep = io.sleep ?? defaultSleep;
        let last = '';
        for (;;) {
          const info = await jobs.get(id);
          const line = io.isTty ? progressLine(info) : plainLine(info);
          if (io.isTty) io.out(`\r${line}`);
          else if (line !== last) io.out(line);
          last = line;
          if (terminalStatuses.has(info.status)) return info.status === 'completed' ? 0 : 1;
          await sleep(interval);
        }
      }
      case 'results': {
        if (!id) return fail(io, 'results needs a job id');
        const info = await jobs.get(id);
        io.out(plainLine(info));
        for (const part of info.parts) {
          io.out(`part ${part.index}: ${part.items} items ${part.status} (${part.rawStatus ?? '-'}) batch=${part.providerBatchId ?? '-'} completed=${part.counts.completed} failed=${part.counts.failed}`);
        }
        if (!terminalStatuses.has(info.status)) {
          io.out(`per-item results are readable once the job has finished (it is ${info.status})`);
          return 0;
        }
        if (info.mode === 'batch') {
          const baseURL = flags['openai-base-url'] ?? process.env.OPENAI_BASE_URL;
          const apiKey = process.env.OPENAI_API_KEY;
          if (!baseURL && !apiKey) {
            io.out('per-item results of a provider batch come from the provider: pass --openai-base-url <url> (or OPENAI_BASE_URL) and set OPENAI_API_KEY');
            return 0;
          }
          // Loaded only here, so list and watch never load the openai client.
          const { openai } = await import('../providers/openai/index.js');
          // The record names its target; reading files needs no model, but the adapter wants one.
          jobs = readOnlyJobs(opened, [openai({ id: info.target, model: 'batch-results', kind: 'batch', ...(baseURL ? { baseURL } : {}), apiKey })]);
        }
        // A cursor of its own: reading here never moves the worker's saved cursor.
        for await (const result of jobs.results(id, { cursor: 'start' })) io.out(JSON.stringify(result));
        return 0;
      }
      default:
        return fail(io, `unknown command '${command}'\n${usage}`);
    }
  } catch (error) {
    io.err(error instanceof Error ? error.message : String(error));
    return 1;
  } finally {
    if (!store) await opened.close?.();
  }
}

function readOnlyJobs(store: KeyValueStore, targets: Target[]): Jobs {
  return new Jobs({ store, targets, emit: () => {}, runOnline: () => Promise.reject(new Error('the CLI runs nothing')) });
}

function fail(io: CliIo, message: string): number {
  io.err(message);
  return 2;
}

/**
 * Run as a program: `inferlane` from `node_modules/.bin` (a symlink to dist/cli.js), `node
 * dist/cli.js`, or `tsx src/cli.ts`. The script Node was given is compared with this module's own
 * file after resolving links on both sides: a name pattern misses the `.bin` symlink (called
 * `inferlane`) and would run a user's own `cli.js` that merely imports this one.
 */
async function invokedDirectly(): Promise<boolean> {
  const script = typeof process === 'undefined' ? undefined : process.argv?.[1];
  if (!script) return false;
  const [{ realpathSync }, { fileURLToPath }] = await Promise.all([import('node:fs'), import('node:url')]);
  const self = typeof __filename === 'string' ? __filename : fileURLToPath(import.meta.url);
  try {
    return realpathSync(script) === realpathSync(self);
  } catch {
    return false; // a script path that does not exist is not this file
  }
}

void invokedDirectly().then((direct) => {
  if (!direct) return;
  return main(process.argv.slice(2), {
    out: (line) => (line.startsWith('\r') ? process.stdout.write(line) : process.stdout.write(`${line}\n`)),
    err: (line) => process.stderr.write(`${line}\n`),
    isTty: Boolean(process.stdout.isTTY),
  }).then((code) => {
    process.exitCode = code;
  });
});
