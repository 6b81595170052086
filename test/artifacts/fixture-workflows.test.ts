/**
 * Retries, non-retryable errors, timeouts and backfills, from the artifacts of the fixture app
 * (`fixtures/jobs`, bundled into its own cdk.out): schedule ticks reach the bundled dispatcher, the
 * template's state machines run on the local Step Functions endpoint with every Retry interval and
 * Wait shortened to nothing, and the job functions run in their sandboxes through the IAM proxy.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WATCHDOG_SCHEDULE_NAME } from '../../infra/constructs/job-schedules.ts';
import type { BackfillsResponse, WatchdogResponse } from '../../shared/control/events.ts';
import { DISPATCHER_DATABASE_USER } from '../../shared/stack/database-users.ts';
import { IntervalsLate, METRICS_JOB_DIMENSION, METRICS_NAMESPACE } from '../../shared/telemetry.ts';
import { FATAL_MESSAGE, FLAKY_MESSAGE, INVALID_RECORD_MESSAGE } from './fixtures/jobs/index.ts';
import {
  type DispatchAnswer,
  deployMigrations,
  runsOf,
  runsOfExecution,
  simulateRecordedCalls,
  tick,
} from './support/flows.ts';
import { asExpected, formatIamTable } from './support/iam-simulation.ts';
import type { LambdaSandbox } from './support/lambda-sandbox.ts';
import type { TaskStart } from './support/task-bindings.ts';
import {
  FIXTURE_BACKFILL_BATCHES_PER_EXECUTION,
  fixtureApp,
  startWorkflowStack,
  type WorkflowStack,
} from './support/workflow-stack.ts';

let world: WorkflowStack;
let dispatcher: LambdaSandbox;
/** Set by a test: runs before each Task state (a fault to inject). */
let onTask: ((task: TaskStart) => Promise<void>) | undefined;

beforeAll(async () => {
  world = await startWorkflowStack({ app: fixtureApp, beforeTask: (task) => onTask?.(task) });
  await deployMigrations(world);
  dispatcher = await world.sandbox('Dispatcher');
}, 240_000);

afterAll(async () => {
  await world?.stop();
});

function diagnostics(): string {
  return [
    ...world.sfn.executions.map(
      (e) => `${e.name}: ${e.status} ${e.error ?? ''} ${(e.cause ?? '').slice(0, 500)}`,
    ),
    ...world.bindings.tasks
      .filter((t) => t.error)
      .slice(-10)
      .map((t) => `${t.machine} › ${t.stateName}: ${t.error}: ${(t.cause ?? '').slice(0, 500)}`),
    ...world.bindings.asyncFailures,
    ...world.sfn.problems,
  ].join('\n');
}

/** Ticks a job once and waits until everything it set off has ended; returns its one execution's runs. */
async function tickAndSettle(jobId: string) {
  const answer = await tick(dispatcher, jobId);
  expect(answer.started, dispatcher.logs()).toHaveLength(1);
  const [started] = answer.started;
  await world.settled();
  const runs = await runsOfExecution(world, jobId, started!.executionName);
  expect(runs, diagnostics()).toHaveLength(1);
  const stageCalls = world.bindings.tasks.filter(
    (task) =>
      task.machine === `Piko-${jobId}` &&
      task.stateName === 'Stage main' &&
      (task.input as { run?: { runId?: number } }).run?.runId === runs[0]!.run_id,
  );
  return { run: runs[0]!, stageCalls };
}

/**
 * Gives a job that plans nothing (it starts in 2100) a queued run of 2026-01-01, held by the
 * execution `executionName`, which does not exist yet: the job's next tick starts it (a restart).
 * Such a job's next tick is decades away, so no wake is ever left to it, whatever the wall clock.
 */
async function queueRun(jobId: string, executionName: string): Promise<void> {
  await tick(dispatcher, jobId);
  await world.stack.query(
    "INSERT INTO piko_runs (job_id, interval_start, interval_end, status, trigger_kind, generation, execution_name, created_at, updated_at) VALUES (?, '2026-01-01 00:00:00.000', '2026-01-02 00:00:00.000', 'queued', 'schedule', 0, ?, NOW(3), NOW(3))",
    [jobId, executionName],
  );
}

