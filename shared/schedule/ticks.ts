import { DAY_MS, HOUR_MS, MINUTE_MS } from '../duration.ts';
import type { CronFields } from './cron.ts';
import {
  MAX_INSTANT_MS,
  MAX_UTC_OFFSET_MS,
  MIN_INSTANT_MS,
  type OffsetSegment,
  type ZoneOffsets,
} from './zone.ts';

/**
 * A walk that finds no tick for this long gives up: the rarest cron that fires at all (29 February)
 * goes at most 8 years without a tick, across a skipped leap day such as 2100.
 */
const HORIZON_DAYS = 12 * 366;

/** Longest month of each month number (index 1–12); 29 February counts, as it does occur. */
const MAX_DAYS_IN_MONTH = [0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/**
 * Wall-clock days are numbered like Unix days, so the wall time `hh:mm` of day `d` is the number
 * `d * DAY_MS + hh * HOUR_MS + mm * MINUTE_MS`, as if the zone were UTC; a day's ticks can then only
 * lie within `MAX_UTC_OFFSET_MS` of its wall times, which bounds every search below.
 */
const FIRST_DAY = Math.ceil((MIN_INSTANT_MS + MAX_UTC_OFFSET_MS) / DAY_MS);
const LAST_DAY = Math.floor((MAX_INSTANT_MS - MAX_UTC_OFFSET_MS) / DAY_MS) - 1;

/**
 * Places a cron's wall-clock times on the UTC time line of one zone. A tick is a whole-minute wall
 * time that matches the cron, at the first instant that wall time occurs: a time skipped by a
 * forward change never fires, a time repeated by a backward change fires once, the first time.
 *
 * Days are walked in wall-clock order. Far from offset changes a day's ticks are `wall - offset`,
 * in order and after every earlier day's, so they are yielded as they are computed. Near a change,
 * a day's ticks can interleave with its neighbours' (a zone that moves back by a day), so they wait
 * in a buffer until no day still to be walked can produce an earlier (or, walking back, later) one.
 */
export class TickEnumerator {
  readonly #fields: CronFields;
  readonly #zone: ZoneOffsets;
  /** Milliseconds after local midnight of every matching hour and minute, ascending. */
  readonly #timesOfDay: readonly number[];
  /** Whether any calendar day matches; `0 0 30 2 *` never does, and must not walk for 12 years. */
  readonly #matchesSomeDay: boolean;

  constructor(fields: CronFields, zone: ZoneOffsets) {
    this.#fields = fields;
    this.#zone = zone;
    this.#timesOfDay = fields.hours.flatMap((hour) =>
      fields.minutes.map((minute) => hour * HOUR_MS + minute * MINUTE_MS),
    );
    this.#matchesSomeDay = matchesSomeDay(fields);
  }

  /** Ticks at or after `instant` (`inclusive`) or strictly after it, oldest first. */
  *forward(instant: number, inclusive: boolean): Generator<number, void, undefined> {
    if (!this.#matchesSomeDay) return;
    const min = inclusive ? instant : instant + 1;
    const times = this.#timesOfDay;
    const pending: number[] = [];
    let idleDays = 0;
    for (let day = Math.max(dayOf(min - MAX_UTC_OFFSET_MS), FIRST_DAY); day <= LAST_DAY; day++) {
      if (++idleDays > HORIZON_DAYS) break;
      const segments = this.#matchesDay(day) ? this.#segmentsAround(day) : [];
      if (segments.length === 1) {
        yield* pending;
        pending.length = 0;
        const utcMidnight = day * DAY_MS - segments[0]!.offset;
        for (let i = firstIndexAtLeast(times, min - utcMidnight); i < times.length; i++) {
          idleDays = 0;
          yield utcMidnight + times[i]!;
        }
      } else if (
        segments.length > 1 &&
        this.#placeDay(day, segments, min, Number.POSITIVE_INFINITY, pending) > 0
      ) {
        idleDays = 0;
        if (!isSorted(pending, (a, b) => a <= b)) pending.sort((a, b) => a - b);
      }
      if (pending.length > 0) {
        const safeBelow = this.#earliestTickAfter(day);
        yield* release(pending, (tick) => tick < safeBelow);
      }
    }
    yield* pending;
  }

  /** Ticks at or before `instant` (`inclusive`) or strictly before it, newest first. */
  *backward(instant: number, inclusive: boolean): Generator<number, void, undefined> {
    if (!this.#matchesSomeDay) return;
    const max = inclusive ? instant : instant - 1;
    const times = this.#timesOfDay;
    const pending: number[] = [];
    let idleDays = 0;
    for (let day = Math.min(dayOf(max + MAX_UTC_OFFSET_MS), LAST_DAY); day >= FIRST_DAY; day--) {
      if (++idleDays > HORIZON_DAYS) break;
      const segments = this.#matchesDay(day) ? this.#segmentsAround(day) : [];
      if (segments.length === 1) {
        yield* pending;
        pending.length = 0;
        const utcMidnight = day * DAY_MS - segments[0]!.offset;
        // Instants are whole milliseconds: the last time at most `max` is the one before the first above it.
        for (let i = firstIndexAtLeast(times, max + 1 - utcMidnight) - 1; i >= 0; i--) {
          idleDays = 0;
          yield utcMidnight + times[i]!;
        }
      } else if (
        segments.length > 1 &&
        this.#placeDay(day, segments, Number.NEGATIVE_INFINITY, max, pending) > 0
      ) {
        idleDays = 0;
        if (!isSorted(pending, (a, b) => a >= b)) pending.sort((a, b) => b - a);
      }
      if (pending.length > 0) {
        const safeFrom = this.#latestTickBefore(day);
        yield* release(pending, (tick) => tick >= safeFrom);
      }
    }
    yield* pending;
  }

  /** The offsets that can hold a tick of this wall-clock day. */
  #segmentsAround(day: number) {
    const midnight = day * DAY_MS;
    return this.#zone.segments(midnight - MAX_UTC_OFFSET_MS, midnight + DAY_MS + MAX_UTC_OFFSET_MS);
  }

  /** No wall-clock day after `day` has a tick before this instant. */
  #earliestTickAfter(day: number): number {
    const next = (day + 1) * DAY_MS;
    // Days after the next one are far enough for the general bound; the next one is asked exactly.
    let earliest = next + DAY_MS - MAX_UTC_OFFSET_MS;
    for (const segment of this.#segmentsAround(day + 1)) {
      const first = Math.max(segment.start, next - segment.offset);
      if (first < segment.end) earliest = Math.min(earliest, first);
    }
    return earliest;
  }

  /** No wall-clock day before `day` has a tick at or after this instant. */
  #latestTickBefore(day: number): number {
    const previous = (day - 1) * DAY_MS;
    let latest = previous + MAX_UTC_OFFSET_MS;
    for (const segment of this.#segmentsAround(day - 1)) {
      const end = Math.min(segment.end, previous + DAY_MS - segment.offset);
      if (end > segment.start) latest = Math.max(latest, end);
    }
    return latest;
  }

  /** Appends the ticks of a day near an offset change that lie in `[min, max]`; returns how many. */
  #placeDay(
    day: number,
    segments: readonly OffsetSegment[],
    min: number,
    max: number,
    out: number[],
  ): number {
    const before = out.length;
    const times = this.#timesOfDay;
    const midnight = day * DAY_MS;
    // Only wall times within reach of [min, max] under one of the offsets can place a tick there.
    const offsets = segments.map((segment) => segment.offset);
    const first = firstIndexAtLeast(times, min + Math.min(...offsets) - midnight);
    const end = firstIndexAtLeast(times, max + Math.max(...offsets) - midnight + 1);
    for (let i = first; i < end; i++) {
      const wall = midnight + times[i]!;
      // Segments are in time order, so the first that holds this wall time holds its first occurrence.
      for (const segment of segments) {
        const instant = wall - segment.offset;
        if (instant >= segment.start && instant < segment.end) {
          if (instant >= min && instant <= max) out.push(instant);
          break;
        }
      }
    }
    return out.length - before;
  }

  #matchesDay(day: number): boolean {
    const date = new Date(day * DAY_MS);
    const fields = this.#fields;
    if (((fields.monthMask >> (date.getUTCMonth() + 1)) & 1) === 0) return false;
    const dayOfMonth = ((fields.dayOfMonthMask >> date.getUTCDate()) & 1) === 1;
    const dayOfWeek = ((fields.dayOfWeekMask >> date.getUTCDay()) & 1) === 1;
    if (fields.dayOfMonthRestricted && fields.dayOfWeekRestricted) return dayOfMonth || dayOfWeek;
    return (
      (fields.dayOfMonthRestricted ? dayOfMonth : true) && (fields.dayOfWeekRestricted ? dayOfWeek : true)
    );
  }
}

