/**
 * In-memory Files and Batch API emulation for the OpenAI-compatible test server.
 *
 * Life cycle (https://platform.openai.com/docs/guides/batch): validating -> in_progress
 * (request_counts grow) -> finalizing -> completed, or failed (validation), expired
 * (completion window passed: partial results), cancelling -> cancelled (partial results).
 * Time moves only when a test says so: `advance()` moves every open batch one stage, or a
 * `timeline` turns the injected clock into stages on every read. Nothing here sleeps.
 *
 * Input files stay Buffers; lines are parsed one at a time from offsets, never split into
 * one giant string, so 120,000 lines / tens of MB go through in about a second.
 *
 * Imports: ./scripts.js only.
 */
import { forEachLine, seededRandom, shuffleInPlace, hash32, type Random } from './scripts.js';

export interface StoredFile {
  id: string;
  object: 'file';
  bytes: number;
  created_at: number;
  filename: string;
  purpose: string;
  status: 'processed';
  expires_at: number | null;
  status_details: null;
}

/** How a batch item answered: an HTTP status and a JSON body, as the online route would. */
export interface ItemAnswer {
  status: number;
  body: unknown;
}

export interface BatchItem {
  customId: string;
  body: Record<string, unknown>;
  /** The line as uploaded, for pattern matching. */
  line: string;
}

/** Clock-driven stage lengths, ms. */
export interface BatchTimeline {
  /** @default 0 */
  validatingMs?: number;
  /** Items complete evenly over this span, ms. @default 0 */
  inProgressMs?: number;
  /** Also the time from cancelling to cancelled, ms. @default 0 */
  finalizingMs?: number;
}

export interface BatchStoreOptions {
  /** Epoch ms. */
  now: () => number;
  seed: number;
  /** Answers one item with the same logic as the online route for `endpoint`. */
  processItem: (endpoint: string, body: Record<string, unknown>) => ItemAnswer;
  /** When set, stages follow the clock; else only `advance()` moves batches. */
  timeline?: BatchTimeline;
  /**
   * Items to fail: a pattern tested against the custom_id and the raw line, or a function.
   * A failed item gets an error-file line with `status_code` (default 500).
   */
  failItems?: RegExp | ((item: BatchItem) => boolean | { status: number; message?: string });
  /** Lines per batch; more fails validation like OpenAI's limit. @default 50,000 */
  maxLines?: number;
  /**
   * Lines that fail the batch's validation (tested against the raw line): the batch ends `failed`
   * with one `errors.data` entry per such line, naming its line number, as OpenAI reports them.
   */
  rejectLines?: RegExp;
}

type Status = 'validating' | 'failed' | 'in_progress' | 'finalizing' | 'completed' | 'expired' | 'cancelling' | 'cancelled';
const terminal = new Set<Status>(['failed', 'completed', 'expired', 'cancelled']);

export interface BatchObject {
  id: string;
  object: 'batch';
  endpoint: string;
  errors: { object: 'list'; data: { code: string; message: string; param: string | null; line: number | null }[] } | null;
  input_file_id: string;
  completion_window: string;
  status: Status;
  output_file_id: string | null;
  error_file_id: string | null;
  created_at: number;
  in_progress_at: number | null;
  expires_at: number;
  finalizing_at: number | null;
  completed_at: number | null;
  failed_at: number | null;
  expired_at: number | null;
  cancelling_at: number | null;
  cancelled_at: number | null;
  request_counts: { total: number; completed: number; failed: number };
  metadata: Record<string, string> | null;
  /** Tokens of the answered items, summed (OpenAI reports it on batches created since September 2025). */
  usage?: BatchUsage;
}

export interface BatchUsage {
  input_tokens: number;
  input_tokens_details: { cached_tokens: number };
  output_tokens: number;
  output_tokens_details: { reasoning_tokens: number };
  total_tokens: number;
}

