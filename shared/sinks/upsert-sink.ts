import type { SqlDatabase } from '../sql.ts';
import { SinkDefinitionError } from './errors.ts';
import {
  columnsOf,
  createTableSql,
  identifierProblem,
  MAX_PARAMETERS,
  sqlValue,
  upsertSql,
} from './sql-table.ts';
import type { RecordType, Sink, SinkContext } from './types.ts';

/** Options of {@link upsertSink}. */
export interface UpsertSinkOptions<T> {
  /** The table written to, in the state database. Letters, digits and `_`. */
  readonly table: string;
  /** The fields that identify a row: the table's primary key. Never optional or nullable. */
  readonly key: readonly (keyof T & string)[];
  /** Records per `write` call (several statements when the columns need more placeholders). @default 500 */
  readonly batchSize?: number;
  /**
   * Create the table on first write (`CREATE TABLE IF NOT EXISTS`, primary key = `key`): string →
   * VARCHAR(255) (`.max(n)` → VARCHAR(n); TEXT in SQLite), int → BIGINT, number → DOUBLE, boolean →
   * BOOLEAN, date → DATETIME(3) in MySQL and INTEGER epoch milliseconds in SQLite.
   * @default true
   */
  readonly createTable?: boolean;
}

/** Tables known to exist, per database, so `CREATE TABLE IF NOT EXISTS` runs once per process. */
const createdTables = new WeakMap<SqlDatabase, Set<string>>();

/**
 * A sink that upserts records into a table of the state database (`context.stateDatabase`) by key:
 * MySQL `INSERT … ON DUPLICATE KEY UPDATE`, SQLite `INSERT … ON CONFLICT (key) DO UPDATE`, many rows
 * per statement. Writing the same records twice leaves one row per key with the latest values.
 * @example upsertSink(SalesRow, { table: 'sales_daily', key: ['day', 'store'] })
 * @throws SinkDefinitionError listing every problem: invalid table or column names, a schema that is
 * not a z.object() or has unsupported field types, a missing, unknown or nullable key, a bad batchSize.
 */
export function upsertSink<T>(recordType: RecordType<T>, options: UpsertSinkOptions<T>): Sink<T> {
  const { table, key } = options;
  const batchSize = options.batchSize ?? 500;
  const createTable = options.createTable ?? true;
  const { columns, problems } = columnsOf(recordType.schema);
  const tableProblem = identifierProblem('Table', table);
  if (tableProblem) problems.unshift(tableProblem);
  if (key.length === 0) problems.push('The key must name at least one field.');
  for (const [index, name] of key.entries()) {
    const column = columns.find((c) => c.name === name);
    if (key.indexOf(name) !== index) problems.push(`Key field "${name}" is listed twice.`);
    else if (!column)
      problems.push(`Key field "${name}" is not a field of record type "${recordType.name}".`);
    else if (column.nullable) problems.push(`Key field "${name}" must not be optional or nullable.`);
  }
  if (!Number.isInteger(batchSize) || batchSize < 1) {
    problems.push(`batchSize must be an integer of 1 or more, got ${batchSize}.`);
  }
  if (problems.length > 0) {
    throw new SinkDefinitionError(
      `upsertSink for record type "${recordType.name}" (table "${table}")`,
      problems,
    );
  }

  async function ensureTable(db: SqlDatabase): Promise<void> {
    const known = createdTables.get(db) ?? new Set<string>();
    if (known.has(table)) return;
    await db.query(createTableSql(db.dialect, table, columns, key));
    known.add(table);
    createdTables.set(db, known);
  }

  return Object.freeze({
    recordType,
    batchSize,
    stateTables: [table],
    async write(records: readonly T[], context: SinkContext): Promise<void> {
      if (records.length === 0) return;
      const db = context.stateDatabase;
      if (createTable) await ensureTable(db);
      const rowsPerStatement = Math.max(1, Math.floor(MAX_PARAMETERS[db.dialect] / columns.length));
      const statements: { sql: string; params: unknown[] }[] = [];
      for (let start = 0; start < records.length; start += rowsPerStatement) {
        const rows = records.slice(start, start + rowsPerStatement) as readonly Record<string, unknown>[];
        statements.push({
          sql: upsertSql(db.dialect, table, columns, key, rows.length),
          params: rows.flatMap((row) => columns.map((c) => sqlValue(db.dialect, c, row[c.name]))),
        });
      }
      if (statements.length === 1) {
        await db.query(statements[0]!.sql, statements[0]!.params);
        return;
      }
      await db.transaction(async (tx) => {
        for (const { sql, params } of statements) await tx.query(sql, params);
      });
    },
  });
}
