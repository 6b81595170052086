/**
 * `mysqlPool()`: a mysql2 pool per job and process that lends one connection to each run.
 * With IAM authentication (RDS Proxy, Aurora) the password is a short-lived token, signed on demand.
 */
import { createPool, type Pool, type PoolConnection } from 'mysql2/promise';
import { getConfig } from '../config.ts';
import { ConfigError, InputError, PikoError } from '../errors.ts';
import { unknownOptionProblems } from '../options.ts';
import { mysqlPoolOptions } from '../store/mysql/index.ts';
import { raceAbort } from './abort.ts';
import type { Resource } from './types.ts';
import { WaitHistogram, type WaitStats } from './wait-stats.ts';

/** Options of {@link mysqlPool}. */
export interface MysqlPoolOptions {
  /** Connections open at once, per job and process; further runs wait for one. @default 10 */
  readonly max?: number;
  /**
   * `mysql://user:password@host:3306/database`.
   * @default the configured state database (`PIKO_MYSQL__DSN`, `[mysql] dsn`), with its IAM setting
   */
  readonly dsn?: string;
  /** Authenticate with an RDS IAM token (over TLS) instead of a password. @default - (password) */
  readonly iamAuth?: IamAuthOptions;
  /**
   * Reset each connection's session when it is given back (rolls back an open transaction, frees
   * locks, drops temporary tables), so a run never inherits another run's state.
   * @default true
   */
  readonly resetOnRelease?: boolean;
}

const MYSQL_POOL_OPTION_KEYS = [
  'max',
  'dsn',
  'iamAuth',
  'resetOnRelease',
] as const satisfies readonly (keyof MysqlPoolOptions)[];

/** RDS IAM authentication. */
export interface IamAuthOptions {
  /** The region that signs the token. */
  readonly region: string;
}

/** The process-wide part of a {@link mysqlPool}: the mysql2 pool. */
export interface MysqlPoolHandle {
  readonly pool: Pool;
}

/** A {@link mysqlPool} resource, which also reports how long runs waited for a connection. */
export interface MysqlPoolResource extends Resource<PoolConnection, MysqlPoolHandle> {
  /** Waits from `acquire` to a connection, over every job and process-wide handle of this resource. */
  poolWaitStats(): WaitStats;
  /** Forgets the waits recorded so far (between benchmark phases). */
  resetPoolWaitStats(): void;
}

/**
 * A resource that lends one pooled MySQL connection to each run (`release` gives it back; never call
 * `connection.release()` yourself). A connection used after its run ended throws.
 * @example resources: { db: mysqlPool({ max: 50 }) }
 * @throws InputError listing every problem: `max` not a positive integer, an unknown option.
 */
export function mysqlPool(options: MysqlPoolOptions = {}): MysqlPoolResource {
  const max = options.max ?? 10;
  const problems = unknownOptionProblems(options, MYSQL_POOL_OPTION_KEYS);
  if (typeof options.iamAuth === 'object' && options.iamAuth !== null)
    problems.push(...unknownOptionProblems(options.iamAuth, ['region'], 'iamAuth.'));
  if (!Number.isInteger(max) || max < 1) problems.push(`max must be an integer of 1 or more, got ${max}`);
  if (problems.length > 0) throw new InputError(`mysqlPool: ${problems.join('; ')}`);
  const waits = new WaitHistogram();
  return {
    kind: 'mysql-pool',
    aws: { stateDatabase: options.dsn === undefined },
    async create({ jobId, name }) {
      const config = options.dsn === undefined ? getConfig().mysql : undefined;
      const dsn = options.dsn ?? config?.dsn;
      if (dsn === undefined) {
        throw new ConfigError([
          `mysql.dsn is not set, but resource "${name}" of job "${jobId}" is a mysqlPool() without a dsn: ` +
            'set PIKO_MYSQL__DSN or [mysql] dsn in settings.toml, or pass mysqlPool({ dsn })',
        ]);
      }
      const iamAuth =
        options.iamAuth ?? (config?.iamAuth && config.region ? { region: config.region } : undefined);
      // One way to connect for the whole project: the state store's options (DSN, TLS, IAM tokens).
      const pool = createPool({
        ...(await mysqlPoolOptions({ dsn, poolSize: max, iamAuth })),
        resetOnRelease: options.resetOnRelease ?? true,
      });
      return { pool };
    },
    async acquire({ pool }, signal) {
      const started = performance.now();
      const connection = await raceAbort(pool.getConnection(), signal, (late) => late.release());
      waits.record(performance.now() - started);
      return lend(connection);
    },
    async release(_handle, value) {
      const connection = lent.get(value);
      if (!connection) return;
      lent.delete(value);
      try {
        connection.release();
      } catch {
        // Already gone (destroyed by its user or by the pool): nothing to give back.
      }
    },
    async destroy({ pool }) {
      await pool.end();
    },
    poolWaitStats: () => waits.snapshot(),
    resetPoolWaitStats: () => waits.reset(),
  };
}

/** Lent proxy → the real connection, until it is given back. */
const lent = new WeakMap<PoolConnection, PoolConnection>();

/**
 * Wraps a connection so that it stops working once given back: a handler that outlives its run
 * (timed out) cannot use a connection another run now holds. `release()` is Piko's to call.
 */
function lend(connection: PoolConnection): PoolConnection {
  const proxy = new Proxy(connection, {
    get(target, prop) {
      const value: unknown = Reflect.get(target, prop, target);
      // Symbols and `then` pass through, so inspecting or awaiting a stale connection is harmless.
      if (typeof prop === 'symbol' || prop === 'then') return value;
      if (prop === 'release') {
        return () => {
          throw new PikoError('A connection lent by mysqlPool() is given back by Piko when the run ends');
        };
      }
      if (!lent.has(proxy)) throw staleConnection();
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        if (!lent.has(proxy)) throw staleConnection();
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  lent.set(proxy, connection);
  return proxy;
}

function staleConnection(): PikoError {
  return new PikoError(
    'This MySQL connection was given back when its run ended or timed out; it can no longer be used',
  );
}
