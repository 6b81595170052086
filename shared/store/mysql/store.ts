/** The MySQL state store: the shared SQL store on a mysql2 pool. */
import mysql from 'mysql2/promise';
import { createSqlStateStore, type SqlStoreDialect } from '../sql-store.ts';
import type { RequeuePolicy, StateStore } from '../types.ts';
import { dsnTarget, parseMysqlDsn } from './dsn.ts';
import { migrateUnderLock } from './migration-lock.ts';
import { MysqlPoolDatabase } from './pool-database.ts';
import {
  DEFAULT_QUERY_TIMEOUT_SECONDS,
  type MysqlConnectionOptions,
  mysqlPoolOptions,
} from './pool-options.ts';
import { serverVersionOf, sessionSetup } from './session.ts';

/** Options of {@link openMysqlStore}: where to connect, and the store's clock and requeue policy. */
export interface MysqlStoreOptions extends MysqlConnectionOptions {
  /** Clock for `created_at` / `updated_at`. @default () => new Date() */
  readonly clock?: () => Date;
  /** How often and how late a run is requeued before it is failed. @default DEFAULT_REQUEUE_POLICY */
  readonly requeuePolicy?: RequeuePolicy;
}

const MYSQL_DIALECT: SqlStoreDialect = {
  insertIgnore: 'INSERT IGNORE',
  greatest: 'GREATEST',
  least: 'LEAST',
  // DATETIME(3) values: the difference in microseconds is exact; whole milliseconds divide it.
  msBetween: (from, to) => `(TIMESTAMPDIFF(MICROSECOND, ${from}, ${to}) DIV 1000)`,
  forUpdate: ' FOR UPDATE',
  // Takes an exclusive lock on an existing row (INSERT IGNORE would take a shared one).
  createJob:
    'INSERT INTO piko_jobs (job_id, watermark, paused, skipped_total, updated_at) VALUES (?, ?, 0, 0, ?) ' +
    'ON DUPLICATE KEY UPDATE job_id = job_id',
  packetLimit: 'SELECT @@max_allowed_packet AS bytes',
};

/**
 * Opens the MySQL state store on a mysql2 pool. Connections are created lazily; each runs in UTC
 * (`time_zone = '+00:00'`) with READ COMMITTED transactions. Hot paths use `query` (no prepared
 * statements, which pin RDS Proxy connections).
 */
export async function openMysqlStore(options: MysqlStoreOptions): Promise<StateStore> {
  const dsn = parseMysqlDsn(options.dsn);
  // Several statements in one round trip: the group commit's (`sql/group-commit.ts`). Every value
  // is still escaped by the driver; no statement of the store is built from unescaped input.
  const pool = mysql.createPool({ ...(await mysqlPoolOptions(options)), multipleStatements: true });
  const database = new MysqlPoolDatabase(pool, {
    target: dsnTarget(dsn),
    queryTimeoutMs: (options.queryTimeoutSeconds ?? DEFAULT_QUERY_TIMEOUT_SECONDS) * 1000,
  });
  pool.pool.on('connection', (connection) => {
    for (const statement of sessionSetup(serverVersionOf(connection))) {
      connection.query(statement, (error: unknown) => {
        if (error) connection.destroy();
      });
    }
  });
  const clock = options.clock ?? (() => new Date());
  return createSqlStateStore({
    kind: 'mysql',
    dialect: MYSQL_DIALECT,
    database,
    clock,
    requeuePolicy: options.requeuePolicy,
    migrate: () => migrateUnderLock(database, dsn.database, clock),
    close: () => database.close(),
  });
}
