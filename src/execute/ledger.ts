/**
 * The attempt ledger: every attempt of a call gets a record (the `AttemptRecord` routes and
 * errors list) when it starts, and when it ends one entry says how: the record is closed, the
 * target's stats are charged (or told the failure was inconclusive, see ./verdicts), the
 * conversation's replica is settled, and an `attempt` event goes out.
 *
 * Imports: errors, router/types (types), ./verdicts, ./types (types).
 */
import { type AttemptRecord, type InferlaneError, redact } from '../errors.js';
import type { Candidate } from '../router/types.js';
import { answeredBefore, type AttemptFacts, chargesCircuit } from './verdicts.js';
import type { ExecutorDeps, RunOptions } from './types.js';

/** One attempt as the ledger keeps it: its record, the facts its verdict reads, and where it ran. */
export interface AttemptEntry extends AttemptFacts {
  candidate: Candidate;
  /** The conversation's replica, once the attempt has picked one. */
  replica?: number;
}

/** What the ledger reads of a call. */
export interface LedgerCall {
  readonly options: RunOptions;
  /** When the call started (its clock's ms): record times are measured from it. */
  readonly startedAt: number;
  readonly attempts: AttemptRecord[];
}

export class Ledger {
  constructor(private readonly deps: Pick<ExecutorDeps, 'clock' | 'stats' | 'emit' | 'listens'>) {}

  /** An attempt starts: its record joins the call's list (outcome 'error' until it says otherwise). */
  open(call: LedgerCall, candidate: Candidate, hedge: boolean): AttemptEntry {
    const record: AttemptRecord = { target: candidate.target.id, outcome: 'error', startMs: this.deps.clock.now() - call.startedAt, durationMs: 0 };
    if (hedge) record.hedge = true;
    call.attempts.push(record);
    return { record, candidate, replica: undefined, chargeable: true, answeredAtStart: answeredBefore(candidate.target, this.deps.stats) };
  }

  /** A candidate was not tried (its circuit is open). */
  skip(call: LedgerCall, candidate: Candidate, reason: string): void {
    call.attempts.push({ target: candidate.target.id, outcome: 'skipped', message: reason, startMs: this.deps.clock.now() - call.startedAt, durationMs: 0 });
  }

  /** The attempt answered (a stream: ended well). `ttftMs` is its first part's time, else the whole answer's. */
  succeed(call: LedgerCall, entry: AttemptEntry, ttftMs?: number): void {
    const now = this.deps.clock.now();
    const { record } = entry;
    record.outcome = 'ok';
    record.durationMs = now - call.startedAt - record.startMs;
    this.deps.stats.recordSuccess(entry.candidate.target.id, { totalMs: record.durationMs, ttftMs: ttftMs ?? record.durationMs }, now);
    call.options.conversation?.settle?.(entry.candidate.target, entry.replica, true);
    this.emit(call, record);
  }

  /** The attempt failed with `error`: charged to the target's circuit unless its verdict says the failure was inconclusive. */
  fail(call: LedgerCall, entry: AttemptEntry, error: InferlaneError): void {
    const now = this.deps.clock.now();
    const { record, candidate } = entry;
    record.outcome = error.code === 'ABORTED' ? 'aborted' : 'error';
    record.code = error.code;
    record.status = error.status;
    record.message = redact(error.message).slice(0, 200);
    record.durationMs = now - call.startedAt - record.startMs;
    if (record.outcome === 'error') {
      if (chargesCircuit(error, entry, candidate, call.options.operation, this.deps.stats)) this.deps.stats.recordFailure(candidate.target.id, error, now);
      else this.deps.stats.recordInconclusive(candidate.target.id);
    }
    call.options.conversation?.settle?.(candidate.target, entry.replica, false);
    this.emit(call, record);
  }

  /** The attempt lost a hedge race: aborted, nothing charged. */
  lostHedge(call: LedgerCall, entry: AttemptEntry): void {
    const { record } = entry;
    record.outcome = 'aborted';
    record.code = 'ABORTED';
    record.message = 'lost the hedge';
    record.durationMs = this.deps.clock.now() - call.startedAt - record.startMs;
    this.emit(call, record);
  }

  private emit(call: LedgerCall, record: AttemptRecord): void {
    if (this.deps.listens && !this.deps.listens('attempt')) return;
    this.deps.emit('attempt', Object.assign({}, record, { operation: call.options.operation }));
  }
}
