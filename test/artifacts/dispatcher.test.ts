/**
 * The dispatcher, from the artifact: the bundled handler in a Lambda-like sandbox on Node 24, with
 * the template's environment, through the IAM proxy to the TLS-only MariaDB, its Step Functions calls
 * going to a local endpoint. Driven by what really sends it events: the EventBridge schedule's input
 * as the template has it, and the `--aws` CLI run as a child process against a local AWS endpoint
 * (CloudFormation outputs, Lambda Invoke, Scheduler). Then every AWS call it made, and the calls it
 * must never be able to make, through the IAM simulation of the synthesized policies.
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../infra/bundling.ts';
import { type ArtifactStack, startArtifactStack } from './support/artifact-stack.ts';
import { TEST_REGION } from './support/cfn-resolver.ts';
import { type CliAwsEndpoint, startCliAwsEndpoint } from './support/cli-aws-endpoint.ts';
import { asExpected, checkCalls, formatIamTable, type IamCheck } from './support/iam-simulation.ts';
import type { LambdaSandbox } from './support/lambda-sandbox.ts';
import type { RecordingSfnEndpoint } from './support/recording-sfn-endpoint.ts';
import type { LambdaArtifact } from './support/synth.ts';

const JOB = 'store_totals';

let stack: ArtifactStack<RecordingSfnEndpoint>;
let dispatcher: LambdaSandbox;
let aws: CliAwsEndpoint;

beforeAll(async () => {
  stack = (await startArtifactStack()) as ArtifactStack<RecordingSfnEndpoint>;
  const migrate = await stack.openFunction('Migrations/Handler');
  const [migrations] = stack.app.resourcesOfType('Custom::PikoMigrations');
  // The template's properties: the schema, then the users every function connects as.
  await migrate.invokeOk({
    RequestType: 'Create',
    ResourceProperties: stack.resolver.resolve(migrations![1].Properties),
  });
  dispatcher = await stack.openFunction('Dispatcher');
  aws = await startCliAwsEndpoint({
    app: stack.app,
    resolver: stack.resolver,
    invoke: async (functionName, payload) =>
      functionName === dispatcher.functionName
        ? dispatcher.invoke(payload)
        : {
            ok: false,
            error: {
              errorType: 'ResourceNotFoundException',
              errorMessage: `Function not found: ${functionName}`,
            },
          },
  });
}, 240_000);

afterAll(async () => {
  await aws?.close();
  await stack?.stop();
});

/** The schedule's `Target.Input` for a job, exactly as the template has it. */
function scheduleInput(jobId: string): unknown {
  for (const [, resource] of stack.app.resourcesOfType('AWS::Scheduler::Schedule')) {
    const target = resource.Properties?.Target as { Input?: string } | undefined;
    const input = JSON.parse(target?.Input ?? 'null') as { jobId?: string } | null;
    if (input?.jobId === jobId) return input;
  }
  throw new Error(`no schedule of ${jobId} in the template`);
}

interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** `npx piko <args> --aws`: the CLI as a child process, its AWS calls to the local endpoint. */
async function piko(...args: string[]): Promise<CliResult> {
  try {
    const { stdout, stderr } = await promisify(execFile)(
      process.execPath,
      [path.join(PROJECT_ROOT, 'bin', 'piko.mjs'), ...args, '--aws', '--region', TEST_REGION],
      {
        cwd: PROJECT_ROOT,
        timeout: 120_000,
        env: {
          PATH: process.env.PATH,
          HOME: process.env.HOME,
          AWS_ENDPOINT_URL: aws.url,
          AWS_ACCESS_KEY_ID: 'AKIAPIKOCLITEST00000',
          AWS_SECRET_ACCESS_KEY: 'cli-test-secret',
          NODE_NO_WARNINGS: '1',
        },
      },
    );
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code?: number; stdout?: string; stderr?: string };
    return {
      code: typeof failed.code === 'number' ? failed.code : -1,
      stdout: failed.stdout ?? '',
      stderr: failed.stderr ?? '',
    };
  }
}

/** A job's operator actions, newest first. */
function actionsOf(jobId: string) {
  return stack.query<{ kind: string; target: string; actor: string; reason: string | null }[]>(
    'SELECT kind, target, actor, reason FROM piko_actions WHERE job_id = ? ORDER BY action_id DESC',
    [jobId],
  );
}

