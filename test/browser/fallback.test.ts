/**
 * Cloud-to-device fallback in real headless Chromium: the core client, the openai adapter
 * against the local OpenAI-compatible server, and the generated model on onnxruntime-web
 * (wasm, served locally: the test fails if the page asks any other host, e.g. a CDN).
 * One page for every case, so onnxruntime-web's 26 MB wasm is compiled once.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startOpenAIServer, type OpenAIServer } from '../servers/openai-compatible.js';
import { toneSamples, wavBytes } from '../../examples/tone-audio.js';
import { bundleForBrowser, launchChromium, modulePage, pageResult, repositoryRoot, startStaticServer, type BrowserSession, type StaticServer } from '../helpers/chromium.js';

interface PageGenerate {
  ok: boolean;
  text?: string;
  error?: string;
  route?: { target: string; reason: string; fellBack: boolean; attempts: { target: string; outcome: string; code?: string }[] };
}
interface Api {
  generate(request: unknown): Promise<PageGenerate>;
  stream(request: unknown): Promise<{ deltas: string[]; target?: string }>;
  embed(input: string[]): Promise<{ embeddings: number[][]; target: string }>;
  transcribe(wav: number[]): Promise<{ ok: boolean; text?: string; target?: string; error?: string }>;
  available(): Promise<string>;
  progress(): { status: string; file?: string; progress?: number; target: string }[];
}
declare const window: { inferlaneTest: Api };

let cloud: OpenAIServer;
let server: StaticServer;
let session: BrowserSession;
let cloudUp = true;
// The page prefers the cloud, then the device: the order a connected app would choose.
const request = { prompt: 'Say hello to the browser', targets: ['cloud:m', 'device:tiny'], maxRetries: 0 };

// Generous timeouts: compiling onnxruntime-web's 26 MB wasm is slow on a busy 2-core machine.
beforeAll(async () => {
  cloud = await startOpenAIServer({ seed: 7 });
  const script = await bundleForBrowser(`${repositoryRoot}test/browser/pages/fallback.ts`);
  server = await startStaticServer({ '/': modulePage('fallback'), '/app.js': script }, [
    // Once the cloud server is closed this port refuses connections.
    { prefix: '/v1/', upstream: () => cloud.url },
  ]);
  session = await launchChromium();
  await session.page.goto(`${server.origin}/`);
  await pageResult(session, 60_000);
}, 120_000);
afterAll(async () => {
  await session?.close();
  await server?.close();
  if (cloudUp) await cloud?.close();
});

const run = (body: unknown) => session.page.evaluate((value) => window.inferlaneTest.generate(value), body);

it('(a) answers from the cloud target while the cloud is up', async () => {
  const result = await run(request);
  expect(result.error).toBeUndefined();
  expect(result.route?.target).toBe('cloud:m');
  expect(result.route?.fellBack).toBe(false);
  expect(cloud.requests.filter((recorded) => recorded.route === '/chat/completions')).toHaveLength(1);
  // A stream from the cloud: the adapter reads the event stream from the page's own fetch body.
  const streamed = await session.page.evaluate((value) => window.inferlaneTest.stream(value), { ...request, prompt: 'one two three four five' });
  expect(streamed.target).toBe('cloud:m');
  expect(streamed.deltas.join('')).toBe('echo: one two three four five');
  expect(streamed.deltas.length).toBeGreaterThan(1);
  expect(session.externalRequests).toEqual([]);
}, 60_000);

it('(c) keeps a device-only request off the network, and (d) model-progress events reach the page', async () => {
  expect(await session.page.evaluate(() => window.inferlaneTest.available())).toBe('downloadable');
  const before = cloud.requests.length;
  // The first device call loads the model (onnxruntime-web compiles 26 MB of wasm): give it a
  // budget that covers the load on a busy machine. Apps preload (see examples/browser).
  const result = await run({ ...request, privacy: 'device-only', latency: 90_000 });
  expect(result.error).toBeUndefined();
  expect(result.route?.target).toBe('device:tiny');
  expect(result.text).toMatch(/[a-z]+ [a-z]+/);
  expect(cloud.requests.length).toBe(before);
  const progress = await session.page.evaluate(() => window.inferlaneTest.progress());
  expect(progress.every((event) => event.target === 'device:tiny')).toBe(true);
  expect(progress.some((event) => event.file === 'onnx/model.onnx' && event.progress === 1)).toBe(true);
  expect(progress.at(-1)?.status).toBe('ready');
  expect(await session.page.evaluate(() => window.inferlaneTest.available())).toBe('available');
  expect(server.requests).toContain('/models/inferlane-tiny-chat/onnx/model.onnx');
  expect(server.requests.some((path) => path.startsWith('/ort/') && path.endsWith('.wasm'))).toBe(true);
}, 100_000);

it('embeds on the device in the page: similar sentences closer than unrelated ones', async () => {
  const inputs = ['The router sends the request to the device.', 'A request is routed to the device by the router.', 'Bananas grow on tall plants in warm countries.'];
  const result = await session.page.evaluate((value) => window.inferlaneTest.embed(value), inputs);
  expect(result.target).toBe('device:tiny');
  const cosine = (a: number[], b: number[]) => a.reduce((sum, value, index) => sum + value * b[index], 0);
  const [routerA, routerB, bananas] = result.embeddings;
  expect(cosine(routerA, routerB)).toBeGreaterThan(cosine(routerA, bananas) + 0.3);
  expect(cloud.requests.filter((recorded) => recorded.route.includes('embeddings'))).toHaveLength(0);
}, 30_000);

it('transcribes speech on the device in the page (the tone-alphabet model on onnxruntime-web), sending nothing out', async () => {
  const before = cloud.requests.length;
  const wav = Array.from(wavBytes(toneSamples('hello browser')));
  const result = await session.page.evaluate((value) => window.inferlaneTest.transcribe(value), wav);
  expect(result.error).toBeUndefined();
  expect(result).toMatchObject({ ok: true, text: 'hello browser', target: 'device:asr' });
  expect(cloud.requests.length).toBe(before);
  expect(server.requests).toContain('/models/inferlane-tiny-asr/onnx/model.onnx');
  expect(session.externalRequests).toEqual([]);
}, 60_000);

it('(b) answers the same call from the device once the cloud refuses connections', async () => {
  await cloud.close();
  cloudUp = false;
  const result = await run(request);
  expect(result.error).toBeUndefined();
  expect(result.route?.target).toBe('device:tiny');
  expect(result.route?.fellBack).toBe(true);
  expect(result.route?.attempts[0]).toMatchObject({ target: 'cloud:m', outcome: 'error', code: 'NETWORK_ERROR' });
  expect(result.text?.length).toBeGreaterThan(0);
  // Streams fall back the same way.
  const streamed = await session.page.evaluate((value) => window.inferlaneTest.stream(value), request);
  expect(streamed.target).toBe('device:tiny');
  expect(streamed.deltas.length).toBeGreaterThanOrEqual(2);
  expect(session.externalRequests).toEqual([]);
}, 60_000);
