/**
 * Pause under load (DESIGN.md §8, issue 10 item 1): a job draining 100 due intervals at concurrency 5
 * is paused while 5 handlers are held running; at most those 5 (the ones already past the check) may
 * start after the pause returns, and after resume every interval succeeds exactly once. Through the
 * local runtime with `piko pause` / `piko resume` as child processes, and through the AWS control
 * events (`dispatch`, `pause`, `continue`, `resume`) driving the same workflow definition, on both
 * stores. Also: `start --once`, `piko run` and `piko backfill` on a paused job, through the real CLI.
 */
import './quiet-metrics.ts';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { jobStateMachines } from '../../shared/aws/sfn-starter.ts';
import { loadConfig } from '../../shared/config.ts';
import { type DispatchResponse, parseControlEvent } from '../../shared/control/events.ts';
import { type ControlDeps, handleControlEvent } from '../../shared/control/handlers.ts';
import { LocalRuntime, type ProgressEvent } from '../../shared/local/runtime.ts';
import { LocalWorkflowStarter } from '../../shared/local/workflow/local-starter.ts';
import { renderJobWorkflow } from '../../shared/local/workflow/render.ts';
import { planScheduled } from '../../shared/planner/index.ts';
import { JobRegistry } from '../../shared/registry.ts';
import { openProcessServices, type ProcessServices } from '../../shared/runner/process.ts';
import { runStage } from '../../shared/runner/stage-runner.ts';
import { LOCAL_DRIVERS } from '../../shared/store/local.ts';
import type { RunRecord } from '../../shared/store/types.ts';
import type { ExecutionInput, ExecutionStatus, WorkflowStarter } from '../../shared/workflow/starter.ts';
import { mysqlGate } from '../../support/mysql.ts';
import { readLog } from '../fixtures/jobs/defs/log.ts';
import { drain, PAUSE_DUE, PAUSE_NOW, PAUSE_START, pauseHooks } from '../fixtures/pause-jobs/index.ts';
import { countsByKey, HandlerGate } from '../helpers/handler-gate.ts';
import {
  createE2eState,
  type E2eState,
  jsonLines,
  ROOT,
  runPiko,
  runsOf,
  type StoreKind,
  startPiko,
  waitFor,
} from './support.ts';

const PAUSE_JOBS_DIR = path.join(ROOT, 'test', 'fixtures', 'pause-jobs');
const NOW = new Date(PAUSE_NOW);
/** faketime's form of {@link PAUSE_NOW}. */
const FAKE_NOW = PAUSE_NOW.replace('T', ' ').replace(/\.\d{3}Z$/, '');
const CONCURRENCY = drain.concurrency;
const STARTS = Array.from({ length: PAUSE_DUE }, (_, i) =>
  new Date(Date.parse(PAUSE_START) + i * 60_000).toISOString(),
);

const gate = await mysqlGate('pause end-to-end tests on MySQL');
const stores: { kind: StoreKind; skip: boolean }[] = [
  { kind: 'sqlite', skip: false },
  { kind: 'mysql', skip: gate.skip },
];

function byStatus(runs: readonly RunRecord[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const run of runs) counts[run.status] = (counts[run.status] ?? 0) + 1;
  return counts;
}

/** A starter that counts start calls, around the one that runs the workflows. */
class CountingStarter implements WorkflowStarter {
  calls = 0;
  readonly #inner: WorkflowStarter;
  constructor(inner: WorkflowStarter) {
    this.#inner = inner;
  }
  start(input: ExecutionInput): Promise<void> {
    this.calls++;
    return this.#inner.start(input);
  }
  status(jobId: string, executionName: string): Promise<ExecutionStatus> {
    return this.#inner.status(jobId, executionName);
  }
}

