/**
 * Crash tests (issue 5, item 1): `piko start --once` catches up 120–150 minutely intervals of the chaos
 * job (one upserted row per interval) and is killed with SIGKILL, then started again until a run exits
 * 0. Afterwards every due interval has exactly one run, succeeded, with plausible attempts, and the
 * sink table holds exactly one row per interval. On MariaDB (one database for this file, a fresh job
 * per trial) and on SQLite (a fresh file per trial).
 *
 * The kills are scripted, one of each kind: at boot, while planning, while running handlers (in one
 * big execution, and in small plans and executions), while exiting. `npx tsx bench/chaos.ts --trials
 * 400` runs many trials with kills at random moments (the 32 random trials this file ran before are
 * `--trials 32`).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CrashSuite, describeTotals, type TrialPlan } from '../../support/crash-trials.ts';
import { createTestDatabase, mysqlGate, type TestDatabase } from '../../support/mysql.ts';

/** Every kind of kill once per store; 7 processes per store. */
const PLANS: readonly TrialPlan[] = [
  { intervals: 150, kills: [{ at: 'boot' }, { at: 'planning' }, { at: 'running', fraction: 0.5 }] },
  {
    intervals: 120,
    small: { maxIntervalsPerDispatch: 40, maxRunsPerExecution: 25 },
    kills: [{ at: 'running', fraction: 0.3 }, { at: 'planning' }, { at: 'exiting' }],
  },
];
/** The seed is not drawn from: every trial is scripted. */
const SEED = 1;
const gate = await mysqlGate('chaos crash tests on MariaDB');

describe('crash recovery (kill -9 during catch-up)', () => {
  let dataDir: string;
  let database: TestDatabase | undefined;

  beforeAll(async () => {
    dataDir = await mkdtemp(path.join(tmpdir(), 'piko-chaos-'));
    if (!gate.skip) database = await createTestDatabase('chaos_crash');
  });

  afterAll(async () => {
    await database?.drop();
    await rm(dataDir, { recursive: true, force: true });
  });

  it.skipIf(gate.skip)(
    'never loses or doubles an interval on MariaDB',
    async () => {
      // Arrange
      if (!gate.probe.available) throw new Error(gate.probe.reason);
      const suite = new CrashSuite({
        store: { kind: 'mysql', dsn: database!.dsn },
        dataDir,
        seed: SEED,
        jobPrefix: 'chaos_my',
      });
      const started = performance.now();

      // Act
      try {
        for (const [trial, plan] of PLANS.entries()) await suite.run(trial, plan);
      } finally {
        await suite.close();
      }

      // Assert
      const { totals } = suite;
      console.log(`${describeTotals('crash trials on MariaDB', totals, performance.now() - started)}`);
      expect(totals.errors).toEqual([]);
      expect(totals.trials).toBe(PLANS.length);
      expect(totals.kills).toBeGreaterThanOrEqual(PLANS.length);
      expect(totals.intervals).toBeGreaterThanOrEqual(100 * PLANS.length);
      expect({ duplicates: totals.duplicates, lost: totals.lost }).toEqual({ duplicates: 0, lost: 0 });
    },
    300_000,
  );

  it('never loses or doubles an interval on SQLite', async () => {
    // Arrange
    const suite = new CrashSuite({
      store: { kind: 'sqlite' },
      dataDir,
      seed: SEED,
      jobPrefix: 'chaos_sq',
    });
    const started = performance.now();

    // Act
    try {
      for (const [trial, plan] of PLANS.entries()) await suite.run(trial, plan);
    } finally {
      await suite.close();
    }

    // Assert
    const { totals } = suite;
    console.log(`${describeTotals('crash trials on SQLite', totals, performance.now() - started)}`);
    expect(totals.errors).toEqual([]);
    expect(totals.trials).toBe(PLANS.length);
    expect(totals.kills).toBeGreaterThanOrEqual(PLANS.length);
    expect(totals.intervals).toBeGreaterThanOrEqual(100 * PLANS.length);
    expect({ duplicates: totals.duplicates, lost: totals.lost }).toEqual({ duplicates: 0, lost: 0 });
  }, 300_000);
});
