/**
 * The OpenAI Batch API calls behind `target.batch` (STYLE.md rule 5; DESIGN.md section 7), loaded
 * on the first batch call (see batch-capability.ts), so a chat-only bundle does not carry them.
 *
 * One endpoint per provider batch; JSONL lines from batch-lines.ts; results are read from both the
 * output and the error file, streamed line by line, and matched by `custom_id`, never by order. A
 * batch the provider failed as a whole (validation: `errors.data`) still answers every item, each
 * with the provider's reason. Spec: https://platform.openai.com/docs/guides/batch
 */
import type OpenAI from 'openai';
import { toFile } from 'openai';
import {
  InvalidRequestError,
  redact,
  type BatchContext,
  type BatchError,
  type BatchItem,
  type BatchItemResult,
  type BatchStatus,
  type BatchSubmitOptions,
  type ProviderBatch,
  type Usage,
} from '../../src/provider.js';
import { batchEndpoints, batchLine, checkCompletionWindow, completionWindow, type LineModels } from './batch-lines.js';
import { mapChatCompletion, mapUsage, type WireChatCompletion, type WireUsage } from './chat-response.js';
import { embeddingVector } from './embed.js';
import { mapOpenAIError } from './errors.js';
import { readLines } from './lines.js';

export interface BatchDependencies extends LineModels {
  target: string;
  client(): OpenAI;
  now: () => number;
}

export interface BatchLimits {
  maxItems: number;
  maxBytes: number;
  maxEmbeddingInputs: number;
  maxScan: number;
  maxAgeMs: number;
  /** The window from the target's settings, checked already. */
  completionWindow?: string;
}

/** The capability's asynchronous half. */
export interface BatchApi {
  submit(items: BatchItem[], options: BatchSubmitOptions, ctx: BatchContext): Promise<ProviderBatch>;
  findByMetadata(key: string, value: string, ctx: BatchContext): Promise<ProviderBatch[]>;
  status(id: string, ctx: BatchContext): Promise<ProviderBatch>;
  cancel(id: string, ctx: BatchContext): Promise<ProviderBatch>;
  results(batch: ProviderBatch, ctx: BatchContext): AsyncGenerator<BatchItemResult>;
}

const knownStatuses = new Set<BatchStatus>(['validating', 'in_progress', 'finalizing', 'completed', 'failed', 'expired', 'cancelling', 'cancelled']);
const encoder = new TextEncoder();

