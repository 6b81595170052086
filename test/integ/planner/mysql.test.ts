import { describe, expect, it } from 'vitest';
import { StoreUnavailableError } from '../../../shared/errors.ts';
import { defineJob } from '../../../shared/job.ts';
import { dispatch, planBackfill, planScheduled } from '../../../shared/planner/index.ts';
import { openMysqlStore } from '../../../shared/store/mysql/index.ts';
import type { StateStore } from '../../../shared/store/types.ts';
import { queryStartingWith, startFaultProxy } from '../../../support/fault-proxy.ts';
import { createTestDatabase, mysqlGate, type TestDatabase } from '../../../support/mysql.ts';
import { RecordingStarter } from '../../helpers/recording-starter.ts';
import { describeDependencies } from './dependencies-suite.ts';
import { describeOperatorActions } from './operator-suite.ts';
import { describePlanner } from './planner-suite.ts';
import { describeCodeVersions } from './versions-suite.ts';

const { skip, probe } = await mysqlGate('MySQL planner tests');
const wipe = async (store: { database: { query(sql: string): Promise<unknown> } }) => {
  for (const table of ['piko_runs', 'piko_jobs', 'piko_backfills'])
    await store.database.query(`DELETE FROM ${table}`);
};

/**
 * Data and index length of the state tables. Rebuilt first (OPTIMIZE is a rebuild and ANALYZE in
 * InnoDB): the suite deletes rows between tests, and free pages would otherwise count or be reused.
 */
async function databaseBytes(store: StateStore): Promise<number> {
  await store.database.query('OPTIMIZE TABLE piko_runs, piko_backfills, piko_jobs');
  const { rows } = await store.database.query(
    'SELECT SUM(DATA_LENGTH + INDEX_LENGTH) AS bytes FROM information_schema.TABLES ' +
      "WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME IN ('piko_runs', 'piko_backfills', 'piko_jobs')",
  );
  return Number(rows[0]?.bytes);
}

describe.skipIf(skip)('MySQL (MariaDB)', () => {
  let database: TestDatabase | undefined;
  describePlanner('MySQL', {
    kind: 'mysql',
    open: async (clock) => {
      if (!probe.available) throw new Error(probe.reason);
      database = await createTestDatabase('planner');
      return openMysqlStore({ dsn: database.dsn, poolSize: 20, clock });
    },
    wipe,
    databaseBytes,
    cleanup: async () => database?.drop(),
  });

  let versionsDatabase: TestDatabase | undefined;
  describeCodeVersions('MySQL', {
    kind: 'mysql',
    open: async (clock) => {
      if (!probe.available) throw new Error(probe.reason);
      versionsDatabase = await createTestDatabase('versions');
      return openMysqlStore({ dsn: versionsDatabase.dsn, poolSize: 4, clock });
    },
    wipe,
    databaseBytes,
    cleanup: async () => versionsDatabase?.drop(),
  });

  let dependenciesDatabase: TestDatabase | undefined;
  describeDependencies('MySQL', {
    kind: 'mysql',
    open: async (clock) => {
      if (!probe.available) throw new Error(probe.reason);
      dependenciesDatabase = await createTestDatabase('deps');
      return openMysqlStore({ dsn: dependenciesDatabase.dsn, poolSize: 4, clock });
    },
    wipe,
    databaseBytes,
    cleanup: async () => dependenciesDatabase?.drop(),
  });

  let actionsDatabase: TestDatabase | undefined;
  describeOperatorActions('MySQL', {
    kind: 'mysql',
    open: async (clock) => {
      if (!probe.available) throw new Error(probe.reason);
      actionsDatabase = await createTestDatabase('actions');
      return openMysqlStore({ dsn: actionsDatabase.dsn, poolSize: 4, clock });
    },
    wipe,
    databaseBytes,
    cleanup: async () => actionsDatabase?.drop(),
  });

  it('marks a backfill failed with the error when its connection drops mid-planning, and resumes it', async () => {
    if (!probe.available) throw new Error(probe.reason);
    const db = await createTestDatabase('planner_bf_fail');
    const proxy = await startFaultProxy();
    const store = await openMysqlStore({ dsn: proxy.rewrite(db.dsn), poolSize: 2 });
    try {
      await store.migrate();
      const job = defineJob({
        id: 'bf_fail',
        schedule: { cron: '0 * * * *' },
        start: '2026-03-01T00:00:00Z',
        handler: async () => undefined,
      });
      const now = new Date('2026-03-05T00:00:00Z');
      const request = {
        jobId: job.id,
        from: new Date('2026-03-01T00:00:00Z'),
        to: new Date('2026-03-02T00:00:00Z'),
      };
      const limits = { chunkSize: 6 };
      const first = await planBackfill(store, job, request, now, limits, () => true);
      const fired = proxy.failOn({
        match: queryStartingWith('INSERT IGNORE INTO piko_runs'),
        action: 'drop',
      });

      const failed = planBackfill(store, job, request, now, limits);

      await expect(failed).rejects.toBeInstanceOf(StoreUnavailableError);
      expect(fired()).toBe(1);
      const record = await store.getBackfill(first.backfillId);
      expect(record).toMatchObject({
        status: 'failed',
        cursor: new Date('2026-03-01T06:00:00Z'),
        created: 6,
      });
      expect(record?.error).toBe(
        'StoreUnavailableError: MySQL query failed (PROTOCOL_CONNECTION_LOST): Connection lost: The server closed the connection. (cause: Connection lost: The server closed the connection.)',
      );
      const resumed = await planBackfill(store, job, request, now, limits);
      expect(resumed).toMatchObject({ counts: { create: 18 }, done: true });
      expect(await store.getBackfill(first.backfillId)).toMatchObject({
        status: 'planned',
        error: null,
        created: 24,
      });
      expect(await store.listRuns(job.id)).toHaveLength(24);
    } finally {
      await store.close();
      await proxy.close();
      await db.drop();
    }
  });

  it('racing planners: 20 concurrent calls, 50 times, plan each interval once and move the watermark once', async () => {
    const db = await createTestDatabase('planner_race');
    const store = await openMysqlStore({ dsn: db.dsn, poolSize: 20 });
    try {
      await store.migrate();
      const now = new Date('2026-03-04T00:00:00Z');
      for (let round = 0; round < 50; round++) {
        await wipe(store);
        const job = defineJob({
          id: `race_${round}`,
          schedule: { cron: '*/15 * * * *' },
          start: '2026-03-01T00:00:00Z',
          maxIntervalsPerDispatch: 50,
          handler: async () => undefined,
        });
        const starter = new RecordingStarter();

        const results = await Promise.all(
          Array.from({ length: 20 }, async () => {
            const planned = await planScheduled(store, job, now);
            await dispatch(store, job, starter, { maxRunsPerExecution: 500 });
            return planned;
          }),
        );

        const runs = await store.listRuns(job.id);
        expect(runs).toHaveLength(288);
        expect(new Set(runs.map((run) => run.interval.start.getTime())).size).toBe(288);
        expect(results.reduce((sum, result) => sum + result.planned, 0)).toBe(288);
        expect((await store.getJob(job.id))?.watermark).toEqual(now);
        expect(starter.started).toHaveLength(1);
        expect(starter.started[0]?.runs).toHaveLength(288);
        expect(
          runs.every(
            (run) => run.status === 'queued' && run.executionName === starter.started[0]?.executionName,
          ),
        ).toBe(true);
      }
    } finally {
      await store.close();
      await db.drop();
    }
  });
});
