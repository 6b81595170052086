/** Reads of a job's runs by query: `piko runs`, the UI's pages, the run-duration metrics. */
import { StoreError } from '../../errors.ts';
import type { SqlDatabase } from '../../sql.ts';
import { RUN_STATUSES, type RunQuery, type RunRecord } from '../types.ts';
import { checkCount, checkDate } from './checks.ts';
import { RUN_COLUMNS, toRunRecord } from './rows.ts';

/** The job's runs matching `query`, by interval start. See {@link StateStore.findRuns}. */
export async function selectRuns(db: SqlDatabase, jobId: string, query: RunQuery): Promise<RunRecord[]> {
  checkCount('limit', query.limit);
  if (query.limit === 0) return [];
  const conditions = ['job_id = ?'];
  const params: unknown[] = [jobId];
  if (query.from !== undefined) {
    checkDate('from', query.from);
    conditions.push('interval_start >= ?');
    params.push(query.from);
  }
  if (query.to !== undefined) {
    checkDate('to', query.to);
    conditions.push('interval_start < ?');
    params.push(query.to);
  }
  if (query.statuses !== undefined) {
    const unknown = query.statuses.filter((status) => !RUN_STATUSES.includes(status));
    if (unknown.length > 0) {
      throw new StoreError(
        `Unknown run status(es) ${unknown.join(', ')}; expected ${RUN_STATUSES.join(', ')}.`,
      );
    }
    if (query.statuses.length === 0) return [];
    conditions.push(`status IN (${query.statuses.map(() => '?').join(', ')})`);
    params.push(...query.statuses);
  }
  if (query.backfillId === null) conditions.push('backfill_id IS NULL');
  else if (query.backfillId !== undefined) {
    conditions.push('backfill_id = ?');
    params.push(query.backfillId);
  }
  const { rows } = await db.query(
    `SELECT ${RUN_COLUMNS} FROM piko_runs WHERE ${conditions.join(' AND ')} ` +
      `ORDER BY interval_start ${query.newestFirst ? 'DESC' : 'ASC'} LIMIT ?`,
    [...params, query.limit],
  );
  return rows.map(toRunRecord);
}

/**
 * The job's runs that succeeded or failed after `after`, by finish time then run id, at most
 * `limit`. See {@link StateStore.runsFinishedAfter}.
 */
export async function selectRunsFinishedAfter(
  db: SqlDatabase,
  jobId: string,
  after: Date,
  limit: number,
): Promise<RunRecord[]> {
  checkDate('after', after);
  checkCount('limit', limit);
  if (limit === 0) return [];
  // One range per status on piko_runs_failures (job_id, status, finished_at).
  const { rows } = await db.query(
    `SELECT ${RUN_COLUMNS} FROM piko_runs WHERE job_id = ? AND status IN ('succeeded', 'failed') ` +
      'AND finished_at > ? ORDER BY finished_at, run_id LIMIT ?',
    [jobId, after, limit],
  );
  return rows.map(toRunRecord);
}
