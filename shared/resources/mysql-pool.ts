/**
 * `mysqlPool()`: a mysql2 pool per job and process that lends one connection to each run.
 * With IAM authentication (RDS Proxy, Aurora) the password is a short-lived token, signed on demand.
 */
import { Signer } from '@aws-sdk/rds-signer';
import { createPool, type Pool, type PoolConnection, type PoolOptions } from 'mysql2/promise';
import { getConfig } from '../config.ts';
import { MINUTE_MS } from '../duration.ts';
import { ConfigError, InputError, PikoError } from '../errors.ts';
import { redact, registerSecret } from '../telemetry.ts';
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

/** The connection options a DSN describes, split out for IAM signing and error messages. */
export interface MysqlDsn {
  readonly host: string;
  /** @default 3306 */
  readonly port: number;
  readonly user: string;
  readonly password: string;
  readonly database: string;
  /** Query parameters, passed to mysql2 as options (JSON values parsed). @default {} */
  readonly params: Readonly<Record<string, unknown>>;
}

/** IAM tokens live 15 minutes; a new one is signed after this. */
export const IAM_TOKEN_REFRESH_MS = 10 * MINUTE_MS;

/** Mysql2 pool options used for every pool Piko opens. */
const BASE_OPTIONS = {
  timezone: 'Z',
  supportBigNumbers: true,
  enableKeepAlive: true,
  connectTimeout: 10_000,
} as const satisfies PoolOptions;

/**
 * A resource that lends one pooled MySQL connection to each run (`release` gives it back; never call
 * `connection.release()` yourself). A connection used after its run ended throws.
 * @example resources: { db: mysqlPool({ max: 50 }) }
 * @throws InputError when `max` is not a positive integer.
 */
export function mysqlPool(options: MysqlPoolOptions = {}): MysqlPoolResource {
  const max = options.max ?? 10;
  if (!Number.isInteger(max) || max < 1) {
    throw new InputError(`mysqlPool: max must be an integer of 1 or more, got ${max}`);
  }
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
      const pool = createPool({
        ...mysqlConnectionOptions(dsn, { iamAuth }),
        connectionLimit: max,
        maxIdle: max,
        waitForConnections: true,
        queueLimit: 0,
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

/**
 * Splits a `mysql://user:password@host:port/database?option=value` DSN.
 * @throws InputError when it is not such a URL (the message never contains the password).
 */
export function parseMysqlDsn(dsn: string): MysqlDsn {
  const url = URL.canParse(dsn) ? new URL(dsn) : undefined;
  if (!url || (url.protocol !== 'mysql:' && url.protocol !== 'mariadb:') || !url.hostname) {
    throw new InputError(
      `Invalid MySQL DSN ${JSON.stringify(redact(dsn))}: expected mysql://user:password@host:3306/database`,
    );
  }
  const params: Record<string, unknown> = {};
  for (const [key, value] of url.searchParams) {
    try {
      params[key] = JSON.parse(value);
    } catch {
      params[key] = value;
    }
  }
  const password = decodeURIComponent(url.password);
  registerSecret(password);
  return {
    host: decodeURIComponent(url.hostname.replace(/^\[(.*)\]$/, '$1')),
    port: url.port ? Number(url.port) : 3306,
    user: decodeURIComponent(url.username),
    password,
    database: decodeURIComponent(url.pathname.slice(1)),
    params,
  };
}

/**
 * mysql2 options for a DSN: UTC (`timezone: 'Z'`), keep-alive, big numbers; with `iamAuth`, TLS
 * with the Amazon RDS certificates and a fresh IAM token as password for each new connection.
 * Also used by the MySQL state store.
 * @throws InputError when the DSN is invalid, or has a password while `iamAuth` is set.
 */
export function mysqlConnectionOptions(
  dsn: string,
  options: {
    /** @default - (password from the DSN) */
    readonly iamAuth?: IamAuthOptions | undefined;
  } = {},
): PoolOptions {
  const { host, port, user, password, database, params } = parseMysqlDsn(dsn);
  const connection: PoolOptions = { ...BASE_OPTIONS, ...params, host, port, user, password, database };
  if (!options.iamAuth) return connection;
  if (password) {
    throw new InputError('A MySQL DSN used with IAM authentication must not contain a password');
  }
  const signer = new Signer({ hostname: host, port, username: user, region: options.iamAuth.region });
  const tokens = new IamTokenCache(() => signer.getAuthToken());
  return {
    ...connection,
    password: undefined,
    ssl: 'Amazon RDS',
    authPlugins: { mysql_clear_password: () => async () => Buffer.from(`${await tokens.get()}\0`) },
  };
}

/**
 * Keeps one RDS IAM token and signs a new one when it is {@link IAM_TOKEN_REFRESH_MS} old (tokens
 * live 15 minutes). Concurrent callers share one signing; a failed signing is not kept.
 */
export class IamTokenCache {
  readonly #sign: () => Promise<string>;
  readonly #now: () => number;
  #current: { readonly token: Promise<string>; readonly signedAt: number } | undefined;

  /**
   * @param sign signs a new token.
   * @param now the clock, in epoch milliseconds. @default Date.now
   */
  constructor(sign: () => Promise<string>, now: () => number = Date.now) {
    this.#sign = sign;
    this.#now = now;
  }

  /** A token at most {@link IAM_TOKEN_REFRESH_MS} old. */
  get(): Promise<string> {
    const now = this.#now();
    if (this.#current && now - this.#current.signedAt < IAM_TOKEN_REFRESH_MS) return this.#current.token;
    const token = this.#sign().then((value) => {
      registerSecret(value);
      return value;
    });
    const current = { token, signedAt: now };
    this.#current = current;
    token.catch(() => {
      if (this.#current === current) this.#current = undefined;
    });
    return token;
  }
}
