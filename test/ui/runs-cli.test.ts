/**
 * `piko runs` through the real binary in a child process, over runs seeded through the StateStore,
 * on both state stores.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadJobs } from '../../shared/registry.ts';
import type { RunRecord } from '../../shared/store/types.ts';
import { mysqlGate } from '../../support/mysql.ts';
import { createE2eState, type E2eState, jsonLines, runPiko, type StoreKind } from '../e2e/support.ts';
import { intervalsOf, seedRuns, UI_JOBS_DIR } from './support.ts';

const SECRET = 'sk-live-RunsSecret-0042';
const at = (iso: string) => new Date(iso);
const BACKFILL_ID = 'bf-0123456789abcdef0123';

const gate = await mysqlGate('piko runs tests on MySQL');
const stores: { kind: StoreKind; skip: boolean }[] = [
  { kind: 'sqlite', skip: false },
  { kind: 'mysql', skip: gate.skip },
];

describe.each(stores)('piko runs ($kind)', ({ kind, skip }) => {
  let state: E2eState;
  let seeded: RunRecord[];
  const piko = (args: readonly string[]) =>
    runPiko(['runs', 'ui_gated', ...args], { env: { ...state.env, PIKO_JOBS_DIR: UI_JOBS_DIR } });

  beforeAll(async () => {
    if (skip) return;
    if (kind === 'mysql' && !gate.probe.available) throw new Error(gate.probe.reason);
    state = await createE2eState(kind, 'ui-runs');
    const store = await state.store();
    await store.migrate();
    const job = (await loadJobs(UI_JOBS_DIR)).get('ui_gated');
    const [first, second, third, fourth] = intervalsOf(job, at('2026-03-02T00:00:00Z'), 4);
    await store.openBackfill({
      backfillId: BACKFILL_ID,
      jobId: 'ui_gated',
      range: { start: fourth!.start, end: fourth!.end },
      reprocess: 'failed',
      reverse: false,
      config: { region: 'ap' },
      cursor: fourth!.end,
      status: 'planned',
      created: 1,
      rerun: 0,
      skipped: 0,
    });
    seeded = await seedRuns(
      store,
      job,
      [
        {
          interval: first!,
          status: 'succeeded',
          output: { rows: 42, note: `token=${SECRET}` },
          durationMs: 1_250,
        },
        { interval: second!, status: 'failed', error: 'the upstream API timed out', attempts: 2 },
        {
          interval: third!,
          status: 'succeeded',
          trigger: 'manual',
          config: { region: 'us', apiKey: SECRET },
        },
        { interval: fourth!, status: 'pending', trigger: 'backfill', backfillId: BACKFILL_ID },
      ],
      at('2026-03-02T04:00:00Z'),
    );
  });
  afterAll(async () => {
    await state?.cleanup();
  });

  it.skipIf(skip)('prints every run of a range as JSON lines, secrets redacted', async () => {
    const result = await piko(['--from', '2026-03-02T00:00:00Z', '--to', '2026-03-02T04:00:00Z', '--json']);

    expect(result.code).toBe(0);
    expect(result.stderr).toBe('');
    expect(result.stdout).not.toContain(SECRET);
    const [succeeded, failed, manual, backfilled] = seeded as [RunRecord, RunRecord, RunRecord, RunRecord];
    expect(jsonLines(result.stdout)).toEqual([
      {
        jobId: 'ui_gated',
        runId: succeeded.runId,
        start: '2026-03-02T00:00:00.000Z',
        end: '2026-03-02T01:00:00.000Z',
        status: 'succeeded',
        trigger: 'schedule',
        stage: 'main',
        attempts: 1,
        generation: 0,
        requeues: 0,
        version: null,
        notBefore: null,
        executionName: 'ui_gated-seeded',
        backfill: null,
        config: null,
        error: null,
        output: { rows: 42, note: 'token=<redacted>' },
        createdAt: succeeded.createdAt.toISOString(),
        updatedAt: succeeded.updatedAt.toISOString(),
        startedAt: '2026-03-02T01:00:01.000Z',
        finishedAt: '2026-03-02T01:00:02.250Z',
        durationMs: 1_250,
        actions: [],
      },
      expect.objectContaining({
        runId: failed.runId,
        status: 'failed',
        attempts: 2,
        error: 'the upstream API timed out',
        output: null,
        durationMs: 1_500,
      }),
      expect.objectContaining({
        runId: manual.runId,
        status: 'succeeded',
        trigger: 'manual',
        config: { region: 'us', apiKey: '<redacted>' },
      }),
      expect.objectContaining({
        runId: backfilled.runId,
        status: 'pending',
        trigger: 'backfill',
        stage: null,
        attempts: 0,
        executionName: null,
        startedAt: null,
        finishedAt: null,
        durationMs: null,
        // A backfill's runs carry its config.
        config: { region: 'ap' },
        backfill: {
          id: BACKFILL_ID,
          from: '2026-03-02T03:00:00.000Z',
          to: '2026-03-02T04:00:00.000Z',
          reprocess: 'failed',
          status: 'planned',
        },
      }),
    ]);
  });

  it.skipIf(skip)('filters by status and prints readable lines', async () => {
    const result = await piko(['--status', 'failed']);

    expect(result.code).toBe(0);
    const failed = seeded[1]!;
    expect(result.stdout).toBe(
      [
        'ui_gated  2026-03-02T01:00:00.000Z → 2026-03-02T02:00:00.000Z  failed  (2026-03-02 09:00 GMT+8 → 2026-03-02 10:00 GMT+8)',
        `  run ${failed.runId}: trigger schedule, 2 attempts of stage main, generation 0, requeues 0`,
        '  execution ui_gated-seeded; backfill none',
        `  created ${failed.createdAt.toISOString()}, started 2026-03-02T02:00:01.000Z, finished 2026-03-02T02:00:02.500Z (took 1.50 s), updated ${failed.updatedAt.toISOString()}`,
        '  config none (the job defaults)',
        '  error: the upstream API timed out',
        '',
      ].join('\n'),
    );
  });

  it.skipIf(skip)(
    'without --from prints the latest runs, oldest first, and says when more match',
    async () => {
      const result = await piko(['--limit', '2', '--json']);

      expect(result.code).toBe(0);
      expect(jsonLines(result.stdout).map((line) => line.start)).toEqual([
        '2026-03-02T02:00:00.000Z',
        '2026-03-02T03:00:00.000Z',
      ]);
      expect(result.stderr).toBe(
        'ui_gated: more runs match than the 2 shown; narrow them with --from, --to and --status, or raise --limit\n',
      );
    },
  );

  it.skipIf(skip)('refuses flags it cannot use with exit code 2, naming them', async () => {
    const status = await piko(['--status', 'done,failed']);
    expect(status).toMatchObject({ code: 2, stdout: '' });
    expect(status.stderr).toBe(
      'error: --status "done,failed": "done" is not a run status; use waiting, pending, queued, running, succeeded, failed, cancelled, skipped\n',
    );
    const range = await piko(['--from', '2026-03-02T04:00:00Z', '--to', '2026-03-02T01:00:00Z']);
    expect(range).toMatchObject({ code: 2 });
    expect(range.stderr).toBe(
      'error: --from 2026-03-02T04:00:00.000Z must be before --to 2026-03-02T01:00:00.000Z\n',
    );
    const limit = await piko(['--limit', '0']);
    expect(limit.stderr).toBe('error: --limit "0" must be a whole number of at least 1\n');
    const unknown = await runPiko(['runs', 'no_such_job'], {
      env: { ...state.env, PIKO_JOBS_DIR: UI_JOBS_DIR },
    });
    expect(unknown).toMatchObject({ code: 2 });
    expect(unknown.stderr).toContain('error: Unknown job "no_such_job". Known jobs:');
  });
});
