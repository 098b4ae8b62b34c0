import OpenAI, { toFile } from 'openai';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { expectedEmbedding, startOpenAIServer, type OpenAIServer } from './openai-compatible.js';

let server: OpenAIServer;
let client: OpenAI;
let clock = 1_700_000_000_000;

beforeAll(async () => {
  server = await startOpenAIServer({ seed: 9, now: () => clock, batches: { failItems: /poison/ } });
  client = new OpenAI({ baseURL: server.baseURL, apiKey: 'sk-test', maxRetries: 0 });
});
afterEach(() => server.reset());
afterAll(() => server.close());

interface OutputLine {
  id: string;
  custom_id: string;
  response: { status_code: number; request_id: string; body: any } | null;
  error: { code: string; message: string } | null;
}

const chatLine = (customId: string, text: string) =>
  JSON.stringify({ custom_id: customId, method: 'POST', url: '/v1/chat/completions', body: { model: 'gpt-4.1-mini', messages: [{ role: 'user', content: text }] } });

async function upload(lines: string[]): Promise<string> {
  const file = await client.files.create({ file: await toFile(Buffer.from(`${lines.join('\n')}\n`), 'input.jsonl'), purpose: 'batch' });
  return file.id;
}

async function readLines(fileId: string | null | undefined): Promise<OutputLine[]> {
  if (!fileId) return [];
  const text = await (await client.files.content(fileId)).text();
  return text.split('\n').filter(Boolean).map((line) => JSON.parse(line) as OutputLine);
}

