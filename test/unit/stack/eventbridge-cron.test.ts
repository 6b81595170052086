import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseCron } from '../../../shared/schedule/cron.ts';
import { eventBridgeCrons } from '../../../shared/stack/eventbridge-cron.ts';
import { scheduleNamesFor } from '../../../shared/stack/outputs.ts';

const expressions = (cron: string) => eventBridgeCrons(cron).map((entry) => entry.expression);

describe('eventBridgeCrons', () => {
  it('puts ? in the day-of-week field when no day field is restricted', () => {
    expect(expressions('0 2 * * *')).toEqual(['cron(0 2 * * ? *)']);
    expect(expressions('* * * * *')).toEqual(['cron(* * * * ? *)']);
  });

  it('keeps a restricted day-of-month with ? for the day of week', () => {
    expect(expressions('30 6 1,15 * *')).toEqual(['cron(30 6 1,15 * ? *)']);
    expect(expressions('0 0 */2 * *')).toEqual(['cron(0 0 1/2 * ? *)']);
  });

  it('numbers weekdays 1-7 = SUN-SAT, as EventBridge does', () => {
    expect(expressions('0 9 * * 1-5')).toEqual(['cron(0 9 ? * 2-6 *)']);
    expect(expressions('0 9 * * 0')).toEqual(['cron(0 9 ? * 1 *)']);
    expect(expressions('0 9 * * 7')).toEqual(['cron(0 9 ? * 1 *)']);
    expect(expressions('0 9 * * SAT,SUN')).toEqual(['cron(0 9 ? * 1,7 *)']);
  });

  it('covers a cron restricting both day fields with two expressions, one per field', () => {
    expect(eventBridgeCrons('0 6 1,15 * MON')).toEqual([
      { expression: 'cron(0 6 1,15 * ? *)', covers: 'day-of-month' },
      { expression: 'cron(0 6 ? * 2 *)', covers: 'day-of-week' },
    ]);
  });

  it('needs one expression when either restricted day field allows every day', () => {
    expect(expressions('0 6 1-31 * MON')).toEqual(['cron(0 6 * * ? *)']);
    expect(expressions('0 6 13 * 0-6')).toEqual(['cron(0 6 * * ? *)']);
  });

  it('writes steps, ranges and months compactly', () => {
    expect(expressions('*/15 8-18 * JAN-MAR *')).toEqual(['cron(0/15 8-18 * 1-3 ? *)']);
    expect(expressions('5/20 */6 * */3 *')).toEqual(['cron(5/20 0/6 * 1/3 ? *)']);
    expect(expressions('0,1,2,10,30-32 0 * * *')).toEqual(['cron(0-2,10,30-32 0 * * ? *)']);
  });

  it('refuses an invalid cron with the parser’s message', () => {
    expect(() => eventBridgeCrons('61 * * * *')).toThrow(
      'Invalid cron "61 * * * *": minute field "61" is out of range 0-59',
    );
  });

  it('fires on exactly the days and times of the cron (property, against a reading of both forms)', () => {
    const field = (min: number, max: number) =>
      fc.oneof(
        fc.constant('*'),
        fc.integer({ min, max }).map(String),
        fc
          .tuple(fc.integer({ min, max }), fc.integer({ min, max }))
          .map(([a, b]) => `${Math.min(a, b)}-${Math.max(a, b)}`),
        fc.tuple(fc.integer({ min, max }), fc.integer({ min: 1, max: 9 })).map(([a, s]) => `${a}/${s}`),
        fc
          .uniqueArray(fc.integer({ min, max }), { minLength: 2, maxLength: 5 })
          .map((list) => list.join(',')),
      );
    const cron = fc
      .tuple(field(0, 59), field(0, 23), field(1, 31), field(1, 12), field(0, 7))
      .map((fields) => fields.join(' '));
    fc.assert(
      fc.property(cron, (text) => {
        const fields = parseCron(text);
        const crons = eventBridgeCrons(text);
        const parsed = crons.map((entry) => readEventBridge(entry.expression));
        for (const each of parsed) {
          expect(each.minutes).toEqual(new Set(fields.minutes));
          expect(each.hours).toEqual(new Set(fields.hours));
        }
        // Every calendar day of four years, one of them a leap year.
        for (let day = Date.UTC(2026, 0, 1); day < Date.UTC(2030, 0, 1); day += 86_400_000) {
          const date = new Date(day);
          const month = date.getUTCMonth() + 1;
          const dom = date.getUTCDate();
          const dow = date.getUTCDay();
          const domMatch = (fields.dayOfMonthMask & (1 << dom)) !== 0;
          const dowMatch = (fields.dayOfWeekMask & (1 << dow)) !== 0;
          const dayMatch =
            fields.dayOfMonthRestricted && fields.dayOfWeekRestricted
              ? domMatch || dowMatch
              : domMatch && dowMatch;
          const expected = dayMatch && (fields.monthMask & (1 << month)) !== 0;
          const actual = parsed.some((each) => each.firesOn(month, dom, dow));
          if (actual !== expected)
            throw new Error(`${text} → ${crons.map((c) => c.expression)} on ${date.toISOString()}`);
        }
      }),
      { numRuns: 300 },
    );
  });
});

describe('scheduleNamesFor', () => {
  it('names one schedule after the job, or two after the day fields they cover', () => {
    expect(scheduleNamesFor({ id: 'daily', schedule: { cron: '0 2 * * *' } })).toEqual(['daily']);
    expect(scheduleNamesFor({ id: 'payroll', schedule: { cron: '0 6 1,15 * MON' } })).toEqual([
      'payroll.dom',
      'payroll.dow',
    ]);
  });
});

/**
 * Reads the subset of EventBridge cron syntax the translation writes: `*`, `?`, values, `a-b`,
 * `start/step` and lists; weekdays 1-7 = SUN-SAT.
 */
function readEventBridge(expression: string) {
  const match = /^cron\((\S+) (\S+) (\S+) (\S+) (\S+) \*\)$/.exec(expression);
  if (!match) throw new Error(`not a six-field cron: ${expression}`);
  const [, minute, hour, dom, month, dow] = match as unknown as [
    string,
    string,
    string,
    string,
    string,
    string,
  ];
  const set = (field: string, min: number, max: number): Set<number> | 'any' => {
    if (field === '?') return 'any';
    const values = new Set<number>();
    for (const part of field.split(',')) {
      if (part === '*') for (let v = min; v <= max; v++) values.add(v);
      else if (part.includes('/')) {
        const [start, step] = part.split('/').map(Number) as [number, number];
        for (let v = start; v <= max; v += step) values.add(v);
      } else if (part.includes('-')) {
        const [a, b] = part.split('-').map(Number) as [number, number];
        for (let v = a; v <= b; v++) values.add(v);
      } else values.add(Number(part));
    }
    return values;
  };
  const days = { dom: set(dom, 1, 31), dow: set(dow, 1, 7), month: set(month, 1, 12) };
  if ((days.dom === 'any') === (days.dow === 'any'))
    throw new Error(`exactly one day field must be ?: ${expression}`);
  const has = (values: Set<number> | 'any', value: number) => values === 'any' || values.has(value);
  return {
    minutes: set(minute, 0, 59) as Set<number>,
    hours: set(hour, 0, 23) as Set<number>,
    firesOn: (monthValue: number, dayOfMonth: number, dayOfWeek: number) =>
      has(days.month, monthValue) && has(days.dom, dayOfMonth) && has(days.dow, dayOfWeek + 1),
  };
}
