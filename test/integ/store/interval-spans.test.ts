/**
 * The web UI's store reads (shared/store/sql/interval-spans.ts and find-runs.ts), one conformance
 * suite on a real SQLite file and a real MariaDB database.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Interval } from '../../../shared/interval.ts';
import { openMysqlStore } from '../../../shared/store/mysql/index.ts';
import { openSqliteStore } from '../../../shared/store/sqlite.ts';
import type { RunRecord, RunStatus, StateStore } from '../../../shared/store/types.ts';
import { createTestDatabase, mysqlAvailable } from '../../../support/mysql.ts';
import { tempSqliteFile } from '../../helpers/sqlite.ts';

const HOUR_MS = 3_600_000;
const T0 = new Date('2026-03-01T00:00:00.000Z');
const hour = (i: number) => new Date(T0.getTime() + i * HOUR_MS);
const interval = (i: number): Interval => ({ start: hour(i), end: hour(i + 1) });

/** A store on a fresh database, and how to close and remove it. */
type Factory = () => Promise<{ store: StateStore; cleanup(): Promise<void> }>;

/**
 * Seeds one run per entry at hour `i` (`undefined`: no run) in the given status; finished runs
 * finish at their interval's end + `i` seconds, having started 2 s before.
 */
async function seed(
  store: StateStore,
  jobId: string,
  statuses: readonly (RunStatus | undefined)[],
  backfillId?: string,
): Promise<RunRecord[]> {
  const hours = statuses.flatMap((status, i) => (status === undefined ? [] : [i]));
  // Hourly from T0: the store only asks a new job's first tick at or after its start.
  const job = { id: jobId, start: T0, schedule: { tickAtOrAfter: (instant: Date) => instant } };
  const runs = await store.withJob(job, async (tx) => {
    await tx.insertRuns(
      hours.map((i) => ({
        interval: interval(i),
        trigger: backfillId ? 'backfill' : 'schedule',
        backfillId,
      })),
    );
    const all = await tx.runsInRange(T0, hour(statuses.length));
    const started = all.filter(
      (run) => statuses[(run.interval.start.getTime() - T0.getTime()) / HOUR_MS] !== 'pending',
    );
    if (started.length > 0)
      await tx.markQueued(
        started.map((run) => run.runId),
        `${jobId}-exec`,
      );
    return all;
  });
  for (const run of runs) {
    const i = (run.interval.start.getTime() - T0.getTime()) / HOUR_MS;
    const status = statuses[i];
    // Hours left undefined here may hold runs seeded before: left as they are.
    if (status === undefined || status === 'pending' || status === 'queued') continue;
    const finished = new Date(run.interval.end.getTime() + i * 1_000);
    await store.markRunning(run.runId, 'main', new Date(finished.getTime() - 2_000));
    if (status === 'succeeded') await store.markSucceeded(run.runId, { i }, finished);
    if (status === 'failed') await store.markFailed(run.runId, `hour ${i} failed`, 1, finished);
  }
  return Promise.all(runs.map(async (run) => (await store.getRun(run.runId))!));
}

const span = (status: RunStatus, from: number, to: number) => ({
  status,
  start: hour(from),
  end: hour(to),
  runs: to - from,
});

