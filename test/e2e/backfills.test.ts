/**
 * Backfill management through the real CLI (DESIGN.md §8, issue 13 item 1), on both stores: a
 * backfill run by the local runtime in this process at its own concurrency (2, the job's is 5), its
 * handlers held, is paused, listed, resumed and cancelled by `piko backfill pause|resume|cancel` and
 * `piko backfills` as child processes; a scheduled interval of the same job runs while it is held.
 */
import './quiet-metrics.ts';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../shared/config.ts';
import { LocalRuntime } from '../../shared/local/runtime.ts';
import { backfillId, changeBackfill, runBackfill } from '../../shared/planner/index.ts';
import { JobRegistry } from '../../shared/registry.ts';
import { openProcessServices, type ProcessServices } from '../../shared/runner/process.ts';
import { LOCAL_DRIVERS } from '../../shared/store/local.ts';
import type { RunRecord } from '../../shared/store/types.ts';
import { mysqlGate } from '../../support/mysql.ts';
import { drain, PAUSE_START, pauseHooks } from '../fixtures/pause-jobs/index.ts';
import { HandlerGate } from '../helpers/handler-gate.ts';
import {
  createE2eState,
  type E2eState,
  jsonLines,
  ROOT,
  runPiko,
  type StoreKind,
  sleep,
  startPiko,
  waitFor,
} from './support.ts';

const PAUSE_JOBS_DIR = `${ROOT}/test/fixtures/pause-jobs`;
/** Ten scheduled intervals of the job are due. */
const NOW = new Date(Date.parse(PAUSE_START) + 10 * 60_000 + 30_000);
/** Backfills cover ten minutes before the job's start: never the scheduled lane's intervals. */
const RANGE = { from: new Date('2026-04-30T23:00:00Z'), to: new Date('2026-04-30T23:10:00Z') };
const BACKFILL_CONCURRENCY = 2;

const gate = await mysqlGate('backfill management end-to-end tests on MySQL');
const stores: { kind: StoreKind; skip: boolean }[] = [
  { kind: 'sqlite', skip: false },
  { kind: 'mysql', skip: gate.skip },
];

function byStatus(runs: readonly RunRecord[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const run of runs) counts[run.status] = (counts[run.status] ?? 0) + 1;
  return counts;
}

