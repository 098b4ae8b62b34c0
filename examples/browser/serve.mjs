#!/usr/bin/env node
/**
 * Builds and serves the example on http://127.0.0.1:5173 (PORT to change): the page, the
 * generated models under /models/, onnxruntime-web's wasm under /ort/, and /v1/* proxied to
 * INFERLANE_CLOUD_URL (an OpenAI-compatible origin, e.g. https://api.openai.com) with
 * INFERLANE_CLOUD_KEY added server side. Without INFERLANE_CLOUD_URL the cloud refuses every
 * request, and the page answers from the device: the fallback in action.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { createServer, request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { extname, join, normalize, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildExample } from './build.mjs';

const root = fileURLToPath(new URL('../../', import.meta.url));
const distDir = await buildExample();
const folders = { '/models/': join(root, 'models'), '/ort/': join(root, 'node_modules/onnxruntime-web/dist'), '/': distDir };
const types = { '.html': 'text/html', '.js': 'text/javascript', '.mjs': 'text/javascript', '.json': 'application/json', '.wasm': 'application/wasm' };
const cloud = process.env.INFERLANE_CLOUD_URL;

function proxy(request, response) {
  if (!cloud) {
    // No cloud configured: behave like an unreachable server.
    request.socket.destroy();
    return;
  }
  const url = new URL(request.url, cloud);
  const headers = { ...request.headers, host: url.host };
  if (process.env.INFERLANE_CLOUD_KEY) headers.authorization = `Bearer ${process.env.INFERLANE_CLOUD_KEY}`;
  const outgoing = (url.protocol === 'https:' ? httpsRequest : httpRequest)(url, { method: request.method, headers }, (incoming) => {
    response.writeHead(incoming.statusCode ?? 502, incoming.headers);
    incoming.pipe(response);
  });
  outgoing.on('error', () => request.socket.destroy());
  request.pipe(outgoing);
}

const server = createServer((request, response) => {
  const path = new URL(request.url ?? '/', 'http://127.0.0.1').pathname;
  if (path.startsWith('/v1/')) return proxy(request, response);
  const prefix = Object.keys(folders).find((candidate) => path.startsWith(candidate));
  const folder = folders[prefix];
  const file = normalize(join(folder, decodeURIComponent(path.slice(prefix.length)) || 'index.html'));
  if (!file.startsWith(folder + sep) && file !== folder) return response.writeHead(403).end();
  const target = existsSync(file) && statSync(file).isDirectory() ? join(file, 'index.html') : file;
  if (!existsSync(target)) return response.writeHead(404).end();
  const body = readFileSync(target);
  response.writeHead(200, { 'content-type': types[extname(target)] ?? 'application/octet-stream', 'content-length': body.length });
  response.end(body);
});
const port = Number(process.env.PORT ?? 5173);
server.listen(port, '127.0.0.1', () => console.log(`inferlane example on http://127.0.0.1:${port}/ (cloud: ${cloud ?? 'none, device fallback only'})`));
