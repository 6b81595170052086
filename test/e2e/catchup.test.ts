/**
 * Catch-up through the real CLI: `piko start --once` under faketime, so that exactly 72 hourly
 * intervals of e2e_hourly are due (DESIGN.md §4, §6), on both state stores.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { mysqlGate } from '../../support/mysql.ts';
import { HOURLY_START } from '../fixtures/jobs/defs/hourly.ts';
import { readLog } from '../fixtures/jobs/defs/log.ts';
import {
  createE2eState,
  type E2eState,
  FIXTURE_JOBS_DIR,
  hourlyStarts,
  runPiko,
  runsOf,
  type StoreKind,
  startPiko,
  succeededCount,
  waitFor,
} from './support.ts';

const JOB = 'e2e_hourly';
/** 72 hours after HOURLY_START, plus 30 s: exactly 72 intervals are due, the next one in 59.5 minutes. */
const FAKE_NOW = '2026-03-04 00:00:30';
const EXPECTED_STARTS = hourlyStarts(HOURLY_START, 72);

const gate = await mysqlGate('catch-up end-to-end tests on MySQL');
const stores: { kind: StoreKind; skip: boolean }[] = [
  { kind: 'sqlite', skip: false },
  { kind: 'mysql', skip: gate.skip },
];

describe.each(stores)('piko start --once catching up 3 missed days ($kind)', ({ kind, skip }) => {
  let state: E2eState | undefined;
  afterEach(async () => {
    await state?.cleanup();
    state = undefined;
  });

  function pikoEnv(s: E2eState): Record<string, string> {
    return {
      ...s.env,
      PIKO_JOBS_DIR: FIXTURE_JOBS_DIR,
      PIKO_TEST_JOBS: JOB,
      PIKO_TEST_LOG_DIR: s.dataDir,
      PIKO_SHUTDOWN_GRACE_SECONDS: '2',
    };
  }

  async function sinkStarts(s: E2eState): Promise<string[]> {
    const rows = await s.rows<{ interval_start: string }>(
      'SELECT interval_start FROM e2e_hourly_rows ORDER BY interval_start',
    );
    return rows.map((row) => row.interval_start);
  }

  it.skipIf(skip)('runs all 72 due intervals exactly once', async () => {
    // Arrange
    if (kind === 'mysql' && !gate.probe.available) throw new Error(gate.probe.reason);
    state = await createE2eState(kind, 'catchup');

    // Act
    const result = await runPiko(['start', '--once', '--json'], {
      env: pikoEnv(state),
      fakeTime: FAKE_NOW,
    });

    // Assert
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const runs = await runsOf(state, JOB);
    expect(runs.map((run) => run.interval.start.toISOString())).toEqual(EXPECTED_STARTS);
    expect(runs.map((run) => [run.status, run.attempts, run.trigger])).toEqual(
      EXPECTED_STARTS.map(() => ['succeeded', 1, 'schedule']),
    );
    expect(await sinkStarts(state)).toEqual(EXPECTED_STARTS);
    const invocations = await readLog(state.dataDir, `${JOB}-invocations`);
    expect(invocations.toSorted()).toEqual(EXPECTED_STARTS);
    const job = await (await state.store()).getJob(JOB);
    expect(job?.watermark.toISOString()).toBe('2026-03-04T00:00:00.000Z');
    expect(job?.skippedTotal).toBe(0);
  });

  it.skipIf(skip)(
    'finishes after a SIGTERM halfway and a restart, with no duplicate and none lost',
    async () => {
      // Arrange
      if (kind === 'mysql' && !gate.probe.available) throw new Error(gate.probe.reason);
      const s = await createE2eState(kind, 'sigterm');
      state = s;
      const first = startPiko(['start', '--once'], { env: pikoEnv(s), fakeTime: FAKE_NOW });

      // Act: SIGTERM once half the runs have succeeded, then start again
      const atSigterm = await waitFor('half of the runs to succeed', async () => {
        const succeeded = await succeededCount(s, JOB);
        return succeeded >= 36 ? succeeded : undefined;
      });
      await first.kill('SIGTERM');
      const stopped = await first.done;
      const runsAfterStop = await runsOf(s, JOB);
      const succeededAfterStop = runsAfterStop.filter((run) => run.status === 'succeeded').length;
      const invokedBeforeRestart = (await readLog(s.dataDir, `${JOB}-invocations`)).length;
      console.log(
        `[${kind}] SIGTERM after ${atSigterm}/72 runs succeeded; ${succeededAfterStop} had succeeded when piko exited`,
      );
      const restarted = await runPiko(['start', '--once'], {
        env: pikoEnv(s),
        fakeTime: '2026-03-04 00:00:40',
      });

      // Assert: the first process stopped new work and left the rest queued, saying it is not done
      // (exit code 143, as a shell reports SIGTERM)
      expect(stopped.code).toBe(143);
      expect(stopped.stdout).toContain('SIGTERM: no new work; running intervals get 2 s');
      expect(stopped.stdout).toContain(
        `stopped by SIGTERM before the end: ${succeededAfterStop} succeeded, 0 failed, 72 planned, 0 skipped; ${72 - succeededAfterStop} run(s) not finished, for the next start`,
      );
      expect(stopped.stdout).not.toContain('done:');
      expect(succeededAfterStop).toBeLessThan(72);
      expect(runsAfterStop.filter((run) => run.status !== 'succeeded' && run.status !== 'queued')).toEqual(
        [],
      );
      expect(invokedBeforeRestart).toBe(succeededAfterStop);
      // … and the restart finished the rest: each interval once, in the state table and in the sink
      expect(restarted.stderr).toBe('');
      expect(restarted.code).toBe(0);
      const runs = await runsOf(s, JOB);
      expect(runs.map((run) => run.interval.start.toISOString())).toEqual(EXPECTED_STARTS);
      expect(runs.map((run) => [run.status, run.attempts])).toEqual(
        EXPECTED_STARTS.map(() => ['succeeded', 1]),
      );
      expect(await sinkStarts(s)).toEqual(EXPECTED_STARTS);
      const invocations = await readLog(s.dataDir, `${JOB}-invocations`);
      expect(invocations.toSorted()).toEqual(EXPECTED_STARTS);
    },
  );
});
