import type { PoolConnection } from 'mysql2/promise';
import { getConfig } from '../config.ts';
import { ConfigError, InputError } from '../errors.ts';
import { unknownOptionProblems } from '../options.ts';
import type { SqlDatabase } from '../sql.ts';
import { dsnTarget, MysqlConnectionDatabase, parseMysqlDsn } from '../store/mysql/index.ts';
import { abortReason } from './abort.ts';
import { type MysqlPoolHandle, mysqlPool } from './mysql-pool.ts';
import type { Resource } from './types.ts';
import { WaitHistogram, type WaitStats } from './wait-stats.ts';

/** Options of {@link sqlPool}. */
export interface SqlPoolOptions {
  /** Runs holding a connection at once; the others wait. @default 10 */
  readonly max?: number;
  /** SQLite file used when no MySQL DSN is configured. @default the configured `[sqlite] file` */
  readonly sqliteFile?: string;
}

type Handle =
  | { readonly kind: 'mysql'; readonly pool: MysqlPoolHandle; readonly target: string }
  | {
      readonly kind: 'sqlite';
      readonly db: SqlDatabase & { close(): Promise<void> };
      readonly slots: Semaphore;
    };

/** A {@link Resource} lending one database connection per run, with pool wait statistics. */
export interface SqlPoolResource extends Resource<SqlDatabase, Handle> {
  /** How long runs waited for a connection (p50/p95/p99). */
  poolWaitStats(): WaitStats;
}

/**
 * A bounded pool of connections to the project's database, lent one per run as a {@link SqlDatabase}:
 * MySQL (the configured `PIKO_MYSQL__DSN`, IAM auth included) when set, else the local SQLite file,
 * at most `max` runs at a time. On AWS, RDS Proxy pools the connections of every Lambda.
 * @throws InputError naming an unknown option, or `max` not a positive integer.
 */
export function sqlPool(options: SqlPoolOptions = {}): SqlPoolResource {
  const unknown = unknownOptionProblems(options, ['max', 'sqliteFile']);
  if (unknown.length > 0) throw new InputError(`sqlPool: ${unknown.join('; ')}`);
  const max = options.max ?? 10;
  const mysql = mysqlPool({ max });
  const waits = new WaitHistogram();
  const connections = new WeakMap<SqlDatabase, PoolConnection>();
  return {
    kind: 'sql-pool',
    aws: { stateDatabase: true },
    async create(context) {
      const config = getConfig();
      if (config.mysql.dsn) {
        const target = dsnTarget(parseMysqlDsn(config.mysql.dsn));
        return { kind: 'mysql', pool: await mysql.create(context), target };
      }
      if (!context.openSqliteDatabase) {
        throw new ConfigError([
          `mysql.dsn is not set, but resource "${context.name}" of job "${context.jobId}" is a sqlPool() in a ` +
            'process that cannot open SQLite (SQLite is for the local runtime and the CLI): set PIKO_MYSQL__DSN ' +
            '(the stack sets it on AWS)',
        ]);
      }
      return {
        kind: 'sqlite',
        db: context.openSqliteDatabase(options.sqliteFile ?? config.sqlite.file),
        slots: new Semaphore(max),
      };
    },
    async acquire(handle, signal) {
      const started = performance.now();
      if (handle.kind === 'sqlite') {
        await handle.slots.acquire(signal);
        waits.record(performance.now() - started);
        return handle.db;
      }
      const connection = await mysql.acquire(handle.pool, signal);
      waits.record(performance.now() - started);
      // The store's own adapter: driver errors become StoreErrors, as on SQLite. No statement
      // timeout: a job's queries may rightly take long.
      const db = new MysqlConnectionDatabase(connection, { target: handle.target });
      connections.set(db, connection);
      return db;
    },
    async release(handle, value) {
      if (handle.kind === 'sqlite') return handle.slots.release();
      const connection = connections.get(value);
      if (connection) await mysql.release(handle.pool, connection);
    },
    async destroy(handle) {
      if (handle.kind === 'sqlite') await handle.db.close();
      else await mysql.destroy(handle.pool);
    },
    poolWaitStats: () => waits.snapshot(),
  };
}

/** Counts free slots; waiters queue in order and give up when their signal aborts. */
class Semaphore {
  #free: number;
  readonly #waiters: (() => void)[] = [];

  constructor(size: number) {
    this.#free = size;
  }

  acquire(signal: AbortSignal): Promise<void> {
    if (this.#free > 0) {
      this.#free--;
      return Promise.resolve();
    }
    return new Promise((resolve, reject) => {
      const grant = () => {
        signal.removeEventListener('abort', onAbort);
        resolve();
      };
      const onAbort = () => {
        const index = this.#waiters.indexOf(grant);
        if (index >= 0) this.#waiters.splice(index, 1);
        reject(abortReason(signal));
      };
      this.#waiters.push(grant);
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  release(): void {
    const next = this.#waiters.shift();
    if (next) next();
    else this.#free++;
  }
}
