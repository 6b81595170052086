/**
 * The real app's workflows, from the artifacts: a schedule tick reaches the bundled dispatcher,
 * which starts the template's own job state machine on the local Step Functions endpoint (through
 * the real SDK in the bundle), whose Task states invoke the bundled job function in its sandbox and
 * run the Fargate stage from the container artifact; everything through the IAM proxy over TLS.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deployMigrations, runsOf, runsOfExecution, simulateRecordedCalls, tick } from './support/flows.ts';
import { asExpected, formatIamTable } from './support/iam-simulation.ts';
import type { LambdaSandbox } from './support/lambda-sandbox.ts';
import { startWorkflowStack, type WorkflowStack } from './support/workflow-stack.ts';

let world: WorkflowStack;
let dispatcher: LambdaSandbox;

/** The task each run of nightly_archive had recorded when its Fargate stage ended (by run id). */
const taskArnsAfterCompress = new Map<number, string | null>();

beforeAll(async () => {
  world = await startWorkflowStack({
    // The run as its Fargate stage left it: the stage after it runs on Lambda, in no task.
    beforeTask: async ({ machine, stateName, input }) => {
      if (machine.name !== 'Piko-nightly_archive' || stateName !== 'Stage publish') return;
      const runId = (input as { run: { runId: number } }).run.runId;
      const [row] = await world.stack.query<{ task_arn: string | null }[]>(
        'SELECT task_arn FROM piko_runs WHERE run_id = ?',
        [runId],
      );
      taskArnsAfterCompress.set(runId, row?.task_arn ?? null);
    },
  });
  await deployMigrations(world);
  dispatcher = await world.sandbox('Dispatcher');
}, 240_000);

afterAll(async () => {
  await world?.stop();
});

/** What went wrong, for an assertion's message. */
function diagnostics(): string {
  return [
    ...world.sfn.executions.map((e) => `${e.name}: ${e.status} ${e.error ?? ''} ${e.cause ?? ''}`),
    ...world.bindings.tasks
      .filter((t) => t.error)
      .map((t) => `${t.machine} › ${t.stateName}: ${t.error}: ${t.cause}`),
    ...world.bindings.asyncFailures,
    ...world.sfn.problems,
    ...world.bindings.containerRuns.map(
      (run) => `container exit ${run.exitCode}: ${run.stderr.slice(-2000)}`,
    ),
  ].join('\n');
}

