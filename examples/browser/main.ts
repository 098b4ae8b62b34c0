/**
 * A chat page that asks a cloud model first and falls back to the tiny model on this device when
 * the cloud cannot answer (offline, server down). It shows the model's load progress and, under
 * each answer, where it ran and why (`route.target`, `route.reason`).
 *
 * The cloud is reached through this page's own origin (`/v1`, proxied by serve.mjs), so no API key
 * ever reaches the browser: the proxy adds it.
 */
import { createClient, type Message } from '../../src/index.js';
import { openai } from '../../providers/openai/index.js';
import { transformers } from '../../providers/transformers/index.js';

const device = transformers({ id: 'device', modelPath: '/models/', wasmPaths: `${location.origin}/ort/` });
const cloud = openai({
  id: 'cloud',
  baseURL: `${location.origin}/v1`,
  // The proxy replaces this placeholder with the real key, server side.
  apiKey: 'set-by-proxy',
  dangerouslyAllowBrowser: true,
  model: new URLSearchParams(location.search).get('model') ?? 'gpt-4.1-mini',
});
const client = createClient({ targets: [device, cloud] });

const element = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const status = element<HTMLSpanElement>('model-status');
const bar = element<HTMLProgressElement>('model-progress');
const log = element<HTMLUListElement>('log');
const form = element<HTMLFormElement>('ask');
const promptInput = element<HTMLInputElement>('prompt');
const privateBox = element<HTMLInputElement>('private');

const showProgress = (event: { status: string; file?: string; progress?: number }) => {
  if (event.progress !== undefined) bar.value = event.progress;
  status.textContent = event.status === 'ready' ? 'Model: ready on this device' : `Model: ${event.status}${event.file ? ` ${event.file}` : ''}`;
};
client.on('model-progress', showProgress);
// Load the device model up front, so a fallback does not wait for it.
device.load({ onProgress: showProgress }).catch((error: Error) => (status.textContent = `Model: ${error.message}`));

const history: Message[] = [];

function addEntry(role: 'user' | 'assistant', text: string): HTMLLIElement {
  const item = document.createElement('li');
  item.className = role;
  item.textContent = text;
  log.append(item);
  return item;
}

form.addEventListener('submit', async (event) => {
  event.preventDefault();
  const text = promptInput.value.trim();
  if (!text) return;
  promptInput.value = '';
  history.push({ role: 'user', content: text });
  addEntry('user', text);
  const answer = addEntry('assistant', '');
  const body = document.createElement('span');
  answer.append(body);
  try {
    let reply = '';
    for await (const part of client.stream({
      messages: history,
      // Cloud first, this device second; device-only never leaves the machine.
      targets: ['cloud', 'device'],
      privacy: privateBox.checked ? 'device-only' : 'any',
      maxRetries: 0,
    })) {
      if (part.type === 'text-delta') body.textContent = reply += part.text;
      if (part.type === 'resumed') body.textContent = reply += ' … ';
      if (part.type === 'finish') {
        const route = document.createElement('span');
        route.className = 'route';
        route.innerHTML = `ran on <b></b>: <i></i>`;
        route.querySelector('b')!.textContent = part.route.target;
        route.querySelector('i')!.textContent = `${part.route.reason}${part.route.fellBack ? ' (fell back)' : ''}, ${Math.round(part.route.totalMs)} ms`;
        answer.append(route);
        answer.dataset.target = part.route.target;
      }
    }
    history.push({ role: 'assistant', content: reply });
  } catch (error) {
    body.textContent = `No answer: ${(error as Error).message}`;
    answer.dataset.error = (error as { code?: string }).code ?? 'ERROR';
  }
});
