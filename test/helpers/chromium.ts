/**
 * Real headless Chromium for browser tests: Debian's /usr/bin/chromium driven by playwright-core,
 * a static server on 127.0.0.1 that serves one page, its esbuild bundle, the generated models and
 * onnxruntime-web's wasm files from node_modules. Every page request to another host is blocked
 * and recorded, so a test can assert the page stayed local.
 *
 * Never downloads a browser: when /usr/bin/chromium is missing it fails loudly (CI installs it).
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { createServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join, normalize, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';

export const repositoryRoot = fileURLToPath(new URL('../../', import.meta.url));
export const chromiumPath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const ortDist = join(repositoryRoot, 'node_modules/onnxruntime-web/dist');

const contentTypes: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.wasm': 'application/wasm',
  '.onnx': 'application/octet-stream',
  '.txt': 'text/plain; charset=utf-8',
};

/** Bundles a page script for the browser (ESM, one file; no source map: it would double a 5 MB bundle). */
export async function bundleForBrowser(entry: string, define: Record<string, string> = {}): Promise<string> {
  const result = await build({
    entryPoints: [entry],
    bundle: true,
    platform: 'browser',
    format: 'esm',
    target: 'es2022',
    write: false,
    logLevel: 'silent',
    define,
    absWorkingDir: repositoryRoot,
  });
  return result.outputFiles[0].text;
}

export interface StaticServer {
  origin: string;
  /** Paths requested so far, in order. */
  requests: string[];
  close(): Promise<void>;
}

/**
 * Serves `pages` (path -> body) plus `/models/*` (the generated models) and `/ort/*`
 * (onnxruntime-web's dist files). Anything else is a 404.
 */
export interface ProxyRule {
  /** Path prefix forwarded, e.g. '/v1/'. */
  prefix: string;
  /** Upstream origin (e.g. the OpenAI-compatible test server's), asked on every request. */
  upstream: () => string;
}

export async function startStaticServer(pages: Record<string, string | (() => string)>, proxies: ProxyRule[] = []): Promise<StaticServer> {
  const requests: string[] = [];
  const serveFile = (response: ServerResponse, folder: string, relative: string): void => {
    const path = normalize(join(folder, decodeURIComponent(relative)));
    if (!path.startsWith(folder + sep) || !existsSync(path) || !statSync(path).isFile()) {
      response.writeHead(404).end();
      return;
    }
    const body = readFileSync(path);
    // content-length lets transformers.js report download progress with a total.
    response.writeHead(200, { 'content-type': contentTypes[extname(path)] ?? 'application/octet-stream', 'content-length': body.length, 'cache-control': 'no-store' });
    response.end(body);
  };
  const server: Server = createServer((request: IncomingMessage, response: ServerResponse) => {
    const path = new URL(request.url ?? '/', 'http://127.0.0.1').pathname;
    requests.push(path);
    const page = pages[path];
    const proxy = proxies.find((rule) => path.startsWith(rule.prefix));
    if (proxy) forward(request, response, proxy.upstream());
    else if (page !== undefined) {
      const body = typeof page === 'function' ? page() : page;
      response.writeHead(200, { 'content-type': contentTypes[extname(path) || '.html'], 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store' });
      response.end(body);
    } else if (path.startsWith('/models/')) serveFile(response, join(repositoryRoot, 'models'), path.slice('/models/'.length));
    else if (path.startsWith('/ort/')) serveFile(response, ortDist, path.slice('/ort/'.length));
    else response.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    origin: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/**
 * Same-origin proxy so the page needs no CORS from the upstream. When the upstream refuses the
 * connection, the page's socket is destroyed too: the browser sees a network error with no
 * response, as it would if it had dialled the closed server itself.
 */
function forward(request: IncomingMessage, response: ServerResponse, upstream: string): void {
  const url = new URL(request.url ?? '/', upstream);
  const outgoing = httpRequest(url, { method: request.method, headers: { ...request.headers, host: url.host } }, (incoming) => {
    response.writeHead(incoming.statusCode ?? 502, incoming.headers);
    incoming.pipe(response);
  });
  outgoing.on('error', () => request.socket.destroy());
  request.on('aborted', () => outgoing.destroy());
  request.pipe(outgoing);
}

export interface BrowserSession {
  browser: Browser;
  context: BrowserContext;
  page: Page;
  /** Requests the page tried to make to any host but 127.0.0.1 (all were blocked). */
  externalRequests: string[];
  /** Console lines and page errors, for failure messages. */
  log: string[];
  close(): Promise<void>;
}

/** Launches Chromium with a fresh profile and opens one page with outside requests blocked. */
export async function launchChromium(): Promise<BrowserSession> {
  if (!existsSync(chromiumPath)) {
    throw new Error(
      `browser tests need Chromium at ${chromiumPath} (apt-get install -y chromium, or set CHROMIUM_PATH); it is missing, so these tests fail rather than skip`,
    );
  }
  // launch() gives every browser a fresh temporary profile (it refuses --user-data-dir).
  const browser = await chromium.launch({
    executablePath: chromiumPath,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  const context = await browser.newContext();
  const externalRequests: string[] = [];
  await context.route('**/*', (route) => {
    const url = new URL(route.request().url());
    if (url.hostname === '127.0.0.1' || url.protocol === 'data:' || url.protocol === 'blob:') return route.continue();
    externalRequests.push(url.href);
    return route.abort('blockedbyclient');
  });
  const page = await context.newPage();
  const log: string[] = [];
  page.on('console', (message) => log.push(`console.${message.type()}: ${message.text()}`));
  page.on('pageerror', (error) => log.push(`pageerror: ${error.message}`));
  return {
    browser,
    context,
    page,
    externalRequests,
    log,
    close: async () => {
      await browser.close();
    },
  };
}

/** A page that loads `/app.js` as a module. */
export const modulePage = (title: string): string =>
  `<!doctype html><html><head><meta charset="utf-8"><title>${title}</title></head><body><script type="module" src="/app.js"></script></body></html>`;

/** Waits until the page script sets `window.__done`, then returns `window.__result` (or throws its `__error`). */
export async function pageResult<T>(session: BrowserSession, timeoutMs = 15_000): Promise<T> {
  try {
    await session.page.waitForFunction(() => (window as unknown as { __done?: boolean }).__done === true, undefined, { timeout: timeoutMs });
  } catch (error) {
    throw new Error(`the page did not finish: ${(error as Error).message}\n${session.log.join('\n')}`);
  }
  const { result, error } = await session.page.evaluate(() => {
    const state = window as unknown as { __result?: unknown; __error?: string };
    return { result: state.__result, error: state.__error };
  });
  if (error) throw new Error(`the page failed: ${error}\n${session.log.join('\n')}`);
  return result as T;
}
