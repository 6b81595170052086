import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { SinkDefinitionError } from '../../../shared/errors.ts';
import { defineRecord } from '../../../shared/sinks/record.ts';
import { columnsOf, createTableSql, upsertSql } from '../../../shared/sinks/sql-table.ts';
import type { SinkContext } from '../../../shared/sinks/types.ts';
import { upsertSink } from '../../../shared/sinks/upsert-sink.ts';
import type { SqlDatabase, SqlDialect } from '../../../shared/sql.ts';

const SalesRow = defineRecord(
  'sales_row',
  z.object({
    day: z.string().max(10),
    store: z.enum(['north', 'south']),
    units: z.int(),
    amount: z.number(),
    refunded: z.boolean(),
    closedAt: z.date().nullable(),
    note: z.string().optional(),
  }),
);

/**
 * A database that records statements instead of running them. It answers the sink's reading of the
 * table's shape (information_schema, PRAGMA; not recorded) as if the table had `table`'s columns and
 * primary key.
 */
function recordingDatabase(
  dialect: SqlDialect,
  table: { columns: readonly string[]; key: readonly string[] },
) {
  const statements: { sql: string; params: readonly unknown[]; inTransaction: boolean }[] = [];
  let transactions = 0;
  const shape = (sql: string) => {
    if (/information_schema\.COLUMNS/.test(sql)) return table.columns.map((name) => ({ name }));
    if (/information_schema\.STATISTICS/.test(sql))
      return table.key.map((name) => ({ indexName: 'PRIMARY', name }));
    if (/PRAGMA table_info/.test(sql))
      return table.columns.map((name) => ({ name, pk: table.key.indexOf(name) + 1 }));
    if (/PRAGMA index_list/.test(sql)) return [];
    return undefined;
  };
  const make = (inTransaction: boolean): SqlDatabase => ({
    dialect,
    async query(sql, params = []) {
      const rows = shape(sql);
      if (rows) return { rows, affectedRows: 0 };
      statements.push({ sql, params, inTransaction });
      return { rows: [], affectedRows: 0 };
    },
    async transaction(work) {
      transactions += 1;
      return work(make(true));
    },
  });
  return { database: make(false), statements, transactions: () => transactions };
}

/** The table of `SalesRow` as the sink creates it. */
const SALES_TABLE = { columns: columnsOf(SalesRow.schema).columns.map((c) => c.name), key: ['day', 'store'] };

const contextFor = (stateDatabase: SqlDatabase): SinkContext => ({
  jobId: 'daily_sales',
  runId: 1,
  stateDatabase,
  outputDir: '.piko/output',
});

describe('createTableSql', () => {
  const { columns } = columnsOf(SalesRow.schema);

  it('maps zod types to MySQL columns with the key as primary key', () => {
    expect(createTableSql('mysql', 'sales_daily', columns, ['day', 'store'])).toBe(
      [
        'CREATE TABLE IF NOT EXISTS `sales_daily` (',
        '  `day` VARCHAR(10) NOT NULL,',
        '  `store` VARCHAR(255) NOT NULL,',
        '  `units` BIGINT NOT NULL,',
        '  `amount` DOUBLE NOT NULL,',
        '  `refunded` BOOLEAN NOT NULL,',
        '  `closedAt` DATETIME(3) NULL,',
        '  `note` VARCHAR(255) NULL,',
        '  PRIMARY KEY (`day`, `store`)',
        ') DEFAULT CHARSET=utf8mb4',
      ].join('\n'),
    );
  });

  it('maps zod types to SQLite columns, dates as epoch milliseconds', () => {
    expect(createTableSql('sqlite', 'sales_daily', columns, ['day', 'store'])).toBe(
      [
        'CREATE TABLE IF NOT EXISTS "sales_daily" (',
        '  "day" TEXT NOT NULL,',
        '  "store" TEXT NOT NULL,',
        '  "units" BIGINT NOT NULL,',
        '  "amount" DOUBLE NOT NULL,',
        '  "refunded" BOOLEAN NOT NULL,',
        '  "closedAt" INTEGER NULL,',
        '  "note" TEXT NULL,',
        '  PRIMARY KEY ("day", "store")',
        ')',
      ].join('\n'),
    );
  });
});

describe('upsertSql', () => {
  const columns = columnsOf(z.object({ day: z.string(), store: z.string(), amount: z.number() })).columns;

  it('updates the non-key columns on a duplicate key in MySQL', () => {
    expect(upsertSql('mysql', 't', columns, ['day', 'store'], 2)).toBe(
      'INSERT INTO `t` (`day`, `store`, `amount`) VALUES (?, ?, ?), (?, ?, ?) ON DUPLICATE KEY UPDATE `amount` = VALUES(`amount`)',
    );
  });

  it('updates the non-key columns on conflict in SQLite', () => {
    expect(upsertSql('sqlite', 't', columns, ['day', 'store'], 2)).toBe(
      'INSERT INTO "t" ("day", "store", "amount") VALUES (?, ?, ?), (?, ?, ?) ON CONFLICT ("day", "store") DO UPDATE SET "amount" = excluded."amount"',
    );
  });

  it('does nothing on a duplicate when every column is part of the key', () => {
    expect(upsertSql('mysql', 't', columns, ['day', 'store', 'amount'], 1)).toBe(
      'INSERT INTO `t` (`day`, `store`, `amount`) VALUES (?, ?, ?) ON DUPLICATE KEY UPDATE `day` = `day`',
    );
    expect(upsertSql('sqlite', 't', columns, ['day', 'store', 'amount'], 1)).toBe(
      'INSERT INTO "t" ("day", "store", "amount") VALUES (?, ?, ?) ON CONFLICT ("day", "store", "amount") DO NOTHING',
    );
  });
});

