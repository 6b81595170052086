/**
 * The one MySQL adapter: a mysql2 connection as a {@link SqlDatabase}. The state store runs every
 * statement and transaction on one (`pool-database.ts`), and `sqlPool()` lends one to each run.
 */
import type { PoolConnection, ResultSetHeader } from 'mysql2/promise';
import { StoreError, StoreUnavailableError } from '../../errors.ts';
import type { SqlDatabase, SqlRow } from '../../sql.ts';
import { nestedTransactionError } from '../sql/dialect.ts';
import { checkRowCounts, RowCountMismatchError, roundTrips } from '../sql/group-commit.ts';
import type { Statement } from '../sql/row-update.ts';
import { mysqlStoreError } from './driver-errors.ts';

/** How statements run on a MySQL connection. */
export interface MysqlStatementOptions {
  /** `host:port/database`, named in error messages. */
  readonly target: string;
  /**
   * Longest a statement may wait for its answer, in ms; past it the statement fails with a
   * {@link StoreUnavailableError} and the connection is no longer {@link MysqlConnectionDatabase.reusable}.
   * @default - no limit
   */
  readonly queryTimeoutMs?: number;
}

type QueryResult = { rows: SqlRow[]; affectedRows: number };

/**
 * One mysql2 connection over the {@link SqlDatabase} interface. Statements go through `query`
 * (no prepared statements, which pin RDS Proxy connections); driver errors become
 * {@link StoreError}s, {@link StoreUnavailableError} for a connection refused, lost or timed out.
 * `transaction` is `START TRANSACTION … COMMIT` on this connection, rolled back when `work` throws.
 */
export class MysqlConnectionDatabase implements SqlDatabase {
  readonly dialect = 'mysql' as const;
  readonly #connection: PoolConnection;
  readonly #options: MysqlStatementOptions;
  #reusable = true;
  #inTransaction = false;

  constructor(connection: PoolConnection, options: MysqlStatementOptions) {
    this.#connection = connection;
    this.#options = options;
  }

  /**
   * False once the connection was lost or timed out, or a rollback failed: it must be destroyed,
   * not given back to its pool (a statement may still be in flight; the server rolls back what was
   * open when the connection goes).
   */
  get reusable(): boolean {
    return this.#reusable;
  }

  query(sql: string, params: readonly unknown[] = []): Promise<QueryResult> {
    return this.run(sql, params);
  }

  /**
   * True when the connection was opened with `multipleStatements` (the state store's pool): a
   * group commit's statements go in one round trip ({@link writeBatch}).
   */
  get multipleStatements(): boolean {
    return this.#connection.config.multipleStatements === true;
  }

  /** The statement's text with `params` inlined, escaped as `query` escapes them. */
  format(sql: string, params: readonly unknown[]): string {
    return this.#connection.format(sql, params as unknown[]);
  }

