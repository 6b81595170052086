/**
 * The price_fanout example job, unit-tested with `runJobOnce`: one minute, its own local price API
 * (the job's resource, created for the call and closed after it), the summary kept in memory.
 */
import { describe, expect, it } from 'vitest';
import { runJobOnce } from '#piko';
import { priceFanout } from '../../../functions/jobs/price-fanout.ts';

const INTERVAL = { start: '2026-03-01T10:05:00Z', end: '2026-03-01T10:06:00Z' };

/** What the local price API answers for an item at a minute (functions/jobs/support/price-source.ts). */
function price(item: number, at: string): number {
  return ((item * 7919 + Date.parse(at) / 60_000) % 1000) / 10;
}

describe('price_fanout', () => {
  it('asks the price API for 300 items and emits one summary of the minute', async () => {
    const prices = Array.from({ length: 300 }, (_, item) => price(item, INTERVAL.start));

    const { output, records, logs } = await runJobOnce(priceFanout, { interval: INTERVAL });

    expect(output).toEqual({ items: 300 });
    expect(records.price_summary).toHaveLength(1);
    const [summary] = records.price_summary as {
      start: string;
      items: number;
      average: number;
      max: number;
    }[];
    expect(summary).toMatchObject({
      start: '2026-03-01T10:05:00.000Z',
      items: 300,
      max: Math.max(...prices),
    });
    expect(summary!.average).toBeCloseTo(prices.reduce((sum, p) => sum + p, 0) / prices.length, 9);
    expect(logs).toEqual([
      {
        level: 'debug',
        stage: 'main',
        message: 'prices fetched',
        fields: { items: 300, max: Math.max(...prices) },
      },
    ]);
  });

  it('refuses an interval that is not one minute of its schedule', async () => {
    await expect(
      runJobOnce(priceFanout, { interval: { start: '2026-03-01T10:05:30Z', end: '2026-03-01T10:06:30Z' } }),
    ).rejects.toThrow(
      'runJobOnce: [2026-03-01T10:05:30.000Z, 2026-03-01T10:06:30.000Z) is not an interval of job "price_fanout" (cron "* * * * *" in UTC); the interval holding 2026-03-01T10:05:30.000Z is [2026-03-01T10:05:00.000Z, 2026-03-01T10:06:00.000Z)',
    );
  });
});
