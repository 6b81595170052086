/**
 * The statements of `piko_alerts` and `piko_deadline_watch` (migration 8), one function each, in both
 * dialects. Row mapping and checks live in `../alerts.ts`; what is late is decided in `shared/alerts/`.
 */
import type { SqlDatabase, SqlRow } from '../../sql.ts';
import type { RunStatus } from '../types.ts';
import { CHUNK_SIZE, placeholders } from './lists.ts';

/**
 * The statuses of a run that has not succeeded and may still, or never will: past its deadline, such
 * a run is late. A succeeded run is late when it finished after its deadline; any other status (none
 * yet) is not judged.
 */
export const NOT_SUCCEEDED_STATUSES: readonly RunStatus[] = [
  'waiting',
  'pending',
  'queued',
  'running',
  'failed',
];

/** An alert's columns, as {@link selectAlerts} returns them. */
const ALERT_COLUMNS =
  'job_id, kind, interval_start, interval_end, intervals, raised_at, delivered_at, error, announced_at';

/** A range to claim. */
export interface AlertRowInput {
  readonly start: Date;
  readonly end: Date;
  readonly intervals: number;
}

/**
 * Locks the job's row for the rest of the transaction `db` belongs to (the planner's lock: racing
 * watchdogs take turns) and reads its watermark and pause flag; undefined when the job has no row.
 */
export async function lockJobForWatch(db: SqlDatabase, jobId: string): Promise<SqlRow | undefined> {
  const forUpdate = db.dialect === 'mysql' ? ' FOR UPDATE' : '';
  const { rows } = await db.query(`SELECT watermark, paused FROM piko_jobs WHERE job_id = ?${forUpdate}`, [
    jobId,
  ]);
  return rows[0];
}

/** How far the job's deadlines were checked (`checked_to`), or undefined before its first check. */
export async function selectCheckedTo(db: SqlDatabase, jobId: string): Promise<unknown> {
  const { rows } = await db.query('SELECT checked_to FROM piko_deadline_watch WHERE job_id = ?', [jobId]);
  return rows[0]?.checked_to;
}

/** Records how far the job's deadlines were checked; `exists` says whether its row is there already. */
export async function writeCheckedTo(
  db: SqlDatabase,
  jobId: string,
  checkedTo: Date,
  now: Date,
  exists: boolean,
): Promise<void> {
  if (exists) {
    await db.query('UPDATE piko_deadline_watch SET checked_to = ?, updated_at = ? WHERE job_id = ?', [
      checkedTo,
      now,
      jobId,
    ]);
  } else {
    await db.query('INSERT INTO piko_deadline_watch (job_id, checked_to, updated_at) VALUES (?, ?, ?)', [
      jobId,
      checkedTo,
      now,
    ]);
  }
}

/**
 * The job's scheduled runs with `from <= interval_start < to`, oldest first, at most `limit`, with
 * their status and finish time: a range scan of `piko_runs_job_interval` over the intervals whose
 * deadline passed since the last check. Backfill and manual runs are re-runs an operator asked for,
 * not deadlines (their trigger is not `schedule`).
 */
export async function selectScheduledRuns(
  db: SqlDatabase,
  jobId: string,
  from: Date,
  to: Date,
  limit: number,
): Promise<SqlRow[]> {
  const { rows } = await db.query(
    'SELECT interval_start, interval_end, status, finished_at FROM piko_runs WHERE job_id = ? ' +
      "AND interval_start >= ? AND interval_start < ? AND backfill_id IS NULL AND trigger_kind = 'schedule' " +
      'ORDER BY interval_start LIMIT ?',
    [jobId, from, to, limit],
  );
  return rows;
}

/**
 * Inserts one alert row per range, under `token`, ignoring ranges that have one already (the
 * primary key: job, kind, start); then reads back the ranges this token holds, which are the ones
 * this call claimed.
 */
