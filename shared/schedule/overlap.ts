/**
 * Which intervals of one schedule overlap a range of instants (DESIGN.md §9: an interval of a job
 * waits for the overlapping intervals of its upstream jobs). Pure, and on instants (UTC ms) only:
 * a daily job in Europe/Berlin overlaps 23 hourly UTC intervals on a spring-forward day and 25 on a
 * fall-back day because its interval is 23 or 25 hours long, never because of a local date.
 */
import type { Interval } from '../interval.ts';
import type { CompiledSchedule } from './compile.ts';

/** The part of a schedule {@link overlappingIntervals} reads. */
export type TickSource = Pick<CompiledSchedule, 'previousTick' | 'intervals'>;

/**
 * The intervals of `schedule` that overlap `[range.start, range.end)` (share at least one instant),
 * oldest first: the interval that contains `range.start`, if any, then every one that starts before
 * `range.end`. An interval that ends exactly at `range.start`, or starts exactly at `range.end`,
 * does not overlap. Lazy.
 */
export function* overlappingIntervals(schedule: TickSource, range: Interval): Generator<Interval> {
  const start = range.start.getTime();
  const end = range.end.getTime();
  if (!(start < end)) return;
  // The tick at or before the range's start opens the first interval that may overlap it.
  const first = schedule.previousTick(new Date(start + 1));
  const from = first ?? range.start;
  for (const interval of schedule.intervals(from, new Date(8.64e15))) {
    if (interval.start.getTime() >= end) return;
    if (interval.end.getTime() > start) yield interval;
  }
}

/** A run of adjacent intervals, merged: `count` intervals cover `[start, end)` with no gap. */
export interface MergedRange extends Interval {
  readonly count: number;
}

/**
 * Merges intervals (oldest first) into ranges: an interval that starts where the previous one ended
 * extends its range; a gap starts a new one.
 */
export function mergeIntervals(intervals: Iterable<Interval>): MergedRange[] {
  const ranges: { start: Date; end: Date; count: number }[] = [];
  for (const interval of intervals) {
    const last = ranges[ranges.length - 1];
    if (last && last.end.getTime() === interval.start.getTime()) {
      last.end = interval.end;
      last.count++;
    } else {
      ranges.push({ start: interval.start, end: interval.end, count: 1 });
    }
  }
  return ranges;
}

/**
 * An instant as short ISO 8601 UTC text: `2026-03-29T00:00Z`, seconds and milliseconds shown only
 * when not zero.
 */
export function shortInstant(instant: Date): string {
  const iso = instant.toISOString();
  if (iso.endsWith(':00.000Z')) return `${iso.slice(0, 16)}Z`;
  if (iso.endsWith('.000Z')) return `${iso.slice(0, 19)}Z`;
  return iso;
}

/**
 * Intervals as text, their adjacent ones merged: `2026-03-29T00:00Z–2026-03-29T05:00Z,
 * 2026-03-29T07:00Z–2026-03-29T08:00Z`, each range from the first start to the last end. At most
 * `maxRanges` ranges are named; the rest are counted (`… and 3 more ranges`). @default maxRanges 5
 */
export function describeIntervals(intervals: Iterable<Interval>, maxRanges = 5): string {
  const ranges = mergeIntervals(intervals);
  const named = ranges
    .slice(0, maxRanges)
    .map((range) => `${shortInstant(range.start)}–${shortInstant(range.end)}`);
  const more = ranges.length - named.length;
  return more > 0 ? `${named.join(', ')} … and ${more} more range${more === 1 ? '' : 's'}` : named.join(', ');
}
