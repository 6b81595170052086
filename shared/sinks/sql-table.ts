/** Tables for record types: columns derived from a zod object schema, DDL and upsert statements. */
import type { z } from 'zod';
import { PikoError } from '../errors.ts';
import type { SqlDatabase, SqlDialect } from '../sql.ts';

/** Table and column names: a letter or `_`, then letters, digits or `_`; at most 64 characters. */
export const IDENTIFIER_PATTERN = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;

/** Most `?` placeholders one statement may hold, per dialect. */
export const MAX_PARAMETERS: Readonly<Record<SqlDialect, number>> = { mysql: 65_535, sqlite: 32_766 };

/** Longest `z.string().max(n)` stored as VARCHAR(n) in MySQL; longer ones are TEXT (not allowed in keys). */
const MAX_VARCHAR = 16_383;
/** VARCHAR length of strings without `.max(n)`. */
const DEFAULT_VARCHAR = 255;

/** How a record field is stored. */
export type ColumnKind = 'string' | 'int' | 'number' | 'boolean' | 'date';

/** One column of a record table. */
export interface Column {
  readonly name: string;
  readonly kind: ColumnKind;
  /** Optional or nullable in the schema. */
  readonly nullable: boolean;
  /** `z.string().max(n)`. @default - (255 in MySQL) */
  readonly maxLength?: number;
}

/** Why the identifier is refused, or undefined when it is a valid table or column name. */
export function identifierProblem(what: string, name: string): string | undefined {
  return IDENTIFIER_PATTERN.test(name)
    ? undefined
    : `${what} ${JSON.stringify(name)} is not a valid identifier: use a letter or "_", then letters, digits or "_", at most 64 characters.`;
}

/** Quotes a validated identifier for the dialect (backticks in MySQL, double quotes in SQLite). */
export function quoteIdentifier(dialect: SqlDialect, name: string): string {
  if (!IDENTIFIER_PATTERN.test(name))
    throw new PikoError(`Refusing to quote identifier ${JSON.stringify(name)}`);
  return dialect === 'mysql' ? `\`${name}\`` : `"${name}"`;
}

/**
 * The columns of an object schema, in shape order, and the problems that prevent storing it
 * (not an object, unsupported field types, invalid column names).
 */
export function columnsOf(schema: z.ZodType): { columns: Column[]; problems: string[] } {
  const def = schema.def as { type: string; shape?: Record<string, z.ZodType> };
  if (def.type !== 'object' || !def.shape) {
    return { columns: [], problems: [`The record schema must be a z.object(), not ${def.type}.`] };
  }
  const columns: Column[] = [];
  const problems: string[] = [];
  for (const [name, field] of Object.entries(def.shape)) {
    const nameProblem = identifierProblem('Column', name);
    if (nameProblem) problems.push(nameProblem);
    const column = describeField(name, field);
    if (typeof column === 'string') problems.push(column);
    else columns.push(column);
  }
  return { columns, problems };
}

/** A field's column, or why it cannot be stored. */
function describeField(name: string, field: z.ZodType): Column | string {
  let nullable = false;
  let schema = field;
  for (;;) {
    const def = schema.def as { type: string; innerType?: z.ZodType; out?: z.ZodType };
    if (def.type === 'optional' || def.type === 'nullable') nullable = true;
    if (def.innerType) schema = def.innerType;
    else if (def.type === 'pipe' && def.out) schema = def.out;
    else break;
  }
  const def = schema.def as { type: string; entries?: Record<string, unknown>; values?: unknown[] };
  const kind = kindOf(schema, def);
  if (!kind) {
    return `Column "${name}" has type ${def.type}, which cannot be stored: use a string, number, int, boolean or date (optional, nullable or with a default).`;
  }
  const maxLength = kind === 'string' ? ((schema as z.ZodString).maxLength ?? undefined) : undefined;
  return maxLength === undefined ? { name, kind, nullable } : { name, kind, nullable, maxLength };
}

function kindOf(
  schema: z.ZodType,
  def: { type: string; entries?: object; values?: unknown[] },
): ColumnKind | undefined {
  switch (def.type) {
    case 'string':
      return 'string';
    case 'number':
      return (schema as z.ZodNumber).isInt ? 'int' : 'number';
    case 'boolean':
      return 'boolean';
    case 'date':
      return 'date';
    case 'enum':
      return Object.values(def.entries ?? {}).every((v) => typeof v === 'string') ? 'string' : undefined;
    case 'literal': {
      const types = new Set((def.values ?? []).map((v) => typeof v));
      if (types.size !== 1) return undefined;
      if (types.has('string')) return 'string';
      if (types.has('boolean')) return 'boolean';
      if (types.has('number')) return (def.values ?? []).every(Number.isInteger) ? 'int' : 'number';
      return undefined;
    }
    default:
      return undefined;
  }
}

