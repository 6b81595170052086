import { SinkDefinitionError, SinkTableMismatchError } from '../errors.ts';
import { asSentence, unknownOptionProblems } from '../options.ts';
import type { SqlDatabase } from '../sql.ts';
import {
  columnsOf,
  createTableSql,
  existingTableProblem,
  identifierProblem,
  MAX_PARAMETERS,
  readExistingTable,
  reservedTableProblem,
  type SinkTable,
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

const UPSERT_SINK_OPTION_KEYS = [
  'table',
  'key',
  'batchSize',
  'createTable',
] as const satisfies readonly (keyof UpsertSinkOptions<unknown>)[];

/**
 * A sink that upserts records into a table of the state database (`context.stateDatabase`) by key:
 * MySQL `INSERT … ON DUPLICATE KEY UPDATE`, SQLite `INSERT … ON CONFLICT (key) DO UPDATE`, many rows
 * per statement. Writing the same records twice leaves one row per key with the latest values.
 * @example upsertSink(SalesRow, { table: 'sales_daily', key: ['day', 'store'] })
 * Before its first write to a database, the sink checks the table there: its only unique key must be
 * `key` and it must have every column (else `SinkTableMismatchError`, not retried), so a job never
 * merges its rows into another job's table.
 * @throws SinkDefinitionError listing every problem: invalid table or column names, a table named
 * `piko_…` (reserved), a schema that is not a z.object() or has unsupported field types, a missing,
 * unknown or nullable key, a bad batchSize, an unknown option.
 */
export function upsertSink<T>(recordType: RecordType<T>, options: UpsertSinkOptions<T>): Sink<T> {
  const { table, key } = options;
  const batchSize = options.batchSize ?? 500;
  const createTable = options.createTable ?? true;
  const { columns, problems } = columnsOf(recordType.schema);
  const tableProblem = identifierProblem('Table', table) ?? reservedTableProblem(table);
  if (tableProblem) problems.unshift(tableProblem);
  problems.unshift(...unknownOptionProblems(options, UPSERT_SINK_OPTION_KEYS).map(asSentence));
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

  const definition: SinkTable = Object.freeze({ name: table, key: [...key], columns });
  /** Databases whose table this sink has created or checked: once per sink and database. */
  const checked = new WeakSet<SqlDatabase>();

  /** Creates the table if asked, then refuses one whose key or columns are not this sink's. */
  async function ensureTable(db: SqlDatabase): Promise<void> {
    if (checked.has(db)) return;
    if (createTable) await db.query(createTableSql(db.dialect, table, columns, key));
    const existing = await readExistingTable(db, table);
    const problem = existing
      ? existingTableProblem(definition, existing)
      : `table "${table}" does not exist: create it, or leave createTable at its default (true).`;
    if (problem)
      throw new SinkTableMismatchError(`upsertSink for record type "${recordType.name}": ${problem}`);
    checked.add(db);
  }

  return Object.freeze({
    recordType,
    batchSize,
    table: definition,
    async write(records: readonly T[], context: SinkContext): Promise<void> {
      if (records.length === 0) return;
      const db = context.stateDatabase;
      await ensureTable(db);
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
