/**
 * Dependencies between jobs' intervals (issue 12 item 1) on a real store: a downstream run is
 * `waiting` until every overlapping upstream interval has succeeded and the upstream has planned
 * through its end; then the downstream's dispatch releases it (the check is SQL) and starts it.
 * DST and timezones are exact. Run on the SQLite file and on MariaDB by the planner test files.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { waitingRuns } from '../../../shared/control/status.ts';
import { defineJob, type JobDefinition } from '../../../shared/job.ts';
import { dispatch, planBackfill, planScheduled, waitsFor } from '../../../shared/planner/index.ts';
import { JobRegistry } from '../../../shared/registry.ts';
import type { StateStore } from '../../../shared/store/types.ts';
import { RecordingStarter } from '../../helpers/recording-starter.ts';
import type { PlannerStoreFactory } from './planner-suite.ts';

const noop = async () => undefined;

/** An upstream and a downstream job, and the registry holding both. */
function chain(
  upstream: { cron: string; timezone?: string; start: string },
  downstream: { cron: string; timezone?: string; start: string; upstreamTimeout?: `${number}h` },
): { up: JobDefinition; down: JobDefinition; jobs: JobRegistry } {
  const up = defineJob({
    id: 'up',
    schedule: { cron: upstream.cron, timezone: upstream.timezone },
    start: upstream.start,
    handler: noop,
  });
  const down = defineJob({
    id: 'down',
    schedule: { cron: downstream.cron, timezone: downstream.timezone },
    start: downstream.start,
    dependsOn: ['up'],
    upstreamTimeout: downstream.upstreamTimeout,
    handler: noop,
  });
  return { up, down, jobs: new JobRegistry([up, down]) };
}

/** Marks the job's runs succeeded, except those starting at `except`. */
async function succeedAll(store: StateStore, jobId: string, at: Date, except: Date[] = []): Promise<number> {
  let count = 0;
  for (const run of await store.listRuns(jobId)) {
    if (except.some((instant) => instant.getTime() === run.interval.start.getTime())) continue;
    await store.markRunning(run.runId, 'main', at);
    await store.markSucceeded(run.runId, null, at);
    count++;
  }
  return count;
}

