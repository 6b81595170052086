import { AsyncLocalStorage } from 'node:async_hooks';
import { randomInt } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { StoreCorruptError, StoreError } from '../errors.ts';
import type { SqlDatabase, SqlRow } from '../sql.ts';
import { applyMigrations } from './migrations.ts';
import { checkRowCounts } from './sql/group-commit.ts';
import type { Statement } from './sql/row-update.ts';
import { createSqlStateStore, nestedTransactionError, type SqlStoreDialect } from './sql-store.ts';
import { restoreAdvice, sqliteStoreError } from './sqlite-errors.ts';
import type { RequeuePolicy, StateStore } from './types.ts';

/** Where the local state lives by default, relative to the working directory. */
export const DEFAULT_SQLITE_FILE = '.piko/piko.db';
/** Prepared statements kept per connection. */
const STATEMENT_CACHE_SIZE = 200;

export interface SqliteStoreOptions {
  /** The database file; its directory is created. `':memory:'` for a private in-memory database. @default '.piko/piko.db' */
  readonly file?: string;
  /** How long a write waits for another process's write transaction, in ms. @default 5000 */
  readonly busyTimeoutMs?: number;
  /** Clock for `created_at` / `updated_at`. @default () => new Date() */
  readonly clock?: () => Date;
  /** How often and how late a run is requeued before it is failed. @default DEFAULT_REQUEUE_POLICY */
  readonly requeuePolicy?: RequeuePolicy;
  /**
   * Run `PRAGMA quick_check` at open. Off only for a second connection to a file this process has
   * just checked (the UI's): the check reads every page, synchronously, on the runtime's event loop.
   * @default true
   */
  readonly checkIntegrity?: boolean;
}

const SQLITE_DIALECT: SqlStoreDialect = {
  insertIgnore: 'INSERT OR IGNORE',
  greatest: 'MAX',
  least: 'MIN',
  // Epoch milliseconds.
  msBetween: (from, to) => `(${to} - ${from})`,
  // BEGIN IMMEDIATE already makes the transaction the only writer.
  forUpdate: '',
  createJob:
    'INSERT OR IGNORE INTO piko_jobs (job_id, watermark, paused, skipped_total, updated_at) VALUES (?, ?, 0, 0, ?)',
};

/**
 * Opens the SQLite state store (better-sqlite3, WAL mode). Times are stored as epoch milliseconds.
 *
 * better-sqlite3 is synchronous and the store has one connection, so every statement and
 * transaction of the store runs under one async mutex: two `withJob` calls in one process take
 * turns, and a statement issued while a transaction is open waits for it, unless it is issued
 * from inside that transaction (same async context), in which case it joins it. Open one store
 * per file and process; other processes wait up to `busyTimeoutMs` for the write lock.
 */
export async function openSqliteStore(options: SqliteStoreOptions = {}): Promise<StateStore> {
  const file = options.file ?? DEFAULT_SQLITE_FILE;
  let connection: Database.Database | undefined;
  try {
    if (file !== ':memory:') {
      mkdirSync(dirname(file), { recursive: true });
      refuseLostState(file);
    }
    connection = new Database(file, { timeout: options.busyTimeoutMs ?? 5_000 });
    connection.pragma('journal_mode = WAL');
    // WAL + NORMAL: a killed process loses no commit (the WAL is written before COMMIT returns);
    // only a power loss or OS crash may drop the last commits before a checkpoint's sync, leaving an
    // older, consistent state whose runs are re-dispatched (never lost; a handler may run again, as
    // after any crash mid-run). FULL (a sync per commit) measured ~35% slower even with group commit.
    connection.pragma('synchronous = NORMAL');
    if (file !== ':memory:') {
      if (options.checkIntegrity ?? true) checkIntegrity(connection, file);
      bindStoreId(connection, file);
    }
  } catch (error) {
    connection?.close();
    if (error instanceof StoreError) throw error;
    const mapped = sqliteStoreError(error, file);
    if (mapped instanceof StoreCorruptError) throw mapped;
    throw new (mapped.constructor as typeof StoreError)(
      `Cannot open the SQLite state store "${file}": ${(error as Error).message}`,
      { cause: error },
    );
  }
  const database = new SqliteDatabase(connection, file);
  const clock = options.clock ?? (() => new Date());
  return createSqlStateStore({
    kind: 'sqlite',
    dialect: SQLITE_DIALECT,
    database,
    clock,
    requeuePolicy: options.requeuePolicy,
    // BEGIN IMMEDIATE is the migration lock: another process waits for the write lock.
    migrate: () => database.transaction((db) => applyMigrations(db, clock())),
    close: () => database.close(),
    inTransaction: () => database.inTransaction(),
  });
}

