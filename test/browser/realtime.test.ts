/**
 * A voice session in real headless Chromium: the page's own WebSocket to the Realtime emulation,
 * authenticated with an ephemeral client secret minted server-side (the page's origin serves
 * it, as an app's backend would); the secret key is refused in the page.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startRealtimeServer, type RealtimeEmulation } from '../servers/realtime.js';
import { decodeTones, toneSpeech } from '../servers/tone-codec.js';
import { bundleForBrowser, launchChromium, modulePage, pageResult, repositoryRoot, startStaticServer, type BrowserSession, type StaticServer } from '../helpers/chromium.js';

interface Api {
  turn(baseURL: string, secretURL: string, pcm: number[]): Promise<{ ok: boolean; path?: string; inputTranscript?: string; transcript?: string; audio?: number[]; route?: { path: string; target?: string }; types?: string[]; error?: string }>;
  secretKeyInPage(baseURL: string): { ok: boolean; error?: string; field?: string };
}
declare const window: { inferlaneTest: Api };

let voice: RealtimeEmulation;
let server: StaticServer;
let session: BrowserSession;
const minted: string[] = [];

beforeAll(async () => {
  voice = await startRealtimeServer();
  const script = await bundleForBrowser(`${repositoryRoot}test/browser/pages/realtime.ts`);
  server = await startStaticServer({
    '/': modulePage('realtime'),
    '/app.js': script,
    // The app's backend: mints an ephemeral secret with the secret key, gives the page only that.
    '/session-secret': () => {
      const secret = voice.mintSecret();
      minted.push(secret.value);
      return JSON.stringify({ value: secret.value });
    },
  });
  session = await launchChromium();
  await session.page.goto(`${server.origin}/`);
  await pageResult(session, 30_000);
}, 60_000);
afterAll(async () => {
  await session?.close();
  await server?.close();
  await voice?.close();
});

it('a page session over WebSocket with an ephemeral secret: audio in, audio deltas and the transcript out', async () => {
  const pcm = Array.from(toneSpeech('hi page', 24_000));
  const result = await session.page.evaluate(({ baseURL, secretURL, pcm: bytes }) => window.inferlaneTest.turn(baseURL, secretURL, bytes), { baseURL: voice.baseURL, secretURL: `${server.origin}/session-secret`, pcm });
  expect(result.error, session.log.join('\n')).toBeUndefined();
  expect(result.path).toBe('realtime');
  expect(result.inputTranscript).toBe('hi page');
  expect(result.transcript).toBe('you said hi page');
  expect(decodeTones(Uint8Array.from(result.audio!), 24_000)).toBe('you said hi page');
  expect(result.route).toMatchObject({ path: 'realtime', target: 'openai-realtime:gpt-realtime' });
  // The socket authenticated with the subprotocol and a minted secret, never the secret key.
  const connection = voice.connections.at(-1)!;
  expect(connection.auth).toBe('subprotocol');
  expect(connection.credential).toBe('client-secret');
  expect(minted).toHaveLength(1);
  await voice.waitFor((record) => record === connection && record.closed);
  expect(session.externalRequests).toEqual([]);
});

it('the secret key is refused in the page, naming the field', async () => {
  const result = await session.page.evaluate((baseURL) => window.inferlaneTest.secretKeyInPage(baseURL), voice.baseURL);
  expect(result.ok).toBe(false);
  expect(result.field).toBe('apiKey');
  expect(result.error).toMatch(/client secret/);
  expect(result.error).not.toContain('sk-page-should-never-hold-this');
});
