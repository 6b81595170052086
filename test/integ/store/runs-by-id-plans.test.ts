/**
 * The statements that change runs by id (`run_id IN (…)`: queuing, re-arming, cancelling, marking,
 * releasing, deleting) find them by primary key on both stores, whatever other conditions they
 * carry: SQLite's planner, without statistics, took the job's status index instead and read every
 * pending run of the job for each chunk of ids (a claim of 500 took 3.6 ms at 20,000 pending runs
 * and 22 ms at 200,000; by rowid 2–4 ms at both).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SqlDatabase } from '../../../shared/sql.ts';
import { openMysqlStore } from '../../../shared/store/mysql/index.ts';
import { openSqliteStore } from '../../../shared/store/sqlite.ts';
import type { NewRun, StateStore } from '../../../shared/store/types.ts';
import { createTestDatabase, mysqlAvailable } from '../../../support/mysql.ts';
import { tempSqliteFile } from '../../helpers/sqlite.ts';
import { jobAt } from '../../helpers/stored-job.ts';

const T0 = new Date('2026-03-01T00:00:00.000Z');
const HOUR_MS = 3_600_000;

function hourly(count: number): NewRun[] {
  return Array.from({ length: count }, (_, index) => ({
    interval: {
      start: new Date(T0.getTime() + index * HOUR_MS),
      end: new Date(T0.getTime() + (index + 1) * HOUR_MS),
    },
    trigger: 'schedule' as const,
  }));
}

/**
 * Runs `work` and answers every statement that names runs by `run_id IN (…)` it gave `db` or a
 * transaction of `db`.
 */
async function statementsById(
  db: SqlDatabase,
  work: () => Promise<unknown>,
): Promise<{ sql: string; params: readonly unknown[] }[]> {
  const seen: { sql: string; params: readonly unknown[] }[] = [];
  const recording = (inner: SqlDatabase): SqlDatabase =>
    new Proxy(inner, {
      get(target, property) {
        if (property === 'query') {
          return (sql: string, params: readonly unknown[] = []) => {
            if (/^(UPDATE|DELETE)\b/.test(sql) && sql.includes('run_id IN (')) seen.push({ sql, params });
            return target.query(sql, params);
          };
        }
        const value: unknown = Reflect.get(target, property, target);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
  const target = db as { transaction: SqlDatabase['transaction'] };
  const transaction = target.transaction;
  target.transaction = function (this: unknown, inner) {
    return transaction.call(this, (tx) => inner(recording(tx)));
  } as SqlDatabase['transaction'];
  try {
    await work();
  } finally {
    target.transaction = transaction;
  }
  return seen;
}

function describePlans(
  name: string,
  open: () => Promise<{ store: StateStore; cleanup(): Promise<void> }>,
  byPrimaryKey: (db: SqlDatabase, sql: string, params: readonly unknown[]) => Promise<string | undefined>,
) {
  describe(`runs changed by id on ${name}`, () => {
    let store: StateStore;
    let cleanup: () => Promise<void> = async () => {};
    beforeAll(async () => {
      ({ store, cleanup } = await open());
      await store.migrate();
    });
    afterAll(() => cleanup());

    it('finds them by primary key: queue, re-arm, cancel, mark, delete', async () => {
      await store.withJob(jobAt('plans', T0), (tx) => tx.insertRuns(hourly(300)));
      const ids = (await store.listRuns('plans')).map((run) => run.runId);
      const statements = await statementsById(store.database, async () => {
        await store.withJob(jobAt('plans', T0), async (tx) => {
          const pending = await tx.pendingRuns({ kind: 'scheduled' }, 10);
          await tx.markQueued(
            pending.map((run) => run.runId),
            'plans-e1',
          );
          await tx.rearmRuns(ids.slice(10, 20), { trigger: 'schedule' });
          await tx.cancelRuns(ids.slice(20, 30));
          await tx.markRuns(ids.slice(20, 25), 'skipped');
          await tx.advanceWatermark(new Date(T0.getTime() + 300 * HOUR_MS), 0);
          await tx.resetWatermark(
            new Date(T0.getTime() + 250 * HOUR_MS),
            new Date(T0.getTime() + 280 * HOUR_MS),
            false,
          );
        });
      });
      const kinds = statements.map(({ sql }) => sql.split(' SET ')[0]!.split(' WHERE ')[0]!.slice(0, 40));
      expect(statements.length, kinds.join('\n')).toBeGreaterThanOrEqual(5);
      for (const { sql, params } of statements) {
        expect(await byPrimaryKey(store.database, sql, params), sql).toBeUndefined();
      }
    });
  });
}

describePlans(
  'SQLite',
  async () => {
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
  async (db, sql, params) => {
    const { rows } = await db.query(`EXPLAIN QUERY PLAN ${sql}`, params);
    const plan = rows.map((row) => String(row.detail)).join(' | ');
    // The runs table itself searched by rowid; the correlated subqueries' plans may follow.
    const table = rows.map((row) => String(row.detail)).find((detail) => / piko_runs /.test(`${detail} `));
    return table?.includes('USING INTEGER PRIMARY KEY') ? undefined : plan;
  },
);

const probe = await mysqlAvailable();
describe.skipIf(!probe.available && !process.env.CI)('MySQL', () => {
  describePlans(
    'MySQL',
    async () => {
      if (!probe.available) throw new Error(probe.reason);
      const database = await createTestDatabase('plans');
      const store = await openMysqlStore({ dsn: database.dsn });
      return {
        store,
        async cleanup() {
          await store.close();
          await database.drop();
        },
      };
    },
    async (db, sql, params) => {
      const { rows } = await db.query(`EXPLAIN ${sql}`, params);
      const runs = rows.find((row) => row.table === 'piko_runs');
      return runs?.key === 'PRIMARY' ? undefined : JSON.stringify(rows);
    },
  );
});