/** The marker beside a state file: the id of the store it belongs to, written when the store is first opened. */
export function storeIdFile(file: string): string {
  return `${file}.id`;
}

/**
 * A missing or empty state file where the marker says state existed: SQLite would silently make a
 * new database, and every job would plan again from its start. Refused.
 */
function refuseLostState(file: string): void {
  const marker = storeIdFile(file);
  if (!existsSync(marker)) return;
  const size = existsSync(file) ? statSync(file).size : undefined;
  if (size !== undefined && size > 0) return;
  // A WAL beside an empty main file still holds the state (SQLite replays it).
  if (existsSync(`${file}-wal`) && statSync(`${file}-wal`).size > 0) return;
  throw new StoreCorruptError(
    `The SQLite state store "${file}" is ${size === undefined ? 'missing' : 'empty (0 bytes)'}, but "${marker}" ` +
      `says state existed there: piko refuses to start from empty state, which would plan every job again from its start. ` +
      restoreAdvice(file),
  );
}

/** `PRAGMA quick_check`: a corrupt file is fatal (SQLite would fail on some pages, at random moments). */
function checkIntegrity(connection: Database.Database, file: string): void {
  const problems = (connection.pragma('quick_check(5)') as { quick_check: string }[]).map(
    (row) => row.quick_check,
  );
  if (problems.length === 1 && problems[0] === 'ok') return;
  throw new StoreCorruptError(
    `The SQLite state store "${file}" is corrupt (PRAGMA quick_check: ${problems.join('; ')}). ${restoreAdvice(file)}`,
  );
}

/**
 * Ties the file to its marker: a random store id kept inside the database (`PRAGMA user_version`,
 * which the migrations do not use) and in `<file>.id`. A database whose id differs from the marker
 * (another store's file copied over this one) is refused; a missing marker is written again.
 */
function bindStoreId(connection: Database.Database, file: string): void {
  // Under the write lock: two processes opening a new file at once would otherwise both read id 0,
  // both write their own id, and the second would find the first's marker (a store refused for ever).
  connection.exec('BEGIN IMMEDIATE');
  try {
    bindStoreIdLocked(connection, file);
    connection.exec('COMMIT');
  } catch (error) {
    if (connection.inTransaction) connection.exec('ROLLBACK');
    throw error;
  }
}

function bindStoreIdLocked(connection: Database.Database, file: string): void {
  const marker = storeIdFile(file);
  let id = Number(connection.pragma('user_version', { simple: true }));
  if (id === 0) {
    id = randomInt(1, 2 ** 31 - 1);
    connection.pragma(`user_version = ${id}`);
  }
  if (!existsSync(marker)) {
    writeFileSync(marker, `${id}\n`);
    return;
  }
  const expected = readFileSync(marker, 'utf8').trim();
  if (expected !== String(id)) {
    throw new StoreCorruptError(
      `The SQLite state store "${file}" has store id ${id}, but "${marker}" says ${expected || '(empty)'}: ` +
        `this is not the database that was here. ${restoreAdvice(file)}`,
    );
  }
}

/** Serialises async critical sections. */
class Mutex {
  #tail: Promise<unknown> = Promise.resolve();

  run<T>(section: () => Promise<T>): Promise<T> {
    const result = this.#tail.then(section);
    this.#tail = result.catch(() => undefined);
    return result;
  }
}

/** The async context of an open transaction; `active` turns false when it ends. */
interface TransactionScope {
  active: boolean;
}

/**
 * better-sqlite3 over the {@link SqlDatabase} interface. Parameters: `Date` is bound as epoch
 * milliseconds, booleans as 1/0, `undefined` as NULL. Writes report `affectedRows` (SQLite's
 * `changes`). Transactions are `BEGIN IMMEDIATE`.
 */
class SqliteDatabase implements SqlDatabase {
  readonly dialect = 'sqlite' as const;
  readonly #connection: Database.Database;
  readonly #file: string;
  readonly #mutex = new Mutex();
  readonly #scope = new AsyncLocalStorage<TransactionScope>();
  readonly #statements = new Map<string, Database.Statement>();
  #closed = false;

  constructor(connection: Database.Database, file: string) {
    this.#connection = connection;
    this.#file = file;
  }

  /** True inside one of this database's transactions (same async context): a statement joins it. */
  inTransaction(): boolean {
    return this.#scope.getStore()?.active === true;
  }

