/** The database server's clock, read for the planner's clock-skew check. */
import type { DatabaseClock } from '../types.ts';
import type { SqlContext } from './dialect.ts';
import { toDate } from './rows.ts';

/**
 * The database server's clock (MySQL `NOW(3)`) next to the store's own clock read at the same
 * moment; undefined on SQLite, whose clock is the process's own.
 */
export async function databaseClock(ctx: SqlContext): Promise<DatabaseClock | undefined> {
  const { db, clock } = ctx;
  if (db.dialect !== 'mysql') return undefined;
  const before = clock().getTime();
  const { rows } = await db.query('SELECT NOW(3) AS now');
  const after = clock().getTime();
  if (!rows.length) return undefined;
  // The middle of the round trip: the server read its clock somewhere in it.
  return { local: new Date((before + after) / 2), server: toDate(rows[0]!.now) };
}
