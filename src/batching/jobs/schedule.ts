/**
 * When a job may be submitted: a `notBefore` time and a daily off-peak window in an IANA time
 * zone, and the completion window's duration. Pure: time comes in as `now`.
 *
 * Wall clocks come from `Intl.DateTimeFormat` (every runtime we support ships the time zone
 * database), so no dependency: the zone's offset at an instant is its wall clock read as UTC
 * minus the instant. Daylight-saving days are handled: a window opening inside a skipped hour
 * opens when the clock jumps past it; an opening in a repeated hour uses its first occurrence.
 *
 * Imports: errors.ts, ./types.
 */
import { InvalidRequestError } from '../../errors.js';
import type { JobSchedule, JobWindow } from './types.js';

const minuteMs = 60_000;
const dayMs = 86_400_000;

/** A completion window ('24h', '30m', '7d', '90s') in ms. */
export function parseWindow(window: string): number {
  const match = /^(\d+)\s*(s|m|h|d)$/.exec(window);
  if (!match || Number(match[1]) === 0) throw new InvalidRequestError('completionWindow', `must be a positive duration like '24h', '30m', '7d' or '90s'; got '${window.slice(0, 40)}'`);
  const unit = { s: 1_000, m: minuteMs, h: 3_600_000, d: dayMs }[match[2] as 's' | 'm' | 'h' | 'd'];
  return Number(match[1]) * unit;
}

/**
 * The schedule to save with a job, checked (InvalidRequestError naming `window.start`,
 * `window.timeZone`, `notBefore`...), or undefined when the job goes at once. The time zone is
 * resolved here, so every worker reads the window the same way whatever its own zone.
 */
export function resolveSchedule(window: unknown, notBefore: unknown): JobSchedule | undefined {
  const schedule: JobSchedule = {};
  if (notBefore !== undefined) {
    const at = notBefore instanceof Date ? notBefore.getTime() : notBefore;
    if (typeof at !== 'number' || !Number.isFinite(at)) throw new InvalidRequestError('notBefore', 'must be a time in ms since epoch or a valid Date');
    schedule.notBefore = at;
  }
  if (window !== undefined) schedule.window = resolveWindow(window);
  return schedule.notBefore === undefined && schedule.window === undefined ? undefined : schedule;
}

function resolveWindow(window: unknown): Required<JobWindow> {
  if (typeof window !== 'object' || window === null || Array.isArray(window)) throw new InvalidRequestError('window', "must be an object like { start: '22:00', end: '06:00', timeZone: 'Europe/Berlin' }");
  const { start, end, timeZone, ...rest } = window as Record<string, unknown>;
  const unknown = Object.keys(rest)[0];
  if (unknown !== undefined) throw new InvalidRequestError(`window.${unknown}`, 'is not a window option (start, end, timeZone)');
  const startMs = clockTime(start, 'window.start');
  if (clockTime(end, 'window.end') === startMs) throw new InvalidRequestError('window.end', 'equals window.start: the window would be empty (omit window to submit at once)');
  let zone: string;
  if (timeZone === undefined) zone = localTimeZone();
  else {
    if (typeof timeZone !== 'string' || timeZone === '') throw new InvalidRequestError('window.timeZone', 'must be an IANA time zone name such as Europe/Berlin');
    try {
      zone = new Intl.DateTimeFormat('en-US', { timeZone }).resolvedOptions().timeZone;
    } catch {
      throw new InvalidRequestError('window.timeZone', `'${timeZone.slice(0, 60)}' is not a time zone this runtime knows (an IANA name such as Europe/Berlin)`);
    }
  }
  return { start: start as string, end: end as string, timeZone: zone };
}

/** 'HH:MM' to ms after midnight. */
function clockTime(value: unknown, field: string): number {
  const match = typeof value === 'string' ? /^([01]\d|2[0-3]):([0-5]\d)$/.exec(value) : null;
  if (!match) throw new InvalidRequestError(field, `must be a 24-hour wall-clock time 'HH:MM' such as '22:00'; got ${typeof value === 'string' ? `'${value.slice(0, 20)}'` : typeof value}`);
  return Number(match[1]) * 3_600_000 + Number(match[2]) * minuteMs;
}

function localTimeZone(): string {
  return new Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
}

/** The earliest time at or after `now` when the schedule allows submitting (`now` itself when it does now). */
export function nextStart(schedule: JobSchedule, now: number): number {
  const from = Math.max(now, schedule.notBefore ?? now);
  return schedule.window ? nextOpening(schedule.window, from) : from;
}

/** Whether the window holds `instant`. */
export function inWindow(window: Required<JobWindow>, instant: number): boolean {
  const time = msOfDay(wallClock(instant, window.timeZone));
  const start = clockTime(window.start, 'window.start');
  const end = clockTime(window.end, 'window.end');
  return start < end ? time >= start && time < end : time >= start || time < end;
}

function nextOpening(window: Required<JobWindow>, from: number): number {
  if (inWindow(window, from)) return from;
  const zone = window.timeZone;
  const start = clockTime(window.start, 'window.start');
  const today = Math.floor(wallClock(from, zone) / dayMs);
  // The opening on the local day of `from`, or one of the next two (a DST day may skip one).
  for (let day = today; day <= today + 2; day++) {
    const opening = instantOf(day * dayMs + start, zone);
    if (opening >= from && inWindow(window, opening)) return opening;
  }
  // Unreachable for real zones; a bounded scan keeps a strange one from stalling the job forever.
  for (let instant = from; instant < from + 3 * dayMs; instant += minuteMs) if (inWindow(window, instant)) return instant;
  return from + dayMs;
}

/**
 * The first instant whose wall clock in `zone` reads `wall` (wall-clock ms read as UTC). A time
 * repeated when clocks go back: its first occurrence. A time skipped when clocks go forward: the
 * instant the clock jumps past it.
 */
function instantOf(wall: number, zone: string): number {
  // At most one offset change lies within half a day of any wall time: the offsets either side
  // give both candidate instants.
  const before = wall - offsetAt(wall - dayMs / 2, zone);
  const after = wall - offsetAt(wall + dayMs / 2, zone);
  const matches = [before, after].filter((instant) => wallClock(instant, zone) === wall);
  if (matches.length > 0) return Math.min(...matches);
  // Skipped: the wall clock rises through the gap; find where it first reaches `wall`.
  let low = Math.min(before, after);
  let high = Math.max(before, after);
  while (high - low > 1) {
    const middle = Math.floor((low + high) / 2);
    if (wallClock(middle, zone) >= wall) high = middle;
    else low = middle;
  }
  return high;
}

function offsetAt(instant: number, zone: string): number {
  return wallClock(instant, zone) - instant;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

/** The wall clock of `zone` at `instant`, as ms since epoch read as UTC (ms kept). */
function wallClock(instant: number, zone: string): number {
  let format = formatters.get(zone);
  if (!format) {
    format = new Intl.DateTimeFormat('en-US', { timeZone: zone, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric' });
    formatters.set(zone, format);
  }
  const fields: Record<string, number> = {};
  for (const part of format.formatToParts(instant)) if (part.type !== 'literal') fields[part.type] = Number(part.value);
  const seconds = Date.UTC(fields.year, fields.month - 1, fields.day, fields.hour, fields.minute, fields.second);
  return seconds + (((instant % 1000) + 1000) % 1000);
}

function msOfDay(wall: number): number {
  return ((wall % dayMs) + dayMs) % dayMs;
}
