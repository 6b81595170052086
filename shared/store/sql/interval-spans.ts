/**
 * The interval grid's reads (issue 13): a job's runs over a range, adjacent runs of one status
 * merged in SQL, so a year of minutely intervals comes back as a few spans instead of 500,000 rows;
 * and, for a range holding more spans than a page can show, counts per status and time bucket.
 */
import { StoreError } from '../../errors.ts';
import type { SqlDatabase } from '../../sql.ts';
import { RUN_STATUSES, type RunBucket, type RunSpan } from '../types.ts';
import { checkCount, checkDate } from './checks.ts';
import { toDate, toRunStatus } from './rows.ts';

/**
 * Islands of runs on SQLite, without a sort: a run ends its span when the run of the next interval
 * (the one starting at its end, found through the unique index) is missing or has another status.
 * The span then starts at the first run after the previous span's last run (`prev_last`, a seek),
 * and its count is an index-only range count. The one window function runs over the span ends only.
 * Parameters, in order: job (count), job (start), the instant before `from` (the first span's
 * `prev_last`), `to` (the next run must be in range), job, from, to (the runs), the limit.
 */
const SQLITE_SPANS_SQL = `SELECT spans.status, spans.span_start, spans.span_end,
  (SELECT COUNT(*) FROM piko_runs c WHERE c.job_id = ? AND c.interval_start >= spans.span_start
     AND c.interval_start <= spans.last_start) AS runs
FROM (
  SELECT ends.status, ends.interval_start AS last_start, ends.interval_end AS span_end,
    (SELECT MIN(s.interval_start) FROM piko_runs s WHERE s.job_id = ? AND s.interval_start > ends.prev_last)
      AS span_start
  FROM (
    SELECT e.status, e.interval_start, e.interval_end,
      COALESCE(LAG(e.interval_start) OVER (ORDER BY e.interval_start), ?) AS prev_last
    FROM (
      SELECT r.status, r.interval_start, r.interval_end
      FROM piko_runs r
      LEFT JOIN piko_runs n ON n.job_id = r.job_id AND n.interval_start = r.interval_end AND n.interval_start < ?
      WHERE r.job_id = ? AND r.interval_start >= ? AND r.interval_start < ?
        AND (n.status IS NULL OR n.status <> r.status)
    ) e
  ) ends
  ORDER BY ends.interval_start
  LIMIT ?
) spans
ORDER BY spans.span_start`;

/**
 * Islands of runs on MySQL, in one ordered pass: MySQL and MariaDB run a subquery that refers to
 * the outer row by scanning all of the job's index entries for each outer row, so the SQLite form
 * would take quadratic time there. A run ends its span when the next run (`LEAD`) has another
 * status or does not start at its end; the span starts where the previous end's next run starts
 * (the first span at the first run), and holds the runs numbered since the previous end.
 * Parameters: job, from (the first run), job, from, to (the runs), the limit.
 */
const MYSQL_SPANS_SQL = `SELECT spans.status, spans.span_start, spans.span_end, spans.runs
FROM (
  SELECT ends.status, ends.interval_end AS span_end,
    COALESCE(LAG(ends.next_start) OVER (ORDER BY ends.interval_start),
      (SELECT MIN(f.interval_start) FROM piko_runs f WHERE f.job_id = ? AND f.interval_start >= ?)) AS span_start,
    ends.rn - COALESCE(LAG(ends.rn) OVER (ORDER BY ends.interval_start), 0) AS runs
  FROM (
    SELECT marked.status, marked.interval_start, marked.interval_end, marked.rn, marked.next_start
    FROM (
      SELECT status, interval_start, interval_end,
        ROW_NUMBER() OVER w AS rn, LEAD(status) OVER w AS next_status, LEAD(interval_start) OVER w AS next_start
      FROM piko_runs WHERE job_id = ? AND interval_start >= ? AND interval_start < ?
      WINDOW w AS (ORDER BY interval_start)
    ) marked
    WHERE marked.next_status IS NULL OR marked.next_status <> marked.status OR marked.next_start <> marked.interval_end
  ) ends
) spans
ORDER BY spans.span_start
LIMIT ?`;

