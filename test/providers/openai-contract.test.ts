/**
 * The OpenAI adapter passes `targetContract` (inferlane/testing), through the real `openai` client
 * against the local OpenAI-compatible server, which arranges the failures, hangs and slow streams
 * the checks ask for and tells whether the client closed a request.
 */
import { afterAll, afterEach, describe, it } from 'vitest';
import { openai } from '../../providers/openai/index.js';
import { targetContract } from '../../src/testing.js';
import { startOpenAIServer } from '../servers/openai-compatible.js';

// Started at collection time: the contract reads what the target declares when it lists its checks.
const server = await startOpenAIServer({ seed: 5 });
const apiKey = 'sk-contract-0123456789SECRET';
afterAll(() => server.close());
afterEach(() => server.reset());

describe('openai() keeps the target contract', () => {
  const checks = targetContract({
    target: () => openai({ model: 'gpt-test', embeddingModel: 'text-embedding-test', baseURL: server.baseURL, apiKey }),
    arrange(scenario) {
      // Each arrangement replaces the last, and serves the next request only.
      if (scenario === 'fail') server.script('/chat/completions', { status: 500 });
      if (scenario === 'hang') server.script('/chat/completions', { hang: true });
      if (scenario === 'slow-stream') server.script('/chat/completions', { reply: 'one two three four five six seven eight nine ten', stream: { interChunkMs: 40 } });
    },
    async requestClosed() {
      await server.waitFor((requests) => requests.at(-1)?.finishedAt !== undefined);
      return server.requests.at(-1)!.aborted;
    },
    secrets: [apiKey],
    deterministic: true,
  });
  for (const check of checks) it(check.name, check.run);
});