describe('upsertSink', () => {
  const row = (day: string, store: 'north' | 'south') => ({
    day,
    store,
    units: 3,
    amount: 9.5,
    refunded: true,
    closedAt: new Date('2026-01-01T23:59:59.123Z'),
  });

  it('lists every problem of its definition at once', () => {
    const Bad = defineRecord(
      'bad_row',
      z.object({ 'day-of-week': z.string(), tags: z.array(z.string()), store: z.string().nullable() }),
    );

    const act = () =>
      upsertSink(Bad, { table: 'sales daily', key: ['store', 'store', 'missing' as never], batchSize: 0 });

    expect(act).toThrow(SinkDefinitionError);
    expect(act).toThrow(
      [
        'Invalid upsertSink for record type "bad_row" (table "sales daily"):',
        '  - Table "sales daily" is not a valid identifier: use a letter or "_", then letters, digits or "_", at most 64 characters.',
        '  - Column "day-of-week" is not a valid identifier: use a letter or "_", then letters, digits or "_", at most 64 characters.',
        '  - Column "tags" has type array, which cannot be stored: use a string, number, int, boolean or date (optional, nullable or with a default).',
        '  - Key field "store" must not be optional or nullable.',
        '  - Key field "store" is listed twice.',
        '  - Key field "missing" is not a field of record type "bad_row".',
        '  - batchSize must be an integer of 1 or more, got 0.',
      ].join('\n'),
    );
  });

  it('refuses a record type whose schema is not an object, and an empty key', () => {
    const Line = defineRecord('line', z.string());

    expect(() => upsertSink(Line, { table: 'lines', key: [] })).toThrow(
      'Invalid upsertSink for record type "line" (table "lines"):\n  - The record schema must be a z.object(), not string.\n  - The key must name at least one field.',
    );
  });

  it('creates the table once, then upserts a batch in one statement with values converted for MySQL', async () => {
    const db = recordingDatabase('mysql', SALES_TABLE);
    const sink = upsertSink(SalesRow, { table: 'sales_daily', key: ['day', 'store'] });

    await sink.write([row('2026-01-01', 'north'), row('2026-01-01', 'south')], contextFor(db.database));
    await sink.write([row('2026-01-02', 'north')], contextFor(db.database));

    expect(sink.batchSize).toBe(500);
    expect(db.statements.map((s) => s.sql.split(' ').slice(0, 3).join(' '))).toEqual([
      'CREATE TABLE IF',
      'INSERT INTO `sales_daily`',
      'INSERT INTO `sales_daily`',
    ]);
    expect(db.statements[2]!.params).toEqual([
      '2026-01-02',
      'north',
      3,
      9.5,
      1,
      '2026-01-01 23:59:59.123',
      null,
    ]);
  });

  it('binds dates as epoch milliseconds and booleans as 1/0 in SQLite, and can leave the table alone', async () => {
    const db = recordingDatabase('sqlite', SALES_TABLE);
    const sink = upsertSink(SalesRow, { table: 'sales_daily', key: ['day', 'store'], createTable: false });

    await sink.write(
      [{ ...row('2026-01-01', 'north'), refunded: false, closedAt: null }],
      contextFor(db.database),
    );

    expect(db.statements).toHaveLength(1);
    expect(db.statements[0]!.params).toEqual(['2026-01-01', 'north', 3, 9.5, 0, null, null]);
  });

  it('splits a batch that needs more placeholders than SQLite allows, in one transaction', async () => {
    const Wide = defineRecord(
      'wide_row',
      z.object(Object.fromEntries(Array.from({ length: 100 }, (_, i) => [`c${i}`, z.int()]))),
    );
    const db = recordingDatabase('sqlite', {
      columns: columnsOf(Wide.schema).columns.map((c) => c.name),
      key: ['c0'],
    });
    const sink = upsertSink(Wide, { table: 'wide', key: ['c0'], createTable: false });
    const records = Array.from({ length: 500 }, (_, r) =>
      Object.fromEntries(Array.from({ length: 100 }, (_, i) => [`c${i}`, r * 100 + i])),
    );

    await sink.write(records, contextFor(db.database));

    expect(db.transactions()).toBe(1);
    expect(db.statements.map((s) => s.params.length)).toEqual([32_700, 17_300]);
    expect(db.statements.every((s) => s.inTransaction)).toBe(true);
  });
});
