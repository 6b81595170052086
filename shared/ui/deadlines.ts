/**
 * What the UI shows of a job's deadline (DESIGN.md §9): the intervals late now, and the alerts
 * raised. Late now is the watchdog's judgement at this instant over the whole history: an interval
 * of the scheduled lane whose `end + deadline` has passed and whose run has not succeeded (a status
 * of `NOT_SUCCEEDED_STATUSES`: an operator's cancelled or skipped is not late), or that was never
 * planned (the job is behind). Backfills are not deadlines: they rework the past on purpose. A paused
 * job's intervals count too: they are late, though the watchdog raises no alert for them.
 */
import { deadlineHorizon, mergeIntervals } from '../alerts/alert.ts';
import type { Interval } from '../interval.ts';
import type { JobDefinition } from '../job.ts';
import { type AlertRange, type AlertRecord, NOT_SUCCEEDED_STATUSES } from '../store/alerts.ts';
import type { JobState, StateReader } from '../store/types.ts';
import type { UiOperator } from './operator.ts';

/** Late intervals counted at most per job and page; beyond, the count reads "1,000+". */
export const MAX_LATE_COUNTED = 1_000;
/** Alerts a job's grid lists: the latest ones. */
export const RECENT_ALERTS = 10;

/** A job's intervals late now. */
export interface LateIntervals {
  /** The job's deadline, in ms. */
  readonly deadlineMs: number;
  /** How many (at most the limit read). */
  readonly count: number;
  /** False when there are more than {@link count}. */
  readonly exact: boolean;
  /** The late intervals, oldest first, adjacent ones merged. */
  readonly ranges: readonly AlertRange[];
}

/**
 * The intervals of `job` late at `now`, at most `limit` of them (the oldest); undefined when the job
 * has no deadline.
 * @default limit MAX_LATE_COUNTED
 */
export async function readLateIntervals(
  store: Pick<StateReader, 'findRuns'>,
  job: JobDefinition,
  state: JobState | undefined,
  now: Date,
  limit = MAX_LATE_COUNTED,
): Promise<LateIntervals | undefined> {
  const deadlineMs = job.deadlineMs;
  if (deadlineMs === undefined) return undefined;
  const horizon = deadlineHorizon(job, now);
  if (!horizon || !state) return { deadlineMs, count: 0, exact: true, ranges: [] };
  // Runs starting before the horizon ended by it (intervals are contiguous).
  const runs = await store.findRuns(job.id, {
    to: horizon,
    statuses: NOT_SUCCEEDED_STATUSES,
    backfillId: null,
    limit: limit + 1,
  });
  const late: Interval[] = runs.map((run) => run.interval);
  // Never planned: runs stop at the watermark, so these come after them.
  if (late.length <= limit) {
    for (const interval of job.schedule.intervals(state.watermark, horizon)) {
      late.push(interval);
      if (late.length > limit) break;
    }
  }
  const exact = late.length <= limit;
  const counted = late.slice(0, limit);
  return { deadlineMs, count: counted.length, exact, ranges: mergeIntervals(counted) };
}

/** The alerts raised for `job`, the latest intervals first, at most {@link RECENT_ALERTS}. */
export function readRecentAlerts(
  operator: Pick<UiOperator, 'alerts'>,
  job: JobDefinition,
): Promise<AlertRecord[]> {
  return operator.alerts(job.id, RECENT_ALERTS);
}
