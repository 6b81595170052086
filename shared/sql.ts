/** SQL dialects Piko speaks. */
export type SqlDialect = 'mysql' | 'sqlite';

/** A row as returned by a query. */
export type SqlRow = Record<string, unknown>;

/**
 * A minimal handle on a relational database, shared by the state stores and the SQL sinks.
 * Placeholders are `?` in both dialects; values are bound, never interpolated.
 */
export interface SqlDatabase {
  readonly dialect: SqlDialect;
  /** Runs one statement; returns the rows of a SELECT, and `affectedRows` for writes. */
  query(sql: string, params?: readonly unknown[]): Promise<{ rows: SqlRow[]; affectedRows: number }>;
  /** Runs `work` in one transaction on one connection; commits on resolve, rolls back on throw. */
  transaction<T>(work: (db: SqlDatabase) => Promise<T>): Promise<T>;
}
