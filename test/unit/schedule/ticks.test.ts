import { describe, expect, it } from 'vitest';
import { intervalToJson } from '../../../shared/interval.ts';
import { type CompiledSchedule, compileSchedule } from '../../../shared/schedule/index.ts';

const MS = 1;

/** Ticks in `[from, to)`, as ISO strings, found with tickAtOrAfter and nextTick. */
function ticksBetween(schedule: CompiledSchedule, from: string, to: string): string[] {
  const end = Date.parse(to);
  const ticks: string[] = [];
  for (let t = schedule.tickAtOrAfter(new Date(from)); t && t.getTime() < end; t = schedule.nextTick(t)) {
    ticks.push(t.toISOString());
  }
  return ticks;
}

const at = (iso: string, deltaMs = 0) => new Date(Date.parse(iso) + deltaMs);
const iso = (date: Date | undefined) => date?.toISOString();

describe('schedule', () => {
  it('gives the interval of the spec example: 30 2 * * * in New York skips the spring-forward day', () => {
    const schedule = compileSchedule('30 2 * * *', 'America/New_York');

    const intervals = [...schedule.intervals(at('2026-03-07T00:00:00Z'), at('2026-03-09T12:00:00Z'))];

    expect(intervals.map(intervalToJson)).toEqual([
      { start: '2026-03-07T07:30:00.000Z', end: '2026-03-09T06:30:00.000Z' },
    ]);
  });

  it('does not fire 02:30 in New York on 2026-03-08, a local time that does not exist', () => {
    const schedule = compileSchedule('30 2 * * *', 'America/New_York');

    const next = schedule.nextTick(at('2026-03-07T07:30:00Z'));
    const previous = schedule.previousTick(at('2026-03-09T06:30:00Z'));

    expect(iso(next)).toBe('2026-03-09T06:30:00.000Z');
    expect(iso(previous)).toBe('2026-03-07T07:30:00.000Z');
  });

  it('fires the minutes either side of the New York spring-forward gap', () => {
    const justBefore = compileSchedule('59 1 * * *', 'America/New_York');
    const three = compileSchedule('0 3 * * *', 'America/New_York');

    expect(iso(justBefore.tickAtOrAfter(at('2026-03-08T00:00:00Z')))).toBe('2026-03-08T06:59:00.000Z');
    expect(iso(three.tickAtOrAfter(at('2026-03-08T00:00:00Z')))).toBe('2026-03-08T07:00:00.000Z');
  });

  it('fires */30 once per local time on the New York fall-back day, at the first occurrence', () => {
    const schedule = compileSchedule('*/30 * * * *', 'America/New_York');

    const ticks = ticksBetween(schedule, '2026-11-01T04:00:00Z', '2026-11-01T08:00:00Z');

    // 00:00 00:30 01:00 01:30 EDT, then 01:00 and 01:30 EST (06:00Z, 06:30Z) are repeats, then 02:00 02:30 EST.
    expect(ticks).toEqual([
      '2026-11-01T04:00:00.000Z',
      '2026-11-01T04:30:00.000Z',
      '2026-11-01T05:00:00.000Z',
      '2026-11-01T05:30:00.000Z',
      '2026-11-01T07:00:00.000Z',
      '2026-11-01T07:30:00.000Z',
    ]);
  });

  it('keeps fall-back intervals contiguous: 01:00 EDT to 01:00 EST the next day is 25 hours', () => {
    const schedule = compileSchedule('0 1 * * *', 'America/New_York');

    const intervals = [...schedule.intervals(at('2026-10-31T00:00:00Z'), at('2026-11-03T00:00:00Z'))];

    expect(intervals.map(intervalToJson)).toEqual([
      { start: '2026-10-31T05:00:00.000Z', end: '2026-11-01T05:00:00.000Z' },
      { start: '2026-11-01T05:00:00.000Z', end: '2026-11-02T06:00:00.000Z' },
    ]);
  });

  it('moves exactly at ±1 ms around a tick', () => {
    const schedule = compileSchedule('30 2 * * *', 'America/New_York');
    const tick = '2026-03-09T06:30:00Z';

    expect(iso(schedule.nextTick(at(tick, -MS)))).toBe('2026-03-09T06:30:00.000Z');
    expect(iso(schedule.nextTick(at(tick)))).toBe('2026-03-10T06:30:00.000Z');
    expect(iso(schedule.tickAtOrAfter(at(tick)))).toBe('2026-03-09T06:30:00.000Z');
    expect(iso(schedule.tickAtOrAfter(at(tick, MS)))).toBe('2026-03-10T06:30:00.000Z');
    expect(iso(schedule.previousTick(at(tick)))).toBe('2026-03-07T07:30:00.000Z');
    expect(iso(schedule.previousTick(at(tick, MS)))).toBe('2026-03-09T06:30:00.000Z');
  });

  it('includes an interval that ends exactly at `to` and excludes one that ends 1 ms after', () => {
    const schedule = compileSchedule('0 * * * *', 'UTC');

    const exact = [...schedule.intervals(at('2026-01-01T00:00:00Z'), at('2026-01-01T02:00:00Z'))];
    const short = [...schedule.intervals(at('2026-01-01T00:00:00Z', MS), at('2026-01-01T02:00:00Z', -MS))];

    expect(exact.map(intervalToJson)).toEqual([
      { start: '2026-01-01T00:00:00.000Z', end: '2026-01-01T01:00:00.000Z' },
      { start: '2026-01-01T01:00:00.000Z', end: '2026-01-01T02:00:00.000Z' },
    ]);
    expect(short).toEqual([]);
  });

  it('walks intervalsReverse newest first', () => {
    const schedule = compileSchedule('0 */8 * * *', 'UTC');

    const reverse = [...schedule.intervalsReverse(at('2026-01-01T00:00:00Z'), at('2026-01-02T00:00:00Z'))];

    expect(reverse.map(intervalToJson)).toEqual([
      { start: '2026-01-01T16:00:00.000Z', end: '2026-01-02T00:00:00.000Z' },
      { start: '2026-01-01T08:00:00.000Z', end: '2026-01-01T16:00:00.000Z' },
      { start: '2026-01-01T00:00:00.000Z', end: '2026-01-01T08:00:00.000Z' },
    ]);
  });

  it('yields no interval when from is after to', () => {
    const schedule = compileSchedule('* * * * *', 'UTC');

    expect([...schedule.intervals(at('2026-01-02T00:00:00Z'), at('2026-01-01T00:00:00Z'))]).toEqual([]);
    expect([...schedule.intervalsReverse(at('2026-01-02T00:00:00Z'), at('2026-01-01T00:00:00Z'))]).toEqual(
      [],
    );
  });

  it('skips 01:30 on the London spring-forward day and fires it once, as BST, on the fall-back day', () => {
    const schedule = compileSchedule('30 1 * * *', 'Europe/London');

    expect(ticksBetween(schedule, '2026-03-28T00:00:00Z', '2026-03-31T00:00:00Z')).toEqual([
      '2026-03-28T01:30:00.000Z',
      '2026-03-30T00:30:00.000Z',
    ]);
    expect(ticksBetween(schedule, '2026-10-24T00:00:00Z', '2026-10-27T00:00:00Z')).toEqual([
      '2026-10-24T00:30:00.000Z',
      '2026-10-25T00:30:00.000Z',
      '2026-10-26T01:30:00.000Z',
    ]);
  });

  it('handles both Berlin DST days for 30 2 * * *', () => {
    const schedule = compileSchedule('30 2 * * *', 'Europe/Berlin');

    expect(ticksBetween(schedule, '2026-03-28T00:00:00Z', '2026-03-31T00:00:00Z')).toEqual([
      '2026-03-28T01:30:00.000Z',
      '2026-03-30T00:30:00.000Z',
    ]);
    expect(ticksBetween(schedule, '2026-10-24T00:00:00Z', '2026-10-27T00:00:00Z')).toEqual([
      '2026-10-24T00:30:00.000Z',
      '2026-10-25T00:30:00.000Z',
      '2026-10-26T01:30:00.000Z',
    ]);
  });

  it('handles the half-hour DST changes of Australia/Lord_Howe', () => {
    // 2026-04-05 02:00 (+11) goes back to 01:30 (+10:30); 2026-10-04 02:00 (+10:30) jumps to 02:30 (+11).
    const repeated = compileSchedule('45 1 * * *', 'Australia/Lord_Howe');
    const skipped = compileSchedule('15 2 * * *', 'Australia/Lord_Howe');

    expect(ticksBetween(repeated, '2026-04-03T12:00:00Z', '2026-04-06T12:00:00Z')).toEqual([
      '2026-04-03T14:45:00.000Z',
      '2026-04-04T14:45:00.000Z',
      '2026-04-05T15:15:00.000Z',
    ]);
    expect(ticksBetween(skipped, '2026-10-02T12:00:00Z', '2026-10-05T12:00:00Z')).toEqual([
      '2026-10-02T15:45:00.000Z',
      '2026-10-04T15:15:00.000Z',
    ]);
  });

  it('handles the +12:45/+13:45 offsets of Pacific/Chatham', () => {
    // 2026-04-05 03:45 (+13:45) goes back to 02:45 (+12:45); 2026-09-27 02:45 (+12:45) jumps to 03:45 (+13:45).
    const schedule = compileSchedule('0 3 * * *', 'Pacific/Chatham');

    expect(ticksBetween(schedule, '2026-04-03T12:00:00Z', '2026-04-06T12:00:00Z')).toEqual([
      '2026-04-03T13:15:00.000Z',
      '2026-04-04T13:15:00.000Z',
      '2026-04-05T14:15:00.000Z',
    ]);
    expect(ticksBetween(schedule, '2026-09-25T12:00:00Z', '2026-09-28T12:00:00Z')).toEqual([
      '2026-09-25T14:15:00.000Z',
      '2026-09-27T13:15:00.000Z',
    ]);
  });

  it('uses the +05:45 offset of Asia/Kathmandu, and its 1986 switch from +05:30 that skipped 00:00-00:14', () => {
    const schedule = compileSchedule('0 0 * * *', 'Asia/Kathmandu');

    expect(iso(schedule.nextTick(at('2026-05-01T00:00:00Z')))).toBe('2026-05-01T18:15:00.000Z');
    expect(ticksBetween(schedule, '1985-12-30T00:00:00Z', '1986-01-02T00:00:00Z')).toEqual([
      '1985-12-30T18:30:00.000Z',
      '1986-01-01T18:15:00.000Z',
    ]);
  });

  it('handles America/Santiago, whose DST changes happen at local midnight', () => {
    // 2026-09-06 00:00 (-04) jumps to 01:00 (-03); 2026-04-05 00:00 (-03) goes back to 2026-04-04 23:00 (-04).
    const midnight = compileSchedule('0 0 * * *', 'America/Santiago');
    const halfHours = compileSchedule('*/30 * * * *', 'America/Santiago');

    expect(ticksBetween(midnight, '2026-09-04T12:00:00Z', '2026-09-07T12:00:00Z')).toEqual([
      '2026-09-05T04:00:00.000Z',
      '2026-09-07T03:00:00.000Z',
    ]);
    expect(ticksBetween(halfHours, '2026-04-05T01:30:00Z', '2026-04-05T05:00:00Z')).toEqual([
      '2026-04-05T01:30:00.000Z',
      '2026-04-05T02:00:00.000Z',
      '2026-04-05T02:30:00.000Z',
      '2026-04-05T04:00:00.000Z',
      '2026-04-05T04:30:00.000Z',
    ]);
  });

  it('handles the midnight DST changes of America/Sao_Paulo (2018-2019)', () => {
    const midnight = compileSchedule('0 0 * * *', 'America/Sao_Paulo');
    const lateEvening = compileSchedule('30 23 * * *', 'America/Sao_Paulo');

    expect(ticksBetween(midnight, '2018-11-03T00:00:00Z', '2018-11-06T00:00:00Z')).toEqual([
      '2018-11-03T03:00:00.000Z',
      '2018-11-05T02:00:00.000Z',
    ]);
    expect(ticksBetween(lateEvening, '2019-02-15T12:00:00Z', '2019-02-18T12:00:00Z')).toEqual([
      '2019-02-16T01:30:00.000Z',
      '2019-02-17T01:30:00.000Z',
      '2019-02-18T02:30:00.000Z',
    ]);
  });

  it('handles both Australia/Sydney DST days for 30 2 * * *', () => {
    const schedule = compileSchedule('30 2 * * *', 'Australia/Sydney');

    expect(ticksBetween(schedule, '2026-04-03T12:00:00Z', '2026-04-06T12:00:00Z')).toEqual([
      '2026-04-03T15:30:00.000Z',
      '2026-04-04T15:30:00.000Z',
      '2026-04-05T16:30:00.000Z',
    ]);
    expect(ticksBetween(schedule, '2026-10-02T12:00:00Z', '2026-10-05T12:00:00Z')).toEqual([
      '2026-10-02T16:30:00.000Z',
      '2026-10-04T15:30:00.000Z',
    ]);
  });

  it('fires 0 2 * * * in Asia/Shanghai at 18:00 UTC the day before, and skips it on the 1986 DST day', () => {
    const schedule = compileSchedule('0 2 * * *', 'Asia/Shanghai');

    expect(iso(schedule.tickAtOrAfter(at('2026-01-01T00:00:00+08:00')))).toBe('2025-12-31T18:00:00.000Z');
    expect(ticksBetween(schedule, '1986-05-02T00:00:00Z', '1986-05-05T00:00:00Z')).toEqual([
      '1986-05-02T18:00:00.000Z',
      '1986-05-04T17:00:00.000Z',
    ]);
  });

  it('handles the midnight DST changes of Asia/Tehran (2021)', () => {
    const schedule = compileSchedule('30 0 * * *', 'Asia/Tehran');

    expect(ticksBetween(schedule, '2021-03-20T00:00:00Z', '2021-03-23T00:00:00Z')).toEqual([
      '2021-03-20T21:00:00.000Z',
      '2021-03-22T20:00:00.000Z',
    ]);
  });

  it('reads dates before 1970 and after 2100 with the rules of their time', () => {
    const schedule = compileSchedule('30 2 * * *', 'America/New_York');

    expect(ticksBetween(schedule, '1960-04-23T00:00:00Z', '1960-04-26T00:00:00Z')).toEqual([
      '1960-04-23T07:30:00.000Z',
      '1960-04-25T06:30:00.000Z',
    ]);
    expect(ticksBetween(schedule, '2110-03-08T00:00:00Z', '2110-03-11T00:00:00Z')).toEqual([
      '2110-03-08T07:30:00.000Z',
      '2110-03-10T06:30:00.000Z',
    ]);
  });

  it('fires a repeated day once and a skipped day never, where a zone crosses the date line', () => {
    const kwajalein = compileSchedule('0 12 * * *', 'Pacific/Kwajalein');
    const apia = compileSchedule('0 12 * * *', 'Pacific/Apia');

    // 1969-09-30 23:59 (+11) was followed by 1969-09-30 01:00 (-12).
    expect(ticksBetween(kwajalein, '1969-09-29T00:00:00Z', '1969-10-03T00:00:00Z')).toEqual([
      '1969-09-29T01:00:00.000Z',
      '1969-09-30T01:00:00.000Z',
      '1969-10-02T00:00:00.000Z',
    ]);
    // 2011-12-29 23:59 (-10) was followed by 2011-12-31 00:00 (+14).
    expect(ticksBetween(apia, '2011-12-28T00:00:00Z', '2012-01-01T00:00:00Z')).toEqual([
      '2011-12-28T22:00:00.000Z',
      '2011-12-29T22:00:00.000Z',
      '2011-12-30T22:00:00.000Z',
      '2011-12-31T22:00:00.000Z',
    ]);
  });

  it('matches a day when either restricted day field matches (0 0 13 * FRI)', () => {
    const schedule = compileSchedule('0 0 13 * FRI', 'UTC');

    const days = ticksBetween(schedule, '2026-03-01T00:00:00Z', '2026-04-15T00:00:00Z').map((t) =>
      t.slice(0, 10),
    );

    expect(days).toEqual([
      '2026-03-06',
      '2026-03-13',
      '2026-03-20',
      '2026-03-27',
      '2026-04-03',
      '2026-04-10',
      '2026-04-13',
    ]);
  });

  it('reads a step on a day field as a restriction, as cron-parser does (*/10 * MON is an OR)', () => {
    const schedule = compileSchedule('0 0 */10 * MON', 'UTC');

    const days = ticksBetween(schedule, '2026-06-01T00:00:00Z', '2026-06-15T00:00:00Z').map((t) =>
      t.slice(0, 10),
    );

    expect(days).toEqual(['2026-06-01', '2026-06-08', '2026-06-11']);
  });

  it('treats 0, 7 and SUN alike, and ? as no restriction', () => {
    const sundays = ['0 12 * * 0', '0 12 * * 7', '0 12 * * SUN', '0 12 * * sun', '0 12 ? * 0,7'].map((cron) =>
      ticksBetween(compileSchedule(cron), '2026-06-01T00:00:00Z', '2026-06-15T00:00:00Z'),
    );

    for (const ticks of sundays)
      expect(ticks).toEqual(['2026-06-07T12:00:00.000Z', '2026-06-14T12:00:00.000Z']);
  });

  it('accepts names, ranges, lists and steps in one expression', () => {
    const schedule = compileSchedule('5,35 9-17/4 * JAN-MAR,DEC MON-FRI', 'Europe/London');

    const ticks = ticksBetween(schedule, '2026-01-02T00:00:00Z', '2026-01-03T00:00:00Z');

    expect(ticks).toEqual([
      '2026-01-02T09:05:00.000Z',
      '2026-01-02T09:35:00.000Z',
      '2026-01-02T13:05:00.000Z',
      '2026-01-02T13:35:00.000Z',
      '2026-01-02T17:05:00.000Z',
      '2026-01-02T17:35:00.000Z',
    ]);
  });

  it('finds leap days across 2100, which is not a leap year', () => {
    const schedule = compileSchedule('0 0 29 2 *', 'UTC');

    expect(iso(schedule.nextTick(at('2096-02-29T00:00:00Z')))).toBe('2104-02-29T00:00:00.000Z');
    expect(iso(schedule.previousTick(at('2104-02-29T00:00:00Z')))).toBe('2096-02-29T00:00:00.000Z');
  });

  it('returns undefined for a cron that never fires (0 0 30 2 *)', () => {
    const schedule = compileSchedule('0 0 30 2 *', 'Europe/Berlin');
    const now = at('2026-06-01T00:00:00Z');

    expect(schedule.nextTick(now)).toBeUndefined();
    expect(schedule.tickAtOrAfter(now)).toBeUndefined();
    expect(schedule.previousTick(now)).toBeUndefined();
    expect([...schedule.intervals(at('2000-01-01T00:00:00Z'), now)]).toEqual([]);
  });

  it('keeps the cron and timezone as given, and defaults the timezone to UTC', () => {
    const schedule = compileSchedule('0 2 * * *');

    expect(schedule.cron).toBe('0 2 * * *');
    expect(schedule.timezone).toBe('UTC');
    expect(iso(schedule.nextTick(at('2026-01-01T00:00:00Z')))).toBe('2026-01-01T02:00:00.000Z');
  });

  it('is lazy: takes the first of a century of minutely intervals at once', () => {
    const schedule = compileSchedule('* * * * *', 'America/New_York');

    const first = schedule.intervals(at('2000-01-01T00:00:00Z'), at('2100-01-01T00:00:00Z')).next();

    expect(first.done).toBe(false);
    expect(intervalToJson(first.value!)).toEqual({
      start: '2000-01-01T00:00:00.000Z',
      end: '2000-01-01T00:01:00.000Z',
    });
  });
});