/** The suite of dependencies between jobs, run against each store implementation. */
export function describeDependencies(name: string, factory: PlannerStoreFactory): void {
  describe(`dependencies between jobs on ${name}`, () => {
    let store: StateStore;
    beforeAll(async () => {
      store = await factory.open(() => new Date());
      await store.migrate();
    });
    beforeEach(async () => {
      await factory.wipe(store);
    });
    afterAll(async () => {
      await store.close();
      await factory.cleanup();
    });

    it.each([
      ['2026-03-29 (spring forward)', 23, '2026-03-28T23:00:00Z', '2026-03-29T22:00:00Z'],
      ['2026-10-25 (fall back)', 25, '2026-10-24T22:00:00Z', '2026-10-25T23:00:00Z'],
    ] as const)(
      'a daily Europe/Berlin run over an hourly UTC job on %s waits for its %i upstream hours, then runs',
      async (_day, hours, startText, endText) => {
        // Arrange: the Berlin day is [start, end); the hourly upstream starts with it.
        const start = new Date(startText);
        const end = new Date(endText);
        const { up, down, jobs } = chain(
          { cron: '0 * * * *', start: startText },
          { cron: '0 0 * * *', timezone: 'Europe/Berlin', start: startText },
        );
        const now = new Date(end.getTime() + 60_000);
        const starter = new RecordingStarter();
        await planScheduled(store, up, now);
        await planScheduled(store, down, now);
        const [waiting] = await store.listRuns(down.id);
        expect(waiting).toMatchObject({ status: 'waiting', interval: { start, end } });
        expect(await store.listRuns(up.id)).toHaveLength(hours);

        // Act 1: every upstream hour but the last succeeds.
        const lastHour = new Date(end.getTime() - 3_600_000);
        expect(await succeedAll(store, up.id, now, [lastHour])).toBe(hours - 1);
        const before = await dispatch(store, down, starter, { waitsFor: waitsFor(down, jobs), now });

        // Assert 1: still waiting, and the status names the one missing hour of the 23 or 25.
        expect(before).toMatchObject({ released: 0, started: [] });
        const [described] = await waitingRuns(store, down, jobs.upstreams(down.id));
        expect(described?.upstreams).toEqual([
          {
            jobId: 'up',
            range: { start: start.toISOString(), end: end.toISOString() },
            intervals: hours,
            missing: 1,
            plannedThrough: end.toISOString(),
            ready: false,
            text: `up ${startText.slice(0, 16)}Z–${endText.slice(0, 16)}Z (${hours} intervals, 1 missing: ${lastHour.toISOString().slice(0, 16)}Z–${endText.slice(0, 16)}Z)`,
          },
        ]);

        // Act 2: the last hour succeeds.
        await succeedAll(store, up.id, now);
        const after = await dispatch(store, down, starter, { waitsFor: waitsFor(down, jobs), now });

        // Assert 2: released and started.
        expect(after).toMatchObject({ released: 1 });
        expect(after.started.map((input) => input.runs.map((run) => run.interval))).toEqual([
          [{ start: start.toISOString(), end: end.toISOString() }],
        ]);
        expect((await store.listRuns(down.id))[0]?.status).toBe('queued');
      },
    );

    it('waits until the upstream has planned through the interval’s end, even with every run it has succeeded', async () => {
      // Arrange: the upstream has planned only half of the downstream's day.
      const { up, down, jobs } = chain(
        { cron: '0 * * * *', start: '2026-05-01T00:00:00Z' },
        { cron: '0 0 * * *', start: '2026-05-01T00:00:00Z' },
      );
      const starter = new RecordingStarter();
      await planScheduled(store, up, new Date('2026-05-01T12:00:00Z'));
      await planScheduled(store, down, new Date('2026-05-02T00:00:00Z'));
      await succeedAll(store, up.id, new Date('2026-05-02T00:00:00Z'));

      // Act
      const result = await dispatch(store, down, starter, { waitsFor: waitsFor(down, jobs) });

      // Assert
      expect(result).toMatchObject({ released: 0, started: [] });
      const [described] = await waitingRuns(store, down, [up]);
      expect(described?.upstreams[0]?.text).toBe(
        'up 2026-05-01T00:00Z–2026-05-02T00:00Z (24 intervals, 12 missing: 2026-05-01T12:00Z–2026-05-02T00:00Z; planned through 2026-05-01T12:00Z)',
      );
    });

    it('a weekly Europe/Berlin run over a daily Europe/Berlin job across the spring DST change waits for its 7 days', async () => {
      // Arrange: the week of Monday 2026-03-23 (Berlin) holds the 23-hour Sunday 2026-03-29.
      const { up, down, jobs } = chain(
        { cron: '0 0 * * *', timezone: 'Europe/Berlin', start: '2026-03-23T00:00:00+01:00' },
        { cron: '0 0 * * 1', timezone: 'Europe/Berlin', start: '2026-03-23T00:00:00+01:00' },
      );
      const now = new Date('2026-03-30T00:00:00+02:00');
      const starter = new RecordingStarter();
      await planScheduled(store, up, now);
      await planScheduled(store, down, now);
      const ups = await store.listRuns(up.id);
      expect(ups).toHaveLength(7);
      expect(ups[6]!.interval.end.getTime() - ups[6]!.interval.start.getTime()).toBe(23 * 3_600_000);

      // Act: six days succeed, then the seventh.
      await succeedAll(store, up.id, now, [ups[6]!.interval.start]);
      const six = await dispatch(store, down, starter, { waitsFor: waitsFor(down, jobs) });
      await succeedAll(store, up.id, now);
      const seven = await dispatch(store, down, starter, { waitsFor: waitsFor(down, jobs) });

      // Assert
      expect(six.released).toBe(0);
      expect(seven.released).toBe(1);
      expect(seven.started[0]?.runs[0]?.interval).toEqual({
        start: '2026-03-22T23:00:00.000Z',
        end: '2026-03-29T22:00:00.000Z',
      });
    });

    it('a daily America/New_York run over a daily Asia/Tokyo job waits for both Tokyo days it overlaps', async () => {
      // Arrange: the New York day 2026-06-10 is [04:00Z, 04:00Z + 1d); Tokyo days start at 15:00Z.
      const { up, down, jobs } = chain(
        { cron: '0 0 * * *', timezone: 'Asia/Tokyo', start: '2026-06-09T00:00:00+09:00' },
        { cron: '0 0 * * *', timezone: 'America/New_York', start: '2026-06-10T00:00:00-04:00' },
      );
      const now = new Date('2026-06-11T16:00:00Z');
      const starter = new RecordingStarter();
      await planScheduled(store, up, now);
      await planScheduled(store, down, now);
      const tokyo = await store.listRuns(up.id);
      expect(tokyo.map((run) => run.interval.start.toISOString())).toEqual([
        '2026-06-08T15:00:00.000Z',
        '2026-06-09T15:00:00.000Z',
        '2026-06-10T15:00:00.000Z',
      ]);

      // Act: the Tokyo day that ends inside the New York day succeeds, then the one that starts in it.
      await succeedAll(store, up.id, now, [tokyo[1]!.interval.start, tokyo[2]!.interval.start]);
      const none = await dispatch(store, down, starter, { waitsFor: waitsFor(down, jobs) });
      await succeedAll(store, up.id, now, [tokyo[2]!.interval.start]);
      const one = await dispatch(store, down, starter, { waitsFor: waitsFor(down, jobs) });

      // Assert: the New York day overlaps the second and third Tokyo days only.
      const [described] = await waitingRuns(store, down, [up]);
      expect(none.released).toBe(0);
      expect(one.released).toBe(0);
      expect(described?.upstreams[0]).toMatchObject({ intervals: 2, missing: 1 });
      await succeedAll(store, up.id, now);
      expect((await dispatch(store, down, starter, { waitsFor: waitsFor(down, jobs) })).released).toBe(1);
    });

    it('fails a run still waiting after its upstreamTimeout, naming the missing upstream intervals merged', async () => {
      // Arrange: hours 03:00–05:00 and 09:00 of the upstream never succeed.
      const { up, down, jobs } = chain(
        { cron: '0 * * * *', start: '2026-05-01T00:00:00Z' },
        { cron: '0 0 * * *', start: '2026-05-01T00:00:00Z', upstreamTimeout: '6h' },
      );
      const planned = new Date('2026-05-02T00:00:00Z');
      await planScheduled(store, up, planned);
      await planScheduled(store, down, planned);
      const hour = (h: number) => new Date(Date.UTC(2026, 4, 1, h));
      await succeedAll(store, up.id, planned, [hour(3), hour(4), hour(9)]);
      const starter = new RecordingStarter();

      // Act: within the timeout, then after it.
      const within = await dispatch(store, down, starter, {
        waitsFor: waitsFor(down, jobs),
        now: new Date('2026-05-02T06:00:00Z'),
      });
      const after = await dispatch(store, down, starter, {
        waitsFor: waitsFor(down, jobs),
        now: new Date('2026-05-02T06:00:00.001Z'),
      });

      // Assert
      expect(within).toMatchObject({ timedOut: 0, released: 0 });
      expect(after).toMatchObject({ timedOut: 1, released: 0, started: [] });
      const [run] = await store.listRuns(down.id);
      expect(run?.status).toBe('failed');
      expect(run?.error).toBe(
        'Upstream timeout: the interval 2026-05-01T00:00Z–2026-05-02T00:00Z waited 6h after its end for ' +
          'up 2026-05-01T00:00Z–2026-05-02T00:00Z (24 intervals, 3 missing: 2026-05-01T03:00Z–2026-05-01T05:00Z, 2026-05-01T09:00Z–2026-05-01T10:00Z). ' +
          'Run the missing upstream intervals (piko backfill <upstream> --reprocess failed), then this one (piko backfill --reprocess failed).',
      );
    });

    it('a backfill of a downstream job re-arms its runs waiting; they run once the upstream re-ran', async () => {
      // Arrange: both days ran; the upstream's hours are re-armed by a backfill of their own.
      const { up, down, jobs } = chain(
        { cron: '0 * * * *', start: '2026-05-01T00:00:00Z' },
        { cron: '0 0 * * *', start: '2026-05-01T00:00:00Z' },
      );
      const now = new Date('2026-05-02T00:00:00Z');
      await planScheduled(store, up, now);
      await planScheduled(store, down, now);
      await succeedAll(store, up.id, now);
      await succeedAll(store, down.id, now);
      const range = { from: new Date('2026-05-01T00:00:00Z'), to: now, reprocess: 'all' as const };
      await planBackfill(store, up, { jobId: up.id, ...range }, now);
      const downstream = await planBackfill(store, down, { jobId: down.id, ...range }, now);
      const lane = { kind: 'backfill', backfillId: downstream.backfillId } as const;
      const starter = new RecordingStarter();

      // Act
      const early = await dispatch(store, down, starter, { lane, waitsFor: waitsFor(down, jobs) });
      await succeedAll(store, up.id, now);
      const late = await dispatch(store, down, starter, { lane, waitsFor: waitsFor(down, jobs) });

      // Assert
      expect(early).toMatchObject({ released: 0, started: [] });
      expect(late).toMatchObject({ released: 1 });
      expect(late.started).toHaveLength(1);
    });
  });
}