// These two blocks run before the flows below, whose last test simulates every AWS call made so far
// (theirs too) against the synthesized policies.
describe('a requeued run wakes its workflow at its notBefore (fixture app)', () => {
  it('a stage that lost its store connection: requeued with a delay, the last step waits, then dispatches it', async () => {
    // Arrange: wakeful's first stage call reports the store out of reach (the stage runner's
    // StoreUnavailableError after its retries), so "Record failure" requeues its run with a delay;
    // the delay is shortened to 2 s from the requeue, before the last step asks to continue.
    let stageCalls = 0;
    let requeued: { run_id: number; not_before: string } | undefined;
    onTask = async (task) => {
      if (task.machine.name !== 'Piko-wakeful') return;
      if (task.stateName === 'Stage main' && ++stageCalls === 1) {
        throw Object.assign(new Error('the state store was unavailable through every retry'), {
          name: 'StoreUnavailableError',
        });
      }
      if (task.stateName === 'Continue dispatch' && requeued === undefined) {
        await world.stack.query(
          "UPDATE piko_runs SET not_before = updated_at + INTERVAL 2 SECOND WHERE job_id = 'wakeful' AND status = 'pending' AND not_before IS NOT NULL",
        );
        [requeued] = await world.stack.query<{ run_id: number; not_before: string }[]>(
          "SELECT run_id, DATE_FORMAT(not_before, '%Y-%m-%dT%H:%i:%s.%fZ') AS not_before FROM piko_runs WHERE job_id = 'wakeful' AND status = 'pending'",
        );
      }
    };
    await queueRun('wakeful', 'wakeful-queued');
    try {
      // Act: one tick starts the run's execution; nothing else is sent (on AWS the next tick of a
      // daily job is a day away)
      const answer = await dispatcher.invoke({ jobId: 'wakeful' });
      expect(answer.ok && answer.payload, dispatcher.logs()).toMatchObject({ restarted: ['wakeful-queued'] });
      await world.settled();
    } finally {
      onTask = undefined;
    }

    // Assert: the first execution waited until the run's notBefore, asked again, and that dispatched it
    expect(requeued, diagnostics()).toBeDefined();
    const wakeAt = requeued!.not_before.replace(/(\.\d{3})\d*Z$/, '$1Z');
    const executions = world.sfn.executionsOf(world.machine('Piko-wakeful').arn);
    expect(
      executions.map((execution) => execution.status),
      diagnostics(),
    ).toEqual(['SUCCEEDED', 'SUCCEEDED']);
    const [first, second] = executions;
    expect(JSON.parse(first!.output!)).toMatchObject({ wakes: 1, wakeAt });
    expect(second!.startDate.getTime()).toBeGreaterThanOrEqual(Date.parse(wakeAt));
    expect(
      world.bindings.tasks
        .filter((task) => task.machine === 'Piko-wakeful' && task.stateName.startsWith('Continue dispatch'))
        .map((task) => task.stateName),
    ).toEqual(['Continue dispatch', 'Continue dispatch again', 'Continue dispatch']);
    const [run] = await world.stack.query<
      { status: string; generation: number; requeues: number; execution_name: string }[]
    >('SELECT status, generation, requeues, execution_name FROM piko_runs WHERE run_id = ?', [
      requeued!.run_id,
    ]);
    expect(run).toEqual({ status: 'succeeded', generation: 1, requeues: 1, execution_name: second!.name });
    console.log(
      `wake: run ${requeued!.run_id} requeued until ${wakeAt}; execution ${second!.name} started ${second!.startDate.getTime() - Date.parse(wakeAt)} ms after it`,
    );
  });
});

