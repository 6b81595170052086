import { ArnFormat, Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';
import { jobStateMachineName } from '../../shared/stack/outputs.ts';
import { acknowledgeFinding, arnToken } from '../nag.ts';
import { stateMachineLogGroupName } from '../physical-names.ts';
import { executionArnFinding, executionArnPattern } from './control-function.ts';

/**
 * Batches one execution runs before it hands over to a new execution of itself. Per batch the
 * history grows by about 17 events (the "Next batch" Lambda task 5, two Choices 4, the
 * `startExecution.sync` task 6, the counting Pass 2); 1,000 batches are ~17,000 events, leaving
 * room for retries under the 25,000-event limit. At 500 runs per batch that is 500,000 runs per
 * execution; a larger backfill continues in a new execution with the same input.
 */
export const BACKFILL_BATCHES_PER_EXECUTION = 1_000;

/** Dispatcher errors worth another try (the class names `functions/dispatcher.ts` keeps). */
const TRANSIENT_DISPATCHER_ERRORS = [
  'StoreError',
  'StoreUnavailableError',
  'AwsThrottledError',
  'AwsCallError',
];

/** Props of {@link BackfillWorkflow}. */
export interface BackfillWorkflowProps {
  /** Its state machine's name. */
  readonly stateMachineName: string;
  /** Plans the backfill and hands out its batches. */
  readonly controlFunction: lambda.IFunction;
  /** The control function's timeout: bounds each task that invokes it. */
  readonly controlFunctionTimeout: Duration;
  /** The jobs whose state machines it may start. */
  readonly jobIds: readonly string[];
  /** Job state machines are named `<prefix>-<jobId>`. */
  readonly stateMachinePrefix: string;
  /** Encrypts the log group. @default - CloudWatch Logs' own encryption */
  readonly logKey?: kms.IKey;
}

/**
 * The backfill state machine. Input: `{ jobId, from, to, reprocess, dryRun, reverse, config }` (the
 * dispatcher's `backfill-plan` request; optional fields default there). It plans the backfill (a dry
 * run ends with the plan's summary and writes nothing), then loops: the dispatcher hands out the next
 * batch of the backfill's pending runs, and the batch runs as an execution of the job's state
 * machine (`startExecution.sync:2`), until the dispatcher says the backfill is done. A `downstream`
 * request goes on with each downstream backfill the dispatcher hands over (`following`) once the
 * one before is done, in the same loop; continuing as new starts again with the request, and the
 * dispatcher resumes the chain where it is recorded.
 *
 * The state stays small: the request, the plan summary and a counter; a batch's input (at most
 * `MAX_EXECUTION_INPUT_BYTES`, 128 KiB) is held only until its execution starts, and of the
 * `.sync:2` result (the child's input and output) only the status and run count are kept. See {@link BACKFILL_BATCHES_PER_EXECUTION} for the history.
 */
export class BackfillWorkflow extends Construct {
  readonly stateMachine: sfn.StateMachine;

  constructor(scope: Construct, id: string, props: BackfillWorkflowProps) {
    super(scope, id);
    const stack = Stack.of(this);
    const taskTimeout = sfn.Timeout.duration(props.controlFunctionTimeout.plus(Duration.minutes(1)));
    /** A step that invokes the dispatcher with `payload`; transient dispatcher errors are retried. */
    const dispatcherStep = (name: string, payload: Record<string, unknown>, resultPath: string) =>
      tasks.LambdaInvoke.jsonPath(this, name, {
        lambdaFunction: props.controlFunction,
        payloadResponseOnly: true,
        payload: sfn.TaskInput.fromObject(payload),
        resultPath,
        taskTimeout,
      }).addRetry({
        errors: TRANSIENT_DISPATCHER_ERRORS,
        interval: Duration.seconds(5),
        maxAttempts: 4,
        backoffRate: 2,
        jitterStrategy: sfn.JitterType.FULL,
      });

    // Keeps the request apart from what the loop adds, so continuing as new passes it on unchanged.
    const start = sfn.Pass.jsonPath(this, 'Start', { parameters: { 'request.$': '$', iteration: 0 } });
    const plan = dispatcherStep(
      'Plan backfill',
      { action: 'backfill-plan', request: sfn.JsonPath.objectAt('$.request') },
      '$.plan',
    );
    // The backfill the loop drives: the planned one, then (`--downstream`) each downstream
    // backfill the dispatcher hands over once the one before is done.
    const drive = sfn.Pass.jsonPath(this, 'Drive the backfill', {
      parameters: {
        'jobId.$': '$.plan.jobId',
        'backfillId.$': '$.plan.backfillId',
        'reverse.$': '$.plan.reverse',
      },
      resultPath: '$.current',
    });
    const next = dispatcherStep(
      'Next batch',
      {
        action: 'backfill-next',
        jobId: sfn.JsonPath.stringAt('$.current.jobId'),
        backfillId: sfn.JsonPath.stringAt('$.current.backfillId'),
        reverse: sfn.JsonPath.objectAt('$.current.reverse'),
      },
      '$.next',
    );
    const follow = sfn.Pass.jsonPath(this, 'Drive the downstream backfill', {
      inputPath: '$.next.following',
      resultPath: '$.current',
    });

    const partition = stack.partition;
    const runBatch = new sfn.CustomState(this, 'Run batch', {
      stateJson: {
        Type: 'Task',
        Resource: `arn:${partition}:states:::states:startExecution.sync:2`,
        Parameters: {
          'StateMachineArn.$': '$.next.stateMachineArn',
          'Name.$': '$.next.execution.executionName',
          'Input.$': '$.next.execution',
        },
        // The result carries the child's input (the batch, ≤ MAX_EXECUTION_INPUT_BYTES) and output
        // (a summary): keep only the status and the count; the runs' results are in the state database.
        ResultSelector: { 'status.$': '$.Status', 'runs.$': '$.Output.runs' },
        ResultPath: '$.batch',
      },
    });
    runBatch.addRetry({
      errors: ['StepFunctions.ExecutionLimitExceededException', 'StepFunctions.AWSStepFunctionsException'],
      interval: Duration.seconds(10),
      maxAttempts: 5,
      backoffRate: 2,
      jitterStrategy: sfn.JitterType.FULL,
    });

    const wait = sfn.Wait.jsonPath(this, 'Wait for running batch', {
      time: sfn.WaitTime.secondsPath('$.next.waitSeconds'),
    });
    // Drops the batch from the state and counts the loop.
    const count = sfn.Pass.jsonPath(this, 'Count', {
      parameters: {
        'request.$': '$.request',
        'plan.$': '$.plan',
        'current.$': '$.current',
        'iteration.$': 'States.MathAdd($.iteration, 1)',
      },
    });
    const continueAsNew = new sfn.CustomState(this, 'Continue as new execution', {
      stateJson: {
        Type: 'Task',
        Resource: `arn:${partition}:states:::states:startExecution`,
        Parameters: { 'StateMachineArn.$': '$$.StateMachine.Id', 'Input.$': '$.request' },
        ResultPath: null,
      },
    });
    continueAsNew.addRetry({
      errors: [sfn.Errors.ALL],
      interval: Duration.seconds(5),
      maxAttempts: 3,
      backoffRate: 2,
    });

    const done = sfn.Succeed.jsonPath(this, 'Backfill done', { outputPath: '$.plan' });
    const loop = next.next(
      sfn.Choice.jsonPath(this, 'Done?')
        .when(sfn.Condition.booleanEquals('$.next.done', true), done)
        .when(sfn.Condition.isPresent('$.next.following'), follow.next(count))
        .when(sfn.Condition.isPresent('$.next.execution'), runBatch.next(count))
        .otherwise(wait.next(count)),
    );
    count.next(
      sfn.Choice.jsonPath(this, 'Continue as new?')
        .when(
          sfn.Condition.numberGreaterThanEquals('$.iteration', BACKFILL_BATCHES_PER_EXECUTION),
          continueAsNew.next(sfn.Succeed.jsonPath(this, 'Continued in a new execution')),
        )
        .otherwise(next),
    );
    const definition = start.next(plan).next(
      sfn.Choice.jsonPath(this, 'Dry run?')
        .when(
          sfn.Condition.booleanEquals('$.plan.dryRun', true),
          sfn.Succeed.jsonPath(this, 'Dry run done', { outputPath: '$.plan' }),
        )
        .otherwise(drive.next(loop)),
    );

    const logGroup = new logs.LogGroup(this, 'Logs', {
      logGroupName: stateMachineLogGroupName(props.stateMachineName),
      retention: logs.RetentionDays.ONE_MONTH,
      encryptionKey: props.logKey,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    this.stateMachine = new sfn.StateMachine(this, 'StateMachine', {
      stateMachineName: props.stateMachineName,
      stateMachineType: sfn.StateMachineType.STANDARD,
      queryLanguage: sfn.QueryLanguage.JSON_PATH,
      comment: 'Piko backfill: plan, then run batches until the range is done',
      definitionBody: sfn.DefinitionBody.fromChainable(definition),
      logs: { destination: logGroup, level: sfn.LogLevel.ALL },
      tracingEnabled: true,
    });

    // The job state machines are found by name, like the dispatcher does; the ARN of this state
    // machine is built from its name too (a reference to itself would be a cycle).
    const stateMachineArn = (name: string) =>
      stack.formatArn({
        service: 'states',
        resource: 'stateMachine',
        resourceName: name,
        arnFormat: ArnFormat.COLON_RESOURCE_NAME,
      });
    const jobMachines = props.jobIds.map((jobId) => jobStateMachineName(props.stateMachinePrefix, jobId));
    const role = this.stateMachine.role;
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['states:StartExecution'],
        resources: [...jobMachines, props.stateMachineName].map(stateMachineArn),
      }),
    );
    if (jobMachines.length > 0) {
      role.addToPrincipalPolicy(
        new iam.PolicyStatement({
          actions: ['states:DescribeExecution', 'states:StopExecution'],
          resources: jobMachines.map((name) => executionArnPattern(stack, name)),
        }),
      );
    }
    // startExecution.sync:2 learns that the child ended through this managed EventBridge rule.
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['events:PutTargets', 'events:PutRule', 'events:DescribeRule'],
        resources: [
          stack.formatArn({
            service: 'events',
            resource: 'rule',
            resourceName: 'StepFunctionsGetEventsForStepFunctionsExecutionRule',
          }),
        ],
      }),
    );

    acknowledgeFinding(
      role,
      'AwsSolutions-IAM5',
      `Resource::${arnToken(props.controlFunction)}:*`,
      "lambda:InvokeFunction on the dispatcher and its versions and aliases (`<arn>:*`), as CDK's LambdaInvoke grants it; " +
        'the workflow invokes the unqualified function.',
    );
    acknowledgeFinding(
      role,
      'AwsSolutions-IAM5',
      'Resource::*',
      'Step Functions log delivery (logs:CreateLogDelivery, PutResourcePolicy, …) and X-Ray (PutTraceSegments, …) ' +
        'support no resource-level permissions.',
    );
    for (const name of jobMachines) {
      acknowledgeFinding(
        role,
        'AwsSolutions-IAM5',
        `Resource::${executionArnFinding(name)}`,
        `startExecution.sync describes and, when the backfill is stopped, stops the executions of ${name} it starts; ` +
          'their names come from the batches, unknown when the policy is written.',
      );
    }
  }
}
