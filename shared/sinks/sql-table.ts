/** Tables for record types: columns derived from a zod object schema, DDL and upsert statements. */
import type { z } from 'zod';
import { PikoError } from '../errors.ts';
import type { SqlDialect } from '../sql.ts';

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
