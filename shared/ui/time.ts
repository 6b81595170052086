/**
 * Pure time helpers of the web UI: instants shown in a job's timezone and in UTC, durations for
 * people, and the range arithmetic behind the grid's zoom and pan links.
 */
import { InputError } from '../errors.ts';
import { parseIsoInstant } from '../job.ts';

const MINUTE_MS = 60_000;
const HOUR_MS = 60 * MINUTE_MS;
const DAY_MS = 24 * HOUR_MS;

/** A time range `[from, to)`. */
export interface TimeRange {
  readonly from: Date;
  readonly to: Date;
}

/** One formatter per timezone: building an Intl.DateTimeFormat costs far more than using one. */
const formatters = new Map<string, Intl.DateTimeFormat>();

function formatterOf(timeZone: string): Intl.DateTimeFormat {
  let formatter = formatters.get(timeZone);
  if (!formatter) {
    formatter = new Intl.DateTimeFormat('en-US', {
      timeZone,
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
      hourCycle: 'h23',
      timeZoneName: 'shortOffset',
    });
    formatters.set(timeZone, formatter);
  }
  return formatter;
}

/**
 * An instant as wall-clock time in `timeZone`, with its offset: `2026-03-01 14:05:30 GMT+8`
 * (`UTC` at offset zero). Seconds are left out when they are zero, as they are at every cron tick.
 */
export function formatInZone(instant: Date, timeZone: string): string {
  const parts: Record<string, string> = {};
  for (const part of formatterOf(timeZone).formatToParts(instant)) parts[part.type] = part.value;
  const seconds = parts.second === '00' ? '' : `:${parts.second}`;
  const offset = parts.timeZoneName === 'GMT' || parts.timeZoneName === 'GMT+0' ? 'UTC' : parts.timeZoneName;
  return `${parts.year}-${parts.month}-${parts.day} ${parts.hour}:${parts.minute}${seconds} ${offset}`;
}

/** An instant in UTC, to the second (milliseconds when it has them): `2026-03-01 06:05:00Z`. */
export function formatUtc(instant: Date): string {
  const iso = instant.toISOString();
  const millis = iso.slice(19, 23) === '.000' ? '' : iso.slice(19, 23);
  return `${iso.slice(0, 10)} ${iso.slice(11, 19)}${millis}Z`;
}

/** A duration for people: `850 ms`, `12.3 s`, `5 min 3 s`, `2 h 5 min`, `3 d 4 h`. */
export function formatDuration(ms: number): string {
  const sign = ms < 0 ? '-' : '';
  const abs = Math.abs(ms);
  if (abs < 1_000) return `${sign}${Math.round(abs)} ms`;
  if (abs < MINUTE_MS) return `${sign}${(abs / 1_000).toFixed(abs < 10_000 ? 2 : 1)} s`;
  const pair = (big: number, bigUnit: string, small: number, smallUnit: string) =>
    `${sign}${big} ${bigUnit}${small > 0 ? ` ${small} ${smallUnit}` : ''}`;
  if (abs < HOUR_MS)
    return pair(Math.floor(abs / MINUTE_MS), 'min', Math.floor((abs % MINUTE_MS) / 1_000), 's');
  if (abs < DAY_MS)
    return pair(Math.floor(abs / HOUR_MS), 'h', Math.floor((abs % HOUR_MS) / MINUTE_MS), 'min');
  return pair(Math.floor(abs / DAY_MS), 'd', Math.floor((abs % DAY_MS) / HOUR_MS), 'h');
}

/** The shortest range the grid zooms to: one minute, the shortest interval a cron can have. */
export const MIN_RANGE_MS = MINUTE_MS;
/** The longest range the grid shows at once: 20 years. */
export const MAX_RANGE_MS = 20 * 366 * DAY_MS;

/**
 * Parses the grid's `from` and `to` query parameters (ISO 8601 instants with an offset).
 * @throws InputError naming the parameter that is not an instant, or a range that is empty,
 *   shorter than a minute or longer than 20 years.
 */
export function parseRange(from: string, to: string): TimeRange {
  const parse = (name: string, text: string) => {
    const instant = parseIsoInstant(text);
    if (!instant) {
      throw new InputError(
        `${name}=${JSON.stringify(text)} is not an ISO 8601 instant with an offset, such as 2026-03-01T00:00:00Z`,
      );
    }
    return instant;
  };
  const range = { from: parse('from', from), to: parse('to', to) };
  const length = range.to.getTime() - range.from.getTime();
  if (length < MIN_RANGE_MS || length > MAX_RANGE_MS) {
    throw new InputError(
      `The range ${range.from.toISOString()} → ${range.to.toISOString()} must be from one minute to 20 years long, with from before to`,
    );
  }
  return range;
}

/** The range `factor` times as long around the same centre (0.5 zooms in), within the range limits. */
export function zoomRange(range: TimeRange, factor: number): TimeRange {
  const from = range.from.getTime();
  const length = range.to.getTime() - from;
  const centre = from + length / 2;
  const zoomed = Math.min(MAX_RANGE_MS, Math.max(MIN_RANGE_MS, Math.round(length * factor)));
  const start = Math.round(centre - zoomed / 2);
  return { from: new Date(start), to: new Date(start + zoomed) };
}

/** The range moved by `fraction` of its length: -0.5 shows the earlier half and as much before it. */
export function panRange(range: TimeRange, fraction: number): TimeRange {
  const shift = Math.round((range.to.getTime() - range.from.getTime()) * fraction);
  return { from: new Date(range.from.getTime() + shift), to: new Date(range.to.getTime() + shift) };
}

/** The range of the last `lengthMs` up to `end`. */
export function rangeEndingAt(end: Date, lengthMs: number): TimeRange {
  return { from: new Date(end.getTime() - lengthMs), to: end };
}

/** The lengths of the grid's preset ranges, by label. */
export const PRESET_RANGES: readonly { readonly label: string; readonly ms: number }[] = [
  { label: 'hour', ms: HOUR_MS },
  { label: 'day', ms: DAY_MS },
  { label: 'week', ms: 7 * DAY_MS },
  { label: 'month', ms: 30 * DAY_MS },
  { label: 'year', ms: 365 * DAY_MS },
];