interface BatchRecord {
  batch: BatchObject;
  createdMs: number;
  expiresMs: number;
  cancellingMs?: number;
  input: Buffer;
  /** Line offsets into `input`: [start0, end0, start1, end1, ...], filled by validation. */
  lines?: Int32Array;
  processed: number;
  outputLines: LineSink;
  errorLines: LineSink;
  random: Random;
}

/**
 * Output lines kept as UTF-8 bytes in 1,024-line chunks with per-line offsets. Shuffling
 * permutes indices and copies byte ranges: no 120,000-string arrays for the GC to walk,
 * no giant joined string.
 */
class LineSink {
  private readonly chunks: Buffer[] = [];
  private pending: string[] = [];
  private readonly lineChunk: number[] = [];
  private readonly lineStart: number[] = [];
  private readonly lineEnd: number[] = [];
  private bytes = 0;

  get count(): number {
    return this.lineStart.length + this.pending.length;
  }

  push(line: string): void {
    this.pending.push(line);
    if (this.pending.length >= 1024) this.flush();
  }

  /** All lines in a seeded random order, newline-terminated, in one Buffer. */
  toShuffledBuffer(random: Random): Buffer {
    this.flush();
    const count = this.lineStart.length;
    const order = new Int32Array(count);
    for (let index = 0; index < count; index++) order[index] = index;
    shuffleInPlace<number, Int32Array>(order, random);
    const target = Buffer.allocUnsafe(this.bytes);
    let position = 0;
    for (let index = 0; index < count; index++) {
      const line = order[index];
      position += this.chunks[this.lineChunk[line]].copy(target, position, this.lineStart[line], this.lineEnd[line]);
      target[position++] = 0x0a;
    }
    return target;
  }

  private flush(): void {
    if (this.pending.length === 0) return;
    // JSON.stringify escapes newlines, so every 0x0a in the chunk ends a line.
    const chunk = Buffer.from(`${this.pending.join('\n')}\n`);
    const chunkIndex = this.chunks.push(chunk) - 1;
    let start = 0;
    for (let index = 0; index < this.pending.length; index++) {
      const end = chunk.indexOf(0x0a, start);
      this.lineChunk.push(chunkIndex);
      this.lineStart.push(start);
      this.lineEnd.push(end);
      start = end + 1;
    }
    this.bytes += chunk.length;
    this.pending = [];
  }
}

/** An error for the route to send: HTTP status, message and the parameter at fault. */
export class BatchRequestError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly param: string | null = null,
  ) {
    super(message);
    this.name = 'BatchRequestError';
  }
}

export const batchEndpoints = new Set(['/v1/chat/completions', '/v1/embeddings', '/v1/responses', '/v1/completions']);
const windows: Record<string, number> = { '24h': 24 * 3600_000 };

export class FileStore {
  private readonly files = new Map<string, { file: StoredFile; data: Buffer }>();
  private sequence = 0;

  constructor(private readonly now: () => number) {}

  create(data: Buffer, filename: string, purpose: string): StoredFile {
    const id = `file-${(++this.sequence).toString().padStart(6, '0')}`;
    const file: StoredFile = {
      id,
      object: 'file',
      bytes: data.length,
      created_at: Math.floor(this.now() / 1000),
      filename,
      purpose,
      status: 'processed',
      expires_at: null,
      status_details: null,
    };
    this.files.set(id, { file, data });
    return file;
  }

  get(id: string): StoredFile | undefined {
    return this.files.get(id)?.file;
  }

  content(id: string): Buffer | undefined {
    return this.files.get(id)?.data;
  }

  delete(id: string): boolean {
    return this.files.delete(id);
  }

  list(purpose?: string): StoredFile[] {
    const result: StoredFile[] = [];
    for (const { file } of this.files.values()) if (!purpose || file.purpose === purpose) result.push(file);
    return result.reverse();
  }

  clear(): void {
    this.files.clear();
  }
}

