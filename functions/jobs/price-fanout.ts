import * as z from 'zod';
import { defineJob, defineRecord, jsonLinesSink } from '#piko';
import { localPriceSource } from './support/price-source.ts';

/** One minute of prices, summarised. */
export const PriceSummary = defineRecord(
  'price_summary',
  z.object({ start: z.string(), items: z.number().int(), average: z.number(), max: z.number() }),
);

const ITEMS = 300;

/**
 * Pattern (a), high-frequency I/O: every minute, 300 concurrent requests to an HTTP API (a local
 * one the example starts itself), summarised into one record per interval.
 */
export const priceFanout = defineJob({
  id: 'price_fanout',
  description: 'every minute: 300 concurrent HTTP requests to a local price API, summarised',
  schedule: { cron: '* * * * *' },
  start: '2026-01-01T00:00:00Z',
  catchupWindow: '5m',
  concurrency: 5,
  retry: { attempts: 3, backoff: '2s' },
  timeout: '30s',
  resources: { prices: localPriceSource() },
  sinks: [jsonLinesSink(PriceSummary, { file: 'price-summary.jsonl' })],
  handler: async (ctx, { prices }) => {
    const at = ctx.interval.start.toISOString();
    const quotes = await Promise.all(
      Array.from({ length: ITEMS }, async (_, item) => {
        const response = await fetch(`${prices.baseUrl}/price?item=${item}&at=${at}`, { signal: ctx.signal });
        if (!response.ok) throw new Error(`price API answered ${response.status} for item ${item}`);
        return ((await response.json()) as { price: number }).price;
      }),
    );
    const average = quotes.reduce((sum, price) => sum + price, 0) / quotes.length;
    const max = Math.max(...quotes);
    ctx.log.debug('prices fetched', { items: quotes.length, max });
    ctx.emit(PriceSummary.of({ start: at, items: quotes.length, average, max }));
    return { items: quotes.length };
  },
});