describe('a tick that requeues an ended execution’s runs wakes for them (fixture app)', () => {
  it('starts an execution without runs that waits until their notBefore, then dispatches them', async () => {
    // Arrange: dormant (it plans nothing before 2100) gets a queued run of its own; the tick restarts
    // its execution, whose stage, "Record failure" and last step all fail, so it ends holding the run.
    const ghost = 'dormant-ghost';
    await queueRun('dormant', ghost);
    let failing = true;
    let requeued: { run_id: number; not_before: string } | undefined;
    onTask = async (task) => {
      if (task.machine.name !== 'Piko-dormant') return;
      if (failing && ['Stage main', 'Record failure', 'Continue dispatch'].includes(task.stateName)) {
        throw Object.assign(new Error('the state store was unavailable through every retry'), {
          name: 'StoreUnavailableError',
        });
      }
      if (!failing && task.stateName === 'Continue dispatch' && requeued === undefined) {
        // The requeue delay shortened to 2 s, before the wake execution's last step first asks.
        await world.stack.query(
          "UPDATE piko_runs SET not_before = updated_at + INTERVAL 2 SECOND WHERE job_id = 'dormant' AND status = 'pending'",
        );
        [requeued] = await world.stack.query<{ run_id: number; not_before: string }[]>(
          "SELECT run_id, DATE_FORMAT(not_before, '%Y-%m-%dT%H:%i:%s.%fZ') AS not_before FROM piko_runs WHERE job_id = 'dormant' AND status = 'pending'",
        );
      }
    };
    let answer: DispatchAnswer & { requeued?: number; wakeAt?: string; wakeExecution?: string };
    try {
      const restart = await dispatcher.invoke({ jobId: 'dormant' });
      expect(restart.ok && restart.payload, dispatcher.logs()).toMatchObject({ restarted: [ghost] });
      await world.settled();
      failing = false;

      // Act: the next tick finds the execution ended with the run unrecorded; nothing else is sent
      answer = await tick(dispatcher, 'dormant');
      await world.settled();
    } finally {
      onTask = undefined;
    }

    // Assert: requeued, nothing started at once; the wake execution waited, asked, and that ran the run
    expect(answer, dispatcher.logs()).toMatchObject({ planned: 0, started: [], requeued: 1 });
    expect(answer.wakeExecution).toMatch(/^dormant-w\d{8}T\d{9}Z-[0-9a-f]{16}$/);
    expect(requeued, diagnostics()).toBeDefined();
    const wakeAt = requeued!.not_before.replace(/(\.\d{3})\d*Z$/, '$1Z');
    const executions = world.sfn.executionsOf(world.machine('Piko-dormant').arn);
    expect(
      executions.map((execution) => [
        execution.name === ghost || execution.name === answer.wakeExecution,
        execution.status,
      ]),
      diagnostics(),
    ).toEqual([
      [true, 'SUCCEEDED'],
      [true, 'SUCCEEDED'],
      [false, 'SUCCEEDED'],
    ]);
    const [, wake, batch] = executions;
    expect(wake!.name).toBe(answer.wakeExecution);
    expect(JSON.parse(wake!.output!)).toMatchObject({ runs: 0, wakes: 1, wakeAt });
    expect(batch!.startDate.getTime()).toBeGreaterThanOrEqual(Date.parse(wakeAt));
    const [run] = await world.stack.query<{ status: string; requeues: number; execution_name: string }[]>(
      'SELECT status, requeues, execution_name FROM piko_runs WHERE run_id = ?',
      [requeued!.run_id],
    );
    expect(run).toEqual({ status: 'succeeded', requeues: 1, execution_name: batch!.name });
    console.log(
      `tick wake: run ${requeued!.run_id} requeued until ${wakeAt} by a tick; ${wake!.name} woke, ${batch!.name} started ${batch!.startDate.getTime() - Date.parse(wakeAt)} ms after it`,
    );
  });
});

