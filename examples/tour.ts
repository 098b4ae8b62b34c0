/**
 * `npm start`: a short tour of inferlane on the embedded default, the on-device models the project
 * generates (models/inferlane-tiny-chat, and the tone-alphabet recognizer models/inferlane-tiny-asr),
 * and, when the optional node-llama-cpp is installed, the generated GGUF model models/inferlane-tiny-gguf.
 * No API key, no network. With OPENAI_API_KEY or HF_TOKEN
 * set, those providers join the tour as cloud targets (and the device stays as the fallback).
 *
 * Every step prints where the request ran and why.
 */
import { createClient, type InferlaneClient, type Route, type Target } from '../src/index.js';
import { transformers } from '../providers/transformers/index.js';
import { toneSamples, wavBytes } from './tone-audio.js';

const dim = (text: string) => (process.stdout.isTTY ? `\x1b[2m${text}\x1b[0m` : text);
const bold = (text: string) => (process.stdout.isTTY ? `\x1b[1m${text}\x1b[0m` : text);

function where(route: Route): string {
  const parts = [`ran on ${route.target}`, `segment ${route.segment} (${route.budgetMs} ms)`, `${route.totalMs.toFixed(0)} ms`];
  if (route.ttftMs !== undefined) parts.push(`first token ${route.ttftMs.toFixed(0)} ms`);
  if (route.batched) parts.push(`batched x${route.batched.size} (${route.batched.reason})`);
  if (route.fellBack) parts.push('after a fallback');
  return dim(`  -> ${parts.join(', ')}\n     why: ${route.reason}`);
}

async function optionalCloudTargets(): Promise<Target[]> {
  const targets: Target[] = [];
  if (process.env.OPENAI_API_KEY) {
    const { openai } = await import('../providers/openai/index.js');
    targets.push(openai({ model: process.env.OPENAI_MODEL ?? 'gpt-4.1-mini', embeddingModel: 'text-embedding-3-small', cost: { inputPerMTok: 0.4, cachedInputPerMTok: 0.1, outputPerMTok: 1.6 } }));
  }
  if (process.env.HF_TOKEN) {
    const { huggingface } = await import('../providers/huggingface/index.js');
    targets.push(huggingface({ model: process.env.HF_MODEL ?? 'meta-llama/Llama-3.1-8B-Instruct', provider: 'auto' }));
  }
  return targets;
}

