/**
 * The state store (DESIGN.md §3): the `StateStore` interface and its types, the numbered
 * migrations, MySQL (`./mysql/`), the shared SQL (`./sql-store.ts`, `./sql/`) and the drivers a
 * process may open (`./drivers.ts`). Safe for every runtime, AWS included: SQLite is not exported
 * here but from `./local.ts`, which only the local runtime, the CLI and tests import. Imports
 * errors, telemetry, the interval and SQL types, and mysql2; never the planner.
 */
export {
  type ClosableSqlDatabase,
  MYSQL_DRIVERS,
  type StoreConfig,
  type StoreDrivers,
} from './drivers.ts';
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
export * from './types.ts';
