import type { SqlDatabase, SqlDialect } from '../sql.ts';

/**
 * One numbered schema change, in both dialects. Compiled into the bundle (no SQL files to ship).
 *
 * MySQL DDL is not transactional: write each MySQL statement so that running it again after a
 * partial failure is harmless (`CREATE TABLE IF NOT EXISTS`, …). The SQL must be accepted by both
 * MariaDB 10.11 and MySQL 8.0 (Aurora MySQL 3).
 */
export interface Migration {
  /** 1, 2, 3, … in order; never renumber an applied migration. */
  readonly version: number;
  /** A short description, recorded in `piko_migrations`. */
  readonly name: string;
  readonly mysql: readonly string[];
  readonly sqlite: readonly string[];
}

/**
 * The table that records applied migrations. Created by the runner before anything else, so it
 * can tell what is applied.
 */
export const MIGRATIONS_TABLE: Readonly<Record<SqlDialect, string>> = {
  mysql: `CREATE TABLE IF NOT EXISTS piko_migrations (
  version INT NOT NULL PRIMARY KEY,
  name VARCHAR(200) NOT NULL,
  applied_at DATETIME(3) NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin`,
  sqlite: `CREATE TABLE IF NOT EXISTS piko_migrations (
  version INTEGER NOT NULL PRIMARY KEY,
  name TEXT NOT NULL,
  applied_at INTEGER NOT NULL
) STRICT`,
};

const MYSQL_TABLE_OPTIONS = 'ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin';

/**
 * Every migration, oldest first. Times are `DATETIME(3)` in UTC (MySQL) and epoch milliseconds
 * (SQLite); JSON values are stored as text in both, so they read back the same everywhere.
 *
 * Indexes of `piko_runs` and the queries they serve:
 * - `piko_runs_job_interval` (unique): one run per interval; a job's runs by range, oldest first.
 * - `piko_runs_lane`: pending / in-flight runs of a job's lane, oldest or newest first; counts per status.
 * - `piko_runs_execution`: the runs an execution owns.
 * - `piko_runs_failures`: a job's most recent failures.
 */
