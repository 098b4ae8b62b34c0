/**
 * The OpenAI Batch API as a `BatchCapability` (STYLE.md rule 5; DESIGN.md section 7).
 *
 * One endpoint per provider batch; JSONL lines `{custom_id, method, url, body}`; results
 * are read from both the output and the error file, streamed line by line, and matched by
 * `custom_id`, never by order. Spec: https://platform.openai.com/docs/guides/batch
 */
import type OpenAI from 'openai';
import { toFile } from 'openai';
import { InvalidRequestError, redact } from '../../src/errors.js';
import type {
  BatchCapability,
  BatchContext,
  BatchItem,
  BatchItemResult,
  BatchOperation,
  BatchStatus,
  BatchSubmitOptions,
  ProviderBatch,
} from '../../src/target.js';
import { buildChatBody, mapChatCompletion, mapUsage, type MaxTokensParameter, type WireChatCompletion, type WireUsage } from './chat.js';
import { mapOpenAIError } from './errors.js';
import { readLines } from './lines.js';

/** Batch API settings of an `openai()` target. */
export interface OpenAIBatchSettings {
  /** Passed as `completion_window`. @default '24h' (the only window OpenAI accepts today) */
  completionWindow?: string;
  /** Batch price relative to online prices. @default 0.5 */
  priceMultiplier?: number;
  /** Suggested poll interval for the jobs layer, ms. @default 30_000 */
  pollIntervalMs?: number;
  /** Lines per batch file. @default 50_000 */
  maxItems?: number;
  /** Bytes per batch file. @default 209_715_200 (200 MB) */
  maxBytes?: number;
  /** Embedding inputs per batch. @default 50_000 */
  maxEmbeddingInputs?: number;
  /** Batches `findByMetadata` reads at most before it stops. @default 1_000 */
  maxScan?: number;
  /** `findByMetadata` stops at batches older than this, ms. @default 172_800_000 (48 h) */
  maxAgeMs?: number;
}

export interface OpenAIBatchCapability extends BatchCapability {
  /** Suggested poll interval, ms (the jobs layer adds backoff and jitter). */
  pollIntervalMs: number;
}

export interface BatchDependencies {
  target: string;
  model: string;
  embeddingModel: string;
  maxTokensParameter: MaxTokensParameter;
  client(): OpenAI;
  now: () => number;
}

const endpoints: Record<BatchOperation, '/v1/chat/completions' | '/v1/embeddings'> = {
  text: '/v1/chat/completions',
  embedding: '/v1/embeddings',
};

const knownStatuses = new Set<BatchStatus>([
  'validating',
  'in_progress',
  'finalizing',
  'completed',
  'failed',
  'expired',
  'cancelling',
  'cancelled',
]);

const encoder = new TextEncoder();

