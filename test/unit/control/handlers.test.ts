import {
  DescribeExecutionCommand,
  ExecutionAlreadyExists,
  ExecutionDoesNotExist,
  SFNClient,
  SFNServiceException,
  StartExecutionCommand,
} from '@aws-sdk/client-sfn';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { jobStateMachines, SfnWorkflowStarter } from '../../../shared/aws/sfn-starter.ts';
import type {
  BackfillChangeResponse,
  BackfillNextResponse,
  BackfillPlanResponse,
  BackfillsResponse,
  CancelResponse,
  DispatchResponse,
  StatusResponse,
  WatchdogResponse,
} from '../../../shared/control/events.ts';
import { parseControlEvent } from '../../../shared/control/events.ts';
import {
  type ControlDeps,
  handleControlEvent,
  runsPerBatch,
  type TaskStopper,
} from '../../../shared/control/handlers.ts';
import { AwsThrottledError } from '../../../shared/errors.ts';
import { defineJob, fargate, lambda } from '../../../shared/job.ts';
import { JobRegistry } from '../../../shared/registry.ts';
import { alertStoreOf } from '../../../shared/store/alerts.ts';
import type { StateStore } from '../../../shared/store/types.ts';
import type { ExecutionInput } from '../../../shared/workflow/starter.ts';
import { RecordingStarter } from '../../helpers/recording-starter.ts';
import { createTempSqliteStore } from '../../helpers/sqlite.ts';

const sfn = mockClient(SFNClient);
const machines = jobStateMachines({
  partition: 'aws',
  region: 'eu-west-1',
  account: '123456789012',
  prefix: 'Piko',
});
const HOUR = 3_600_000;
const T0 = Date.parse('2026-01-01T00:00:00Z');

const hourly = defineJob({
  id: 'hourly',
  schedule: { cron: '0 * * * *' },
  start: '2026-01-01T00:00:00Z',
  concurrency: 2,
  config: z.object({ region: z.string().default('eu') }),
  handler: async () => null,
});
const registry = new JobRegistry([hourly]);

let store: StateStore;
let cleanup: () => Promise<void>;
let now: Date;
let deps: ControlDeps;

beforeEach(async () => {
  sfn.reset();
  now = new Date(T0 + 3.5 * HOUR);
  ({ store, cleanup } = await createTempSqliteStore({ clock: () => now }));
  await store.migrate();
  deps = {
    store,
    jobs: registry,
    starter: new SfnWorkflowStarter(new SFNClient({ region: 'eu-west-1' }), machines),
    machines,
    now: () => now,
  };
});
afterEach(async () => {
  await cleanup();
});

const send = <T>(event: unknown) => handleControlEvent(deps, parseControlEvent(event)) as Promise<T>;
const startedInputs = () =>
  sfn
    .commandCalls(StartExecutionCommand)
    .map((call) => JSON.parse(call.args[0].input.input!) as ExecutionInput);
/** An SDK service error as the client throws it (the specific classes set their own name). */
const serviceError = (Type: new (options: never) => Error, name: string): Error =>
  new Type({ name, $fault: 'client', $metadata: {}, message: `${name} happened` } as never);

/** What the job workflow does to every run of an execution: run and succeed. */
async function runExecution(input: ExecutionInput): Promise<void> {
  for (const run of input.runs) {
    await store.markRunning(run.runId, 'main', now);
    await store.markSucceeded(run.runId, null, now);
  }
}

