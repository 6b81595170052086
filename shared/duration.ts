import { DurationError } from './errors.ts';

/** A duration: milliseconds, or a string such as `'30s'`, `'10m'`, `'2h'`, `'1d'` (also `'500ms'`). */
export type Duration = number | `${number}${'ms' | 's' | 'm' | 'h' | 'd'}`;

/** One second in milliseconds. */
export const SECOND_MS = 1_000;
/** One minute in milliseconds. */
export const MINUTE_MS = 60 * SECOND_MS;
/** One hour in milliseconds. */
export const HOUR_MS = 60 * MINUTE_MS;
/** One day (24 hours) in milliseconds. */
export const DAY_MS = 24 * HOUR_MS;

const UNIT_MS: Record<string, number> = { ms: 1, s: SECOND_MS, m: MINUTE_MS, h: HOUR_MS, d: DAY_MS };

/**
 * Converts a {@link Duration} to milliseconds.
 * @throws DurationError when the value is negative, not finite, or not `<number><ms|s|m|h|d>`.
 */
export function toMillis(duration: Duration | string, what = 'duration'): number {
  if (typeof duration === 'number') {
    if (!Number.isFinite(duration) || duration < 0) {
      throw new DurationError(`${what} must be a non-negative number of milliseconds, got ${duration}`);
    }
    return duration;
  }
  if (typeof duration !== 'string') {
    throw new DurationError(
      `${what} must be milliseconds or a string like '30s', '10m', '2h', '1d', got a value of type ${typeof duration}`,
    );
  }
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/.exec(duration.trim());
  if (!match) {
    throw new DurationError(
      `${what} must be milliseconds or a string like '30s', '10m', '2h', '1d', got ${JSON.stringify(duration)}`,
    );
  }
  return Math.round(Number(match[1]) * UNIT_MS[match[2]!]!);
}

/**
 * Milliseconds as the largest units that divide them, for messages: `6h`, `1h30m`, `90s`, `250ms`.
 * The inverse of {@link toMillis} for whole numbers of units.
 */
export function formatDuration(ms: number): string {
  if (ms === 0) return '0s';
  const parts: string[] = [];
  let rest = Math.round(ms);
  for (const [unit, size] of [
    ['d', DAY_MS],
    ['h', HOUR_MS],
    ['m', MINUTE_MS],
    ['s', SECOND_MS],
    ['ms', 1],
  ] as const) {
    if (rest >= size) {
      parts.push(`${Math.floor(rest / size)}${unit}`);
      rest %= size;
    }
  }
  return parts.join('');
}
