/**
 * A job above a concurrency of 40, from the artifacts of the fixture app: its template state machine
 * maps in a Distributed Map of Standard children, which the local Step Functions endpoint runs as
 * the local runtime does (the one translation to an inline Map, `shared/local/workflow/inline-map.ts`);
 * a schedule tick plans the last hour's minutes, the bundled dispatcher starts one execution of them
 * all, every run's stage reaches the bundled job function through the IAM proxy, and every interval
 * succeeds once. Each child execution's start is checked against the role's synthesized policies.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { INLINE_MAP_MAX_CONCURRENCY } from '../../shared/workflow/map-mode.ts';
import { WIDE_CATCHUP_MINUTES, WIDE_CONCURRENCY } from './fixtures/jobs/index.ts';
import { deployMigrations, runsOfExecution, simulateRecordedCalls, tick } from './support/flows.ts';
import { asExpected, checkCalls, formatIamTable } from './support/iam-simulation.ts';
import type { LambdaSandbox } from './support/lambda-sandbox.ts';
import { fixtureApp, startWorkflowStack, type WorkflowStack } from './support/workflow-stack.ts';

let world: WorkflowStack;
let dispatcher: LambdaSandbox;

beforeAll(async () => {
  world = await startWorkflowStack({ app: fixtureApp });
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

interface MapState {
  readonly Type: string;
  readonly MaxConcurrency?: number;
  readonly ToleratedFailurePercentage?: number;
  readonly ItemProcessor?: { readonly ProcessorConfig?: unknown };
}

describe('a job at concurrency 60 through the synthesized Distributed Map (fixture app)', () => {
  it('deploys a Distributed Map of Standard children at the job’s concurrency', () => {
    const machine = world.machine('Piko-wide');
    const runs = (JSON.parse(machine.definition) as { States: Record<string, MapState> }).States.Runs;
    expect(runs).toMatchObject({
      Type: 'Map',
      MaxConcurrency: WIDE_CONCURRENCY,
      ToleratedFailurePercentage: 100,
      ItemProcessor: { ProcessorConfig: { Mode: 'DISTRIBUTED', ExecutionType: 'STANDARD' } },
    });
  });

  it('a tick runs every due interval of the last hour at once, each succeeding once', async () => {
    // Arrange, Act
    const answer = await tick(dispatcher, 'wide');
    expect(answer.started, dispatcher.logs()).toHaveLength(1);
    const [started] = answer.started;
    await world.settled();

    // Assert: one execution of every planned interval, all succeeded at their first attempt …
    expect(answer.planned).toBeGreaterThanOrEqual(WIDE_CATCHUP_MINUTES - 1);
    expect(answer.planned).toBeLessThanOrEqual(WIDE_CATCHUP_MINUTES + 1);
    expect(started!.runs).toBe(answer.planned);
    const execution = world.sfn.executions.find((candidate) => candidate.name === started!.executionName);
    expect(execution?.status, diagnostics()).toBe('SUCCEEDED');
    const runs = await runsOfExecution(world, 'wide', started!.executionName);
    expect(runs).toHaveLength(answer.planned);
    expect(
      runs.map((run) => [run.status, run.attempts, run.error]),
      diagnostics(),
    ).toEqual(runs.map(() => ['succeeded', 1, null]));
    // … each interval's stage invoked exactly once (one child execution per run) …
    const stageCalls = world.bindings.tasks.filter(
      (task) => task.machine === 'Piko-wide' && task.stateName === 'Stage main',
    );
    const calledRuns = stageCalls.map((task) => (task.input as { run?: { runId?: number } }).run?.runId);
    expect(new Set(calledRuns).size, 'a run whose stage was invoked twice').toBe(calledRuns.length);
    // The workflow's last step asks the dispatcher to continue: a minute that became due meanwhile
    // runs in an execution of its own, so only this execution's runs are compared here.
    const runIds = new Set(runs.map((run) => run.run_id));
    const calledOfExecution = calledRuns.filter((runId) => runIds.has(Number(runId)));
    expect(calledOfExecution.sort((a, b) => Number(a) - Number(b))).toEqual(runs.map((run) => run.run_id));
    expect(world.bindings.tasks.filter((task) => task.stateName === 'Record failure')).toEqual([]);
    // … its output the handler's own, from a connection of the job's pool.
    for (const run of runs) {
      expect(JSON.parse(run.output ?? 'null')).toEqual({
        minute: new Date(run.interval_start).toISOString(),
        connection: expect.any(Number),
      });
    }
    // More runs than an inline Map could hold at once (the sandbox itself runs one at a time).
    expect(runs.length).toBeGreaterThan(INLINE_MAP_MAX_CONCURRENCY);
    console.log(
      `wide: ${runs.length} intervals in one execution (Distributed Map, MaxConcurrency ${WIDE_CONCURRENCY}), ` +
        `${stageCalls.length} stage invocations, all succeeded at attempt 1`,
    );
  });

  it('its role may start its own child executions, and nothing else (IAM simulation)', async () => {
    const { calls, checks } = await simulateRecordedCalls(world);
    const wide = world.machine('Piko-wide');
    const flaky = world.machine('Piko-flaky');
    const childStarts = world.stack.identities
      .calls()
      .filter((call) => call.action === 'states:StartExecution' && call.principal?.name === wide.name);
    expect(childStarts.length).toBeGreaterThan(INLINE_MAP_MAX_CONCURRENCY);
    expect(childStarts.every((call) => call.resource === wide.arn)).toBe(true);
    const denials = await checkCalls(world.stack.app, world.stack.resolver, [
      {
        principal: wide.name,
        roleLogicalId: wide.roleLogicalId!,
        action: 'states:StartExecution',
        resource: flaky.arn,
        expected: 'Denied',
        source: 'must-deny',
      },
      {
        principal: flaky.name,
        roleLogicalId: flaky.roleLogicalId!,
        action: 'states:StartExecution',
        resource: flaky.arn,
        expected: 'Denied',
        source: 'must-deny',
      },
    ]);
    console.log(
      `IAM simulation of the wide flow (${calls} calls, ${childStarts.length} child starts):\n${formatIamTable([...checks, ...denials])}`,
    );
    expect(
      [...checks, ...denials]
        .filter((check) => !asExpected(check))
        .map((check) => `${check.principal} ${check.action} ${check.resource}: ${check.decision}`),
    ).toEqual([]);
    expect(
      checks.some((check) => check.action === 'states:StartExecution' && check.principal === wide.name),
    ).toBe(true);
    expect(world.stack.unexpectedCalls()).toEqual([]);
  });
});