/** The ARN of the stack's ECS cluster (the Fargate stages'). */
function stackClusterArn(): string {
  const [cluster] = stack.app.resourcesOfType('AWS::ECS::Cluster');
  if (!cluster) throw new Error('the template has no AWS::ECS::Cluster');
  return stack.resolver.getAtt(cluster[0], 'Arn');
}

async function runsOf(jobId: string) {
  return stack.query<{ status: string; execution_name: string | null; trigger_kind: string }[]>(
    'SELECT status, execution_name, trigger_kind FROM piko_runs WHERE job_id = ? ORDER BY interval_start',
    [jobId],
  );
}

describe('dispatcher (bundle in a Lambda sandbox; schedule ticks and the --aws CLI)', () => {
  it('a schedule tick with the template’s input plans the due intervals and starts one execution of the job’s state machine', async () => {
    const input = scheduleInput(JOB);
    expect(input).toEqual({ jobId: JOB });
    const response = (await dispatcher.invokeOk(input)) as {
      planned: number;
      started: { executionName: string; runs: number }[];
    };
    expect(response.planned).toBeGreaterThan(0);
    const runs = await runsOf(JOB);
    expect(runs).toHaveLength(response.planned);
    expect(new Set(runs.map((run) => `${run.status} ${run.trigger_kind}`))).toEqual(
      new Set(['queued schedule']),
    );
    const [started] = response.started;
    expect(response.started).toHaveLength(1);
    expect(runs.every((run) => run.execution_name === started!.executionName)).toBe(true);
    const [execution] = stack.sfn.executions();
    expect(execution).toMatchObject({
      stateMachineArn: `arn:aws:states:eu-west-1:123456789012:stateMachine:Piko-${JOB}`,
      name: started!.executionName,
      status: 'RUNNING',
    });
    expect((execution!.input as { runs: unknown[] }).runs).toHaveLength(started!.runs);
  });

  it('piko status --aws reads the state table through the dispatcher', async () => {
    const result = await piko('status', JOB, '--json');
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const line = JSON.parse(result.stdout.trim()) as { jobId: string; paused: boolean; queued: number };
    expect(line).toMatchObject({ jobId: JOB, paused: false, queued: (await runsOf(JOB)).length });
  });

  it('piko pause --aws pauses the job in the state table and disables its schedule; a tick then plans nothing', async () => {
    const result = await piko('pause', JOB, '--reason', 'db maintenance');
    expect(result.stderr).toBe('');
    expect(result.stdout.trim().split('\n')).toEqual([
      `schedule Piko/${JOB}: ENABLED → DISABLED`,
      `${JOB} paused`,
    ]);
    // Recorded by the bundled dispatcher, with who and why.
    expect(
      await stack.query(
        "SELECT kind, target, reason, actor LIKE '%@%' AS named FROM piko_actions WHERE kind = 'pause' AND target = ?",
        [JOB],
      ),
    ).toEqual([{ kind: 'pause', target: JOB, reason: 'db maintenance', named: 1 }]);
    expect(aws.scheduleState('Piko', JOB)).toBe('DISABLED');
    expect(await stack.query('SELECT paused FROM piko_jobs WHERE job_id = ?', [JOB])).toEqual([
      { paused: 1 },
    ]);
    const before = stack.sfn.executions().length;
    const tick = (await dispatcher.invokeOk(scheduleInput(JOB))) as { paused: boolean; planned: number };
    expect(tick).toMatchObject({ paused: true, planned: 0 });
    expect(stack.sfn.executions()).toHaveLength(before);
  });

  it('piko resume --aws resumes it and enables its schedule', async () => {
    const result = await piko('resume', JOB);
    expect(result.stderr).toBe('');
    expect(result.stdout.trim().split('\n')).toEqual([
      `schedule Piko/${JOB}: DISABLED → ENABLED`,
      `${JOB} resumed`,
    ]);
    expect(aws.scheduleState('Piko', JOB)).toBe('ENABLED');
    expect(await stack.query('SELECT paused FROM piko_jobs WHERE job_id = ?', [JOB])).toEqual([
      { paused: 0 },
    ]);
  });

  it('piko dispatch --aws sees the live execution (DescribeExecution), and requeues runs once it has ended and restarts them after their delay', async () => {
    // Arrange: the bundle plans from the wall clock, and a 5-minute interval of the job ending while
    // this test runs would start a batch of its own: the watermark moves to the schedule's next tick
    // (at most 5 minutes ahead, within the clock-skew tolerance), so nothing new is due meanwhile.
    const nextTick = new Date(Math.ceil(Date.now() / 300_000) * 300_000);
    await stack.query('UPDATE piko_jobs SET watermark = ? WHERE job_id = ?', [
      nextTick.toISOString().replace('T', ' ').replace('Z', ''),
      JOB,
    ]);
    const [first] = stack.sfn.executions();
    const live = await piko('dispatch', JOB, '--json');
    expect(live.stderr).toBe('');
    expect(JSON.parse(live.stdout)).toMatchObject({ jobId: JOB, started: [], live: [first!.name] });

    // The execution ends without running its runs (as if it failed before the Map): the runs go back.
    stack.sfn.finish(first!.executionArn, 'FAILED');
    const repaired = await piko('dispatch', JOB, '--json');
    const answer = JSON.parse(repaired.stdout) as { requeued: number; started: { runs: number }[] };
    expect(answer.requeued).toBeGreaterThan(0);
    // Requeued runs wait out their delay (a lost execution never loops hot): nothing starts yet.
    expect(answer.started).toHaveLength(0);
    const delayed = await stack.query<{ requeues: number; waiting: number }[]>(
      "SELECT requeues, not_before > NOW(3) AS waiting FROM piko_runs WHERE job_id = ? AND status = 'pending'",
      [JOB],
    );
    expect(delayed.length).toBe(answer.requeued);
    for (const run of delayed) expect(run).toEqual({ requeues: 1, waiting: 1 });

    // Once the delay is over (moved into the past here rather than waited for), they start again.
    await stack.query('UPDATE piko_runs SET not_before = NOW(3) - INTERVAL 1 SECOND WHERE job_id = ?', [JOB]);
    const restarted = await piko('dispatch', JOB, '--json');
    expect((JSON.parse(restarted.stdout) as { started: unknown[] }).started).toHaveLength(1);
    expect(stack.sfn.executions().length).toBeGreaterThanOrEqual(2);
  });

  it('piko dispatch --aws of an unknown job is refused by the dispatcher with its error class (exit 2)', async () => {
    const result = await piko('dispatch', 'no_such_job');
    expect(result.code).toBe(2);
    expect(result.stderr.trim()).toBe(
      'error: The dispatcher refused "dispatch" of job "no_such_job": UnknownJobError: Unknown job "no_such_job". Known jobs: nightly_archive, price_fanout, store_totals.',
    );
  });

  it('piko cancel --aws of a run on its Fargate stage cancels it with who and why, and stops its ECS task', async () => {
    // Arrange: a run of nightly_archive on its Fargate stage, in a task of the stack's cluster, as
    // its container recorded it (workflows.test.ts runs the container that does).
    const clusterArn = stackClusterArn();
    const taskArn = `${clusterArn.replace(':cluster/', ':task/')}/0123456789abcdef0123456789abcdef`;
    await stack.query(
      'INSERT INTO piko_runs (job_id, interval_start, interval_end, status, trigger_kind, stage, attempts, generation, ' +
        "execution_name, created_at, updated_at, started_at, task_arn) VALUES ('nightly_archive', ?, ?, 'running', 'schedule', " +
        "'compress', 1, 0, 'nightly_archive-s20261120T030000Z-0123456789abcdef', NOW(3), NOW(3), NOW(3), ?)",
      ['2026-11-20 03:00:00.000', '2026-11-20 04:00:00.000', taskArn],
    );
    const [{ run_id: runId }] = await stack.query<{ run_id: number }[]>(
      "SELECT run_id FROM piko_runs WHERE job_id = 'nightly_archive'",
    );

    // Act
    const result = await piko(
      'cancel',
      'nightly_archive',
      '--interval',
      '2026-11-20T03:00:00Z',
      '--reason',
      'bad input',
    );

    // Assert
    expect(result.stderr).toBe('');
    expect(result.stdout.trim().split('\n')).toEqual([
      'nightly_archive: cancelled 1 run(s) (1 running: stopping its handler)',
      `    2026-11-20T03:00:00.000Z → 2026-11-20T04:00:00.000Z (run ${runId} was running)`,
      `  stopped ECS task ${taskArn}`,
    ]);
    expect(await stack.query("SELECT status FROM piko_runs WHERE job_id = 'nightly_archive'")).toEqual([
      { status: 'cancelled' },
    ]);
    const [action] = await actionsOf('nightly_archive');
    expect(action).toMatchObject({
      kind: 'cancel',
      target: '2026-11-20T03:00:00.000Z/2026-11-20T03:00:00.001Z',
      reason: 'bad input',
    });
    expect(action!.actor).toMatch(/^.+@.+$/);
    expect(stack.ecs.stopped()).toEqual([
      {
        cluster: clusterArn,
        task: taskArn,
        reason: `Cancelled by ${action!.actor}: bad input`,
        accessKeyId: stack.principalOf(stack.lambda('Dispatcher')).credentials.accessKeyId,
      },
    ]);
  });

  it('piko mark --aws marks the range in the state table as the local path does, with who and why', async () => {
    const result = await piko(
      'mark',
      'price_fanout',
      '--from',
      '2026-11-20T00:00:00Z',
      '--to',
      '2026-11-20T00:05:00Z',
      '--as',
      'skipped',
      '--reason',
      'holiday',
    );

    expect(result.stderr).toBe('');
    expect(result.stdout.trim()).toBe(
      'price_fanout: 5 interval(s); create 5 run(s) and set 0 run(s) skipped; 0 already skipped or succeeded, unchanged',
    );
    expect(
      await stack.query(
        "SELECT status, COUNT(*) AS runs FROM piko_runs WHERE job_id = 'price_fanout' GROUP BY status",
      ),
    ).toEqual([{ status: 'skipped', runs: 5 }]);
    const [action] = await actionsOf('price_fanout');
    expect(action).toMatchObject({
      kind: 'mark',
      target: '2026-11-20T00:00:00.000Z/2026-11-20T00:05:00.000Z',
      reason: 'holiday',
    });
    expect(action!.actor).toMatch(/^.+@.+$/);

    // piko ui --aws reads it back with `history` (the dispatcher's database user may read the record).
    const history = (await dispatcher.invokeOk({ action: 'history', jobId: 'price_fanout', limit: 5 })) as {
      actions: { kind: string; target: string; reason: string; at: string }[];
      alerts: unknown[];
    };
    expect(history.actions[0]).toMatchObject({ kind: 'mark', target: action!.target, reason: 'holiday' });
    expect(Date.parse(history.actions[0]!.at)).not.toBeNaN();
    expect(history.alerts).toEqual([]);
  });

  it('piko backfill pause, resume and cancel --aws change the backfill in the state table, each recorded with who and why', async () => {
    // Arrange: a backfill as the backfill state machine's first step plans it.
    const plan = (await dispatcher.invokeOk({
      action: 'backfill-plan',
      request: { jobId: 'price_fanout', from: '2026-11-21T00:00:00Z', to: '2026-11-21T00:10:00Z' },
    })) as { backfillId: string; planned: boolean; counts: { create: number } };
    expect(plan).toMatchObject({ planned: true, counts: { create: 10 } });
    const id = plan.backfillId;
    const statusOf = async () =>
      (
        await stack.query<{ status: string }[]>('SELECT status FROM piko_backfills WHERE backfill_id = ?', [
          id,
        ])
      )[0]?.status;

    // Act & Assert: pause, resume (of a paused one: nothing to start again), cancel.
    const pause = await piko('backfill', 'pause', id, '--reason', 'db maintenance');
    expect(pause.stderr).toBe('');
    expect(pause.stdout.trim()).toBe(
      `backfill ${id} paused: none of its runs starts until it is resumed; running runs finish`,
    );
    expect(await statusOf()).toBe('paused');

    const resume = await piko('backfill', 'resume', id, '--reason', 'maintenance over');
    expect(resume.stderr).toBe('');
    expect(resume.stdout.trim()).toBe(`backfill ${id} resumed`);
    expect(await statusOf()).toBe('planning');

    const cancel = await piko('backfill', 'cancel', id, '--reason', 'wrong range');
    expect(cancel.stderr).toBe('');
    expect(cancel.stdout.trim()).toBe(
      `backfill ${id} cancelled: 10 pending or queued run(s) cancelled; running runs finish`,
    );
    expect(await statusOf()).toBe('cancelled');
    expect(
      await stack.query(
        'SELECT status, COUNT(*) AS runs FROM piko_runs WHERE backfill_id = ? GROUP BY status',
        [id],
      ),
    ).toEqual([{ status: 'cancelled', runs: 10 }]);
    const actions = (await actionsOf('price_fanout')).filter((action) => action.target === id);
    expect(actions.map(({ kind, reason }) => ({ kind, reason }))).toEqual([
      { kind: 'backfill-cancel', reason: 'wrong range' },
      { kind: 'backfill-resume', reason: 'maintenance over' },
      { kind: 'backfill-pause', reason: 'db maintenance' },
    ]);
    for (const action of actions) expect(action.actor).toMatch(/^.+@.+$/);
  });

  it('IAM: every call the artifacts made is allowed by the synthesized policies; the calls that must be denied are', async () => {
    const fn = (prefix: string) => stack.lambda(prefix);
    const dispatcherFn = fn('Dispatcher');
    const storeTotals = fn(`JobFunctions/${JOB}`);
    const migrationsFn = fn('Migrations/Handler');
    const proxyArn = stack.proxy.dbUserArn('piko_admin');
    const recorded = stack.identities.calls();
    expect(recorded.map((call) => call.principal?.name)).not.toContain(undefined);
    const distinct = new Map(
      recorded.map((call) => [`${call.principal!.name} ${call.action} ${call.resource}`, call]),
    );
    const [machine] = stack.app
      .resourcesOfType('AWS::StepFunctions::StateMachine')
      .filter(([id]) => id.includes('nightlyarchive'));
    const roleArn = machine?.[1].Properties?.RoleArn as { 'Fn::GetAtt'?: [string] } | undefined;
    const machineRole = roleArn?.['Fn::GetAtt']?.[0];
    if (!machineRole) throw new Error('the nightly_archive state machine has no role of this stack');
    const [taskDefinition] = stack.app.resourcesOfType('AWS::ECS::TaskDefinition');
    const ownTaskDefinition = stack.resolver.ref(taskDefinition![0]);
    const otherStack = (arn: string) => arn.replace(/(stateMachine:|task-definition\/)[^-:]+/i, '$1Other');
    const ownCluster = stackClusterArn();
    const otherCluster = ownCluster.replace(/cluster\/.+$/, 'cluster/Other-FargateCluster');
    const taskIn = (cluster: string) =>
      `${cluster.replace(':cluster/', ':task/')}/fedcba9876543210fedcba9876543210`;
    const ownClusterTask = taskIn(ownCluster);
    const otherClusterTask = taskIn(otherCluster);

    const checks: IamCheck[] = await checkCalls(stack.app, stack.resolver, [
      ...[...distinct.values()].map((call) => ({
        principal: call.principal!.name,
        roleLogicalId: call.principal!.roleLogicalId,
        action: call.action,
        resource: call.resource,
        ...(call.context ? { context: call.context } : {}),
        expected: 'Allowed' as const,
        source: 'recorded' as const,
      })),
      // ecs:StopTask: the tasks of the stack's cluster only, by their ARN and by ecs:cluster.
      ...[
        { resource: otherClusterTask, context: { 'ecs:cluster': otherCluster } },
        { resource: ownClusterTask, context: { 'ecs:cluster': otherCluster } },
        { resource: otherClusterTask, context: { 'ecs:cluster': ownCluster } },
      ].map((request) => ({
        principal: dispatcherFn.logicalId,
        roleLogicalId: dispatcherFn.roleLogicalId,
        action: 'ecs:StopTask',
        ...request,
        expected: 'Denied' as const,
        source: 'must-deny' as const,
      })),
      ...[storeTotals, migrationsFn].map((artifact) => ({
        principal: artifact.logicalId,
        roleLogicalId: artifact.roleLogicalId,
        action: 'ecs:StopTask',
        resource: ownClusterTask,
        context: { 'ecs:cluster': ownCluster },
        expected: 'Denied' as const,
        source: 'must-deny' as const,
      })),
      {
        principal: dispatcherFn.logicalId,
        roleLogicalId: dispatcherFn.roleLogicalId,
        action: 'ecs:StopTask',
        resource: ownClusterTask,
        context: { 'ecs:cluster': ownCluster },
        expected: 'Allowed',
        source: 'control',
      },
      ...[
        {
          principal: dispatcherFn.logicalId,
          roleLogicalId: dispatcherFn.roleLogicalId,
          action: 'states:StartExecution',
          resource: otherStack(`arn:aws:states:eu-west-1:123456789012:stateMachine:Piko-${JOB}`),
        },
        {
          principal: dispatcherFn.logicalId,
          roleLogicalId: dispatcherFn.roleLogicalId,
          action: 'states:StartExecution',
          resource: 'arn:aws:states:eu-west-1:123456789012:stateMachine:Piko--backfill',
        },
        {
          principal: storeTotals.logicalId,
          roleLogicalId: storeTotals.roleLogicalId,
          action: 'states:StartExecution',
          resource: 'arn:aws:states:eu-west-1:123456789012:stateMachine:Piko-price_fanout',
        },
        {
          principal: dispatcherFn.logicalId,
          roleLogicalId: dispatcherFn.roleLogicalId,
          action: 'rds-db:connect',
          resource: proxyArn.replace(/\/piko_admin$/, '/root'),
        },
        {
          principal: dispatcherFn.logicalId,
          roleLogicalId: dispatcherFn.roleLogicalId,
          action: 'rds-db:connect',
          resource: proxyArn.replace(/dbuser:prx-[0-9a-f]+/, 'dbuser:prx-0ther0000000000000'),
        },
        // Each function may connect as its own database user only.
        ...[
          [dispatcherFn, 'piko_admin'],
          [dispatcherFn, `piko_job_${JOB}`],
          [storeTotals, 'piko_admin'],
          [storeTotals, 'piko_dispatcher'],
          [storeTotals, 'piko_job_price_fanout'],
          [migrationsFn, 'piko_dispatcher'],
          [migrationsFn, `piko_job_${JOB}`],
        ].map(([artifact, user]) => ({
          principal: (artifact as LambdaArtifact).logicalId,
          roleLogicalId: (artifact as LambdaArtifact).roleLogicalId,
          action: 'rds-db:connect',
          resource: stack.proxy.dbUserArn(user as string),
        })),
        {
          principal: dispatcherFn.logicalId,
          roleLogicalId: dispatcherFn.roleLogicalId,
          action: 'lambda:InvokeFunction',
          resource: stack.resolver.getAtt(storeTotals.logicalId, 'Arn'),
        },
        {
          principal: machineRole,
          roleLogicalId: machineRole,
          action: 'ecs:RunTask',
          resource: otherStack(ownTaskDefinition),
        },
      ].map((request) => ({ ...request, expected: 'Denied' as const, source: 'must-deny' as const })),
      {
        principal: machineRole,
        roleLogicalId: machineRole,
        action: 'ecs:RunTask',
        resource: ownTaskDefinition,
        expected: 'Allowed',
        source: 'control',
      },
      ...(
        [
          [dispatcherFn, 'piko_dispatcher'],
          [storeTotals, `piko_job_${JOB}`],
          [migrationsFn, 'piko_admin'],
        ] as const
      ).map(([artifact, user]) => ({
        principal: artifact.logicalId,
        roleLogicalId: artifact.roleLogicalId,
        action: 'rds-db:connect',
        resource: stack.proxy.dbUserArn(user),
        expected: 'Allowed' as const,
        source: 'control' as const,
      })),
    ]);
    console.log(`IAM simulation of the dispatcher flows:\n${formatIamTable(checks)}`);
    expect(
      checks
        .filter((check) => check.source === 'recorded')
        .map((check) => check.action)
        .sort(),
    ).toEqual(
      expect.arrayContaining([
        'ecs:StopTask',
        'rds-db:connect',
        'states:DescribeExecution',
        'states:StartExecution',
      ]),
    );
    expect(checks.filter((check) => !asExpected(check))).toEqual([]);
    // And no call went to a service the tier does not stand in for.
    expect(stack.unexpectedCalls()).toEqual([]);
  });
});
