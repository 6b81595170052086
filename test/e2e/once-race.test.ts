/**
 * Three `piko start --once` at the same moment on one MySQL store (README: `--once` exits only when
 * nothing is left for it or for others). One of them wins the job's lane and queues the batch; the
 * others, whose dispatch saw the lane free and then taken, before the winner had started (or
 * leased) its execution, exited at once with "done: 0 succeeded", leaving the work to the winner
 * alone (4 of 4 tries on MariaDB). Each must exit only once every due interval has succeeded, and
 * every handler must have run once.
 */
import './quiet-metrics.ts';
import { afterEach, describe, expect, it } from 'vitest';
import { mysqlGate } from '../../support/mysql.ts';
import { readLog } from '../fixtures/jobs/defs/log.ts';
import { drain, PAUSE_DUE, PAUSE_NOW, PAUSE_START } from '../fixtures/pause-jobs/index.ts';
import { createE2eState, type E2eState, ROOT, startPiko } from './support.ts';

const PAUSE_JOBS_DIR = `${ROOT}/test/fixtures/pause-jobs`;
const gate = await mysqlGate('racing piko start --once on MySQL');
/** The due intervals end here; later ones (the fake clock runs on) are not this test's. */
const DUE_END = new Date(Date.parse(PAUSE_START) + PAUSE_DUE * 60_000);

describe('piko start --once racing on one MySQL store', () => {
  let state: E2eState | undefined;
  afterEach(async () => {
    await state?.cleanup();
    state = undefined;
  });

  it.skipIf(gate.skip)('each exits only once every due interval has succeeded, each run once', async () => {
    // Arrange
    if (!gate.probe.available) throw new Error(gate.probe.reason);
    const s = await createE2eState('mysql', 'once_race');
    state = s;
    const options = {
      env: { ...s.env, PIKO_JOBS_DIR: PAUSE_JOBS_DIR, PIKO_TEST_LOG_DIR: s.dataDir },
      fakeTime: PAUSE_NOW.replace('T', ' ').replace('.000Z', ''),
      timeoutMs: 120_000,
    };
    /** The due intervals not succeeded (yet) when each process had exited, and its exit. */
    const unfinishedAtExit = async (piko: ReturnType<typeof startPiko>) => {
      const result = await piko.done;
      const runs = await (await s.store()).listRuns(drain.id, { from: new Date(PAUSE_START), to: DUE_END });
      return {
        code: result.code,
        unfinished: PAUSE_DUE - runs.filter((run) => run.status === 'succeeded').length,
        stdout: result.stdout,
      };
    };

    // Act
    const racers = [1, 2, 3].map(() => startPiko(['start', '--once'], options));
    const exits = await Promise.all(racers.map(unfinishedAtExit));

    // Assert
    expect(exits.map(({ code, unfinished }) => ({ code, unfinished }))).toEqual([
      { code: 0, unfinished: 0 },
      { code: 0, unfinished: 0 },
      { code: 0, unfinished: 0 },
    ]);
    const starts = await readLog(s.dataDir, 'e2e_pause-starts');
    const due = starts.filter((start) => Date.parse(start) < DUE_END.getTime());
    expect(due).toHaveLength(PAUSE_DUE);
    expect(new Set(due).size).toBe(PAUSE_DUE);
  });
});
