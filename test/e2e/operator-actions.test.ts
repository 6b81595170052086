/**
 * `piko mark` and `piko cancel` through the real CLI (issue 13 item 1), on both stores: a dry run
 * writes nothing, marked intervals are neither planned again nor run by `piko start --once`, and
 * `piko runs --json` shows each interval's recorded actions (who, why, when). Cancelling a pending
 * or running run is covered on both stores by test/integ/planner/operator-suite.ts.
 */
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mysqlGate } from '../../support/mysql.ts';
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

const gate = await mysqlGate('operator action end-to-end tests on MySQL');
const stores: { kind: StoreKind; skip: boolean }[] = [
  { kind: 'sqlite', skip: false },
  { kind: 'mysql', skip: gate.skip },
];

describe.each(stores)('operator actions through the CLI ($kind)', ({ kind, skip }) => {
  let state: E2eState | undefined;
  beforeEach(async () => {
    if (!skip) state = await createE2eState(kind, `actions_${kind}`);
  });
  afterEach(async () => {
    await state?.cleanup();
    state = undefined;
  });

  const piko = (...args: string[]) =>
    runPiko(args, {
      env: { ...state!.env, PIKO_JOBS_DIR: JOBS_DIR, PIKO_TEST_LOG_DIR: state!.dataDir, [VERSION_ENV]: '1' },
      fakeTime: FAKE_NOW,
    });

  it.skipIf(skip)(
    'marks a range skipped (dry run first); the runtime runs only the rest; runs shows who and why',
    async () => {
      const mark = [
        'mark',
        JOB,
        '--from',
        hourIso(0),
        '--to',
        hourIso(2),
        '--as',
        'skipped',
        '--reason',
        'holiday',
      ];
      const dry = await piko(...mark, '--dry-run');
      expect(dry.code).toBe(0);
      expect(dry.stdout).toContain('(dry run) e2e_versioned: 2 interval(s); would create 2 run(s)');
      expect(await runsOf(state!, JOB)).toEqual([]);

      const marked = await piko(...mark, '--json');
      expect(marked.code).toBe(0);
      expect(jsonLines(marked.stdout)).toEqual([
        expect.objectContaining({ created: 2, updated: 0, dryRun: false }),
      ]);

      expect((await piko('start', '--once', '--json')).code).toBe(0);
      const runs = await runsOf(state!, JOB);
      expect(runs.map((run) => run.status)).toEqual([
        'skipped',
        'skipped',
        'succeeded',
        'succeeded',
        'succeeded',
        'succeeded',
      ]);

      const history = jsonLines((await piko('runs', JOB, '--from', hourIso(0), '--json')).stdout);
      expect(history[0]?.actions).toEqual([
        expect.objectContaining({ kind: 'mark', reason: 'holiday', actor: expect.stringMatching(/.+@.+/) }),
      ]);
      expect(history[2]?.actions).toEqual([]);

      // A finished run is not cancelled: said, and left as it is.
      const cancel = await piko('cancel', JOB, '--interval', hourIso(5), '--reason', 'too late');
      expect(cancel.code).toBe(0);
      expect(cancel.stdout).toContain('e2e_versioned: cancelled 0 run(s)');
      expect((await runsOf(state!, JOB)).at(-1)?.status).toBe('succeeded');
    },
  );
});
