import { describe, expect, it } from 'vitest';
import { defineJob } from '../../../shared/job.ts';
import type { JobState, RunQuery, RunRecord } from '../../../shared/store/types.ts';
import { readLateIntervals } from '../../../shared/ui/deadlines.ts';

const HOUR_MS = 3_600_000;
const T0 = new Date('2026-03-01T00:00:00.000Z');
const hour = (h: number) => new Date(T0.getTime() + h * HOUR_MS);
/** Hourly from T0, due 2 h after each interval's end. */
const job = defineJob({
  id: 'late_ui',
  schedule: { cron: '0 * * * *' },
  start: T0.toISOString(),
  deadline: '2h',
  handler: () => undefined,
});
/** Planned up to 05:00. */
const state: JobState = {
  jobId: job.id,
  watermark: hour(5),
  paused: false,
  skippedTotal: 0,
  updatedAt: T0,
};

/** A store whose only not-succeeded scheduled run is 02:00's, and that keeps the queries it got. */
function storeWithFailedRun() {
  const queries: RunQuery[] = [];
  const failed = { interval: { start: hour(2), end: hour(3) }, status: 'failed' } as RunRecord;
  return {
    queries,
    async findRuns(_jobId: string, query: RunQuery): Promise<RunRecord[]> {
      queries.push(query);
      return query.to && query.to.getTime() > hour(2).getTime() ? [failed] : [];
    },
  };
}

describe('intervals late now', () => {
  it('counts the not-succeeded runs and the unplanned intervals whose deadline passed, merged into ranges', async () => {
    // Arrange: at 09:00 the deadline of the intervals that ended by 07:00 has passed.
    const store = storeWithFailedRun();

    // Act
    const late = await readLateIntervals(store, job, state, hour(9));
    const justBefore = await readLateIntervals(store, job, state, new Date(hour(9).getTime() - 1));

    // Assert: 02:00 failed; 05:00 and 06:00 were never planned (the job is behind).
    expect(late).toEqual({
      deadlineMs: 2 * HOUR_MS,
      count: 3,
      exact: true,
      ranges: [
        { start: hour(2), end: hour(3), intervals: 1 },
        { start: hour(5), end: hour(7), intervals: 2 },
      ],
    });
    expect(store.queries[0]).toEqual({
      to: hour(7),
      statuses: ['waiting', 'pending', 'queued', 'running', 'failed'],
      backfillId: null,
      limit: 1_001,
    });
    // 1 ms before 09:00, 06:00–07:00 is not late yet.
    expect(justBefore?.count).toBe(2);
  });

  it('stops counting at the limit and says the count is a lower bound', async () => {
    const late = await readLateIntervals(storeWithFailedRun(), job, state, hour(9), 2);

    expect(late).toMatchObject({ count: 2, exact: false });
    expect(late?.ranges).toEqual([
      { start: hour(2), end: hour(3), intervals: 1 },
      { start: hour(5), end: hour(6), intervals: 1 },
    ]);
  });

  it('has nothing to say of a job without a deadline, and nothing late before the job is planned', async () => {
    const noDeadline = defineJob({
      id: 'no_deadline',
      schedule: { cron: '0 * * * *' },
      handler: () => undefined,
    });

    expect(await readLateIntervals(storeWithFailedRun(), noDeadline, state, hour(9))).toBeUndefined();
    expect(await readLateIntervals(storeWithFailedRun(), job, undefined, hour(9))).toEqual({
      deadlineMs: 2 * HOUR_MS,
      count: 0,
      exact: true,
      ranges: [],
    });
  });
});
