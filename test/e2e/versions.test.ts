/**
 * Code versions through the real CLI (issue 12 item 4), on both stores: `piko start --once` runs a
 * job's due intervals as version 1; redeployed as version 2, `piko status` counts them outdated,
 * `piko backfill --reprocess outdated` (dry run, then for real) re-runs those of a range and no
 * others, and the runs record the version that ran them. Every command is a child process under
 * faketime.
 */
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mysqlGate } from '../../support/mysql.ts';
import { readLog } from '../fixtures/jobs/defs/log.ts';
import { VERSION_ENV } from '../fixtures/version-jobs/index.ts';
import {
  createE2eState,
  type E2eState,
  jsonLines,
  ROOT,
  runPiko,
  runsOf,
  type StoreKind,
} from './support.ts';

const JOBS_DIR = path.join(ROOT, 'test', 'fixtures', 'version-jobs');
const JOB = 'e2e_versioned';
/** Six hourly intervals of the job are due: 00:00 → 06:00. */
const FAKE_NOW = '2026-03-01 06:00:30';
const hourIso = (hour: number) => `2026-03-01T${String(hour).padStart(2, '0')}:00:00.000Z`;

const gate = await mysqlGate('code version end-to-end tests on MySQL');
const stores: { kind: StoreKind; skip: boolean }[] = [
  { kind: 'sqlite', skip: false },
  { kind: 'mysql', skip: gate.skip },
];

describe.each(stores)('code versions through the CLI ($kind)', ({ kind, skip }) => {
  let state: E2eState | undefined;
  beforeEach(async () => {
    if (!skip) state = await createE2eState(kind, `versions_${kind}`);
  });
  afterEach(async () => {
    await state?.cleanup();
    state = undefined;
  });

  /** `piko <args>` with the job at `version`. */
  const piko = (version: string, ...args: string[]) =>
    runPiko(args, {
      env: {
        ...state!.env,
        PIKO_JOBS_DIR: JOBS_DIR,
        PIKO_TEST_LOG_DIR: state!.dataDir,
        [VERSION_ENV]: version,
      },
      fakeTime: FAKE_NOW,
    });

  it.skipIf(skip)('re-runs with --reprocess outdated what an older version ran, and only that', async () => {
    // Arrange: version 1 runs the six due intervals.
    const started = await piko('1', 'start', '--once', '--json');
    expect(started.code).toBe(0);
    expect((await runsOf(state!, JOB)).map((run) => [run.status, run.version])).toEqual(
      Array.from({ length: 6 }, () => ['succeeded', '1']),
    );

    // Act & Assert: version 2 is deployed; every succeeded interval is outdated.
    const status = await piko('2', 'status', JOB, '--json');
    expect(status).toMatchObject({ code: 0, stderr: '' });
    expect(jsonLines(status.stdout)).toEqual([
      expect.objectContaining({ jobId: JOB, succeeded: 6, version: '2', outdated: 6 }),
    ]);
    const text = await piko('2', 'status', JOB);
    expect(text.stdout.split('\n')).toContain(
      `  version "2": 6 succeeded interval(s) outdated (piko backfill ${JOB} --from … --to … --reprocess outdated re-runs them)`,
    );

    const range = ['--from', '2026-03-01T00:00:00Z', '--to', '2026-03-01T03:00:00Z'];
    const dryRun = await piko('2', 'backfill', JOB, ...range, '--reprocess', 'outdated', '--dry-run');
    expect(dryRun).toMatchObject({ code: 0, stderr: '' });
    expect(dryRun.stdout.trim().split('\n')).toEqual([
      `${hourIso(0)} → ${hourIso(1)}  rerun`,
      `${hourIso(1)} → ${hourIso(2)}  rerun`,
      `${hourIso(2)} → ${hourIso(3)}  rerun`,
      'plan: rerun 3',
    ]);

    const backfill = await piko('2', 'backfill', JOB, ...range, '--reprocess', 'outdated', '--json');
    expect(backfill.code).toBe(0);
    expect(jsonLines(backfill.stdout).find((line) => line.event === 'backfill-done')).toMatchObject({
      succeeded: 3,
      failed: 0,
    });
    expect(
      (await runsOf(state!, JOB)).map((run) => [run.interval.start.toISOString(), run.status, run.version]),
    ).toEqual([
      [hourIso(0), 'succeeded', '2'],
      [hourIso(1), 'succeeded', '2'],
      [hourIso(2), 'succeeded', '2'],
      [hourIso(3), 'succeeded', '1'],
      [hourIso(4), 'succeeded', '1'],
      [hourIso(5), 'succeeded', '1'],
    ]);
    expect((await readLog(state!.dataDir, 'e2e_versioned-runs')).sort()).toEqual(
      [
        ...[0, 1, 2, 3, 4, 5].map((hour) => `${hourIso(hour)} 1`),
        ...[0, 1, 2].map((hour) => `${hourIso(hour)} 2`),
      ].sort(),
    );

    // Over the whole day now: only the three version 1 left are outdated.
    const whole = await piko(
      '2',
      'backfill',
      JOB,
      '--from',
      '2026-03-01T00:00:00Z',
      '--to',
      '2026-03-01T06:00:00Z',
      '--reprocess',
      'outdated',
      '--dry-run',
      '--json',
    );
    const wholePlan = jsonLines(whole.stdout);
    expect(wholePlan.map((line) => line.action)).toEqual([
      'skip-succeeded',
      'skip-succeeded',
      'skip-succeeded',
      'rerun',
      'rerun',
      'rerun',
      undefined,
    ]);
    expect(wholePlan.at(-1)).toEqual({
      plan: { create: 0, rerun: 3, 'skip-succeeded': 3, 'skip-in-flight': 0, 'skip-failed': 0 },
    });
    const after = await piko('2', 'status', JOB, '--json');
    expect(jsonLines(after.stdout)).toEqual([expect.objectContaining({ version: '2', outdated: 3 })]);
  });
});