export class BatchStore {
  private readonly records = new Map<string, BatchRecord>();
  /** Creation order, for cursor pagination without sorting on every list. */
  private readonly order: string[] = [];
  private readonly position = new Map<string, number>();
  private sequence = 0;
  private itemSequence = 0;

  constructor(
    private readonly files: FileStore,
    private readonly options: BatchStoreOptions,
  ) {}

  create(parameters: Record<string, unknown>): BatchObject {
    const inputFileId = parameters.input_file_id;
    if (typeof inputFileId !== 'string') throw new BatchRequestError(400, 'input_file_id is required', 'input_file_id');
    const input = this.files.content(inputFileId);
    if (!input) throw new BatchRequestError(404, `No such File object: ${inputFileId}`, 'input_file_id');
    const endpoint = parameters.endpoint;
    if (typeof endpoint !== 'string' || !batchEndpoints.has(endpoint)) {
      throw new BatchRequestError(400, `endpoint must be one of ${[...batchEndpoints].join(', ')}`, 'endpoint');
    }
    const window = parameters.completion_window;
    if (typeof window !== 'string' || !(window in windows)) {
      throw new BatchRequestError(400, "completion_window must be '24h'", 'completion_window');
    }
    const metadata = parameters.metadata ?? null;
    if (metadata !== null) {
      if (typeof metadata !== 'object' || Array.isArray(metadata)) throw new BatchRequestError(400, 'metadata must be an object', 'metadata');
      const entries = Object.entries(metadata as Record<string, unknown>);
      if (entries.length > 16) throw new BatchRequestError(400, 'metadata holds at most 16 pairs', 'metadata');
      for (const [key, value] of entries) {
        if (key.length > 64 || typeof value !== 'string' || value.length > 512) {
          throw new BatchRequestError(400, 'metadata keys are at most 64 characters and values strings of at most 512', 'metadata');
        }
      }
    }
    const now = this.options.now();
    const id = `batch_${(++this.sequence).toString().padStart(6, '0')}`;
    const batch: BatchObject = {
      id,
      object: 'batch',
      endpoint,
      errors: null,
      input_file_id: inputFileId,
      completion_window: window,
      status: 'validating',
      output_file_id: null,
      error_file_id: null,
      created_at: seconds(now),
      in_progress_at: null,
      expires_at: seconds(now + windows[window]),
      finalizing_at: null,
      completed_at: null,
      failed_at: null,
      expired_at: null,
      cancelling_at: null,
      cancelled_at: null,
      request_counts: { total: 0, completed: 0, failed: 0 },
      metadata: metadata as Record<string, string> | null,
    };
    this.records.set(id, {
      batch,
      createdMs: now,
      expiresMs: now + windows[window],
      input,
      processed: 0,
      outputLines: new LineSink(),
      errorLines: new LineSink(),
      random: seededRandom(this.options.seed ^ hash32(id)),
    });
    this.position.set(id, this.order.length);
    this.order.push(id);
    return batch;
  }

  get(id: string): BatchObject | undefined {
    const record = this.records.get(id);
    if (!record) return undefined;
    this.sync(record);
    return record.batch;
  }

  /** Newest first, like OpenAI; `after` is the id of the last batch of the previous page. */
  list(limit = 20, after?: string): { data: BatchObject[]; has_more: boolean } {
    let index = this.order.length - 1;
    if (after !== undefined) {
      const afterIndex = this.position.get(after);
      index = afterIndex === undefined ? -1 : afterIndex - 1;
    }
    const data: BatchObject[] = [];
    for (; index >= 0 && data.length < limit; index--) {
      const record = this.records.get(this.order[index])!;
      this.sync(record);
      data.push(record.batch);
    }
    return { data, has_more: index >= 0 };
  }

