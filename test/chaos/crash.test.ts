/**
 * Crash tests (issue 5, item 1): `piko start --once` catches up 100–200 minutely intervals of the chaos
 * job (one upserted row per interval) and is killed with SIGKILL at random moments, then started again
 * until a run exits 0. Afterwards every due interval has exactly one run, succeeded, with plausible
 * attempts, and the sink table holds exactly one row per interval. On MariaDB (one database for this
 * file, a fresh job per trial) and on SQLite (a fresh file per trial).
 *
 * The seed of the random choices is printed; `PIKO_TEST_CHAOS_SEED` replays them (timing aside).
 * `npx tsx bench/chaos.ts --trials 400` runs many more.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CrashSuite, describeTotals } from '../../support/crash-trials.ts';
import { createTestDatabase, mysqlGate, type TestDatabase } from '../../support/mysql.ts';

/** 32 trials in all: enough kills to land in every phase, within about two minutes on 2 cores. */
const TRIALS_PER_STORE = 16;
const SEED = Number(process.env.PIKO_TEST_CHAOS_SEED || Date.now() % 1_000_000);
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
        for (let trial = 0; trial < TRIALS_PER_STORE; trial++) await suite.run(trial);
      } finally {
        await suite.close();
      }

      // Assert
      const { totals } = suite;
      console.log(
        `${describeTotals('crash trials on MariaDB', totals, performance.now() - started)} (seed ${SEED})`,
      );
      expect(totals.errors).toEqual([]);
      expect(totals.trials).toBe(TRIALS_PER_STORE);
      expect(totals.kills).toBeGreaterThanOrEqual(TRIALS_PER_STORE);
      expect(totals.intervals).toBeGreaterThanOrEqual(100 * TRIALS_PER_STORE);
      expect({ duplicates: totals.duplicates, lost: totals.lost }).toEqual({ duplicates: 0, lost: 0 });
    },
    300_000,
  );

  it('never loses or doubles an interval on SQLite', async () => {
    // Arrange
    const suite = new CrashSuite({
      store: { kind: 'sqlite' },
      dataDir,
      seed: SEED + 1,
      jobPrefix: 'chaos_sq',
    });
    const started = performance.now();

    // Act
    try {
      for (let trial = 0; trial < TRIALS_PER_STORE; trial++) await suite.run(trial);
    } finally {
      await suite.close();
    }

    // Assert
    const { totals } = suite;
    console.log(
      `${describeTotals('crash trials on SQLite', totals, performance.now() - started)} (seed ${SEED + 1})`,
    );
    expect(totals.errors).toEqual([]);
    expect(totals.trials).toBe(TRIALS_PER_STORE);
    expect(totals.kills).toBeGreaterThanOrEqual(TRIALS_PER_STORE);
    expect(totals.intervals).toBeGreaterThanOrEqual(100 * TRIALS_PER_STORE);
    expect({ duplicates: totals.duplicates, lost: totals.lost }).toEqual({ duplicates: 0, lost: 0 });
  }, 300_000);
});
