import { ScheduleError } from '../errors.ts';
import type { Interval } from '../interval.ts';
import { type CronFields, parseCron } from './cron.ts';
import { TickEnumerator } from './ticks.ts';
import { zoneOffsets } from './zone.ts';

/**
 * A cron expression bound to a timezone, ready to answer questions about its ticks.
 *
 * Ticks are exactly the instants whose local wall-clock time matches the cron, at the first
 * instant that wall-clock time occurs: a time skipped by a forward DST change never fires, a time
 * repeated by a backward change fires once, the first time (as EventBridge Scheduler does). So
 * intervals are always contiguous, never overlap and never repeat.
 *
 * Every method is a pure function of its arguments. Ticks are whole minutes of local time (so also
 * of UTC, except in the few zones whose offset once had seconds, such as Africa/Monrovia before
 * 1972). A walk that finds no tick for 12 years stops: only a cron that never fires gets that far.
 */
export interface CompiledSchedule {
  /** The cron expression, as given. */
  readonly cron: string;
  /** The IANA timezone the cron is read in, as given. */
  readonly timezone: string;
  /**
   * The first tick strictly after `instant`, or undefined if there is none (e.g. `0 0 30 2 *`).
   * @throws ScheduleError when `instant` is not a valid Date.
   */
  nextTick(instant: Date): Date | undefined;
  /**
   * The first tick at or after `instant`, or undefined if there is none.
   * @throws ScheduleError when `instant` is not a valid Date.
   */
  tickAtOrAfter(instant: Date): Date | undefined;
  /**
   * The last tick strictly before `instant`, or undefined if there is none.
   * @throws ScheduleError when `instant` is not a valid Date.
   */
  previousTick(instant: Date): Date | undefined;
  /**
   * The intervals `[t(k), t(k+1))` between consecutive ticks with `from <= t(k)` and `t(k+1) <= to`,
   * oldest first. Lazy: a year of minutely intervals is never held in memory.
   * @throws ScheduleError at once when `from` or `to` is not a valid Date.
   */
  intervals(from: Date, to: Date): IterableIterator<Interval>;
  /**
   * The same intervals as {@link CompiledSchedule.intervals}, newest first.
   * @throws ScheduleError at once when `from` or `to` is not a valid Date.
   */
  intervalsReverse(from: Date, to: Date): IterableIterator<Interval>;
}

/**
 * Compiles a five-field cron expression (minute hour day-of-month month day-of-week: lists, ranges,
 * steps, `JAN`–`DEC` and `SUN`–`SAT`; `?` in the day fields; 0 and 7 are Sunday) for a timezone.
 * When both day fields are restricted, a day matches if either does, as in Vixie cron; a day field is
 * restricted unless it is a bare `*` or `?` (so a stepped `*` restricts, as in cron-parser).
 * @param cron - e.g. `'0 2 * * *'`. Seconds fields and cron-parser's `L`, `W`, `#` and `H` are refused.
 * @param timezone - An IANA name such as `'Asia/Shanghai'`.
 * @default timezone 'UTC'
 * @throws ScheduleError naming the cron field and value, or the timezone, that is wrong (both, one
 * per line, when both are).
 */
export function compileSchedule(cron: string, timezone = 'UTC'): CompiledSchedule {
  const problems: string[] = [];
  let fields: CronFields | undefined;
  try {
    fields = parseCron(cron);
  } catch (error) {
    if (!(error instanceof ScheduleError)) throw error;
    problems.push(error.message);
  }
  const zone = zoneOffsets(timezone);
  if (!zone) {
    problems.push(`Unknown timezone "${timezone}": use an IANA name such as "Europe/London" or "UTC"`);
  }
  if (!fields || !zone) throw new ScheduleError(problems.join('\n'));
  return new Schedule(cron, timezone, new TickEnumerator(fields, zone));
}

class Schedule implements CompiledSchedule {
  readonly cron: string;
  readonly timezone: string;
  readonly #ticks: TickEnumerator;

  constructor(cron: string, timezone: string, ticks: TickEnumerator) {
    this.cron = cron;
    this.timezone = timezone;
    this.#ticks = ticks;
  }

  nextTick(instant: Date): Date | undefined {
    return firstDate(this.#ticks.forward(millis(instant, 'instant'), false));
  }

  tickAtOrAfter(instant: Date): Date | undefined {
    return firstDate(this.#ticks.forward(millis(instant, 'instant'), true));
  }

  previousTick(instant: Date): Date | undefined {
    return firstDate(this.#ticks.backward(millis(instant, 'instant'), false));
  }

  intervals(from: Date, to: Date): IterableIterator<Interval> {
    return this.#intervals(millis(from, 'from'), millis(to, 'to'));
  }

  intervalsReverse(from: Date, to: Date): IterableIterator<Interval> {
    return this.#intervalsReverse(millis(from, 'from'), millis(to, 'to'));
  }

  *#intervals(from: number, to: number): Generator<Interval, void, undefined> {
    let start: number | undefined;
    for (const tick of this.#ticks.forward(from, true)) {
      if (tick > to) return;
      if (start !== undefined) yield { start: new Date(start), end: new Date(tick) };
      start = tick;
    }
  }

  *#intervalsReverse(from: number, to: number): Generator<Interval, void, undefined> {
    let end: number | undefined;
    for (const tick of this.#ticks.backward(to, true)) {
      if (tick < from) return;
      if (end !== undefined) yield { start: new Date(tick), end: new Date(end) };
      end = tick;
    }
  }
}

function firstDate(ticks: Iterator<number>): Date | undefined {
  const first = ticks.next();
  return first.done ? undefined : new Date(first.value);
}

function millis(instant: Date, name: string): number {
  const ms = instant instanceof Date ? instant.getTime() : Number.NaN;
  if (Number.isNaN(ms)) throw new ScheduleError(`${name} must be a valid Date, got ${String(instant)}`);
  return ms;
}
