import type { SqlDialect } from '../../sql.ts';

/** Rows per multi-row INSERT, and ids per `IN (…)` list. */
export const CHUNK_SIZE = 1_000;

/** `items` in slices of {@link CHUNK_SIZE}. */
export function* chunks<T>(items: readonly T[]): Generator<T[]> {
  for (let i = 0; i < items.length; i += CHUNK_SIZE) yield items.slice(i, i + CHUNK_SIZE);
}

/** `?, ?, …`: `count` placeholders for an `IN (…)` list. */
export function placeholders(count: number): string {
  return Array(count).fill('?').join(', ');
}

/**
 * `piko_runs` as a statement that finds its rows by `run_id` names it, so that they are found by
 * their primary key: on MySQL `FORCE INDEX (PRIMARY)` (UPDATE only: a single-table DELETE takes no
 * hint), whose optimizer may pick a secondary index the other conditions match (job, status,
 * execution) and scan its range; on SQLite `NOT INDEXED` (the rowid is still used), whose planner,
 * without statistics, takes the job's status index over the rowid for `run_id IN (…)`: every
 * pending run of the job read for each chunk of ids, quadratic over a backfill.
 */
export function runsById(dialect: SqlDialect, statement: 'update' | 'delete' = 'update'): string {
  if (dialect === 'sqlite') return 'piko_runs NOT INDEXED';
  return statement === 'update' ? 'piko_runs FORCE INDEX (PRIMARY)' : 'piko_runs';
}
