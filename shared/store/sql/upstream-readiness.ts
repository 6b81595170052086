/**
 * Runs that wait for their upstream jobs (DESIGN.md §9): releasing the ready ones, finding and
 * failing those waiting too long, and the average run time a backfill estimate reads.
 */
import type { SqlDatabase } from '../../sql.ts';
import type { RunRecord } from '../types.ts';
import { checkCount, checkJobId, checkRunId, truncateError } from './checks.ts';
import type { SqlContext, SqlStoreDialect } from './dialect.ts';
import { chunks, placeholders } from './lists.ts';
import { RUN_COLUMNS, toDate, toRunRecord } from './rows.ts';

/**
 * The condition that the upstream job `?` is ready for the waiting run `d` (three parameters: the
 * upstream's id, three times). Its succeeded runs must cover every instant of `d`'s interval from
 * the upstream's first run on (before it, the upstream had no interval): the sum of their overlaps
 * with `d`, in ms, reaches the length of that part. Upstream intervals never overlap each other, so
 * the sum counts each instant once. Both reads stay on the `(job_id, interval_start)` index: the
 * overlapping runs start at or after the latest upstream run that starts at or before `d`'s start.
 */
function upstreamCovers(dialect: SqlStoreDialect): string {
  const { greatest, least, msBetween } = dialect;
  const overlap = msBetween(
    `${greatest}(u.interval_start, d.interval_start)`,
    `${least}(u.interval_end, d.interval_end)`,
  );
  return (
    `(SELECT COALESCE(SUM(${overlap}), 0) FROM piko_runs u ` +
    "WHERE u.job_id = ? AND u.status = 'succeeded' " +
    'AND u.interval_start < d.interval_end AND u.interval_end > d.interval_start ' +
    'AND u.interval_start >= COALESCE((SELECT MAX(x.interval_start) FROM piko_runs x ' +
    'WHERE x.job_id = ? AND x.interval_start <= d.interval_start), d.interval_start)) >= ' +
    `COALESCE(${msBetween(
      `${greatest}(d.interval_start, (SELECT MIN(f.interval_start) FROM piko_runs f WHERE f.job_id = ?))`,
      'd.interval_end',
    )}, 0)`
  );
}

/**
 * Makes `pending` up to `limit` of the job's `waiting` runs (oldest first) whose every upstream is
 * ready: its watermark is at or after the run's interval end, and {@link upstreamCovers}. An
 * upstream with no job row yet has planned nothing: nothing is released. Returns how many.
 */
export async function releaseReadyRuns(
  ctx: SqlContext,
  jobId: string,
  upstreams: readonly string[],
  limit: number,
): Promise<number> {
  checkCount('limit', limit);
  upstreams.forEach(checkJobId);
  if (upstreams.length === 0 || limit === 0) return 0;
  const { rows: marks } = await ctx.db.query(
    `SELECT job_id, watermark FROM piko_jobs WHERE job_id IN (${placeholders(upstreams.length)})`,
    [...upstreams],
  );
  if (marks.length < new Set(upstreams).size) return 0;
  // Only runs every upstream has planned through can be ready: a bound on the index, not only a filter.
  const through = Math.min(...marks.map((row) => toDate(row.watermark).getTime()));
  const until = new Date(through);
  const covers = upstreamCovers(ctx.dialect);
  const { rows } = await ctx.db.query(
    "SELECT d.run_id FROM piko_runs d WHERE d.job_id = ? AND d.status = 'waiting' " +
      'AND d.interval_start < ? AND d.interval_end <= ? ' +
      upstreams.map(() => `AND ${covers} `).join('') +
      'ORDER BY d.interval_start LIMIT ?',
    [jobId, until, until, ...upstreams.flatMap((id) => [id, id, id]), limit],
  );
  const ids = rows.map((row) => Number(row.run_id));
  const now = ctx.clock();
  let released = 0;
  for (const slice of chunks(ids)) {
    const { affectedRows } = await ctx.db.query(
      "UPDATE piko_runs SET status = 'pending', updated_at = ? " +
        `WHERE job_id = ? AND status = 'waiting' AND run_id IN (${placeholders(slice.length)})`,
      [now, jobId, ...slice],
    );
    released += affectedRows;
  }
  return released;
}

/** Up to `limit` of the job's `waiting` runs whose interval ended before `endedBefore`, oldest first. */
export async function waitingRunsEndedBefore(
  db: SqlDatabase,
  jobId: string,
  endedBefore: Date,
  limit: number,
): Promise<RunRecord[]> {
  checkCount('limit', limit);
  if (limit === 0) return [];
  const { rows } = await db.query(
    `SELECT ${RUN_COLUMNS} FROM piko_runs WHERE job_id = ? AND status = 'waiting' AND interval_end < ? ` +
      'ORDER BY interval_start LIMIT ?',
    [jobId, endedBefore, limit],
  );
  return rows.map(toRunRecord);
}

/** Fails `waiting` runs of the job, each with its message; runs no longer waiting are left alone. */
export async function failWaitingRuns(
  ctx: SqlContext,
  jobId: string,
  failures: readonly { readonly runId: number; readonly error: string }[],
): Promise<number> {
  const now = ctx.clock();
  let failed = 0;
  for (const { runId, error } of failures) {
    checkRunId(runId);
    const { affectedRows } = await ctx.db.query(
      "UPDATE piko_runs SET status = 'failed', error = ?, finished_at = ?, updated_at = ? " +
        "WHERE job_id = ? AND run_id = ? AND status = 'waiting'",
      [truncateError(error), now, now, jobId, runId],
    );
    failed += affectedRows;
  }
  return failed;
}

/**
 * The average start-to-finish time of the job's `sample` most recently finished succeeded runs, in
 * ms (on the `(job_id, status, finished_at)` index); undefined when none has succeeded.
 */
export async function averageRunMs(
  db: SqlDatabase,
  dialect: SqlStoreDialect,
  jobId: string,
  sample: number,
): Promise<number | undefined> {
  checkCount('sample', sample);
  const { rows } = await db.query(
    `SELECT AVG(${dialect.msBetween('r.started_at', 'r.finished_at')}) AS ms FROM (` +
      "SELECT started_at, finished_at FROM piko_runs WHERE job_id = ? AND status = 'succeeded' " +
      'AND started_at IS NOT NULL AND finished_at IS NOT NULL ORDER BY finished_at DESC LIMIT ?) r',
    [jobId, sample],
  );
  const ms = rows[0]?.ms;
  return ms === null || ms === undefined ? undefined : Number(ms);
}
