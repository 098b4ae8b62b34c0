/**
 * Runs the OpenAI-compatible test server in its own process, so a benchmark's client and
 * the server do not share one event loop.
 *
 *   node --import tsx test/servers/standalone.ts --port 0 [--profile bench] [--options '{"seed":3}']
 *
 * prints one JSON line `{"url","baseURL","pid"}` on stdout once it listens, and exits on
 * SIGTERM, SIGINT or when stdin closes (so it never outlives the parent that spawned it).
 * `spawnServer(options)` does all of this from a test or bench and returns a handle that
 * drives the child through its /__control routes.
 *
 * Profiles add what JSON cannot carry (latency functions):
 *   default    nothing
 *   bench      no request recording, so memory stays flat over 100,000s of requests
 *   realistic  log-normal latency (median 40 ms), cache-aware first-token time, 5 ms chunks
 *   heavy-tail 95% of requests about 20 ms, 5% about 500 ms (bench/hedging)
 *
 * Imports: node built-ins, ./openai-compatible.js, ./scripts.js.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { startOpenAIServer, type OpenAIServerOptions, type RecordedRequest } from './openai-compatible.js';
import { latency, type ScriptStep } from './scripts.js';

/** Server options that survive JSON (no functions, no RegExp). */
export type SerializableServerOptions = Omit<OpenAIServerOptions, 'now' | 'latency' | 'batches'> & {
  latency?: number;
  batches?: { maxLines?: number; timeline?: { validatingMs?: number; inProgressMs?: number; finalizingMs?: number }; failItemsPattern?: string };
};

export const profiles: Record<string, OpenAIServerOptions> = {
  default: {},
  bench: { recordRequests: false },
  realistic: {
    latency: latency.logNormal(40, 0.5),
    timing: { firstTokenBaseMs: 20, perUncachedTokenMs: 0.05, perCachedTokenMs: 0.005, interChunkMs: 5 },
  },
  /** bench/hedging: 95% of requests about 20 ms, 5% about 500 ms (seeded), no recording. */
  'heavy-tail': {
    recordRequests: false,
    latency: latency.withSpikes(latency.uniform(18, 22), 0.05, 480),
  },
};

export function optionsFor(profile: string, serialized: SerializableServerOptions = {}): OpenAIServerOptions {
  const base = profiles[profile];
  if (!base) throw new RangeError(`unknown profile '${profile}'; known: ${Object.keys(profiles).join(', ')}`);
  const { batches, ...rest } = serialized;
  const merged: OpenAIServerOptions = { ...base, ...rest };
  if (batches) {
    merged.batches = {
      maxLines: batches.maxLines,
      timeline: batches.timeline,
      failItems: batches.failItemsPattern ? new RegExp(batches.failItemsPattern) : undefined,
    };
  }
  return merged;
}

export interface SpawnedServer {
  url: string;
  baseURL: string;
  pid: number;
  /** Recorded requests of the child (empty under the bench profile). */
  requests(): Promise<RecordedRequest[]>;
  script(route: string, steps: ScriptStep | ScriptStep[]): Promise<void>;
  reset(): Promise<void>;
  advanceBatches(items?: number): Promise<void>;
  runBatches(): Promise<void>;
  close(): Promise<void>;
}

export interface SpawnOptions {
  /** @default 0 */
  port?: number;
  /** @default 'default' */
  profile?: string;
  options?: SerializableServerOptions;
}

const standalonePath = fileURLToPath(import.meta.url);
const projectRoot = fileURLToPath(new URL('../../', import.meta.url));

/** Starts the server in a child process and resolves once it prints its URL. */
export async function spawnServer(spawnOptions: SpawnOptions = {}): Promise<SpawnedServer> {
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      standalonePath,
      '--port',
      String(spawnOptions.port ?? 0),
      '--profile',
      spawnOptions.profile ?? 'default',
      '--options',
      JSON.stringify(spawnOptions.options ?? {}),
    ],
    { cwd: projectRoot, stdio: ['pipe', 'pipe', 'inherit'] },
  );
  const lines = createInterface({ input: child.stdout! });
  const exited = once(child, 'exit');
  const first = await Promise.race([
    once(lines, 'line').then(([line]) => line as string),
    exited.then(([code]) => {
      throw new Error(`the test server process exited with code ${String(code)} before listening`);
    }),
  ]);
  lines.close();
  const started = JSON.parse(first) as { url: string; baseURL: string; pid: number };
  const post = async (name: string, body: unknown = {}) => {
    const response = await fetch(`${started.url}/__control/${name}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    if (!response.ok) throw new Error(`control route ${name} answered ${response.status}`);
    await response.arrayBuffer();
  };
  let closed: Promise<void> | undefined;
  return {
    ...started,
    async requests() {
      const response = await fetch(`${started.url}/__control/requests`);
      return (await response.json()) as RecordedRequest[];
    },
    script: (route, steps) => post('script', { route, steps: Array.isArray(steps) ? steps : [steps] }),
    reset: () => post('reset'),
    advanceBatches: (items) => post('advance-batches', { items }),
    runBatches: () => post('run-batches'),
    close() {
      closed ??= (async () => {
        if (child.exitCode === null && child.signalCode === null) {
          child.kill('SIGTERM');
          await exited;
        }
      })();
      return closed;
    },
  };
}

function argument(name: string): string | undefined {
  const index = process.argv.indexOf(`--${name}`);
  return index === -1 ? undefined : process.argv[index + 1];
}

async function main(): Promise<void> {
  const serialized = JSON.parse(argument('options') ?? '{}') as SerializableServerOptions;
  const server = await startOpenAIServer({ ...optionsFor(argument('profile') ?? 'default', serialized), port: Number(argument('port') ?? 0) });
  process.stdout.write(`${JSON.stringify({ url: server.url, baseURL: server.baseURL, pid: process.pid })}\n`);
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    void server.close().then(() => process.exit(0));
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  // The parent holds our stdin; when it goes away, so do we.
  process.stdin.once('end', stop);
  process.stdin.once('close', stop);
  process.stdin.resume();
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((error: unknown) => {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  });
}
