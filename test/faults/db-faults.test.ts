/**
 * Database faults (issue 5, item 2): `piko start --once` catches up the chaos job on MariaDB through a
 * fault-injecting TCP proxy that drops connections (at random moments, and precisely mid-transaction:
 * on the planner's row lock, on COMMIT, on the stage runner's updates, on the sink's upsert), stalls,
 * refuses new connections, and goes away for longer than the execution lease in the middle of the
 * catch-up. The runtime reports each error, retries with backoff, recovers by itself once the database
 * answers again, and exits 0; every due interval then has exactly one run, succeeded, and one sink row.
 *
 * One lean case of each ({@link LEAN_FAULTS}: a 12-second outage against a 4-second lease); the
 * scenarios and their checks live in `support/db-faults.ts`. `npx tsx bench/db-faults.ts` runs them
 * as they ran here before (a 30-second outage on the default 30-second lease, 12 drops, 3 stalls),
 * as many trials as asked.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openMysqlStore, parseMysqlDsn } from '../../shared/store/mysql/index.ts';
import type { StateStore } from '../../shared/store/types.ts';
import {
  FAULT_EXIT_TIMEOUT_MS,
  FaultHarness,
  type FaultOutcome,
  LEAN_FAULTS,
  OUTAGE_REPORTS,
} from '../../support/db-faults.ts';
import { type FaultProxy, startFaultProxy } from '../../support/fault-proxy.ts';
import { createTestDatabase, mysqlGate, mysqlTestDsn, type TestDatabase } from '../../support/mysql.ts';

const SCENARIO_TIMEOUT_MS = FAULT_EXIT_TIMEOUT_MS + 60_000;
const gate = await mysqlGate('database fault tests');

describe.skipIf(gate.skip)('database faults (a proxy between the runtime and MariaDB)', () => {
  let database: TestDatabase;
  let proxy: FaultProxy;
  let store: StateStore;
  let dataDir: string;
  let harness: FaultHarness;
  const started = performance.now();

  beforeAll(async () => {
    if (!gate.probe.available) throw new Error(gate.probe.reason);
    database = await createTestDatabase('faults');
    const target = parseMysqlDsn(mysqlTestDsn());
    proxy = await startFaultProxy({ targetHost: target.host, targetPort: target.port });
    store = await openMysqlStore({ dsn: database.dsn, poolSize: 2 });
    dataDir = await mkdtemp(path.join(tmpdir(), 'piko-faults-'));
    harness = new FaultHarness({ dsn: database.dsn, proxy, store, dataDir, seed: 5, log: console.log });
  });

  afterAll(async () => {
    if (harness) console.log(harness.describe('database faults', performance.now() - started));
    await store?.close();
    await proxy?.close();
    await database?.drop();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  /** Every due interval once, succeeded, one sink row; the exit 0; the scenario's own checks. */
  function expectRecovered(outcome: FaultOutcome): void {
    expect(outcome.problems).toEqual([]);
    expect({
      duplicates: outcome.check.duplicates,
      lost: outcome.check.lost,
      ok: outcome.check.ok,
    }).toEqual({ duplicates: 0, lost: 0, ok: true });
  }

  it(
    'recovers when every connection is dropped again and again during the catch-up',
    async () => {
      // Act: drop all connections every 150-450 ms while runs are going on
      const outcome = await harness.drops(LEAN_FAULTS);

      // Assert: the errors were reported (attempt-failed), and retried
      expectRecovered(outcome);
    },
    SCENARIO_TIMEOUT_MS,
  );

  it(
    'recovers from connections cut mid-transaction: on the row lock, on COMMIT, on every run update',
    async () => {
      // Act: faults set off by the statements themselves; four failed plannings back off 1+2+4+8 s
      const outcome = await harness.midTransaction();

      // Assert: every trigger fired as many times as armed, and the planning failure was retried
      expectRecovered(outcome);
      expect(outcome.reported['plan-error'] ?? 0).toBeGreaterThan(0);
    },
    SCENARIO_TIMEOUT_MS,
  );

  it(
    'plans again with backoff when the first planning meets an outage',
    async () => {
      // Act: the planner's first row lock takes the database away for 6 s
      const outcome = await harness.planningOutage();

      // Assert: reported, then retried after 1 s, 2 s, 4 s … until the database was back
      expectRecovered(outcome);
    },
    SCENARIO_TIMEOUT_MS,
  );

  it(
    'waits out a stall (bytes held for seconds)',
    async () => {
      // Act
      const outcome = await harness.stalls(LEAN_FAULTS);

      // Assert
      expectRecovered(outcome);
    },
    SCENARIO_TIMEOUT_MS,
  );

  it(
    'recovers when new connections are refused, accepted-and-closed or not listened for',
    async () => {
      // Act
      const outcome = await harness.refusals(LEAN_FAULTS);

      // Assert
      expectRecovered(outcome);
      expect(outcome.reported['attempt-failed'] ?? 0).toBeGreaterThan(0);
    },
    SCENARIO_TIMEOUT_MS,
  );

  it(
    'recovers by itself from an outage longer than the execution lease in the middle of a catch-up',
    async () => {
      // Act: small executions, so continuations (dispatches) also meet the outage
      const outcome = await harness.outage(LEAN_FAULTS);

      // Assert: it neither exited nor failed runs during the outage; it reported and recovered
      expectRecovered(outcome);
      expect(outcome.reported.failed ?? 0).toBe(0);
      const reports = OUTAGE_REPORTS.map((event) => outcome.reported[event] ?? 0);
      expect(
        reports.some((count) => count > 0),
        JSON.stringify(outcome.reported),
      ).toBe(true);
      expect(outcome.check.succeeded).toBe(outcome.check.intervals);
    },
    SCENARIO_TIMEOUT_MS,
  );
});
