/** mysql2's errors as the store's: which are a store that is unavailable (transient), which are refused statements. */
import { StoreError, StoreUnavailableError } from '../../errors.ts';

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

/** An error's message for ours: the inner messages of an AggregateError, else the code or name when empty. */
export function messageOf(error: unknown): string {
  if (error instanceof AggregateError && !error.message) {
    return error.errors.map((inner) => messageOf(inner)).join('; ');
  }
  if (error instanceof Error)
    return error.message || String((error as { code?: unknown }).code ?? error.name);
  return String(error);
}

/**
 * The store error for a mysql2 error on `target` (`host:port/database`):
 * {@link StoreUnavailableError} for a connection refused, lost or timed out after `queryTimeoutMs`,
 * else {@link StoreError}.
 */
export function mysqlStoreError(error: unknown, target: string, queryTimeoutMs?: number): StoreError {
  const code = (error as { code?: unknown } | null)?.code;
  const ErrorClass = isUnavailable(error) ? StoreUnavailableError : StoreError;
  if (code === QUERY_TIMEOUT_CODE) {
    const within =
      queryTimeoutMs === undefined
        ? 'in time'
        : `within ${queryTimeoutMs / 1000} s (mysql.query_timeout_seconds)`;
    return new StoreUnavailableError(
      `MySQL at ${target} did not answer ${within}: the connection was dropped; piko tries again.`,
      { cause: error },
    );
  }
  if (typeof code === 'string' && CONNECTION_ERRORS.has(code)) {
    return new ErrorClass(`Cannot use MySQL at ${target}: ${messageOf(error)}`, { cause: error });
  }
  return new ErrorClass(
    `MySQL query failed${typeof code === 'string' ? ` (${code})` : ''}: ${messageOf(error)}`,
    {
      cause: error,
    },
  );
}
