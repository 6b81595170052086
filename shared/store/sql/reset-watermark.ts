/** Moving a job's watermark back after a clock ran ahead (`piko reset-watermark`). */
import type { JobState, RunRecord, WatermarkReset } from '../types.ts';
import { checkDate } from './checks.ts';
import type { SqlContext } from './dialect.ts';
import { chunks, placeholders, runsById } from './lists.ts';
import { RUN_COLUMNS, toRunRecord } from './rows.ts';

/**
 * Moves the locked job's watermark back to `to`: deletes the pending and queued runs of intervals
 * ending after `now`, keeps every other run and reports the kept ones after `now`. With `dryRun`,
 * changes nothing and reports the same.
 */
export async function resetWatermark(
  ctx: SqlContext,
  job: JobState,
  to: Date,
  now: Date,
  dryRun: boolean,
): Promise<WatermarkReset> {
  const { db } = ctx;
  checkDate('to', to);
  checkDate('now', now);
  const { rows } = await db.query(
    `SELECT ${RUN_COLUMNS} FROM piko_runs WHERE job_id = ? AND interval_end > ? ORDER BY interval_start`,
    [job.jobId, now],
  );
  const after = rows.map(toRunRecord);
  // Pending and queued runs never started a handler: gone, nothing of them has happened (a stage
  // event for a deleted queued run is refused). Running, succeeded and failed ones are kept.
  const notStarted = (run: RunRecord) => run.status === 'pending' || run.status === 'queued';
  const removed = after.filter(notStarted);
  const kept = after.filter((run) => !notStarted(run));
  if (!dryRun) {
    for (const ids of chunks(removed.map((run) => run.runId))) {
      await db.query(
        `DELETE FROM ${runsById(db.dialect, 'delete')} WHERE job_id = ? AND status IN ('pending', 'queued') AND run_id IN (${placeholders(ids.length)})`,
        [job.jobId, ...ids],
      );
    }
    await db.query('UPDATE piko_jobs SET watermark = ?, updated_at = ? WHERE job_id = ?', [
      to,
      now,
      job.jobId,
    ]);
  }
  return { jobId: job.jobId, from: job.watermark, to, removed, kept };
}
