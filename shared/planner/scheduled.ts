import type { Interval } from '../interval.ts';
import type { JobDefinition } from '../job.ts';
import type { NewRun, StateStore } from '../store/types.ts';

/** What one planning call did. */
export interface PlanResult {
  /** Runs created as `pending`. */
  readonly planned: number;
  /** Intervals passed over by the catch-up rules (counted, no run row). */
  readonly skipped: number;
  /** The job's watermark after planning. */
  readonly watermark: Date;
  /** True when more intervals were due than one transaction may plan (`maxIntervalsPerDispatch`). */
  readonly more: boolean;
  /** True when the job is paused: nothing was planned. */
  readonly paused: boolean;
}

/** Where a job that the planner has never seen starts: the first tick at or after `start`, or after `now`. */
export function initialWatermark(job: JobDefinition, now: Date): Date {
  const from = job.start ?? now;
  return job.schedule.tickAtOrAfter(from) ?? from;
}

/**
 * Plans one transaction's worth of due intervals of a job (DESIGN.md §4, steps 1-4): locks the job row,
 * walks the intervals from the watermark that ended by `now`, skips those the catch-up rules exclude,
 * inserts up to `maxIntervalsPerDispatch` pending runs, and moves the watermark, all or nothing.
 */
export async function planScheduledOnce(
  store: StateStore,
  job: JobDefinition,
  now: Date,
): Promise<PlanResult> {
  return store.withJob(job.id, initialWatermark(job, now), async (tx) => {
    const { watermark, paused } = tx.job;
    if (paused) return { planned: 0, skipped: 0, watermark, more: false, paused: true };

    const skipBefore = firstRunnableStart(job, now);
    const runs: NewRun[] = [];
    let skipped = 0;
    let next = watermark;
    let more = false;
    for (const interval of job.schedule.intervals(watermark, now)) {
      if (skipBefore === undefined || interval.start < skipBefore) {
        skipped++;
      } else if (runs.length === job.maxIntervalsPerDispatch) {
        more = true;
        break;
      } else {
        runs.push({ interval, trigger: 'schedule' });
      }
      next = interval.end;
    }
    if (runs.length > 0) await tx.insertRuns(runs);
    if (next.getTime() !== watermark.getTime()) await tx.advanceWatermark(next, skipped);
    return { planned: runs.length, skipped, watermark: next, more, paused: false };
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
): Promise<PlanResult> {
  let planned = 0;
  let skipped = 0;
  for (;;) {
    const result = await planScheduledOnce(store, job, now);
    planned += result.planned;
    skipped += result.skipped;
    if (!result.more || shouldStop()) return { ...result, planned, skipped };
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
