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
 */
import { AsyncResource } from 'node:async_hooks';
import type { SqlDatabase } from '../../sql.ts';

/** The most calls one group commit carries; more wait for the next group. */
export const MAX_GROUP_SIZE = 500;

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
