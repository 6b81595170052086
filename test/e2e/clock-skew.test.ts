/**
 * Clock skew through the real CLI, under faketime (DESIGN.md §4): a clock that ran a month ahead
 * and was corrected, and a clock 11 months behind, on both state stores. The operator sees why
 * nothing is planned and recovers with `piko reset-watermark`.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { mysqlGate } from '../../support/mysql.ts';
import {
  createE2eState,
  type E2eState,
  FIXTURE_JOBS_DIR,
  runPiko,
  runsOf,
  type StoreKind,
  startPiko,
  waitFor,
} from './support.ts';

const JOB = 'e2e_hourly';
/** The real now of these scenarios: 72 hourly intervals after the job's start are due. */
const REAL_NOW = '2026-03-04 00:00:30';

const gate = await mysqlGate('clock skew end-to-end tests on MySQL');
const stores: { kind: StoreKind; skip: boolean }[] = [
  { kind: 'sqlite', skip: false },
  { kind: 'mysql', skip: gate.skip },
];

describe.each(stores)('clock skew through piko ($kind)', ({ kind, skip }) => {
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
      PIKO_SHUTDOWN_GRACE_SECONDS: '1',
    };
  }

  it.skipIf(skip)(
    'a clock a month ahead, then corrected: the message, then recovery with reset-watermark',
    async () => {
      // Arrange: a run with the clock a month ahead, stopped once it has planned the month
      if (kind === 'mysql' && !gate.probe.available) throw new Error(gate.probe.reason);
      const s = await createE2eState(kind, 'skew_ahead');
      state = s;
      const ahead = startPiko(['start', '--once'], { env: pikoEnv(s), fakeTime: '2026-04-04 00:00:30' });
      await waitFor('the month ahead to be planned', async () => {
        const job = await (await s.store()).getJob(JOB).catch(() => undefined);
        return job && job.watermark.getTime() >= Date.parse('2026-04-04T00:00:00Z') ? job : undefined;
      });
      await ahead.kill('SIGTERM');
      await ahead.done;

      // Act: the corrected clock plans, the operator looks, then resets
      const corrected = await runPiko(['start', '--once'], { env: pikoEnv(s), fakeTime: REAL_NOW });
      const dryRun = await runPiko(['reset-watermark', JOB, '--to', '2026-03-04T00:00:00Z', '--dry-run'], {
        env: pikoEnv(s),
        fakeTime: REAL_NOW,
      });
      const runsAfterDryRun = (await runsOf(s, JOB)).length;
      const reset = await runPiko(['reset-watermark', JOB, '--to', '2026-03-04T00:00:00Z'], {
        env: pikoEnv(s),
        fakeTime: REAL_NOW,
      });
      const recovered = await runPiko(['start', '--once'], {
        env: pikoEnv(s),
        fakeTime: '2026-03-04 00:00:40',
      });

      // Assert
      expect(corrected.code).toBe(1);
      expect(corrected.stdout).toMatch(/Clock skew: this machine's clock says 2026-03-04T00:00:3\d\.\d{3}Z /);
      expect(corrected.stdout).toContain(
        `but job "${JOB}" was planned up to 2026-04-04T00:00:00.000Z (30 days later)`,
      );
      expect(corrected.stdout).toContain(`piko reset-watermark ${JOB} --to <ISO time> --dry-run`);
      expect(corrected.stdout.match(/Clock skew/g)).toHaveLength(1);
      expect(dryRun.code).toBe(0);
      expect(dryRun.stdout).toContain(
        `(dry run) ${JOB}: would move the watermark from 2026-04-04T00:00:00.000Z to 2026-03-04T00:00:00.000Z`,
      );
      expect(runsAfterDryRun).toBe(31 * 24 + 72);
      expect(reset.code).toBe(0);
      expect(reset.stdout).toMatch(/deleted \d+ pending or queued run\(s\) of intervals ending after now/);
      expect(recovered.stderr).toBe('');
      expect(recovered.code).toBe(0);
      const runs = await runsOf(s, JOB);
      const future = runs.filter((run) => run.interval.end.getTime() > Date.parse('2026-03-04T00:00:40Z'));
      // Every run after the real now that is left had started (kept, listed by the reset); none is waiting.
      expect(future.filter((run) => run.status === 'pending' || run.status === 'queued')).toEqual([]);
      expect(reset.stdout).toContain(`kept ${future.length} other run(s) of intervals ending after now`);
      const due = runs.filter((run) => run.interval.end.getTime() <= Date.parse('2026-03-04T00:00:00Z'));
      expect(due.map((run) => run.status)).toEqual(Array(72).fill('succeeded'));
      expect((await (await s.store()).getJob(JOB))?.watermark.toISOString()).toBe('2026-03-04T00:00:00.000Z');
    },
    120_000,
  );

  it.skipIf(skip)(
    'a clock 11 months behind: a message, not silence',
    async () => {
      // Arrange: the state of a real run
      if (kind === 'mysql' && !gate.probe.available) throw new Error(gate.probe.reason);
      const s = await createE2eState(kind, 'skew_behind');
      state = s;
      const real = await runPiko(['start', '--once'], { env: pikoEnv(s), fakeTime: REAL_NOW });

      // Act
      const behind = await runPiko(['start', '--once'], { env: pikoEnv(s), fakeTime: '2025-04-04 00:00:30' });

      // Assert
      expect(real.code).toBe(0);
      expect(behind.code).toBe(1);
      expect(behind.stdout).toMatch(/Clock skew: this machine's clock says 2025-04-04T00:00:3\d\.\d{3}Z /);
      expect(behind.stdout).toContain(
        `but job "${JOB}" was planned up to 2026-03-04T00:00:00.000Z (333 days later)`,
      );
      expect(behind.stdout).toContain('If this clock is behind, fix it (NTP): planning resumes by itself.');
    },
    120_000,
  );
});
