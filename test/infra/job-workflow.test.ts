import { createRequire } from 'node:module';
import { App, Duration, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { beforeAll, describe, expect, it } from 'vitest';
import { JobWorkflow, stageTaskFamily, type WorkflowJob } from '../../infra/constructs/job-workflow.ts';
import { defineJob, fargate, lambda as lambdaStage } from '../../shared/job.ts';
import {
  RENDER_CONTAINER_NAME,
  RENDER_STAGE_IMAGE,
  renderJobWorkflow,
} from '../../shared/local/workflow/render.ts';
import { MAX_WAKE_WAIT_MS, MAX_WAKES } from '../../shared/planner/wake.ts';
import { definitionToAsl } from '../../shared/workflow/asl-tokens.ts';

const aslValidator = createRequire(import.meta.url)('asl-validator') as (
  definition: unknown,
  options?: { checkPaths?: boolean; checkArn?: boolean },
) => { isValid: boolean; errorsText: (separator?: string) => string };

const noop = async () => null;

/** What every stage event says about its run, in the Parameters of a Lambda stage. */
const RUN_REF = {
  'jobId.$': '$.jobId',
  'executionName.$': '$.executionName',
  'runId.$': '$.run.runId',
  'generation.$': '$.run.generation',
};

const singleStageJob = defineJob({
  id: 'daily_sales',
  schedule: { cron: '0 2 * * *' },
  concurrency: 10,
  retry: { attempts: 3, backoff: '30s', rate: 2, maxBackoff: '10m' },
  timeout: '5m',
  handler: noop,
});

const threeStageJob: WorkflowJob = {
  id: 'heavy',
  concurrency: 4,
  retry: { attempts: 4, backoffMs: 1_400, rate: 1.5, maxBackoffMs: 60_000 },
  timeoutMs: 120_000,
  stages: [
    lambdaStage('extract', noop),
    fargate('crunch', { cpu: 2048, memoryMiB: 4096 }, noop),
    lambdaStage('load', noop),
  ],
};

interface AslState {
  Type: string;
  Resource?: string;
  Parameters?: Record<string, unknown>;
  Retry?: Record<string, unknown>[];
  Catch?: Record<string, unknown>[];
  Next?: string;
  End?: boolean;
  ResultPath?: string | null;
  OutputPath?: string;
  TimeoutSeconds?: number;
  [key: string]: unknown;
}
interface Asl {
  StartAt: string;
  States: Record<
    string,
    AslState & { ItemProcessor?: { StartAt: string; States: Record<string, AslState> } }
  >;
}

/** A stack as a deployment would build it: real functions, a real cluster and task definitions. */
function buildStack(
  job: WorkflowJob,
  stackName: string,
  dispatcherTimeout?: Duration,
): { stack: Stack; template: Template } {
  const stack = new Stack(
    new App({ context: { 'aws:cdk:bundling-stacks': [] }, builtinCloudFormationValidation: false }),
    stackName,
  );
  const code = lambda.Code.fromInline('exports.handler = async () => ({ output: null });');
  const stageFunction = new lambda.Function(stack, 'StageFn', {
    runtime: lambda.Runtime.NODEJS_24_X,
    handler: 'index.handler',
    code,
  });
  const dispatcherFunction = new lambda.Function(stack, 'DispatcherFn', {
    runtime: lambda.Runtime.NODEJS_24_X,
    handler: 'index.handler',
    code,
  });
  const fargateStages = job.stages.filter((stage) => stage.kind === 'fargate');
  let fargateProps: ConstructorParameters<typeof JobWorkflow>[2]['fargate'];
  if (fargateStages.length > 0) {
    const cluster = new ecs.Cluster(stack, 'Cluster');
    const taskDefinitions: Record<string, ecs.FargateTaskDefinition> = {};
    for (const stage of fargateStages) {
      const taskDefinition = new ecs.FargateTaskDefinition(stack, `Task-${stage.name}`, {
        family: stageTaskFamily(job.id, stage.name),
        cpu: stage.cpu,
        memoryLimitMiB: stage.memoryMiB,
      });
      taskDefinition.addContainer(RENDER_CONTAINER_NAME, {
        image: ecs.ContainerImage.fromRegistry(RENDER_STAGE_IMAGE),
      });
      taskDefinitions[stage.name] = taskDefinition;
    }
    fargateProps = { cluster, taskDefinitions, containerName: RENDER_CONTAINER_NAME };
  }
  new JobWorkflow(stack, 'Workflow', {
    job,
    stageFunction,
    dispatcherFunction,
    dispatcherTimeout,
    fargate: fargateProps,
    tracingEnabled: true,
  });
  return { stack, template: Template.fromStack(stack) };
}

/** The template's state machine definition as runnable ASL, with the types of the template's resources. */
function aslOf(template: Template): string {
  const resources = template.toJSON().Resources as Record<
    string,
    { Type: string; Properties?: Record<string, unknown> }
  >;
  const [machine] = Object.values(resources).filter(
    (resource) => resource.Type === 'AWS::StepFunctions::StateMachine',
  );
  return definitionToAsl(machine?.Properties?.DefinitionString, (logicalId) => {
    const resource = resources[logicalId];
    if (!resource) throw new Error(`no resource ${logicalId}`);
    return resource.Type;
  });
}

describe('JobWorkflow', () => {
  let single: { template: Template; asl: string; definition: Asl };
  let threeStage: { template: Template; asl: string; definition: Asl };

  beforeAll(() => {
    const one = buildStack(singleStageJob, 'SingleStage');
    const three = buildStack(threeStageJob, 'ThreeStage');
    single = {
      template: one.template,
      asl: aslOf(one.template),
      definition: JSON.parse(aslOf(one.template)),
    };
    threeStage = {
      template: three.template,
      asl: aslOf(three.template),
      definition: JSON.parse(aslOf(three.template)),
    };
  });

  it('is a Standard state machine with tracing as asked', () => {
    single.template.resourceCountIs('AWS::StepFunctions::StateMachine', 1);
    single.template.hasResourceProperties('AWS::StepFunctions::StateMachine', {
      StateMachineType: 'STANDARD',
      TracingConfiguration: { Enabled: true },
      DefinitionString: Match.objectLike({ 'Fn::Join': Match.anyValue() }),
    });
    single.template.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: Match.objectLike({
        Statement: Match.arrayWith([Match.objectLike({ Action: 'lambda:InvokeFunction' })]),
      }),
    });
  });

  it('maps over $.runs with the job concurrency, discarding the results', () => {
    const runs = single.definition.States.Runs;
    expect(single.definition.StartAt).toBe('Runs');
    expect(runs).toMatchObject({
      Type: 'Map',
      ItemsPath: '$.runs',
      ItemSelector: {
        'jobId.$': '$.jobId',
        'executionName.$': '$.executionName',
        'run.$': '$$.Map.Item.Value',
      },
      MaxConcurrency: 10,
      ResultPath: null,
      Next: 'Summary',
    });
    // The execution ends with a summary, never its input (a backfill's startExecution.sync:2 gets it back).
    expect(single.definition.States.Summary).toEqual({
      Type: 'Pass',
      Parameters: {
        'jobId.$': '$.jobId',
        'executionName.$': '$.executionName',
        'lane.$': '$.lane',
        'runs.$': 'States.ArrayLength($.runs)',
        wakes: 0,
      },
      Next: 'Scheduled?',
    });
    expect(threeStage.definition.States.Runs.MaxConcurrency).toBe(4);
  });

  it('runs a single-stage job as exactly one Task state on the success path', () => {
    const processor = single.definition.States.Runs.ItemProcessor!;
    expect(processor.StartAt).toBe('Stage main');
    const stage = processor.States['Stage main']!;
    expect(stage).toMatchObject({
      Type: 'Task',
      End: true,
      Resource: 'arn:aws:lambda:us-east-1:000000000000:function:piko-1',
      Parameters: {
        action: 'run',
        stage: 'main',
        stageIndex: 0,
        lastStage: true,
        run: RUN_REF,
      },
      ResultPath: null,
      OutputPath: '$.run.runId',
      TimeoutSeconds: 300 + 60,
    });
    expect(stage.Next).toBeUndefined();
    expect(Object.keys(processor.States).sort()).toEqual([
      'Failure not recorded',
      'Record failure',
      'Stage main',
    ]);
  });

  it('retries with the job policy, never a NonRetryableError, then catches into "Record failure"', () => {
    const stage = single.definition.States.Runs.ItemProcessor!.States['Stage main']!;
    expect(stage.Retry).toEqual([
      { ErrorEquals: ['NonRetryableError', 'StageEventRefusedError'], MaxAttempts: 0 },
      {
        ErrorEquals: ['States.ALL'],
        IntervalSeconds: 30,
        MaxAttempts: 2,
        BackoffRate: 2,
        MaxDelaySeconds: 600,
        JitterStrategy: 'FULL',
      },
    ]);
    expect(stage.Catch).toEqual([
      { ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: 'Record failure' },
    ]);
    const record = single.definition.States.Runs.ItemProcessor!.States['Record failure']!;
    expect(record).toMatchObject({
      Type: 'Task',
      End: true,
      Resource: 'arn:aws:lambda:us-east-1:000000000000:function:piko-1',
      Parameters: { action: 'fail', run: RUN_REF, 'error.$': '$.error' },
    });
    expect(record.Retry).toEqual([
      // A refused event is refused again: never retried, nothing written.
      { ErrorEquals: ['NonRetryableError', 'StageEventRefusedError'], MaxAttempts: 0 },
      {
        ErrorEquals: ['States.ALL'],
        IntervalSeconds: 2,
        MaxAttempts: 3,
        BackoffRate: 2,
        JitterStrategy: 'FULL',
      },
    ]);
    // Even when the failure cannot be recorded, the iteration ends: the Map itself never fails.
    expect(record.Catch).toEqual([
      { ErrorEquals: ['States.ALL'], ResultPath: '$.recordError', Next: 'Failure not recorded' },
    ]);
  });

  it('rounds the backoff to whole seconds, at least 1', () => {
    const stage = threeStage.definition.States.Runs.ItemProcessor!.States['Stage extract']!;
    expect(stage.Retry?.[1]).toEqual({
      ErrorEquals: ['States.ALL'],
      IntervalSeconds: 1,
      MaxAttempts: 3,
      BackoffRate: 1.5,
      MaxDelaySeconds: 60,
      JitterStrategy: 'FULL',
    });
  });

  it('omits the States.ALL retrier when the job has one attempt', () => {
    const stack = new Stack();
    const fn = lambda.Function.fromFunctionArn(
      stack,
      'Fn',
      'arn:aws:lambda:us-east-1:000000000000:function:f',
    );
    const workflow = new JobWorkflow(stack, 'Workflow', {
      job: {
        ...threeStageJob,
        stages: [lambdaStage('only', noop)],
        retry: { ...threeStageJob.retry, attempts: 1 },
      },
      stageFunction: fn,
      dispatcherFunction: fn,
    });
    const resolved = stack.resolve(
      (workflow.stateMachine.node.defaultChild as sfn.CfnStateMachine).definitionString,
    );
    const definition = JSON.parse(definitionToAsl(resolved, () => 'AWS::Lambda::Function')) as Asl;
    expect(definition.States.Runs.ItemProcessor!.States['Stage only']!.Retry).toEqual([
      { ErrorEquals: ['NonRetryableError', 'StageEventRefusedError'], MaxAttempts: 0 },
    ]);
  });

  it('refuses a concurrency above 10,000, and a Fargate stage without a task definition', () => {
    const stack = new Stack();
    const fn = lambda.Function.fromFunctionArn(
      stack,
      'Fn',
      'arn:aws:lambda:us-east-1:000000000000:function:f',
    );
    expect(
      () =>
        new JobWorkflow(stack, 'TooWide', {
          job: { ...threeStageJob, concurrency: 10_001 },
          stageFunction: fn,
          dispatcherFunction: fn,
        }),
    ).toThrow(
      'Job "heavy": concurrency 10001 must be an integer from 1 to 10000, the most a Distributed Map state runs at once',
    );
    expect(
      () =>
        new JobWorkflow(stack, 'NoFargate', {
          job: threeStageJob,
          stageFunction: fn,
          dispatcherFunction: fn,
        }),
    ).toThrow(/stage "crunch" runs on Fargate/);
  });

  it('chains lambda, Fargate (runTask.sync with the event in the environment) and lambda stages', () => {
    const states = threeStage.definition.States.Runs.ItemProcessor!.States;
    expect(threeStage.definition.States.Runs.ItemProcessor!.StartAt).toBe('Stage extract');
    expect(states['Stage extract']).toMatchObject({
      Next: 'Stage crunch',
      ResultPath: null,
      Parameters: { action: 'run', stage: 'extract', stageIndex: 0, lastStage: false, run: RUN_REF },
    });
    expect(states['Stage extract']!.Parameters).not.toHaveProperty('input');
    const crunch = states['Stage crunch']!;
    expect(crunch).toMatchObject({
      Type: 'Task',
      Next: 'Stage load',
      Resource: 'arn:aws:states:::ecs:runTask.sync',
      ResultPath: null,
      TimeoutSeconds: 120 + 600,
      Parameters: {
        Cluster: 'arn:aws:ecs:us-east-1:000000000000:cluster:piko-1',
        TaskDefinition: 'piko-heavy-crunch',
        LaunchType: 'FARGATE',
        Overrides: {
          ContainerOverrides: [
            {
              Name: 'stage',
              Environment: [
                {
                  Name: 'PIKO_STAGE_EVENT',
                  'Value.$':
                    'States.Format(\'\\{"action":"run","stage":"crunch","stageIndex":1,"lastStage":false,"run":\\{"jobId":{},"executionName":{},"runId":{},"generation":{}\\}\\}\', ' +
                    'States.JsonToString($.jobId), States.JsonToString($.executionName), States.JsonToString($.run.runId), States.JsonToString($.run.generation))',
                },
              ],
            },
          ],
        },
      },
    });
    expect(crunch.Retry?.[0]).toEqual({
      ErrorEquals: ['NonRetryableError', 'StageEventRefusedError'],
      MaxAttempts: 0,
    });
    expect(crunch.Catch).toEqual([
      { ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: 'Record failure' },
    ]);
    expect(states['Stage load']).toMatchObject({
      End: true,
      Parameters: {
        action: 'run',
        stage: 'load',
        stageIndex: 2,
        lastStage: true,
        run: RUN_REF,
      },
    });
  });

  it('asks the dispatcher to go on after a scheduled batch only, and waits for its answer', () => {
    const states = single.definition.States;
    expect(states['Scheduled?']).toEqual({
      Type: 'Choice',
      Choices: [{ Variable: '$.lane', StringEquals: 'scheduled', Next: 'Continue dispatch' }],
      Default: 'Done',
    });
    const continueTask = {
      Type: 'Task',
      // A function ARN as Resource: a synchronous invocation whose result is the dispatcher's answer.
      Resource: 'arn:aws:lambda:us-east-1:000000000000:function:piko-2',
      Parameters: { action: 'continue', 'jobId.$': '$.jobId', 'executionName.$': '$.executionName' },
      ResultPath: '$.continued',
      // The dispatcher's 5 minutes (the default) and a margin.
      TimeoutSeconds: 330,
      Retry: [
        {
          ErrorEquals: ['States.ALL'],
          IntervalSeconds: 2,
          MaxAttempts: 2,
          BackoffRate: 2,
          JitterStrategy: 'FULL',
        },
      ],
      // An unreachable dispatcher never fails the batch: the next tick goes on.
      Catch: [{ ErrorEquals: ['States.ALL'], ResultPath: '$.continueError', Next: 'Dispatch not continued' }],
      Next: 'Wake?',
    };
    expect(states['Continue dispatch']).toEqual(continueTask);
    expect(states['Continue dispatch again']).toEqual(continueTask);
    expect(states.Done).toEqual({ Type: 'Succeed' });
    expect(states['Dispatch continued']).toEqual({ Type: 'Succeed' });
    expect(states['Dispatch not continued']).toEqual({ Type: 'Succeed' });
  });

  it('waits until the answer’s wakeAt and asks again, at most MAX_WAKES times (requeued runs on AWS)', () => {
    const states = single.definition.States;
    expect(states['Wake?']).toEqual({
      Type: 'Choice',
      Choices: [
        {
          And: [
            { Variable: '$.continued.wakeAt', IsPresent: true },
            { Variable: '$.continued.wakeAt', IsTimestamp: true },
            { Variable: '$.wakes', NumericLessThan: MAX_WAKES },
          ],
          Next: 'Count wake',
        },
      ],
      Default: 'Dispatch continued',
    });
    expect(states['Count wake']).toEqual({
      Type: 'Pass',
      Parameters: {
        'jobId.$': '$.jobId',
        'executionName.$': '$.executionName',
        'lane.$': '$.lane',
        'runs.$': '$.runs',
        'wakes.$': 'States.MathAdd($.wakes, 1)',
        'wakeAt.$': '$.continued.wakeAt',
      },
      Next: 'Wait for requeued runs',
    });
    expect(states['Wait for requeued runs']).toEqual({
      Type: 'Wait',
      TimestampPath: '$.wakeAt',
      Next: 'Continue dispatch again',
    });
    // Bounded: at most MAX_WAKES waits of at most MAX_WAKE_WAIT_MS each, far within a Standard
    // execution's year and 25,000 events (about 5 events a round).
    expect(MAX_WAKES * MAX_WAKE_WAIT_MS).toBeLessThanOrEqual(2 * 86_400_000);
    expect(MAX_WAKES * 5).toBeLessThan(25_000);
  });

  it('waits as long as the stack’s dispatcher may take for the answer of "Continue dispatch"', () => {
    const { template } = buildStack(singleStageJob, 'LongDispatcher', Duration.minutes(15));
    const definition = JSON.parse(aslOf(template)) as Asl;
    expect(definition.States['Continue dispatch']?.TimeoutSeconds).toBe(15 * 60 + 30);
  });

  it('uses JSONPath only', () => {
    for (const { asl } of [single, threeStage]) {
      expect(asl).not.toMatch(/JSONata|"Assign"|"Arguments"|"Output"/);
    }
  });

  it('passes asl-validator', () => {
    for (const { definition } of [single, threeStage]) {
      const result = aslValidator(definition, { checkPaths: true, checkArn: true });
      expect(result.errorsText('\n')).toBe('');
      expect(result.isValid).toBe(true);
    }
  });

  it('renders locally to exactly the ASL of the deployed definition', async () => {
    expect(await renderJobWorkflow(singleStageJob)).toBe(single.asl);
    expect(await renderJobWorkflow(threeStageJob)).toBe(threeStage.asl);
  });
});

