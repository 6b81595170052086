import { StoreError } from '../errors.ts';
import { type MysqlIamAuthOptions, type MysqlSsl, openMysqlStore } from './mysql/index.ts';
import { openSqliteStore } from './sqlite.ts';
import type { RequeuePolicy, StateStore } from './types.ts';

export { applyMigrations, MIGRATIONS, MIGRATIONS_TABLE, type Migration } from './migrations.ts';
export {
  createIamTokenProvider,
  IAM_TOKEN_REFRESH_MS,
  type IamTokenSigner,
  type MysqlDsn,
  type MysqlIamAuthOptions,
  type MysqlSsl,
  type MysqlStoreOptions,
  openMysqlStore,
  parseMysqlDsn,
  redactDsn,
} from './mysql/index.ts';
export { MAX_ERROR_LENGTH, truncateError } from './sql-store.ts';
export { DEFAULT_SQLITE_FILE, openSqliteStore, type SqliteStoreOptions, storeIdFile } from './sqlite.ts';
export * from './types.ts';

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
}

/** Opens the state store (not migrated: call `migrate()`): MySQL when a DSN is given, SQLite otherwise. */
export function openStore(config: StoreConfig = {}): Promise<StateStore> {
  if (config.mysqlDsn) {
    return openMysqlStore({
      dsn: config.mysqlDsn,
      poolSize: config.poolSize,
      queryTimeoutSeconds: config.queryTimeoutSeconds,
      iamAuth: config.iamAuth,
      ssl: config.ssl,
      clock: config.clock,
      requeuePolicy: config.requeuePolicy,
    });
  }
  if (config.iamAuth) {
    return Promise.reject(
      new StoreError('iamAuth is set but mysqlDsn is not: IAM authentication needs a MySQL DSN.'),
    );
  }
  return openSqliteStore({
    file: config.sqliteFile,
    clock: config.clock,
    requeuePolicy: config.requeuePolicy,
  });
}
