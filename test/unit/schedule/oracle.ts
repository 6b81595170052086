/**
 * A brute-force reference for schedule ticks, written apart from shared/schedule on purpose: it
 * walks every UTC minute, reads its wall-clock time from Intl, and keeps the first occurrence of each
 * wall-clock time that matches the cron. Slow, and obviously right.
 */
import fc from 'fast-check';

const MINUTE_MS = 60_000;
const HOUR_MS = 60 * MINUTE_MS;
const DAY_MS = 24 * HOUR_MS;

/** Zones with whole-minute offsets since 1960 and every kind of change: 30-minute DST, midnight DST, ±24 h. */
export const ZONES = [
  'UTC',
  'America/New_York',
  'America/Santiago',
  'America/Sao_Paulo',
  'America/St_Johns',
  'America/Havana',
  'Europe/London',
  'Europe/Berlin',
  'Europe/Dublin',
  'Africa/Casablanca',
  'Asia/Tehran',
  'Asia/Beirut',
  'Asia/Kathmandu',
  'Asia/Shanghai',
  'Australia/Lord_Howe',
  'Australia/Sydney',
  'Pacific/Chatham',
  'Pacific/Apia',
] as const;

/** What a cron allows, built alongside its text by {@link cronArbitrary}, never parsed from it. */
export interface CronModel {
  readonly text: string;
  readonly minutes: ReadonlySet<number>;
  readonly hours: ReadonlySet<number>;
  readonly daysOfMonth: ReadonlySet<number>;
  readonly months: ReadonlySet<number>;
  /** 0 = Sunday … 6 = Saturday. */
  readonly daysOfWeek: ReadonlySet<number>;
  readonly dayOfMonthRestricted: boolean;
  readonly dayOfWeekRestricted: boolean;
}

interface FieldModel {
  readonly text: string;
  readonly values: readonly number[];
  readonly restricted: boolean;
}

const MONTHS = ['', 'JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'];
const DAYS = ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'];

function range(low: number, high: number, step = 1): number[] {
  const values: number[] = [];
  for (let v = low; v <= high; v += step) values.push(v);
  return values;
}

/** One field: a bare wildcard, or a list of values, ranges, stepped ranges and `*` steps. */
function fieldArbitrary(
  min: number,
  max: number,
  options: { names?: readonly string[]; wildcards?: readonly string[]; wildcardWeight?: number } = {},
): fc.Arbitrary<FieldModel> {
  const { names, wildcards = ['*'], wildcardWeight = 1 } = options;
  const name = (v: number, useName: boolean) => (useName && names?.[v] ? names[v]! : String(v));
  const value = fc.integer({ min, max });
  const item = fc.oneof(
    fc.tuple(value, fc.boolean()).map(([v, n]) => ({ text: name(v, n), values: [v] })),
    fc.tuple(value, value, fc.boolean()).map(([a, b, n]) => {
      const [low, high] = a <= b ? [a, b] : [b, a];
      return { text: `${name(low, n)}-${name(high, n)}`, values: range(low, high) };
    }),
    fc.tuple(value, value, fc.integer({ min: 1, max: max - min + 1 })).map(([a, b, step]) => {
      const [low, high] = a <= b ? [a, b] : [b, a];
      return { text: `${low}-${high}/${step}`, values: range(low, high, step) };
    }),
    fc
      .integer({ min: 1, max: max - min + 1 })
      .map((step) => ({ text: `*/${step}`, values: range(min, max, step) })),
  );
  return fc.oneof(
    {
      weight: wildcardWeight,
      arbitrary: fc
        .constantFrom(...wildcards)
        .map((text) => ({ text, values: range(min, max), restricted: false })),
    },
    {
      weight: 1,
      arbitrary: fc.array(item, { minLength: 1, maxLength: 3 }).map((items) => ({
        text: items.map((i) => i.text).join(','),
        values: items.flatMap((i) => i.values),
        restricted: true,
      })),
    },
  );
}

