/**
 * Database faults (issue 5, item 2): `piko start --once` catches up the chaos job on MariaDB through a
 * fault-injecting TCP proxy that drops connections (at random moments, and precisely mid-transaction:
 * on the planner's row lock, on COMMIT, on the stage runner's updates, on the sink's upsert), stalls,
 * refuses new connections, and goes away for 30 seconds in the middle of the catch-up. The runtime
 * reports each error, retries with backoff, recovers by itself once the database answers again, and
 * exits 0; every due interval then has exactly one run, succeeded, and one sink row.
 */
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RETRY_FIRST_MS } from '../../shared/local/backoff.ts';
import { openMysqlStore, parseMysqlDsn } from '../../shared/store/mysql/index.ts';
import type { StateStore } from '../../shared/store/types.ts';
import { CHAOS_TABLE, type ChaosJobOptions, defineChaosJob } from '../../support/chaos-jobs/chaos-upsert.ts';
import { createTestDatabase, mysqlGate, mysqlTestDsn, type TestDatabase } from '../../support/mysql.ts';
import { type PikoProcess, sleep, spawnPiko } from '../../support/piko-process.ts';
import {
  addCheck,
  checkJobState,
  emptyTotals,
  plannedRange,
  plausibleWatermark,
  type StateCheck,
} from '../../support/state-checks.ts';
import { type FaultProxy, queryStartingWith, startFaultProxy } from '../helpers/fault-proxy.ts';

const MINUTE_MS = 60_000;
/** A catch-up that has not exited by then hangs. */
const EXIT_TIMEOUT_MS = 150_000;
const OUTAGE_MS = 30_000;
const SCENARIO_TIMEOUT_MS = EXIT_TIMEOUT_MS + 30_000;
const gate = await mysqlGate('database fault tests');

/** What one scenario saw. */
interface FaultOutcome {
  readonly child: PikoProcess;
  readonly check: StateCheck;
  /** Error events the runtime printed, by name. */
  readonly reported: Record<string, number>;
  /** Runs that were repaired (put back to pending and run again under a new generation). */
  readonly repaired: number;
  readonly executions: number;
}

