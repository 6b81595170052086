/** Whole-table snapshots of the state store, to prove that a refused request wrote nothing. */
import Database from 'better-sqlite3';
import type { SqlDatabase } from '../../shared/sql.ts';

/** The tables Piko writes, in a fixed order. */
export const STATE_TABLES = ['piko_jobs', 'piko_runs', 'piko_backfills'] as const;

/** Every row of the state tables, ordered by primary key. */
export type StoreSnapshot = Record<(typeof STATE_TABLES)[number], unknown[]>;

const ORDER: Record<(typeof STATE_TABLES)[number], string> = {
  piko_jobs: 'job_id',
  piko_runs: 'run_id',
  piko_backfills: 'backfill_id',
};

/** Reads every state table through a `SqlDatabase` (the store's own). */
export async function snapshotDatabase(database: SqlDatabase): Promise<StoreSnapshot> {
  const snapshot = {} as StoreSnapshot;
  for (const table of STATE_TABLES) {
    snapshot[table] = (await database.query(`SELECT * FROM ${table} ORDER BY ${ORDER[table]}`)).rows;
  }
  return snapshot;
}

/**
 * Reads every state table of a SQLite file with a connection of its own, opened and closed here, so
 * another process (or an in-process CLI) can own the store in between. A missing file reads as empty.
 */
export function snapshotSqliteFile(file: string): StoreSnapshot {
  const snapshot = { piko_jobs: [], piko_runs: [], piko_backfills: [] } as StoreSnapshot;
  let db: Database.Database;
  try {
    db = new Database(file, { readonly: true, fileMustExist: true });
  } catch {
    return snapshot;
  }
  try {
    const tables = new Set(
      (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as { name: string }[]).map(
        (row) => row.name,
      ),
    );
    for (const table of STATE_TABLES) {
      if (tables.has(table))
        snapshot[table] = db.prepare(`SELECT * FROM ${table} ORDER BY ${ORDER[table]}`).all();
    }
  } finally {
    db.close();
  }
  return snapshot;
}