export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'jobs, runs and backfills',
    mysql: [
      `CREATE TABLE IF NOT EXISTS piko_jobs (
  job_id VARCHAR(64) NOT NULL PRIMARY KEY,
  watermark DATETIME(3) NOT NULL,
  paused TINYINT(1) NOT NULL DEFAULT 0,
  skipped_total BIGINT NOT NULL DEFAULT 0,
  updated_at DATETIME(3) NOT NULL
) ${MYSQL_TABLE_OPTIONS}`,
      `CREATE TABLE IF NOT EXISTS piko_runs (
  run_id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  job_id VARCHAR(64) NOT NULL,
  interval_start DATETIME(3) NOT NULL,
  interval_end DATETIME(3) NOT NULL,
  status VARCHAR(16) NOT NULL,
  trigger_kind VARCHAR(16) NOT NULL,
  stage VARCHAR(30) NULL,
  attempts INT NOT NULL DEFAULT 0,
  generation INT NOT NULL DEFAULT 0,
  execution_name VARCHAR(80) NULL,
  backfill_id VARCHAR(128) NULL,
  config MEDIUMTEXT NULL,
  error VARCHAR(1000) NULL,
  output MEDIUMTEXT NULL,
  created_at DATETIME(3) NOT NULL,
  updated_at DATETIME(3) NOT NULL,
  started_at DATETIME(3) NULL,
  finished_at DATETIME(3) NULL,
  UNIQUE KEY piko_runs_job_interval (job_id, interval_start),
  KEY piko_runs_lane (job_id, status, backfill_id, interval_start),
  KEY piko_runs_execution (execution_name),
  KEY piko_runs_failures (job_id, status, finished_at)
) ${MYSQL_TABLE_OPTIONS}`,
      `CREATE TABLE IF NOT EXISTS piko_backfills (
  backfill_id VARCHAR(128) NOT NULL PRIMARY KEY,
  job_id VARCHAR(64) NOT NULL,
  range_start DATETIME(3) NOT NULL,
  range_end DATETIME(3) NOT NULL,
  reprocess VARCHAR(16) NOT NULL,
  reverse_order TINYINT(1) NOT NULL,
  config MEDIUMTEXT NULL,
  cursor_at DATETIME(3) NOT NULL,
  status VARCHAR(16) NOT NULL,
  created_count BIGINT NOT NULL DEFAULT 0,
  rerun_count BIGINT NOT NULL DEFAULT 0,
  skipped_count BIGINT NOT NULL DEFAULT 0,
  created_at DATETIME(3) NOT NULL,
  updated_at DATETIME(3) NOT NULL,
  KEY piko_backfills_job (job_id, created_at)
) ${MYSQL_TABLE_OPTIONS}`,
    ],
    sqlite: [
      `CREATE TABLE piko_jobs (
  job_id TEXT NOT NULL PRIMARY KEY,
  watermark INTEGER NOT NULL,
  paused INTEGER NOT NULL DEFAULT 0,
  skipped_total INTEGER NOT NULL DEFAULT 0,
  updated_at INTEGER NOT NULL
) STRICT`,
      `CREATE TABLE piko_runs (
  run_id INTEGER PRIMARY KEY AUTOINCREMENT,
  job_id TEXT NOT NULL,
  interval_start INTEGER NOT NULL,
  interval_end INTEGER NOT NULL,
  status TEXT NOT NULL,
  trigger_kind TEXT NOT NULL,
  stage TEXT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  generation INTEGER NOT NULL DEFAULT 0,
  execution_name TEXT NULL,
  backfill_id TEXT NULL,
  config TEXT NULL,
  error TEXT NULL,
  output TEXT NULL,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  started_at INTEGER NULL,
  finished_at INTEGER NULL
) STRICT`,
      'CREATE UNIQUE INDEX piko_runs_job_interval ON piko_runs (job_id, interval_start)',
      'CREATE INDEX piko_runs_lane ON piko_runs (job_id, status, backfill_id, interval_start)',
      'CREATE INDEX piko_runs_execution ON piko_runs (execution_name)',
      'CREATE INDEX piko_runs_failures ON piko_runs (job_id, status, finished_at)',
      `CREATE TABLE piko_backfills (
  backfill_id TEXT NOT NULL PRIMARY KEY,
  job_id TEXT NOT NULL,
  range_start INTEGER NOT NULL,
  range_end INTEGER NOT NULL,
  reprocess TEXT NOT NULL,
  reverse_order INTEGER NOT NULL,
  config TEXT NULL,
  cursor_at INTEGER NOT NULL,
  status TEXT NOT NULL,
  created_count INTEGER NOT NULL DEFAULT 0,
  rerun_count INTEGER NOT NULL DEFAULT 0,
  skipped_count INTEGER NOT NULL DEFAULT 0,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
) STRICT`,
      'CREATE INDEX piko_backfills_job ON piko_backfills (job_id, created_at)',
    ],
  },
  {
    version: 2,
    name: 'requeue count and delay of runs',
    // One ALTER, atomic on MySQL 8.0 (no ADD COLUMN IF NOT EXISTS there): both columns or neither.
    mysql: [
      'ALTER TABLE piko_runs ADD COLUMN requeues INT NOT NULL DEFAULT 0, ADD COLUMN not_before DATETIME(3) NULL',
    ],
    sqlite: [
      'ALTER TABLE piko_runs ADD COLUMN requeues INTEGER NOT NULL DEFAULT 0',
      'ALTER TABLE piko_runs ADD COLUMN not_before INTEGER NULL',
    ],
  },
  {
    // A backfill's config override is kept once, in piko_backfills.config: its runs leave their own
    // config NULL and read the backfill's (the store resolves it). Runs written before held a copy of
    // it each (up to 8 KiB × every interval): drop the copies that equal their backfill's. A
    // backfill whose planning fails is marked 'failed' with its error (and resumes when run again).
    version: 3,
    name: 'backfill config stored once; backfill planning errors',
    mysql: [
      `UPDATE piko_runs SET config = NULL WHERE backfill_id IS NOT NULL AND config IS NOT NULL AND EXISTS
  (SELECT 1 FROM piko_backfills WHERE piko_backfills.backfill_id = piko_runs.backfill_id AND piko_backfills.config = piko_runs.config)`,
      // Last: MySQL 8 has no ADD COLUMN IF NOT EXISTS, and the UPDATE above is harmless to repeat.
      'ALTER TABLE piko_backfills ADD COLUMN error VARCHAR(1000) NULL',
    ],
    sqlite: [
      `UPDATE piko_runs SET config = NULL WHERE backfill_id IS NOT NULL AND config IS NOT NULL AND EXISTS
  (SELECT 1 FROM piko_backfills WHERE piko_backfills.backfill_id = piko_runs.backfill_id AND piko_backfills.config = piko_runs.config)`,
      'ALTER TABLE piko_backfills ADD COLUMN error TEXT NULL',
    ],
  },
  {
    // Which local runtime owns a workflow execution (DESIGN.md §8): one row per execution, held by
    // one process (host, pid, a token per runtime) until `expires_at`, renewed by its heartbeat.
    // Another runtime takes over only a lease that has expired, or whose holder is known dead.
    // See shared/store/leases.ts. On AWS, Step Functions owns executions: no rows are written there.
    // `piko_leases_holder` serves a runtime's heartbeat (renew what it holds); `piko_leases_expiry`
    // the pruning of rows long expired.
    version: 4,
    name: 'execution leases of local runtimes',
    mysql: [
      `CREATE TABLE IF NOT EXISTS piko_leases (
  job_id VARCHAR(64) NOT NULL,
  execution_name VARCHAR(80) NOT NULL,
  holder_host VARCHAR(255) NOT NULL,
  holder_pid INT NOT NULL,
  holder_token VARCHAR(64) NOT NULL,
  acquired_at DATETIME(3) NOT NULL,
  renewed_at DATETIME(3) NOT NULL,
  expires_at DATETIME(3) NOT NULL,
  ended_at DATETIME(3) NULL,
  PRIMARY KEY (job_id, execution_name),
  KEY piko_leases_holder (holder_token),
  KEY piko_leases_expiry (expires_at)
) ${MYSQL_TABLE_OPTIONS}`,
    ],
    sqlite: [
      `CREATE TABLE piko_leases (
  job_id TEXT NOT NULL,
  execution_name TEXT NOT NULL,
  holder_host TEXT NOT NULL,
  holder_pid INTEGER NOT NULL,
  holder_token TEXT NOT NULL,
  acquired_at INTEGER NOT NULL,
  renewed_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  ended_at INTEGER NULL,
  PRIMARY KEY (job_id, execution_name)
) STRICT`,
      'CREATE INDEX piko_leases_holder ON piko_leases (holder_token)',
      'CREATE INDEX piko_leases_expiry ON piko_leases (expires_at)',
    ],
  },
  {
    // The version of the job's code that last ran each run (`version` in defineJob, at most 100
    // characters); NULL for runs written before, and for jobs that declare none.
    version: 5,
    name: 'code version of runs',
    mysql: ['ALTER TABLE piko_runs ADD COLUMN code_version VARCHAR(100) NULL'],
    sqlite: ['ALTER TABLE piko_runs ADD COLUMN code_version TEXT NULL'],
  },
  {
    // What operators did (DESIGN.md §8): one row per action of the CLI, the web UI or `--aws`, with
    // who, why and when. `piko_actions_job` serves a job's history, newest first.
    version: 6,
    name: 'operator actions',
    mysql: [
      `CREATE TABLE IF NOT EXISTS piko_actions (
  action_id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  job_id VARCHAR(64) NOT NULL,
  kind VARCHAR(32) NOT NULL,
  target VARCHAR(200) NOT NULL,
  actor VARCHAR(200) NOT NULL,
  reason VARCHAR(1000) NULL,
  details TEXT NULL,
  created_at DATETIME(3) NOT NULL,
  KEY piko_actions_job (job_id, action_id)
) ${MYSQL_TABLE_OPTIONS}`,
    ],
    sqlite: [
      `CREATE TABLE piko_actions (
  action_id INTEGER PRIMARY KEY,
  job_id TEXT NOT NULL,
  kind TEXT NOT NULL,
  target TEXT NOT NULL,
  actor TEXT NOT NULL,
  reason TEXT NULL,
  details TEXT NULL,
  created_at INTEGER NOT NULL
) STRICT`,
      'CREATE INDEX piko_actions_job ON piko_actions (job_id, action_id)',
    ],
  },
  {
    // Deadline and skip alerts (DESIGN.md §9), each sent once (shared/store/alerts.ts): one row per
    // alerted range of a job's intervals, claimed before it is sent (the primary key refuses a second
    // claim of the same range), with its delivery. `piko_deadline_watch` is how far the watchdog has
    // checked each job's deadlines (intervals starting before `checked_to`), so a check reads only
    // the runs whose deadline passed since the last one.
    version: 8,
    name: 'alerts and deadline watch',
    mysql: [
      `CREATE TABLE IF NOT EXISTS piko_alerts (
  job_id VARCHAR(64) NOT NULL,
  kind VARCHAR(16) NOT NULL,
  interval_start DATETIME(3) NOT NULL,
  interval_end DATETIME(3) NOT NULL,
  intervals BIGINT NOT NULL,
  claim_token VARCHAR(64) NOT NULL,
  raised_at DATETIME(3) NOT NULL,
  delivered_at DATETIME(3) NULL,
  error VARCHAR(1000) NULL,
  PRIMARY KEY (job_id, kind, interval_start)
) ${MYSQL_TABLE_OPTIONS}`,
      `CREATE TABLE IF NOT EXISTS piko_deadline_watch (
  job_id VARCHAR(64) NOT NULL PRIMARY KEY,
  checked_to DATETIME(3) NOT NULL,
  updated_at DATETIME(3) NOT NULL
) ${MYSQL_TABLE_OPTIONS}`,
    ],
    sqlite: [
      `CREATE TABLE piko_alerts (
  job_id TEXT NOT NULL,
  kind TEXT NOT NULL,
  interval_start INTEGER NOT NULL,
  interval_end INTEGER NOT NULL,
  intervals INTEGER NOT NULL,
  claim_token TEXT NOT NULL,
  raised_at INTEGER NOT NULL,
  delivered_at INTEGER NULL,
  error TEXT NULL,
  PRIMARY KEY (job_id, kind, interval_start)
) STRICT`,
      `CREATE TABLE piko_deadline_watch (
  job_id TEXT NOT NULL PRIMARY KEY,
  checked_to INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
) STRICT`,
    ],
  },
  {
    // The ECS task that runs a run's current Fargate stage (its ARN, as the container read it from the
    // task metadata endpoint when the stage started; NULL for a Lambda stage and locally), so that
    // `piko cancel --aws` can stop it at once (ecs:StopTask) rather than at the stage's next cancel
    // poll. Task ARNs are `arn:<partition>:ecs:<region>:<account>:task/<cluster>/<id>`, the cluster
    // name at most 255 characters.
    version: 9,
    name: 'ECS task of runs',
    mysql: ['ALTER TABLE piko_runs ADD COLUMN task_arn VARCHAR(400) NULL'],
    sqlite: ['ALTER TABLE piko_runs ADD COLUMN task_arn TEXT NULL'],
  },
  {
    // A backfill's own concurrency (DESIGN.md §4): the MaxConcurrency of its executions; NULL for
    // the job's `concurrency` (and for backfills written before). Statuses `paused` and `cancelled`
    // need no change: the column is a VARCHAR(16).
    version: 10,
    name: 'backfill concurrency',
    mysql: ['ALTER TABLE piko_backfills ADD COLUMN concurrency INT NULL'],
    sqlite: ['ALTER TABLE piko_backfills ADD COLUMN concurrency INTEGER NULL'],
  },
  {
    // A `--downstream` backfill on AWS (DESIGN.md §9): the downstream backfills its upstream one
    // found stale before it was planned, and which of them the backfill state machine drives, as
    // JSON on the upstream backfill; on each downstream one, its upstream's id. NULL otherwise.
    version: 11,
    name: 'backfill downstream chain',
    mysql: ['ALTER TABLE piko_backfills ADD COLUMN chain MEDIUMTEXT NULL'],
    sqlite: ['ALTER TABLE piko_backfills ADD COLUMN chain TEXT NULL'],
  },
  {
    // Alerts raised at least once (an outbox, shared/alerts/watchdog.ts): when each claimed alert
    // was raised (its log line and metric written); NULL for a claim not raised yet, which a sweep
    // raises when a crash came between the claim and its raising. Alerts claimed before were raised
    // as they were claimed.
    version: 12,
    name: 'alerts announced',
    mysql: [
      'ALTER TABLE piko_alerts ADD COLUMN announced_at DATETIME(3) NULL',
      'UPDATE piko_alerts SET announced_at = raised_at',
      'CREATE INDEX piko_alerts_unannounced ON piko_alerts (announced_at, raised_at)',
    ],
    sqlite: [
      'ALTER TABLE piko_alerts ADD COLUMN announced_at INTEGER NULL',
      'UPDATE piko_alerts SET announced_at = raised_at',
      'CREATE INDEX piko_alerts_unannounced ON piko_alerts (announced_at, raised_at)',
    ],
  },
];

/**
 * Applies the migrations that `piko_migrations` does not list, oldest first, on `db`. The caller
 * holds the migration lock (and, in SQLite, the write transaction) for the whole call.
 */
export async function applyMigrations(
  db: SqlDatabase,
  now: Date,
  migrations: readonly Migration[] = MIGRATIONS,
): Promise<{ applied: number[] }> {
  await db.query(MIGRATIONS_TABLE[db.dialect]);
  const { rows } = await db.query('SELECT version FROM piko_migrations');
  const done = new Set(rows.map((row) => Number(row.version)));
  const applied: number[] = [];
  for (const migration of migrations) {
    if (done.has(migration.version)) continue;
    for (const statement of migration[db.dialect]) await db.query(statement);
    await db.query('INSERT INTO piko_migrations (version, name, applied_at) VALUES (?, ?, ?)', [
      migration.version,
      migration.name,
      now,
    ]);
    applied.push(migration.version);
  }
  return { applied };
}