async function main(): Promise<void> {
  const device = transformers({ id: 'device:tiny', tasks: ['text', 'embedding'], maxNewTokens: 24 });
  const ears = transformers({ id: 'device:asr', tasks: ['transcription'] });
  const cloud = await optionalCloudTargets();
  const client: InferlaneClient = createClient({ targets: [device, ears, ...cloud] });
  let loaded = false;
  client.on('model-progress', (p) => {
    if (!loaded && p.status === 'ready') {
      loaded = true;
      console.log(dim(`  (model ${p.file ?? p.target} loaded)`));
    }
  });
  client.on('fallback', (e) => console.log(dim(`  fallback: ${e.from} -> ${e.to} (${e.reason})`)));

  console.log(bold('inferlane tour'));
  console.log(dim(`targets: ${client.targets.map((t) => `${t.id} [${t.kind}]`).join(', ')}${cloud.length === 0 ? ' (set OPENAI_API_KEY or HF_TOKEN to add cloud targets)' : ''}\n`));

  console.log(bold('1. A realtime stream (latency: 80 ms budget for the first token)'));
  // Loading the model happens once; do it before the realtime step so the budget is about inference.
  await client.generate({ prompt: 'warm up', latency: 'batch', maxOutputTokens: 1 });
  process.stdout.write('  ');
  for await (const part of client.stream({ prompt: 'Tell me about inferlane.', latency: 80, maxOutputTokens: 24 })) {
    if (part.type === 'text-delta') process.stdout.write(part.text);
    if (part.type === 'finish') console.log(`\n${where(part.route)}`);
  }

  console.log(bold('\n2. An interactive answer (latency: interactive, 2 s)'));
  const answer = await client.generate({ messages: [{ role: 'user', content: 'What does a latency budget decide?' }], latency: 'interactive', maxOutputTokens: 24 });
  console.log(`  ${answer.text.trim()}`);
  console.log(where(answer.route));

  console.log(bold('\n3. Embeddings: 6 concurrent single-text calls, micro-batched into few model passes'));
  const sentences = ['the cat sat on the mat', 'a cat is sitting on a mat', 'requests are routed by latency budget', 'stock prices fell sharply today', 'the router picks a target within the budget', 'my cat likes the mat'];
  const flushes: number[] = [];
  client.on('batch-flush', (e) => flushes.push(e.size));
  const vectors = await Promise.all(sentences.map((input) => client.embed({ input, latency: 'interactive' })));
  console.log(dim(`  ${sentences.length} calls -> ${flushes.length} model pass(es) of sizes [${flushes.join(', ')}]`));
  const cosine = (a: number[], b: number[]) => a.reduce((s, v, i) => s + v * b[i], 0) / (Math.hypot(...a) * Math.hypot(...b));
  console.log(`  similarity('${sentences[0]}', '${sentences[1]}') = ${cosine(vectors[0].embedding, vectors[1].embedding).toFixed(3)}`);
  console.log(`  similarity('${sentences[0]}', '${sentences[3]}') = ${cosine(vectors[0].embedding, vectors[3].embedding).toFixed(3)}`);
  console.log(where(vectors[0].route));

  console.log(bold('\n4. A conversation (KV-aware: token accounting, stable prefix, affinity)'));
  const chat = client.conversation('tour-user', { system: 'You are terse.' });
  for (const text of ['Hello!', 'What is a segment?', 'And a target?']) {
    const reply = await chat.send(text, { latency: 'interactive', maxOutputTokens: 16 });
    console.log(`  > ${text}\n  ${reply.text.trim()}`);
  }
  const usage = await chat.usage();
  console.log(dim(`  ${(await chat.messages()).length} messages stored; ${usage.inputTokens} input tokens, ${usage.outputTokens} output tokens, on ${Object.keys(usage.byTarget).join(', ')}`));

  console.log(bold('\n5. Private data stays on the device (privacy: device-only)'));
  const secret = await client.generate({ prompt: 'My account number is 12345.', privacy: 'device-only', maxOutputTokens: 12 });
  console.log(where(secret.route));

  console.log(bold('\n6. Speech to text on the device (a WAV of the toy recognizer\'s tone alphabet)'));
  const heard = await client.transcribe({ audio: wavBytes(toneSamples('hello from the device')), privacy: 'device-only' });
  console.log(`  heard: "${heard.text}" (${heard.durationSeconds?.toFixed(2)} s of audio)`);
  console.log(where(heard.route));

  console.log(bold('\n7. explain(): a request no local target can serve (an image within 80 ms)'));
  const plan = client.explain({ prompt: 'a red fox', latency: 80, operation: 'image' });
  console.log(plan.text.split('\n').map((l) => `  ${l}`).join('\n'));
  const refused = await client.generateImage({ prompt: 'a red fox', latency: 80 }).catch((e) => e);
  console.log(dim(`  generateImage -> ${refused.code}: ${refused.message}`));

  await client.close();

  await llamaCppSection();
  console.log(bold('\nDone.'), dim('Docs: README.md and docs/.'));
}

/** llama.cpp through node-llama-cpp (an optional peer): one answer when it is installed, how to add it when not. */
async function llamaCppSection(): Promise<void> {
  console.log(bold('\n8. llama.cpp on the device (the generated GGUF model through node-llama-cpp; its KV cache kept per conversation)'));
  const { llamacpp } = await import('../providers/llamacpp/index.js');
  const llama = llamacpp({ id: 'device:llama', maxNewTokens: 16 });
  try {
    await llama.load();
  } catch (error) {
    const message = (error as Error).message;
    console.log(dim(/not installed/.test(message) ? '  node-llama-cpp is not installed: `npm install node-llama-cpp@3.21.1` adds this target (an optional peer dependency).' : `  the llama.cpp target cannot run here: ${message}`));
    await llama.close?.();
    return;
  }
  const client = createClient({ targets: [llama] });
  const chat = client.conversation('tour-llama', { system: 'You are a tiny model that knows a few words.' });
  for (const text of ['Where does my request run?', 'And the next turn?']) {
    const reply = await chat.send(text, { latency: 'interactive', maxOutputTokens: 16, temperature: 0.8, seed: 7 });
    console.log(`  > ${text}\n  ${reply.text.trim()}`);
    console.log(dim(`     ${reply.usage?.inputTokens} prompt tokens, ${reply.usage?.cachedInputTokens} of them reused from the kept KV cache`));
    console.log(where(reply.route));
  }
  await client.close();
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