export function createBatchCapability(settings: OpenAIBatchSettings, deps: BatchDependencies): OpenAIBatchCapability {
  const maxItems = settings.maxItems ?? 50_000;
  const maxBytes = settings.maxBytes ?? 200 * 1024 * 1024;
  const maxEmbeddingInputs = settings.maxEmbeddingInputs ?? 50_000;
  const maxScan = settings.maxScan ?? 1_000;
  const maxAgeMs = settings.maxAgeMs ?? 48 * 3_600_000;
  const { target } = deps;

  const line = (item: BatchItem): string => {
    const url = endpoints[item.operation];
    if (!url) throw new InvalidRequestError('items[].operation', `must be 'text' or 'embedding', got '${String(item.operation)}'`);
    let body: Record<string, unknown>;
    if (item.operation === 'text') {
      if (!item.call) throw new InvalidRequestError(`items[${item.customId}].call`, 'a text item needs a call');
      body = buildChatBody(item.call, { model: deps.model, maxTokensParameter: deps.maxTokensParameter });
    } else {
      if (typeof item.input !== 'string') throw new InvalidRequestError(`items[${item.customId}].input`, 'an embedding item needs one input string');
      body = { model: deps.embeddingModel, input: item.input, encoding_format: 'float' };
      if (item.dimensions !== undefined) body.dimensions = item.dimensions;
    }
    return JSON.stringify({ custom_id: item.customId, method: 'POST', url, body });
  };

  /**
   * Calls the client and maps any failure. Each call gets its own signal, aborted with the
   * caller's: openai-node adds an abort listener to the signal of every request and never removes
   * it, so a job watcher polling for hours under one signal would pile them up (one per poll).
   */
  const guard = async <T>(ctx: BatchContext, run: (client: OpenAI, signal: AbortSignal) => Promise<T>): Promise<T> => {
    const request = new AbortController();
    const onAbort = () => request.abort(ctx.signal.reason);
    if (ctx.signal.aborted) onAbort();
    else ctx.signal.addEventListener('abort', onAbort, { once: true });
    try {
      return await run(deps.client(), request.signal);
    } catch (error) {
      throw mapOpenAIError(error, { target, signal: ctx.signal, now: deps.now });
    } finally {
      ctx.signal.removeEventListener('abort', onAbort);
    }
  };

  const capability: OpenAIBatchCapability = {
    maxItems,
    maxBytes,
    maxEmbeddingInputs,
    priceMultiplier: settings.priceMultiplier ?? 0.5,
    pollIntervalMs: settings.pollIntervalMs ?? 30_000,

    // The line plus its newline: the sum over items is the uploaded file's size.
    itemBytes: (item) => encoder.encode(line(item)).length + 1,

    async submit(items, options, ctx) {
      validateSubmit(items, options, { maxItems, maxEmbeddingInputs });
      const seen = new Set<string>();
      const lines: string[] = [];
      for (const item of items) {
        if (seen.has(item.customId)) throw new InvalidRequestError('items[].customId', `'${item.customId}' appears twice; results are matched by it`);
        seen.add(item.customId);
        lines.push(line(item));
      }
      const bytes = encoder.encode(`${lines.join('\n')}\n`);
      if (bytes.length > maxBytes) {
        throw new InvalidRequestError('items', `the batch file would be ${bytes.length} bytes; the limit is ${maxBytes}`);
      }
      const batch = await guard(ctx, async (client, signal) => {
        const file = await client.files.create(
          { file: await toFile(bytes, 'batch.jsonl', { type: 'application/jsonl' }), purpose: 'batch' },
          { signal },
        );
        return client.batches.create(
          {
            input_file_id: file.id,
            endpoint: endpoints[options.operation],
            // OpenAI types the window as the literal '24h'; other servers may take more.
            completion_window: (options.completionWindow ?? settings.completionWindow ?? '24h') as '24h',
            metadata: options.metadata,
          },
          { signal },
        );
      });
      return normaliseBatch(batch);
    },

    async findByMetadata(key, value, ctx) {
      return guard(ctx, async (client, signal) => {
        const found: ProviderBatch[] = [];
        const oldest = deps.now() - maxAgeMs;
        let scanned = 0;
        // The list is newest first; the cursor page auto-paginates on `for await`.
        for await (const batch of client.batches.list({ limit: 100 }, { signal })) {
          if (++scanned > maxScan) break;
          if (typeof batch.created_at === 'number' && batch.created_at * 1000 < oldest) break;
          if (batch.metadata?.[key] === value) found.push(normaliseBatch(batch));
        }
        return found;
      });
    },

    async status(id, ctx) {
      return normaliseBatch(await guard(ctx, (client, signal) => client.batches.retrieve(id, { signal })));
    },

    async cancel(id, ctx) {
      return normaliseBatch(await guard(ctx, (client, signal) => client.batches.cancel(id, { signal })));
    },

    results(batch, ctx) {
      return readResults(batch, ctx);
    },
  };

  async function* readResults(batch: ProviderBatch, ctx: BatchContext): AsyncGenerator<BatchItemResult> {
    let current = batch;
    if (current.outputFileId === undefined && current.errorFileId === undefined) current = await capability.status(batch.id, ctx);
    // One result per custom_id (DataLoader's rule) even if a server lists an item in both files.
    const seen = new Set<string>();
    for (const fileId of [current.outputFileId, current.errorFileId]) {
      if (!fileId) continue;
      // The caller's own signal: the body is read after this call returns and must stay abortable.
      const response = await guard(ctx, (client) => client.files.content(fileId, { signal: ctx.signal }));
      const lines = readLines(response.body as ReadableStream<Uint8Array> | null)[Symbol.asyncIterator]();
      while (true) {
        let next: IteratorResult<string>;
        try {
          next = await lines.next();
        } catch (error) {
          throw mapOpenAIError(error, { target, signal: ctx.signal, now: deps.now });
        }
        if (next.done) break;
        const result = parseResultLine(next.value);
        if (!result || seen.has(result.customId)) continue;
        seen.add(result.customId);
        yield result;
      }
    }
  }

  return capability;
}

