/** The state store's database: a mysql2 pool, one {@link MysqlConnectionDatabase} per statement or transaction. */
import type { Pool, PoolConnection } from 'mysql2/promise';
import { StoreError } from '../../errors.ts';
import type { SqlDatabase, SqlRow } from '../../sql.ts';
import type { Statement } from '../sql/row-update.ts';
import { MysqlConnectionDatabase, type MysqlStatementOptions } from './connection-database.ts';
import { mysqlStoreError } from './driver-errors.ts';

/** How long `close()` waits for the server to acknowledge each connection's end before destroying them. */
const CLOSE_TIMEOUT_MS = 5_000;

/**
 * A mysql2 pool over the {@link SqlDatabase} interface. Each statement and each transaction takes a
 * connection of its own and gives it back, or destroys it when it was lost or timed out (see
 * {@link MysqlConnectionDatabase.reusable}).
 */
export class MysqlPoolDatabase implements SqlDatabase {
  readonly dialect = 'mysql' as const;
  /** `host:port/database`, for messages. */
  readonly target: string;
  readonly #pool: Pool;
  readonly #options: MysqlStatementOptions;
  /** Every connection the pool holds, so `close()` can destroy them when the server does not answer. */
  readonly #connections = new Set<{ destroy(): void }>();
  #closed = false;

  constructor(pool: Pool, options: MysqlStatementOptions) {
    this.#pool = pool;
    this.#options = options;
    this.target = options.target;
    pool.pool.on('connection', (connection) => {
      this.#connections.add(connection);
      connection.once('end', () => this.#connections.delete(connection));
    });
  }

  query(sql: string, params: readonly unknown[] = []): Promise<{ rows: SqlRow[]; affectedRows: number }> {
    // A connection of our own rather than pool.query, which would give back to the pool a
    // connection whose statement timed out with its answer still to come.
    return this.#withConnection((db) => db.query(sql, params));
  }

  transaction<T>(work: (db: SqlDatabase) => Promise<T>): Promise<T> {
    return this.#withConnection((db) => db.transaction(work));
  }

  /** A group commit's statements in one transaction on one connection ({@link MysqlConnectionDatabase.writeBatch}). */
  writeBatch(
    statements: readonly Statement[],
    expectedRows?: readonly (number | undefined)[],
  ): Promise<{ rows: SqlRow[]; affectedRows: number }[]> {
    return this.#withConnection((db) => db.writeBatch(statements, expectedRows));
  }

  /** As {@link MysqlConnectionDatabase.mergesRowUpdates}. */
  readonly mergesRowUpdates = true;

  /**
   * Runs `work` on a connection of its own that is destroyed afterwards, never given back to the
   * pool: for what pins an RDS Proxy connection (`GET_LOCK`).
   */
  async withOwnConnection<T>(work: (db: MysqlConnectionDatabase) => Promise<T>): Promise<T> {
    const connection = await this.#connect();
    try {
      return await work(new MysqlConnectionDatabase(connection, this.#options));
    } finally {
      connection.destroy();
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    // pool.end() says goodbye on every connection and waits for the answer: a frozen server never
    // gives it. After a bounded wait, destroy the sockets (the server rolls back what was open).
    let timer: NodeJS.Timeout | undefined;
    const gaveUp = new Promise<'gave up'>((resolve) => {
      timer = setTimeout(() => resolve('gave up'), CLOSE_TIMEOUT_MS);
    });
    const ended = this.#pool.end().then(
      () => 'ended' as const,
      () => 'ended' as const,
    );
    if ((await Promise.race([ended, gaveUp])) === 'gave up') {
      for (const connection of this.#connections) connection.destroy();
    }
    clearTimeout(timer);
  }

  async #withConnection<T>(work: (db: MysqlConnectionDatabase) => Promise<T>): Promise<T> {
    const connection = await this.#connect();
    const db = new MysqlConnectionDatabase(connection, this.#options);
    try {
      return await work(db);
    } finally {
      if (db.reusable) connection.release();
      else connection.destroy();
    }
  }

  async #connect(): Promise<PoolConnection> {
    if (this.#closed) throw new StoreError(`The MySQL state store on ${this.target} is closed.`);
    try {
      return await this.#pool.getConnection();
    } catch (error) {
      throw mysqlStoreError(error, this.target, this.#options.queryTimeoutMs);
    }
  }
}
