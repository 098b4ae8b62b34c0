/**
 * The OpenAI adapter's Batch API capability, through the real `openai` client, against the
 * local server's Files and Batches emulation (test/servers/batches.ts): the whole life
 * cycle, reconciliation by metadata, results matched by custom_id from shuffled output and
 * error files, cancel and expiry.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { openai, type OpenAISettings } from '../../providers/openai/index.js';
import type { BatchContext, BatchItem } from '../../src/target.js';
import { expectedEmbedding, startOpenAIServer, type OpenAIServer } from '../servers/openai-compatible.js';
import { collect, failure } from '../helpers/async.js';

let server: OpenAIServer;

beforeAll(async () => {
  // Items whose custom_id ends in '-fail' land in the error file with a 500.
  server = await startOpenAIServer({ seed: 5, batches: { failItems: /-fail"/ } });
});
afterAll(async () => {
  await server.close();
});
afterEach(() => {
  server.reset();
});

function batchTarget(overrides: Partial<OpenAISettings> = {}) {
  return openai({ model: 'gpt-test', embeddingModel: 'embed-test', kind: 'batch', baseURL: server.baseURL, apiKey: 'local', ...overrides });
}

const context = (): BatchContext => ({ signal: new AbortController().signal });

function textItems(count: number, suffix = (index: number) => ''): BatchItem[] {
  return Array.from({ length: count }, (_, index) => ({
    customId: `item-${index}${suffix(index)}`,
    operation: 'text' as const,
    call: { messages: [{ role: 'user' as const, content: `question number ${index}` }], maxOutputTokens: 20 },
  }));
}



describe('batch capability', () => {
  it('declares OpenAI limits and the batch price', () => {
    const { batch } = batchTarget();
    expect(batch).toMatchObject({ maxItems: 50_000, maxBytes: 200 * 1024 * 1024, maxEmbeddingInputs: 50_000, priceMultiplier: 0.5, pollIntervalMs: 30_000 });
    expect(batchTarget().id).toBe('openai-batch:gpt-test');
  });

  it('runs the life cycle: submit, status, results matched by custom_id from shuffled files', async () => {
    const target = batchTarget();
    const batch = target.batch!;
    const items = textItems(40, (index) => (index % 7 === 3 ? '-fail' : ''));
    const submitted = await batch.submit(items, { operation: 'text', metadata: { inferlane_job_id: 'job-1', team: 'search' } }, context());

    // What reached the server: one JSONL file, purpose batch, then the batch itself.
    const [upload, create] = server.requests;
    expect(upload.route).toBe('/files');
    expect(upload.body).toMatchObject({ purpose: 'batch' });
    expect(create.body).toEqual({
      input_file_id: submitted.inputFileId,
      endpoint: '/v1/chat/completions',
      completion_window: '24h',
      metadata: { inferlane_job_id: 'job-1', team: 'search' },
    });
    const file = server.files.get(submitted.inputFileId!)!;
    expect(file.bytes).toBe(items.reduce((sum, item) => sum + batch.itemBytes(item), 0));
    const lines = server.files.content(submitted.inputFileId!)!.toString('utf8').trim().split('\n').map((line) => JSON.parse(line));
    expect(lines[0]).toEqual({
      custom_id: 'item-0',
      method: 'POST',
      url: '/v1/chat/completions',
      body: { model: 'gpt-test', messages: [{ role: 'user', content: 'question number 0' }], max_tokens: 20 },
    });

    expect(submitted).toMatchObject({ status: 'validating', rawStatus: 'validating', counts: { total: 0, completed: 0, failed: 0 }, metadata: { inferlane_job_id: 'job-1' } });
    expect(submitted.createdAt! % 1000).toBe(0);
    expect(Math.abs(submitted.createdAt! - Date.now())).toBeLessThan(5_000);
    expect(submitted.expiresAt! - submitted.createdAt!).toBe(24 * 3_600_000);

    server.advanceBatches();
    server.advanceBatches({ items: 10 });
    const running = await batch.status(submitted.id, context());
    expect(running).toMatchObject({ status: 'in_progress', counts: { total: 40 } });
    expect(running.counts.completed + running.counts.failed).toBe(10);

    server.runBatches();
    const done = await batch.status(submitted.id, context());
    const failing = items.filter((item) => item.customId.endsWith('-fail')).length;
    expect(done).toMatchObject({ status: 'completed', counts: { total: 40, completed: 40 - failing, failed: failing } });
    expect(done.outputFileId).toBeDefined();
    expect(done.errorFileId).toBeDefined();

    const outputOrder = server.files.content(done.outputFileId!)!.toString('utf8').trim().split('\n').map((line) => JSON.parse(line).custom_id as string);
    expect(outputOrder).not.toEqual([...outputOrder].sort((a, b) => Number(a.split('-')[1]) - Number(b.split('-')[1])));

    const results = await collect(batch.results(done, context()));
    expect(results).toHaveLength(40);
    expect(new Set(results.map((result) => result.customId))).toEqual(new Set(items.map((item) => item.customId)));
    for (const result of results) {
      const index = Number(result.customId.split('-')[1]);
      if (result.customId.endsWith('-fail')) {
        expect(result).toMatchObject({ ok: false, error: { status: 500 } });
      } else {
        expect(result.ok).toBe(true);
        if (result.ok) {
          // The answer echoes this item's own question: matched by custom_id, not by position.
          expect(result.text!.text).toBe(`echo: question number ${index}`);
          expect(result.text!.finishReason).toBe('stop');
          expect(result.usage!.inputTokens).toBeGreaterThan(0);
        }
      }
    }
  });

  it('embedding batches put one input per line and yield the vectors', async () => {
    const batch = batchTarget().batch!;
    const inputs = ['red apple', 'green pear', 'blue sky'];
    const items: BatchItem[] = inputs.map((input, index) => ({ customId: `e${index}`, operation: 'embedding', input }));
    const submitted = await batch.submit(items, { operation: 'embedding', metadata: { inferlane_job_id: 'job-e' } }, context());
    expect(server.requests[1].body).toMatchObject({ endpoint: '/v1/embeddings' });
    const lines = server.files.content(submitted.inputFileId!)!.toString('utf8').trim().split('\n').map((line) => JSON.parse(line));
    expect(lines.map((line) => line.body)).toEqual(inputs.map((input) => ({ model: 'embed-test', input, encoding_format: 'float' })));

    server.runBatches();
    const results = await collect(batch.results(await batch.status(submitted.id, context()), context()));
    const byId = new Map(results.map((result) => [result.customId, result]));
    inputs.forEach((input, index) => {
      expect(byId.get(`e${index}`)).toMatchObject({ ok: true, embedding: expectedEmbedding(input) });
    });
  });

  it('results() fetches the file ids itself when given a stale batch', async () => {
    const batch = batchTarget().batch!;
    const submitted = await batch.submit(textItems(3), { operation: 'text', metadata: { inferlane_job_id: 'job-stale' } }, context());
    server.runBatches();
    const results = await collect(batch.results(submitted, context()));
    expect(results.map((result) => result.customId).sort()).toEqual(['item-0', 'item-1', 'item-2']);
  });

  it('finds batches by metadata across pages, newest first', async () => {
    const batch = batchTarget().batch!;
    const first = await batch.submit(textItems(1), { operation: 'text', metadata: { inferlane_job_id: 'needle' } }, context());
    // 150 newer batches push the needle onto the second page (the adapter asks 100 per page).
    const input = server.files.create(Buffer.from('{"custom_id":"x","method":"POST","url":"/v1/chat/completions","body":{}}\n'), 'in.jsonl', 'batch');
    for (let index = 0; index < 150; index++) {
      server.batches.create({ input_file_id: input.id, endpoint: '/v1/chat/completions', completion_window: '24h', metadata: { inferlane_job_id: `other-${index}` } });
    }
    const second = await batch.submit(textItems(1), { operation: 'text', metadata: { inferlane_job_id: 'needle' } }, context());
    server.requests.length = 0;

    const found = await batch.findByMetadata('inferlane_job_id', 'needle', context());
    expect(found.map((entry) => entry.id)).toEqual([second.id, first.id]);
    expect(server.requests.filter((request) => request.route === '/batches').length).toBe(2);
    expect(await batch.findByMetadata('inferlane_job_id', 'absent', context())).toEqual([]);

    // The scan is bounded: by count, and by age.
    const shortScan = batchTarget({ batch: { maxScan: 50 } }).batch!;
    expect((await shortScan.findByMetadata('inferlane_job_id', 'needle', context())).map((entry) => entry.id)).toEqual([second.id]);
    const later = batchTarget({ now: () => Date.now() + 49 * 3_600_000 }).batch!;
    expect(await later.findByMetadata('inferlane_job_id', 'needle', context())).toEqual([]);
  });

  it('cancels: cancelling, then cancelled with the unrun items in the error file', async () => {
    const batch = batchTarget().batch!;
    const submitted = await batch.submit(textItems(6), { operation: 'text', metadata: { inferlane_job_id: 'job-c' } }, context());
    server.advanceBatches();
    server.advanceBatches({ items: 2 });
    const cancelling = await batch.cancel(submitted.id, context());
    expect(cancelling).toMatchObject({ status: 'cancelling', rawStatus: 'cancelling' });
    server.runBatches();
    const cancelled = await batch.status(submitted.id, context());
    expect(cancelled.status).toBe('cancelled');
    const results = await collect(batch.results(cancelled, context()));
    expect(results.filter((result) => result.ok)).toHaveLength(2);
    expect(results.filter((result) => !result.ok).map((result) => !result.ok && result.error.code)).toEqual(Array(4).fill('batch_cancelled'));

    // Cancelling a finished batch is a conflict from the provider, mapped like any other.
    expect(await failure(batch.cancel(submitted.id, context()))).toMatchObject({ name: 'ProviderError', status: 409 });
  });

  it('an expired batch returns what completed plus batch_expired errors', async () => {
    const batch = batchTarget().batch!;
    const submitted = await batch.submit(textItems(5), { operation: 'text', metadata: { inferlane_job_id: 'job-x' } }, context());
    server.advanceBatches();
    server.advanceBatches({ items: 3 });
    server.expireBatches(submitted.id);
    const expired = await batch.status(submitted.id, context());
    expect(expired).toMatchObject({ status: 'expired', rawStatus: 'expired', counts: { total: 5, completed: 3 } });
    const results = await collect(batch.results(expired, context()));
    expect(results).toHaveLength(5);
    expect(results.filter((result) => !result.ok)).toEqual(
      expect.arrayContaining([expect.objectContaining({ ok: false, error: expect.objectContaining({ code: 'batch_expired' }) })]),
    );
    expect(results.filter((result) => result.ok)).toHaveLength(3);
  });

  it('validates before any request: one endpoint, unique ids, the job id, the limits', async () => {
    const batch = batchTarget({ batch: { maxBytes: 400, maxItems: 5 } }).batch!;
    const job = { inferlane_job_id: 'job-v' };
    const mixed: BatchItem[] = [...textItems(1), { customId: 'e', operation: 'embedding', input: 'x' }];
    expect(await failure(batch.submit(mixed, { operation: 'text', metadata: job }, context()))).toMatchObject({ code: 'INVALID_REQUEST', field: 'items[1].operation' });
    const duplicate = [...textItems(1), ...textItems(1)];
    expect(await failure(batch.submit(duplicate, { operation: 'text', metadata: job }, context()))).toMatchObject({ field: 'items[].customId' });
    expect(await failure(batch.submit(textItems(1), { operation: 'text', metadata: {} }, context()))).toMatchObject({ field: 'options.metadata.inferlane_job_id' });
    expect(await failure(batch.submit(textItems(6), { operation: 'text', metadata: job }, context()))).toMatchObject({ field: 'items' });
    expect(await failure(batch.submit(textItems(4), { operation: 'text', metadata: job }, context()))).toMatchObject({ field: 'items' });
    expect(await failure(batch.submit([], { operation: 'text', metadata: job }, context()))).toMatchObject({ field: 'items' });
    const many = Object.fromEntries(Array.from({ length: 17 }, (_, index) => [`k${index}`, 'v']));
    expect(await failure(batch.submit(textItems(1), { operation: 'text', metadata: { ...many, ...job } }, context()))).toMatchObject({ field: 'options.metadata' });
    expect(server.requests).toHaveLength(0);
  });

  it('maps provider failures and aborts', async () => {
    const batch = batchTarget().batch!;
    expect(await failure(batch.status('batch_missing', context()))).toMatchObject({ name: 'ProviderError', status: 404, retryable: false, target: 'openai-batch:gpt-test' });
    server.script('/files', { status: 503, retryAfterMs: 2000 });
    expect(await failure(batch.submit(textItems(1), { operation: 'text', metadata: { inferlane_job_id: 'j' } }, context()))).toMatchObject({
      name: 'ProviderError',
      status: 503,
      retryable: true,
      retryAfterMs: 2000,
    });
    const controller = new AbortController();
    controller.abort();
    expect(await failure(batch.status('batch_000001', { signal: controller.signal }))).toMatchObject({ code: 'ABORTED' });
  });

  it('skips result lines that cannot be matched and keeps one result per custom_id', async () => {
    const batch = batchTarget().batch!;
    const ok = (id: string) =>
      JSON.stringify({ custom_id: id, response: { status_code: 200, body: { choices: [{ message: { content: id }, finish_reason: 'stop' }] } }, error: null });
    const output = server.files.create(Buffer.from(`${ok('b')}\nnot json\n${JSON.stringify({ response: null })}\n${ok('a')}\r\n${ok('a')}`), 'out.jsonl', 'batch_output');
    const errors = server.files.create(
      Buffer.from(`${JSON.stringify({ custom_id: 'c', response: { status_code: 400, body: { error: { message: 'bad', code: 'invalid_value' } } }, error: null })}\n`),
      'err.jsonl',
      'batch_output',
    );
    const results = await collect(
      batch.results({ id: 'batch_x', status: 'completed', rawStatus: 'completed', counts: { total: 3, completed: 2, failed: 1 }, outputFileId: output.id, errorFileId: errors.id }, context()),
    );
    expect(results).toEqual([
      { customId: 'b', ok: true, text: { text: 'b', finishReason: 'stop' } },
      { customId: 'a', ok: true, text: { text: 'a', finishReason: 'stop' } },
      { customId: 'c', ok: false, error: { code: 'invalid_value', message: 'bad', status: 400 } },
    ]);
  });
});
