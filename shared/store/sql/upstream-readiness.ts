/**
 * Runs that wait for their upstream jobs (DESIGN.md §9): releasing the ready ones, finding and
 * failing those waiting too long, and the average run time a backfill estimate reads.
 */
import type { SqlDatabase } from '../../sql.ts';
import type { RunRecord } from '../types.ts';
import { checkCount, checkJobId, checkRunId, truncateError } from './checks.ts';
import type { SqlContext, SqlStoreDialect } from './dialect.ts';
import { chunks, placeholders, runsById } from './lists.ts';
import { RUN_COLUMNS, toDate, toRunRecord } from './rows.ts';

/** Waiting runs one release looks at, at most (each costs one statement per upstream job). */
export const MAX_RUNS_CHECKED = 1_000;

/**
 * The milliseconds of `[start, end)` that the upstream job's succeeded runs cover. The runs that
 * overlap it start at or after the latest run that starts at or before `start`, so both reads are
 * ranges of the `(job_id, interval_start)` index with bounds given as values (a bound taken from an
 * outer row, in a correlated subquery, makes MariaDB scan every run of the job). Upstream runs never
 * overlap each other: their total length, less what the first sticks out before `start` and the last
 * after `end`, is what they cover.
 */
async function coveredMs(ctx: SqlContext, upstream: string, start: Date, end: Date): Promise<number> {
  const { rows } = await ctx.db.query(
    `SELECT MIN(interval_start) AS first_start, MAX(interval_end) AS last_end, ` +
      `COALESCE(SUM(${ctx.dialect.msBetween('interval_start', 'interval_end')}), 0) AS total FROM piko_runs ` +
      "WHERE job_id = ? AND status = 'succeeded' AND interval_start >= COALESCE((SELECT x.interval_start " +
      'FROM piko_runs x WHERE x.job_id = ? AND x.interval_start <= ? ORDER BY x.interval_start DESC LIMIT 1), ?) ' +
      'AND interval_start < ? AND interval_end > ?',
    [upstream, upstream, start, start, end, start],
  );
  const row = rows[0];
  if (!row || row.first_start === null || row.first_start === undefined) return 0;
  const before = Math.max(0, start.getTime() - toDate(row.first_start).getTime());
  const after = Math.max(0, toDate(row.last_end).getTime() - end.getTime());
  return Number(row.total) - before - after;
}

/**
 * Makes `pending` up to `limit` of the job's `waiting` runs (oldest first, of the first
 * {@link MAX_RUNS_CHECKED} whose upstream has planned through their end) whose every upstream is
 * ready: its watermark is at or after the run's interval end, and its succeeded runs cover every
 * instant of the run's interval from the upstream's first run on (before it, the upstream had no
 * interval). An upstream with no job row yet has planned nothing: nothing is released. Returns how many.
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
  const until = new Date(Math.min(...marks.map((row) => toDate(row.watermark).getTime())));
  const { rows: candidates } = await ctx.db.query(
    "SELECT run_id, interval_start, interval_end FROM piko_runs WHERE job_id = ? AND status = 'waiting' " +
      'AND interval_start < ? AND interval_end <= ? ORDER BY interval_start LIMIT ?',
    [jobId, until, until, Math.min(limit, MAX_RUNS_CHECKED)],
  );
  if (candidates.length === 0) return 0;
  const firstStarts = new Map<string, number>();
  for (const upstream of upstreams) {
    const { rows } = await ctx.db.query(
      'SELECT MIN(interval_start) AS first FROM piko_runs WHERE job_id = ?',
      [upstream],
    );
    const first = rows[0]?.first;
    firstStarts.set(
      upstream,
      first === null || first === undefined ? Number.POSITIVE_INFINITY : toDate(first).getTime(),
    );
  }
  const ids: number[] = [];
  for (const candidate of candidates) {
    const start = toDate(candidate.interval_start);
    const end = toDate(candidate.interval_end);
    let ready = true;
    for (const upstream of upstreams) {
      const from = Math.max(start.getTime(), firstStarts.get(upstream)!);
      if (from >= end.getTime()) continue;
      if ((await coveredMs(ctx, upstream, start, end)) < end.getTime() - from) {
        ready = false;
        break;
      }
    }
    if (ready) ids.push(Number(candidate.run_id));
  }
  const now = ctx.clock();
  let released = 0;
  for (const slice of chunks(ids)) {
    const { affectedRows } = await ctx.db.query(
      `UPDATE ${runsById(ctx.db.dialect)} SET status = 'pending', updated_at = ? ` +
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