export function batchApi(deps: BatchDependencies, limits: BatchLimits): BatchApi {
  const { target } = deps;
  const fail = (error: unknown, ctx: BatchContext) => mapOpenAIError(error, { target, signal: ctx.signal, now: deps.now });

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
      throw fail(error, ctx);
    } finally {
      ctx.signal.removeEventListener('abort', onAbort);
    }
  };

  /** Every line of a file, as it arrives (the caller's own signal: the body is read after `guard` returns). */
  async function* fileLines(fileId: string, ctx: BatchContext): AsyncGenerator<string> {
    const response = await guard(ctx, (client) => client.files.content(fileId, { signal: ctx.signal }));
    const lines = readLines(response.body as ReadableStream<Uint8Array> | null)[Symbol.asyncIterator]();
    try {
      while (true) {
        let next: IteratorResult<string>;
        try {
          next = await lines.next();
        } catch (error) {
          throw fail(error, ctx);
        }
        if (next.done) return;
        yield next.value;
      }
    } finally {
      await lines.return?.(undefined);
    }
  }

  const api: BatchApi = {
    async submit(items, options, ctx) {
      validateSubmit(items, options, limits);
      const seen = new Set<string>();
      const lines: string[] = [];
      for (const item of items) {
        if (seen.has(item.customId)) throw new InvalidRequestError('items[].customId', `'${item.customId}' appears twice; results are matched by it`);
        seen.add(item.customId);
        lines.push(batchLine(item, deps));
      }
      const bytes = encoder.encode(`${lines.join('\n')}\n`);
      if (bytes.length > limits.maxBytes) {
        throw new InvalidRequestError('items', `the batch file would be ${bytes.length} bytes; the limit is ${limits.maxBytes}`);
      }
      const file = await guard(ctx, async (client, signal) => client.files.create({ file: await toFile(bytes, 'batch.jsonl', { type: 'application/jsonl' }), purpose: 'batch' }, { signal }));
      // The upload can be undone (an orphan file); creating the batch cannot. The caller checks
      // here that it still may (the jobs: its claim on the part is still live); its error is its own.
      await ctx.beforeCreate?.();
      const batch = await guard(ctx, async (client, signal) => {
        return client.batches.create(
          {
            input_file_id: file.id,
            endpoint: batchEndpoints[options.operation],
            completion_window: (options.completionWindow ?? limits.completionWindow ?? completionWindow) as '24h',
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
        const oldest = deps.now() - limits.maxAgeMs;
        let scanned = 0;
        // The list is newest first; the cursor page auto-paginates on `for await`.
        for await (const batch of client.batches.list({ limit: 100 }, { signal })) {
          if (++scanned > limits.maxScan) break;
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

    async *results(batch, ctx) {
      let current = batch;
      if (current.outputFileId === undefined && current.errorFileId === undefined) current = await api.status(batch.id, ctx);
      // One result per custom_id (DataLoader's rule) even if a server lists an item in both files.
      const seen = new Set<string>();
      for (const fileId of [current.outputFileId, current.errorFileId]) {
        if (!fileId) continue;
        for await (const line of fileLines(fileId, ctx)) {
          const result = parseResultLine(line);
          if (!result || seen.has(result.customId)) continue;
          seen.add(result.customId);
          yield result;
        }
      }
      if (current.status === 'failed' && seen.size === 0 && current.inputFileId) yield* failedItems(current, ctx);
    },
  };

  /**
   * A batch the provider failed as a whole (it never ran) has no output or error file: each item of
   * its input file gets the provider's reason, the one about its own line when `errors.data` names
   * lines, else the batch's.
   */
  async function* failedItems(batch: ProviderBatch, ctx: BatchContext): AsyncGenerator<BatchItemResult> {
    const errors = batch.errors ?? [];
    const byLine = new Map<number, BatchError>();
    for (const error of errors) if (error.line !== undefined && !byLine.has(error.line)) byLine.set(error.line, error);
    const general = errors.find((error) => error.line === undefined) ?? errors[0];
    let lineNumber = 0;
    for await (const line of fileLines(batch.inputFileId!, ctx)) {
      lineNumber++;
      const customId = customIdOf(line);
      if (customId === undefined) continue;
      const own = byLine.get(lineNumber);
      if (own) {
        yield { customId, ok: false, error: { code: own.code, message: own.message, line: lineNumber } };
        continue;
      }
      const reason = general ? `${general.code}: ${general.message}${general.line !== undefined ? ` (line ${general.line})` : ''}` : 'the provider gave no reason';
      yield { customId, ok: false, error: { code: general?.code ?? 'batch_failed', message: `the provider batch failed before this item ran: ${reason}` } };
    }
  }

  return api;
}

function customIdOf(line: string): string | undefined {
  try {
    const parsed = JSON.parse(line) as { custom_id?: unknown };
    return typeof parsed?.custom_id === 'string' ? parsed.custom_id : undefined;
  } catch {
    return undefined;
  }
}

function validateSubmit(items: BatchItem[], options: BatchSubmitOptions, limits: BatchLimits): void {
  if (!Array.isArray(items) || items.length === 0) throw new InvalidRequestError('items', 'a batch needs at least one item');
  if (items.length > limits.maxItems) throw new InvalidRequestError('items', `${items.length} items; a batch holds at most ${limits.maxItems}`);
  if (!batchEndpoints[options.operation]) throw new InvalidRequestError('options.operation', `must be 'text' or 'embedding'`);
  const mixed = items.findIndex((item) => item.operation !== options.operation);
  if (mixed !== -1) throw new InvalidRequestError(`items[${mixed}].operation`, `one batch serves one endpoint; expected '${options.operation}'`);
  if (options.operation === 'embedding' && items.length > limits.maxEmbeddingInputs) {
    throw new InvalidRequestError('items', `${items.length} embedding inputs; a batch holds at most ${limits.maxEmbeddingInputs}`);
  }
  checkCompletionWindow(options.completionWindow, 'completionWindow');
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
  errors?: { data?: { code?: string | null; message?: string | null; line?: number | null; param?: string | null }[] | null } | null;
  usage?: {
    input_tokens?: number;
    output_tokens?: number;
    total_tokens?: number;
    input_tokens_details?: { cached_tokens?: number } | null;
    output_tokens_details?: { reasoning_tokens?: number } | null;
  } | null;
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
  const errors = batch.errors?.data;
  if (Array.isArray(errors) && errors.length > 0) {
    result.errors = errors.map((error) => {
      const out: BatchError = { code: error.code ?? 'batch_failed', message: redact(error.message ?? 'the provider gave no reason') };
      if (typeof error.line === 'number') out.line = error.line;
      if (typeof error.param === 'string') out.param = error.param;
      return out;
    });
  }
  if (batch.usage) {
    const usage: Usage = {};
    const wire = batch.usage;
    if (typeof wire.input_tokens === 'number') usage.inputTokens = wire.input_tokens;
    if (typeof wire.output_tokens === 'number') usage.outputTokens = wire.output_tokens;
    if (typeof wire.total_tokens === 'number') usage.totalTokens = wire.total_tokens;
    if (typeof wire.input_tokens_details?.cached_tokens === 'number') usage.cachedInputTokens = wire.input_tokens_details.cached_tokens;
    if (typeof wire.output_tokens_details?.reasoning_tokens === 'number') usage.reasoningTokens = wire.output_tokens_details.reasoning_tokens;
    result.usage = usage;
  }
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
    const vector = embeddingVector(first?.embedding);
    if (!vector) return { customId, ok: false, error: { code: 'malformed_result', message: 'the embedding result has no vector' } };
    const usage = mapUsage(body.usage as WireUsage | undefined);
    return usage ? { customId, ok: true, embedding: vector, usage } : { customId, ok: true, embedding: vector };
  }
  const completion = mapChatCompletion(body as WireChatCompletion);
  if (!completion) return { customId, ok: false, error: { code: 'malformed_result', message: 'the chat result has no choice' } };
  return completion.usage ? { customId, ok: true, text: completion, usage: completion.usage } : { customId, ok: true, text: completion };
}