/**
 * MariaDB keeps a query's temporary tables in memory only up to 16 MiB by default, and a year of
 * minutely runs sorted for a window is several times that: on disk the pass takes seconds. The
 * statement raises the limit for itself only (MySQL 8's TempTable engine needs no such hint).
 */
const MARIADB_MEMORY = 'SET STATEMENT tmp_table_size = 268435456, max_heap_table_size = 268435456 FOR ';
const mariadb = new WeakMap<SqlDatabase, Promise<boolean>>();

/** The statement prefix that sizes a heavy read's memory on this database. */
async function memoryPrefix(db: SqlDatabase): Promise<string> {
  if (db.dialect !== 'mysql') return '';
  let isMariadb = mariadb.get(db);
  if (!isMariadb) {
    isMariadb = db
      .query('SELECT VERSION() AS version')
      .then(({ rows }) => /mariadb/i.test(String(rows[0]?.version)));
    mariadb.set(db, isMariadb);
  }
  return (await isMariadb) ? MARIADB_MEMORY : '';
}

/** The bucket of a run's start, as an integer: SQLite stores epoch milliseconds, MySQL DATETIME(3). */
const BUCKET_EXPRESSION = {
  sqlite: '(interval_start - CAST(? AS INTEGER)) / CAST(? AS INTEGER)',
  mysql: 'TIMESTAMPDIFF(MICROSECOND, ?, interval_start) DIV (? * 1000)',
} as const;

/**
 * Bucket counts on MySQL from `piko_runs_lane` (job, status, backfill, start) alone, without a row:
 * the scheduled lane (no backfill) is one range per status; backfills' runs are scanned in the index
 * by status and filtered by start. Parameters: from, bucket ms, job, the statuses, from, to (the
 * lane), from, bucket ms, job, the statuses, from, to (backfills).
 */
function mysqlBucketsSql(statuses: number): string {
  const part = (lane: string) =>
    `SELECT ${BUCKET_EXPRESSION.mysql} AS bucket, status, COUNT(*) AS runs FROM piko_runs FORCE INDEX (piko_runs_lane) ` +
    `WHERE job_id = ? AND status IN (${Array(statuses).fill('?').join(', ')}) AND ${lane} ` +
    'AND interval_start >= ? AND interval_start < ? GROUP BY status, bucket';
  return (
    `SELECT bucket, status, SUM(runs) AS runs FROM (${part('backfill_id IS NULL')} UNION ALL ` +
    `${part('backfill_id IS NOT NULL')}) parts GROUP BY bucket, status ORDER BY bucket, status`
  );
}

/** Bucket counts on SQLite: one pass over the job's runs in range. Parameters: from, bucket ms, job, from, to. */
const SQLITE_BUCKETS_SQL =
  `SELECT ${BUCKET_EXPRESSION.sqlite} AS bucket, status, COUNT(*) AS runs FROM piko_runs ` +
  'WHERE job_id = ? AND interval_start >= ? AND interval_start < ? GROUP BY bucket, status ORDER BY bucket, status';

/**
 * Bucket counts on SQLite without sorting the runs: SQLite seeks a correlated subquery's range in
 * the index, so the scheduled lane is one index-only range count per bucket and status (no temporary
 * table of every run); backfills' runs, few, are grouped as they are. Parameters: the bucket count,
 * the statuses, job, from, bucket ms, from, bucket ms, to (the lane), from, bucket ms, job, from, to.
 */
function sqliteLaneBucketsSql(statuses: number): string {
  return `WITH RECURSIVE buckets(k) AS (SELECT 0 UNION ALL SELECT k + 1 FROM buckets WHERE k + 1 < ?),
statuses(status) AS (VALUES ${Array(statuses).fill('(?)').join(', ')})
SELECT bucket, status, SUM(runs) AS runs FROM (
  SELECT buckets.k AS bucket, statuses.status AS status,
    (SELECT COUNT(*) FROM piko_runs INDEXED BY piko_runs_lane
      WHERE job_id = ? AND status = statuses.status AND backfill_id IS NULL
        AND interval_start >= CAST(? AS INTEGER) + buckets.k * CAST(? AS INTEGER)
        AND interval_start < MIN(CAST(? AS INTEGER) + (buckets.k + 1) * CAST(? AS INTEGER), CAST(? AS INTEGER))) AS runs
  FROM buckets, statuses
  UNION ALL
  SELECT ${BUCKET_EXPRESSION.sqlite} AS bucket, status, COUNT(*) AS runs FROM piko_runs
    WHERE job_id = ? AND backfill_id IS NOT NULL AND interval_start >= ? AND interval_start < ? GROUP BY bucket, status
) WHERE runs > 0 GROUP BY bucket, status ORDER BY bucket, status`;
}