export async function insertAlertClaims(
  db: SqlDatabase,
  jobId: string,
  kind: string,
  ranges: readonly AlertRowInput[],
  token: string,
  raisedAt: Date,
): Promise<SqlRow[]> {
  if (ranges.length === 0) return [];
  const insertIgnore = db.dialect === 'mysql' ? 'INSERT IGNORE' : 'INSERT OR IGNORE';
  for (let i = 0; i < ranges.length; i += CHUNK_SIZE) {
    const chunk = ranges.slice(i, i + CHUNK_SIZE);
    await db.query(
      `${insertIgnore} INTO piko_alerts (job_id, kind, interval_start, interval_end, intervals, claim_token, raised_at) ` +
        `VALUES ${chunk.map(() => '(?, ?, ?, ?, ?, ?, ?)').join(', ')}`,
      chunk.flatMap((range) => [jobId, kind, range.start, range.end, range.intervals, token, raisedAt]),
    );
  }
  const starts = ranges.map((range) => range.start.getTime());
  const first = new Date(Math.min(...starts));
  const last = new Date(Math.max(...starts));
  const { rows } = await db.query(
    'SELECT interval_start, interval_end, intervals FROM piko_alerts WHERE job_id = ? AND kind = ? ' +
      'AND interval_start >= ? AND interval_start <= ? AND claim_token = ? ORDER BY interval_start',
    [jobId, kind, first, last, token],
  );
  return rows;
}

/** Records that the alert rows of `starts` were announced (raised) at `announcedAt`. */
export async function updateAlertAnnounced(
  db: SqlDatabase,
  jobId: string,
  kind: string,
  starts: readonly Date[],
  announcedAt: Date,
): Promise<void> {
  for (let i = 0; i < starts.length; i += CHUNK_SIZE) {
    const chunk = starts.slice(i, i + CHUNK_SIZE);
    await db.query(
      'UPDATE piko_alerts SET announced_at = ? WHERE job_id = ? AND kind = ? AND announced_at IS NULL ' +
        `AND interval_start IN (${placeholders(chunk.length)})`,
      [announcedAt, jobId, kind, ...chunk],
    );
  }
}

/**
 * Alert rows of every job claimed before `before` and not announced yet, oldest claim first, at most
 * `limit` (on `piko_alerts_unannounced`).
 */
export async function selectUnannounced(db: SqlDatabase, before: Date, limit: number): Promise<SqlRow[]> {
  const { rows } = await db.query(
    `SELECT ${ALERT_COLUMNS} FROM piko_alerts WHERE announced_at IS NULL AND raised_at < ? ` +
      'ORDER BY raised_at, job_id, kind, interval_start LIMIT ?',
    [before, limit],
  );
  return rows;
}

/** Records the delivery (or the last error) of the alert rows of `starts`. */
export async function updateAlertDelivery(
  db: SqlDatabase,
  jobId: string,
  kind: string,
  starts: readonly Date[],
  deliveredAt: Date | null,
  error: string | null,
): Promise<void> {
  for (let i = 0; i < starts.length; i += CHUNK_SIZE) {
    const chunk = starts.slice(i, i + CHUNK_SIZE);
    await db.query(
      'UPDATE piko_alerts SET delivered_at = ?, error = ? WHERE job_id = ? AND kind = ? ' +
        `AND interval_start IN (${placeholders(chunk.length)})`,
      [deliveredAt, error, jobId, kind, ...chunk],
    );
  }
}

/**
 * A job's alert rows, oldest interval first (kinds interleaved), or newest first; at most `limit`.
 * @default limit every row
 */
export async function selectAlerts(
  db: SqlDatabase,
  jobId: string,
  newestFirst: boolean,
  limit?: number,
): Promise<SqlRow[]> {
  const order = newestFirst ? 'interval_start DESC, kind DESC' : 'interval_start, kind';
  const { rows } = await db.query(
    `SELECT ${ALERT_COLUMNS} FROM piko_alerts WHERE job_id = ? ORDER BY ${order}${limit === undefined ? '' : ' LIMIT ?'}`,
    limit === undefined ? [jobId] : [jobId, limit],
  );
  return rows;
}
