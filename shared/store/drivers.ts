/**
 * Which databases a process can open. What runs on AWS (the Lambdas, the Fargate image) gets
 * {@link MYSQL_DRIVERS}: MySQL only, so better-sqlite3 never reaches its bundle. The local runtime
 * and the CLI get `LOCAL_DRIVERS` (`./local.ts`), SQLite as well. Entry points choose; libraries
 * take the drivers they are given.
 */
import { ConfigError } from '../errors.ts';
import type { SqlDatabase } from '../sql.ts';
import { type MysqlIamAuthOptions, type MysqlSsl, openMysqlStore } from './mysql/index.ts';
import type { RequeuePolicy, StateStore } from './types.ts';

/** Where the state lives: MySQL when `mysqlDsn` is set, else a SQLite file. */
export interface StoreConfig {
  /** `mysql://user:password@host:port/database?ssl=true`. @default - SQLite */
  readonly mysqlDsn?: string;
  /** The SQLite file when no DSN is given. @default '.piko/piko.db' */
  readonly sqliteFile?: string;
  /** MySQL pool size (ignored by SQLite). @default 10 */
  readonly poolSize?: number;
  /** MySQL statement timeout in seconds (ignored by SQLite). @default 30 */
  readonly queryTimeoutSeconds?: number;
  /** MySQL IAM authentication (RDS Proxy / Aurora). @default - password auth */
  readonly iamAuth?: MysqlIamAuthOptions;
  /** MySQL TLS, overriding the DSN's `ssl` parameter. @default - the DSN's */
  readonly ssl?: MysqlSsl;
  /** Clock for `created_at` / `updated_at`. @default () => new Date() */
  readonly clock?: () => Date;
  /** How often and how late a run is requeued before it is failed. @default DEFAULT_REQUEUE_POLICY */
  readonly requeuePolicy?: RequeuePolicy;
  /** SQLite only: `PRAGMA quick_check` at open (see `SqliteStoreOptions.checkIntegrity`). @default true */
  readonly checkIntegrity?: boolean;
}

/** A bare database on a file (no state tables), closed by its user. */
export type ClosableSqlDatabase = SqlDatabase & { close(): Promise<void> };

/** The databases a process can open. */
export interface StoreDrivers {
  /** Opens the state store `config` names (not migrated: call `migrate()`). */
  openStore(config: StoreConfig): Promise<StateStore>;
  /**
   * Opens a SQLite file as a bare database, for `sqlPool()` without a MySQL DSN.
   * @default - none: the process cannot open SQLite (AWS)
   */
  readonly openSqliteDatabase?: (file: string) => ClosableSqlDatabase;
}

/** MySQL only: the drivers of everything that runs on AWS. */
export const MYSQL_DRIVERS: StoreDrivers = {
  openStore(config) {
    if (!config.mysqlDsn) {
      return Promise.reject(
        new ConfigError([
          'mysql.dsn is not set, but this process keeps its state in MySQL only (SQLite is for the local ' +
            'runtime and the CLI): set PIKO_MYSQL__DSN (the stack sets it on AWS)',
        ]),
      );
    }
    return openMysqlStore({
      dsn: config.mysqlDsn,
      poolSize: config.poolSize,
      queryTimeoutSeconds: config.queryTimeoutSeconds,
      iamAuth: config.iamAuth,
      ssl: config.ssl,
      clock: config.clock,
      requeuePolicy: config.requeuePolicy,
    });
  },
};
