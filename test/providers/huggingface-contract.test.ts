/**
 * The Hugging Face adapter passes `targetContract` (inferlane/testing), through the real
 * `@huggingface/inference` client against the local Hugging Face routes, which arrange the
 * failures, hangs and slow streams the checks ask for and tell whether the client closed a request.
 */
import { afterAll, describe, it } from 'vitest';
import { huggingface } from '../../providers/huggingface/index.js';
import { targetContract } from '../../src/testing.js';
import { startHuggingFaceServer } from '../servers/huggingface-routes.js';

const token = 'hf_contract0123456789';
// Started at collection time: the contract reads what the target declares when it lists its checks.
const server = await startHuggingFaceServer({ acceptedTokens: [token] });
afterAll(() => server.close());

describe('huggingface() keeps the target contract', () => {
  const checks = targetContract({
    // An endpoint that chats (at <url>/v1/chat/completions) and embeds (at <url>).
    target: () => huggingface({ model: 'test-org/model', endpointUrl: `${server.url}/hf/endpoints/feature-extraction`, accessToken: token, modalities: ['text', 'embedding'] }),
    arrange(scenario) {
      // Each arrangement replaces the last, and serves the next chat request only.
      server.routes.reset();
      if (scenario === 'fail') server.routes.script({ status: 500 }, 'chat');
      if (scenario === 'hang') server.routes.script({ hang: true }, 'chat');
      if (scenario === 'slow-stream') server.routes.script({ reply: 'one two three four five six seven eight nine ten', stream: { interChunkMs: 40 } }, 'chat');
    },
    async requestClosed() {
      const last = server.routes.requests.at(-1)!;
      await last.closed;
      return last.closedByClient;
    },
    secrets: [token],
    deterministic: true,
  });
  for (const check of checks) it(check.name, check.run);
});