/** Random five-field crons with their meaning; day fields are often both restricted. */
export const cronArbitrary: fc.Arbitrary<CronModel> = fc
  .tuple(
    fieldArbitrary(0, 59, { wildcardWeight: 2 }),
    fieldArbitrary(0, 23, { wildcardWeight: 2 }),
    fieldArbitrary(1, 31, { wildcards: ['*', '?'], wildcardWeight: 3 }),
    fieldArbitrary(1, 12, { names: MONTHS, wildcardWeight: 6 }),
    fieldArbitrary(0, 7, { names: DAYS, wildcards: ['*', '?'], wildcardWeight: 2 }),
  )
  .map(([minute, hour, dayOfMonth, month, dayOfWeek]) => ({
    text: [minute, hour, dayOfMonth, month, dayOfWeek].map((f) => f.text).join(' '),
    minutes: new Set(minute.values),
    hours: new Set(hour.values),
    daysOfMonth: new Set(dayOfMonth.values),
    months: new Set(month.values),
    daysOfWeek: new Set(dayOfWeek.values.map((d) => d % 7)),
    dayOfMonthRestricted: dayOfMonth.restricted,
    dayOfWeekRestricted: dayOfWeek.restricted,
  }));

interface Wall {
  readonly year: number;
  readonly month: number;
  readonly day: number;
  readonly weekday: number;
  readonly hour: number;
  readonly minute: number;
}

const formatters = new Map<string, Intl.DateTimeFormat>();
const WALL = /^(\w{3}), (\d+)\/(\d+)\/(\d+), (\d+):(\d+)$/;

function wallClock(timezone: string, instant: number): Wall {
  let format = formatters.get(timezone);
  if (!format) {
    format = new Intl.DateTimeFormat('en-US', {
      timeZone: timezone,
      hourCycle: 'h23',
      weekday: 'short',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: '2-digit',
      minute: '2-digit',
    });
    formatters.set(timezone, format);
  }
  const text = format.format(instant);
  const match = WALL.exec(text);
  if (!match) throw new Error(`unexpected Intl output ${JSON.stringify(text)}`);
  const [, weekday, month, day, year, hour, minute] = match;
  return {
    year: Number(year),
    month: Number(month),
    day: Number(day),
    weekday: DAYS.indexOf(weekday!.toUpperCase()),
    hour: Number(hour),
    minute: Number(minute),
  };
}

function matches(cron: CronModel, wall: Wall): boolean {
  if (!cron.minutes.has(wall.minute) || !cron.hours.has(wall.hour) || !cron.months.has(wall.month))
    return false;
  const dayOfMonth = cron.daysOfMonth.has(wall.day);
  const dayOfWeek = cron.daysOfWeek.has(wall.weekday);
  if (cron.dayOfMonthRestricted && cron.dayOfWeekRestricted) return dayOfMonth || dayOfWeek;
  return dayOfMonth && dayOfWeek;
}

/**
 * Every tick in `[from, to)`: each UTC minute whose wall-clock time matches and has not been seen
 * before. Two days before `from` are read too, as a repeated wall-clock time first occurs at most
 * a day (the largest offset change) earlier.
 */
export function oracleTicks(cron: CronModel, timezone: string, from: number, to: number): number[] {
  const seen = new Set<string>();
  const ticks: number[] = [];
  for (let t = Math.ceil((from - 2 * DAY_MS) / MINUTE_MS) * MINUTE_MS; t < to; t += MINUTE_MS) {
    const wall = wallClock(timezone, t);
    const key = `${wall.year}-${wall.month}-${wall.day} ${wall.hour}:${wall.minute}`;
    const first = !seen.has(key);
    seen.add(key);
    if (first && t >= from && matches(cron, wall)) ticks.push(t);
  }
  return ticks;
}

const transitionCache = new Map<string, number[]>();

/** Instants, to within 6 hours, at which the zone's UTC offset changes during `year`. */
export function offsetChanges(timezone: string, year: number): number[] {
  const key = `${timezone} ${year}`;
  const cached = transitionCache.get(key);
  if (cached) return cached;
  const offset = (t: number) => {
    const w = wallClock(timezone, t);
    const wall = new Date(0);
    wall.setUTCFullYear(w.year, w.month - 1, w.day);
    wall.setUTCHours(w.hour, w.minute, 0, 0);
    return wall.getTime() - t;
  };
  const changes: number[] = [];
  const step = 6 * HOUR_MS;
  let previous = offset(Date.UTC(year, 0, 1));
  for (let t = Date.UTC(year, 0, 1) + step; t < Date.UTC(year + 1, 0, 1); t += step) {
    const current = offset(t);
    if (current !== previous) changes.push(t);
    previous = current;
  }
  transitionCache.set(key, changes);
  return changes;
}