function validateSubmit(
  items: BatchItem[],
  options: BatchSubmitOptions,
  limits: { maxItems: number; maxEmbeddingInputs: number },
): void {
  if (!Array.isArray(items) || items.length === 0) throw new InvalidRequestError('items', 'a batch needs at least one item');
  if (items.length > limits.maxItems) throw new InvalidRequestError('items', `${items.length} items; a batch holds at most ${limits.maxItems}`);
  if (!endpoints[options.operation]) throw new InvalidRequestError('options.operation', `must be 'text' or 'embedding'`);
  const mixed = items.findIndex((item) => item.operation !== options.operation);
  if (mixed !== -1) throw new InvalidRequestError(`items[${mixed}].operation`, `one batch serves one endpoint; expected '${options.operation}'`);
  if (options.operation === 'embedding' && items.length > limits.maxEmbeddingInputs) {
    throw new InvalidRequestError('items', `${items.length} embedding inputs; a batch holds at most ${limits.maxEmbeddingInputs}`);
  }
  const pairs = Object.entries(options.metadata ?? {});
  if (pairs.length > 16) throw new InvalidRequestError('options.metadata', `${pairs.length} pairs; OpenAI keeps at most 16`);
  if (typeof options.metadata?.inferlane_job_id !== 'string') throw new InvalidRequestError('options.metadata.inferlane_job_id', 'is required so a restart can find the batch');
}

/** The provider's batch object, as much of it as we read. */
interface WireBatch {
  id: string;
  status: string;
  request_counts?: { total?: number; completed?: number; failed?: number } | null;
  input_file_id?: string | null;
  output_file_id?: string | null;
  error_file_id?: string | null;
  created_at?: number | null;
  expires_at?: number | null;
  metadata?: Record<string, string> | null;
}

export function normaliseBatch(batch: WireBatch): ProviderBatch {
  const status = knownStatuses.has(batch.status as BatchStatus) ? (batch.status as BatchStatus) : 'in_progress';
  const result: ProviderBatch = {
    id: batch.id,
    status,
    rawStatus: batch.status,
    counts: {
      total: batch.request_counts?.total ?? 0,
      completed: batch.request_counts?.completed ?? 0,
      failed: batch.request_counts?.failed ?? 0,
    },
  };
  if (batch.input_file_id) result.inputFileId = batch.input_file_id;
  if (batch.output_file_id) result.outputFileId = batch.output_file_id;
  if (batch.error_file_id) result.errorFileId = batch.error_file_id;
  if (typeof batch.created_at === 'number') result.createdAt = batch.created_at * 1000;
  if (typeof batch.expires_at === 'number') result.expiresAt = batch.expires_at * 1000;
  if (batch.metadata) result.metadata = { ...batch.metadata };
  return result;
}

interface WireResultLine {
  custom_id?: unknown;
  response?: { status_code?: number; body?: unknown } | null;
  error?: { code?: string | null; message?: string | null } | null;
}

/**
 * One line of an output or error file. Lines that are not JSON or have no custom_id
 * cannot be matched to an item and are skipped; the jobs layer sees those items as missing.
 */
export function parseResultLine(line: string): BatchItemResult | undefined {
  let parsed: WireResultLine;
  try {
    parsed = JSON.parse(line) as WireResultLine;
  } catch {
    return undefined;
  }
  if (typeof parsed?.custom_id !== 'string') return undefined;
  const customId = parsed.custom_id;
  const statusCode = parsed.response?.status_code;
  const body = (parsed.response?.body ?? undefined) as Record<string, unknown> | undefined;

  if (parsed.error || (typeof statusCode === 'number' && statusCode >= 400)) {
    const bodyError = (body?.error ?? undefined) as { code?: string | null; message?: string | null; type?: string } | undefined;
    const code = parsed.error?.code ?? bodyError?.code ?? bodyError?.type ?? (statusCode ? `http_${statusCode}` : 'batch_item_failed');
    const message = parsed.error?.message ?? bodyError?.message ?? 'the provider gave no reason';
    const error: { code: string; message: string; status?: number } = { code, message: redact(message) };
    if (typeof statusCode === 'number') error.status = statusCode;
    return { customId, ok: false, error };
  }
  if (!body) return { customId, ok: false, error: { code: 'malformed_result', message: 'the result line has no response body' } };

  if (Array.isArray(body.data)) {
    const first = (body.data as { embedding?: unknown; index?: number }[]).find((entry) => (entry.index ?? 0) === 0) ?? body.data[0];
    if (!Array.isArray(first?.embedding)) {
      return { customId, ok: false, error: { code: 'malformed_result', message: 'the embedding result has no float vector' } };
    }
    const usage = mapUsage(body.usage as WireUsage | undefined);
    return usage ? { customId, ok: true, embedding: first.embedding as number[], usage } : { customId, ok: true, embedding: first.embedding as number[] };
  }
  const completion = mapChatCompletion(body as WireChatCompletion);
  if (!completion) return { customId, ok: false, error: { code: 'malformed_result', message: 'the chat result has no choice' } };
  return completion.usage ? { customId, ok: true, text: completion, usage: completion.usage } : { customId, ok: true, text: completion };
}