describe('JobWorkflow above a concurrency of 40 (Distributed Map)', () => {
  const wideJob = { ...singleStageJob, id: 'wide', concurrency: 5_000 };
  /** The same job at the widest inline concurrency: what the distributed definition must equal otherwise. */
  const inlineJob = { ...wideJob, concurrency: 40 };
  let wide: { stack: Stack; template: Template; asl: string; definition: Asl };
  let inline: Asl;
  let wideThreeStage: Asl;

  beforeAll(() => {
    const built = buildStack(wideJob, 'Wide');
    const asl = aslOf(built.template);
    wide = { ...built, asl, definition: JSON.parse(asl) };
    inline = JSON.parse(aslOf(buildStack(inlineJob, 'Inline').template));
    wideThreeStage = JSON.parse(
      aslOf(buildStack({ ...threeStageJob, concurrency: 41 }, 'WideThree').template),
    );
  });

  it('maps in a Distributed Map of Standard children, tolerating every child failure', () => {
    const { ItemProcessor, ...runs } = wide.definition.States.Runs;
    expect(runs).toEqual({
      Type: 'Map',
      ItemsPath: '$.runs',
      ItemSelector: {
        'jobId.$': '$.jobId',
        'executionName.$': '$.executionName',
        'run.$': '$$.Map.Item.Value',
      },
      MaxConcurrency: 5_000,
      ToleratedFailurePercentage: 100,
      ResultPath: null,
      Next: 'Summary',
    });
    expect(ItemProcessor).toMatchObject({
      ProcessorConfig: { Mode: 'DISTRIBUTED', ExecutionType: 'STANDARD' },
    });
    // A Fargate stage (runTask.sync) needs Standard children too.
    expect(wideThreeStage.States.Runs.ItemProcessor).toMatchObject({
      ProcessorConfig: { Mode: 'DISTRIBUTED', ExecutionType: 'STANDARD' },
    });
  });

  it('is otherwise the inline definition: the same item processor, Retry and Catch of every run', () => {
    const { Runs: wideRuns, ...wideRest } = wide.definition.States;
    const { Runs: inlineRuns, ...inlineRest } = inline.States;
    expect(wideRest).toEqual(inlineRest);
    expect(wide.definition.StartAt).toBe(inline.StartAt);
    const { ProcessorConfig: wideConfig, ...wideProcessor } = wideRuns.ItemProcessor as Record<
      string,
      unknown
    >;
    const { ProcessorConfig: inlineConfig, ...inlineProcessor } = inlineRuns.ItemProcessor as Record<
      string,
      unknown
    >;
    expect(wideProcessor).toEqual(inlineProcessor);
    expect([wideConfig, inlineConfig]).toEqual([
      { Mode: 'DISTRIBUTED', ExecutionType: 'STANDARD' },
      { Mode: 'INLINE' },
    ]);
  });

  it('switches at 41: 40 is the widest inline Map', () => {
    expect(inline.States.Runs.ItemProcessor).toMatchObject({ ProcessorConfig: { Mode: 'INLINE' } });
    expect(inline.States.Runs.MaxConcurrency).toBe(40);
    expect(inline.States.Runs).not.toHaveProperty('ToleratedFailurePercentage');
  });

  it('lets its role start its own child executions and describe and stop them, nothing more', () => {
    const machineId = Object.entries(
      wide.template.toJSON().Resources as Record<string, { Type: string }>,
    ).find(([, resource]) => resource.Type === 'AWS::StepFunctions::StateMachine')?.[0];
    const executions = {
      'Fn::Join': [
        '',
        [
          'arn:',
          { Ref: 'AWS::Partition' },
          ':states:',
          { Ref: 'AWS::Region' },
          ':',
          { Ref: 'AWS::AccountId' },
          ':execution:',
          { 'Fn::Select': [6, { 'Fn::Split': [':', { Ref: machineId }] }] },
          Match.anyValue(),
        ],
      ],
    };
    wide.template.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: [
          { Action: 'states:StartExecution', Effect: 'Allow', Resource: { Ref: machineId } },
          {
            Action: ['states:DescribeExecution', 'states:StopExecution'],
            Effect: 'Allow',
            Resource: executions,
          },
          { Action: 'states:RedriveExecution', Effect: 'Allow', Resource: executions },
        ],
      },
    });
    const inlinePolicies = Template.fromStack(buildStack(inlineJob, 'InlinePolicies').stack).findResources(
      'AWS::IAM::Policy',
      {
        Properties: {
          PolicyDocument: {
            Statement: Match.arrayWith([Match.objectLike({ Action: 'states:StartExecution' })]),
          },
        },
      },
    );
    expect(inlinePolicies).toEqual({});
  });

  it('passes asl-validator and renders locally to exactly the deployed definition', async () => {
    const result = aslValidator(wide.definition, { checkPaths: true, checkArn: true });
    expect(result.errorsText('\n')).toBe('');
    expect(result.isValid).toBe(true);
    expect(await renderJobWorkflow(wideJob)).toBe(wide.asl);
  });
});
