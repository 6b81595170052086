/**
 * Retries, non-retryable errors, timeouts and backfills, from the artifacts of the fixture app
 * (`fixtures/jobs`, bundled into its own cdk.out): schedule ticks reach the bundled dispatcher, the
 * template's state machines run on the local Step Functions endpoint with every Retry interval and
 * Wait shortened to nothing, and the job functions run in their sandboxes through the IAM proxy.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DISPATCHER_DATABASE_USER } from '../../shared/stack/database-users.ts';
import { FATAL_MESSAGE, FLAKY_MESSAGE, INVALID_RECORD_MESSAGE } from './fixtures/jobs/index.ts';
import { deployMigrations, runsOf, runsOfExecution, simulateRecordedCalls, tick } from './support/flows.ts';
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

    // Assert: the follower ran in an execution nobody ticked, after leader's run succeeded.
    expect(upstream.started, dispatcher.logs()).toHaveLength(1);
    const [leaderRun] = await runsOf(world, 'leader');
    const [followerRun] = await runsOf(world, 'follower');
    expect([leaderRun?.status, followerRun?.status], diagnostics()).toEqual(['succeeded', 'succeeded']);
    const followers = world.sfn.executionsOf(world.machine('Piko-follower').arn);
    expect(followers.map((execution) => execution.status)).toEqual(['SUCCEEDED']);
    expect(
      world.bindings.tasks.filter(
        (task) => task.machine === 'Piko-leader' && task.stateName === 'Continue dispatch',
      ),
    ).toHaveLength(1);
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
