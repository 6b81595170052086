/**
 * Dependencies between jobs through the real CLI (issue 12 items 1 and 2), under faketime at the end
 * of Berlin's 23-hour day 2026-03-29: a daily Europe/Berlin rollup waits for the 23 hourly UTC
 * intervals of its day and is dispatched by the last one's success (`start --once` dispatches it
 * nothing else); `status` and `runs` name what a waiting run waits for; `backfill --downstream`
 * lists (dry run) and re-runs the overlapping intervals of a two-level chain, each level after the
 * one above it. Order is asserted from the state, never from the wall clock. SQLite (the store
 * tests cover MariaDB).
 */
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FAIL_HOUR_ENV } from '../fixtures/dependency-jobs/index.ts';
import { createE2eState, type E2eState, ROOT, runPiko, runsOf } from './support.ts';

const JOBS_DIR = path.join(ROOT, 'test', 'fixtures', 'dependency-jobs');
/** Half a minute after the Berlin day 2026-03-29 ended (22:00Z). */
const FAKE_NOW = '2026-03-29 22:00:30';
const DAY = { start: '2026-03-28T23:00:00.000Z', end: '2026-03-29T22:00:00.000Z' };

describe('dependencies between jobs through the CLI', () => {
  let state: E2eState;
  beforeEach(async () => {
    state = await createE2eState('sqlite', 'dependencies');
  });
  afterEach(async () => {
    await state.cleanup();
  });

  const piko = (env: Record<string, string>, ...args: string[]) =>
    runPiko(args, { env: { ...state.env, PIKO_JOBS_DIR: JOBS_DIR, ...env }, fakeTime: FAKE_NOW });
  const finishedLast = (runs: { finishedAt: Date | null }[]) =>
    Math.max(...runs.map((run) => run.finishedAt?.getTime() ?? Number.POSITIVE_INFINITY));

  it('runs the rollup once its 23 upstream hours succeeded, dispatched by the last success, then the report', async () => {
    // Act
    const started = await piko({}, 'start', '--once', '--json');

    // Assert: every run succeeded; each level started after the last run of the level above finished.
    expect(started.code).toBe(0);
    const hours = await runsOf(state, 'hourly_events');
    const [rollup] = await runsOf(state, 'daily_rollup');
    const [report] = await runsOf(state, 'rollup_report');
    expect(hours).toHaveLength(23);
    expect(hours.every((run) => run.status === 'succeeded')).toBe(true);
    expect(rollup).toMatchObject({ status: 'succeeded', interval: { start: new Date(DAY.start) } });
    expect(report).toMatchObject({ status: 'succeeded' });
    expect(rollup!.startedAt!.getTime()).toBeGreaterThanOrEqual(finishedLast(hours));
    expect(report!.startedAt!.getTime()).toBeGreaterThanOrEqual(finishedLast([rollup!]));

    // Act & Assert: the dry runs of a backfill of two hours, without and with --downstream.
    const range = ['--from', '2026-03-29T05:00:00Z', '--to', '2026-03-29T07:00:00Z', '--reprocess', 'all'];
    const stale = await piko({}, 'backfill', 'hourly_events', ...range, '--dry-run');
    expect(stale).toMatchObject({ code: 0, stderr: '' });
    const downstreamLines = (text: string) =>
      text
        .trim()
        .split('\n')
        .map((line) => line.replace(/, about .*$/, ', about …'));
    expect(downstreamLines(stale.stdout)).toEqual([
      '2026-03-29T05:00:00.000Z → 2026-03-29T06:00:00.000Z  rerun',
      '2026-03-29T06:00:00.000Z → 2026-03-29T07:00:00.000Z  rerun',
      'plan: rerun 2',
      'downstream daily_rollup (dependsOn hourly_events): 1 interval become stale, about …',
      '  2026-03-28T23:00Z → 2026-03-29T22:00Z  1 interval',
      'downstream rollup_report (dependsOn daily_rollup): 1 interval become stale, about …',
      '  2026-03-28T23:00Z → 2026-03-29T22:00Z  1 interval',
      'add --downstream to re-run them after the upstream intervals',
    ]);
    const dryRun = await piko({}, 'backfill', 'hourly_events', ...range, '--downstream', '--dry-run');
    expect(dryRun.stdout).toMatch(
      /downstream daily_rollup \(dependsOn hourly_events\): 1 interval would re-run, about \S+ \(1 × \S+ average, concurrency 1\)/,
    );

    // Act: the backfill for real.
    const backfill = await piko({}, 'backfill', 'hourly_events', ...range, '--downstream', '--json');

    // Assert: the two hours re-ran, then the rollup, then the report.
    expect(backfill.code).toBe(0);
    const rerunHours = (await runsOf(state, 'hourly_events')).filter((run) => run.generation === 1);
    const [rollupAgain] = await runsOf(state, 'daily_rollup');
    const [reportAgain] = await runsOf(state, 'rollup_report');
    expect(rerunHours.map((run) => run.interval.start.toISOString())).toEqual([
      '2026-03-29T05:00:00.000Z',
      '2026-03-29T06:00:00.000Z',
    ]);
    expect(rollupAgain).toMatchObject({ status: 'succeeded', generation: 1, trigger: 'backfill' });
    expect(reportAgain).toMatchObject({ status: 'succeeded', generation: 1, trigger: 'backfill' });
    expect(rollupAgain!.startedAt!.getTime()).toBeGreaterThanOrEqual(finishedLast(rerunHours));
    expect(reportAgain!.startedAt!.getTime()).toBeGreaterThanOrEqual(finishedLast([rollupAgain!]));
  });

  it('keeps the rollup waiting while an upstream hour failed, and says which in status and runs', async () => {
    // Arrange: the hour 05:00Z fails.
    const failing = { [FAIL_HOUR_ENV]: '2026-03-29T05:00:00.000Z' };
    expect((await piko(failing, 'start', '--once')).code).toBe(1);

    // Act
    const status = await piko({}, 'status', 'daily_rollup');
    const runs = await piko({}, 'runs', 'daily_rollup');

    // Assert
    const waitingFor =
      'hourly_events 2026-03-28T23:00Z–2026-03-29T22:00Z (23 intervals, 1 missing: 2026-03-29T05:00Z–2026-03-29T06:00Z)';
    expect(status.stdout.split('\n')).toContain(`  waiting ${DAY.start} → ${DAY.end} for ${waitingFor}`);
    expect(status.stdout).toContain('runs: waiting 1, pending 0');
    expect(runs.stdout.split('\n')).toContain(`  waiting for ${waitingFor}`);
    expect((await runsOf(state, 'rollup_report'))[0]?.status).toBe('waiting');
  });
});
