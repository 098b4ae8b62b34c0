/**
 * Two processes append to one conversation in a real redis-server at the same time: the
 * compare-and-set loop must keep every message, in order, each answer right after its question.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClient } from '../../src/index.js';
import { prefixHashes } from '../../src/conversation/hash.js';
import { redisStore } from '../../src/stores/redis.js';
import { mockTarget } from '../../src/testing.js';
import { startRedis, type RunningRedis } from '../helpers/redis.js';

const writer = fileURLToPath(new URL('./fixtures/redis-writer.ts', import.meta.url));
let redis: RunningRedis;

beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  await redis?.stop();
});

function runWriter(id: string, label: string, turns: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', writer, redis.url, id, label, String(turns)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve(output) : reject(new Error(`writer ${label} exited with ${code}: ${output}`))));
  });
}

describe('conversation writes from two processes through Redis', () => {
  it('loses no message and keeps each turn contiguous', async () => {
    const turns = 25;
    const outputs = await Promise.all([runWriter('race', 'left', turns), runWriter('race', 'right', turns)]);
    expect(outputs.map((output) => output.trim())).toEqual(['done', 'done']);

    const store = redisStore({ url: redis.url });
    const client = createClient({ targets: [mockTarget({ id: 'mock' })], store });
    const messages = await client.conversation('race').messages();
    await client.close();

    expect(messages).toHaveLength(1 + 4 * turns);
    expect(messages[0]).toMatchObject({ role: 'system', content: 'shared system' });
    const questions = messages.filter((message) => message.role === 'user').map((message) => message.content);
    for (const label of ['left', 'right']) {
      // Each writer's own turns stay in the order it sent them.
      expect(questions.filter((question) => question.startsWith(label))).toEqual(Array.from({ length: turns }, (_, turn) => `${label}-${turn}`));
    }
    for (let index = 1; index < messages.length; index += 2) {
      expect(messages[index].role).toBe('user');
      expect(messages[index + 1]).toMatchObject({ role: 'assistant', content: `re: ${messages[index].content}` });
    }
    expect(messages.map((message) => message.hash)).toEqual(prefixHashes(messages, { tokenizer: 'estimate' }));
  });
});