  /**
   * Runs statements (texts from {@link format}) in one round trip, in order; resolves with each one's
   * result. The server runs none after a failing one, whose error the promise rejects with.
   * Only on a connection with {@link multipleStatements}.
   */
  async queryMany(texts: readonly string[]): Promise<QueryResult[]> {
    if (texts.length === 1) return [await this.run(texts[0]!)];
    const timeoutMs = this.#options.queryTimeoutMs;
    try {
      const [results] = await this.#connection.query({ sql: texts.join(';\n'), timeout: timeoutMs });
      return (results as unknown as (ResultSetHeader | SqlRow[])[]).map(toQueryResult);
    } catch (error) {
      const wrapped = mysqlStoreError(error, this.#options.target, timeoutMs);
      if (wrapped instanceof StoreUnavailableError) this.#reusable = false;
      throw wrapped;
    }
  }

  /** Runs' updates of one shape go as one UPDATE: far cheaper on the server than one each. */
  readonly mergesRowUpdates = true;

  /**
   * Runs the statements in one transaction: `START TRANSACTION`, the statements and `COMMIT` in
   * one round trip (a few, each under `MAX_PIPELINE_CHARS` of text: RDS Proxy pins a session for
   * longer statement text); resolves with each statement's result. When one fails, the server runs
   * none after it (nor the COMMIT): the transaction is rolled back and the promise rejects with
   * that error. With `expectedRows`, each statement that must match that many rows is followed by
   * a guard that fails when it did not ({@link rowCountGuard}), so the COMMIT still goes in the same
   * round trip (a mismatch: a rollback and {@link RowCountMismatchError}). Without
   * {@link multipleStatements}, one statement per round trip.
   */
  async writeBatch(
    statements: readonly Statement[],
    expectedRows?: readonly (number | undefined)[],
  ): Promise<QueryResult[]> {
    if (!this.multipleStatements) {
      return this.transaction(async (db) => {
        const results: QueryResult[] = [];
        for (const { sql, params } of statements) results.push(await db.query(sql, params));
        checkRowCounts(results, expectedRows);
        return results;
      });
    }
    if (this.#inTransaction) throw nestedTransactionError();
    this.#inTransaction = true;
    try {
      // A statement that must match `expectedRows` rows is followed by a guard that fails when it
      // did not (ROW_COUNT() is what it matched: the connection asks for found rows), so that the
      // server runs nothing after it, the COMMIT included, and the COMMIT goes in the same round trip.
      const texts: string[] = ['START TRANSACTION'];
      const own: number[] = [];
      statements.forEach(({ sql, params }, index) => {
        own.push(texts.length);
        texts.push(this.format(sql, params));
        const expected = expectedRows?.[index];
        if (expected !== undefined) texts.push(rowCountGuard(expected));
      });
      texts.push('COMMIT');
      const results: QueryResult[] = [];
      try {
        for (const trip of roundTrips(texts)) results.push(...(await this.queryMany(trip)));
      } catch (error) {
        throw isRowCountGuardFailure(error) ? new RowCountMismatchError() : error;
      }
      return own.map((position) => results[position]!);
    } catch (error) {
      await this.#rollback(error);
      throw error;
    } finally {
      this.#inTransaction = false;
    }
  }

  /** Runs one statement, waiting at most `timeoutMs` for its answer. @default the connection's queryTimeoutMs */
  async run(
    sql: string,
    params: readonly unknown[] = [],
    timeoutMs = this.#options.queryTimeoutMs,
  ): Promise<QueryResult> {
    try {
      const [result] = await this.#connection.query({ sql, values: params as unknown[], timeout: timeoutMs });
      return toQueryResult(result as ResultSetHeader | SqlRow[]);
    } catch (error) {
      const wrapped = mysqlStoreError(error, this.#options.target, timeoutMs);
      if (wrapped instanceof StoreUnavailableError) this.#reusable = false;
      throw wrapped;
    }
  }

  async transaction<T>(work: (db: SqlDatabase) => Promise<T>): Promise<T> {
    if (this.#inTransaction) throw nestedTransactionError();
    this.#inTransaction = true;
    try {
      await this.query('START TRANSACTION');
      const db = new TransactionDatabase(this);
      let result: T;
      try {
        result = await work(db);
      } catch (error) {
        db.end();
        await this.#rollback(error);
        throw error;
      }
      db.end();
      try {
        await this.query('COMMIT');
      } catch (error) {
        await this.#rollback(error);
        throw error;
      }
      return result;
    } finally {
      this.#inTransaction = false;
    }
  }

  /**
   * Rolls back after `failure`. Not on a connection that is lost or timed out: ROLLBACK would wait
   * as long again, and the server rolls back by itself when the connection is destroyed.
   */
  async #rollback(failure: unknown): Promise<void> {
    if (failure instanceof StoreUnavailableError) {
      this.#reusable = false;
      return;
    }
    try {
      await this.query('ROLLBACK');
    } catch {
      this.#reusable = false;
    }
  }
}

function toQueryResult(result: ResultSetHeader | SqlRow[]): QueryResult {
  if (Array.isArray(result)) return { rows: result, affectedRows: 0 };
  return { rows: [], affectedRows: result.affectedRows };
}

/** The database of one transaction (or of the migration lock), usable until {@link end} is called. */
export class TransactionDatabase implements SqlDatabase {
  readonly dialect = 'mysql' as const;
  readonly #connection: MysqlConnectionDatabase;
  #ended = false;

  constructor(connection: MysqlConnectionDatabase) {
    this.#connection = connection;
  }

  /** The transaction is over: refuse later queries. */
  end(): void {
    this.#ended = true;
  }

  async query(sql: string, params: readonly unknown[] = []): Promise<QueryResult> {
    this.#check();
    return this.#connection.query(sql, params);
  }

  #check(): void {
    if (this.#ended) throw new StoreError('This transaction has ended: its database can no longer be used.');
  }

  async transaction<T>(): Promise<T> {
    throw nestedTransactionError();
  }
}

/**
 * A statement that fails (a subquery of two rows) unless the statement before it matched `expected`
 * rows: `ROW_COUNT()` is evaluated in its WHERE.
 */
function rowCountGuard(expected: number): string {
  const differs = `ROW_COUNT() <> ${Math.trunc(expected)}`;
  return `SELECT (SELECT 1 FROM DUAL WHERE ${differs} UNION ALL SELECT 2 FROM DUAL WHERE ${differs}) AS row_count_guard`;
}

/** MySQL's "Subquery returns more than 1 row": only a {@link rowCountGuard} raises it in a batch. */
const ER_SUBQUERY_NO_1_ROW = 1242;

function isRowCountGuardFailure(error: unknown): boolean {
  const cause = (error as { cause?: { errno?: unknown } } | null)?.cause;
  return cause?.errno === ER_SUBQUERY_NO_1_ROW;
}
