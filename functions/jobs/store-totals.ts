import * as z from 'zod';
import { defineJob, defineRecord, sqlPool, upsertSink } from '#piko';

/** Sales of one store over one interval. */
export const StoreTotal = defineRecord(
  'store_total',
  z.object({ interval_start: z.string(), store: z.string(), orders: z.number().int(), revenue: z.number() }),
);

const STORES = ['north', 'south', 'east', 'west'];

/**
 * Pattern (b), a shared bounded pool: many concurrent runs each borrow one connection of a pool of
 * 10 (MySQL when PIKO_MYSQL__DSN is set, else the local SQLite file), compute per-store totals with
 * SQL, and write them through an idempotent upsert sink: re-running an interval never duplicates.
 */
export const storeTotals = defineJob({
  id: 'store_totals',
  description: 'every 5 minutes: per-store totals through a pool of 10 connections, upserted',
  schedule: { cron: '*/5 * * * *' },
  start: '2026-01-01T00:00:00Z',
  catchupWindow: '30m',
  concurrency: 10,
  retry: { attempts: 3, backoff: '1s' },
  timeout: '1m',
  config: z.object({ currency: z.string().default('EUR') }),
  resources: { db: sqlPool({ max: 10 }) },
  sinks: [upsertSink(StoreTotal, { table: 'example_store_totals', key: ['interval_start', 'store'] })],
  handler: async (ctx, { db }) => {
    const minute = Math.floor(ctx.interval.start.getTime() / 60_000);
    for (const [index, store] of STORES.entries()) {
      // Stands in for a real aggregate query against the source tables.
      const { rows } = await db.query('SELECT ? * 3 + 7 AS orders, ? * 1.25 AS revenue', [
        (minute + index) % 50,
        (minute * (index + 1)) % 997,
      ]);
      const row = rows[0] as { orders: number | string; revenue: number | string };
      ctx.emit(
        StoreTotal.of({
          interval_start: ctx.interval.start.toISOString(),
          store,
          orders: Number(row.orders),
          revenue: Number(row.revenue),
        }),
      );
    }
    return { stores: STORES.length, currency: ctx.config.currency };
  },
});
