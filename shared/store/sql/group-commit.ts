/**
 * Group commit of a run's status writes (markRunning, markSucceeded): the writes made in one turn
 * of the event loop share one transaction, so many runs pay for one commit (on SQLite one WAL
 * append, one turn of the store's mutex; on MySQL one redo-log flush) instead of one each.
 *
 * A write is one statement (owner-conditional per row, unchanged by grouping) and what its caller
 * makes of its result (`then`: a record, or the read that says why no row matched). The group's
 * statements commit together ({@link BatchDatabase.writeBatch}: on MySQL `START TRANSACTION`, the
 * statements and `COMMIT` in one round trip, or a few under {@link MAX_PIPELINE_CHARS}; on SQLite
 * all at once, synchronously, between BEGIN and COMMIT), and only then does each `then` run and its
 * caller's promise settle: a crash before the commit loses no acknowledged write. Each statement
 * keeps its own result (its own `affectedRows`). When the batch fails (a statement's error, a lost
 * connection), it is rolled back and every write runs again on its own, autocommitted, exactly as
 * without grouping, so each caller sees its own result or error and no write's failure decides
 * another's. A lost connection leaves unknown whether the COMMIT ran: a write that can tell it
 * landed (`landed`: markRunning, whose second run would count the attempt again) asks that first.
 */
import { AsyncResource } from 'node:async_hooks';
import { StoreUnavailableError } from '../../errors.ts';
import type { SqlDatabase, SqlRow } from '../../sql.ts';
import { mergeRowUpdates, type Statement } from './row-update.ts';

/** The most writes one group commit carries; more wait for the next group. */
export const MAX_GROUP_SIZE = 500;

/**
 * The most SQL text one round trip of a group carries on MySQL (statements with their values
 * inlined). RDS Proxy pins a session to its database connection for any statement text over 16 KB;
 * a single statement longer than this still goes, alone.
 */
export const MAX_PIPELINE_CHARS = 16_000;

/** What a statement answers. */
export type QueryResult = { rows: SqlRow[]; affectedRows: number };

/** A database that commits several statements in one transaction, in as few round trips as it can. */
export interface BatchDatabase extends SqlDatabase {
  /**
   * Runs the statements in order in one transaction and commits it; resolves with each one's
   * result. All or nothing: when one fails, or a statement with an `expectedRows` matches another
   * number of rows ({@link RowCountMismatchError}), the transaction is rolled back (or its connection
   * dropped, which rolls it back) and the promise rejects with that error.
   */
  writeBatch(
    statements: readonly Statement[],
    expectedRows?: readonly (number | undefined)[],
  ): Promise<QueryResult[]>;
  /**
   * Whether runs' updates of one shape are merged into one statement ({@link mergeRowUpdates}):
   * cheaper on MySQL's server; SQLite runs its prepared one-row statements faster. @default false
   */
  readonly mergesRowUpdates?: boolean;
}

/** A merged UPDATE matched fewer rows than it merged: the batch is rolled back, each write runs alone. */
export class RowCountMismatchError extends Error {
  override name = 'RowCountMismatchError';
  /** Without counts: the server said only that they differed (a row-count guard failed). */
  constructor(expected?: number, matched?: number) {
    super(
      matched === undefined || expected === undefined
        ? 'a merged update matched another number of rows than it merged'
        : `a merged update matched ${matched} of its ${expected} rows`,
    );
  }
}

/** Throws {@link RowCountMismatchError} when a result's rows differ from what was expected of it. */
export function checkRowCounts(
  results: readonly QueryResult[],
  expectedRows: readonly (number | undefined)[] | undefined,
): void {
  expectedRows?.forEach((expected, index) => {
    const matched = results[index]?.affectedRows ?? 0;
    if (expected !== undefined && matched !== expected) throw new RowCountMismatchError(expected, matched);
  });
}

function isBatchDatabase(db: SqlDatabase): db is BatchDatabase {
  return typeof (db as Partial<BatchDatabase>).writeBatch === 'function';
}

/**
 * The calls' statements in one transaction of `db` (its {@link BatchDatabase.writeBatch}, else one
 * after another), runs' updates of one shape merged where `db` merges them; resolves with each
 * call's result, in order.
 */
async function writeGroup(db: SqlDatabase, statements: readonly Statement[]): Promise<QueryResult[]> {
  if (!isBatchDatabase(db)) {
    return db.transaction(async (tx) => {
      const results: QueryResult[] = [];
      for (const { sql, params } of statements) results.push(await tx.query(sql, params));
      return results;
    });
  }
  if (!db.mergesRowUpdates) return db.writeBatch(statements);
  const merged = mergeRowUpdates(statements, MAX_PIPELINE_CHARS);
  const results = await db.writeBatch(
    merged.map((entry) => entry.statement),
    merged.map((entry) => entry.expectedRows),
  );
  const perCall: QueryResult[] = new Array(statements.length);
  merged.forEach((entry, index) => {
    // A merged UPDATE matched every row it merged: each write matched its one row.
    for (const source of entry.sources) {
      perCall[source] = entry.expectedRows === undefined ? results[index]! : { rows: [], affectedRows: 1 };
    }
  });
  return perCall;
}

interface Call<T = unknown> {
  readonly statement: Statement;
  readonly then: (result: QueryResult) => T | Promise<T>;
  readonly landed: Landed | undefined;
  readonly resolve: (value: T) => void;
  readonly reject: (error: unknown) => void;
}

