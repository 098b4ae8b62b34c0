/**
 * Smoke test of examples/browser in real headless Chromium: the built page loads the device
 * model with a progress bar, answers from the cloud while it is up, and answers from the device
 * with "device only" ticked, showing where each answer ran.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startOpenAIServer, type OpenAIServer } from '../servers/openai-compatible.js';
import { launchChromium, repositoryRoot, startStaticServer, type BrowserSession, type StaticServer } from '../helpers/chromium.js';

let cloud: OpenAIServer;
let server: StaticServer;
let session: BrowserSession;

beforeAll(async () => {
  const { buildExample } = (await import(join(repositoryRoot, 'examples/browser/build.mjs'))) as { buildExample(): Promise<string> };
  const dist = await buildExample();
  cloud = await startOpenAIServer({ seed: 3 });
  server = await startStaticServer(
    { '/': readFileSync(join(dist, 'index.html'), 'utf8'), '/app.js': readFileSync(join(dist, 'app.js'), 'utf8') },
    [{ prefix: '/v1/', upstream: () => cloud.url }],
  );
  session = await launchChromium();
}, 120_000);
afterAll(async () => {
  await session?.close();
  await server?.close();
  await cloud?.close();
});

async function ask(text: string, deviceOnly: boolean): Promise<{ target?: string; error?: string; text: string }> {
  const { page } = session;
  const before = await page.locator('#log li.assistant').count();
  await page.locator('#private').setChecked(deviceOnly);
  await page.locator('#prompt').fill(text);
  await page.locator('#ask button').click();
  const answer = page.locator('#log li.assistant').nth(before);
  await answer.locator('xpath=self::*[@data-target or @data-error]').waitFor({ timeout: 60_000 });
  return { target: (await answer.getAttribute('data-target')) ?? undefined, error: (await answer.getAttribute('data-error')) ?? undefined, text: await answer.innerText() };
}

it('shows model progress, then where each answer ran', async () => {
  await session.page.goto(`${server.origin}/`);
  await session.page.locator('#model-status', { hasText: 'ready' }).waitFor({ timeout: 90_000 });
  expect(await session.page.locator('#model-progress').evaluate((bar) => (bar as HTMLProgressElement).value)).toBe(1);

  const fromCloud = await ask('Hello cloud', false);
  expect(fromCloud).toMatchObject({ target: 'cloud' });
  expect(fromCloud.text).toContain('ran on cloud');

  const requestsBefore = cloud.requests.length;
  const fromDevice = await ask('Hello device', true);
  expect(fromDevice).toMatchObject({ target: 'device' });
  expect(fromDevice.text).toContain('ran on device');
  expect(cloud.requests.length).toBe(requestsBefore);
  expect(session.externalRequests).toEqual([]);
}, 150_000);
