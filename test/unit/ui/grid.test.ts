import { describe, expect, it } from 'vitest';
import { compileSchedule } from '../../../shared/schedule/index.ts';
import type { RunBucket, RunSpan } from '../../../shared/store/types.ts';
import {
  cellsFromBuckets,
  cellsFromSpans,
  type GridCell,
  MAX_CELLS_PER_INTERVAL,
  TickBudget,
} from '../../../shared/ui/grid.ts';

const HOUR_MS = 3_600_000;
const T0 = new Date('2026-03-01T00:00:00.000Z');
const hour = (i: number) => new Date(T0.getTime() + i * HOUR_MS);
const hourly = compileSchedule('0 * * * *');
const span = (status: RunSpan['status'], from: number, to: number): RunSpan => ({
  status,
  start: hour(from),
  end: hour(to),
  runs: to - from,
});
/** Cells as `kind from-to count` (hours from T0), for short assertions. */
const brief = (cells: readonly GridCell[]) =>
  cells.map(
    (cell) =>
      `${cell.mixed ? 'mixed:' : ''}${cell.kind} ${(cell.start.getTime() - T0.getTime()) / HOUR_MS}-${(cell.end.getTime() - T0.getTime()) / HOUR_MS} ${JSON.stringify(cell.counts)}`,
  );

