/**
 * The store_totals example job, unit-tested as a job author would with `runJobOnce`: one interval, its
 * pool replaced by a real SQLite database on a temporary file, the upserted records kept in memory.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runJobOnce } from '#piko';
import { storeTotals } from '../../../functions/jobs/store-totals.ts';
import { openSqliteDatabase } from '../../../shared/store/sqlite.ts';
import { type TempSqliteFile, tempSqliteFile } from '../../helpers/sqlite.ts';

/** 2026-03-01 10:05 UTC: minute 29,539,325 since the epoch. */
const INTERVAL = { start: '2026-03-01T10:05:00Z', end: '2026-03-01T10:10:00Z' };
const MINUTE = Date.parse(INTERVAL.start) / 60_000;

describe('store_totals', () => {
  let temp: TempSqliteFile;
  let db: ReturnType<typeof openSqliteDatabase>;
  beforeAll(async () => {
    temp = await tempSqliteFile('piko-store-totals-');
    db = openSqliteDatabase(temp.file);
  });
  afterAll(async () => {
    await db.close();
    await temp.cleanup();
  });

  it('computes one total per store with SQL and emits them for the upsert sink, in the default currency', async () => {
    const { output, records, logs } = await runJobOnce(storeTotals, {
      interval: INTERVAL,
      resources: { db },
    });

    expect(output).toEqual({ stores: 4, currency: 'EUR' });
    expect(records).toEqual({
      store_total: ['north', 'south', 'east', 'west'].map((store, index) => ({
        interval_start: '2026-03-01T10:05:00.000Z',
        store,
        orders: ((MINUTE + index) % 50) * 3 + 7,
        revenue: ((MINUTE * (index + 1)) % 997) * 1.25,
      })),
    });
    expect(logs).toEqual([]);
  });

  it('takes a currency override, and refuses one the schema rejects', async () => {
    const { output } = await runJobOnce(storeTotals, {
      interval: INTERVAL,
      resources: { db },
      config: { currency: 'USD' },
    });

    expect(output).toEqual({ stores: 4, currency: 'USD' });
    await expect(
      runJobOnce(storeTotals, { interval: INTERVAL, resources: { db }, config: { currency: 7 } }),
    ).rejects.toThrow(
      'Invalid config for job "store_totals": currency: Invalid input: expected string, received number',
    );
  });
});
