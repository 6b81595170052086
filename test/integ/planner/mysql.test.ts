import { describe, expect, it } from 'vitest';
import { defineJob } from '../../../shared/job.ts';
import { dispatch, planScheduled } from '../../../shared/planner/index.ts';
import { openMysqlStore } from '../../../shared/store/mysql.ts';
import { createTestDatabase, mysqlGate, type TestDatabase } from '../../helpers/mysql.ts';
import { RecordingStarter } from '../../helpers/recording-starter.ts';
import { describePlanner } from './planner-suite.ts';

const { skip, probe } = await mysqlGate('MySQL planner tests');
const wipe = async (store: { database: { query(sql: string): Promise<unknown> } }) => {
  for (const table of ['piko_runs', 'piko_jobs', 'piko_backfills'])
    await store.database.query(`DELETE FROM ${table}`);
};

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
    cleanup: async () => database?.drop(),
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
            await dispatch(store, job.id, starter, now, { maxRunsPerExecution: 500 });
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