/**
 * Whether a write whose answer was lost has landed: true when the database shows what it wrote
 * (it then counts as having matched its one row). Not applying a write twice matters where the
 * write is not idempotent (a start counts an attempt).
 */
export type Landed = () => Promise<boolean>;

/** What a write that {@link Landed} answers, as its own statement would have: one row matched. */
const LANDED: QueryResult = { rows: [], affectedRows: 1 };

/** Runs status writes grouped per event-loop turn, one transaction per group (see the file's top). */
export class GroupCommit {
  readonly #database: SqlDatabase;
  #pending: Call[] = [];
  /**
   * Bound to the store's own async context: a group started by a call made inside some transaction
   * (SQLite tracks its transaction per async context) must not join or nest in it.
   */
  readonly #flushLater: () => void;

  constructor(database: SqlDatabase) {
    this.#database = database;
    this.#flushLater = AsyncResource.bind(() => setImmediate(() => this.#flush()));
  }

  /**
   * Runs `statement` in the next group's transaction; once that has committed, resolves with what
   * `then` makes of its result (`then` runs outside the transaction, on the store's database).
   * `landed` is asked when the connection was lost with the write's outcome unknown. @default none:
   * such a write runs again (in a group) or fails with the connection's error (alone)
   */
  write<T>(statement: Statement, then: (result: QueryResult) => T | Promise<T>, landed?: Landed): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      if (this.#pending.push({ statement, then, landed, resolve, reject } as Call) === 1) this.#flushLater();
    });
  }

  #flush(): void {
    while (this.#pending.length > 0) {
      const group = this.#pending.splice(0, MAX_GROUP_SIZE);
      // Later groups of this turn go on without waiting for this one's commit.
      void this.#commit(group);
    }
  }

  async #commit(group: readonly Call[]): Promise<void> {
    if (group.length === 1) return alone(group[0]!, this.#database);
    let results: QueryResult[];
    try {
      results = await writeGroup(
        this.#database,
        group.map((call) => call.statement),
      );
    } catch (error) {
      // One statement's error (a deadlock), or a merged update that matched fewer rows than it
      // merged, rolled all back: each runs again alone, as it would have without grouping, and meets
      // its own outcome. After a lost connection, the ones that can tell first ask whether they landed.
      const unknown = error instanceof StoreUnavailableError;
      await Promise.all(
        group.map(async (call) =>
          unknown && (await hasLanded(call)) ? settle(call, LANDED) : alone(call, this.#database),
        ),
      );
      return;
    }
    await Promise.all(group.map((call, index) => settle(call, results[index]!)));
  }
}

/** A write on its own, autocommitted (its answer lost: landed, if it can tell). */
async function alone(call: Call, database: SqlDatabase): Promise<void> {
  let result: QueryResult;
  try {
    result = await database.query(call.statement.sql, call.statement.params);
  } catch (error) {
    if (error instanceof StoreUnavailableError && (await hasLanded(call))) return settle(call, LANDED);
    call.reject(error);
    return;
  }
  await settle(call, result);
}

/** Whether the call's write shows in the database; false when it cannot tell (nor be read). */
async function hasLanded(call: Call): Promise<boolean> {
  if (!call.landed) return false;
  try {
    return await call.landed();
  } catch {
    // Still out of reach: the write runs again, or fails, with the error the store gives it.
    return false;
  }
}

async function settle(call: Call, result: QueryResult): Promise<void> {
  try {
    call.resolve(await call.then(result));
  } catch (error) {
    call.reject(error);
  }
}

/**
 * Splits statement texts into round trips of at most {@link MAX_PIPELINE_CHARS} characters (a text
 * longer than that goes alone).
 */
export function roundTrips(texts: readonly string[]): string[][] {
  const trips: string[][] = [];
  let trip: string[] = [];
  let chars = 0;
  for (const text of texts) {
    if (trip.length > 0 && chars + text.length + 1 > MAX_PIPELINE_CHARS) {
      trips.push(trip);
      trip = [];
      chars = 0;
    }
    trip.push(text);
    chars += text.length + 1;
  }
  if (trip.length > 0) trips.push(trip);
  return trips;
}

/**
 * Reads of runs by id made in one turn of the event loop, answered by one SELECT: the records a
 * group commit's markRunning calls return, read after that group has committed (as one call alone
 * reads its run after its UPDATE). Runs in the store's own async context, outside any transaction.
 */
export class GroupRead<T> {
  readonly #read: (ids: readonly number[]) => Promise<Map<number, T>>;
  #pending: { id: number; resolve: (value: T | undefined) => void; reject: (error: unknown) => void }[] = [];
  readonly #flushLater: () => void;

  constructor(read: (ids: readonly number[]) => Promise<Map<number, T>>) {
    this.#read = read;
    this.#flushLater = AsyncResource.bind(() => setImmediate(() => this.#flush()));
  }

  /** The record of run `id`, undefined when there is none. */
  get(id: number): Promise<T | undefined> {
    return new Promise((resolve, reject) => {
      if (this.#pending.push({ id, resolve, reject }) === 1) this.#flushLater();
    });
  }

  #flush(): void {
    while (this.#pending.length > 0) {
      const group = this.#pending.splice(0, MAX_GROUP_SIZE);
      this.#read([...new Set(group.map((call) => call.id))]).then(
        (records) => {
          for (const call of group) call.resolve(records.get(call.id));
        },
        (error: unknown) => {
          for (const call of group) call.reject(error);
        },
      );
    }
  }
}