describe.each(stores)('pause under load ($kind)', ({ kind, skip }) => {
  let state: E2eState | undefined;
  let opened: ProcessServices | undefined;
  let handlers: HandlerGate;

  beforeEach(() => {
    handlers = new HandlerGate();
    pauseHooks.onStart = (ctx) => handlers.enter(ctx.interval.start.toISOString());
  });
  afterEach(async () => {
    pauseHooks.onStart = undefined;
    await opened?.close();
    opened = undefined;
    await state?.cleanup();
    state = undefined;
  });

  /** The CLI's environment: the pause fixture's jobs on this scenario's store. */
  const cli = (s: E2eState, fakeTime?: string) => ({
    env: { ...s.env, PIKO_JOBS_DIR: PAUSE_JOBS_DIR, PIKO_TEST_LOG_DIR: s.dataDir },
    ...(fakeTime ? { fakeTime } : {}),
  });

  async function openState(label: string): Promise<{ state: E2eState; opened: ProcessServices }> {
    if (kind === 'mysql' && !gate.probe.available) throw new Error(gate.probe.reason);
    state = await createE2eState(kind, label);
    const config = loadConfig({ env: { ...state.env, PIKO_JOBS_DIR: PAUSE_JOBS_DIR } });
    opened = await openProcessServices(config, new JobRegistry([drain]), { drivers: LOCAL_DRIVERS });
    return { state, opened };
  }

  it.skipIf(skip)(
    'local runtime: no more than 5 handlers start after piko pause returns; after resume all 100 succeed once',
    async () => {
      // Arrange: 100 due intervals in one execution, the first 5 handlers held running
      const { state, opened } = await openState('pause_local');
      const events: ProgressEvent[] = [];
      const runtime = new LocalRuntime({
        process: opened,
        clock: () => NOW,
        noRetryWaits: true,
        onProgress: (event) => events.push(event),
      });
      await runtime.planAll();
      await handlers.whenEntered(CONCURRENCY);

      // Act: pause through the CLI, then let the held handlers finish and the execution end
      const paused = await runPiko(['pause', drain.id], cli(state));
      const startedWhenPauseReturned = handlers.entered.length;
      handlers.open();
      await runtime.whenIdle();
      const startedAfterPause = handlers.entered.length - startedWhenPauseReturned;

      // Assert: the 5 running intervals finished; the 95 queued ones never started and wait, unspent
      expect(paused).toMatchObject({ code: 0, stdout: `${drain.id} paused\n` });
      expect(startedWhenPauseReturned).toBe(CONCURRENCY);
      expect(startedAfterPause).toBeLessThanOrEqual(CONCURRENCY);
      console.info(
        `pause under load (${kind}, local runtime): ${startedAfterPause} handler starts after pause`,
      );
      const whilePaused = await opened.store.listRuns(drain.id);
      expect(byStatus(whilePaused)).toEqual({ succeeded: CONCURRENCY, pending: PAUSE_DUE - CONCURRENCY });
      expect(
        whilePaused
          .filter((run) => run.status === 'pending')
          .every((run) => run.attempts === 0 && run.executionName === null && run.stage === null),
      ).toBe(true);
      expect(events.filter((event) => event.event === 'not-started')).toHaveLength(PAUSE_DUE - CONCURRENCY);
      expect(events.filter((event) => event.event === 'dispatched')).toHaveLength(1);

      // Act: resume through the CLI; the runtime's next planning dispatches what waited
      const resumed = await runPiko(['resume', drain.id], cli(state));
      await runtime.planAll();
      await runtime.whenIdle();

      // Assert: every interval ran exactly once and succeeded on its first attempt
      expect(resumed).toMatchObject({ code: 0, stdout: `${drain.id} resumed\n` });
      const runs = await opened.store.listRuns(drain.id);
      expect(runs.map((run) => [run.interval.start.toISOString(), run.status, run.attempts])).toEqual(
        STARTS.map((start) => [start, 'succeeded', 1]),
      );
      expect(countsByKey(handlers.entered)).toEqual(new Map(STARTS.map((start) => [start, 1])));
    },
  );

  it.skipIf(skip)(
    'AWS control events: continue and dispatch start nothing after pause; after resume all 100 succeed once',
    async () => {
      // Arrange: the dispatcher's logic with the job's workflow run in process (stage runner as the
      // stage Lambda, "Continue dispatch" as the `continue` event it sends)
      const { state, opened } = await openState('pause_aws');
      const asl = await renderJobWorkflow(drain, { dataDir: state.dataDir });
      const continued: DispatchResponse[] = [];
      let deps: ControlDeps | undefined;
      const send = async (event: unknown) => handleControlEvent(deps!, parseControlEvent(event));
      const workflows = new LocalWorkflowStarter({
        workflowOf: () => asl,
        noRetryWaits: true,
        bindings: {
          invokeStage: (payload) => runStage(opened, payload),
          runFargateTask: async () => {
            throw new Error('e2e_pause has no Fargate stage');
          },
          continueDispatch: async (jobId) => {
            continued.push((await send({ action: 'continue', jobId })) as DispatchResponse);
          },
        },
      });
      const starter = new CountingStarter(workflows);
      deps = {
        store: opened.store,
        jobs: new JobRegistry([drain]),
        starter,
        machines: jobStateMachines({ partition: 'aws', region: 'eu-west-1', account: '1', prefix: 'Piko' }),
        now: () => NOW,
      };
      const first = (await send({ action: 'dispatch', jobId: drain.id })) as DispatchResponse;
      await handlers.whenEntered(CONCURRENCY);

      // Act: pause, let the held handlers finish and the execution end (it sends `continue`), then
      // a scheduled `dispatch` while still paused
      await send({ action: 'pause', jobId: drain.id });
      const startedWhenPauseReturned = handlers.entered.length;
      const startCallsAtPause = starter.calls;
      handlers.open();
      await workflows.whenIdle();
      const tick = (await send({ action: 'dispatch', jobId: drain.id })) as DispatchResponse;
      await workflows.whenIdle();
      const startedAfterPause = handlers.entered.length - startedWhenPauseReturned;

      // Assert
      expect(first).toMatchObject({ planned: PAUSE_DUE, started: [{ runs: PAUSE_DUE }] });
      expect(startedAfterPause).toBeLessThanOrEqual(CONCURRENCY);
      console.info(
        `pause under load (${kind}, AWS control events): ${startedAfterPause} handler starts after pause`,
      );
      expect(continued).toEqual([
        expect.objectContaining({
          action: 'continue',
          paused: true,
          started: [],
          restarted: [],
          // A job of one stage: each run the pause caught went back to pending when it was refused,
          // so the ended execution leaves none to put back.
          requeued: 0,
        }),
      ]);
      expect(tick).toMatchObject({ action: 'dispatch', paused: true, started: [], restarted: [] });
      expect(starter.calls).toBe(startCallsAtPause);
      expect(byStatus(await opened.store.listRuns(drain.id))).toEqual({
        succeeded: CONCURRENCY,
        pending: PAUSE_DUE - CONCURRENCY,
      });

      // Act: resume and dispatch
      await send({ action: 'resume', jobId: drain.id });
      await send({ action: 'dispatch', jobId: drain.id });
      await workflows.whenIdle();

      // Assert
      const runs = await opened.store.listRuns(drain.id);
      expect(runs.map((run) => [run.interval.start.toISOString(), run.status, run.attempts])).toEqual(
        STARTS.map((start) => [start, 'succeeded', 1]),
      );
      expect(countsByKey(handlers.entered)).toEqual(new Map(STARTS.map((start) => [start, 1])));
    },
  );

  it.skipIf(skip)('start --once on a paused job with 100 pending runs runs nothing', async () => {
    // Arrange: 100 pending runs, then the job paused
    const { state, opened } = await openState('pause_once');
    await planScheduled(opened.store, drain, NOW);
    expect((await runPiko(['pause', drain.id], cli(state))).code).toBe(0);

    // Act
    const result = await runPiko(['start', '--once', '--json'], cli(state, FAKE_NOW));

    // Assert
    expect(result.code).toBe(0);
    const events = jsonLines(result.stdout);
    expect(events.filter((event) => event.event === 'paused')).toEqual([
      expect.objectContaining({ jobId: drain.id }),
    ]);
    expect(events.at(-1)).toMatchObject({ event: 'stopped', succeeded: 0, failed: 0, planned: 0 });
    expect(await readLog(state.dataDir, 'e2e_pause-starts')).toEqual([]);
    expect(byStatus(await runsOf(state, drain.id))).toEqual({ pending: PAUSE_DUE });
  });

  it.skipIf(skip)('piko run refuses a paused job, naming piko resume, and runs nothing', async () => {
    // Arrange
    const { state, opened } = await openState('pause_run');
    await planScheduled(opened.store, drain, NOW);
    expect((await runPiko(['pause', drain.id], cli(state))).code).toBe(0);

    // Act
    const result = await runPiko(['run', drain.id, '--at', '2026-05-01T00:10:00Z'], cli(state));

    // Assert
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(
      'Job "e2e_pause" is paused: a manual run would start new work, and a paused job starts none; resume it first with piko resume e2e_pause',
    );
    expect(await readLog(state.dataDir, 'e2e_pause-starts')).toEqual([]);
    expect(byStatus(await runsOf(state, drain.id))).toEqual({ pending: PAUSE_DUE });
  });

  it.skipIf(skip)('piko run runs its own interval only, not the other pending runs', async () => {
    // Arrange: 100 pending runs
    const { state, opened } = await openState('pause_run_own');
    await planScheduled(opened.store, drain, NOW);

    // Act: run the interval 01:59 → 02:00, not planned yet; then run it again
    const result = await runPiko(
      ['run', drain.id, '--at', '2026-05-01T02:00:00Z', '--json', '--reason', 'check the fix'],
      cli(state),
    );
    const again = await runPiko(['run', drain.id, '--at', '2026-05-01T02:00:00Z'], cli(state));

    // Assert
    expect(result.code).toBe(0);
    // Its own interval only, twice (the second a rerun of the same run), none of the pending ones.
    expect(await readLog(state.dataDir, 'e2e_pause-starts')).toEqual([
      '2026-05-01T01:59:00.000Z',
      '2026-05-01T01:59:00.000Z',
    ]);
    const runs = await runsOf(state, drain.id);
    expect(byStatus(runs)).toEqual({ succeeded: 1, pending: PAUSE_DUE });
    expect(runs.find((run) => run.status === 'succeeded')).toMatchObject({
      trigger: 'manual',
      interval: { start: new Date('2026-05-01T01:59:00.000Z') },
    });
    // Both recorded as operator actions (DESIGN.md §8), newest first: who, why, which run.
    expect(again.code).toBe(0);
    const actions = await opened.store.listActions({ jobId: drain.id, limit: 10 });
    expect(actions.map((action) => [action.kind, action.target, action.reason])).toEqual([
      ['rerun', '2026-05-01T01:59:00.000Z', null],
      ['run', '2026-05-01T01:59:00.000Z', 'check the fix'],
    ]);
    expect(actions[1]?.actor).toMatch(/@/);
    // … and shown on the interval by piko runs, as cancel and mark are.
    const listed = jsonLines(
      (await runPiko(['runs', drain.id, '--from', '2026-05-01T01:59:00Z', '--json'], cli(state))).stdout,
    );
    expect(
      ((listed[0]?.actions ?? []) as { kind: string; reason: string | null }[]).map((action) => [
        action.kind,
        action.reason,
      ]),
    ).toEqual([
      ['rerun', null],
      ['run', 'check the fix'],
    ]);
  });

  it.skipIf(skip)('piko pause and resume are recorded as operator actions, with who and why', async () => {
    const { state, opened } = await openState('pause_recorded');

    const paused = await runPiko(['pause', drain.id, '--reason', 'db maintenance'], cli(state));
    const resumed = await runPiko(['resume', drain.id], cli(state));

    expect([paused.code, resumed.code]).toEqual([0, 0]);
    expect((await opened.store.getJob(drain.id))?.paused).toBe(false);
    const actions = await opened.store.listActions({ jobId: drain.id, limit: 10 });
    expect(actions.map((action) => [action.kind, action.target, action.reason])).toEqual([
      ['resume', drain.id, null],
      ['pause', drain.id, 'db maintenance'],
    ]);
    expect(actions[1]?.actor).toMatch(/^.+@.+$/);
  });

  it.skipIf(skip)('a backfill of a paused job is refused without --wait, writing nothing', async () => {
    const { state } = await openState('pause_backfill_refused');
    expect((await runPiko(['pause', drain.id], cli(state))).code).toBe(0);
    const runsBefore = await runsOf(state, drain.id);

    const result = await runPiko(
      ['backfill', drain.id, '--from', '2026-05-01T00:00:00Z', '--to', '2026-05-01T00:20:00Z'],
      cli(state, FAKE_NOW),
    );

    expect(result.code).toBe(2);
    expect(result.stderr).toContain(
      `Job "${drain.id}" is paused: a backfill (pass --wait to plan it now and run it after resume) would start new work, and a paused job starts none; resume it first with piko resume ${drain.id}`,
    );
    expect(await runsOf(state, drain.id)).toEqual(runsBefore);
  });

  it.skipIf(skip)(
    'a backfill of a paused job with --wait waits, starting nothing, and goes on after resume',
    async () => {
      // Arrange
      const { state } = await openState('pause_backfill');
      expect((await runPiko(['pause', drain.id], cli(state))).code).toBe(0);

      // Act: backfill 20 intervals while paused; resume once it says it waits
      const backfill = startPiko(
        [
          'backfill',
          drain.id,
          '--from',
          '2026-05-01T00:00:00Z',
          '--to',
          '2026-05-01T00:20:00Z',
          '--json',
          '--wait',
        ],
        { ...cli(state, FAKE_NOW), timeoutMs: 120_000 },
      );
      let exited: { stdout: string; stderr: string } | undefined;
      void backfill.done.then((ended) => {
        exited = ended;
      });
      const waiting = await waitFor(
        'the backfill to say it waits',
        async () => {
          if (exited)
            throw new Error(`the backfill exited instead of waiting:\n${exited.stdout}\n${exited.stderr}`);
          return jsonLines(backfill.stdout()).find((event) => event.event === 'backfill-paused');
        },
        { timeoutMs: 60_000 },
      );
      const startsWhilePaused = await readLog(state.dataDir, 'e2e_pause-starts');
      const runsWhilePaused = await runsOf(state, drain.id);
      expect((await runPiko(['resume', drain.id], cli(state))).code).toBe(0);
      const result = await backfill.done;

      // Assert
      expect(waiting).toMatchObject({ jobId: drain.id });
      expect(startsWhilePaused).toEqual([]);
      expect(byStatus(runsWhilePaused)).toEqual({ pending: 20 });
      expect(result.code).toBe(0);
      expect(jsonLines(result.stdout).at(-1)).toMatchObject({
        event: 'backfill-done',
        succeeded: 20,
        failed: 0,
      });
      expect((await readLog(state.dataDir, 'e2e_pause-starts')).toSorted()).toEqual(STARTS.slice(0, 20));
      expect(byStatus(await runsOf(state, drain.id))).toEqual({ succeeded: 20 });
    },
  );
});