/** The SQL type of a column in a dialect. */
export function sqlType(dialect: SqlDialect, column: Column): string {
  switch (column.kind) {
    case 'string':
      if (dialect === 'sqlite') return 'TEXT';
      return (column.maxLength ?? DEFAULT_VARCHAR) <= MAX_VARCHAR
        ? `VARCHAR(${column.maxLength ?? DEFAULT_VARCHAR})`
        : 'TEXT';
    case 'int':
      return 'BIGINT';
    case 'number':
      return 'DOUBLE';
    case 'boolean':
      return 'BOOLEAN';
    case 'date':
      return dialect === 'mysql' ? 'DATETIME(3)' : 'INTEGER';
  }
}

/** `CREATE TABLE IF NOT EXISTS` with the key as primary key. */
export function createTableSql(
  dialect: SqlDialect,
  table: string,
  columns: readonly Column[],
  key: readonly string[],
): string {
  const q = (name: string) => quoteIdentifier(dialect, name);
  const lines = columns.map((c) => `${q(c.name)} ${sqlType(dialect, c)} ${c.nullable ? 'NULL' : 'NOT NULL'}`);
  lines.push(`PRIMARY KEY (${key.map(q).join(', ')})`);
  const suffix = dialect === 'mysql' ? ' DEFAULT CHARSET=utf8mb4' : '';
  return `CREATE TABLE IF NOT EXISTS ${q(table)} (\n  ${lines.join(',\n  ')}\n)${suffix}`;
}

/**
 * A multi-row upsert of `rowCount` rows: `INSERT … ON DUPLICATE KEY UPDATE` (MySQL) or
 * `INSERT … ON CONFLICT (key) DO UPDATE` (SQLite). Non-key columns take the new values.
 */
export function upsertSql(
  dialect: SqlDialect,
  table: string,
  columns: readonly Column[],
  key: readonly string[],
  rowCount: number,
): string {
  const q = (name: string) => quoteIdentifier(dialect, name);
  const names = columns.map((c) => c.name);
  const row = `(${names.map(() => '?').join(', ')})`;
  const insert = `INSERT INTO ${q(table)} (${names.map(q).join(', ')}) VALUES ${Array(rowCount).fill(row).join(', ')}`;
  const others = names.filter((n) => !key.includes(n));
  if (dialect === 'mysql') {
    const updates =
      others.length > 0 ? others.map((n) => `${q(n)} = VALUES(${q(n)})`) : [`${q(key[0]!)} = ${q(key[0]!)}`];
    return `${insert} ON DUPLICATE KEY UPDATE ${updates.join(', ')}`;
  }
  const target = `ON CONFLICT (${key.map(q).join(', ')})`;
  return others.length > 0
    ? `${insert} ${target} DO UPDATE SET ${others.map((n) => `${q(n)} = excluded.${q(n)}`).join(', ')}`
    : `${insert} ${target} DO NOTHING`;
}

/** A field value as bound to a statement: dates as UTC `DATETIME(3)` text (MySQL) or epoch ms (SQLite), booleans as 1/0. */
export function sqlValue(dialect: SqlDialect, column: Column, value: unknown): unknown {
  if (value === undefined || value === null) return null;
  if (column.kind === 'boolean') return value ? 1 : 0;
  if (column.kind === 'date' && value instanceof Date) {
    return dialect === 'mysql' ? value.toISOString().slice(0, 23).replace('T', ' ') : value.getTime();
  }
  return value;
}

/**
 * Table names Piko keeps for itself (`piko_jobs`, `piko_runs`, …): a sink writing there could un-pause
 * a job or move its watermark. Compared case-insensitively (MySQL table names may be).
 */
export const RESERVED_TABLE_PREFIX = 'piko_';

/** Why a sink may not write to `table` because Piko reserves its name, or undefined. */
export function reservedTableProblem(table: string): string | undefined {
  return typeof table === 'string' && table.toLowerCase().startsWith(RESERVED_TABLE_PREFIX)
    ? `Table "${table}" starts with "${RESERVED_TABLE_PREFIX}", which Piko reserves for its state tables: choose another name.`
    : undefined;
}

/** The table a sink writes: what two sinks sharing it, and the table in the database, must agree on. */
export interface SinkTable {
  readonly name: string;
  /** The primary key's columns, in order. */
  readonly key: readonly string[];
  readonly columns: readonly Column[];
}

/** How two definitions of one table differ (key, then columns), or undefined when they are the same. */
export function sinkTableDifference(a: SinkTable, b: SinkTable): string | undefined {
  const list = (names: readonly string[]) => `(${names.join(', ')})`;
  if (a.key.join('\0') !== b.key.join('\0')) return `key ${list(a.key)} against ${list(b.key)}`;
  const describe = (table: SinkTable) =>
    table.columns.map(
      (c) => `${c.name} ${c.kind}${c.nullable ? '?' : ''}${c.maxLength ? `(${c.maxLength})` : ''}`,
    );
  const left = describe(a);
  const right = describe(b);
  if (left.join('\0') !== right.join('\0')) return `columns ${list(left)} against ${list(right)}`;
  return undefined;
}

