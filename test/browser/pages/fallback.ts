/**
 * Page script (bundled for the browser): a client with a cloud target (the OpenAI-compatible
 * test server, reached through the page's own origin) and the on-device model as fallback.
 * The test drives it through `window.inferlaneTest`.
 */
import { createClient } from '../../../src/index.js';
import type { GenerateRequest, ModelProgressEvent } from '../../../src/index.js';
import { openai } from '../../../providers/openai/index.js';
import { transformers } from '../../../providers/transformers/index.js';

const device = transformers({ id: 'device:tiny', wasmPaths: `${location.origin}/ort/` });
// Speech to text on the device: the generated tone-alphabet recognizer (models/inferlane-tiny-asr).
const ears = transformers({ id: 'device:asr', tasks: ['transcription'], wasmPaths: `${location.origin}/ort/` });
const cloud = openai({ id: 'cloud:m', baseURL: `${location.origin}/v1`, apiKey: 'test', dangerouslyAllowBrowser: true, model: 'm' });
const client = createClient({ targets: [device, ears, cloud] });
const progress: ModelProgressEvent[] = [];
client.on('model-progress', (event) => progress.push(event));

async function generate(request: GenerateRequest) {
  try {
    const result = await client.generate(request);
    const { target, reason, fellBack, attempts } = result.route;
    return { ok: true as const, text: result.text, route: { target, reason, fellBack, attempts: attempts.map((a) => ({ target: a.target, outcome: a.outcome, code: a.code })) } };
  } catch (error) {
    return { ok: false as const, error: `${(error as Error).name}: ${(error as Error).message}` };
  }
}

async function stream(request: GenerateRequest) {
  const deltas: string[] = [];
  let target: string | undefined;
  for await (const part of client.stream(request)) {
    if (part.type === 'text-delta') deltas.push(part.text);
    if (part.type === 'finish') target = part.route.target;
  }
  return { deltas, target };
}

async function embed(input: string[]) {
  const result = await client.embed({ input, privacy: 'device-only' });
  return { embeddings: result.embeddings, target: result.route.target };
}

async function transcribe(wav: number[]) {
  try {
    const result = await client.transcribe({ audio: Uint8Array.from(wav), privacy: 'device-only', latency: 60_000 });
    return { ok: true as const, text: result.text, target: result.route.target };
  } catch (error) {
    return { ok: false as const, error: `${(error as Error).name}: ${(error as Error).message}` };
  }
}

const testApi = { generate, stream, embed, transcribe, available: () => device.available!(new AbortController().signal), progress: () => progress.map(({ status, file, progress: fraction, target }) => ({ status, file, progress: fraction, target })) };
(window as unknown as { inferlaneTest: typeof testApi; __done: boolean; __result: unknown }).inferlaneTest = testApi;
Object.assign(window, { __result: 'ready', __done: true });