  cancel(id: string): BatchObject {
    const record = this.records.get(id);
    if (!record) throw new BatchRequestError(404, `No such Batch object: ${id}`, 'batch_id');
    this.sync(record);
    const status = record.batch.status;
    if (terminal.has(status) || status === 'cancelling') {
      throw new BatchRequestError(409, `Cannot cancel a batch with status '${status}'.`);
    }
    const now = this.options.now();
    record.cancellingMs = now;
    record.batch.status = 'cancelling';
    record.batch.cancelling_at = seconds(now);
    return record.batch;
  }

  /**
   * Moves every open batch one stage: validating -> in_progress; in_progress processes up
   * to `items` items (all by default) and becomes finalizing when none remain;
   * finalizing -> completed; cancelling -> cancelled. Returns the batches it moved.
   */
  advance(options: { items?: number; id?: string } = {}): BatchObject[] {
    const moved: BatchObject[] = [];
    for (const record of this.records.values()) {
      if (options.id !== undefined && record.batch.id !== options.id) continue;
      this.sync(record);
      const status = record.batch.status;
      if (terminal.has(status)) continue;
      const now = this.options.now();
      if (status === 'validating') this.validate(record, now);
      else if (status === 'in_progress') {
        this.processItems(record, options.items ?? Number.POSITIVE_INFINITY);
        if (record.processed >= this.totalLines(record)) this.startFinalizing(record, now);
      } else if (status === 'finalizing') this.finish(record, 'completed', now);
      else if (status === 'cancelling') this.finish(record, 'cancelled', now);
      moved.push(record.batch);
    }
    return moved;
  }

  /** Advances until every batch is terminal. */
  runToCompletion(): void {
    for (let guard = 0; guard < 1000; guard++) if (this.advance().length === 0) return;
  }

  /** Ends open batches as if their completion window passed: status expired, partial results. */
  expire(id?: string): void {
    for (const record of this.records.values()) if (id === undefined || record.batch.id === id) this.expireRecord(record);
  }

  private expireRecord(record: BatchRecord): void {
    if (terminal.has(record.batch.status)) return;
    const at = Math.min(this.options.now(), record.expiresMs);
    if (record.batch.status === 'validating') this.validate(record, at);
    if (record.batch.status !== 'failed') this.finish(record, 'expired', at);
  }

  clear(): void {
    this.records.clear();
    this.order.length = 0;
    this.position.clear();
  }

  // ------------------------------------------------------------ stages

  /** Brings a batch up to date with the clock: expiry always, stages when a timeline is set. */
  private sync(record: BatchRecord): void {
    if (terminal.has(record.batch.status)) return;
    const now = this.options.now();
    const timeline = this.options.timeline;
    if (timeline) {
      const validatingMs = timeline.validatingMs ?? 0;
      const inProgressMs = timeline.inProgressMs ?? 0;
      const finalizingMs = timeline.finalizingMs ?? 0;
      const elapsed = Math.min(now, record.expiresMs) - record.createdMs;
      if (record.batch.status === 'cancelling') {
        if (now - record.cancellingMs! >= finalizingMs) this.finish(record, 'cancelled', now);
      } else {
        if (record.batch.status === 'validating' && elapsed >= validatingMs) this.validate(record, record.createdMs + validatingMs);
        if (record.batch.status === 'in_progress') {
          const total = this.totalLines(record);
          const share = inProgressMs === 0 ? 1 : Math.min(1, (elapsed - validatingMs) / inProgressMs);
          this.processItems(record, Math.ceil(total * share) - record.processed);
          if (record.processed >= total) this.startFinalizing(record, record.createdMs + validatingMs + inProgressMs);
        }
        if (record.batch.status === 'finalizing' && elapsed >= validatingMs + inProgressMs + finalizingMs) {
          this.finish(record, 'completed', record.createdMs + validatingMs + inProgressMs + finalizingMs);
        }
      }
    }
    if (!terminal.has(record.batch.status) && now >= record.expiresMs) this.expireRecord(record);
  }

  private totalLines(record: BatchRecord): number {
    return record.lines ? record.lines.length / 2 : 0;
  }

