import { describe, expect, it } from 'vitest';
import { ScheduleError } from '../../../shared/errors.ts';
import { compileSchedule, isValidTimezone } from '../../../shared/schedule/index.ts';

/** The error `act` throws; fails the test when it throws nothing. */
function thrownBy(act: () => unknown): unknown {
  try {
    act();
  } catch (error) {
    return error;
  }
  throw new Error('expected an error, but nothing was thrown');
}

function expectScheduleError(act: () => unknown, message: string): void {
  const error = thrownBy(act);
  expect(error).toBeInstanceOf(ScheduleError);
  expect((error as ScheduleError).message).toBe(message);
}

const FIELDS = '(minute hour day-of-month month day-of-week)';
const EXTENSION = 'a cron-parser extension that Piko does not support';

describe('schedule', () => {
  it.each([
    ['61 * * * *', 'minute field "61" is out of range 0-59'],
    ['1,61 * * * *', 'minute field "61" is out of range 0-59'],
    ['* 24 * * *', 'hour field "24" is out of range 0-23'],
    ['* 20-25 * * *', 'hour field "25" is out of range 0-23'],
    ['* * 0 * *', 'day-of-month field "0" is out of range 1-31'],
    ['* * 32 * *', 'day-of-month field "32" is out of range 1-31'],
    ['* * * 13 *', 'month field "13" is out of range 1-12'],
    ['* * * 0 *', 'month field "0" is out of range 1-12'],
    ['* * * * 8', 'day-of-week field "8" is out of range 0-7'],
    ['abc * * * *', 'minute field "abc" is not a number'],
    ['* * * FOO *', 'month field "FOO" is not a number or a month name (JAN-DEC)'],
    ['* * * * MONDAY', 'day-of-week field "MONDAY" is not a number or a day name (SUN-SAT)'],
    ['* * * * JAN', 'day-of-week field "JAN" is not a number or a day name (SUN-SAT)'],
    ['*/0 * * * *', 'minute field "*/0" has step 0; a step must be at least 1'],
    ['*/x * * * *', 'minute field "*/x" has step "x", which is not a whole number'],
    ['1/2/3 * * * *', 'minute field "1/2/3" has more than one "/" in "1/2/3"'],
    [
      '* 5-2 * * *',
      'hour field "5-2" has the range "5-2", which runs backwards; write the lower value first',
    ],
    [
      '1-2-3 * * * *',
      'minute field "1-2-3" has "1-2-3", which is neither a value, "*" nor a range such as "1-5"',
    ],
    ['1,,2 * * * *', 'minute field "1,,2" has an empty list item'],
    ['? * * * *', 'minute field "?" uses "?", which only day-of-month and day-of-week allow'],
  ])('rejects %j with a message naming the field and value', (cron, reason) => {
    expectScheduleError(() => compileSchedule(cron), `Invalid cron "${cron}": ${reason}`);
  });

  it.each([
    ['0 0 L * *', 'day-of-month field "L" uses "L" (last day or weekday of the month)'],
    ['0 0 * * 5L', 'day-of-week field "5L" uses "L" (last day or weekday of the month)'],
    ['0 0 LW * *', 'day-of-month field "LW" uses "L" (last day or weekday of the month)'],
    ['0 0 15W * *', 'day-of-month field "15W" uses "W" (nearest weekday)'],
    ['0 0 * * 5#3', 'day-of-week field "5#3" uses "#" (nth weekday of the month)'],
    ['H * * * *', 'minute field "H" uses "H" (hashed value)'],
    ['H(0-29)/10 * * * *', 'minute field "H(0-29)/10" uses "H" (hashed value)'],
  ])('rejects the cron-parser extension in %j', (cron, reason) => {
    expectScheduleError(() => compileSchedule(cron), `Invalid cron "${cron}": ${reason}, ${EXTENSION}`);
  });

  it.each([
    ['* * *', 'got 3'],
    ['', 'got 0'],
    ['* * * * * * *', 'got 7'],
    ['0 * * * * *', 'got 6 (a seconds field is not supported)'],
    ['@daily', 'got 1 (macros such as @daily are not supported)'],
  ])('rejects %j for its number of fields', (cron, got) => {
    expectScheduleError(
      () => compileSchedule(cron),
      `Invalid cron "${cron}": expected 5 fields ${FIELDS}, ${got}`,
    );
  });

  it('rejects an unknown timezone with a hint', () => {
    expectScheduleError(
      () => compileSchedule('0 2 * * *', 'Mars/Base'),
      'Unknown timezone "Mars/Base": use an IANA name such as "Europe/London" or "UTC"',
    );
  });

  it('reports a bad cron and a bad timezone together', () => {
    expectScheduleError(
      () => compileSchedule('61 * * * *', ''),
      [
        'Invalid cron "61 * * * *": minute field "61" is out of range 0-59',
        'Unknown timezone "": use an IANA name such as "Europe/London" or "UTC"',
      ].join('\n'),
    );
  });

  it('rejects an invalid Date', () => {
    const schedule = compileSchedule('* * * * *');

    expectScheduleError(
      () => schedule.nextTick(new Date(Number.NaN)),
      'instant must be a valid Date, got Invalid Date',
    );
    expectScheduleError(
      () => schedule.intervals(new Date(0), new Date(Number.NaN)),
      'to must be a valid Date, got Invalid Date',
    );
  });

  it('accepts case-insensitive names, extra spaces and the first and last value of every field', () => {
    const schedule = compileSchedule('  0,59 0,23\t1,31 jan,Dec sun,SAT,0,7  ', 'Europe/London');

    expect(schedule.tickAtOrAfter(new Date('2026-01-01T00:00:00Z'))?.toISOString()).toBe(
      '2026-01-01T00:00:00.000Z',
    );
  });

  it('knows IANA timezones and refuses anything else', () => {
    expect(isValidTimezone('Europe/London')).toBe(true);
    expect(isValidTimezone('UTC')).toBe(true);
    expect(isValidTimezone('America/Argentina/Buenos_Aires')).toBe(true);
    expect(isValidTimezone('Mars/Base')).toBe(false);
    expect(isValidTimezone('')).toBe(false);
    expect(isValidTimezone('Europe/London ')).toBe(false);
  });
});
