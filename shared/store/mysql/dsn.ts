/** MySQL DSNs: parsing `mysql://user:password@host:port/database?ssl=…`, and showing one without its password. */
import { StoreError } from '../../errors.ts';

const DEFAULT_PORT = 3306;
const DSN_FORMAT = 'mysql://user:password@host:port/database?ssl=true';
const DSN_PARAMETERS = ['ssl'];

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

/** `host:port/database`: how messages name the database a DSN points at (never with the user or password). */
export function dsnTarget(dsn: MysqlDsn): string {
  return `${dsn.host}:${dsn.port}/${dsn.database}`;
}

function decode(part: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    return part;
  }
}