describe('job workflows from the template, on the bundles (real app)', () => {
  it('a schedule tick → dispatcher → execution → job function → succeeded in the state table', async () => {
    const answer = await tick(dispatcher, 'store_totals');
    expect(answer.planned, dispatcher.logs()).toBeGreaterThan(0);
    expect(answer.started).toHaveLength(1);
    const [started] = answer.started;
    await world.settled();
    const execution = world.sfn.executions.find((candidate) => candidate.name === started!.executionName);
    expect(execution?.status, diagnostics()).toBe('SUCCEEDED');
    const runs = await runsOfExecution(world, 'store_totals', started!.executionName);
    expect(
      runs.map((run) => [run.status, run.attempts]),
      diagnostics(),
    ).toEqual(runs.map(() => ['succeeded', 1]));
    expect(runs).toHaveLength(started!.runs);
    // The last step asked the dispatcher to go on with the job (and waited for its answer).
    expect(
      world.bindings.tasks.filter(
        (task) => task.machine === 'Piko-store_totals' && task.stateName === 'Continue dispatch',
      ),
    ).toHaveLength(1);
    expect(world.bindings.asyncFailures).toEqual([]);
    console.log(
      `tick flow: ${runs.length} runs of store_totals succeeded in execution ${started!.executionName}`,
    );
  });

  it('the Fargate chain of nightly_archive: plan (Lambda) → compress (container) → publish (Lambda)', async () => {
    const answer = await tick(dispatcher, 'nightly_archive');
    expect(answer.started.length, dispatcher.logs()).toBe(1);
    const [started] = answer.started;
    await world.settled();
    const execution = world.sfn.executions.find((candidate) => candidate.name === started!.executionName);
    expect(execution?.status, diagnostics()).toBe('SUCCEEDED');
    const runs = await runsOfExecution(world, 'nightly_archive', started!.executionName);
    expect(
      runs.map((run) => [run.status, run.error]),
      diagnostics(),
    ).toEqual(runs.map(() => ['succeeded', null]));
    // A run that became due while the chain ran is run by the continuation the workflow's last step
    // asks for, in an execution of its own: only this execution's containers are compared here.
    const runIdOf = (environment: Readonly<Record<string, string>>) =>
      (JSON.parse(environment.PIKO_STAGE_EVENT ?? '{}') as { run?: { runId?: number } }).run?.runId;
    const allContainers = world.bindings.containerRuns;
    const containerRunIds = allContainers.map((container) => runIdOf(container.environment));
    expect(new Set(containerRunIds).size, 'a run whose container ran twice').toBe(containerRunIds.length);
    const runIds = new Set(runs.map((run) => run.run_id));
    const containers = allContainers.filter((container) =>
      runIds.has(Number(runIdOf(container.environment))),
    );
    expect(containers).toHaveLength(runs.length);
    expect(
      containers.map((run) => run.exitCode),
      diagnostics(),
    ).toEqual(runs.map(() => 0));
    // Each container read its task's ARN from the task metadata endpoint and recorded it on its run
    // as its stage started (what piko cancel --aws stops); the Lambda stage after it cleared it.
    expect(runs.map((run) => taskArnsAfterCompress.get(run.run_id)).sort()).toEqual(
      containers.map((run) => run.taskArn).sort(),
    );
    for (const run of runs) {
      expect(taskArnsAfterCompress.get(run.run_id)).toMatch(
        /^arn:aws:ecs:eu-west-1:123456789012:task\/Piko-FargateCluster[^/]*\/[0-9a-f]{32}$/,
      );
      expect(run.task_arn).toBeNull();
    }
    console.log(
      `Fargate chain: ${runs.length} runs of nightly_archive, ${containers.length} container tasks exited 0`,
    );
  });

  it('the backfill state machine, started with console-style JSON input and a config override', async () => {
    const backfill = world.machine('Piko--backfill');
    const input = {
      jobId: 'store_totals',
      from: '2026-11-20T00:00:00Z',
      to: '2026-11-20T01:00:00Z',
      config: { currency: 'USD' },
    };
    const execution = world.sfn.startExecution(
      { stateMachineArn: backfill.arn, name: 'console-backfill-1', input: JSON.stringify(input) },
      'console',
    );
    await world.settled();
    expect(execution.status, diagnostics()).toBe('SUCCEEDED');
    const runs = (await runsOf(world, 'store_totals')).filter((run) => run.trigger === 'backfill');
    expect(
      runs.map((run) => run.status),
      diagnostics(),
    ).toEqual(Array.from({ length: 12 }, () => 'succeeded'));
    // The override reached every handler (its result names the currency it ran with).
    expect(runs.map((run) => JSON.parse(run.output ?? 'null')?.currency)).toEqual(runs.map(() => 'USD'));
    const children = world.sfn
      .executionsOf(world.machine('Piko-store_totals').arn)
      .filter((child) => (JSON.parse(child.input) as { lane?: string }).lane === 'backfill');
    expect(children.length).toBeGreaterThan(0);
    console.log(`backfill: 12 runs of store_totals succeeded in ${children.length} batch execution(s)`);
  });

  it('every AWS call these flows made is allowed by the synthesized policies (IAM simulation)', async () => {
    const { calls, checks } = await simulateRecordedCalls(world);
    console.log(
      `IAM simulation of the real-app flows (${calls} calls, ${checks.length} distinct):\n${formatIamTable(checks)}`,
    );
    expect(
      checks
        .filter((check) => !asExpected(check))
        .map((check) => `${check.principal} ${check.action} ${check.resource}: ${check.decision}`),
    ).toEqual([]);
    expect(checks.map((check) => check.action)).toEqual(
      expect.arrayContaining([
        'states:StartExecution',
        'lambda:InvokeFunction',
        'ecs:RunTask',
        'iam:PassRole',
        'rds-db:connect',
      ]),
    );
    expect(world.stack.unexpectedCalls()).toEqual([]);
  });
});
