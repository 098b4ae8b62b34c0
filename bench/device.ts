/**
 * bench/device: the llama.cpp target on the generated GGUF model (providers/llamacpp), offline.
 *
 *   kv reuse   a conversation's second turn over a ~1,000-token history, time to its first token
 *              (prompt evaluation plus one sampled token) with the conversation's kept sequence,
 *              against a fresh sequence evaluating the same history; side by side in each round,
 *              their order shuffled (seeded). Target: the kept sequence >= 5x faster.
 *   speed      prompt evaluation and generation, tokens/s (llama.cpp's own token counts).
 *
 *   npx tsx bench/device.ts [--rounds 7] [--threads N]
 */
import { prefixHashes } from '../src/conversation/hash.js';
import type { CallContext, Message, StreamPart, TextCall } from '../src/target.js';
import { llamacpp, type LlamacppTarget } from '../providers/llamacpp/index.js';
import { argValue, mulberry32, quantile, runIfMain, table } from './util.js';

const longQuestion = 'The router reads the latency budget before it picks a target, and the budget is a deadline. ';

function context(id: string, messages: Message[]): CallContext {
  return { signal: new AbortController().signal, deadline: Date.now() + 60_000, segment: 'interactive', emit: () => {}, conversation: { id, prefixHashes: prefixHashes(messages) } };
}

/**
 * Streams one turn: ms to the first text part (wall clock, and CPU time of this process, which
 * holds llama.cpp's threads: CPU time does not grow when other work on a shared machine takes
 * the cores), ms in all, and what llama.cpp counted.
 */
async function timedTurn(target: LlamacppTarget, id: string, call: TextCall) {
  const before = target.stats();
  const started = performance.now();
  const cpuStarted = process.cpuUsage();
  let firstMs: number | undefined;
  let firstCpuMs: number | undefined;
  let usage: Extract<StreamPart, { type: 'finish' }>['usage'];
  for await (const part of target.doStream!(call, context(id, call.messages))) {
    if (part.type === 'text-delta' && firstMs === undefined) {
      firstMs = performance.now() - started;
      const cpu = process.cpuUsage(cpuStarted);
      firstCpuMs = (cpu.user + cpu.system) / 1000;
    }
    if (part.type === 'finish') usage = part.usage;
  }
  const totalMs = performance.now() - started;
  const after = target.stats();
  return { firstMs: firstMs ?? totalMs, firstCpuMs: firstCpuMs ?? 0, totalMs, evaluated: after.evaluatedInputTokens - before.evaluatedInputTokens, generated: after.generatedTokens - before.generatedTokens, usage };
}

export async function run(): Promise<{ ratio: number; cpuRatio: number; keptMs: number; freshMs: number; promptTokensPerSecond: number; generationTokensPerSecond: number }> {
  const rounds = Number(argValue('--rounds') ?? 7);
  const threads = argValue('--threads');
  const target = llamacpp({ id: 'bench:llama', maxSequences: 4, ...(threads ? { threads: Number(threads) } : {}) });
  const random = mulberry32(19);
  const loadStarted = performance.now();
  await target.load();
  const loadMs = performance.now() - loadStarted;
  try {
    const system: Message = { role: 'system', content: 'You are a tiny model.' };
    // Warm-up: first evaluations pay for allocations.
    await timedTurn(target, 'warm', { messages: [system, { role: 'user', content: longQuestion.repeat(11) }], maxOutputTokens: 4, temperature: 0 });
    const kept: number[] = [];
    const fresh: number[] = [];
    const keptCpu: number[] = [];
    const freshCpu: number[] = [];
    const keptEvaluated: number[] = [];
    const freshEvaluated: number[] = [];
    let historyTokens = 0;
    for (let round = 0; round < rounds; round++) {
      // Each round its own history, so nothing is shared between rounds.
      const first: Message[] = [system, { role: 'user', content: `Round ${round}. ${longQuestion.repeat(11)}` }];
      const answer = await target.doGenerate!({ messages: first, maxOutputTokens: 8, temperature: 0 }, context(`kept-${round}`, first));
      const second: Message[] = [...first, { role: 'assistant', content: answer.text }, { role: 'user', content: 'And then?' }];
      const call: TextCall = { messages: second, maxOutputTokens: 8, temperature: 0 };
      const order = random() < 0.5 ? ['kept', 'fresh'] : ['fresh', 'kept'];
      for (const which of order) {
        // `fresh-<round>` is a conversation the target has never seen: a cleared sequence, the whole history evaluated.
        const turn = await timedTurn(target, `${which}-${round}`, call);
        (which === 'kept' ? kept : fresh).push(turn.firstMs);
        (which === 'kept' ? keptCpu : freshCpu).push(turn.firstCpuMs);
        (which === 'kept' ? keptEvaluated : freshEvaluated).push(turn.evaluated);
        historyTokens = turn.usage?.inputTokens ?? historyTokens;
      }
    }
    const keptMs = quantile(kept, 0.5);
    const freshMs = quantile(fresh, 0.5);
    const ratio = freshMs / keptMs;
    const keptCpuMs = quantile(keptCpu, 0.5);
    const freshCpuMs = quantile(freshCpu, 0.5);
    const cpuRatio = freshCpuMs / keptCpuMs;

    // Speed: the fresh prompts' evaluation rate, and a long greedy generation.
    const promptTokensPerSecond = quantile(freshEvaluated.map((tokens, index) => tokens / (fresh[index] / 1000)), 0.5);
    const generation = await timedTurn(target, 'speed', { messages: [system, { role: 'user', content: 'Talk.' }], maxOutputTokens: 256, temperature: 0 });
    const generationTokensPerSecond = (generation.generated - 1) / ((generation.totalMs - generation.firstMs) / 1000);

    console.log(
      `llama.cpp ${target.stats().threads} thread(s), generated GGUF (Q8_0, 2 layers, 320 wide), loaded in ${loadMs.toFixed(0)} ms; ${rounds} rounds\n` +
        table(
          ['second turn over the history', 'history tokens', 'evaluated tokens (p50)', 'to first token, CPU p50', 'wall p50', 'wall p90'],
          [
            ['kept sequence (KV reuse)', String(historyTokens), String(quantile(keptEvaluated, 0.5)), `${keptCpuMs.toFixed(1)} ms`, `${keptMs.toFixed(1)} ms`, `${quantile(kept, 0.9).toFixed(1)} ms`],
            ['fresh sequence, same history', String(historyTokens), String(quantile(freshEvaluated, 0.5)), `${freshCpuMs.toFixed(1)} ms`, `${freshMs.toFixed(1)} ms`, `${quantile(fresh, 0.9).toFixed(1)} ms`],
          ],
        ) +
        `\nKV reuse: ${cpuRatio.toFixed(1)}x less CPU time to the first token, ${ratio.toFixed(1)}x less wall time (target >= 5x; wall time swings when other work shares the cores)` +
        `\nspeed: prompt evaluation ${promptTokensPerSecond.toFixed(0)} tokens/s, generation ${generationTokensPerSecond.toFixed(0)} tokens/s (${generation.generated} tokens)`,
    );
    return { ratio, cpuRatio, keptMs, freshMs, promptTokensPerSecond, generationTokensPerSecond };
  } finally {
    await target.close?.();
  }
}

runIfMain(import.meta.url, run);