function isSorted(list: readonly number[], inOrder: (a: number, b: number) => boolean): boolean {
  for (let i = 1; i < list.length; i++) if (!inOrder(list[i - 1]!, list[i]!)) return false;
  return true;
}

/** Removes and yields the leading elements of `list` that are `ready`. */
function* release(list: number[], ready: (tick: number) => boolean): Generator<number, void, undefined> {
  let count = 0;
  while (count < list.length && ready(list[count]!)) count++;
  if (count === 0) return;
  yield* list.splice(0, count);
}

function dayOf(wall: number): number {
  return Math.floor(wall / DAY_MS);
}

/** Index of the first element `>= value` in an ascending list (its length if none). */
function firstIndexAtLeast(list: readonly number[], value: number): number {
  let low = 0;
  let high = list.length;
  while (low < high) {
    const mid = (low + high) >>> 1;
    if (list[mid]! < value) low = mid + 1;
    else high = mid;
  }
  return low;
}

function matchesSomeDay(fields: CronFields): boolean {
  if (fields.dayOfWeekRestricted || !fields.dayOfMonthRestricted) return true;
  for (let month = 1; month <= 12; month++) {
    if (((fields.monthMask >> month) & 1) === 0) continue;
    for (let day = 1; day <= MAX_DAYS_IN_MONTH[month]!; day++) {
      if (((fields.dayOfMonthMask >> day) & 1) === 1) return true;
    }
  }
  return false;
}
