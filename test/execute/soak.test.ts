/**
 * A seeded soak: three local servers answering with random faults (errors, 429s, hangs, resets,
 * broken streams), and waves of concurrent calls of every kind with random budgets and aborts,
 * through the real client, executor and openai adapter. Whatever happens, every call settles,
 * exactly once, soon, with an answer or an InferlaneError.
 *
 * It found a stream that resumed onto a target that never answered and then waited forever.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openai } from '../../providers/openai/index.js';
import { createClient, InferlaneError } from '../../src/index.js';
import { mulberry32 } from '../../src/random.js';
import { startOpenAIServer, type OpenAIServer } from '../servers/openai-compatible.js';
import type { ScriptStep } from '../servers/scripts.js';

const faults: ScriptStep[] = [
  { status: 500 },
  { status: 429, retryAfterMs: 50 },
  { status: 503 },
  { status: 400 },
  { hang: true },
  { reset: true },
  { latencyMs: 30 },
  { stream: { resetAfterChunks: 2 } },
  { stream: { truncateAfterChunks: 2 } },
  { stream: { malformedAfterChunks: 1 } },
  { stream: { interChunkMs: 150 } },
];

let servers: OpenAIServer[];
beforeAll(async () => {
  servers = await Promise.all([0, 1, 2].map(() => startOpenAIServer()));
});
afterAll(async () => {
  await Promise.all(servers.map((server) => server.close()));
});

describe('soak: random faults, every kind of call', () => {
  it('settles every call exactly once, within its budget and idle limits, with an answer or a typed error', async () => {
    const random = mulberry32(20261126);
    // Half the requests meet a fault.
    for (const server of servers) server.script('*', () => (random() < 0.5 ? faults[Math.floor(random() * faults.length)] : {}));
    const client = createClient({
      targets: servers.map((server, index) =>
        openai({ id: `s${index}`, model: 'm', baseURL: server.baseURL, apiKey: 'sk-soak-test-1234567890', embeddingModel: 'e', expected: { ttftMs: 5, totalMs: 10 } }),
      ),
      retry: { initialDelayMs: 5, maxDelayMs: 20 },
      stats: { circuit: { cooldownMs: 200 } },
    });
    const outcomes = { answered: 0, failed: 0 };
    const codes = new Set<string>();
    const problems: string[] = [];
    const latencies = [80, 300, 1_000, 'interactive', 'realtime'] as const;

    const call = async (index: number): Promise<void> => {
      const controller = new AbortController();
      const latency = latencies[Math.floor(random() * latencies.length)];
      if (random() < 0.15) setTimeout(() => controller.abort(), Math.floor(random() * 100));
      const kind = random();
      const common = { latency, abortSignal: controller.signal };
      const running: Promise<unknown> =
        kind < 0.1
          ? client.conversation(`soak-${index % 5}`, { system: 'Be brief.' }).send(`turn ${index}`, common)
          : kind < 0.45
            ? client.generate({ prompt: `q${index}`, ...common })
            : kind < 0.85
              ? (async () => {
                  for await (const _ of client.stream({ prompt: `q${index}`, idleMs: 200, ...common })) void _;
                })()
              : client.embed({ input: [`a${index}`, `b${index}`], ...common });
      let settled = 0;
      const started = Date.now();
      // Longest legitimate life: a 2 s budget, then idle gaps of 200 ms per resumption.
      const watchdog = setTimeout(() => problems.push(`call ${index} has not settled after 6 s`), 6_000);
      await running.then(
        () => {
          settled++;
          outcomes.answered++;
        },
        (error: unknown) => {
          settled++;
          outcomes.failed++;
          if (InferlaneError.isInstance(error)) codes.add(error.code);
          else problems.push(`call ${index} failed with something other than an InferlaneError: ${String(error)}`);
        },
      );
      clearTimeout(watchdog);
      if (settled !== 1) problems.push(`call ${index} settled ${settled} times`);
      if (Date.now() - started > 6_000) problems.push(`call ${index} took ${Date.now() - started} ms`);
    };

    const until = Date.now() + 4_000;
    let wave = 0;
    for (; Date.now() < until; wave++) await Promise.all(Array.from({ length: 20 }, (_, slot) => call(wave * 20 + slot)));
    // A last wave that close() meets in flight: it waits for them (graceMs), ends what is left,
    // and every call still settles once with an answer or a typed error.
    const last = Promise.all(Array.from({ length: 20 }, (_, slot) => call(wave * 20 + slot)));
    await new Promise((resolve) => setTimeout(resolve, Math.floor(random() * 50)));
    await client.close({ graceMs: 300 });
    await last;

    expect(problems).toEqual([]);
    // Both happen: the faults are real, and so are the answers.
    expect(outcomes.answered).toBeGreaterThan(10);
    expect(outcomes.failed).toBeGreaterThan(10);
    // The faults reach callers as the typed errors the contract names, and nothing else.
    for (const code of codes) expect(['ABORTED', 'DEADLINE_EXCEEDED', 'ALL_TARGETS_FAILED', 'NO_ROUTE', 'STREAM_INTERRUPTED', 'PROVIDER_ERROR', 'RATE_LIMITED', 'NETWORK_ERROR']).toContain(code);
  }, 30_000);
});
