/** Migrations on MySQL, under `GET_LOCK`: concurrent callers wait, one applies. */
import { createHash } from 'node:crypto';
import { StoreError } from '../../errors.ts';
import { applyMigrations } from '../migrations.ts';
import { TransactionDatabase } from './connection-database.ts';
import type { MysqlPoolDatabase } from './pool-database.ts';

/** How long `migrate()` waits for another process's migration to finish. */
const MIGRATION_LOCK_TIMEOUT_SECONDS = 300;
/** MySQL 5.7+ refuses `GET_LOCK` names longer than this. */
const MAX_LOCK_NAME_LENGTH = 64;

/** A lock name per database, so migrations of different databases on one server do not wait for each other. */
export function migrationLockName(database: string): string {
  const name = `piko_migrate:${database}`;
  if (name.length <= MAX_LOCK_NAME_LENGTH) return name;
  return `piko_migrate:${createHash('sha256').update(database).digest('hex').slice(0, 40)}`;
}

/**
 * Applies pending migrations of `database` on one dedicated connection holding `GET_LOCK`; the
 * connection is then closed (GET_LOCK pins an RDS Proxy connection: never give it back to the pool).
 */
export function migrateUnderLock(
  pool: MysqlPoolDatabase,
  database: string,
  clock: () => Date,
): Promise<{ applied: number[] }> {
  const lockName = migrationLockName(database);
  return pool.withOwnConnection(async (connection) => {
    // GET_LOCK waits up to its own timeout on purpose: no statement timeout shorter than it.
    const { rows } = await connection.run(
      'SELECT GET_LOCK(?, ?) AS locked',
      [lockName, MIGRATION_LOCK_TIMEOUT_SECONDS],
      (MIGRATION_LOCK_TIMEOUT_SECONDS + 30) * 1000,
    );
    if (Number(rows[0]?.locked) !== 1) {
      throw new StoreError(
        `Timed out after ${MIGRATION_LOCK_TIMEOUT_SECONDS} s waiting for the migration lock "${lockName}" on ` +
          `${pool.target}: another process is migrating, or died holding its connection.`,
      );
    }
    try {
      return await applyMigrations(new TransactionDatabase(connection), clock());
    } finally {
      await connection.run('DO RELEASE_LOCK(?)', [lockName]).catch(() => undefined);
    }
  });
}
