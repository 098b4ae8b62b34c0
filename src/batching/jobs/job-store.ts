/**
 * The job store: every key of a job and every write to it. Creating the record is the commit
 * point of a job: its items are written first (chunks in one list), the record last, and only
 * then may a provider hear of the job. Every later change is a compare-and-set on the record.
 *
 * Keys, under the prefix (default 'jobs:'): `<id>` the record, `<id>:items` the item chunks,
 * `<id>:ids` the caller ids in the same chunks (a results reader needs only those), `<id>:cursor`
 * the saved results cursor, `<id>:online:<part>` an online part's answers.
 *
 * Imports: errors.ts, stores/store.ts, ./input-hash, ./status, ./types.
 */
import { JobError } from '../../errors.js';
import type { KeyValueStore } from '../../stores/store.js';
import { InputHash } from './input-hash.js';
import { aggregateStatus } from './status.js';
import { terminalStatuses, type JobItem, type JobRecord, type PartRecord } from './types.js';

export interface LoadedRecord {
  record: JobRecord;
  version: number;
}

/** Chunks appended per store call while items are written. */
const chunksPerAppend = 50;

export class JobStore {
  constructor(
    readonly store: KeyValueStore,
    readonly prefix: string,
    private readonly now: () => number,
  ) {}

  /**
   * Writes the items of a new job in chunks of `chunkSize` and returns their hash. The job does
   * not exist until `commit` writes its record; `discardItems` drops the chunks of one that never will.
   */
  async writeItems(id: string, items: readonly JobItem[], chunkSize: number): Promise<string> {
    const hash = new InputHash();
    const chunks: string[] = [];
    const idChunks: string[] = [];
    const flush = async () => {
      await this.store.append(this.itemsKey(id), chunks.splice(0));
      await this.store.append(this.idsKey(id), idChunks.splice(0));
    };
    for (let start = 0; start < items.length; start += chunkSize) {
      const slice = items.slice(start, start + chunkSize);
      const chunk = JSON.stringify(slice);
      hash.update(chunk);
      chunks.push(chunk);
      idChunks.push(JSON.stringify(slice.map((item) => item.id)));
      if (chunks.length === chunksPerAppend) await flush();
    }
    if (chunks.length > 0) await flush();
    return hash.digest();
  }

  async discardItems(id: string): Promise<void> {
    await this.store.delete(this.itemsKey(id));
    await this.store.delete(this.idsKey(id));
  }

  /** The commit point: the record is created, or the id is taken (JobError). */
  async commit(record: JobRecord): Promise<void> {
    const created = await this.store.compareAndSet(this.recordKey(record.id), null, JSON.stringify(record));
    if (created === undefined) throw new JobError(`job id ${record.id} already exists in the store`);
  }

  async load(id: string): Promise<LoadedRecord> {
    const entry = await this.store.get(this.recordKey(id));
    if (!entry) throw new JobError(`no job with id '${id}' in the store`);
    return { record: JSON.parse(entry.value) as JobRecord, version: entry.version };
  }

  /** Writes `record` if nobody wrote since `version`; the new version, or undefined when another writer won. */
  replace(record: JobRecord, version: number): Promise<number | undefined> {
    return this.store.compareAndSet(this.recordKey(record.id), version, JSON.stringify(record));
  }

  /**
   * Read-modify-write with compare-and-set, retried until it lands. `change` returns false to
   * skip the write. The job's status follows its parts; `finishedAt` is set when it ends.
   */
  async mutate(id: string, change: (record: JobRecord) => boolean | void): Promise<JobRecord> {
    for (;;) {
      const { record, version } = await this.load(id);
      if (change(record) === false) return record;
      const before = record.status;
      record.status = aggregateStatus(record);
      if (terminalStatuses.has(record.status) && !terminalStatuses.has(before)) record.finishedAt = this.now();
      if ((await this.replace(record, version)) !== undefined) return record;
    }
  }

  /** Every job record under the prefix (item chunks, cursors and answers are skipped). */
  async records(): Promise<JobRecord[]> {
    const records: JobRecord[] = [];
    for (const key of await this.store.list(this.prefix)) {
      if (key.includes(':', this.prefix.length)) continue; // `<id>:items`, `<id>:cursor`, `<id>:online:<n>`
      const entry = await this.store.get(key);
      if (entry) records.push(JSON.parse(entry.value) as JobRecord);
    }
    return records;
  }

  loadItems(record: JobRecord, part: PartRecord): Promise<JobItem[]> {
    return this.loadChunks<JobItem>(this.itemsKey(record.id), record, part, 'items');
  }

  /** The part's caller ids, in item order (a job saved before ids were kept apart: from its items). */
  async loadCallerIds(record: JobRecord, part: PartRecord): Promise<string[]> {
    if (record.idChunks) return this.loadChunks<string>(this.idsKey(record.id), record, part, 'caller ids');
    return (await this.loadItems(record, part)).map((item) => item.id);
  }

  private async loadChunks<T>(key: string, record: JobRecord, part: PartRecord, what: string): Promise<T[]> {
    const first = Math.floor(part.start / record.chunkSize);
    const last = Math.floor((part.end - 1) / record.chunkSize);
    const chunks = await this.store.range(key, first, last + 1);
    if (chunks.length !== last - first + 1) throw new JobError(`job ${record.id}: stored ${what} are missing (chunks ${first}..${last})`);
    const values: T[] = [];
    for (const chunk of chunks) for (const value of JSON.parse(chunk) as T[]) values.push(value);
    const offset = part.start - first * record.chunkSize;
    return values.slice(offset, offset + (part.end - part.start));
  }

  async cursor(id: string): Promise<string | undefined> {
    return (await this.store.get(this.cursorKey(id)))?.value;
  }

  /** Once per result handed out: the store's own promise, no extra async frame. */
  saveCursor(id: string, cursor: string): Promise<unknown> {
    return this.store.set(this.cursorKey(id), cursor);
  }

  async appendAnswers(id: string, part: number, lines: string[]): Promise<void> {
    await this.store.append(this.onlineKey(id, part), lines);
  }

  answers(id: string, part: number, start: number, end: number): Promise<string[]> {
    return this.store.range(this.onlineKey(id, part), start, end);
  }

  recordKey(id: string): string {
    return `${this.prefix}${id}`;
  }

  private itemsKey(id: string): string {
    return `${this.prefix}${id}:items`;
  }

  private idsKey(id: string): string {
    return `${this.prefix}${id}:ids`;
  }

  private cursorKey(id: string): string {
    return `${this.prefix}${id}:cursor`;
  }

  private onlineKey(id: string, part: number): string {
    return `${this.prefix}${id}:online:${part}`;
  }
}