describe('the deadline watchdog through the bundled dispatcher (fixture app)', () => {
  /** The watchdog schedule's `Target.Input`, exactly as the template has it. */
  function watchdogEvent(): unknown {
    const schedules = world.stack.app.resourcesOfType('AWS::Scheduler::Schedule');
    const watchdog = schedules.find(([, resource]) => resource.Properties?.Name === WATCHDOG_SCHEDULE_NAME);
    expect(watchdog?.[1].Properties?.ScheduleExpression).toBe('rate(5 minutes)');
    const target = watchdog?.[1].Properties?.Target as { Input?: string } | undefined;
    return JSON.parse(target?.Input ?? 'null');
  }

  /** The EMF lines of the dispatcher's logs that put IntervalsLate. */
  function lateMetricLines(): Record<string, unknown>[] {
    return dispatcher
      .logs()
      .split('\n')
      .filter(
        (line) => line.startsWith('{') && line.includes('"_aws"') && line.includes(`"${IntervalsLate}"`),
      )
      .map((line) => JSON.parse(line) as Record<string, unknown>);
  }

  it('a late interval of a job with a deadline: one alert, the IntervalsLate metric named by job, never repeated', async () => {
    // Arrange: punctual's row (a pause and a resume create it, nothing runs); the first watchdog
    // tick only records where watching begins (its horizon, today's or yesterday's 00:00 UTC)
    const event = watchdogEvent();
    expect(event).toEqual({ action: 'watchdog' });
    for (const action of ['pause', 'resume']) await dispatcher.invokeOk({ action, jobId: 'punctual' });
    const first = (await dispatcher.invokeOk(event)) as WatchdogResponse;
    const [watch] = await world.stack.query<{ checked_to: string }[]>(
      "SELECT DATE_FORMAT(checked_to, '%Y-%m-%dT%H:%i:%s.000Z') AS checked_to FROM piko_deadline_watch WHERE job_id = 'punctual'",
    );
    const horizon = Date.parse(watch!.checked_to);
    // …as if the watchdog had last checked two days before (its schedule stopped): the job's two days
    // since then were never planned, and their deadline has passed
    await world.stack.query(
      "UPDATE piko_deadline_watch SET checked_to = checked_to - INTERVAL 2 DAY WHERE job_id = 'punctual'",
    );
    const metricsBefore = lateMetricLines().length;

    // Act
    const second = (await dispatcher.invokeOk(event)) as WatchdogResponse;
    const metricsAfterSecond = lateMetricLines();
    const third = (await dispatcher.invokeOk(event)) as WatchdogResponse;

    // Assert: one alert naming the job and its two days, once
    const DAY = 86_400_000;
    const range = {
      start: new Date(horizon - 2 * DAY).toISOString(),
      end: new Date(horizon).toISOString(),
      count: 2,
    };
    expect(first).toEqual({ action: 'watchdog', checked: 1, late: [], failed: [] });
    expect(second, dispatcher.logs()).toEqual({
      action: 'watchdog',
      checked: 1,
      late: [{ jobId: 'punctual', count: 2, intervals: [range] }],
      failed: [],
    });
    expect(third).toEqual({ action: 'watchdog', checked: 1, late: [], failed: [] });
    expect(
      await world.stack.query(
        "SELECT kind, DATE_FORMAT(interval_start, '%Y-%m-%dT%H:%i:%s.000Z') AS start, intervals FROM piko_alerts WHERE job_id = 'punctual'",
      ),
    ).toEqual([{ kind: 'late', start: range.start, intervals: 2 }]);
    // The metric as CloudWatch reads it from the function's stdout (EMF), with the job as a dimension
    expect(metricsAfterSecond.slice(metricsBefore)).toEqual([
      expect.objectContaining({
        _aws: expect.objectContaining({
          CloudWatchMetrics: [
            {
              Namespace: METRICS_NAMESPACE,
              Dimensions: [expect.arrayContaining([METRICS_JOB_DIMENSION])],
              Metrics: [{ Name: IntervalsLate, Unit: 'Count' }],
            },
          ],
        }),
        [METRICS_JOB_DIMENSION]: 'punctual',
        [IntervalsLate]: 2,
      }),
    ]);
    expect(lateMetricLines()).toHaveLength(metricsAfterSecond.length);
    // …and the log line naming the job and the range.
    expect(dispatcher.logs()).toContain(String.raw`job \"punctual\": 2 intervals late`);
  });
});

