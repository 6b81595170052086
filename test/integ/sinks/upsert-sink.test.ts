import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineRecord } from '../../../shared/sinks/record.ts';
import { routeRecords } from '../../../shared/sinks/route.ts';
import type { SinkContext } from '../../../shared/sinks/types.ts';
import { upsertSink } from '../../../shared/sinks/upsert-sink.ts';
import type { SqlDatabase } from '../../../shared/sql.ts';
import {
  createMysqlTestDatabase,
  type MysqlTestDatabase,
  mysqlReachable,
  sqliteDatabase,
  type TestSqliteDatabase,
} from '../../helpers/sql-databases.ts';

const SalesRow = defineRecord(
  'sales_row',
  z.object({
    day: z.string(),
    store: z.string(),
    units: z.int(),
    amount: z.number(),
    refunded: z.boolean(),
    closedAt: z.date(),
    note: z.string().nullable(),
  }),
);

const at = (iso: string) => new Date(iso);

/** The same assertions against each dialect. */
function upsertSuite(open: () => Promise<{ database: SqlDatabase; close(): Promise<void> }>) {
  let database: SqlDatabase;
  let close: () => Promise<void>;
  const context = (runId: number): SinkContext => ({
    jobId: 'daily_sales',
    runId,
    stateDatabase: database,
    outputDir: '.piko/output',
  });
  /** Rows as plain values whatever the driver returns (booleans 1/0, dates as ms or Date). */
  const readRows = async (table: string) => {
    const { rows } = await database.query(`SELECT * FROM ${table} ORDER BY day, store`);
    return rows.map((r) => ({
      day: r.day,
      store: r.store,
      units: Number(r.units),
      amount: Number(r.amount),
      refunded: Boolean(Number(r.refunded)),
      closedAt: new Date(r.closedAt instanceof Date ? r.closedAt : Number(r.closedAt)).toISOString(),
      note: r.note,
    }));
  };

  beforeAll(async () => {
    ({ database, close } = await open());
  });
  afterAll(async () => {
    await close();
  });

  it('creates the table and keeps one row per key with the latest values when written twice', async () => {
    const sink = upsertSink(SalesRow, { table: 'sales_daily', key: ['day', 'store'], batchSize: 2 });
    const first = [
      SalesRow.of({
        day: '2026-01-01',
        store: 'north',
        units: 1,
        amount: 10.5,
        refunded: false,
        closedAt: at('2026-01-01T20:00:00.001Z'),
        note: null,
      }),
      SalesRow.of({
        day: '2026-01-01',
        store: 'south',
        units: 2,
        amount: 20,
        refunded: false,
        closedAt: at('2026-01-01T21:00:00.000Z'),
        note: 'first',
      }),
      SalesRow.of({
        day: '2026-01-02',
        store: 'north',
        units: 3,
        amount: 30,
        refunded: true,
        closedAt: at('2026-01-02T20:00:00.000Z'),
        note: null,
      }),
    ];
    const second = [
      SalesRow.of({
        day: '2026-01-01',
        store: 'south',
        units: 5,
        amount: 25.25,
        refunded: true,
        closedAt: at('2026-01-01T22:30:00.999Z'),
        note: 'rerun',
      }),
      SalesRow.of({
        day: '2026-01-01',
        store: 'north',
        units: 1,
        amount: 10.5,
        refunded: false,
        closedAt: at('2026-01-01T20:00:00.001Z'),
        note: null,
      }),
      SalesRow.of({
        day: '2026-01-02',
        store: 'north',
        units: 3,
        amount: 31,
        refunded: true,
        closedAt: at('2026-01-02T20:00:00.000Z'),
        note: null,
      }),
    ];

    await routeRecords(first, [sink], context(1));
    const result = await routeRecords(second, [sink], context(1));

    expect(result).toEqual({ records: { sales_row: 3 }, batches: 2 });
    expect(await readRows('sales_daily')).toEqual([
      {
        day: '2026-01-01',
        store: 'north',
        units: 1,
        amount: 10.5,
        refunded: false,
        closedAt: '2026-01-01T20:00:00.001Z',
        note: null,
      },
      {
        day: '2026-01-01',
        store: 'south',
        units: 5,
        amount: 25.25,
        refunded: true,
        closedAt: '2026-01-01T22:30:00.999Z',
        note: 'rerun',
      },
      {
        day: '2026-01-02',
        store: 'north',
        units: 3,
        amount: 31,
        refunded: true,
        closedAt: '2026-01-02T20:00:00.000Z',
        note: null,
      },
    ]);
  });

  it('upserts a large batch, with repeated keys inside it, in multi-row statements', async () => {
    const sink = upsertSink(SalesRow, { table: 'sales_bulk', key: ['day', 'store'] });
    const records = Array.from({ length: 1_500 }, (_, i) =>
      SalesRow.of({
        day: `2026-01-${String((i % 30) + 1).padStart(2, '0')}`,
        store: `s${Math.floor(i / 30) % 25}`,
        units: i,
        amount: i / 2,
        refunded: i % 2 === 0,
        closedAt: at('2026-02-01T00:00:00.000Z'),
        note: null,
      }),
    );

    await routeRecords(records, [sink], context(2));

    const { rows } = await database.query('SELECT COUNT(*) AS n, MAX(units) AS top FROM sales_bulk');
    expect(Number(rows[0]!.n)).toBe(750);
    expect(Number(rows[0]!.top)).toBe(1_499);
  });
}

describe('upsertSink on SQLite', () => {
  upsertSuite(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'piko-sinks-'));
    const db: TestSqliteDatabase = sqliteDatabase(join(dir, 'state.db'));
    return {
      database: db,
      async close() {
        db.close();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  });
});

const reachable = await mysqlReachable('upsertSink MariaDB integration tests');

describe.skipIf(!reachable)('upsertSink on MariaDB', () => {
  upsertSuite(async () => {
    const db: MysqlTestDatabase = await createMysqlTestDatabase('sinks');
    return { database: db.database, close: () => db.drop() };
  });
});
