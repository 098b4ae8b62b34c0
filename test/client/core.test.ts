/**
 * The lean client (`inferlane/core`): generate, stream, embed, images and audio without any
 * feature, each feature added by the option object passed in `features`, and a clear
 * INVALID_REQUEST naming the field and the feature to add when a missing one is asked for.
 * Targets are the package's own recording mock (an edge stand-in); the client is real.
 */
import { describe, expect, it } from 'vitest';
import { batchJobs, conversations, createClient, CoreClient, microBatching } from 'inferlane/core';
import { mockTarget } from '../../src/testing.js';
import type { Target } from '../../src/target.js';
import { collect } from '../helpers/async.js';

describe('inferlane/core without features', () => {
  it('generates, streams and embeds; embeddings go straight to doEmbed, one request per call', async () => {
    const target = mockTarget({ id: 'cloud' });
    const client = createClient({ targets: [target] });
    expect(client).toBeInstanceOf(CoreClient);
    const flushes: unknown[] = [];
    client.on('batch-flush', (event) => flushes.push(event));
    expect((await client.generate({ prompt: 'hello' })).route.target).toBe('cloud');
    const parts = await collect(client.stream({ prompt: 'hello' }));
    expect(parts.at(-1)).toMatchObject({ type: 'finish', route: { target: 'cloud' } });
    const [a, b] = await Promise.all([client.embed({ input: 'one' }), client.embed({ input: 'two' })]);
    expect(a.embeddings).toHaveLength(1);
    expect(b.embeddings).toHaveLength(1);
    expect(a.route.batched).toBeUndefined();
    expect(target.calls.filter((call) => call.method === 'doEmbed')).toHaveLength(2);
    expect(flushes).toEqual([]);
    await client.close();
  });

  it('asked for jobs or a conversation, throws INVALID_REQUEST naming the field and the feature to add', async () => {
    const client = createClient({ targets: [mockTarget()] });
    expect(() => client.jobs).toThrow(expect.objectContaining({ code: 'INVALID_REQUEST', field: 'jobs', message: expect.stringContaining('batchJobs()') }));
    expect(() => client.conversation('user-1')).toThrow(expect.objectContaining({ code: 'INVALID_REQUEST', field: 'conversation', message: expect.stringContaining('conversations()') }));
    await client.close();
  });

  it('refuses a batch-endpoint target without batchJobs(), and a feature given twice or not a feature', () => {
    const batchOnly: Target = { id: 'batch', kind: 'batch', modalities: ['text'], batch: { submit: async () => ({ id: 'b', status: 'validating', rawStatus: 'validating' }), status: async () => ({ id: 'b', status: 'validating', rawStatus: 'validating' }), results: async function* () {}, cancel: async () => undefined } as unknown as Target['batch'] };
    expect(() => createClient({ targets: [mockTarget(), batchOnly] })).toThrow(expect.objectContaining({ field: 'targets[1]', message: expect.stringContaining('batchJobs()') }));
    expect(() => createClient({ targets: [batchOnly], features: [batchJobs()] })).not.toThrow();
    expect(() => createClient({ targets: [mockTarget()], features: [conversations(), conversations()] })).toThrow(expect.objectContaining({ field: 'features[1]' }));
    expect(() => createClient({ targets: [mockTarget()], features: [{} as never] })).toThrow(expect.objectContaining({ field: 'features[0]' }));
  });

  it('checks each feature\'s settings where it is made, naming the field', () => {
    expect(() => microBatching({ maxWaitMs: Number.NaN })).toThrow(expect.objectContaining({ field: 'microBatching.maxWaitMs' }));
    expect(() => batchJobs({ pollIntervalMs: 0 })).toThrow(expect.objectContaining({ field: 'batchJobs.pollIntervalMs' }));
  });
});

describe('inferlane/core with features', () => {
  it('microBatching() gathers concurrent embeddings into one request', async () => {
    const target = mockTarget({ id: 'cloud' });
    const client = createClient({ targets: [target], features: [microBatching({ maxWaitMs: 5 })] });
    const flushes: unknown[] = [];
    client.on('batch-flush', (event) => flushes.push(event));
    const results = await Promise.all(['one', 'two', 'three'].map((input) => client.embed({ input })));
    expect(results.map((result) => result.route.batched?.size)).toEqual([3, 3, 3]);
    expect(target.calls.filter((call) => call.method === 'doEmbed')).toHaveLength(1);
    expect(flushes).toHaveLength(1);
    await client.close();
  });

  it('conversations() gives client.conversation(), whose turns are recorded', async () => {
    const client = createClient({ targets: [mockTarget()], features: [conversations()] });
    const chat = client.conversation('user-1');
    await chat.send('hi');
    expect((await chat.messages()).map((message) => message.role)).toEqual(['user', 'assistant']);
    await client.close();
  });

  it('batchJobs() gives client.jobs, which runs a job online on a target without a batch endpoint', async () => {
    const client = createClient({ targets: [mockTarget()], features: [batchJobs()] });
    const job = await client.jobs.submit([{ id: 'a', prompt: 'one' }]);
    const info = await client.jobs.wait(job.id);
    expect(info.status).toBe('completed');
    await client.close();
  });
});
