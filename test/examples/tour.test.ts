/**
 * `npm start` is the README's first command: the tour on the generated on-device models, with no
 * API key and no network. It runs here as a child process, as `npm start` runs it, with every
 * socket connection and fetch reported (test/helpers/report-network.mjs), so a change that breaks
 * the tour, or makes it reach for the network, fails the suite.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../', import.meta.url));

function runTour(): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const env = { ...process.env };
  // Keys in the environment would add cloud targets; the tour's promise is that it needs none.
  delete env.OPENAI_API_KEY;
  delete env.HF_TOKEN;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', '--import', './test/helpers/report-network.mjs', 'examples/tour.ts'], { cwd: root, env });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

it('the tour runs every section on the device, offline, and exits by itself', async () => {
  const { code, stdout, stderr } = await runTour();
  expect(stderr).not.toContain('NETWORK');
  expect(code, stderr).toBe(0);
  expect(stdout).toContain('targets: device:tiny [device], device:asr [device]');
  for (const section of ['1. A realtime stream', '2. An interactive answer', '3. Embeddings', '4. A conversation', '5. Private data', '6. Speech to text', '7. explain()', '8. llama.cpp on the device']) {
    expect(stdout).toContain(section);
  }
  // Every call says where it ran: six of them on the device, none anywhere else.
  const ran = stdout.match(/-> ran on (\S+),/g) ?? [];
  expect(ran.length).toBeGreaterThanOrEqual(5);
  expect(ran.every((line) => line.startsWith('-> ran on device:'))).toBe(true);
  expect(stdout).toMatch(/heard: "hello from the device"/);
  expect(stdout).toContain('generateImage -> NO_ROUTE');
  // node-llama-cpp is a dev dependency here: the llama.cpp section answers, and its second turn reuses the kept KV cache.
  expect(stdout).toContain('-> ran on device:llama,');
  const reused = [...stdout.matchAll(/(\d+) of them reused from the kept KV cache/g)].map((match) => Number(match[1]));
  expect(reused).toHaveLength(2);
  expect(reused[1]).toBeGreaterThan(0);
  expect(stdout.trimEnd().endsWith('Done. Docs: README.md and docs/.')).toBe(true);
}, 60_000);
