/**
 * Standard five-field cron → EventBridge Scheduler's six-field `cron(min hour dom month dow year)`.
 *
 * Pure and free of aws-cdk-lib: the stack uses it to create schedules, the CLI to find them.
 */
import { ScheduleError } from '../errors.ts';
import { type CronFields, parseCron } from '../schedule/cron.ts';

/** EventBridge Scheduler refuses schedule expressions longer than this. */
export const MAX_SCHEDULE_EXPRESSION_LENGTH = 256;

/** One EventBridge Scheduler expression and which day field of the job's cron it covers. */
export interface EventBridgeCron {
  /** `cron(min hour dom month dow year)`. */
  readonly expression: string;
  /**
   * `'all'` when one expression covers the cron; `'day-of-month'` or `'day-of-week'` when the cron
   * restricts both day fields and is covered by two expressions, one per field.
   */
  readonly covers: 'all' | 'day-of-month' | 'day-of-week';
}

interface FieldRange {
  readonly min: number;
  readonly max: number;
}
const MINUTE: FieldRange = { min: 0, max: 59 };
const HOUR: FieldRange = { min: 0, max: 23 };
const DAY_OF_MONTH: FieldRange = { min: 1, max: 31 };
const MONTH: FieldRange = { min: 1, max: 12 };
/** EventBridge numbers weekdays 1-7 = SUN-SAT (standard cron: 0-6, 7 also Sunday). */
const EVENTBRIDGE_DAY_OF_WEEK: FieldRange = { min: 1, max: 7 };

/**
 * The EventBridge Scheduler expressions whose union of firing times is exactly the ticks of a
 * five-field cron (read in the schedule's timezone, which the schedule carries separately).
 *
 * EventBridge needs `?` in one of the two day fields. When the cron restricts both, a day matches if
 * either field does (Vixie cron), which one expression cannot say: two expressions are returned, one
 * with the day-of-month and `?`, one with `?` and the day-of-week. A day matching both fires both
 * schedules at the same instant; the dispatcher is idempotent, so that costs one extra invocation.
 *
 * @throws ScheduleError for an invalid cron, or an expression longer than EventBridge accepts.
 */
export function eventBridgeCrons(cron: string): EventBridgeCron[] {
  const fields = parseCron(cron);
  const minutes = renderField(fields.minutes, MINUTE);
  const hours = renderField(fields.hours, HOUR);
  const months = renderField(fromMask(fields.monthMask, MONTH), MONTH);
  const daysOfMonth = fromMask(fields.dayOfMonthMask, DAY_OF_MONTH);
  // Standard weekday w (0 = Sunday) is EventBridge weekday w + 1.
  const daysOfWeek = fromMask(fields.dayOfWeekMask, { min: 0, max: 6 }).map((day) => day + 1);
  const build = (dom: string, dow: string) => `cron(${minutes} ${hours} ${dom} ${months} ${dow} *)`;

  let result: EventBridgeCron[];
  if (fields.dayOfMonthRestricted && fields.dayOfWeekRestricted && !coversEveryDay(fields)) {
    result = [
      { expression: build(renderField(daysOfMonth, DAY_OF_MONTH), '?'), covers: 'day-of-month' },
      {
        expression: build('?', renderField(daysOfWeek, EVENTBRIDGE_DAY_OF_WEEK)),
        covers: 'day-of-week',
      },
    ];
  } else if (fields.dayOfWeekRestricted && !fields.dayOfMonthRestricted) {
    result = [{ expression: build('?', renderField(daysOfWeek, EVENTBRIDGE_DAY_OF_WEEK)), covers: 'all' }];
  } else if (fields.dayOfMonthRestricted && !fields.dayOfWeekRestricted) {
    result = [{ expression: build(renderField(daysOfMonth, DAY_OF_MONTH), '?'), covers: 'all' }];
  } else {
    // Neither day field restricts, or one of the two allows every day (so their union is every day).
    result = [{ expression: build('*', '?'), covers: 'all' }];
  }
  for (const { expression } of result) {
    if (expression.length > MAX_SCHEDULE_EXPRESSION_LENGTH) {
      throw new ScheduleError(
        `Cron "${cron}" becomes "${expression}", longer than the ${MAX_SCHEDULE_EXPRESSION_LENGTH} characters EventBridge Scheduler accepts; use ranges or steps instead of long lists`,
      );
    }
  }
  return result;
}

/** True when one of the two (restricted) day fields allows every day, so their union is every day. */
function coversEveryDay(fields: CronFields): boolean {
  const allDaysOfMonth = fromMask(fields.dayOfMonthMask, DAY_OF_MONTH).length === 31;
  const allDaysOfWeek = fromMask(fields.dayOfWeekMask, { min: 0, max: 6 }).length === 7;
  return allDaysOfMonth || allDaysOfWeek;
}

function fromMask(mask: number, range: FieldRange): number[] {
  const values: number[] = [];
  for (let value = range.min; value <= range.max; value++) if (mask & (1 << value)) values.push(value);
  return values;
}

/**
 * The shortest of the forms EventBridge reads for a sorted, distinct list of values: `*` for the whole
 * range, `start/step` for a progression that runs to the end of the range, else a list of values and
 * `a-b` runs.
 */
function renderField(values: readonly number[], range: FieldRange): string {
  if (values.length === 0) throw new ScheduleError('A cron field allows no value');
  if (values.length === range.max - range.min + 1) return '*';
  if (values.length >= 3) {
    const step = values[1]! - values[0]!;
    const progression = values.every((value, index) => value === values[0]! + index * step);
    if (progression && step > 1 && values[values.length - 1]! + step > range.max) {
      return `${values[0]}/${step}`;
    }
  }
  const parts: string[] = [];
  for (let i = 0; i < values.length; ) {
    let j = i;
    while (j + 1 < values.length && values[j + 1] === values[j]! + 1) j++;
    if (j - i >= 2) parts.push(`${values[i]}-${values[j]}`);
    else for (let k = i; k <= j; k++) parts.push(String(values[k]));
    i = j + 1;
  }
  return parts.join(',');
}