function describeIntervalReads(name: string, factory: Factory, skip = false) {
  describe.skipIf(skip)(`interval reads on ${name}`, () => {
    let store: StateStore;
    let cleanup: () => Promise<void>;
    let sequence = 0;
    const newJob = (label: string) => `${label}_${++sequence}`;

    beforeAll(async () => {
      ({ store, cleanup } = await factory());
      await store.migrate();
    });
    afterAll(async () => {
      await cleanup?.();
    });

    const STATUSES: (RunStatus | undefined)[] = [
      'succeeded', // 0
      'succeeded',
      'succeeded',
      'failed', // 3
      'failed',
      'succeeded', // 5
      undefined, // 6: missing
      'succeeded', // 7
      'succeeded',
      'pending', // 9
      'queued', // 10
      'running', // 11
    ];

    it('merges adjacent runs of one status, and ends a span at a missing interval', async () => {
      const job = newJob('spans');
      await seed(store, job, STATUSES);
      // Another job's runs at the same hours never mix in.
      await seed(store, newJob('other'), Array(12).fill('failed'));

      expect(await store.intervalSpans(job, { from: T0, to: hour(24) }, 100)).toEqual([
        span('succeeded', 0, 3),
        span('failed', 3, 5),
        span('succeeded', 5, 6),
        span('succeeded', 7, 9),
        span('pending', 9, 10),
        span('queued', 10, 11),
        span('running', 11, 12),
      ]);
    });

    it('keeps to the range by interval start, and gives the first spans up to the limit', async () => {
      const job = newJob('range');
      await seed(store, job, STATUSES);

      // From inside the first span to inside the fourth: runs starting at 1 ..< 8.
      expect(
        await store.intervalSpans(
          job,
          { from: new Date(hour(1).getTime() - 1), to: new Date(hour(7).getTime() + 1) },
          100,
        ),
      ).toEqual([
        span('succeeded', 1, 3),
        span('failed', 3, 5),
        span('succeeded', 5, 6),
        span('succeeded', 7, 8),
      ]);
      expect(await store.intervalSpans(job, { from: T0, to: hour(12) }, 2)).toEqual([
        span('succeeded', 0, 3),
        span('failed', 3, 5),
      ]);
      expect(await store.intervalSpans(job, { from: hour(20), to: hour(30) }, 10)).toEqual([]);
      expect(await store.intervalSpans(job, { from: T0, to: hour(12) }, 0)).toEqual([]);
    });

    it('merges runs of different backfills and lanes alike: the status is what counts', async () => {
      const job = newJob('lanes');
      await seed(store, job, ['succeeded', 'succeeded', undefined, undefined]);
      await store.openBackfill({
        backfillId: `bf-${job}`,
        jobId: job,
        range: { start: hour(2), end: hour(4) },
        reprocess: 'missing',
        reverse: false,
        config: null,
        cursor: hour(4),
        status: 'planned',
        created: 2,
        rerun: 0,
        skipped: 0,
      });
      await seed(store, job, [undefined, undefined, 'succeeded', 'succeeded'], `bf-${job}`);

      expect(await store.intervalSpans(job, { from: T0, to: hour(4) }, 10)).toEqual([
        span('succeeded', 0, 4),
      ]);
    });

    it('refuses a range that ends before it starts, naming it', async () => {
      await expect(store.intervalSpans('any', { from: hour(2), to: hour(1) }, 10)).rejects.toThrow(
        'The range 2026-03-01T02:00:00.000Z → 2026-03-01T01:00:00.000Z ends before it starts.',
      );
      await expect(store.intervalBuckets('any', { from: T0, to: hour(1) }, 0)).rejects.toThrow(
        'bucketMs must be a whole number of milliseconds >= 1, got 0.',
      );
    });

    it('counts runs per status and time bucket', async () => {
      const job = newJob('buckets');
      await seed(store, job, STATUSES);

      // Buckets of 4 h from 01:00: [1, 5), [5, 9), [9, 13).
      const buckets = await store.intervalBuckets(job, { from: hour(1), to: hour(12) }, 4 * HOUR_MS);
      expect(buckets).toEqual([
        { index: 0, status: 'failed', runs: 2 },
        { index: 0, status: 'succeeded', runs: 2 },
        { index: 1, status: 'succeeded', runs: 3 },
        { index: 2, status: 'pending', runs: 1 },
        { index: 2, status: 'queued', runs: 1 },
        { index: 2, status: 'running', runs: 1 },
      ]);
      // Bucket boundaries to the millisecond: from 00:59:59.999, the run of 02:00 is 1 ms into the second bucket.
      const fine = await store.intervalBuckets(
        job,
        { from: new Date(hour(1).getTime() - 1), to: hour(3) },
        HOUR_MS,
      );
      expect(fine).toEqual([
        { index: 0, status: 'succeeded', runs: 1 },
        { index: 1, status: 'succeeded', runs: 1 },
      ]);
    });

    it('counts many small buckets alike (one pass over the runs instead of a seek per bucket)', async () => {
      const job = newJob('small_buckets');
      await seed(store, job, ['succeeded', 'failed', undefined, 'pending']);
      // 4 hours of 1-second buckets: 14,400 of them, three with a run.
      expect(await store.intervalBuckets(job, { from: T0, to: hour(4) }, 1_000)).toEqual([
        { index: 0, status: 'succeeded', runs: 1 },
        { index: 3_600, status: 'failed', runs: 1 },
        { index: 10_800, status: 'pending', runs: 1 },
      ]);
    });

    it('counts a backfill’s runs in the buckets with the scheduled ones', async () => {
      const job = newJob('bucket_lanes');
      await seed(store, job, ['succeeded', 'failed', undefined, undefined]);
      await store.openBackfill({
        backfillId: `bf-${job}`,
        jobId: job,
        range: { start: hour(2), end: hour(4) },
        reprocess: 'missing',
        reverse: false,
        config: null,
        cursor: hour(4),
        status: 'planned',
        created: 2,
        rerun: 0,
        skipped: 0,
      });
      await seed(store, job, [undefined, undefined, 'failed', 'succeeded'], `bf-${job}`);

      expect(await store.intervalBuckets(job, { from: T0, to: hour(4) }, 4 * HOUR_MS)).toEqual([
        { index: 0, status: 'failed', runs: 2 },
        { index: 0, status: 'succeeded', runs: 2 },
      ]);
    });

    it('finds runs by range, status and lane, oldest or newest first', async () => {
      const job = newJob('find');
      const runs = await seed(store, job, STATUSES);
      const starts = (found: readonly RunRecord[]) =>
        found.map((run) => (run.interval.start.getTime() - T0.getTime()) / HOUR_MS);

      expect(starts(await store.findRuns(job, { limit: 100 }))).toEqual([0, 1, 2, 3, 4, 5, 7, 8, 9, 10, 11]);
      expect(starts(await store.findRuns(job, { limit: 3, newestFirst: true }))).toEqual([11, 10, 9]);
      expect(starts(await store.findRuns(job, { from: hour(2), to: hour(8), limit: 100 }))).toEqual([
        2, 3, 4, 5, 7,
      ]);
      expect(starts(await store.findRuns(job, { statuses: ['failed', 'queued'], limit: 100 }))).toEqual([
        3, 4, 10,
      ]);
      expect(
        starts(await store.findRuns(job, { statuses: ['pending'], backfillId: null, limit: 1 })),
      ).toEqual([9]);
      expect(await store.findRuns(job, { backfillId: 'bf-none', limit: 10 })).toEqual([]);
      expect(await store.findRuns(job, { statuses: [], limit: 10 })).toEqual([]);
      expect((await store.findRuns(job, { from: hour(3), limit: 1 }))[0]).toEqual(
        runs.find((run) => run.interval.start.getTime() === hour(3).getTime()),
      );
      await expect(store.findRuns(job, { statuses: ['done' as RunStatus], limit: 1 })).rejects.toThrow(
        'Unknown run status(es) done; expected waiting, pending, queued, running, succeeded, failed, cancelled, skipped.',
      );
    });

    it('lists runs that finished after an instant, in finish order', async () => {
      const job = newJob('finished');
      await seed(store, job, STATUSES);
      // Hour i finished at hour(i + 1) + i s: after 05:00 come hours 4 (05:00:04), 5, 7, 8.
      const after = await store.runsFinishedAfter(job, hour(5), 100);
      expect(after.map((run) => [run.interval.start.toISOString(), run.status])).toEqual([
        [hour(4).toISOString(), 'failed'],
        [hour(5).toISOString(), 'succeeded'],
        [hour(7).toISOString(), 'succeeded'],
        [hour(8).toISOString(), 'succeeded'],
      ]);
      expect((await store.runsFinishedAfter(job, hour(5), 2)).length).toBe(2);
      // Strictly after: the run that finished exactly then is not listed.
      const exactly = new Date(hour(5).getTime() + 4_000);
      expect(
        (await store.runsFinishedAfter(job, exactly, 100)).map((run) => run.interval.start.getTime()),
      ).toEqual([hour(5).getTime(), hour(7).getTime(), hour(8).getTime()]);
    });
  });
}

describeIntervalReads('SQLite', async () => {
  const temp = await tempSqliteFile();
  const store = await openSqliteStore({ file: temp.file });
  return {
    store,
    async cleanup() {
      await store.close();
      await temp.cleanup();
    },
  };
});

const probe = await mysqlAvailable();
if (!probe.available && !process.env.CI) console.warn(`MySQL interval reads skipped: ${probe.reason}`);
describeIntervalReads(
  'MySQL',
  async () => {
    if (!probe.available) throw new Error(probe.reason);
    const database = await createTestDatabase('spans');
    const store = await openMysqlStore({ dsn: database.dsn });
    return {
      store,
      async cleanup() {
        await store.close();
        await database.drop();
      },
    };
  },
  !probe.available && !process.env.CI,
);
