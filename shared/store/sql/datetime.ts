import { DAY_MS } from '../../duration.ts';

/** 0000-01-01T00:00:00.000Z and 9999-12-31T23:59:59.999Z: where `toISOString` has four-digit years. */
const MIN_FOUR_DIGIT_YEAR_MS = -62_167_219_200_000;
const MAX_FOUR_DIGIT_YEAR_MS = 253_402_300_799_999;

/** The last day {@link bindDateTime} wrote, as `YYYY-MM-DD`: consecutive runs mostly share it. */
let boundDay = Number.NaN;
let boundDayText = '';

/**
 * A time as MySQL DATETIME(3) text in UTC (`2026-01-01 05:00:00.000`): the exact text mysql2 writes
 * for a `Date` with `timezone: 'Z'` (the store's setting), at a fraction of the cost. Dates outside
 * years 0–9999 are passed on as they are.
 */
export function bindDateTime(date: Date): unknown {
  const ms = date.getTime();
  if (!(ms >= MIN_FOUR_DIGIT_YEAR_MS && ms <= MAX_FOUR_DIGIT_YEAR_MS)) return date;
  const day = Math.floor(ms / DAY_MS);
  if (day !== boundDay) {
    boundDay = day;
    boundDayText = date.toISOString().slice(0, 10);
  }
  const time = ms - day * DAY_MS;
  const hours = Math.floor(time / 3_600_000);
  const minutes = Math.floor(time / 60_000) % 60;
  const seconds = Math.floor(time / 1_000) % 60;
  const millis = time % 1_000;
  return `${boundDayText} ${pad2(hours)}:${pad2(minutes)}:${pad2(seconds)}.${millis < 10 ? '00' : millis < 100 ? '0' : ''}${millis}`;
}

function pad2(value: number): string {
  return value < 10 ? `0${value}` : `${value}`;
}
