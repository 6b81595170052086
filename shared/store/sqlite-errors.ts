import { StoreCorruptError, StoreError, StoreUnavailableError } from '../errors.ts';

/**
 * SQLite result codes (primary, or the prefix of extended ones) of a store that cannot write now but
 * may later: the disk is full, an I/O error, another process holds the lock past the busy timeout.
 * The job is not at fault: the work is tried again, never recorded as failed.
 */
const UNAVAILABLE_CODES = ['SQLITE_FULL', 'SQLITE_IOERR', 'SQLITE_BUSY', 'SQLITE_LOCKED', 'SQLITE_CANTOPEN'];
/** Codes of a file that is not a sound database: fatal. */
const CORRUPT_CODES = ['SQLITE_CORRUPT', 'SQLITE_NOTADB'];

function hasCode(code: string, codes: readonly string[]): boolean {
  return codes.some((primary) => code === primary || code.startsWith(`${primary}_`));
}

/** What an operator should do about a corrupt state file. */
export function restoreAdvice(file: string): string {
  return (
    `Stop every piko process using it, then restore "${file}" from a backup (with its "-wal" file, if any); ` +
    `or, to start with empty state (every job plans again from its start), move "${file}" and "${file}.id" aside.`
  );
}

/**
 * The store error for a better-sqlite3 error: {@link StoreUnavailableError} for a full disk, I/O
 * errors and lock timeouts, {@link StoreCorruptError} (with restore advice) for a corrupt file, else
 * {@link StoreError}.
 */
export function sqliteStoreError(error: unknown, file: string): StoreError {
  if (error instanceof StoreError) return error;
  const code = (error as { code?: unknown } | null)?.code;
  const message = error instanceof Error ? error.message : String(error);
  if (typeof code === 'string' && hasCode(code, CORRUPT_CODES)) {
    return new StoreCorruptError(
      `The SQLite state store "${file}" is corrupt (${code}: ${message}). ${restoreAdvice(file)}`,
      { cause: error },
    );
  }
  const ErrorClass =
    typeof code === 'string' && hasCode(code, UNAVAILABLE_CODES) ? StoreUnavailableError : StoreError;
  const hint = code === 'SQLITE_FULL' ? ' Free disk space where the state file lives; piko tries again.' : '';
  return new ErrorClass(
    `SQLite query failed${typeof code === 'string' ? ` (${code})` : ''}: ${message}.${hint}`,
    { cause: error },
  );
}