  private validate(record: BatchRecord, at: number): void {
    const { input } = record;
    const batch = record.batch;
    const maxLines = this.options.maxLines ?? 50_000;
    const offsets: number[] = [];
    const customIds = new Set<string>();
    let failure: { code: string; message: string; param: string | null; line: number | null } | undefined;
    forEachLine(input, (start, end, lineNumber) => {
      if (failure) return;
      offsets.push(start, end);
      if (offsets.length / 2 > maxLines) {
        failure = { code: 'too_many_requests', message: `A batch holds at most ${maxLines} requests.`, param: null, line: null };
        return;
      }
      let parsed: Record<string, unknown>;
      try {
        parsed = JSON.parse(input.toString('utf8', start, end)) as Record<string, unknown>;
      } catch {
        failure = { code: 'invalid_json_line', message: 'This line is not parseable as valid JSON.', param: null, line: lineNumber };
        return;
      }
      if (typeof parsed?.custom_id !== 'string') {
        failure = { code: 'missing_required_parameter', message: 'custom_id is required.', param: 'custom_id', line: lineNumber };
      } else if (customIds.has(parsed.custom_id)) {
        failure = { code: 'duplicate_custom_id', message: 'custom_id values must be unique.', param: 'custom_id', line: lineNumber };
      } else if (parsed.method !== 'POST') {
        failure = { code: 'invalid_method', message: "method must be 'POST'.", param: 'method', line: lineNumber };
      } else if (parsed.url !== batch.endpoint) {
        failure = { code: 'mismatched_endpoint', message: `url must be ${batch.endpoint}, the batch's endpoint.`, param: 'url', line: lineNumber };
      } else if (typeof parsed.body !== 'object' || parsed.body === null) {
        failure = { code: 'missing_required_parameter', message: 'body is required.', param: 'body', line: lineNumber };
      } else customIds.add(parsed.custom_id);
    });
    if (!failure && offsets.length === 0) failure = { code: 'empty_file', message: 'The input file holds no requests.', param: null, line: null };
    const rejected: { code: string; message: string; param: string | null; line: number | null }[] = [];
    const rule = this.options.rejectLines;
    if (!failure && rule) {
      forEachLine(input, (start, end, lineNumber) => {
        if (rule.test(input.toString('utf8', start, end))) rejected.push({ code: 'invalid_request', message: 'This line does not match the endpoint it is for.', param: 'body', line: lineNumber });
      });
    }
    if (failure || rejected.length > 0) {
      batch.status = 'failed';
      batch.failed_at = seconds(at);
      batch.errors = { object: 'list', data: failure ? [failure] : rejected };
      return;
    }
    record.lines = Int32Array.from(offsets);
    batch.request_counts.total = offsets.length / 2;
    batch.status = 'in_progress';
    batch.in_progress_at = seconds(at);
  }

  private processItems(record: BatchRecord, count: number): void {
    const total = this.totalLines(record);
    const end = Math.min(total, record.processed + Math.max(0, count));
    const lines = record.lines!;
    const endpoint = record.batch.endpoint;
    for (let index = record.processed; index < end; index++) {
      const line = record.input.toString('utf8', lines[index * 2], lines[index * 2 + 1]);
      const parsed = JSON.parse(line) as { custom_id: string; body: Record<string, unknown> };
      const answer = this.failure({ customId: parsed.custom_id, body: parsed.body, line }) ?? this.options.processItem(endpoint, parsed.body);
      const itemId = `batch_req_${(++this.itemSequence).toString(16).padStart(8, '0')}`;
      const output = JSON.stringify({
        id: itemId,
        custom_id: parsed.custom_id,
        response: { status_code: answer.status, request_id: `req_${itemId.slice(10)}`, body: answer.body },
        error: null,
      });
      if (answer.status >= 200 && answer.status < 300) {
        record.outputLines.push(output);
        record.batch.request_counts.completed++;
        addUsage(record.batch, (answer.body as { usage?: ItemUsage } | undefined)?.usage);
      } else {
        record.errorLines.push(output);
        record.batch.request_counts.failed++;
      }
    }
    record.processed = end;
  }