describe.each(stores)('piko backfills and backfill pause|resume|cancel ($kind)', ({ kind, skip }) => {
  let state: E2eState | undefined;
  let opened: ProcessServices | undefined;
  let handlers: HandlerGate;

  beforeEach(() => {
    handlers = new HandlerGate();
    // Only the backfill's intervals (before the job's start) are held; scheduled ones run freely.
    pauseHooks.onStart = (ctx) =>
      ctx.interval.start.getTime() < Date.parse(PAUSE_START)
        ? handlers.enter(ctx.interval.start.toISOString())
        : Promise.resolve();
  });
  afterEach(async () => {
    handlers.open();
    pauseHooks.onStart = undefined;
    await opened?.close();
    opened = undefined;
    await state?.cleanup();
    state = undefined;
  });

  const cli = (s: E2eState) => ({
    env: { ...s.env, PIKO_JOBS_DIR: PAUSE_JOBS_DIR, PIKO_TEST_LOG_DIR: s.dataDir },
    timeoutMs: 120_000,
  });

  async function setUp(label: string) {
    if (kind === 'mysql' && !gate.probe.available) throw new Error(gate.probe.reason);
    state = await createE2eState(kind, label);
    const config = loadConfig({ env: { ...state.env, PIKO_JOBS_DIR: PAUSE_JOBS_DIR } });
    opened = await openProcessServices(config, new JobRegistry([drain]), { drivers: LOCAL_DRIVERS });
    const runtime = new LocalRuntime({ process: opened, clock: () => NOW, noRetryWaits: true });
    const request = { jobId: drain.id, ...RANGE, concurrency: BACKFILL_CONCURRENCY };
    const running = runBackfill(opened.store, drain, request, runtime, {
      clock: () => NOW,
      pausedPollMs: 50,
    });
    // Settles either way; the test awaits it where it expects it to end.
    running.catch(() => undefined);
    await handlers.whenEntered(BACKFILL_CONCURRENCY);
    const id = backfillId(request);
    // The next batch is queued while the first runs (it starts when the first ends).
    await waitFor('the next batch queued ahead', async () =>
      byStatus(await backfillRuns(opened!.store, id)).queued === BACKFILL_CONCURRENCY ? true : undefined,
    );
    return { state, opened, runtime, running, id };
  }

  const backfillRuns = async (store: ProcessServices['store'], id: string) =>
    (await store.listRuns(drain.id)).filter((run) => run.backfillId === id);

  it.skipIf(skip)(
    'pause holds the backfill at its concurrency while a scheduled interval runs; resume finishes it; both recorded',
    async () => {
      // Arrange: the backfill's first batch (2 runs, its concurrency) held running
      const { state, opened, runtime, running, id } = await setUp('backfills_pause');

      // Act: pause it; the scheduled lane of the same job plans and runs meanwhile
      const paused = await runPiko(['backfill', 'pause', id, '--reason', 'db maintenance'], cli(state));
      await runtime.planJob(drain);
      const scheduled = await waitFor('the scheduled intervals to succeed', async () => {
        const runs = (await opened.store.listRuns(drain.id)).filter((run) => run.backfillId === null);
        return runs.length === 10 && runs.every((run) => run.status === 'succeeded') ? runs : undefined;
      });
      const listedWhilePaused = jsonLines(
        (await runPiko(['backfills', drain.id, '--json'], cli(state))).stdout,
      );
      handlers.open();
      await waitFor('the held runs to finish', async () =>
        byStatus(await backfillRuns(opened.store, id)).succeeded === BACKFILL_CONCURRENCY ? true : undefined,
      );
      // The batch queued ahead does not start: back to pending once the first batch has ended.
      await waitFor('the batch queued ahead back to pending', async () =>
        byStatus(await backfillRuns(opened.store, id)).queued === undefined ? true : undefined,
      );
      await sleep(300); // several rounds of the paused backfill's loop
      const whilePaused = byStatus(await backfillRuns(opened.store, id));
      const resumed = await runPiko(['backfill', 'resume', id], cli(state));
      const outcome = await running;

      // Assert
      expect(paused).toMatchObject({ code: 0 });
      expect(paused.stdout).toContain(`backfill ${id} paused`);
      expect(scheduled).toHaveLength(10);
      expect(listedWhilePaused).toHaveLength(1);
      expect(listedWhilePaused[0]).toMatchObject({
        backfillId: id,
        jobId: drain.id,
        status: 'paused',
        concurrency: BACKFILL_CONCURRENCY,
        from: RANGE.from.toISOString(),
        to: RANGE.to.toISOString(),
        created: 10,
        runs: { waiting: 0, running: 2, pending: 6, succeeded: 0, queued: 2, failed: 0, cancelled: 0 },
        lastAction: { kind: 'backfill-pause', reason: 'db maintenance' },
      });
      expect(whilePaused).toEqual({ succeeded: 2, pending: 8 });
      expect(resumed.code).toBe(0);
      // The runtime's totals count the scheduled runs too: 10 of each.
      expect(outcome).toEqual({ backfillId: id, succeeded: 20, failed: 0, waiting: 0 });
      expect(byStatus(await backfillRuns(opened.store, id))).toEqual({ succeeded: 10 });
      const actions = await opened.store.listActions({ jobId: drain.id, limit: 10 });
      expect(actions.map((action) => [action.kind, action.target, action.reason])).toEqual([
        ['backfill-resume', id, null],
        ['backfill-pause', id, 'db maintenance'],
      ]);
      expect(actions[0]!.actor).toMatch(/^.+@.+$/);
      expect(await opened.store.getBackfill(id)).toMatchObject({ status: 'done', concurrency: 2 });
    },
  );

  it.skipIf(skip)(
    'cancel leaves nothing stuck: running runs finish, the rest are cancelled; resume --run re-runs them',
    async () => {
      // Arrange
      const { state, opened, running, id } = await setUp('backfills_cancel');

      // Act
      const cancelled = await runPiko(['backfill', 'cancel', id, '--reason', 'wrong range'], cli(state));
      handlers.open();
      const outcome = await running;
      const afterCancel = byStatus(await backfillRuns(opened.store, id));
      // Before the resume: a cancelled backfill cannot be paused.
      const pauseCancelled = changeBackfill(opened.store, drain, id, 'pause', { actor: 'test@host' });
      await expect(pauseCancelled).rejects.toThrow(
        `Backfill "${id}" is cancelled: pause applies only to a backfill that is planning, planned, failed`,
      );
      const resumed = await runPiko(['backfill', 'resume', id, '--run', '--json'], cli(state));

      // Assert
      expect(cancelled).toMatchObject({ code: 0 });
      expect(cancelled.stdout).toContain(`backfill ${id} cancelled: 8 pending or queued run(s) cancelled`);
      expect(outcome).toEqual({ backfillId: id, succeeded: 2, failed: 0, waiting: 0, cancelled: true });
      expect(afterCancel).toEqual({ succeeded: 2, cancelled: 8 });
      expect(resumed.code).toBe(0);
      expect(jsonLines(resumed.stdout).at(-1)).toMatchObject({
        event: 'backfill-done',
        succeeded: 8,
        failed: 0,
      });
      expect(byStatus(await backfillRuns(opened.store, id))).toEqual({ succeeded: 10 });
      expect((await opened.store.getBackfill(id))?.status).toBe('done');
      const kinds = (await opened.store.listActions({ jobId: drain.id, limit: 10 })).map((a) => a.kind);
      expect(kinds).toEqual(['backfill-resume', 'backfill-cancel']);
    },
  );

  it.skipIf(skip)(
    'a second piko backfill of the same request waits for the process driving it, then reports what it ran',
    async () => {
      // Arrange: this process drives the backfill under its lease, its first batch held
      if (kind === 'mysql' && !gate.probe.available) throw new Error(gate.probe.reason);
      const s = await createE2eState(kind, 'backfills_waited');
      state = s;
      const config = loadConfig({ env: { ...s.env, PIKO_JOBS_DIR: PAUSE_JOBS_DIR } });
      const services = await openProcessServices(config, new JobRegistry([drain]), {
        drivers: LOCAL_DRIVERS,
      });
      opened = services;
      const runtime = new LocalRuntime({ process: services, clock: () => NOW, noRetryWaits: true });
      const request = { jobId: drain.id, ...RANGE, concurrency: BACKFILL_CONCURRENCY };
      const driving = runtime.backfills.driveOrWait(drain, request, { clock: () => NOW });
      driving.catch(() => undefined);
      await handlers.whenEntered(BACKFILL_CONCURRENCY);

      // Act: the same backfill from the CLI, while this process drives it; then let it finish
      const second = startPiko(
        [
          'backfill',
          drain.id,
          '--from',
          RANGE.from.toISOString(),
          '--to',
          RANGE.to.toISOString(),
          '--concurrency',
          String(BACKFILL_CONCURRENCY),
          '--json',
        ],
        cli(s),
      );
      await waitFor('the second command to wait', async () =>
        jsonLines(second.stdout()).some((line) => line.event === 'backfill-held') ? true : undefined,
      );
      handlers.open();
      const outcome = await driving;
      const result = await second.done;

      // Assert: the second ran nothing and says what the first did, as the state table has it
      expect(outcome).toMatchObject({ succeeded: 10, failed: 0, waiting: 0 });
      expect(result.code).toBe(0);
      const lines = jsonLines(result.stdout);
      expect(lines.filter((line) => line.event === 'succeeded')).toEqual([]);
      expect(lines.at(-1)).toMatchObject({
        event: 'backfill-done',
        backfillId: backfillId(request),
        succeeded: 10,
        failed: 0,
        waiting: 0,
        drivenBy: expect.stringMatching(/^pid \d+ on .+$/),
      });
      expect(byStatus(await backfillRuns(services.store, backfillId(request)))).toEqual({ succeeded: 10 });
    },
  );
});