describe('interval grid cells', () => {
  it('tells missing intervals (due, no run) from future ones in the gaps between spans', () => {
    // Arrange: the job begins at 01:00; now is 10:30.
    const spans = [span('succeeded', 2, 4), span('failed', 4, 5), span('succeeded', 7, 9)];
    const bounds = { firstStart: hour(1), now: new Date(hour(10).getTime() + 30 * 60_000) };

    // Act: a range long enough for spans (more than a cell per interval).
    const grid = cellsFromSpans(
      spans,
      { from: T0, to: hour(12 + MAX_CELLS_PER_INTERVAL) },
      hourly,
      bounds,
      new TickBudget(10_000),
    );

    // Assert
    expect(grid.mode).toBe('spans');
    expect(brief(grid.cells)).toEqual([
      'missing 1-2 {"missing":1}',
      'succeeded 2-4 {"succeeded":2}',
      'failed 4-5 {"failed":1}',
      'missing 5-7 {"missing":2}',
      'succeeded 7-9 {"succeeded":2}',
      'missing 9-10 {"missing":1}',
      `future 10-${12 + MAX_CELLS_PER_INTERVAL} {"future":${2 + MAX_CELLS_PER_INTERVAL}}`,
    ]);
    expect(grid.totals).toEqual({ missing: 4, succeeded: 4, failed: 1, future: 2 + MAX_CELLS_PER_INTERVAL });
    expect(grid.exact).toBe(true);
  });

  it('gives each interval its own cell over a short range, cutting spans at its edges', () => {
    const grid = cellsFromSpans(
      [span('succeeded', 0, 3)],
      { from: hour(1), to: new Date(hour(4).getTime() + 1) },
      hourly,
      { firstStart: T0, now: hour(100) },
      new TickBudget(10_000),
    );

    expect(grid.mode).toBe('intervals');
    // The span starts before the range; the interval of 04:00 starts 1 ms before its end.
    expect(brief(grid.cells)).toEqual([
      'succeeded 1-2 {"succeeded":1}',
      'succeeded 2-3 {"succeeded":1}',
      'missing 3-4 {"missing":1}',
      'missing 4-5 {"missing":1}',
    ]);
  });

  it('counts nothing as missing before the job’s first interval, or when nothing tells where it is', () => {
    const range = { from: T0, to: hour(400) };
    const known = cellsFromSpans(
      [span('succeeded', 5, 6)],
      range,
      hourly,
      { firstStart: hour(5), now: hour(6) },
      new TickBudget(10_000),
    );
    expect(brief(known.cells).slice(0, 2)).toEqual([
      'succeeded 5-6 {"succeeded":1}',
      'future 6-400 {"future":394}',
    ]);
    const unknown = cellsFromSpans(
      [],
      range,
      hourly,
      { firstStart: undefined, now: hour(6) },
      new TickBudget(10_000),
    );
    expect(unknown.cells).toEqual([]);
  });

  it('follows the schedule across DST: a local time that does not exist makes one long interval', () => {
    // 02:30 every day in New York: 2026-03-08 02:30 does not exist, so 03-07 02:30 → 03-09 02:30.
    const daily = compileSchedule('30 2 * * *', 'America/New_York');
    const grid = cellsFromSpans(
      [],
      { from: new Date('2026-03-06T00:00:00Z'), to: new Date('2026-03-10T12:00:00Z') },
      daily,
      { firstStart: new Date('2026-01-01T07:30:00Z'), now: new Date('2026-03-10T12:00:00Z') },
      new TickBudget(10_000),
    );
    expect(grid.cells.map((cell) => [cell.start.toISOString(), cell.end.toISOString()])).toEqual([
      ['2026-03-06T07:30:00.000Z', '2026-03-07T07:30:00.000Z'],
      ['2026-03-07T07:30:00.000Z', '2026-03-09T06:30:00.000Z'],
      ['2026-03-09T06:30:00.000Z', '2026-03-10T06:30:00.000Z'],
      ['2026-03-10T06:30:00.000Z', '2026-03-11T06:30:00.000Z'],
    ]);
    expect(grid.cells.map((cell) => cell.kind)).toEqual(['missing', 'missing', 'missing', 'future']);
  });

  it('says its counts are lower bounds once the tick budget is spent, and still draws the gap', () => {
    const grid = cellsFromSpans(
      [],
      { from: T0, to: hour(1_000) },
      hourly,
      { firstStart: T0, now: hour(2_000) },
      new TickBudget(10),
    );
    expect(grid.exact).toBe(false);
    expect(grid.cells).toHaveLength(1);
    expect(grid.cells[0]).toMatchObject({ kind: 'missing', start: T0, end: hour(1_000), exact: false });
    expect(grid.cells[0]!.counts.missing).toBe(10);
  });

  it('merges uniform buckets and colours a mixed one by its most urgent status', () => {
    // Buckets of 4 h over 16 h: [0,4) all succeeded, [4,8) all succeeded, [8,12) one failure, [12,16) a missing hour.
    const buckets: RunBucket[] = [
      { index: 0, status: 'succeeded', runs: 4 },
      { index: 1, status: 'succeeded', runs: 4 },
      { index: 2, status: 'succeeded', runs: 3 },
      { index: 2, status: 'failed', runs: 1 },
      { index: 3, status: 'succeeded', runs: 3 },
    ];
    const grid = cellsFromBuckets(
      buckets,
      4 * HOUR_MS,
      { from: T0, to: hour(16) },
      hourly,
      { firstStart: T0, now: hour(20) },
      new TickBudget(1_000),
    );

    expect(grid.mode).toBe('buckets');
    expect(brief(grid.cells)).toEqual([
      'succeeded 0-8 {"succeeded":8}',
      'mixed:failed 8-12 {"succeeded":3,"failed":1}',
      'mixed:missing 12-16 {"succeeded":3,"missing":1}',
    ]);
    expect(grid.bucketMs).toBe(4 * HOUR_MS);
  });

  it('splits the bucket that holds now into due and future intervals', () => {
    const buckets: RunBucket[] = [
      { index: 0, status: 'succeeded', runs: 4 },
      { index: 1, status: 'succeeded', runs: 4 },
      { index: 2, status: 'succeeded', runs: 2 },
    ];
    const now = new Date(hour(10).getTime() + 30 * 60_000);
    const grid = cellsFromBuckets(
      buckets,
      4 * HOUR_MS,
      { from: T0, to: hour(16) },
      hourly,
      { firstStart: T0, now },
      new TickBudget(1_000),
    );

    // 08:00–10:00 ran; 10:00 and 11:00 end after 10:30; 12:00–16:00 is to come.
    expect(brief(grid.cells)).toEqual([
      'succeeded 0-8 {"succeeded":8}',
      'mixed:succeeded 8-12 {"succeeded":2,"future":2}',
      'future 12-16 {"future":4}',
    ]);
  });
});
