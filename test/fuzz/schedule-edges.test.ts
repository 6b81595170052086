import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compileSchedule } from '../../shared/schedule/index.ts';
import { FuzzCounts, fuzzRuns } from './arbitraries.ts';

const counts = new FuzzCounts('schedule edges');
/** The instants a Date can hold: ±8.64e15 ms, about 271,821 BC to 275,760 AD. */
const MAX_MS = 8.64e15;
const DAY_MS = 86_400_000;

const cronArb = fc.constantFrom(
  '* * * * *',
  '0 0 * * *',
  '30 2 * * *',
  '0 0 29 2 *',
  '0 12 * * 1',
  '*/7 3 1,15 * *',
);
const zoneArb = fc.constantFrom(
  'UTC',
  'Asia/Kathmandu',
  'America/New_York',
  'Pacific/Kiritimati',
  'Pacific/Pago_Pago',
  'Etc/GMT+12',
  'Etc/GMT-14',
  'Australia/Lord_Howe',
);
/** Instants anywhere, and many within a few weeks of either end of the Date range. */
const instantArb = fc.oneof(
  fc.integer({ min: -MAX_MS, max: MAX_MS }),
  fc.integer({ min: MAX_MS - 40 * DAY_MS, max: MAX_MS }),
  fc.integer({ min: -MAX_MS, max: -MAX_MS + 40 * DAY_MS }),
  fc.constantFrom(MAX_MS, -MAX_MS, 0, -1, Date.UTC(1900, 0, 1), Date.UTC(2100, 1, 28, 23, 59)),
);

describe('schedules at the ends of time', () => {
  it('answers next and previous ticks near the ends of the Date range without hanging or crashing', () => {
    fc.assert(
      fc.property(cronArb, zoneArb, instantArb, (cron, zone, ms) => {
        counts.tick('nextTick/previousTick at any instant, any zone');
        const schedule = compileSchedule(cron, zone);
        const at = new Date(ms);
        const started = performance.now();
        const next = schedule.nextTick(at);
        const previous = schedule.previousTick(at);
        expect(performance.now() - started).toBeLessThan(2_000);
        if (next) expect(next.getTime()).toBeGreaterThan(ms);
        if (previous) expect(previous.getTime()).toBeLessThan(ms);
        if (next && previous)
          expect(schedule.previousTick(next)?.getTime()).toBeGreaterThanOrEqual(previous.getTime());
      }),
      fuzzRuns(400),
    );
  });
});
