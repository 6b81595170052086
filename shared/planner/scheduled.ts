import { ClockSkewError } from '../errors.ts';
import type { Interval } from '../interval.ts';
import type { JobDefinition } from '../job.ts';
import type { AlertRange } from '../store/alerts.ts';
import {
  type DatabaseClock,
  initialWatermark,
  type JobState,
  type NewRun,
  type StateStore,
} from '../store/types.ts';
import { newRunStatus } from './dependencies.ts';

/** What one planning call did. */
export interface PlanResult {
  /** Runs created as `pending`. */
  readonly planned: number;
  /** Intervals passed over by the catch-up rules (counted, no run row). */
  readonly skipped: number;
  /**
   * The skipped intervals, `[first start, last end)`: contiguous (the catch-up rules skip the oldest
   * due ones), so one range names them all. Undefined when none were skipped.
   */
  readonly skippedRange?: Interval;
  /**
   * The skipped ranges claimed as a `skipped` alert, in the planning's own transactions: raise them
   * (a crash before that leaves them to the alerts' sweep). Empty when nothing new was skipped.
   */
  readonly skippedClaimed: readonly AlertRange[];
  /** The job's watermark after planning. */
  readonly watermark: Date;
  /** True when more intervals were due than one transaction may plan (`maxIntervalsPerDispatch`). */
  readonly more: boolean;
  /** True when the job is paused: nothing was planned. */
  readonly paused: boolean;
}

export { initialWatermark } from '../store/types.ts';

/** How far this process's clock may be from the job's state or the database server's clock. @default 5 min */
export const CLOCK_SKEW_TOLERANCE_MS = 300_000;

/**
 * Why `now` cannot be trusted to plan `job`, or undefined when it can: the job's watermark (the end
 * of the last interval planned) is more than `toleranceMs` after `now` (this clock went back, or
 * ran ahead and was corrected), or the database server's clock (`database`, MySQL) is that far from
 * this process's.
 */
export function clockSkew(
  job: JobDefinition,
  state: JobState,
  now: Date,
  database: DatabaseClock | undefined,
  toleranceMs: number = CLOCK_SKEW_TOLERANCE_MS,
  databaseToleranceMs: number = CLOCK_SKEW_TOLERANCE_MS,
): ClockSkewError | undefined {
  const local = now.toISOString();
  if (database && Math.abs(database.server.getTime() - database.local.getTime()) > databaseToleranceMs) {
    return new ClockSkewError(
      job.id,
      `Clock skew: this machine's clock says ${database.local.toISOString()} but the database server's says ${database.server.toISOString()} ` +
        `(${describeGap(database.local, database.server)} apart, more than the ${databaseToleranceMs / 1000} s tolerated). Planning of job "${job.id}" ` +
        "is stopped until they agree: fix this machine's clock (NTP); planning resumes by itself.",
    );
  }
  // The watermark is the end of the last interval planned, so it never passes the clock that
  // planned it (the row's updated_at comes from the store's clock, which tests may set apart). A
  // fresh row's watermark is the job's first tick, which may lie ahead: only later ones count.
  const expected = Math.max(now.getTime(), initialWatermark(job, now).getTime());
  if (state.watermark.getTime() - expected <= toleranceMs) return undefined;
  const at = state.watermark;
  return new ClockSkewError(
    job.id,
    `Clock skew: this machine's clock says ${local} but job "${job.id}" was planned up to ${at.toISOString()} ` +
      `(${describeGap(now, at)} later). Planning of "${job.id}" is stopped so that no interval is planned from a wrong time. ` +
      'If this clock is behind, fix it (NTP): planning resumes by itself. If it is right and an earlier clock ran ahead, ' +
      `move the watermark back: piko reset-watermark ${job.id} --to <ISO time> --dry-run shows what changes, then run it without --dry-run.`,
  );
}

/** The distance between two times in the largest fitting unit, for messages. */
function describeGap(a: Date, b: Date): string {
  const ms = Math.abs(a.getTime() - b.getTime());
  const units: [number, string][] = [
    [86_400_000, 'day'],
    [3_600_000, 'hour'],
    [60_000, 'minute'],
    [1_000, 'second'],
  ];
  for (const [size, name] of units) {
    if (ms >= size) {
      const count = Math.floor(ms / size);
      return `${count} ${name}${count === 1 ? '' : 's'}`;
    }
  }
  return `${ms} ms`;
}

/** Options of {@link planScheduledOnce}. */
export interface PlanOptions {
  /** How far the job's watermark may be ahead of `now`. @default CLOCK_SKEW_TOLERANCE_MS */
  readonly clockToleranceMs?: number;
  /** How far this process's clock may be from the database server's (MySQL). @default CLOCK_SKEW_TOLERANCE_MS */
  readonly databaseClockToleranceMs?: number;
}