  private failure(item: BatchItem): ItemAnswer | undefined {
    const rule = this.options.failItems;
    if (!rule) return undefined;
    let verdict: boolean | { status: number; message?: string };
    if (rule instanceof RegExp) verdict = rule.test(item.customId) || rule.test(item.line);
    else verdict = rule(item);
    if (!verdict) return undefined;
    const status = verdict === true ? 500 : verdict.status;
    const message = verdict === true ? 'The server had an error processing this request.' : (verdict.message ?? 'Scripted failure.');
    return { status, body: { error: { message, type: status >= 500 ? 'server_error' : 'invalid_request_error', param: null, code: null } } };
  }

  private startFinalizing(record: BatchRecord, at: number): void {
    record.batch.status = 'finalizing';
    record.batch.finalizing_at = seconds(at);
  }

  /** Writes the output and error files (shuffled, seeded) and sets the terminal status. */
  private finish(record: BatchRecord, status: 'completed' | 'expired' | 'cancelled', at: number): void {
    const batch = record.batch;
    if (status !== 'completed' && record.lines) {
      const code = status === 'expired' ? 'batch_expired' : 'batch_cancelled';
      const message =
        status === 'expired'
          ? 'This request could not be executed before the completion window expired.'
          : 'This request was not executed because the batch was cancelled.';
      const lines = record.lines;
      for (let index = record.processed; index < lines.length / 2; index++) {
        const line = record.input.toString('utf8', lines[index * 2], lines[index * 2 + 1]);
        const customId = (JSON.parse(line) as { custom_id: string }).custom_id;
        const itemId = `batch_req_${(++this.itemSequence).toString(16).padStart(8, '0')}`;
        record.errorLines.push(JSON.stringify({ id: itemId, custom_id: customId, response: null, error: { code, message } }));
      }
    }
    if (record.outputLines.count > 0) {
      batch.output_file_id = this.files.create(record.outputLines.toShuffledBuffer(record.random), `${batch.id}_output.jsonl`, 'batch_output').id;
    }
    if (record.errorLines.count > 0) {
      batch.error_file_id = this.files.create(record.errorLines.toShuffledBuffer(record.random), `${batch.id}_error.jsonl`, 'batch_output').id;
    }
    // The lines now live in the files; drop the sinks.
    record.outputLines = new LineSink();
    record.errorLines = new LineSink();
    batch.status = status;
    if (status === 'completed') batch.completed_at = seconds(at);
    else if (status === 'expired') batch.expired_at = seconds(at);
    else batch.cancelled_at = seconds(at);
  }
}

interface ItemUsage {
  prompt_tokens?: number;
  completion_tokens?: number;
  total_tokens?: number;
  prompt_tokens_details?: { cached_tokens?: number };
  completion_tokens_details?: { reasoning_tokens?: number };
}

/** Adds one answered item's usage (chat or embeddings) to the batch's. */
function addUsage(batch: BatchObject, usage: ItemUsage | undefined): void {
  if (!usage) return;
  const total = (batch.usage ??= { input_tokens: 0, input_tokens_details: { cached_tokens: 0 }, output_tokens: 0, output_tokens_details: { reasoning_tokens: 0 }, total_tokens: 0 });
  total.input_tokens += usage.prompt_tokens ?? 0;
  total.output_tokens += usage.completion_tokens ?? 0;
  total.total_tokens += usage.total_tokens ?? (usage.prompt_tokens ?? 0) + (usage.completion_tokens ?? 0);
  total.input_tokens_details.cached_tokens += usage.prompt_tokens_details?.cached_tokens ?? 0;
  total.output_tokens_details.reasoning_tokens += usage.completion_tokens_details?.reasoning_tokens ?? 0;
}

function seconds(ms: number): number {
  return Math.floor(ms / 1000);
}
