import { ScheduleError } from '../errors.ts';

/**
 * A five-field cron expression reduced to the sets the tick enumerator needs. Day sets are bit masks
 * so that testing a calendar day costs three shifts.
 */
export interface CronFields {
  /** Allowed minutes (0–59), ascending, without repeats. */
  readonly minutes: readonly number[];
  /** Allowed hours (0–23), ascending, without repeats. */
  readonly hours: readonly number[];
  /** Bit `d` is set when day of month `d` (1–31) is allowed. */
  readonly dayOfMonthMask: number;
  /** Bit `m` is set when month `m` (1–12) is allowed. */
  readonly monthMask: number;
  /** Bit `w` is set when weekday `w` (0 = Sunday … 6 = Saturday) is allowed; a written 7 sets bit 0. */
  readonly dayOfWeekMask: number;
  /** The day-of-month field is anything but a bare `*` or `?`. */
  readonly dayOfMonthRestricted: boolean;
  /** The day-of-week field is anything but a bare `*` or `?`. */
  readonly dayOfWeekRestricted: boolean;
}

interface FieldSpec {
  readonly name: string;
  readonly min: number;
  readonly max: number;
  /** Three-letter names, the index being the value; only month and day-of-week have them. */
  readonly names?: readonly string[];
  readonly namesHint?: string;
  /** Quartz's "no specific value" only makes sense where two fields compete to pick the day. */
  readonly allowsQuestionMark: boolean;
}

const FIELD_SPECS: readonly FieldSpec[] = [
  { name: 'minute', min: 0, max: 59, allowsQuestionMark: false },
  { name: 'hour', min: 0, max: 23, allowsQuestionMark: false },
  { name: 'day-of-month', min: 1, max: 31, allowsQuestionMark: true },
  {
    name: 'month',
    min: 1,
    max: 12,
    names: ['', 'JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'],
    namesHint: 'a month name (JAN-DEC)',
    allowsQuestionMark: false,
  },
  {
    name: 'day-of-week',
    // 7 is accepted as a second Sunday, as in Vixie cron and cron-parser.
    min: 0,
    max: 7,
    names: ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'],
    namesHint: 'a day name (SUN-SAT)',
    allowsQuestionMark: true,
  },
];

/**
 * cron-parser extensions. Their meaning differs between cron dialects and EventBridge Scheduler
 * cannot express all of them, so a job's schedule must not depend on them.
 */
