import { CronExpressionParser } from 'cron-parser';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Interval } from '../../../shared/interval.ts';
import { parseCron } from '../../../shared/schedule/cron.ts';
import { type CompiledSchedule, compileSchedule } from '../../../shared/schedule/index.ts';
import { type CronModel, cronArbitrary, offsetChanges, oracleTicks, ZONES } from './oracle.ts';

const MINUTE_MS = 60_000;
const HOUR_MS = 60 * MINUTE_MS;
const DAY_MS = 24 * HOUR_MS;

/** Ticks in `[from, to)` as found by the schedule, one nextTick at a time. */
function scheduleTicks(schedule: CompiledSchedule, from: number, to: number): number[] {
  const ticks: number[] = [];
  for (let t = schedule.tickAtOrAfter(new Date(from)); t && t.getTime() < to; t = schedule.nextTick(t)) {
    ticks.push(t.getTime());
  }
  return ticks;
}

const pairs = (ticks: readonly number[]) => ticks.slice(1).map((end, i) => [ticks[i]!, end] as const);
const asPairs = (intervals: Iterable<Interval>) =>
  [...intervals].map((i) => [i.start.getTime(), i.end.getTime()] as const);

/** The schedule agrees with the oracle on every tick of `[from, to)`, whichever way it is asked. */
function agreesWithOracle(cron: CronModel, zone: string, from: number, to: number): void {
  const schedule = compileSchedule(cron.text, zone);
  const expected = oracleTicks(cron, zone, from, to);

  expect(scheduleTicks(schedule, from, to)).toEqual(expected);
  const last = new Date(to - 1);
  expect(asPairs(schedule.intervals(new Date(from), last))).toEqual(pairs(expected));
  expect(asPairs(schedule.intervalsReverse(new Date(from), last))).toEqual(pairs(expected).reverse());
  expect(expected.map((tick) => schedule.previousTick(new Date(tick))?.getTime()).slice(1)).toEqual(
    expected.slice(0, -1),
  );
}

const zone = fc.constantFrom(...ZONES);

