/**
 * Large config overrides on a MySQL server with a small `max_allowed_packet` (a private MariaDB at
 * 512 KiB; the shared server is never reconfigured): a multi-row INSERT of runs is sized by bytes,
 * from the server's own limit, so none nears it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineJob, MAX_CONFIG_OVERRIDE_BYTES } from '../../../shared/job.ts';
import { planBackfill } from '../../../shared/planner/index.ts';
import { openMysqlStore } from '../../../shared/store/mysql/index.ts';
import type { StateStore } from '../../../shared/store/types.ts';
import { mysqlGate } from '../../../support/mysql.ts';
import { type PrivateMariaDb, startPrivateMariaDb } from '../../helpers/private-mariadb.ts';
import { jobAt } from '../../helpers/stored-job.ts';

const { skip } = await mysqlGate('MySQL packet size tests');
const T0 = new Date('2026-03-01T00:00:00.000Z');
const MINUTE_MS = 60_000;
/** The largest override the limit allows: exactly {@link MAX_CONFIG_OVERRIDE_BYTES} of JSON. */
const LARGEST = { blob: 'x'.repeat(MAX_CONFIG_OVERRIDE_BYTES - JSON.stringify({ blob: '' }).length) };

describe.skipIf(skip)('a MySQL server whose max_allowed_packet is 512 KiB', () => {
  let server: PrivateMariaDb;
  let store: StateStore;

  beforeAll(async () => {
    server = await startPrivateMariaDb({ args: ['--max-allowed-packet=512K'] });
    store = await openMysqlStore({ dsn: await server.createDatabase('piko_packet'), poolSize: 2 });
    await store.migrate();
  }, 120_000);
  afterAll(async () => {
    await store?.close();
    await server?.stop();
  });

  it('says so', async () => {
    const { rows } = await store.database.query('SELECT @@max_allowed_packet AS bytes');
    expect(Number(rows[0]?.bytes)).toBe(512 * 1024);
  });

  it('inserts 1,000 runs that each carry the largest override (8 MB of config) in one call', async () => {
    const runs = Array.from({ length: 1_000 }, (_, i) => ({
      interval: {
        start: new Date(T0.getTime() + i * MINUTE_MS),
        end: new Date(T0.getTime() + (i + 1) * MINUTE_MS),
      },
      trigger: 'manual' as const,
      config: LARGEST,
    }));

    const inserted = await store.withJob(jobAt('manual_large', T0), (tx) => tx.insertRuns(runs));

    expect(inserted).toBe(1_000);
    const { rows } = await store.database.query(
      'SELECT COUNT(*) AS n, MIN(LENGTH(config)) AS bytes FROM piko_runs WHERE job_id = ?',
      ['manual_large'],
    );
    expect(rows.map((row) => ({ n: Number(row.n), bytes: Number(row.bytes) }))).toEqual([
      { n: 1_000, bytes: MAX_CONFIG_OVERRIDE_BYTES },
    ]);
  });

  it('plans a backfill of 2,000 runs with the largest override, to the end', async () => {
    const job = defineJob({
      id: 'backfill_large',
      schedule: { cron: '* * * * *' },
      start: T0.toISOString(),
      handler: async () => undefined,
      config: z.object({ blob: z.string().default('') }),
    });
    const request = {
      jobId: job.id,
      from: T0,
      to: new Date(T0.getTime() + 2_000 * MINUTE_MS),
      config: LARGEST,
    };

    const result = await planBackfill(store, job, request, new Date('2026-03-05T00:00:00Z'));

    expect(result).toMatchObject({ counts: { create: 2_000 }, done: true });
    expect(await store.getBackfill(result.backfillId)).toMatchObject({ status: 'planned', error: null });
    const runs = await store.listRuns(job.id);
    expect(runs).toHaveLength(2_000);
    expect(runs.every((run) => JSON.stringify(run.config) === JSON.stringify(LARGEST))).toBe(true);
  });
});