describe.skipIf(gate.skip)('database faults (a proxy between the runtime and MariaDB)', () => {
  let database: TestDatabase;
  let proxy: FaultProxy;
  let store: StateStore;
  let dataDir: string;
  const totals = { ...emptyTotals(), faults: 0, reported: 0, repaired: 0, executions: 0 };
  const started = performance.now();

  beforeAll(async () => {
    if (!gate.probe.available) throw new Error(gate.probe.reason);
    database = await createTestDatabase('faults');
    const target = parseMysqlDsn(mysqlTestDsn());
    proxy = await startFaultProxy({ targetHost: target.host, targetPort: target.port });
    store = await openMysqlStore({ dsn: database.dsn, poolSize: 2 });
    dataDir = await mkdtemp(path.join(tmpdir(), 'piko-faults-'));
  });

  afterAll(async () => {
    console.log(
      `database faults: ${totals.trials} scenarios, ${totals.intervals} intervals checked, ${totals.faults} faults injected, ` +
        `${totals.reported} errors reported, ${totals.repaired} runs repaired, ${totals.executions} handler runs, ` +
        `duplicates ${totals.duplicates}, lost ${totals.lost}, not succeeded ${totals.notSucceeded} ` +
        `in ${((performance.now() - started) / 1000).toFixed(1)} s`,
    );
    await store?.close();
    await proxy?.close();
    await database?.drop();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  /** Runs a catch-up of `intervals` minutely intervals through the proxy while `inject` misbehaves. */
  async function catchUp(
    name: string,
    options: {
      readonly intervals: number;
      readonly job?: ChaosJobOptions;
      readonly env?: Record<string, string>;
      readonly inject: (child: PikoProcess) => Promise<number>;
    },
  ): Promise<FaultOutcome> {
    const jobOptions: ChaosJobOptions = {
      id: `fault_${name}`,
      start: new Date(Math.floor(Date.now() / MINUTE_MS) * MINUTE_MS - options.intervals * MINUTE_MS),
      ledger: path.join(dataDir, `${name}.ledger`),
      ...options.job,
    };
    const began = performance.now();
    const earliest = new Date();
    const child = spawnPiko({
      store: { kind: 'mysql', dsn: proxy.rewrite(database.dsn) },
      dataDir,
      job: jobOptions,
      env: options.env,
    });
    const faults = await options.inject(child);
    const exit = await Promise.race([child.exited, sleep(EXIT_TIMEOUT_MS).then(() => undefined)]);
    if (!exit) {
      await child.kill9();
      throw new Error(
        `${name}: the runtime did not finish within ${EXIT_TIMEOUT_MS / 1000} s:\n${child.tail(30)}`,
      );
    }
    proxy.clearTriggers();
    await proxy.restore();
    const latest = new Date();
    expect(exit, `${name}: exit\n${child.tail(30)}`).toEqual({ code: 0, signal: null });

    const job = defineChaosJob(jobOptions);
    const due = await plannedRange(store, job);
    expect(
      plausibleWatermark(job, due.to, earliest, latest),
      `${name}: watermark ${due.to.toISOString()}`,
    ).toBe(true);
    const check = await checkJobState({
      store,
      job,
      due,
      sink: {
        table: CHAOS_TABLE,
        intervalColumn: 'interval_start',
        jobColumn: 'job_id',
        runIdColumn: 'run_id',
      },
    });
    const reported: Record<string, number> = {};
    for (const event of [
      'attempt-failed',
      'plan-error',
      'dispatch-error',
      'requeued',
      'restarted',
      'failed',
    ]) {
      const count = child.count(event);
      if (count > 0) reported[event] = count;
    }
    const repaired = (await store.listRuns(job.id)).filter((run) => run.generation > 0).length;
    const ledger = jobOptions.ledger!;
    const executions = existsSync(ledger)
      ? readFileSync(ledger, 'utf8').split('\n').filter(Boolean).length
      : 0;

    addCheck(totals, check);
    totals.faults += faults;
    totals.reported += Object.values(reported).reduce((sum, count) => sum + count, 0);
    totals.repaired += repaired;
    totals.executions += executions;
    console.log(
      `${name}: ${check.intervals} intervals, ${faults} faults, reported ${JSON.stringify(reported)}, ` +
        `${repaired} runs repaired, ${executions} handler runs, max attempts ${check.maxAttempts}, ` +
        `duplicates ${check.duplicates}, lost ${check.lost} (${((performance.now() - began) / 1000).toFixed(1)} s)`,
    );
    expect(check.problems).toEqual([]);
    expect({ duplicates: check.duplicates, lost: check.lost, ok: check.ok }).toEqual({
      duplicates: 0,
      lost: 0,
      ok: true,
    });
    return { child, check, reported, repaired, executions };
  }

  /** Resolves once the child has started its first execution (or exited). */
  async function untilRunning(child: PikoProcess): Promise<boolean> {
    return (await child.waitFor((event) => event.event === 'dispatched', 60_000)) !== undefined;
  }

  it(
    'recovers when every connection is dropped again and again during the catch-up',
    async () => {
      // Arrange / Act: drop all connections every 150-450 ms while runs are going on
      const outcome = await catchUp('drops', {
        intervals: 300,
        job: { delayMs: [20, 60] },
        inject: async (child) => {
          if (!(await untilRunning(child))) return 0;
          let drops = 0;
          while (!child.exit && drops < 12) {
            await Promise.race([sleep(150 + Math.random() * 300), child.exited]);
            if (child.exit) break;
            proxy.drop();
            drops++;
          }
          return drops;
        },
      });

      // Assert: the errors were reported, and retried
      expect(outcome.reported['attempt-failed'] ?? 0).toBeGreaterThan(0);
    },
    SCENARIO_TIMEOUT_MS,
  );

  it(
    'recovers from connections cut mid-transaction: on the row lock, on COMMIT, on every run update',
    async () => {
      // Arrange: faults set off by the statements themselves ('after': the statement ran, its answer is lost)
      // Consecutive failures of one job's planning back off 1 s, 2 s, 4 s …: four of them cost 15 s.
      const fired = [
        proxy.failOn({ match: 'FOR UPDATE', action: 'drop' }),
        proxy.failOn({ match: "status = 'queued'", action: 'drop', when: 'after' }),
        proxy.failOn({ match: queryStartingWith('COMMIT'), action: 'drop', when: 'after', times: 2 }),
        proxy.failOn({ match: "SET status = 'running'", action: 'drop', times: 3 }),
        proxy.failOn({ match: "SET status = 'running'", action: 'drop', when: 'after', times: 2 }),
        proxy.failOn({ match: "SET status = 'succeeded'", action: 'drop', when: 'after', times: 3 }),
        proxy.failOn({ match: `INTO \`${CHAOS_TABLE}\``, action: 'drop', times: 3 }),
        proxy.failOn({ match: `INTO \`${CHAOS_TABLE}\``, action: 'drop', when: 'after', times: 2 }),
      ];

      // Act
      const outcome = await catchUp('mid_transaction', {
        intervals: 200,
        inject: async (child) => {
          await child.exited;
          return fired.reduce((sum, count) => sum + count(), 0);
        },
      });

      // Assert: every trigger fired as many times as armed, and the planning failure was retried
      expect(fired.map((count) => count())).toEqual([1, 1, 2, 3, 2, 3, 3, 2]);
      expect(outcome.reported['plan-error'] ?? 0).toBeGreaterThan(0);
    },
    SCENARIO_TIMEOUT_MS,
  );

  it(
    'plans again with backoff when the first planning meets an outage',
    async () => {
      // Arrange: the planner's first row lock takes the database away for 6 s
      const fired = proxy.failOn({ match: 'FOR UPDATE', action: 'outage', outageMs: 6_000 });

      // Act
      const outcome = await catchUp('planning_outage', {
        intervals: 150,
        inject: async (child) => {
          await child.exited;
          return fired();
        },
      });

      // Assert: reported, then retried after 1 s, 2 s, 4 s … until the database was back
      const retries = outcome.child.events
        .filter((event) => event.event === 'plan-error')
        .map((event) => event.retryInMs);
      expect(retries.length).toBeGreaterThanOrEqual(2);
      expect(retries.slice(0, 3)).toEqual(
        [RETRY_FIRST_MS, 2 * RETRY_FIRST_MS, 4 * RETRY_FIRST_MS].slice(0, retries.length),
      );
    },
    SCENARIO_TIMEOUT_MS,
  );

  it(
    'waits out stalls (bytes held for seconds)',
    async () => {
      // Act
      await catchUp('stalls', {
        intervals: 200,
        job: { delayMs: [20, 60] },
        inject: async (child) => {
          if (!(await untilRunning(child))) return 0;
          let stalls = 0;
          for (let i = 0; i < 3 && !child.exit; i++) {
            await Promise.race([sleep(200 + Math.random() * 300), child.exited]);
            if (child.exit) break;
            proxy.stall(2_500);
            stalls++;
            await sleep(2_500);
          }
          return stalls;
        },
      });
    },
    SCENARIO_TIMEOUT_MS,
  );

  it(
    'recovers when new connections are refused, accepted-and-closed or not listened for',
    async () => {
      // Act
      const outcome = await catchUp('refusals', {
        intervals: 300,
        job: { delayMs: [20, 60] },
        inject: async (child) => {
          if (!(await untilRunning(child))) return 0;
          let faults = 0;
          for (const listen of [true, false]) {
            if (child.exit) break;
            await proxy.refuse({ listen });
            proxy.drop();
            faults++;
            await sleep(3_000);
            await proxy.restore();
            await Promise.race([sleep(300), child.exited]);
          }
          return faults;
        },
      });

      // Assert
      expect(outcome.reported['attempt-failed'] ?? 0).toBeGreaterThan(0);
    },
    SCENARIO_TIMEOUT_MS,
  );

  it(
    'recovers by itself from a 30-second outage in the middle of a catch-up',
    async () => {
      // Arrange: small executions, so continuations (dispatches) also meet the outage
      let aliveAfterOutage = false;

      // Act
      const outcome = await catchUp('outage_30s', {
        intervals: 400,
        job: { delayMs: [20, 60] },
        env: { PIKO_MAX_RUNS_PER_EXECUTION: '60' },
        inject: async (child) => {
          if (!(await untilRunning(child))) return 0;
          await sleep(700);
          if (child.exit) return 0;
          await proxy.outage();
          await sleep(OUTAGE_MS);
          aliveAfterOutage = child.exit === undefined;
          await proxy.restore();
          return 1;
        },
      });

      // Assert: it neither exited nor failed runs during the outage; it reported and recovered
      expect(aliveAfterOutage).toBe(true);
      expect(outcome.reported.failed ?? 0).toBe(0);
      expect(outcome.reported['attempt-failed'] ?? 0).toBeGreaterThan(0);
      expect(outcome.check.succeeded).toBe(outcome.check.intervals);
    },
    EXIT_TIMEOUT_MS + 60_000,
  );
});
