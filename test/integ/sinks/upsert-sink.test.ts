import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { SinkTableMismatchError } from '../../../shared/errors.ts';
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

  describe("a table that is not the sink's", () => {
    const StoreTotal = defineRecord(
      'store_total',
      z.object({ day: z.string(), store_id: z.string(), total: z.number() }),
    );
    const readTotals = async (table: string) =>
      (await database.query(`SELECT day, store_id, total FROM ${table} ORDER BY day, store_id`)).rows.map(
        (r) => ({ day: r.day, store_id: r.store_id, total: Number(r.total) }),
      );

    it("refuses to write into another job's table keyed differently, and leaves its rows as they were", async () => {
      // Arrange: job A's table, keyed by day only
      const jobA = upsertSink(StoreTotal, { table: 'store_totals_a', key: ['day'] });
      await jobA.write([{ day: '2026-01-01', store_id: 'north', total: 10 }], context(1));
      const jobB = upsertSink(StoreTotal, { table: 'store_totals_a', key: ['day', 'store_id'] });

      // Act
      const written = jobB.write(
        [
          { day: '2026-01-01', store_id: 'south', total: 99 },
          { day: '2026-01-02', store_id: 'south', total: 5 },
        ],
        context(2),
      );

      // Assert
      await expect(written).rejects.toThrow(
        new SinkTableMismatchError(
          'upsertSink for record type "store_total": table "store_totals_a" already exists with unique key (day), ' +
            "not the sink's key (day, store_id): another job's table? Choose another table name, or change the key to match.",
        ),
      );
      await expect(written).rejects.toBeInstanceOf(SinkTableMismatchError);
      expect(await readTotals('store_totals_a')).toEqual([
        { day: '2026-01-01', store_id: 'north', total: 10 },
      ]);
    });

    it('refuses a table with the same key that lacks a column of the sink', async () => {
      // Arrange
      const DayTotal = defineRecord('day_total', z.object({ day: z.string(), total: z.number() }));
      await upsertSink(DayTotal, { table: 'day_totals_a', key: ['day'] }).write(
        [{ day: '2026-01-01', total: 1 }],
        context(1),
      );

      // Act
      const written = upsertSink(StoreTotal, { table: 'day_totals_a', key: ['day'] }).write(
        [{ day: '2026-01-01', store_id: 'north', total: 2 }],
        context(2),
      );

      // Assert
      await expect(written).rejects.toThrow(
        'upsertSink for record type "store_total": table "day_totals_a" already exists without column store_id: ' +
          "another job's table? Choose another table name, or add the column.",
      );
    });

    it('refuses to write when createTable is false and the table does not exist', async () => {
      const sink = upsertSink(StoreTotal, { table: 'never_created', key: ['day'], createTable: false });

      await expect(sink.write([{ day: '2026-01-01', store_id: 'n', total: 1 }], context(1))).rejects.toThrow(
        'upsertSink for record type "store_total": table "never_created" does not exist: create it, or leave createTable at its default (true).',
      );
    });

    it('writes into a table it shares with an identical definition', async () => {
      const first = upsertSink(StoreTotal, { table: 'shared_ok', key: ['day', 'store_id'] });
      const second = upsertSink(StoreTotal, { table: 'shared_ok', key: ['day', 'store_id'] });

      await first.write([{ day: '2026-01-01', store_id: 'n', total: 1 }], context(1));
      await second.write([{ day: '2026-01-01', store_id: 's', total: 2 }], context(2));

      expect(await readTotals('shared_ok')).toEqual([
        { day: '2026-01-01', store_id: 'n', total: 1 },
        { day: '2026-01-01', store_id: 's', total: 2 },
      ]);
    });
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