const EXTENSIONS: readonly { readonly pattern: RegExp; readonly token: string; readonly meaning: string }[] =
  [
    { pattern: /#/, token: '#', meaning: 'nth weekday of the month' },
    { pattern: /^H(\(\d+-\d+\))?$/i, token: 'H', meaning: 'hashed value' },
    { pattern: /^(\d*L|L-?\d*|LW)$/i, token: 'L', meaning: 'last day or weekday of the month' },
    { pattern: /^\d*W$/i, token: 'W', meaning: 'nearest weekday' },
  ];

/**
 * Parses a standard five-field cron expression (minute hour day-of-month month day-of-week) with
 * lists, ranges, steps and names, following cron-parser's semantics: `a/s` means `a-max/s`, a field
 * is restricted unless it is a bare `*` or `?`, and 7 is Sunday.
 *
 * The fields are expanded here rather than by cron-parser because cron-parser refuses expressions
 * that are valid cron (`0,7` and other repeated values, a day that never occurs such as
 * `0 0 30 2 *`) and its messages name neither the field nor the value.
 * @throws ScheduleError naming the field and the value that is wrong.
 */
export function parseCron(cron: string): CronFields {
  const raw = cron.trim().split(/\s+/).filter(Boolean);
  if (raw.length !== FIELD_SPECS.length) {
    const names = FIELD_SPECS.map((spec) => spec.name).join(' ');
    throw new ScheduleError(
      `Invalid cron "${cron}": expected 5 fields (${names}), got ${raw.length}${fieldCountHint(raw)}`,
    );
  }
  const [minutes, hours, daysOfMonth, months, daysOfWeek] = raw.map((field, i) => {
    const expanded = expandField(FIELD_SPECS[i]!, field);
    if (typeof expanded === 'string') throw new ScheduleError(`Invalid cron "${cron}": ${expanded}`);
    return expanded;
  }) as [number[], number[], number[], number[], number[]];
  const mask = (list: readonly number[]) => list.reduce((bits, v) => bits | (1 << v), 0);
  const sorted = (list: readonly number[]) => [...new Set(list)].sort((a, b) => a - b);
  const unrestricted = (field: string) => field === '*' || field === '?';
  return {
    minutes: sorted(minutes),
    hours: sorted(hours),
    dayOfMonthMask: mask(daysOfMonth),
    monthMask: mask(months),
    dayOfWeekMask: mask(daysOfWeek.map((day) => day % 7)),
    dayOfMonthRestricted: !unrestricted(raw[2]!),
    dayOfWeekRestricted: !unrestricted(raw[4]!),
  };
}

function fieldCountHint(raw: readonly string[]): string {
  if (raw.length === 6) return ' (a seconds field is not supported)';
  if (raw.length === 1 && raw[0]!.startsWith('@')) return ` (macros such as ${raw[0]} are not supported)`;
  return '';
}

/** The values one field allows, or the reason it is invalid (a message fragment naming field and value). */
function expandField(spec: FieldSpec, field: string): number[] | string {
  const where = `${spec.name} field "${field}"`;
  const values: number[] = [];
  for (const item of field.split(',')) {
    if (item === '') return `${where} has an empty list item`;
    const [base, stepText, ...extra] = item.split('/') as [string, string | undefined, ...string[]];
    const extension = EXTENSIONS.find((e) => e.pattern.test(base) || e.pattern.test(item));
    if (extension) return unsupported(where, extension.token, extension.meaning);
    if (extra.length > 0) return `${where} has more than one "/" in "${item}"`;
    let step = 1;
    if (stepText !== undefined) {
      if (!/^\d+$/.test(stepText)) return `${where} has step "${stepText}", which is not a whole number`;
      step = Number(stepText);
      if (step === 0) return `${where} has step 0; a step must be at least 1`;
    }
    let low = spec.min;
    let high = spec.max;
    if (base === '?' && !spec.allowsQuestionMark) {
      return `${where} uses "?", which only day-of-month and day-of-week allow`;
    }
    if (base !== '*' && base !== '?') {
      const bounds = base.split('-');
      if (bounds.length > 2 || bounds.includes('')) {
        return `${where} has "${base}", which is neither a value, "*" nor a range such as "1-5"`;
      }
      const parsed = bounds.map((bound) => parseValue(spec, bound));
      const invalid = parsed.find((p) => typeof p === 'string');
      if (invalid !== undefined) return invalid as string;
      const [first, second] = parsed as number[];
      low = first!;
      // A single value with a step runs to the end of the field, as in cron-parser: 5/15 is 5-59/15.
      high = second ?? (stepText === undefined ? low : spec.max);
      if (low > high) {
        return `${where} has the range "${base}", which runs backwards; write the lower value first`;
      }
    }
    for (let v = low; v <= high; v += step) values.push(v);
  }
  return values;
}

/** A number's or name's value, or why it is not one. */
function parseValue(spec: FieldSpec, text: string): number | string {
  if (/^\d+$/.test(text)) {
    const n = Number(text);
    if (n >= spec.min && n <= spec.max) return n;
    return `${spec.name} field "${text}" is out of range ${spec.min}-${spec.max}`;
  }
  const named = spec.names?.indexOf(text.toUpperCase()) ?? -1;
  if (named >= 0) return named;
  const extension = EXTENSIONS.find((e) => e.pattern.test(text));
  if (extension) return unsupported(`${spec.name} field "${text}"`, extension.token, extension.meaning);
  return `${spec.name} field "${text}" is not a number${spec.namesHint ? ` or ${spec.namesHint}` : ''}`;
}

function unsupported(where: string, token: string, meaning: string): string {
  return `${where} uses "${token}" (${meaning}), a cron-parser extension that Piko does not support`;
}