/** The columns and unique keys of a table as the database has it; undefined when it does not exist. */
export interface ExistingTable {
  readonly columns: readonly string[];
  /** Every unique key (the primary key included), each as its column names in index order. */
  readonly uniqueKeys: readonly (readonly string[])[];
}

/**
 * Reads a table's columns and unique keys: `information_schema` in MySQL (the connection's current
 * database), `PRAGMA table_info` and `PRAGMA index_list` / `index_info` in SQLite.
 */
export async function readExistingTable(db: SqlDatabase, table: string): Promise<ExistingTable | undefined> {
  if (db.dialect === 'mysql') {
    const { rows: columns } = await db.query(
      'SELECT COLUMN_NAME AS name FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION',
      [table],
    );
    if (columns.length === 0) return undefined;
    const { rows: indexed } = await db.query(
      'SELECT INDEX_NAME AS indexName, COLUMN_NAME AS name FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? AND NON_UNIQUE = 0 ORDER BY INDEX_NAME, SEQ_IN_INDEX',
      [table],
    );
    const keys = new Map<string, string[]>();
    for (const row of indexed)
      keys.set(String(row.indexName), [...(keys.get(String(row.indexName)) ?? []), String(row.name)]);
    return { columns: columns.map((row) => String(row.name)), uniqueKeys: [...keys.values()] };
  }
  const quoted = quoteIdentifier('sqlite', table);
  const { rows: columns } = await db.query(`PRAGMA table_info(${quoted})`);
  if (columns.length === 0) return undefined;
  const primaryKey = columns
    .filter((row) => Number(row.pk) > 0)
    .sort((x, y) => Number(x.pk) - Number(y.pk))
    .map((row) => String(row.name));
  const uniqueKeys: string[][] = primaryKey.length > 0 ? [primaryKey] : [];
  const { rows: indexes } = await db.query(`PRAGMA index_list(${quoted})`);
  for (const index of indexes) {
    // The primary key's own index (origin "pk") is already counted from table_info.
    if (Number(index.unique) !== 1 || index.origin === 'pk') continue;
    const { rows: parts } = await db.query(
      `PRAGMA index_info(${quoteIdentifier('sqlite', String(index.name))})`,
    );
    uniqueKeys.push(parts.sort((x, y) => Number(x.seqno) - Number(y.seqno)).map((row) => String(row.name)));
  }
  return { columns: columns.map((row) => String(row.name)), uniqueKeys };
}

/**
 * Why a sink must not write to the table the database has, or undefined when it may: the table's
 * only unique key must be the sink's key (another one would make an upsert merge rows on it), and
 * it must have every column of the sink (more columns are allowed). Names compare case-insensitively.
 */
export function existingTableProblem(sink: SinkTable, existing: ExistingTable): string | undefined {
  const norm = (names: readonly string[]) => names.map((name) => name.toLowerCase());
  const key = norm(sink.key).sort().join(', ');
  const keys = existing.uniqueKeys.map((names) => norm(names).sort().join(', '));
  const shown = existing.uniqueKeys.map((names) => `(${names.join(', ')})`).join(', ') || 'none';
  if (keys.length !== 1 || keys[0] !== key) {
    return `table "${sink.name}" already exists with unique key ${shown}, not the sink's key (${sink.key.join(', ')}): another job's table? Choose another table name, or change the key to match.`;
  }
  const have = new Set(norm(existing.columns));
  const missing = sink.columns.map((c) => c.name).filter((name) => !have.has(name.toLowerCase()));
  if (missing.length > 0) {
    return `table "${sink.name}" already exists without column${missing.length === 1 ? '' : 's'} ${missing.join(', ')}: another job's table? Choose another table name, or add the column${missing.length === 1 ? '' : 's'}.`;
  }
  return undefined;
}

/**
 * One problem (with the job whose sink came later) per table that several sinks define differently (another key, other columns), among
 * the sinks of every job of a project: written by both, one job's rows would merge into the other's.
 * Table names compare case-insensitively.
 */
export function sharedTableProblems(
  sinks: readonly { readonly jobId: string; readonly table: SinkTable }[],
): { readonly jobId: string; readonly problem: string }[] {
  const first = new Map<string, { readonly jobId: string; readonly table: SinkTable }>();
  const problems: { jobId: string; problem: string }[] = [];
  for (const sink of sinks) {
    const name = sink.table.name.toLowerCase();
    const earlier = first.get(name);
    if (!earlier) {
      first.set(name, sink);
      continue;
    }
    const difference = sinkTableDifference(earlier.table, sink.table);
    if (difference) {
      problems.push({
        jobId: sink.jobId,
        problem: `jobs "${earlier.jobId}" and "${sink.jobId}" both write table "${sink.table.name}" but define it differently (${difference}): give one of them another table`,
      });
    }
  }
  return problems;
}
