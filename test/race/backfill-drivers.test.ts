/**
 * A backfill survives its process (issue 13, the defect): `piko backfill` is killed with `kill -9`
 * mid-way, then two `piko start` share its store (a SQLite file, a MariaDB database). One of them
 * adopts the backfill under its driver lease; the other leaves it alone until that one is killed
 * too, then takes it over and finishes it. Before, nothing ran a backfill whose process had died.
 *
 * Every interval of the range ran (succeeded), only intervals in flight at a kill ran twice, the
 * second runtime dispatched nothing of the backfill while the first drove it, and no driver lease
 * is left. Counts and orders only, no times.
 */
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../shared/config.ts';
import { openConfiguredStore } from '../../shared/runner/process.ts';
import { LOCAL_DRIVERS } from '../../shared/store/local.ts';
import type { StateStore } from '../../shared/store/types.ts';
import { createTestDatabase, mysqlGate, type TestDatabase } from '../../support/mysql.ts';
import { type ChildStore, type PikoProcess, spawnPiko } from '../../support/piko-process.ts';

const MINUTE_MS = 60_000;
const INTERVALS = 24;
const CONCURRENCY = 2;
const gate = await mysqlGate('backfill drivers on MariaDB');

describe('a backfill outlives its driver (piko backfill killed, two piko start on its store)', () => {
  let dataDir: string;
  let database: TestDatabase | undefined;

  beforeAll(async () => {
    dataDir = await mkdtemp(path.join(tmpdir(), 'piko-backfill-drivers-'));
    if (!gate.skip) database = await createTestDatabase('backfill_drivers');
  });

  afterAll(async () => {
    await database?.drop();
    await rm(dataDir, { recursive: true, force: true });
  });

  async function openStore(store: ChildStore): Promise<StateStore> {
    const env: Record<string, string> =
      store.kind === 'mysql'
        ? { PIKO_MYSQL__DSN: store.dsn, PIKO_DATA_DIR: dataDir }
        : { PIKO_SQLITE__FILE: store.file, PIKO_DATA_DIR: dataDir };
    return openConfiguredStore(loadConfig({ env }), LOCAL_DRIVERS, { migrate: false, checkIntegrity: false });
  }

  async function waitUntil<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 60_000) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const value = await probe();
      if (value !== undefined) return value;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  async function scenario(store: ChildStore, jobId: string) {
    // Arrange: a job whose schedule starts now (its scheduled lane has next to nothing due) and a
    // backfill of the 24 minutes before, two at a time, each handler 100 to 150 ms.
    const ledger = path.join(dataDir, `${jobId}.ledger`);
    const start = new Date(Math.floor(Date.now() / MINUTE_MS) * MINUTE_MS);
    const from = new Date(start.getTime() - INTERVALS * MINUTE_MS);
    const job = { id: jobId, start, ledger, delayMs: [100, 150] as const, concurrency: CONCURRENCY };
    // Batches of 4: the kills land with a batch running and the next one queued ahead of it.
    const env = {
      PIKO_RUNTIME__LEASE_SECONDS: '3',
      PIKO_SHUTDOWN_GRACE_SECONDS: '1',
      PIKO_MAX_RUNS_PER_EXECUTION: '4',
    };
    const ran = () => readLedger(ledger).filter((line) => Date.parse(line.start) < start.getTime());
    const backfill = spawnPiko({
      store,
      dataDir,
      job,
      env,
      args: ['backfill', jobId, '--from', from.toISOString(), '--to', start.toISOString(), '--json'],
    });
    const children: PikoProcess[] = [backfill];
    try {
      await waitUntil('the backfill to run 4 intervals', async () => (ran().length >= 4 ? true : undefined));
      await backfill.kill9();
      const afterFirstKill = ran().length;

      // Act: two runtimes on the store; the one that adopts the backfill is killed after 4 more runs
      const starts = [0, 1].map(() => spawnPiko({ store, dataDir, job, env, once: false }));
      children.push(...starts);
      const adopter = await waitUntil('a runtime to adopt the backfill', async () =>
        starts.find((child) => child.count('backfill-adopted') > 0),
      );
      const other = starts.find((child) => child !== adopter)!;
      await waitUntil('4 more intervals', async () =>
        ran().length >= afterFirstKill + 4 ? true : undefined,
      );
      await adopter.kill9();
      const otherDispatchesBefore = backfillDispatches(other, jobId).length;
      const otherAdoptedBefore = other.count('backfill-adopted');
      const done = await other.waitFor((event) => event.event === 'backfill-done', 60_000);

      // Assert
      const opened = await openStore(store);
      try {
        const [record] = await opened.listBackfills({ jobId, limit: 10 });
        const runs = (await opened.listRuns(jobId)).filter((run) => run.backfillId !== null);
        const lease = await opened.database.query(
          "SELECT COUNT(*) AS n FROM piko_leases WHERE job_id = ? AND execution_name LIKE 'driver:%'",
          [jobId],
        );
        const perInterval = new Map<string, number>();
        for (const line of ran()) perInterval.set(line.start, (perInterval.get(line.start) ?? 0) + 1);
        expect(done, other.tail()).toBeDefined();
        expect(record?.status).toBe('done');
        expect(runs).toHaveLength(INTERVALS);
        expect(runs.every((run) => run.status === 'succeeded')).toBe(true);
        expect(perInterval.size).toBe(INTERVALS);
        // A repeat is an interval that was running in a killed process (at most its concurrency each).
        const repeats = [...perInterval.values()].filter((count) => count > 1);
        expect(repeats.every((count) => count === 2)).toBe(true);
        expect(repeats.length).toBeLessThanOrEqual(2 * CONCURRENCY);
        // One driver at a time: the other runtime neither adopted nor dispatched while the first drove.
        expect({ otherAdoptedBefore, otherDispatchesBefore }).toEqual({
          otherAdoptedBefore: 0,
          otherDispatchesBefore: 0,
        });
        expect(other.count('backfill-adopted')).toBe(1);
        expect(Number(lease.rows[0]?.n)).toBe(0);
      } finally {
        await opened.close();
      }
    } finally {
      await Promise.all(children.map((child) => child.kill9()));
    }
  }

  it('finishes on one SQLite file', async () => {
    await scenario({ kind: 'sqlite', file: path.join(dataDir, 'drivers.db') }, 'drivers_sqlite');
  });

  it.skipIf(gate.skip)('finishes on one MariaDB database', async () => {
    await scenario({ kind: 'mysql', dsn: database!.dsn }, 'drivers_mysql');
  });
});

/** The ledger's lines: one per handler execution. */
function readLedger(file: string): { start: string; pid: number }[] {
  let text = '';
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return [];
  }
  return text
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const [, start, , , pid] = line.split(' ');
      return { start: start!, pid: Number(pid) };
    });
}

/** The backfill executions a runtime started (`<job>-b…`: its `dispatched` events of a backfill lane). */
function backfillDispatches(child: PikoProcess, jobId: string) {
  return child.events.filter(
    (event) => event.event === 'dispatched' && String(event.executionName ?? '').startsWith(`${jobId}-b`),
  );
}
