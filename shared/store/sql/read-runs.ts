/** Reading runs: one by id, a job's by range, counts per status and outdated, recent failures. */
import type { SqlDatabase } from '../../sql.ts';
import { RUN_STATUSES, type RunCounts, type RunRecord } from '../types.ts';
import { checkCount, checkDate, checkVersion } from './checks.ts';
import { RUN_COLUMNS, toRunRecord, toRunStatus } from './rows.ts';

/** One run by id. */
export async function getRun(db: SqlDatabase, runId: number): Promise<RunRecord | undefined> {
  // No row has it; and bound as a value, MySQL would read NaN or Infinity as a column name.
  if (!Number.isSafeInteger(runId) || runId < 1) return undefined;
  const { rows } = await db.query(`SELECT ${RUN_COLUMNS} FROM piko_runs WHERE run_id = ?`, [runId]);
  return rows.length ? toRunRecord(rows[0]!) : undefined;
}

/** Runs by id, in one statement (ids not found are missing from the answer). */
export async function getRuns(db: SqlDatabase, runIds: readonly number[]): Promise<Map<number, RunRecord>> {
  const { rows } = await db.query(
    `SELECT ${RUN_COLUMNS} FROM piko_runs WHERE run_id IN (${runIds.map(() => '?').join(', ')})`,
    runIds,
  );
  return new Map(rows.map((row) => [Number(row.run_id), toRunRecord(row)]));
}

/** A job's runs with `from <= interval.start < to`, oldest first. */
export async function runsInRange(
  db: SqlDatabase,
  jobId: string,
  from: Date,
  to: Date,
): Promise<RunRecord[]> {
  checkDate('from', from);
  checkDate('to', to);
  const { rows } = await db.query(
    `SELECT ${RUN_COLUMNS} FROM piko_runs WHERE job_id = ? AND interval_start >= ? AND interval_start < ? ` +
      'ORDER BY interval_start',
    [jobId, from, to],
  );
  return rows.map(toRunRecord);
}

/** A job's runs with `from <= interval.start < to`, oldest first (all when no range). */
export async function listRuns(
  db: SqlDatabase,
  jobId: string,
  range?: { from: Date; to: Date },
): Promise<RunRecord[]> {
  if (range) return runsInRange(db, jobId, range.from, range.to);
  const { rows } = await db.query(
    `SELECT ${RUN_COLUMNS} FROM piko_runs WHERE job_id = ? ORDER BY interval_start`,
    [jobId],
  );
  return rows.map(toRunRecord);
}

/** How many of the job's runs are in each status. */
export async function countRuns(db: SqlDatabase, jobId: string): Promise<RunCounts> {
  const { rows } = await db.query(
    'SELECT status, COUNT(*) AS n FROM piko_runs WHERE job_id = ? GROUP BY status',
    [jobId],
  );
  const counts = Object.fromEntries(RUN_STATUSES.map((status) => [status, 0])) as RunCounts;
  for (const row of rows) counts[toRunStatus(row.status)] = Number(row.n);
  return counts;
}

/**
 * How many of the job's succeeded runs were run by another version of its code than `version` (a
 * run of no version counts when `version` is given; with `version` null, every run of a version).
 */
export async function countOutdated(db: SqlDatabase, jobId: string, version: string | null): Promise<number> {
  checkVersion(version);
  // Two forms rather than a null-safe comparison, which the dialects spell differently (<=>, IS).
  const [versionSql, versionParams] =
    version === null
      ? ['code_version IS NOT NULL', []]
      : ['(code_version IS NULL OR code_version <> ?)', [version]];
  const { rows } = await db.query(
    `SELECT COUNT(*) AS n FROM piko_runs WHERE job_id = ? AND status = 'succeeded' AND ${versionSql}`,
    [jobId, ...versionParams],
  );
  return Number(rows[0]?.n ?? 0);
}

/** The job's most recent failed runs, newest (finish time) first. */
export async function recentFailures(db: SqlDatabase, jobId: string, limit: number): Promise<RunRecord[]> {
  checkCount('limit', limit);
  if (limit === 0) return [];
  const { rows } = await db.query(
    `SELECT ${RUN_COLUMNS} FROM piko_runs WHERE job_id = ? AND status = 'failed' ` +
      'ORDER BY finished_at DESC, run_id DESC LIMIT ?',
    [jobId, limit],
  );
  return rows.map(toRunRecord);
}