  query(sql: string, params: readonly unknown[] = []): Promise<{ rows: SqlRow[]; affectedRows: number }> {
    if (this.#scope.getStore()?.active) return this.#exec(sql, params);
    return this.#mutex.run(() => this.#exec(sql, params));
  }

  transaction<T>(work: (db: SqlDatabase) => Promise<T>): Promise<T> {
    if (this.#scope.getStore()?.active) return Promise.reject(nestedTransactionError());
    return this.#mutex.run(async () => {
      await this.#exec('BEGIN IMMEDIATE');
      const scope: TransactionScope = { active: true };
      const db: SqlDatabase = {
        dialect: 'sqlite',
        query: async (sql, params) => {
          if (!scope.active)
            throw new StoreError('This transaction has ended: its database can no longer be used.');
          return this.#exec(sql, params);
        },
        transaction: () => Promise.reject(nestedTransactionError()),
      };
      let result: T;
      try {
        result = await this.#scope.run(scope, () => work(db));
        await this.#exec('COMMIT');
      } catch (error) {
        // SQLite may already have rolled back (a full disk, an I/O error); ROLLBACK may fail as well.
        this.#rollback();
        throw error;
      } finally {
        scope.active = false;
        // While an AsyncLocalStorage is enabled, Node runs its hooks on every promise of the process
        // (~9 % of a no-op run's CPU): off between transactions, which the mutex runs one at a time;
        // outside one, getStore() answers undefined, as it means "no transaction" anyway.
        this.#scope.disable();
      }
      return result;
    });
  }

  /**
   * Runs the statements in one `BEGIN IMMEDIATE … COMMIT`, synchronously (better-sqlite3 is): no
   * turn of the event loop between them, one turn of the mutex for the whole group commit.
   * Rolled back when one fails, with that error.
   */
  writeBatch(
    statements: readonly Statement[],
    expectedRows?: readonly (number | undefined)[],
  ): Promise<{ rows: SqlRow[]; affectedRows: number }[]> {
    if (this.#scope.getStore()?.active) return Promise.reject(nestedTransactionError());
    return this.#mutex.run(async () => {
      this.#run('BEGIN IMMEDIATE');
      try {
        const results = statements.map(({ sql, params }) => this.#run(sql, params));
        checkRowCounts(results, expectedRows);
        this.#run('COMMIT');
        return results;
      } catch (error) {
        this.#rollback();
        throw error;
      }
    });
  }

  /** Closes the connection once the running transaction, if any, has ended. */
  close(): Promise<void> {
    const close = async () => {
      if (this.#closed) return;
      this.#closed = true;
      this.#statements.clear();
      this.#connection.close();
    };
    return this.#scope.getStore()?.active ? close() : this.#mutex.run(close);
  }

  async #exec(
    sql: string,
    params: readonly unknown[] = [],
  ): Promise<{ rows: SqlRow[]; affectedRows: number }> {
    return this.#run(sql, params);
  }

  /** Rolls back the connection's transaction, if SQLite has not already (a full disk, an I/O error). */
  #rollback(): void {
    if (!this.#connection.inTransaction) return;
    try {
      this.#connection.exec('ROLLBACK');
    } catch {
      // the connection's transaction ends with it; the first error is the one to report
    }
  }

  /** One statement, synchronously. */
  #run(sql: string, params: readonly unknown[] = []): { rows: SqlRow[]; affectedRows: number } {
    if (this.#closed) throw new StoreError(`The SQLite state store "${this.#file}" is closed.`);
    try {
      const statement = this.#prepare(sql);
      const values = params.map(toSqliteValue);
      if (statement.reader) return { rows: statement.all(...values) as SqlRow[], affectedRows: 0 };
      return { rows: [], affectedRows: statement.run(...values).changes };
    } catch (error) {
      throw sqliteStoreError(error, this.#file);
    }
  }

  #prepare(sql: string): Database.Statement {
    let statement = this.#statements.get(sql);
    if (!statement) {
      statement = this.#connection.prepare(sql);
      if (this.#statements.size >= STATEMENT_CACHE_SIZE) this.#statements.clear();
      this.#statements.set(sql, statement);
    }
    return statement;
  }
}

function toSqliteValue(value: unknown): unknown {
  if (value instanceof Date) {
    const ms = value.getTime();
    if (Number.isNaN(ms)) throw new StoreError('Cannot bind an invalid Date.');
    return ms;
  }
  if (typeof value === 'boolean') return value ? 1 : 0;
  if (value === undefined) return null;
  return value;
}

/**
 * Opens a SQLite file as a bare {@link SqlDatabase} (no state tables): for resources that lend a
 * database to runs. Call `close()` when done.
 */
export function openSqliteDatabase(
  file: string,
  busyTimeoutMs = 5_000,
): SqlDatabase & { close(): Promise<void> } {
  if (file !== ':memory:') mkdirSync(dirname(file), { recursive: true });
  const connection = new Database(file, { timeout: busyTimeoutMs });
  connection.pragma('journal_mode = WAL');
  return new SqliteDatabase(connection, file);
}