/**
 * Plans one transaction's worth of due intervals of a job (DESIGN.md §4, steps 1-4): locks the job row,
 * walks the intervals from the watermark that ended by `now`, skips those the catch-up rules exclude,
 * inserts up to `maxIntervalsPerDispatch` pending runs, and moves the watermark, all or nothing.
 * @throws ClockSkewError, writing nothing, when `now` cannot be trusted ({@link clockSkew}).
 */
export async function planScheduledOnce(
  store: StateStore,
  job: JobDefinition,
  now: Date,
  options: PlanOptions = {},
): Promise<PlanResult> {
  return store.withJob(job, async (tx) => {
    const { watermark, paused } = tx.job;
    if (paused) return { planned: 0, skipped: 0, skippedClaimed: [], watermark, more: false, paused: true };
    // One cheap read per planning transaction (a `SELECT NOW(3)` on MySQL, nothing on SQLite).
    const skew = clockSkew(
      job,
      tx.job,
      now,
      await tx.databaseClock(),
      options.clockToleranceMs,
      options.databaseClockToleranceMs,
    );
    if (skew) throw skew;

    const skipBefore = firstRunnableStart(job, now);
    const status = newRunStatus(job);
    const runs: NewRun[] = [];
    let skipped = 0;
    let skippedRange: Interval | undefined;
    let next = watermark;
    let more = false;
    for (const interval of job.schedule.intervals(watermark, now)) {
      if (skipBefore === undefined || interval.start < skipBefore) {
        skipped++;
        skippedRange = { start: skippedRange?.start ?? interval.start, end: interval.end };
      } else if (runs.length === job.maxIntervalsPerDispatch) {
        more = true;
        break;
      } else {
        runs.push({ interval, trigger: 'schedule', status });
      }
      next = interval.end;
    }
    if (runs.length > 0) await tx.insertRuns(runs);
    if (next.getTime() !== watermark.getTime()) await tx.advanceWatermark(next, skipped);
    // Claimed with the watermark that passes them: committed together, or neither.
    const skippedClaimed = skippedRange
      ? await tx.claimSkippedAlert({ ...skippedRange, intervals: skipped }, now)
      : [];
    return {
      planned: runs.length,
      skipped,
      skippedRange,
      skippedClaimed,
      watermark: next,
      more,
      paused: false,
    };
  });
}

/**
 * Plans until every due interval is planned or skipped, one transaction per `maxIntervalsPerDispatch`
 * intervals, and sums the results. Stops early when `shouldStop` says so (a time budget).
 */
export async function planScheduled(
  store: StateStore,
  job: JobDefinition,
  now: Date,
  shouldStop: () => boolean = () => false,
  options: PlanOptions = {},
): Promise<PlanResult> {
  let planned = 0;
  let skipped = 0;
  let skippedRange: Interval | undefined;
  const skippedClaimed: AlertRange[] = [];
  for (;;) {
    const result = await planScheduledOnce(store, job, now, options);
    planned += result.planned;
    skipped += result.skipped;
    skippedClaimed.push(...result.skippedClaimed);
    // Each transaction starts where the last one ended: the skipped ranges join end to end.
    if (result.skippedRange)
      skippedRange = {
        start: skippedRange?.start ?? result.skippedRange.start,
        end: result.skippedRange.end,
      };
    if (!result.more || shouldStop()) return { ...result, planned, skipped, skippedRange, skippedClaimed };
  }
}

/**
 * The start of the oldest interval the catch-up rules let run at `now`; intervals starting before it
 * are skipped. Undefined when nothing may run (all due intervals are skipped).
 */
export function firstRunnableStart(job: JobDefinition, now: Date): Date | undefined {
  const { schedule } = job;
  const lastDueEnd = schedule.previousTick(new Date(now.getTime() + 1));
  if (!lastDueEnd) return undefined;
  let from = new Date(-8.64e15);
  if (job.catchupWindowMs !== undefined) {
    // The first interval that ends at or after the cutoff starts at the tick before that end.
    const cutoff = new Date(now.getTime() - job.catchupWindowMs);
    const firstEnd = schedule.tickAtOrAfter(cutoff);
    const firstStart = firstEnd && schedule.previousTick(firstEnd);
    if (firstStart && firstStart > from) from = firstStart;
  }
  if (!job.catchup) {
    if (now.getTime() - lastDueEnd.getTime() > job.misfireGraceTimeMs) return undefined;
    const latestStart = schedule.previousTick(lastDueEnd);
    if (latestStart && latestStart > from) from = latestStart;
  }
  return from;
}

/** The latest interval that ended at or before `at`, for manual runs. */
export function latestIntervalEndingBy(job: JobDefinition, at: Date): Interval | undefined {
  const end = job.schedule.previousTick(new Date(at.getTime() + 1));
  const start = end && job.schedule.previousTick(end);
  return start && end ? { start, end } : undefined;
}