describe('job workflows from the template, on the bundles (fixture app)', () => {
  it('a handler that fails twice, then succeeds: 3 attempts, Retry from the template, succeeded', async () => {
    const { run, stageCalls } = await tickAndSettle('flaky');
    expect([run.status, run.attempts, run.error], diagnostics()).toEqual(['succeeded', 3, null]);
    expect(stageCalls.map((call) => call.error ?? 'ok')).toEqual(['Error', 'Error', 'ok']);
    expect(JSON.parse(stageCalls[0]!.cause!)).toMatchObject({
      errorType: 'Error',
      errorMessage: `${FLAKY_MESSAGE} (attempt 1)`,
    });
    console.log(`flaky: ${stageCalls.length} attempts (2 failed), run ${run.run_id} succeeded`);
  });

  it('NonRetryableError: failed after exactly 1 attempt, though the policy allows 3', async () => {
    const { run, stageCalls } = await tickAndSettle('fatal');
    expect([run.status, run.attempts, run.error], diagnostics()).toEqual(['failed', 1, FATAL_MESSAGE]);
    expect(stageCalls.map((call) => call.error)).toEqual(['NonRetryableError']);
    console.log(`fatal: ${stageCalls.length} attempt, run ${run.run_id} failed: ${run.error}`);
  });

  it('an invalid record (RecordValidationError, a subclass with its own name): failed after exactly 1 attempt', async () => {
    const { run, stageCalls } = await tickAndSettle('invalid');
    expect([run.status, run.attempts, run.error], diagnostics()).toEqual([
      'failed',
      1,
      INVALID_RECORD_MESSAGE,
    ]);
    expect(stageCalls.map((call) => call.error)).toEqual(['NonRetryableError']);
    // The bundle's EMF names the stack (from the template's PIKO_AWS__STACK_NAME), so the RunsFailed
    // alarm of another stack in the account never sees this run.
    const jobFunction = await world.sandbox('JobFunctions/invalid');
    const emf = jobFunction
      .logs()
      .split('\n')
      .filter((line) => line.includes('"RunsFailed"'))
      .map((line) => JSON.parse(line) as { _aws: { CloudWatchMetrics: { Dimensions: string[][] }[] } });
    expect(emf).toEqual([
      expect.objectContaining({ service: 'piko', stack: world.stack.app.stackName, RunsFailed: 1 }),
    ]);
    expect(emf[0]!._aws.CloudWatchMetrics[0]!.Dimensions).toEqual([['service', 'stack']]);
    console.log(`invalid: ${stageCalls.length} attempt, run ${run.run_id} failed: ${run.error}`);
  });

  it('a timeout: the stage runner stops the handler at the job’s timeout and the run is failed', async () => {
    const { run, stageCalls } = await tickAndSettle('slow');
    expect([run.status, run.attempts], diagnostics()).toEqual(['failed', 1]);
    expect(run.error).toMatch(/timed out|timeout/i);
    expect(stageCalls).toHaveLength(1);
    console.log(`slow: ${stageCalls.length} attempt, run ${run.run_id} failed: ${run.error}`);
  });

  it('a backfill from console-style JSON: config override, continue-as-new, a transient store error retried', async () => {
    const backfill = world.machine('Piko--backfill');
    const label = 'x'.repeat(4_000);
    const input = {
      jobId: 'tally',
      from: '2026-11-02T00:00:00Z',
      to: '2026-11-02T03:20:00Z',
      config: { label },
    };
    // A database outage at the second "Next batch": the dispatcher's connections are killed and its
    // user locked out; the next attempt (the template's Retry) finds the database back.
    let nextBatchCalls = 0;
    const lockOut = async (locked: boolean) => {
      await world.stack.query(`ALTER USER ?@'%' ACCOUNT ${locked ? 'LOCK' : 'UNLOCK'}`, [
        DISPATCHER_DATABASE_USER,
      ]);
      if (!locked) return;
      const sessions = await world.stack.query<{ ID: number }[]>(
        'SELECT ID FROM information_schema.PROCESSLIST WHERE USER = ?',
        [DISPATCHER_DATABASE_USER],
      );
      for (const session of sessions)
        await world.stack.query(`KILL ${Number(session.ID)}`).catch(() => undefined);
    };
    onTask = async (task) => {
      if (task.machine.name !== backfill.name || task.stateName !== 'Next batch') return;
      nextBatchCalls += 1;
      if (nextBatchCalls === 2) await lockOut(true);
      if (nextBatchCalls === 3) await lockOut(false);
    };
    try {
      const first = world.sfn.startExecution(
        { stateMachineArn: backfill.arn, name: 'console-backfill-tally', input: JSON.stringify(input) },
        'console',
      );
      await world.settled(200);
      expect(first.status, diagnostics()).toBe('SUCCEEDED');
    } finally {
      onTask = undefined;
      await lockOut(false);
    }
    const backfills = world.sfn.executionsOf(backfill.arn);
    expect(
      backfills.map((execution) => execution.status),
      diagnostics(),
    ).toEqual(backfills.map(() => 'SUCCEEDED'));
    // Continued as new: every later execution got the request as it was.
    expect(backfills.length).toBeGreaterThanOrEqual(2);
    for (const continued of backfills.slice(1)) expect(JSON.parse(continued.input)).toEqual(input);
    // The outage reached "Next batch" as a store error, and its Retry absorbed it.
    const nextBatches = world.bindings.tasks.filter(
      (task) => task.machine === backfill.name && task.stateName === 'Next batch',
    );
    const failed = nextBatches.filter((task) => task.error);
    expect(failed.map((task) => task.error)).toEqual([expect.stringMatching(/^Store(Unavailable)?Error$/)]);
    const runs = (await runsOf(world, 'tally')).filter((run) => run.trigger === 'backfill');
    expect(runs).toHaveLength(200);
    expect(
      runs.every((run) => run.status === 'succeeded'),
      diagnostics(),
    ).toBe(true);
    const batches = world.sfn
      .executionsOf(world.machine('Piko-tally').arn)
      .filter((execution) => JSON.parse(execution.input).lane === 'backfill');
    expect(batches.length).toBeGreaterThan(FIXTURE_BACKFILL_BATCHES_PER_EXECUTION);
    // The override reached every handler (tally returns the length of the label it ran with).
    expect(runs.every((run) => JSON.parse(run.output ?? 'null')?.label === label.length)).toBe(true);
    console.log(
      `backfill: 200 runs of tally succeeded in ${batches.length} batches over ${backfills.length} backfill executions (continued as new after ${FIXTURE_BACKFILL_BATCHES_PER_EXECUTION} batches); ${failed.length} store error retried`,
    );
  });

  it('dependsOn: the upstream workflow’s last step (continue) dispatches the waiting downstream run', async () => {
    // Arrange: follower's minute waits for leader's.
    const waiting = await tick(dispatcher, 'follower');
    expect(waiting.started, dispatcher.logs()).toEqual([]);
    expect((await runsOf(world, 'follower')).map((run) => run.status)).toEqual(['waiting']);

    // Act: leader's tick runs its minute; its execution's last step asks the dispatcher to continue.
    const upstream = await tick(dispatcher, 'leader');
    await world.settled();

    // Assert: the follower ran in an execution nobody ticked, after leader's run succeeded. (Both jobs
    // are minutely: when a minute ends meanwhile, a continue plans it too, so only the runs and
    // executions of this minute are compared.)
    expect(upstream.started, dispatcher.logs()).toHaveLength(1);
    const [leaderRun] = await runsOf(world, 'leader');
    const [followerRun] = await runsOf(world, 'follower');
    expect([leaderRun?.status, followerRun?.status], diagnostics()).toEqual(['succeeded', 'succeeded']);
    const followed = world.sfn
      .executionsOf(world.machine('Piko-follower').arn)
      .find((execution) => execution.name === followerRun!.execution_name);
    expect(followed?.status, diagnostics()).toBe('SUCCEEDED');
    const [leaderFinished] = await world.stack.query<{ finished_at: string }[]>(
      "SELECT DATE_FORMAT(finished_at, '%Y-%m-%dT%H:%i:%s.%fZ') AS finished_at FROM piko_runs WHERE run_id = ?",
      [leaderRun!.run_id],
    );
    expect(followed!.startDate.getTime()).toBeGreaterThanOrEqual(
      Date.parse(leaderFinished!.finished_at.replace(/(\.\d{3})\d*Z$/, '$1Z')),
    );
    expect(
      world.bindings.tasks.filter(
        (task) =>
          task.machine === 'Piko-leader' &&
          task.stateName === 'Continue dispatch' &&
          (task.input as { executionName?: string }).executionName === upstream.started[0]!.executionName,
      ),
    ).toHaveLength(1);
  });

  it('backfill --downstream: leader → follower → trailer, each job’s overlapping minutes re-run once, in dependency order', async () => {
    // Arrange: four minutes of each job of the chain succeeded already (marked), and the upstream
    // jobs have planned past them (the dependsOn flow above ticked them).
    const backfill = world.machine('Piko--backfill');
    const range = { from: '2026-11-03T10:00:00.000Z', to: '2026-11-03T10:04:00.000Z' };
    const chain = ['leader', 'follower', 'trailer'];
    for (const jobId of chain) {
      const marked = await dispatcher.invoke({
        action: 'mark',
        jobId,
        ...range,
        as: 'succeeded',
        dryRun: false,
        actor: 'artifact-test',
        reason: 'succeeded before the backfill',
      });
      expect(marked.ok, dispatcher.logs()).toBe(true);
    }
    const input = { jobId: 'leader', ...range, reprocess: 'all', downstream: true };

    // Act: the backfill state machine, as piko backfill leader --reprocess all --downstream --aws starts it.
    const execution = world.sfn.startExecution(
      { stateMachineArn: backfill.arn, name: 'downstream-backfill-leader', input: JSON.stringify(input) },
      'console',
    );
    await world.settled(200);

    // Assert: every backfill execution succeeded (continued as new with the request as it was)…
    expect(execution.status, diagnostics()).toBe('SUCCEEDED');
    const executions = world.sfn
      .executionsOf(backfill.arn)
      .filter((candidate) => candidate === execution || JSON.parse(candidate.input).downstream === true);
    expect(executions.map((candidate) => candidate.status)).toEqual(executions.map(() => 'SUCCEEDED'));
    for (const continued of executions.slice(1)) expect(JSON.parse(continued.input)).toEqual(input);
    // …each job's four minutes ran once more, as backfill runs, one Stage call each…
    const inRange = await world.stack.query<
      { job_id: string; run_id: number; status: string; started_at: Date; finished_at: Date }[]
    >(
      "SELECT job_id, run_id, status, started_at, finished_at FROM piko_runs WHERE job_id IN ('leader', 'follower', 'trailer') AND interval_start >= ? AND interval_start < ? AND trigger_kind = 'backfill' ORDER BY job_id, interval_start",
      [new Date(range.from), new Date(range.to)],
    );
    for (const jobId of chain) {
      const runs = inRange.filter((run) => run.job_id === jobId);
      expect(
        runs.map((run) => run.status),
        `${jobId}\n${diagnostics()}`,
      ).toEqual(['succeeded', 'succeeded', 'succeeded', 'succeeded']);
      const stageCalls = world.bindings.tasks.filter(
        (task) =>
          task.machine === `Piko-${jobId}` &&
          task.stateName === 'Stage main' &&
          runs.some((run) => run.run_id === (task.input as { run?: { runId?: number } }).run?.runId),
      );
      expect(stageCalls, jobId).toHaveLength(4);
    }
    // …and a downstream job's re-runs started only after every re-run of its upstream had ended.
    const spanOf = (jobId: string) => {
      const runs = inRange.filter((run) => run.job_id === jobId);
      return {
        firstStart: Math.min(...runs.map((run) => run.started_at.getTime())),
        lastEnd: Math.max(...runs.map((run) => run.finished_at.getTime())),
      };
    };
    expect(spanOf('follower').firstStart).toBeGreaterThanOrEqual(spanOf('leader').lastEnd);
    expect(spanOf('trailer').firstStart).toBeGreaterThanOrEqual(spanOf('follower').lastEnd);
    // The chain as piko backfills --aws shows it: the upstream backfill, then its two downstream ones.
    const listed = await dispatcher.invoke({ action: 'backfills', jobId: 'leader' });
    expect(listed.ok, dispatcher.logs()).toBe(true);
    const [root] = (listed as { payload: BackfillsResponse }).payload.backfills;
    expect(root?.status).toBe('done');
    expect(root?.downstream?.map((next) => [next.jobId, next.from, next.to, next.status])).toEqual([
      ['follower', range.from, range.to, 'done'],
      ['trailer', range.from, range.to, 'done'],
    ]);
    console.log(
      `backfill --downstream: leader → follower → trailer, 4 minutes each re-run once over ${executions.length} backfill execution(s)`,
    );
  });

  it('every AWS call these flows made is allowed by the synthesized policies (IAM simulation)', async () => {
    const { calls, checks } = await simulateRecordedCalls(world);
    console.log(
      `IAM simulation of the fixture flows (${calls} calls, ${checks.length} distinct):\n${formatIamTable(checks)}`,
    );
    expect(
      checks
        .filter((check) => !asExpected(check))
        .map((check) => `${check.principal} ${check.action} ${check.resource}: ${check.decision}`),
    ).toEqual([]);
    expect(world.stack.unexpectedCalls()).toEqual([]);
  });
});