describe('files and batches', () => {
  it('runs the full life cycle: progress counts, shuffled output, an error file for scripted failures', async () => {
    const lines = Array.from({ length: 40 }, (_, index) => chatLine(`item-${index}`, index % 10 === 3 ? `poison ${index}` : `question ${index}`));
    // One body the online route also refuses: no messages.
    lines.push(JSON.stringify({ custom_id: 'item-bad', method: 'POST', url: '/v1/chat/completions', body: { model: 'gpt-4.1-mini', messages: [] } }));
    const inputFileId = await upload(lines);
    expect((await client.files.retrieve(inputFileId)).purpose).toBe('batch');

    const created = await client.batches.create({
      input_file_id: inputFileId,
      endpoint: '/v1/chat/completions',
      completion_window: '24h',
      metadata: { inferlane_job_id: 'job-1' },
    });
    expect(created.status).toBe('validating');
    expect(created.metadata).toEqual({ inferlane_job_id: 'job-1' });

    server.advanceBatches();
    let batch = await client.batches.retrieve(created.id);
    expect(batch.status).toBe('in_progress');
    expect(batch.request_counts).toEqual({ total: 41, completed: 0, failed: 0 });

    server.advanceBatches({ items: 10 });
    batch = await client.batches.retrieve(created.id);
    expect(batch.status).toBe('in_progress');
    expect(batch.request_counts!.completed + batch.request_counts!.failed).toBe(10);

    server.advanceBatches();
    expect((await client.batches.retrieve(created.id)).status).toBe('finalizing');
    server.advanceBatches();
    batch = await client.batches.retrieve(created.id);
    expect(batch.status).toBe('completed');
    expect(batch.request_counts).toEqual({ total: 41, completed: 36, failed: 5 });

    const output = await readLines(batch.output_file_id);
    const errors = await readLines(batch.error_file_id);
    expect(output).toHaveLength(36);
    expect(errors.map((line) => line.custom_id).sort()).toEqual(['item-13', 'item-23', 'item-3', 'item-33', 'item-bad']);
    const byId = new Map(output.map((line) => [line.custom_id, line]));
    expect(byId.get('item-7')!.response!.body.choices[0].message.content).toBe('echo: question 7');
    expect(byId.get('item-7')!.response!.status_code).toBe(200);
    expect(byId.get('item-7')!.id).toMatch(/^batch_req_/);
    // Shuffled: the custom ids do not come back in input order.
    const order = output.map((line) => Number(line.custom_id.slice(5)));
    expect(order).not.toEqual([...order].sort((a, b) => a - b));
    const bad = errors.find((line) => line.custom_id === 'item-bad')!;
    expect(bad.response!.status_code).toBe(400);
    expect(bad.response!.body.error.param).toBe('messages');
    expect(errors.find((line) => line.custom_id === 'item-3')!.response!.status_code).toBe(500);
  });

  it('embeds batch items with the same vectors as the online route', async () => {
    const lines = ['red apple', 'green pear'].map((text, index) =>
      JSON.stringify({ custom_id: `e${index}`, method: 'POST', url: '/v1/embeddings', body: { model: 'text-embedding-3-small', input: text, dimensions: 4 } }),
    );
    const batch = await client.batches.create({ input_file_id: await upload(lines), endpoint: '/v1/embeddings', completion_window: '24h' });
    server.runBatches();
    const done = await client.batches.retrieve(batch.id);
    const output = await readLines(done.output_file_id);
    const vector = output.find((line) => line.custom_id === 'e1')!.response!.body.data[0].embedding;
    expect(vector).toEqual(expectedEmbedding('green pear', 4));
  });

  it('fails validation for a line whose url is not the batch endpoint, naming the line', async () => {
    const inputFileId = await upload([chatLine('a', 'x'), JSON.stringify({ custom_id: 'b', method: 'POST', url: '/v1/embeddings', body: {} })]);
    const batch = await client.batches.create({ input_file_id: inputFileId, endpoint: '/v1/chat/completions', completion_window: '24h' });
    server.advanceBatches();
    const failed = await client.batches.retrieve(batch.id);
    expect(failed.status).toBe('failed');
    expect(failed.errors?.data?.[0]).toMatchObject({ code: 'mismatched_endpoint', line: 2 });
  });

  it('refuses more than 16 metadata pairs and unknown input files', async () => {
    const inputFileId = await upload([chatLine('a', 'x')]);
    const metadata = Object.fromEntries(Array.from({ length: 17 }, (_, index) => [`k${index}`, 'v']));
    const tooMuch = await client.batches
      .create({ input_file_id: inputFileId, endpoint: '/v1/chat/completions', completion_window: '24h', metadata })
      .catch((error: unknown) => error);
    expect(tooMuch).toBeInstanceOf(OpenAI.BadRequestError);
    expect((tooMuch as InstanceType<typeof OpenAI.BadRequestError>).param).toBe('metadata');
    const missing = await client.batches
      .create({ input_file_id: 'file-nope', endpoint: '/v1/chat/completions', completion_window: '24h' })
      .catch((error: unknown) => error);
    expect(missing).toBeInstanceOf(OpenAI.NotFoundError);
  });

  it('cancels with partial results: done items in the output, the rest as batch_cancelled errors', async () => {
    const lines = Array.from({ length: 10 }, (_, index) => chatLine(`c${index}`, `q${index}`));
    const batch = await client.batches.create({ input_file_id: await upload(lines), endpoint: '/v1/chat/completions', completion_window: '24h' });
    server.advanceBatches();
    server.advanceBatches({ items: 4 });
    expect((await client.batches.cancel(batch.id)).status).toBe('cancelling');
    server.advanceBatches();
    const cancelled = await client.batches.retrieve(batch.id);
    expect(cancelled.status).toBe('cancelled');
    expect((await readLines(cancelled.output_file_id)).map((line) => line.custom_id).sort()).toEqual(['c0', 'c1', 'c2', 'c3']);
    const errors = await readLines(cancelled.error_file_id);
    expect(errors).toHaveLength(6);
    expect(errors.every((line) => line.error?.code === 'batch_cancelled' && line.response === null)).toBe(true);
    await expect(client.batches.cancel(batch.id)).rejects.toBeInstanceOf(OpenAI.ConflictError);
  });

  it('expires when the clock passes the completion window, keeping partial results', async () => {
    const lines = Array.from({ length: 6 }, (_, index) => chatLine(`x${index}`, `q${index}`));
    const batch = await client.batches.create({ input_file_id: await upload(lines), endpoint: '/v1/chat/completions', completion_window: '24h' });
    server.advanceBatches();
    server.advanceBatches({ items: 2 });
    clock += 24 * 3600_000 + 1;
    const expired = await client.batches.retrieve(batch.id);
    expect(expired.status).toBe('expired');
    expect(expired.expired_at).toBe(batch.expires_at);
    expect(await readLines(expired.output_file_id)).toHaveLength(2);
    const errors = await readLines(expired.error_file_id);
    expect(errors.map((line) => line.error?.code)).toEqual(Array(4).fill('batch_expired'));
  });

  it('pages through batches newest first with limit and after', async () => {
    const inputFileId = await upload([chatLine('a', 'x')]);
    const ids: string[] = [];
    for (let index = 0; index < 5; index++) {
      ids.push((await client.batches.create({ input_file_id: inputFileId, endpoint: '/v1/chat/completions', completion_window: '24h' })).id);
    }
    const first = await client.batches.list({ limit: 2 });
    expect(first.data.map((batch) => batch.id)).toEqual([ids[4], ids[3]]);
    expect(first.has_more).toBe(true);
    const seen: string[] = [];
    for await (const batch of client.batches.list({ limit: 2 })) seen.push(batch.id);
    expect(seen).toEqual([...ids].reverse());
    expect(server.requests.filter((request) => request.route === '/batches' && request.method === 'GET').at(-1)!.query.after).toBe(ids[1]);
  });
});

