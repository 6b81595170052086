/**
 * The state store of the local runtime and the CLI: a SQLite file by default, MySQL when a DSN is
 * set. The only way into `./sqlite.ts` (and better-sqlite3) besides tests: nothing that runs on AWS
 * imports this module (see `./drivers.ts`).
 */
import { StoreError } from '../errors.ts';
import { MYSQL_DRIVERS, type StoreConfig, type StoreDrivers } from './drivers.ts';
import { openSqliteDatabase, openSqliteStore } from './sqlite.ts';
import type { StateStore } from './types.ts';

export { DEFAULT_SQLITE_FILE, openSqliteStore, type SqliteStoreOptions, storeIdFile } from './sqlite.ts';

/** Opens the state store (not migrated: call `migrate()`): MySQL when a DSN is given, SQLite otherwise. */
export function openStore(config: StoreConfig = {}): Promise<StateStore> {
  if (config.mysqlDsn) return MYSQL_DRIVERS.openStore(config);
  if (config.iamAuth) {
    return Promise.reject(
      new StoreError('iamAuth is set but mysqlDsn is not: IAM authentication needs a MySQL DSN.'),
    );
  }
  return openSqliteStore({
    file: config.sqliteFile,
    clock: config.clock,
    requeuePolicy: config.requeuePolicy,
    checkIntegrity: config.checkIntegrity,
  });
}

/** MySQL and SQLite: the drivers of the local runtime and the CLI. */
export const LOCAL_DRIVERS: StoreDrivers = { openStore, openSqliteDatabase };