/** Buckets counted one by one (SQLite) only up to this many: beyond, one pass over the runs costs less. */
const MAX_SEEKED_BUCKETS = 5_000;

/**
 * The job's runs with `from <= interval.start < to` as spans of adjacent runs of one status, oldest
 * first, at most `limit` (the first ones). See {@link StateStore.intervalSpans}.
 */
export async function selectIntervalSpans(
  db: SqlDatabase,
  jobId: string,
  range: { readonly from: Date; readonly to: Date },
  limit: number,
): Promise<RunSpan[]> {
  checkRange(range);
  checkCount('limit', limit);
  if (limit === 0) return [];
  const { from, to } = range;
  const { rows } =
    db.dialect === 'mysql'
      ? await db.query(`${await memoryPrefix(db)}${MYSQL_SPANS_SQL}`, [jobId, from, jobId, from, to, limit])
      : // The first span starts at the first run in range: after the instant just before `from`.
        await db.query(SQLITE_SPANS_SQL, [
          jobId,
          jobId,
          new Date(from.getTime() - 1),
          to,
          jobId,
          from,
          to,
          limit,
        ]);
  return rows.map((row) => ({
    status: toRunStatus(row.status),
    start: toDate(row.span_start),
    end: toDate(row.span_end),
    runs: Number(row.runs),
  }));
}

/**
 * Counts of the job's runs with `from <= interval.start < to` per time bucket of `bucketMs` and
 * status, oldest bucket first. See {@link StateStore.intervalBuckets}.
 */
export async function selectIntervalBuckets(
  db: SqlDatabase,
  jobId: string,
  range: { readonly from: Date; readonly to: Date },
  bucketMs: number,
): Promise<RunBucket[]> {
  checkRange(range);
  if (!Number.isSafeInteger(bucketMs) || bucketMs < 1) {
    throw new StoreError(`bucketMs must be a whole number of milliseconds >= 1, got ${bucketMs}.`);
  }
  const { from, to } = range;
  const { rows } =
    db.dialect === 'mysql'
      ? await db.query(`${await memoryPrefix(db)}${mysqlBucketsSql(RUN_STATUSES.length)}`, [
          ...[from, bucketMs, jobId, ...RUN_STATUSES, from, to],
          ...[from, bucketMs, jobId, ...RUN_STATUSES, from, to],
        ])
      : await sqliteBuckets(db, jobId, from, to, bucketMs);
  return rows.map((row) => ({
    index: Number(row.bucket),
    status: toRunStatus(row.status),
    runs: Number(row.runs),
  }));
}

/** SQLite's bucket counts: seeks per bucket when the buckets are few enough, else one pass. */
function sqliteBuckets(db: SqlDatabase, jobId: string, from: Date, to: Date, bucketMs: number) {
  const buckets = Math.ceil((to.getTime() - from.getTime()) / bucketMs);
  if (buckets === 0 || buckets > MAX_SEEKED_BUCKETS) {
    return db.query(SQLITE_BUCKETS_SQL, [from, bucketMs, jobId, from, to]);
  }
  return db.query(sqliteLaneBucketsSql(RUN_STATUSES.length), [
    ...[buckets, ...RUN_STATUSES, jobId, from, bucketMs, from, bucketMs, to],
    ...[from, bucketMs, jobId, from, to],
  ]);
}

function checkRange(range: { readonly from: Date; readonly to: Date }): void {
  checkDate('from', range.from);
  checkDate('to', range.to);
  if (range.from.getTime() > range.to.getTime()) {
    throw new StoreError(
      `The range ${range.from.toISOString()} → ${range.to.toISOString()} ends before it starts.`,
    );
  }
}
