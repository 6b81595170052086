/**
 * The watchdog (DESIGN.md §9): finds the intervals of jobs with a `deadline` that have not succeeded
 * by `end + deadline`, and claims them as alerts in the store, so each is raised once. It runs
 * whether or not anything else does: locally on the runtime's timer (`[alerts] check_seconds`), on
 * AWS on a schedule that invokes the dispatcher with `{ "action": "watchdog" }`.
 *
 * A job's check reads only what changed since its last one. `piko_deadline_watch.checked_to` says
 * how far it got: intervals starting before it have been judged (late and alerted, or succeeded in
 * time). Each check, in one transaction holding the job's row lock:
 * 1. the horizon: the end of the last interval whose deadline has passed ({@link deadlineHorizon});
 * 2. the late intervals starting in `[checked_to, horizon)`: scheduled runs that have not succeeded
 *    or succeeded after their deadline (a range scan of the job's runs by interval start, over the
 *    intervals whose deadline passed since the last check), and the intervals from the watermark on
 *    that were never planned (the job is behind: its schedule or planning stopped), from the schedule;
 * 3. those intervals, merged into ranges, are claimed; `checked_to` moves to the horizon.
 *
 * Decisions: the first check of a job (or of a job that gained a deadline) only records where
 * watching begins: history (a catch-up from `start`, old failures) raises nothing. A paused job's
 * deadlines pass without alerts (its operator stopped it on purpose). Backfill and manual runs are
 * re-runs someone asked for, not deadlines. At most `limit` intervals per job and check; the rest are
 * the next check's.
 */
import type { Interval } from '../interval.ts';
import type { JobDefinition } from '../job.ts';
import {
  type AlertRecord,
  type AlertStore,
  NOT_SUCCEEDED_STATUSES,
  type WatchedRun,
} from '../store/alerts.ts';
import { type Alert, deadlineHorizon, mergeIntervals } from './alert.ts';

/** Late intervals one job's check judges at most (the rest wait for the next check). */
export const MAX_LATE_PER_CHECK = 1_000;

/** Options of {@link checkDeadline}. */
export interface CheckOptions {
  /** Intervals judged per job and check at most. @default MAX_LATE_PER_CHECK */
  readonly limit?: number;
}

/**
 * Checks one job's deadlines at `now` and claims the late intervals found; returns the alert to
 * raise, or undefined when nothing new is late (or the job has no deadline, or no row yet).
 */
export async function checkDeadline(
  alerts: AlertStore,
  job: JobDefinition,
  now: Date,
  options: CheckOptions = {},
): Promise<Alert | undefined> {
  const horizon = deadlineHorizon(job, now);
  const deadlineMs = job.deadlineMs;
  if (horizon === undefined || deadlineMs === undefined) return undefined;
  const limit = options.limit ?? MAX_LATE_PER_CHECK;
  return alerts.watchDeadline(job.id, async (watch) => {
    const from = watch.checkedTo;
    if (from !== undefined && horizon.getTime() <= from.getTime()) return undefined;
    if (from === undefined || watch.paused) {
      await watch.advance(horizon, now);
      return undefined;
    }
    const runs = await watch.scheduledRuns(from, horizon, limit);
    const late: Interval[] = runs.filter((run) => isLate(run, deadlineMs)).map((run) => run.interval);
    let checkedTo = horizon;
    if (runs.length >= limit) {
      checkedTo = runs[runs.length - 1]!.interval.end;
    } else {
      // Never planned: the job is behind. Runs stop at the watermark, so these come after them.
      const unplannedFrom = from.getTime() > watch.watermark.getTime() ? from : watch.watermark;
      for (const interval of job.schedule.intervals(unplannedFrom, horizon)) {
        late.push(interval);
        if (late.length >= limit) {
          checkedTo = interval.end;
          break;
        }
      }
    }
    const claimed = await watch.claim('late', mergeIntervals(late), now);
    await watch.advance(checkedTo, now);
    if (claimed.length === 0) return undefined;
    return { kind: 'late', jobId: job.id, ranges: claimed, deadlineMs, raisedAt: now };
  });
}

/**
 * Whether a run whose deadline has passed was late: it has not succeeded (yet, or ever), or it
 * succeeded after `end + deadline`. A run in a status not judged (an operator's) is not late.
 */
export function isLate(run: WatchedRun, deadlineMs: number): boolean {
  if (NOT_SUCCEEDED_STATUSES.includes(run.status)) return true;
  if (run.status !== 'succeeded' || run.finishedAt === null) return false;
  return run.finishedAt.getTime() > run.interval.end.getTime() + deadlineMs;
}

/** How long a claim may wait for its raising before the sweep takes it as cut short (a crash). */
export const UNANNOUNCED_GRACE_MS = 5 * 60_000;

/** Claims one sweep reads at most; the rest are the next sweep's. */
export const MAX_UNANNOUNCED_PER_SWEEP = 500;

/**
 * The alerts claimed more than `graceMs` before `now` and never raised (a crash, or a store error,
 * between a claim's commit and its raising: a planning's skip, a deadline check's late intervals),
 * one per job and kind, its ranges oldest first: raise each (the raiser records it as announced).
 * A late alert carries its job's deadline (`deadlineOf`) when the job is still defined here.
 * @default graceMs UNANNOUNCED_GRACE_MS
 */
export async function unannouncedAlerts(
  alerts: AlertStore,
  deadlineOf: (jobId: string) => number | undefined,
  now: Date,
  graceMs: number = UNANNOUNCED_GRACE_MS,
): Promise<Alert[]> {
  const claims = await alerts.unannounced(new Date(now.getTime() - graceMs), MAX_UNANNOUNCED_PER_SWEEP);
  const byAlert = new Map<string, AlertRecord[]>();
  for (const claim of claims) {
    const key = `${claim.jobId}\u0000${claim.kind}`;
    byAlert.set(key, [...(byAlert.get(key) ?? []), claim]);
  }
  return [...byAlert.values()].map((group): Alert => {
    const { jobId, kind } = group[0]!;
    const ranges = group
      .map(({ start, end, intervals }) => ({ start, end, intervals }))
      .sort((a, b) => a.start.getTime() - b.start.getTime());
    const raisedAt = new Date(Math.min(...group.map((claim) => claim.raisedAt.getTime())));
    const deadlineMs = kind === 'late' ? deadlineOf(jobId) : undefined;
    return { kind, jobId, ranges, raisedAt, ...(deadlineMs === undefined ? {} : { deadlineMs }) };
  });
}
