/** Operator actions on runs (DESIGN.md §8): cancel, and mark succeeded or skipped without running. */
import { StoreError } from '../../errors.ts';
import { checkRunId } from './checks.ts';
import type { SqlContext } from './dialect.ts';
import { chunks, placeholders, runsById } from './lists.ts';

/** Cancels a job's pending, queued and running runs among `runIds`; returns how many. */
export async function cancelRuns(ctx: SqlContext, jobId: string, runIds: readonly number[]): Promise<number> {
  runIds.forEach(checkRunId);
  const now = ctx.clock();
  let cancelled = 0;
  for (const ids of chunks(runIds)) {
    // The execution name stays: the stage runner of a running run polls its row, sees `cancelled`
    // and aborts its handler; its later updates are refused by status, not by owner.
    const { affectedRows } = await ctx.db.query(
      `UPDATE ${runsById(ctx.db.dialect)} SET status = 'cancelled', finished_at = ?, not_before = NULL, updated_at = ? ` +
        `WHERE job_id = ? AND status IN ('pending', 'queued', 'running') AND run_id IN (${placeholders(ids.length)})`,
      [now, now, jobId, ...ids],
    );
    cancelled += affectedRows;
  }
  return cancelled;
}

/**
 * Marks a job's pending, failed, cancelled (and, as succeeded, skipped) runs among `runIds` as
 * `status`; returns how many. Queued, running and succeeded runs are left alone.
 */
export async function markRuns(
  ctx: SqlContext,
  jobId: string,
  runIds: readonly number[],
  status: 'succeeded' | 'skipped',
): Promise<number> {
  runIds.forEach(checkRunId);
  if (status !== 'succeeded' && status !== 'skipped') {
    throw new StoreError(`A run can be marked succeeded or skipped, not "${String(status)}".`);
  }
  const now = ctx.clock();
  let marked = 0;
  for (const ids of chunks(runIds)) {
    const { affectedRows } = await ctx.db.query(
      `UPDATE ${runsById(ctx.db.dialect)} SET status = ?, error = NULL, execution_name = NULL, not_before = NULL, ` +
        'finished_at = ?, updated_at = ? ' +
        `WHERE job_id = ? AND status IN ('pending', 'failed', 'cancelled', 'skipped') AND status <> ? AND run_id IN (${placeholders(ids.length)})`,
      [status, now, now, jobId, status, ...ids],
    );
    marked += affectedRows;
  }
  return marked;
}