describe('dispatch', () => {
  it('plans the due intervals and starts one execution under the deterministic name', async () => {
    sfn.on(StartExecutionCommand).resolves({});

    const response = await send<DispatchResponse>({ jobId: 'hourly' });

    expect(response).toMatchObject({
      action: 'dispatch',
      planned: 3,
      skipped: 0,
      paused: false,
      more: false,
    });
    const calls = sfn.commandCalls(StartExecutionCommand);
    expect(calls).toHaveLength(1);
    const request = calls[0]!.args[0].input;
    expect(request.stateMachineArn).toBe('arn:aws:states:eu-west-1:123456789012:stateMachine:Piko-hourly');
    const runs = await store.listRuns('hourly');
    expect(runs.map((run) => run.status)).toEqual(['queued', 'queued', 'queued']);
    expect(new Set(runs.map((run) => run.executionName))).toEqual(new Set([request.name]));
    expect(request.name).toMatch(/^hourly-s20260101T000000Z-[0-9a-f]{16}$/);
    expect(response.started).toEqual([{ executionName: request.name, runs: 3 }]);
    expect(JSON.parse(request.input!)).toEqual({
      jobId: 'hourly',
      executionName: request.name,
      lane: 'scheduled',
      backfillId: null,
      runs: runs.map((run) => ({
        runId: run.runId,
        generation: 0,
        interval: { start: run.interval.start.toISOString(), end: run.interval.end.toISOString() },
      })),
    });
  });

  it('starts nothing while the scheduled execution runs, then the next batch once it ended', async () => {
    sfn.on(StartExecutionCommand).resolves({});
    sfn.on(DescribeExecutionCommand).resolves({ status: 'RUNNING' } as never);
    await send({ jobId: 'hourly' });
    now = new Date(T0 + 4.5 * HOUR);

    const whileRunning = await send<DispatchResponse>({ action: 'continue', jobId: 'hourly' });
    expect(whileRunning).toMatchObject({ action: 'continue', planned: 1, started: [] });
    expect(whileRunning.live).toHaveLength(1);

    await runExecution(startedInputs()[0]!);
    sfn.on(DescribeExecutionCommand).resolves({ status: 'SUCCEEDED' } as never);
    const after = await send<DispatchResponse>({ action: 'continue', jobId: 'hourly' });
    expect(after.started).toHaveLength(1);
    expect(startedInputs()[1]!.runs.map((run) => run.interval.start)).toEqual(['2026-01-01T03:00:00.000Z']);
  });

  it('treats ExecutionAlreadyExists as started', async () => {
    sfn.on(StartExecutionCommand).rejects(serviceError(ExecutionAlreadyExists, 'ExecutionAlreadyExists'));

    const response = await send<DispatchResponse>({ jobId: 'hourly' });

    expect(response.started).toHaveLength(1);
    const runs = await store.listRuns('hourly');
    expect(
      runs.every(
        (run) => run.status === 'queued' && run.executionName === response.started[0]!.executionName,
      ),
    ).toBe(true);
  });

  it('surfaces throttling clearly, and restarts the same execution on the next dispatch', async () => {
    sfn
      .on(StartExecutionCommand)
      .rejectsOnce(serviceError(SFNServiceException, 'ThrottlingException'))
      .resolves({});

    const error = await send({ jobId: 'hourly' }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(AwsThrottledError);
    expect((error as Error).message).toMatch(
      /^Step Functions StartExecution of execution "hourly-s20260101T000000Z-[0-9a-f]{16}" of job "hourly" was throttled \(ThrottlingException\)/,
    );
    const queued = await store.listRuns('hourly');
    expect(queued.map((run) => run.status)).toEqual(['queued', 'queued', 'queued']);

    sfn.on(DescribeExecutionCommand).rejects(serviceError(ExecutionDoesNotExist, 'ExecutionDoesNotExist'));
    const retried = await send<DispatchResponse>({ jobId: 'hourly' });
    expect(retried.restarted).toEqual([queued[0]!.executionName]);
    const names = sfn.commandCalls(StartExecutionCommand).map((call) => call.args[0].input.name);
    expect(names).toEqual([queued[0]!.executionName, queued[0]!.executionName]);
  });

  it('leaves ownership of executions to Step Functions: no execution lease is written (DESIGN.md §8)', async () => {
    sfn.on(StartExecutionCommand).resolves({});
    sfn.on(DescribeExecutionCommand).resolves({ status: 'RUNNING' } as never);
    await send({ jobId: 'hourly' });
    now = new Date(T0 + 4.5 * HOUR);
    const whileRunning = await send<DispatchResponse>({ action: 'continue', jobId: 'hourly' });
    sfn.on(DescribeExecutionCommand).rejects(serviceError(ExecutionDoesNotExist, 'ExecutionDoesNotExist'));
    const lost = await send<DispatchResponse>({ jobId: 'hourly' });

    expect(whileRunning.live).toHaveLength(1);
    expect(lost.restarted).toEqual(whileRunning.live);
    const { rows } = await store.database.query('SELECT COUNT(*) AS n FROM piko_leases');
    expect(Number(rows[0]?.n)).toBe(0);
  });

  it('refuses an unknown job, naming the known ones', async () => {
    await expect(send({ jobId: 'nightly' })).rejects.toThrow('Unknown job "nightly". Known jobs: hourly.');
  });
});

describe('status, pause and resume', () => {
  it('reports watermark, counts and recent failures', async () => {
    sfn.on(StartExecutionCommand).resolves({});
    await send({ jobId: 'hourly' });
    const [first] = startedInputs()[0]!.runs;
    await store.markRunning(first!.runId, 'main', now);
    await store.markFailed(first!.runId, 'upstream said 503', 3, now);

    const response = await send<StatusResponse>({ action: 'status' });

    expect(response).toEqual({
      action: 'status',
      jobs: [
        {
          jobId: 'hourly',
          watermark: '2026-01-01T03:00:00.000Z',
          paused: false,
          skippedTotal: 0,
          counts: {
            waiting: 0,
            pending: 0,
            queued: 2,
            running: 0,
            succeeded: 0,
            failed: 1,
            cancelled: 0,
            skipped: 0,
          },
          version: null,
          outdated: 0,
          recentFailures: [
            {
              runId: first!.runId,
              interval: first!.interval,
              attempts: 3,
              error: 'upstream said 503',
              finishedAt: now.toISOString(),
            },
          ],
        },
      ],
    });
  });

  it('reports a job the planner never saw', async () => {
    const response = await send<StatusResponse>({ action: 'status', jobId: 'hourly' });
    expect(response.jobs[0]).toMatchObject({
      jobId: 'hourly',
      watermark: null,
      paused: false,
      recentFailures: [],
    });
  });

  it('plans nothing while paused, and the paused intervals once resumed', async () => {
    sfn.on(StartExecutionCommand).resolves({});
    expect(await send({ action: 'pause', jobId: 'hourly' })).toEqual({
      action: 'pause',
      jobId: 'hourly',
      paused: true,
    });

    const paused = await send<DispatchResponse>({ jobId: 'hourly' });
    expect(paused).toMatchObject({ paused: true, planned: 0, started: [] });
    expect(await store.listRuns('hourly')).toEqual([]);

    expect(await send({ action: 'resume', jobId: 'hourly' })).toEqual({
      action: 'resume',
      jobId: 'hourly',
      paused: false,
    });
    const resumed = await send<DispatchResponse>({ jobId: 'hourly' });
    expect(resumed).toMatchObject({ paused: false, planned: 3 });
  });

  it('records a pause and a resume as operator actions, with who and why the event names', async () => {
    await send({ action: 'pause', jobId: 'hourly', actor: 'ana@laptop', reason: 'db maintenance' });
    await send({ action: 'resume', jobId: 'hourly' });

    const actions = await store.listActions({ jobId: 'hourly', limit: 10 });
    expect(actions.map((action) => [action.kind, action.target, action.actor, action.reason])).toEqual([
      ['resume', 'hourly', 'unknown (the event named nobody)', null],
      ['pause', 'hourly', 'ana@laptop', 'db maintenance'],
    ]);
    expect(actions[1]?.details).toEqual({ wasPaused: false });
  });
});

describe('a paused job starts no execution (DESIGN.md §8)', () => {
  let recording: RecordingStarter;
  beforeEach(() => {
    recording = new RecordingStarter();
    deps = { ...deps, starter: recording };
  });

  it('continue: the runs of the ended execution go back to pending, and nothing starts', async () => {
    // Arrange: an execution of 3 runs, paused while it ran; it ended without running them
    await send({ jobId: 'hourly' });
    await send({ action: 'pause', jobId: 'hourly' });
    recording.endAll();

    // Act
    const response = await send<DispatchResponse>({ action: 'continue', jobId: 'hourly' });

    // Assert
    expect(response).toMatchObject({
      action: 'continue',
      paused: true,
      started: [],
      restarted: [],
      requeued: 3,
    });
    expect(recording.started).toHaveLength(1);
    expect(recording.startCalls).toBe(1);
    const runs = await store.listRuns('hourly');
    expect(runs.map((run) => [run.status, run.attempts, run.executionName])).toEqual([
      ['pending', 0, null],
      ['pending', 0, null],
      ['pending', 0, null],
    ]);
  });

  it('continue: runs of an execution that ended without recording them start no execution before their delay', async () => {
    // Arrange: an execution whose "Record failure" could not reach the store either: it ended, its runs still queued
    await send({ jobId: 'hourly' });
    recording.endAll();

    // Act: "Continue dispatch" at once, again and again, then once the delay is over
    const continued = [];
    for (let i = 0; i < 3; i++)
      continued.push(await send<DispatchResponse>({ action: 'continue', jobId: 'hourly' }));
    now = new Date(now.getTime() + store.requeuePolicy.baseDelayMs);
    const afterDelay = await send<DispatchResponse>({ action: 'continue', jobId: 'hourly' });

    // Assert: requeued once, with a delay; nothing started until it was over
    expect(continued.map((response) => [response.requeued, response.started.length])).toEqual([
      [3, 0],
      [0, 0],
      [0, 0],
    ]);
    expect(afterDelay.started).toEqual([{ executionName: expect.any(String), runs: 3 }]);
    expect(recording.started).toHaveLength(2);
    expect((await store.listRuns('hourly')).map((run) => [run.status, run.requeues])).toEqual([
      ['queued', 1],
      ['queued', 1],
      ['queued', 1],
    ]);
  });

  it('dispatch: pending runs wait and a lost execution is not restarted until resume', async () => {
    // Arrange: a queued batch whose execution is gone, and 2 pending runs planned behind it
    await send({ jobId: 'hourly' });
    now = new Date(T0 + 5.5 * HOUR);
    expect(await send<DispatchResponse>({ jobId: 'hourly' })).toMatchObject({ planned: 2, started: [] });
    recording.statuses.clear();
    await send({ action: 'pause', jobId: 'hourly' });

    // Act
    const paused = await send<DispatchResponse>({ action: 'dispatch', jobId: 'hourly' });
    const continued = await send<DispatchResponse>({ action: 'continue', jobId: 'hourly' });

    // Assert
    expect(paused).toMatchObject({ paused: true, planned: 0, started: [], restarted: [], requeued: 0 });
    expect(continued).toMatchObject({ paused: true, started: [], restarted: [], requeued: 0 });
    expect(recording.startCalls).toBe(1);
    expect(await store.countRuns('hourly')).toMatchObject({ queued: 3, pending: 2 });

    // Act: resume
    await send({ action: 'resume', jobId: 'hourly' });
    const resumed = await send<DispatchResponse>({ action: 'dispatch', jobId: 'hourly' });

    // Assert: the lost batch restarts under its own name; the pending runs wait for it
    expect(resumed).toMatchObject({
      paused: false,
      started: [],
      restarted: [recording.started[0]!.executionName],
    });
    expect(recording.startCalls).toBe(2);
  });

  it('backfill-next: a paused job’s backfill waits, then hands out its batch after resume', async () => {
    // Arrange
    const plan = await send<BackfillPlanResponse>({
      action: 'backfill-plan',
      request: { jobId: 'hourly', from: '2025-12-31T00:00:00Z', to: '2025-12-31T03:00:00Z' },
    });
    await send({ action: 'pause', jobId: 'hourly' });
    const next = () =>
      send<BackfillNextResponse>({
        action: 'backfill-next',
        jobId: 'hourly',
        backfillId: plan.backfillId,
        reverse: false,
      });

    // Act
    const whilePaused = await next();
    await send({ action: 'resume', jobId: 'hourly' });
    const resumed = await next();

    // Assert
    expect(whilePaused).toEqual({ action: 'backfill-next', done: false, waitSeconds: 60 });
    expect((await store.getBackfill(plan.backfillId))?.status).toBe('planned');
    expect(resumed.execution?.runs).toHaveLength(3);
    expect(recording.startCalls).toBe(0);
  });
});

describe('backfill', () => {
  const request = {
    jobId: 'hourly',
    from: '2025-12-31T00:00:00Z',
    to: '2025-12-31T06:00:00Z',
  };

  it('answers a dry run with counts and the first intervals, writing nothing', async () => {
    const before = await store.listJobs();

    const response = await send<BackfillPlanResponse>({
      action: 'backfill-plan',
      request: { ...request, dryRun: true },
    });

    expect(response).toMatchObject({
      action: 'backfill-plan',
      jobId: 'hourly',
      dryRun: true,
      reverse: false,
      planned: true,
      counts: { create: 6, rerun: 0, 'skip-in-flight': 0, 'skip-succeeded': 0, 'skip-failed': 0 },
      notShown: 0,
    });
    expect(response.sample?.[0]).toEqual({
      start: '2025-12-31T00:00:00.000Z',
      end: '2025-12-31T01:00:00.000Z',
      action: 'create',
    });
    expect(await store.listRuns('hourly')).toEqual([]);
    expect(await store.listJobs()).toEqual(before);
    expect(await store.getBackfill(response.backfillId)).toBeUndefined();
  });

  it('plans, then hands out batches until every run has ended', async () => {
    deps = { ...deps, maxRunsPerExecution: 4 };
    const plan = await send<BackfillPlanResponse>({ action: 'backfill-plan', request });
    expect(plan).toMatchObject({ dryRun: false, planned: true, counts: { create: 6 } });
    const next = () =>
      send<BackfillNextResponse>({
        action: 'backfill-next',
        jobId: 'hourly',
        backfillId: plan.backfillId,
        reverse: false,
      });

    const first = await next();
    expect(first.done).toBe(false);
    expect(first.stateMachineArn).toBe('arn:aws:states:eu-west-1:123456789012:stateMachine:Piko-hourly');
    expect(first.execution).toMatchObject({ jobId: 'hourly', lane: 'backfill', backfillId: plan.backfillId });
    expect(first.execution!.runs.map((run) => run.interval.start)).toEqual([
      '2025-12-31T00:00:00.000Z',
      '2025-12-31T01:00:00.000Z',
      '2025-12-31T02:00:00.000Z',
      '2025-12-31T03:00:00.000Z',
    ]);
    // The state machine starts batches itself: the dispatcher never does.
    expect(sfn.commandCalls(StartExecutionCommand)).toHaveLength(0);

    sfn.on(DescribeExecutionCommand).resolves({ status: 'RUNNING' } as never);
    expect(await next()).toEqual({ action: 'backfill-next', done: false, waitSeconds: 30 });

    await runExecution(first.execution!);
    sfn.on(DescribeExecutionCommand).resolves({ status: 'SUCCEEDED' } as never);
    const second = await next();
    expect(second.execution!.runs).toHaveLength(2);

    await runExecution(second.execution!);
    expect(await next()).toEqual({ action: 'backfill-next', done: true });
    expect((await store.getBackfill(plan.backfillId))?.status).toBe('done');
  });

  it('waits for a batch’s requeued runs (their delay) instead of calling the backfill done', async () => {
    // Arrange: the backfill's one batch ran; its last run lost the store and was requeued with a delay
    deps = { ...deps, maxRunsPerExecution: 6 };
    const plan = await send<BackfillPlanResponse>({ action: 'backfill-plan', request });
    const next = () =>
      send<BackfillNextResponse>({
        action: 'backfill-next',
        jobId: 'hourly',
        backfillId: plan.backfillId,
        reverse: false,
      });
    const batch = (await next()).execution!;
    const lost = batch.runs.at(-1)!;
    await runExecution({ ...batch, runs: batch.runs.slice(0, -1) });
    await store.requeueRuns([lost.runId]);
    sfn.on(DescribeExecutionCommand).resolves({ status: 'SUCCEEDED' } as never);

    // Act: at once, then once the delay (10 s) is over
    const during = await next();
    now = new Date(now.getTime() + store.requeuePolicy.baseDelayMs);
    const after = await next();

    // Assert
    expect(during).toEqual({ action: 'backfill-next', done: false, waitSeconds: 10 });
    expect((await store.getBackfill(plan.backfillId))?.status).not.toBe('done');
    expect(after.execution!.runs.map((run) => run.runId)).toEqual([lost.runId]);
  });

  it('resumes a backfill whose planning failed, instead of calling it done', async () => {
    deps = { ...deps, maxRunsPerExecution: 4 };
    const plan = await send<BackfillPlanResponse>({ action: 'backfill-plan', request });
    // As if planning had failed on its first chunk: no runs, the backfill failed at its start.
    await store.database.query('DELETE FROM piko_runs');
    await store.withJob(hourly, (tx) =>
      tx.updateBackfill(plan.backfillId, {
        cursor: new Date('2025-12-31T00:00:00Z'),
        status: 'failed',
        created: 0,
        rerun: 0,
        skipped: 0,
        error: 'StoreUnavailableError: the database went away',
      }),
    );

    const next = await send<BackfillNextResponse>({
      action: 'backfill-next',
      jobId: 'hourly',
      backfillId: plan.backfillId,
      reverse: false,
    });

    expect(next.done).toBe(false);
    expect(next.execution?.runs).toHaveLength(4);
    expect(await store.getBackfill(plan.backfillId)).toMatchObject({ status: 'planned', error: null });
    expect(await store.listRuns('hourly')).toHaveLength(6);
  });

  it('refuses a range that ends in the future, writing nothing', async () => {
    await expect(
      send({ action: 'backfill-plan', request: { ...request, to: '2026-01-02T00:00:00Z' } }),
    ).rejects.toThrow(
      'Backfill refused: to (2026-01-02T00:00:00.000Z) is in the future (now is 2026-01-01T03:30:00.000Z); only intervals that have ended can be backfilled',
    );
    expect(await store.listRuns('hourly')).toEqual([]);
  });

  it('refuses a step for a backfill that was never planned', async () => {
    await expect(
      send({ action: 'backfill-next', jobId: 'hourly', backfillId: 'bf-00000000000000000000' }),
    ).rejects.toThrow(
      'No backfill "bf-00000000000000000000" of job "hourly": start it with backfill-plan (the backfill state machine does)',
    );
  });

  it('pause, resume and cancel (--aws): the loop waits while paused, batches of its concurrency, ends when cancelled', async () => {
    // Arrange: a backfill at concurrency 1 (the job's is 2)
    const plan = await send<BackfillPlanResponse>({
      action: 'backfill-plan',
      request: { ...request, concurrency: 1 },
    });
    const next = () =>
      send<BackfillNextResponse>({
        action: 'backfill-next',
        jobId: 'hourly',
        backfillId: plan.backfillId,
        reverse: false,
      });
    const change = (action: string, reason?: string) =>
      send<BackfillChangeResponse>({ action, backfillId: plan.backfillId, actor: 'ops@laptop', reason });

    // Act
    const first = await next();
    const paused = await change('backfill-pause', 'db maintenance');
    await runExecution(first.execution!);
    sfn.on(DescribeExecutionCommand).resolves({ status: 'SUCCEEDED' } as never);
    const whilePaused = await next();
    const listed = await send<BackfillsResponse>({ action: 'backfills', jobId: 'hourly' });
    await change('backfill-resume');
    const afterResume = await next();
    const cancelled = await change('backfill-cancel', 'wrong range');
    const afterCancel = await next();
    const resumed = await change('backfill-resume');

    // Assert
    expect(first.execution!.runs).toHaveLength(1);
    expect(paused).toMatchObject({ from: 'planned', to: 'paused', runs: 0 });
    expect(whilePaused).toEqual({ action: 'backfill-next', done: false, waitSeconds: 60 });
    expect(listed.backfills).toHaveLength(1);
    expect(listed.backfills[0]).toMatchObject({
      backfillId: plan.backfillId,
      status: 'paused',
      concurrency: 1,
      runs: { succeeded: 1, pending: 5 },
      lastAction: { kind: 'backfill-pause', actor: 'ops@laptop', reason: 'db maintenance' },
    });
    expect(afterResume.execution!.runs).toHaveLength(1);
    expect(cancelled).toMatchObject({ from: 'planned', to: 'cancelled', runs: 5 });
    expect(afterCancel).toEqual({ action: 'backfill-next', done: true, cancelled: true });
    expect(resumed).toMatchObject({
      from: 'cancelled',
      to: 'planning',
      runs: 5,
      restart: {
        jobId: 'hourly',
        from: '2025-12-31T00:00:00.000Z',
        to: '2025-12-31T06:00:00.000Z',
        dryRun: false,
      },
    });
    await expect(change('backfill-resume')).rejects.toThrow(
      `Backfill "${plan.backfillId}" is planning: resume applies only to a backfill that is paused, cancelled`,
    );
  });

  it('sizes batches so that a large config keeps a batch under the state limit', () => {
    expect(runsPerBatch(null)).toBe(500);
    expect(runsPerBatch({ blob: 'x'.repeat(2_000) })).toBe(70);
    expect(runsPerBatch({ blob: 'x'.repeat(1_000_000) })).toBe(1);
  });
});

describe('code versions through the control events (--aws)', () => {
  /** `hourly` as deployed at code version 3. */
  const versioned = defineJob({
    id: 'hourly',
    version: '3',
    schedule: { cron: '0 * * * *' },
    start: '2026-01-01T00:00:00Z',
    handler: async () => null,
  });

  /** Four succeeded runs of 2025-12-31 00:00–04:00: under no version, '2', '3' and '3'. */
  async function seed(): Promise<void> {
    const start = Date.parse('2025-12-31T00:00:00Z');
    const intervals = Array.from({ length: 4 }, (_, i) => ({
      start: new Date(start + i * HOUR),
      end: new Date(start + (i + 1) * HOUR),
    }));
    await store.withJob(hourly, (tx) =>
      tx.insertRuns(intervals.map((interval) => ({ interval, trigger: 'backfill' as const }))),
    );
    const runs = await store.listRuns('hourly');
    for (const [index, version] of [null, '2', '3', '3'].entries()) {
      await store.markRunning(runs[index]!.runId, 'main', now, undefined, version);
      await store.markSucceeded(runs[index]!.runId, null, now, undefined, version);
    }
  }

  it('status answers the deployed code version and how many succeeded intervals another one ran', async () => {
    deps = { ...deps, jobs: new JobRegistry([versioned]) };
    await seed();

    const response = await send<StatusResponse>({ action: 'status', jobId: 'hourly' });

    expect(response.jobs[0]).toMatchObject({ jobId: 'hourly', version: '3', outdated: 2 });
  });

  it('backfill-plan with reprocess outdated re-runs the intervals another version (or none) ran', async () => {
    deps = { ...deps, jobs: new JobRegistry([versioned]) };
    await seed();
    const request = {
      jobId: 'hourly',
      from: '2025-12-31T00:00:00Z',
      to: '2025-12-31T05:00:00Z',
      reprocess: 'outdated',
    };

    const dryRun = await send<BackfillPlanResponse>({
      action: 'backfill-plan',
      request: { ...request, dryRun: true },
    });
    const plan = await send<BackfillPlanResponse>({ action: 'backfill-plan', request });

    const counts = { create: 1, rerun: 2, 'skip-in-flight': 0, 'skip-succeeded': 2, 'skip-failed': 0 };
    expect(dryRun.counts).toEqual(counts);
    expect(dryRun.sample?.map((line) => line.action)).toEqual([
      'rerun',
      'rerun',
      'skip-succeeded',
      'skip-succeeded',
      'create',
    ]);
    expect(plan.counts).toEqual(counts);
    expect((await store.listRuns('hourly')).map((run) => [run.status, run.version])).toEqual([
      ['pending', null],
      ['pending', null],
      ['succeeded', '3'],
      ['succeeded', '3'],
      ['pending', null],
    ]);
  });
});

describe('continue: waking the workflow for requeued runs (wakeAt)', () => {
  let recording: RecordingStarter;
  beforeEach(() => {
    recording = new RecordingStarter();
    deps = { ...deps, starter: recording };
  });
  const DELAY = () => store.requeuePolicy.baseDelayMs;

  /** A tick at `now` queues the three due hours in one execution; returns its name. */
  async function queuedExecution(): Promise<string> {
    await send({ jobId: 'hourly' });
    const [started] = recording.started;
    return started!.executionName;
  }

  it('answers the requeued run’s notBefore when the stage runner put it back (store connection lost)', async () => {
    // Arrange: the execution ran two runs; its third was requeued by "Record failure"; it is at its last step
    const name = await queuedExecution();
    const [first, second, third] = recording.started[0]!.runs;
    for (const run of [first!, second!]) {
      await store.markRunning(run.runId, 'main', now);
      await store.markSucceeded(run.runId, null, now);
    }
    await store.requeueRuns([third!.runId]);

    // Act
    const response = await send<DispatchResponse>({
      action: 'continue',
      jobId: 'hourly',
      executionName: name,
    });

    // Assert: nothing to start yet; wake at 03:30:10 (the next tick is 04:00)
    expect(response).toMatchObject({ started: [], live: [], requeued: 0 });
    expect(response.wakeAt).toBe(new Date(now.getTime() + DELAY()).toISOString());
    expect(response.wakeAt).toBe('2026-01-01T03:30:10.000Z');
  });

  it('takes the asking execution for ended: its unrecorded runs are requeued and woken for, not left to the tick', async () => {
    // Arrange: the execution's "Record failure" could not reach the store: its runs are still queued, and
    // Step Functions still calls it running (it is at its last step)
    const name = await queuedExecution();

    // Act
    const unnamed = await send<DispatchResponse>({ action: 'continue', jobId: 'hourly' });
    const named = await send<DispatchResponse>({ action: 'continue', jobId: 'hourly', executionName: name });

    // Assert: without its name, it looks live and nothing is done (the next tick would); with it, requeued
    expect(unnamed).toMatchObject({ live: [name], requeued: 0 });
    expect(unnamed.wakeAt).toBeUndefined();
    expect(named).toMatchObject({ live: [], requeued: 3, started: [] });
    expect(named.wakeAt).toBe('2026-01-01T03:30:10.000Z');
    expect((await store.listRuns('hourly')).map((run) => [run.status, run.notBefore?.toISOString()])).toEqual(
      [0, 1, 2].map(() => ['pending', '2026-01-01T03:30:10.000Z']),
    );
  });

  it('at the wake, dispatches the runs and answers no wakeAt: the new execution goes on', async () => {
    // Arrange
    const name = await queuedExecution();
    const asleep = await send<DispatchResponse>({ action: 'continue', jobId: 'hourly', executionName: name });

    // Act: "Wait for requeued runs" ends at wakeAt, then "Continue dispatch again"
    now = new Date(asleep.wakeAt!);
    const awake = await send<DispatchResponse>({ action: 'continue', jobId: 'hourly', executionName: name });

    // Assert
    expect(awake.started).toEqual([{ executionName: expect.any(String), runs: 3 }]);
    expect(awake.started[0]!.executionName).not.toBe(name);
    expect(awake.wakeAt).toBeUndefined();
  });

  it('leaves the runs to the next tick when it comes as their delay ends, and wakes 1 ms before', async () => {
    // Arrange: executions at their last step whose delays end at the 04:00 tick, and 1 ms before it
    const answers: (string | undefined)[] = [];
    for (const offset of [0, 1]) {
      await cleanup();
      ({ store, cleanup } = await createTempSqliteStore({ clock: () => now }));
      await store.migrate();
      recording = new RecordingStarter();
      deps = { ...deps, store, starter: recording };
      now = new Date(T0 + 4 * HOUR - DELAY() - offset);
      const name = await queuedExecution();

      // Act
      const response = await send<DispatchResponse>({
        action: 'continue',
        jobId: 'hourly',
        executionName: name,
      });
      answers.push(response.wakeAt);
    }

    // Assert
    expect(answers).toEqual([undefined, '2026-01-01T03:59:59.999Z']);
  });

  it('answers no wakeAt while an execution of the job still holds runs: its own last step looks again', async () => {
    // Arrange: one run of the live execution was requeued; its other two still run
    await queuedExecution();
    const [first] = recording.started[0]!.runs;
    await store.markRunning(first!.runId, 'main', now);
    await store.requeueRuns([first!.runId]);

    // Act: a continue from elsewhere (a downstream dispatch, say)
    const response = await send<DispatchResponse>({ action: 'continue', jobId: 'hourly' });

    // Assert
    expect(response.live).toHaveLength(1);
    expect(response.wakeAt).toBeUndefined();
  });

  it('a tick that requeues the runs of an ended execution starts an execution that waits for them', async () => {
    // Arrange: the execution ended without recording its runs (its last step never asked to continue)
    await queuedExecution();
    recording.endAll();

    // Act
    const tick = await send<DispatchResponse>({ jobId: 'hourly' });
    const again = await send<DispatchResponse>({ jobId: 'hourly' });

    // Assert: requeued until 03:30:10, nothing due yet; a run-less execution named for the wake started, once
    expect(tick).toMatchObject({ requeued: 3, started: [], live: [], wakeAt: '2026-01-01T03:30:10.000Z' });
    expect(tick.wakeExecution).toMatch(/^hourly-w20260101T033010000Z-[0-9a-f]{16}$/);
    expect(again).toMatchObject({ requeued: 0, wakeExecution: tick.wakeExecution });
    expect(recording.started.slice(1)).toEqual([
      { jobId: 'hourly', executionName: tick.wakeExecution, lane: 'scheduled', backfillId: null, runs: [] },
    ]);
  });

  it('the wake execution waits: its last step gets wakeAt, and at it the runs are dispatched', async () => {
    // Arrange
    await queuedExecution();
    recording.endAll();
    const { wakeExecution } = await send<DispatchResponse>({ jobId: 'hourly' });

    // Act: its Map has nothing to run; its last step asks at once, then again at wakeAt
    const early = await send<DispatchResponse>({
      action: 'continue',
      jobId: 'hourly',
      executionName: wakeExecution,
    });
    now = new Date(early.wakeAt!);
    const awake = await send<DispatchResponse>({
      action: 'continue',
      jobId: 'hourly',
      executionName: wakeExecution,
    });

    // Assert: the asker waits itself (no second wake execution); then one batch of the three runs
    expect(early).toMatchObject({ started: [], wakeAt: '2026-01-01T03:30:10.000Z' });
    expect(early.wakeExecution).toBeUndefined();
    expect(awake.started).toEqual([{ executionName: expect.any(String), runs: 3 }]);
    expect(awake.wakeAt).toBeUndefined();
    expect(recording.started.map((input) => input.runs.length)).toEqual([3, 0, 3]);
  });

  it('starts no wake execution when the next tick comes first, or while the job is paused', async () => {
    // Arrange: requeued runs whose delay ends at the 04:00 tick
    now = new Date(T0 + 4 * HOUR - DELAY());
    await queuedExecution();
    recording.endAll();

    // Act
    const beforeTick = await send<DispatchResponse>({ jobId: 'hourly' });
    await send({ action: 'pause', jobId: 'hourly' });
    now = new Date(T0 + 4 * HOUR + 1);
    const paused = await send<DispatchResponse>({ jobId: 'hourly' });

    // Assert
    expect(beforeTick).toMatchObject({ requeued: 3, started: [] });
    expect(beforeTick.wakeAt).toBeUndefined();
    expect(beforeTick.wakeExecution).toBeUndefined();
    expect(paused.paused).toBe(true);
    expect(paused.wakeExecution).toBeUndefined();
    expect(recording.started).toHaveLength(1);
  });

  it('answers no wakeAt to an asker while the job is paused', async () => {
    // Arrange: every run of the execution requeued, with their delay
    const name = await queuedExecution();
    recording.endAll();
    await send({ action: 'continue', jobId: 'hourly', executionName: name });

    // Act
    await send({ action: 'pause', jobId: 'hourly' });
    const paused = await send<DispatchResponse>({ action: 'continue', jobId: 'hourly', executionName: name });

    // Assert
    expect(paused.paused).toBe(true);
    expect(paused.wakeAt).toBeUndefined();
  });
});

describe('watchdog and skip alerts', () => {
  const watched = defineJob({
    id: 'watched',
    schedule: { cron: '0 * * * *' },
    start: '2026-01-01T00:00:00Z',
    deadline: '1h',
    catchupWindow: '2h',
    handler: async () => null,
  });

  it('alerts the intervals a dispatch skipped once, and the late ones at the next watchdog ticks', async () => {
    // Arrange: at 03:30, 00:00 is out of the catch-up window; 01:00 and 02:00 are planned.
    sfn.on(StartExecutionCommand).resolves({ executionArn: 'arn' });
    deps = { ...deps, jobs: new JobRegistry([watched, hourly]) };
    await send<DispatchResponse>({ jobId: 'watched' });

    // Act
    const first = await send<WatchdogResponse>({ action: 'watchdog' });
    now = new Date(T0 + 4 * HOUR);
    const second = await send<WatchdogResponse>({ action: 'watchdog' });
    const again = await send<WatchdogResponse>({ action: 'watchdog' });

    // Assert: the first tick starts watching at 02:00 (its horizon); at 04:00, 02:00–03:00 is late.
    expect(first).toEqual({ action: 'watchdog', checked: 1, late: [], failed: [] });
    expect(second).toEqual({
      action: 'watchdog',
      checked: 1,
      late: [
        {
          jobId: 'watched',
          count: 1,
          intervals: [{ start: '2026-01-01T02:00:00.000Z', end: '2026-01-01T03:00:00.000Z', count: 1 }],
        },
      ],
      failed: [],
    });
    expect(again.late).toEqual([]);
    expect(
      (await alertStoreOf(store).list('watched')).map((alert) => [alert.kind, alert.start, alert.intervals]),
    ).toEqual([
      ['skipped', new Date(T0), 1],
      ['late', new Date(T0 + 2 * HOUR), 1],
    ]);
    // Each recorded as raised when it was: nothing for the sweep.
    expect((await alertStoreOf(store).list('watched')).every((alert) => alert.announcedAt !== null)).toBe(
      true,
    );
  });

  it('raises at a watchdog tick a late alert a crash left claimed and unraised, once', async () => {
    // Arrange: 02:00–03:00 claimed late at 04:00 by a dispatcher that died before raising it
    deps = { ...deps, jobs: new JobRegistry([watched, hourly]) };
    const claimedAt = new Date(T0 + 4 * HOUR);
    const range = { start: new Date(T0 + 2 * HOUR), end: new Date(T0 + 3 * HOUR), intervals: 1 };
    await alertStoreOf(store).claim('watched', 'late', [range], claimedAt);

    // Act: a tick within the sweep's grace, one after it, and one more
    now = new Date(claimedAt.getTime() + 60_000);
    const early = await send<WatchdogResponse>({ action: 'watchdog' });
    now = new Date(claimedAt.getTime() + 10 * 60_000);
    const swept = await send<WatchdogResponse>({ action: 'watchdog' });
    const again = await send<WatchdogResponse>({ action: 'watchdog' });

    // Assert
    expect(early.late).toEqual([]);
    expect(swept.late).toEqual([
      {
        jobId: 'watched',
        count: 1,
        intervals: [{ start: '2026-01-01T02:00:00.000Z', end: '2026-01-01T03:00:00.000Z', count: 1 }],
      },
    ]);
    expect(again.late).toEqual([]);
    expect((await alertStoreOf(store).list('watched'))[0]?.announcedAt).toEqual(now);
  });
});

describe('continue with downstream jobs', () => {
  it('dispatches the downstream job whose waiting run the ended execution made ready', async () => {
    // Arrange: a 3-hour downstream job over `hourly`; its run waits for the three hours.
    sfn.on(StartExecutionCommand).resolves({});
    sfn.on(DescribeExecutionCommand).resolves({ status: 'SUCCEEDED' } as never);
    const threeHourly = defineJob({
      id: 'three_hourly',
      schedule: { cron: '0 */3 * * *' },
      start: '2026-01-01T00:00:00Z',
      dependsOn: ['hourly'],
      handler: async () => null,
    });
    deps = { ...deps, jobs: new JobRegistry([hourly, threeHourly]) };
    await send({ jobId: 'three_hourly' });
    await send({ jobId: 'hourly' });
    expect((await store.listRuns('three_hourly')).map((run) => run.status)).toEqual(['waiting']);
    const [upstream] = startedInputs();

    // Act: the upstream execution ran its three hours; its last step sends continue.
    await runExecution(upstream!);
    const response = await send<DispatchResponse>({ action: 'continue', jobId: 'hourly' });

    // Assert
    expect(response.downstream).toEqual([
      expect.objectContaining({ action: 'continue', jobId: 'three_hourly', released: 1, timedOut: 0 }),
    ]);
    expect(startedInputs().map((input) => input.jobId)).toEqual(['hourly', 'three_hourly']);
    expect((await store.listRuns('three_hourly')).map((run) => run.status)).toEqual(['queued']);
  });
});

describe('cancel stops the ECS task of a run on a Fargate stage (piko cancel --aws)', () => {
  const crunch = defineJob({
    id: 'crunch',
    schedule: { cron: '0 * * * *' },
    start: '2026-01-01T00:00:00Z',
    concurrency: 3,
    stages: [
      lambda('plan', async () => null),
      fargate('crunch', { cpu: 256, memoryMiB: 512 }, async () => null),
    ],
  });
  const TASK = 'arn:aws:ecs:eu-west-1:123456789012:task/piko-cluster/0123456789abcdef0123456789abcdef';
  const CANCEL = {
    action: 'cancel',
    jobId: 'crunch',
    from: new Date(T0).toISOString(),
    to: new Date(T0 + 3 * HOUR).toISOString(),
    actor: 'ops@host',
    reason: 'bad input',
  };

  /** Stops what it is asked to, or fails with `failure`. */
  class RecordingStopper implements TaskStopper {
    readonly calls: { taskArn: string; reason: string }[] = [];
    constructor(readonly failure?: Error) {}
    async stopTask(taskArn: string, reason: string): Promise<void> {
      this.calls.push({ taskArn, reason });
      if (this.failure) throw this.failure;
    }
  }

  /** Three runs of `crunch`, queued: the first on its Fargate stage in TASK, the second on its Lambda stage. */
  async function threeRuns(): Promise<number[]> {
    sfn.on(StartExecutionCommand).resolves({});
    deps = { ...deps, jobs: new JobRegistry([crunch]) };
    await send({ jobId: 'crunch' });
    const runs = await store.listRuns('crunch');
    expect(runs.map((run) => run.status)).toEqual(['queued', 'queued', 'queued']);
    const [first, second] = runs;
    await store.markRunning(first!.runId, 'plan', now);
    await store.markRunning(first!.runId, 'crunch', now, undefined, null, TASK);
    await store.markRunning(second!.runId, 'plan', now);
    return runs.map((run) => run.runId);
  }

  it('stops the task of the running Fargate stage only, with who and why as its reason', async () => {
    // Arrange
    const ids = await threeRuns();
    const tasks = new RecordingStopper();
    deps = { ...deps, tasks };

    // Act
    const response = await send<CancelResponse>(CANCEL);

    // Assert
    expect(tasks.calls).toEqual([{ taskArn: TASK, reason: 'Cancelled by ops@host: bad input' }]);
    expect(response.stoppedTasks).toEqual([TASK]);
    expect(response.cancelled.map((run) => [run.runId, run.status])).toEqual([
      [ids[0], 'running'],
      [ids[1], 'running'],
      [ids[2], 'queued'],
    ]);
    expect((await store.listRuns('crunch')).map((run) => run.status)).toEqual([
      'cancelled',
      'cancelled',
      'cancelled',
    ]);
    const [action] = await store.listActions({ jobId: 'crunch', limit: 10 });
    expect(action).toMatchObject({ kind: 'cancel', actor: 'ops@host', reason: 'bad input' });
  });

  it('keeps the runs cancelled when ECS refuses the stop: their stages stop at their next poll', async () => {
    // Arrange
    await threeRuns();
    const tasks = new RecordingStopper(
      new AwsThrottledError('ECS StopTask failed (ThrottlingException)', 'ThrottlingException'),
    );
    deps = { ...deps, tasks };

    // Act
    const response = await send<CancelResponse>({ ...CANCEL, reason: null });

    // Assert
    expect(tasks.calls).toEqual([{ taskArn: TASK, reason: 'Cancelled by ops@host' }]);
    expect(response.stoppedTasks).toEqual([]);
    expect(new Set((await store.listRuns('crunch')).map((run) => run.status))).toEqual(
      new Set(['cancelled']),
    );
  });

  it('stops nothing without a task stopper (no Fargate cluster in the stack)', async () => {
    await threeRuns();

    const response = await send<CancelResponse>(CANCEL);

    expect(response.stoppedTasks).toEqual([]);
    expect(response.cancelled).toHaveLength(3);
  });
});
