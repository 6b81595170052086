/**
 * Group commit of a run's status writes (markRunning, markSucceeded): the calls made in one turn of
 * the event loop share one transaction, so many runs pay for one commit (on SQLite one WAL append
 * and sync, one turn of the store's mutex; on MySQL one redo-log flush) instead of one each.
 *
 * Every call keeps its own statements, unchanged (owner-conditional per row), and its caller
 * awaits its own outcome, settled only after the shared transaction has committed: a crash before
 * the commit loses no acknowledged write. When any call in a group fails, the group is rolled back
 * and every call runs again on its own, autocommitted, exactly as without grouping, so each caller
 * sees its own result or error and no call's failure decides another's.
 *
 * On a database that can send several statements in one round trip ({@link PipelinedDatabase}:
 * MySQL), the group's calls run side by side in the transaction and the statements they issue in
 * one turn of the event loop go to the server together, each with its own result (its own
 * `affectedRows`): a group of 40 runs costs START, one round trip of 40 UPDATEs and COMMIT, instead
 * of 42 round trips one after another on one connection.
 */
import { AsyncResource } from 'node:async_hooks';
import type { SqlDatabase, SqlRow } from '../../sql.ts';

/** The most calls one group commit carries; more wait for the next group. */
export const MAX_GROUP_SIZE = 500;

/**
 * The most SQL text one round trip of a pipelined group carries (statements with their values
 * inlined). RDS Proxy pins a session to its database connection for any statement text over 16 KB;
 * a single statement longer than this still goes, alone.
 */
export const MAX_PIPELINE_CHARS = 16_000;

type QueryResult = { rows: SqlRow[]; affectedRows: number };

/** A transaction's database that can also send several statements in one round trip. */
export interface PipelinedDatabase extends SqlDatabase {
  /** False when this connection cannot (it was opened without multiple statements). */
  readonly pipelined: boolean;
  /** The statement's text with `params` inlined (escaped), as {@link queryMany} sends it. */
  format(sql: string, params: readonly unknown[]): string;
  /**
   * Runs the statements (texts from {@link format}) in order in one round trip; resolves with each
   * one's result. When one fails, the server runs none after it and the promise rejects with that
   * statement's error.
   */
  queryMany(texts: readonly string[]): Promise<QueryResult[]>;
}

function isPipelined(db: SqlDatabase): db is PipelinedDatabase {
  return (db as Partial<PipelinedDatabase>).pipelined === true;
}

interface Call<T = unknown> {
  readonly work: (db: SqlDatabase) => Promise<T>;
  readonly resolve: (value: T) => void;
  readonly reject: (error: unknown) => void;
}

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

  /** Runs `work` in the next group's transaction; resolves once that transaction has committed. */
  run<T>(work: (db: SqlDatabase) => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      if (this.#pending.push({ work, resolve, reject } as Call) === 1) this.#flushLater();
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
    if (group.length === 1) return settle(group[0]!, this.#database);
    let results: unknown[];
    try {
      results = await this.#database.transaction(async (db) => {
        if (isPipelined(db)) return runPipelined(db, group);
        const values: unknown[] = [];
        for (const call of group) values.push(await call.work(db));
        return values;
      });
    } catch {
      // One call's error (a refused event, an unknown run, a lost connection) rolled all back: each
      // runs again alone, as it would have without grouping, and meets its own outcome.
      await Promise.all(group.map((call) => settle(call, this.#database)));
      return;
    }
    for (const [index, call] of group.entries()) call.resolve(results[index]);
  }
}

/**
 * Runs the group's calls side by side on `db`; their statements go out in round trips of
 * {@link PipelinedDatabase.queryMany}. Rejects with the first call's error once all have settled
 * (no statement of the transaction is left in flight when it rolls back).
 */
async function runPipelined(db: PipelinedDatabase, group: readonly Call[]): Promise<unknown[]> {
  const pipeline = new Pipeline(db);
  const outcomes = await Promise.allSettled(group.map((call) => call.work(pipeline)));
  const failed = outcomes.find((outcome) => outcome.status === 'rejected');
  if (failed) throw failed.reason;
  return outcomes.map((outcome) => (outcome as PromiseFulfilledResult<unknown>).value);
}

/**
 * The transaction's database as the calls of a pipelined group see it: statements issued in one
 * turn of the event loop are sent together once the turn is over, one round trip at a time.
 */
class Pipeline implements SqlDatabase {
  readonly dialect: SqlDatabase['dialect'];
  readonly #db: PipelinedDatabase;
  #pending: { text: string; resolve: (result: QueryResult) => void; reject: (error: unknown) => void }[] = [];
  #busy = false;

  constructor(db: PipelinedDatabase) {
    this.#db = db;
    this.dialect = db.dialect;
  }

  query(sql: string, params: readonly unknown[] = []): Promise<QueryResult> {
    return new Promise((resolve, reject) => {
      const text = this.#db.format(sql, params);
      if (this.#pending.push({ text, resolve, reject }) === 1 && !this.#busy)
        setImmediate(() => void this.#flush());
    });
  }

  transaction<T>(work: (db: SqlDatabase) => Promise<T>): Promise<T> {
    return this.#db.transaction(work);
  }

  async #flush(): Promise<void> {
    this.#busy = true;
    // Statements issued while a round trip is out go in the next; those the calls issue once
    // settled (an explanation's read) find the pipeline idle and schedule a flush of their own.
    while (this.#pending.length > 0) {
      let chars = 0;
      let count = 0;
      for (const { text } of this.#pending) {
        chars += text.length + 1;
        if (count > 0 && chars > MAX_PIPELINE_CHARS) break;
        count += 1;
      }
      const batch = this.#pending.splice(0, count);
      try {
        const results = await this.#db.queryMany(batch.map((entry) => entry.text));
        for (const [index, entry] of batch.entries()) entry.resolve(results[index]!);
      } catch (error) {
        // The server ran none after the failing statement; the transaction rolls back whole.
        for (const entry of [...batch, ...this.#pending.splice(0)]) entry.reject(error);
      }
    }
    this.#busy = false;
  }
}

async function settle(call: Call, database: SqlDatabase): Promise<void> {
  try {
    call.resolve(await call.work(database));
  } catch (error) {
    call.reject(error);
  }
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
