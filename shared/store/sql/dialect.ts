/**
 * The SQL statements of the state store, one group per file (graphile-worker's `src/sql/` is the
 * model): each exported function runs its statements on the {@link SqlContext} it is given and
 * knows nothing of pools or transactions. `../sql-store.ts` composes them into a `StateStore`.
 * These files import the store's types, `../owner.ts` and each other; never a driver.
 */
import { StoreError } from '../../errors.ts';
import type { SqlDatabase } from '../../sql.ts';

/** The few places where the two dialects' SQL differs. Everything else is shared. */
export interface SqlStoreDialect {
  /** `INSERT IGNORE` (MySQL) or `INSERT OR IGNORE` (SQLite). */
  readonly insertIgnore: string;
  /** The two-argument maximum function: `GREATEST` (MySQL) or `MAX` (SQLite). */
  readonly greatest: string;
  /** The two-argument minimum function: `LEAST` (MySQL) or `MIN` (SQLite). */
  readonly least: string;
  /** SQL for the milliseconds from time `from` to time `to` (two SQL expressions of time columns). */
  msBetween(from: string, to: string): string;
  /** Appended to a SELECT to lock its rows until the transaction ends; `''` when the transaction is exclusive anyway. */
  readonly forUpdate: string;
  /**
   * Creates a job row when missing, inside the current transaction, taking its row lock
   * (parameters: job id, watermark, updated at). Must not take a shared lock on an existing row:
   * two transactions upgrading shared locks to exclusive ones deadlock.
   */
  readonly createJob: string;
  /** A query answering the server's largest packet in bytes as column `bytes` (MySQL); none when unlimited. */
  readonly packetLimit?: string;
}

/** What a statement runs with. */
export interface SqlContext {
  /** The store's database, or the connection of the transaction the statement belongs to. */
  readonly db: SqlDatabase;
  readonly dialect: SqlStoreDialect;
  /** The store's clock, for `created_at` / `updated_at` and requeue delays. */
  readonly clock: () => Date;
}

/** What both dialects answer to a transaction started inside a transaction. */
export function nestedTransactionError(): StoreError {
  return new StoreError(
    'Nested transactions are not supported: use the database given to the outer transaction.',
  );
}
