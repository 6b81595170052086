/**
 * What holds a run back (DESIGN.md §8): its job paused; its backfill paused or cancelled. Correlated
 * conditions of a statement on `piko_runs`, part of the statements that queue and start runs, so a
 * pause committed under the job's row lock is always seen by the statement that would queue or
 * start one of its runs.
 */

/** The run's job is not paused. */
export const JOB_NOT_PAUSED =
  'NOT EXISTS (SELECT 1 FROM piko_jobs WHERE piko_jobs.job_id = piko_runs.job_id AND piko_jobs.paused <> 0)';

/** The run has no backfill, or its backfill is neither paused nor cancelled. */
export const BACKFILL_NOT_HELD =
  '(backfill_id IS NULL OR NOT EXISTS (SELECT 1 FROM piko_backfills WHERE ' +
  "piko_backfills.backfill_id = piko_runs.backfill_id AND piko_backfills.status IN ('paused', 'cancelled')))";