describe('clock-driven timeline', () => {
  it('moves stages and counts from the injected clock alone', async () => {
    let now = 0;
    const timed = await startOpenAIServer({ now: () => now, batches: { timeline: { validatingMs: 1000, inProgressMs: 10_000, finalizingMs: 1000 } } });
    try {
      const timedClient = new OpenAI({ baseURL: timed.baseURL, apiKey: 'sk-test', maxRetries: 0 });
      const input = Array.from({ length: 100 }, (_, index) => chatLine(`t${index}`, 'x')).join('\n');
      const file = await timedClient.files.create({ file: await toFile(Buffer.from(input), 'in.jsonl'), purpose: 'batch' });
      const batch = await timedClient.batches.create({ input_file_id: file.id, endpoint: '/v1/chat/completions', completion_window: '24h' });
      const statusAt = async (ms: number) => {
        now = ms;
        const current = await timedClient.batches.retrieve(batch.id);
        return [current.status, current.request_counts!.completed];
      };
      expect(await statusAt(500)).toEqual(['validating', 0]);
      expect(await statusAt(6000)).toEqual(['in_progress', 50]);
      expect(await statusAt(11_500)).toEqual(['finalizing', 100]);
      expect(await statusAt(12_000)).toEqual(['completed', 100]);
    } finally {
      await timed.close();
    }
  });
});

describe('scale', () => {
  // Wall-clock limits mean little on a shared 2-core machine, so the server's time is
  // compared with a baseline measured in the same run: parsing and re-serialising every
  // input line once. Validation, processing and finalisation each touch every line about
  // once, so a linear server stays within a small multiple; an O(n^2) step would not.
  it('takes a 120,000-line, ~20 MB upload through the whole life cycle in linear time', async () => {
    const big = await startOpenAIServer({ recordRequests: false, batches: { maxLines: 200_000 } });
    try {
      const bigClient = new OpenAI({ baseURL: big.baseURL, apiKey: 'sk-test', maxRetries: 0 });
      const count = 120_000;
      const parts: string[] = [];
      for (let index = 0; index < count; index++) {
        parts.push(
          JSON.stringify({
            custom_id: `r${index}`,
            method: 'POST',
            url: '/v1/embeddings',
            body: { model: 'text-embedding-3-small', input: `document number ${index} about topic ${index % 100} with padding` },
          }),
        );
      }
      const input = Buffer.from(`${parts.join('\n')}\n`);
      let started = performance.now();
      for (const line of parts) JSON.stringify(JSON.parse(line));
      const baselineMs = performance.now() - started;
      parts.length = 0;

      started = performance.now();
      const file = await bigClient.files.create({ file: await toFile(input, 'big.jsonl'), purpose: 'batch' });
      const batch = await bigClient.batches.create({ input_file_id: file.id, endpoint: '/v1/embeddings', completion_window: '24h' });
      big.runBatches();
      const done = await bigClient.batches.retrieve(batch.id);
      const serverMs = performance.now() - started;

      expect(done.request_counts).toEqual({ total: count, completed: count, failed: 0 });
      expect(big.files.get(file.id)!.bytes).toBe(input.length);
      const output = big.files.content(done.output_file_id!)!;
      let newlines = 0;
      for (let index = output.indexOf(10); index !== -1; index = output.indexOf(10, index + 1)) newlines++;
      expect(newlines).toBe(count);
      const sample = JSON.parse(output.toString('utf8', 0, output.indexOf(10))) as OutputLine;
      const index = Number(sample.custom_id.slice(1));
      expect(sample.response!.body.data[0].embedding).toEqual(
        expectedEmbedding(`document number ${index} about topic ${index % 100} with padding`, 8),
      );
      console.info(
        `120,000 lines: ${(input.length / 1e6).toFixed(1)} MB in, ${(output.length / 1e6).toFixed(1)} MB out; ` +
          `server ${serverMs.toFixed(0)} ms, baseline ${baselineMs.toFixed(0)} ms (x${(serverMs / baselineMs).toFixed(1)})`,
      );
      expect(serverMs).toBeLessThan(25 * baselineMs);
    } finally {
      await big.close();
    }
  }, 120_000);

  it('fails validation past the line limit (OpenAI: 50,000, the default)', async () => {
    const limited = await startOpenAIServer({ batches: { maxLines: 3 } });
    try {
      const limitedClient = new OpenAI({ baseURL: limited.baseURL, apiKey: 'sk-test', maxRetries: 0 });
      const input = Array.from({ length: 4 }, (_, index) => chatLine(`l${index}`, 'x')).join('\n');
      const file = await limitedClient.files.create({ file: await toFile(Buffer.from(input), 'in.jsonl'), purpose: 'batch' });
      const batch = await limitedClient.batches.create({ input_file_id: file.id, endpoint: '/v1/chat/completions', completion_window: '24h' });
      limited.advanceBatches();
      const failed = await limitedClient.batches.retrieve(batch.id);
      expect(failed.status).toBe('failed');
      expect(failed.errors?.data?.[0]?.code).toBe('too_many_requests');
    } finally {
      await limited.close();
    }
  });
});