describe('schedule', () => {
  it('agrees with a brute-force oracle around DST changes, 1960-2110', () => {
    fc.assert(
      fc.property(
        cronArbitrary,
        zone,
        fc.integer({ min: 1960, max: 2110 }),
        fc.nat(),
        fc.integer({ min: 0, max: 2 * DAY_MS }),
        fc.integer({ min: DAY_MS, max: 3 * DAY_MS }),
        (cron, timezone, year, pick, shift, length) => {
          const changes = offsetChanges(timezone, year);
          const around = changes.length > 0 ? changes[pick % changes.length]! : Date.UTC(year, pick % 12, 15);
          const from = around - 2 * DAY_MS + shift;
          agreesWithOracle(cron, timezone, from, from + length);
        },
      ),
      { numRuns: 70 },
    );
  });

  it('agrees with a brute-force oracle on random dates, 1960-2110', () => {
    fc.assert(
      fc.property(
        cronArbitrary,
        zone,
        fc.date({
          min: new Date('1960-01-01T00:00:00Z'),
          max: new Date('2110-12-31T00:00:00Z'),
          noInvalidDate: true,
        }),
        fc.integer({ min: HOUR_MS, max: 2 * DAY_MS }),
        (cron, timezone, start, length) => {
          agreesWithOracle(cron, timezone, start.getTime(), start.getTime() + length);
        },
      ),
      { numRuns: 50 },
    );
  });

  it('agrees with the oracle where a zone crosses the date line, skipping or repeating a whole day', () => {
    const crossings = [
      ['Pacific/Kwajalein', '1969-09-28T00:00:00Z'], // +11 to -12: 30 September happens twice
      ['Pacific/Kwajalein', '1993-08-19T00:00:00Z'], // -12 to +12: 21 August never happens
      ['Pacific/Apia', '2011-12-28T00:00:00Z'], // -10 to +14: 30 December never happens
      ['Pacific/Kiritimati', '1994-12-29T00:00:00Z'], // -10 to +14: 31 December never happens
    ] as const;
    fc.assert(
      fc.property(cronArbitrary, fc.constantFrom(...crossings), (cron, [timezone, start]) => {
        agreesWithOracle(cron, timezone, Date.parse(start), Date.parse(start) + 4 * DAY_MS);
      }),
      { numRuns: 12 },
    );
  });

  it('walks contiguous, strictly increasing intervals whose every bound is a tick', () => {
    fc.assert(
      fc.property(
        cronArbitrary,
        zone,
        fc.date({
          min: new Date('1960-01-01T00:00:00Z'),
          max: new Date('2110-12-31T00:00:00Z'),
          noInvalidDate: true,
        }),
        fc.integer({ min: HOUR_MS, max: 10 * DAY_MS }),
        (cron, timezone, from, length) => {
          const schedule = compileSchedule(cron.text, timezone);
          const to = new Date(from.getTime() + length);

          const intervals = asPairs(schedule.intervals(from, to));
          const reverse = asPairs(schedule.intervalsReverse(from, to));

          expect(reverse).toEqual([...intervals].reverse());
          if (intervals.length === 0) return;
          expect(intervals[0]![0]).toBe(schedule.tickAtOrAfter(from)?.getTime());
          expect(intervals.at(-1)![1]).toBe(schedule.previousTick(new Date(to.getTime() + 1))?.getTime());
          const starts = intervals.map(([start]) => start);
          const ends = intervals.map(([, end]) => end);
          expect(intervals.every(([start, end]) => start < end)).toBe(true);
          expect(starts.slice(1)).toEqual(ends.slice(0, -1));
          expect(starts.map((start) => schedule.nextTick(new Date(start))?.getTime())).toEqual(ends);
          expect(ends.map((end) => schedule.previousTick(new Date(end))?.getTime())).toEqual(starts);
        },
      ),
      { numRuns: 60 },
    );
  });

  it('expands fields to the same values as cron-parser where cron-parser accepts the cron', () => {
    fc.assert(
      fc.property(cronArbitrary, (cron) => {
        let reference: ReturnType<typeof CronExpressionParser.parse>['fields'];
        try {
          reference = CronExpressionParser.parse(cron.text).fields;
        } catch {
          // cron-parser refuses repeated values (0,7) and days no month has; ours accepts them.
          return;
        }
        const ours = parseCron(cron.text);
        const bits = (mask: number, min: number, max: number) =>
          Array.from({ length: max - min + 1 }, (_, i) => i + min).filter((v) => ((mask >> v) & 1) === 1);
        const numbers = (values: readonly (number | string)[], modulo = 100) => [
          ...new Set(values.map((v) => Number(v) % modulo)),
        ];
        const sorted = (values: readonly number[]) => [...values].sort((a, b) => a - b);
        // With one month, cron-parser drops days that month never has, which changes nothing.
        const months = bits(ours.monthMask, 1, 12);
        const longest = Math.max(...months.map((m) => new Date(Date.UTC(2024, m, 0)).getUTCDate()));

        expect(ours.minutes).toEqual(sorted(numbers(reference.minute.values)));
        expect(ours.hours).toEqual(sorted(numbers(reference.hour.values)));
        expect(months).toEqual(sorted(numbers(reference.month.values)));
        expect(bits(ours.dayOfWeekMask, 0, 6)).toEqual(sorted(numbers(reference.dayOfWeek.values, 7)));
        const days = bits(ours.dayOfMonthMask, 1, 31);
        const possible = days.filter((d) => d <= longest);
        expect(months.length > 1 || possible.length === 0 ? days : possible).toEqual(
          sorted(numbers(reference.dayOfMonth.values)),
        );
        expect(ours.dayOfMonthRestricted).toBe(!reference.dayOfMonth.isWildcard);
        expect(ours.dayOfWeekRestricted).toBe(!reference.dayOfWeek.isWildcard);
        expect(ours.dayOfMonthRestricted).toBe(cron.dayOfMonthRestricted);
        expect(new Set(ours.minutes)).toEqual(cron.minutes);
      }),
      { numRuns: 300 },
    );
  });
});
