/**
 * Racing runtimes (issue 10, item 3), small: three `piko start --once` processes on one state store
 * (a MariaDB database, a SQLite file): one starts draining a backlog, two more start while it runs,
 * and the one running handlers is killed with `kill -9` mid-way and started again. Every interval's
 * handler runs exactly once, except an interval that was running in the killed process, which may
 * run once more elsewhere; nothing is lost. Before execution leases, a runtime took a batch another
 * live process had queued for one left over by a crash and started it again, so intervals ran two or
 * three times.
 *
 * Counts only (no times are asserted); the kill moment and victim come from a fixed seed.
 * `npx tsx bench/racing-runtimes.ts` runs N = 2, 4, 8 on 300 intervals.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, mysqlGate, type TestDatabase } from '../../support/mysql.ts';
import {
  describeRace,
  type RaceResult,
  type RaceStore,
  raceRuntimes,
} from '../../support/racing-runtimes.ts';

const PROCESSES = 3;
const INTERVALS = 40;
const CONCURRENCY = 3;
const gate = await mysqlGate('racing runtimes on MariaDB');

describe('racing runtimes (several piko start on one store)', () => {
  let dataDir: string;
  let database: TestDatabase | undefined;

  beforeAll(async () => {
    dataDir = await mkdtemp(path.join(tmpdir(), 'piko-race-'));
    if (!gate.skip) database = await createTestDatabase('racing_runtimes');
  });

  afterAll(async () => {
    await database?.drop();
    await rm(dataDir, { recursive: true, force: true });
  });

  /** The race of one store: a drain, two latecomers, one kill -9 of a process running handlers. */
  function race(store: RaceStore, jobId: string): Promise<RaceResult> {
    return raceRuntimes({
      store,
      dataDir,
      jobId,
      processes: PROCESSES,
      intervals: INTERVALS,
      kills: 1,
      seed: 7,
      staggered: true,
      // Slow enough that the latecomers start while the first process still drains.
      delayMs: [150, 250],
      concurrency: CONCURRENCY,
      maxRunsPerExecution: 10,
      timeoutMs: 240_000,
    });
  }

  function expectOneRunPerInterval(result: RaceResult): void {
    expect(result.problems).toEqual([]);
    expect({ duplicates: result.duplicates, lost: result.lost }).toEqual({ duplicates: 0, lost: 0 });
    expect(result.intervals).toBe(INTERVALS);
    expect(result.kills).toHaveLength(1);
    // A repeat is only ever an interval the killed process was running (begun there, not recorded
    // succeeded when it was killed), and each ran once more at most.
    const [kill] = result.kills;
    expect(kill!.repeated.every((start) => kill!.inFlight.includes(start))).toBe(true);
    expect(result.duplicatesAfterKill).toBe(kill!.repeated.length);
    expect(Object.keys(result.executionsPerInterval).map(Number).sort()).toEqual(
      result.duplicatesAfterKill > 0 ? [1, 2] : [1],
    );
    expect(result.handlerRuns).toBe(INTERVALS + result.duplicatesAfterKill);
  }

  it.skipIf(gate.skip)(
    'runs each interval once on one MariaDB database',
    async () => {
      // Arrange
      if (!gate.probe.available) throw new Error(gate.probe.reason);

      // Act
      const result = await race({ kind: 'mysql', dsn: database!.dsn }, 'race_mysql');

      // Assert
      console.log(describeRace('racing runtimes on MariaDB', result));
      expectOneRunPerInterval(result);
    },
    300_000,
  );

  it('runs each interval once on one SQLite file', async () => {
    // Arrange
    const file = path.join(dataDir, 'race.db');

    // Act
    const result = await race({ kind: 'sqlite', file }, 'race_sqlite');

    // Assert
    console.log(describeRace('racing runtimes on SQLite', result));
    expectOneRunPerInterval(result);
  }, 300_000);
});
