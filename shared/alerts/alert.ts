/**
 * Alerts (DESIGN.md §9), pure: which intervals are late at an instant, adjacent intervals merged into
 * ranges, and what an alert says (its log line and its webhook body). No store, no clock.
 */
import type { Interval } from '../interval.ts';
import type { AlertKind, AlertRange } from '../store/alerts.ts';

export type { AlertKind, AlertRange } from '../store/alerts.ts';

/** One alert: one job, one kind, the ranges of its intervals it names (claimed, so sent once). */
export interface Alert {
  readonly kind: AlertKind;
  readonly jobId: string;
  /** Oldest first, adjacent intervals merged; never empty. */
  readonly ranges: readonly AlertRange[];
  /** The job's `deadline` in ms, for a late alert. */
  readonly deadlineMs?: number;
  /** When it was raised (the watchdog's or the planner's clock). */
  readonly raisedAt: Date;
}

/** An alert as the webhook receives it (one JSON POST per alert). */
export interface AlertBody {
  /** `<jobId>:<kind>:<first interval start>`: the same alert always has the same id (a receiver may dedupe on it). */
  readonly id: string;
  readonly source: 'piko';
  readonly kind: AlertKind;
  readonly jobId: string;
  /** Intervals the alert names, in all its ranges. */
  readonly count: number;
  /** The ranges, oldest first: `[start, end)` in ISO 8601 UTC, `count` intervals each. */
  readonly intervals: readonly { readonly start: string; readonly end: string; readonly count: number }[];
  /** Late alerts: the job's deadline in ms. */
  readonly deadlineMs?: number;
  readonly raisedAt: string;
  /** The alert as one readable line. */
  readonly message: string;
}

/** How many ranges a message lists before it says "and N more". */
const MESSAGE_RANGES = 5;

/**
 * The end of the last interval whose deadline has passed at `now`: the latest tick at or before
 * `now - deadline`. An interval starting before it ended by `now - deadline` (intervals are
 * contiguous), so if it has not succeeded it is late. Undefined without a deadline or such a tick.
 */
export function deadlineHorizon(
  job: {
    readonly deadlineMs: number | undefined;
    readonly schedule: { previousTick(instant: Date): Date | undefined };
  },
  now: Date,
): Date | undefined {
  if (job.deadlineMs === undefined) return undefined;
  // previousTick is strictly before its argument: + 1 ms makes it "at or before".
  return job.schedule.previousTick(new Date(now.getTime() - job.deadlineMs + 1));
}

/**
 * Merges intervals, oldest first, into ranges: an interval that starts where the previous one ended
 * extends its range; any gap starts a new one. An interval starting before the previous one ended
 * (the same interval found twice) is counted once.
 */
export function mergeIntervals(intervals: readonly Interval[]): AlertRange[] {
  const ranges: { start: Date; end: Date; intervals: number }[] = [];
  for (const interval of intervals) {
    const last = ranges.at(-1);
    if (last && interval.start.getTime() < last.end.getTime()) continue;
    if (last && interval.start.getTime() === last.end.getTime()) {
      last.end = interval.end;
      last.intervals++;
    } else {
      ranges.push({ start: interval.start, end: interval.end, intervals: 1 });
    }
  }
  return ranges;
}

/** How many intervals an alert names. */
export function alertCount(alert: Pick<Alert, 'ranges'>): number {
  return alert.ranges.reduce((sum, range) => sum + range.intervals, 0);
}

/**
 * The alert as one line: `job "daily_sales": 3 intervals late (not succeeded 2 h after they ended):
 * 2026-01-01T00:00:00.000Z → 2026-01-01T03:00:00.000Z (3)`.
 */
export function alertMessage(alert: Alert): string {
  const count = alertCount(alert);
  const noun = `${count} interval${count === 1 ? '' : 's'}`;
  const what =
    alert.kind === 'late'
      ? `${noun} late (not succeeded ${describeMs(alert.deadlineMs ?? 0)} after ${count === 1 ? 'it' : 'they'} ended)`
      : `${noun} skipped by the catch-up rules (never run; piko backfill --reprocess missing runs them)`;
  const shown = alert.ranges
    .slice(0, MESSAGE_RANGES)
    .map((range) => `${range.start.toISOString()} → ${range.end.toISOString()} (${range.intervals})`);
  const more = alert.ranges.length - shown.length;
  return `job "${alert.jobId}": ${what}: ${shown.join(', ')}${more > 0 ? `, and ${more} more ranges` : ''}`;
}

/** The alert as the webhook's JSON body. */
export function alertBody(alert: Alert): AlertBody {
  const first = alert.ranges[0];
  return {
    id: `${alert.jobId}:${alert.kind}:${first ? first.start.toISOString() : alert.raisedAt.toISOString()}`,
    source: 'piko',
    kind: alert.kind,
    jobId: alert.jobId,
    count: alertCount(alert),
    intervals: alert.ranges.map((range) => ({
      start: range.start.toISOString(),
      end: range.end.toISOString(),
      count: range.intervals,
    })),
    ...(alert.deadlineMs === undefined ? {} : { deadlineMs: alert.deadlineMs }),
    raisedAt: alert.raisedAt.toISOString(),
    message: alertMessage(alert),
  };
}

/** A duration for a message, in its largest whole unit: `2 h`, `90 min`, `30 s`, `500 ms`. */
function describeMs(ms: number): string {
  const units: [number, string][] = [
    [86_400_000, 'd'],
    [3_600_000, 'h'],
    [60_000, 'min'],
    [1_000, 's'],
  ];
  for (const [size, unit] of units) if (ms >= size && ms % size === 0) return `${ms / size} ${unit}`;
  return `${ms} ms`;
}
