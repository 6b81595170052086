/**
 * The watchdog and the alert claims on both stores (migration 8, `shared/store/alerts.ts`,
 * `shared/alerts/watchdog.ts`): late intervals are found from the runs and from the schedule past
 * the watermark, each range is claimed once, by one of two racing checks, and never again after a
 * restart.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AlertRaiser } from '../../../shared/alerts/notify.ts';
import { checkDeadline, unannouncedAlerts } from '../../../shared/alerts/watchdog.ts';
import { defineJob, type JobDefinition } from '../../../shared/job.ts';
import { planScheduled } from '../../../shared/planner/index.ts';
import { alertStoreOf } from '../../../shared/store/alerts.ts';
import { openMysqlStore } from '../../../shared/store/mysql/index.ts';
import { openSqliteStore } from '../../../shared/store/sqlite.ts';
import type { StateStore } from '../../../shared/store/types.ts';
import { createTestDatabase, mysqlGate } from '../../../support/mysql.ts';
import { tempSqliteFile } from '../../helpers/sqlite.ts';

const at = (iso: string) => new Date(iso);
const range = (start: string, end: string, intervals: number) => ({
  start: at(start),
  end: at(end),
  intervals,
});

const gate = await mysqlGate('alert store tests on MySQL');

type Factory = () => Promise<{ store: StateStore; cleanup(): Promise<void> }>;

const factories: { name: string; skip: boolean; open: Factory }[] = [
  {
    name: 'SQLite',
    skip: false,
    async open() {
      const temp = await tempSqliteFile();
      const store = await openSqliteStore({ file: temp.file });
      return {
        store,
        async cleanup() {
          await store.close();
          await temp.cleanup();
        },
      };
    },
  },
  {
    name: 'MySQL',
    skip: gate.skip,
    async open() {
      if (!gate.probe.available) throw new Error(gate.probe.reason);
      const database = await createTestDatabase('alerts');
      const store = await openMysqlStore({ dsn: database.dsn, poolSize: 4 });
      return {
        store,
        async cleanup() {
          await store.close();
          await database.drop();
        },
      };
    },
  },
];

describe.each(factories)('deadline alerts on $name', ({ skip, open }) => {
  let opened: Awaited<ReturnType<Factory>> | undefined;
  let store: StateStore;
  let sequence = 0;
  /** An hourly job from 2026-05-01T00:00Z with a 2 h deadline, a new id each time. */
  const hourly = (): JobDefinition =>
    defineJob({
      id: `late_${++sequence}`,
      schedule: { cron: '0 * * * *' },
      start: '2026-05-01T00:00:00Z',
      deadline: '2h',
      handler: () => undefined,
    });
  const setStatus = (job: JobDefinition, start: string, status: string) =>
    store.database.query('UPDATE piko_runs SET status = ? WHERE job_id = ? AND interval_start = ?', [
      status,
      job.id,
      at(start),
    ]);

  beforeAll(async () => {
    if (skip) return;
    opened = await open();
    store = opened.store;
    await store.migrate();
  });
  afterAll(async () => {
    await opened?.cleanup();
  });

  it.skipIf(skip)(
    'starts watching at the first check, then alerts each late interval once: failed runs, and intervals never planned',
    async () => {
      // Arrange: 00:00–05:00 planned at 05:30 (watermark 05:00); 03:00 succeeds, 04:00 fails.
      const job = hourly();
      const alerts = alertStoreOf(store);
      await planScheduled(store, job, at('2026-05-01T05:30:00Z'));
      await setStatus(job, '2026-05-01T03:00:00Z', 'succeeded');
      await setStatus(job, '2026-05-01T04:00:00Z', 'failed');

      // Act
      const first = await checkDeadline(alerts, job, at('2026-05-01T05:30:00Z'));
      const justBefore = await checkDeadline(alerts, job, at('2026-05-01T06:59:59.999Z'));
      const atDeadline = await checkDeadline(alerts, job, at('2026-05-01T07:00:00Z'));
      // Nothing planned since 05:00: the job is behind, and 05:00–07:00 are late too.
      const behind = await checkDeadline(alerts, job, at('2026-05-01T09:00:00Z'));
      await planScheduled(store, job, at('2026-05-01T09:00:00Z'));
      const sameHorizon = await checkDeadline(alerts, job, at('2026-05-01T09:59:59.999Z'));
      const next = await checkDeadline(alerts, job, at('2026-05-01T10:00:00Z'));

      // Assert: the first check only records where watching begins (03:00): 00:00–03:00 raise nothing.
      expect(first).toBeUndefined();
      // 04:00–05:00 is late at 07:00:00.000, not 1 ms before; 03:00 had succeeded in time.
      expect(justBefore).toBeUndefined();
      expect(atDeadline).toEqual({
        kind: 'late',
        jobId: job.id,
        ranges: [range('2026-05-01T04:00:00Z', '2026-05-01T05:00:00Z', 1)],
        deadlineMs: 7_200_000,
        raisedAt: at('2026-05-01T07:00:00Z'),
      });
      expect(behind?.ranges).toEqual([range('2026-05-01T05:00:00Z', '2026-05-01T07:00:00Z', 2)]);
      expect(sameHorizon).toBeUndefined();
      // 05:00 and 06:00 now have pending runs: alerted already, not again; 07:00 is new.
      expect(next?.ranges).toEqual([range('2026-05-01T07:00:00Z', '2026-05-01T08:00:00Z', 1)]);
      // A restart reads the same record.
      expect(
        (await alertStoreOf(store).list(job.id)).map((alert) => [
          alert.kind,
          alert.start.toISOString(),
          alert.intervals,
        ]),
      ).toEqual([
        ['late', '2026-05-01T04:00:00.000Z', 1],
        ['late', '2026-05-01T05:00:00.000Z', 2],
        ['late', '2026-05-01T07:00:00.000Z', 1],
      ]);
    },
  );

  it.skipIf(skip)(
    'lets one of two racing checks claim a late interval, and the other find nothing',
    async () => {
      // Arrange
      const job = hourly();
      await planScheduled(store, job, at('2026-05-01T05:30:00Z'));
      await checkDeadline(alertStoreOf(store), job, at('2026-05-01T05:30:00Z'));

      // Act: two runtimes, each with its own view of the store.
      const results = await Promise.all([
        checkDeadline(alertStoreOf(store), job, at('2026-05-01T06:00:00Z')),
        checkDeadline(alertStoreOf(store), job, at('2026-05-01T06:00:00Z')),
      ]);

      // Assert
      expect(results.filter((result) => result !== undefined).map((result) => result?.ranges)).toEqual([
        [range('2026-05-01T03:00:00Z', '2026-05-01T04:00:00Z', 1)],
      ]);
    },
  );

  it.skipIf(skip)('lets the deadlines of a paused job pass without alerts', async () => {
    // Arrange
    const job = hourly();
    const alerts = alertStoreOf(store);
    await planScheduled(store, job, at('2026-05-01T05:30:00Z'));
    await checkDeadline(alerts, job, at('2026-05-01T05:30:00Z'));
    await store.setPaused(job, true);

    // Act
    const paused = await checkDeadline(alerts, job, at('2026-05-01T07:00:00Z'));
    await store.setPaused(job, false);
    const resumed = await checkDeadline(alerts, job, at('2026-05-01T08:00:00Z'));

    // Assert: 03:00 and 04:00 passed their deadline while paused; 05:00 (never planned) after.
    expect(paused).toBeUndefined();
    expect(resumed?.ranges).toEqual([range('2026-05-01T05:00:00Z', '2026-05-01T06:00:00Z', 1)]);
  });

  it.skipIf(skip)('judges at most `limit` intervals per check, leaving the rest to the next', async () => {
    // Arrange
    const job = hourly();
    const alerts = alertStoreOf(store);
    await planScheduled(store, job, at('2026-05-01T00:30:00Z'));
    await checkDeadline(alerts, job, at('2026-05-01T00:30:00Z'));
    await planScheduled(store, job, at('2026-05-01T05:00:00Z'));

    // Act
    const first = await checkDeadline(alerts, job, at('2026-05-01T07:00:00Z'), { limit: 2 });
    const second = await checkDeadline(alerts, job, at('2026-05-01T07:00:00Z'), { limit: 2 });
    const third = await checkDeadline(alerts, job, at('2026-05-01T07:00:00Z'), { limit: 2 });

    // Assert: 00:00–05:00 are late at 07:00 (runs 00–04, 04:00–05:00 and nothing more).
    expect(first?.ranges).toEqual([range('2026-05-01T00:00:00Z', '2026-05-01T02:00:00Z', 2)]);
    expect(second?.ranges).toEqual([range('2026-05-01T02:00:00Z', '2026-05-01T04:00:00Z', 2)]);
    expect(third?.ranges).toEqual([range('2026-05-01T04:00:00Z', '2026-05-01T05:00:00Z', 1)]);
  });

  it.skipIf(skip)(
    'claims what a planning skips in its own transaction, once, and records its raising and delivery',
    async () => {
      // Arrange: no catch-up, so a planning a day late skips all but the latest interval
      const job = defineJob({
        id: `skips_${++sequence}`,
        schedule: { cron: '0 * * * *' },
        start: '2026-05-01T00:00:00Z',
        catchup: false,
        handler: () => undefined,
      });
      const alerts = alertStoreOf(store);
      const now = at('2026-05-01T03:30:00Z');

      // Act
      const first = await planScheduled(store, job, now);
      const again = await planScheduled(store, job, at('2026-05-01T03:45:00Z'));
      const claimed = await alerts.list(job.id);
      await alerts.markAnnounced(job.id, 'skipped', [at('2026-05-01T00:00:00Z')], now);
      await alerts.recordDelivery(job.id, 'skipped', [at('2026-05-01T00:00:00Z')], { deliveredAt: now });

      // Assert: 00:00–03:00 skipped (the latest ended 30 min ago, past the misfire grace), claimed
      // with the watermark that passed them
      expect(first.skippedClaimed).toEqual([range('2026-05-01T00:00:00Z', '2026-05-01T03:00:00Z', 3)]);
      expect(again.skippedClaimed).toEqual([]);
      expect(claimed.map((alert) => [alert.kind, alert.intervals, alert.announcedAt])).toEqual([
        ['skipped', 3, null],
      ]);
      expect(await alerts.list(job.id)).toEqual([
        {
          jobId: job.id,
          kind: 'skipped',
          ...range('2026-05-01T00:00:00Z', '2026-05-01T03:00:00Z', 3),
          raisedAt: now,
          deliveredAt: now,
          error: null,
          announcedAt: now,
        },
      ]);
    },
  );

  it.skipIf(skip)(
    'raises, by the sweep, a claim a crash left unraised, once, and none still within its grace',
    async () => {
      // Arrange: a late range claimed at 07:00 and never raised (the process died after the commit)
      const job = hourly();
      const alerts = alertStoreOf(store);
      const claimedAt = at('2026-05-01T07:00:00Z');
      await alerts.claim(
        job.id,
        'late',
        [range('2026-05-01T00:00:00Z', '2026-05-01T02:00:00Z', 2)],
        claimedAt,
      );
      const deadlineOf = (jobId: string) => (jobId === job.id ? job.deadlineMs : undefined);
      const mine = <T extends { jobId: string }>(found: readonly T[]) =>
        found.filter((alert) => alert.jobId === job.id);

      // Act
      const withinGrace = mine(await unannouncedAlerts(alerts, deadlineOf, at('2026-05-01T07:04:00Z')));
      const swept = mine(await unannouncedAlerts(alerts, deadlineOf, at('2026-05-01T07:06:00Z')));
      const raised: string[] = [];
      const raiser = new AlertRaiser({ store: alerts, log: (_, line) => raised.push(line) });
      for (const alert of swept) raiser.raise(alert);
      await raiser.whenIdle();
      const afterRaise = mine(await unannouncedAlerts(alerts, deadlineOf, at('2026-05-01T08:00:00Z')));

      // Assert
      expect(withinGrace).toEqual([]);
      expect(swept).toEqual([
        {
          kind: 'late',
          jobId: job.id,
          ranges: [range('2026-05-01T00:00:00Z', '2026-05-01T02:00:00Z', 2)],
          raisedAt: claimedAt,
          deadlineMs: 2 * 3_600_000,
        },
      ]);
      expect(raised).toHaveLength(1);
      expect(afterRaise).toEqual([]);
      expect((await alerts.list(job.id))[0]?.announcedAt).not.toBeNull();
    },
  );
});
