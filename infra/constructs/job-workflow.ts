import { Aws, Duration } from 'aws-cdk-lib';
import type * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';
import { NON_RETRYABLE_ERROR_NAMES } from '../../shared/errors.ts';
import { type JobDefinition, MAX_CONCURRENCY } from '../../shared/job.ts';
import { MAX_WAKES } from '../../shared/planner/wake.ts';
import { mapModeOf } from '../../shared/workflow/map-mode.ts';
import { STAGE_EVENT_ENV } from '../../shared/workflow/stage-event.ts';

/** Added to the job's timeout for a Lambda stage's task timeout: the stage runner's own timeout fires first. */
const LAMBDA_TIMEOUT_MARGIN_SECONDS = 60;
/** Added to the job's timeout for a Fargate stage's task timeout: provisioning and image pull come first. */
const FARGATE_TIMEOUT_MARGIN_SECONDS = 600;
/** Task timeout of the bookkeeping task "Record failure". */
const BOOKKEEPING_TIMEOUT_SECONDS = 60;
/** Added to the dispatcher's own timeout for the task timeout of "Continue dispatch". */
const CONTINUE_TIMEOUT_MARGIN_SECONDS = 30;

/**
 * Errors a stage is never retried for, from `shared/errors.ts`: a `NonRetryableError` (of any
 * subclass: the stage runner reports them all under that name), and a stage event the state table
 * refuses (the same event is refused again).
 */
export const NON_RETRYABLE_ERRORS = [...NON_RETRYABLE_ERROR_NAMES];

export { STAGE_EVENT_ENV };

/** A stage as far as the workflow is concerned. */
export type WorkflowStage =
  | { readonly kind: 'lambda'; readonly name: string }
  | { readonly kind: 'fargate'; readonly name: string; readonly cpu: number; readonly memoryMiB: number };

/** The parts of a {@link JobDefinition} that shape its workflow; every JobDefinition fits. */
export type WorkflowJob = Pick<JobDefinition, 'id' | 'concurrency' | 'retry' | 'timeoutMs'> & {
  readonly stages: readonly WorkflowStage[];
};

export interface JobWorkflowProps {
  /** The job (a {@link JobDefinition}; only id, concurrency, retry, timeout and stages are read). */
  readonly job: WorkflowJob;
  /** The job's Lambda: runs its lambda stages and records failures. */
  readonly stageFunction: lambda.IFunction;
  /**
   * Invoked (synchronously) after a scheduled batch so the backlog drains; its answer's `wakeAt`
   * makes the execution wait for the job's requeued runs and ask again.
   */
  readonly dispatcherFunction: lambda.IFunction;
  /** The dispatcher's timeout: "Continue dispatch" waits that long for its answer. @default Duration.minutes(5) */
  readonly dispatcherTimeout?: Duration;
  /** Needed when the job has fargate stages. */
  readonly fargate?: {
    readonly cluster: ecs.ICluster;
    /** One task definition per fargate stage, by stage name. */
    readonly taskDefinitions: Readonly<Record<string, ecs.FargateTaskDefinition>>;
    /** The container (in every task definition) that runs the stage. */
    readonly containerName: string;
    readonly subnets?: ec2.SubnetSelection;
    readonly securityGroups?: ec2.ISecurityGroup[];
  };
  /** @default undefined (no logging) */
  readonly logs?: sfn.LogOptions;
  /** @default false */
  readonly tracingEnabled?: boolean;
}

/**
 * The Step Functions (Standard) workflow of one job: a Map over a batch of runs, each run going
 * through the job's stages in order (DESIGN.md §5). JSONPath only, so the same definition runs
 * locally in aws-local-stepfunctions.
 *
 * Per run, the success path is exactly one Task state per stage: the stage runner records success
 * itself, and a stage's failure (after its retries) goes to "Record failure". The Map never fails.
 *
 * Up to a concurrency of 40 the Map is inline; above, a Distributed Map whose iterations are
 * Standard child executions (`ProcessorConfig { Mode: DISTRIBUTED, ExecutionType: STANDARD }`) with
 * the same item processor, so the Retry and Catch of each run are the same states. Standard, not
 * Express: exactly-once like the inline iterations, `.sync` Fargate stages allowed, no five-minute
 * cap under a job's timeout and retries (docs/aws.md, "Concurrency above 40"). Every child failure
 * is tolerated (`ToleratedFailurePercentage: 100`): a child that fails outside its Catch leaves its
 * run to the dispatcher's repair, as a failed inline iteration does, instead of failing the Map Run
 * and stopping every other run of the batch. CDK grants the role what a Distributed Map needs:
 * `states:StartExecution` on the state machine itself, `states:DescribeExecution` and
 * `states:StopExecution` on its executions (and `states:RedriveExecution` on its Map Runs').
 */
export class JobWorkflow extends Construct {
  readonly stateMachine: sfn.StateMachine;

  constructor(scope: Construct, id: string, props: JobWorkflowProps) {
    super(scope, id);
    const { job } = props;
    if (!Number.isInteger(job.concurrency) || job.concurrency < 1 || job.concurrency > MAX_CONCURRENCY) {
      throw new Error(
        `Job "${job.id}": concurrency ${job.concurrency} must be an integer from 1 to ${MAX_CONCURRENCY}, the most a Distributed Map state runs at once`,
      );
    }
    if (job.stages.length === 0) throw new Error(`Job "${job.id}" has no stages`);

    // What every stage event says about its run: which run, and who asks (the execution that holds
    // it, in its generation). The stage runner reads the rest from the state store.
    const runRef = {
      jobId: sfn.JsonPath.stringAt('$.jobId'),
      executionName: sfn.JsonPath.stringAt('$.executionName'),
      runId: sfn.JsonPath.numberAt('$.run.runId'),
      generation: sfn.JsonPath.numberAt('$.run.generation'),
    };
    const recordFailure = tasks.LambdaInvoke.jsonPath(this, 'Record failure', {
      lambdaFunction: props.stageFunction,
      payloadResponseOnly: true,
      payload: sfn.TaskInput.fromObject({
        action: 'fail',
        run: runRef,
        error: sfn.JsonPath.objectAt('$.error'),
      }),
      resultPath: sfn.JsonPath.DISCARD,
      outputPath: '$.run.runId',
      retryOnServiceExceptions: false,
      taskTimeout: sfn.Timeout.duration(Duration.seconds(BOOKKEEPING_TIMEOUT_SECONDS)),
    });
    // A refused event (another owner's run) is refused again: never retried, nothing is written.
    recordFailure.addRetry({ errors: NON_RETRYABLE_ERRORS, maxAttempts: 0 });
    recordFailure.addRetry({
      errors: [sfn.Errors.ALL],
      interval: Duration.seconds(2),
      maxAttempts: 3,
      backoffRate: 2,
      jitterStrategy: sfn.JitterType.FULL,
    });
    // If even the failure cannot be recorded, end the iteration anyway: a failed iteration would fail
    // the Map and every other run of the batch. The run stays `running` until the planner recovers it.
    recordFailure.addCatch(sfn.Pass.jsonPath(this, 'Failure not recorded', { outputPath: '$.run.runId' }), {
      errors: [sfn.Errors.ALL],
      resultPath: '$.recordError',
    });

    let chain: sfn.Chain | undefined;
    job.stages.forEach((stage, index) => {
      const lastStage = index === job.stages.length - 1;
      const common = { action: 'run', stage: stage.name, stageIndex: index, lastStage };
      // Every stage's result is discarded: its output is in the state store, where the next stage
      // reads it (one rule for Lambda and Fargate stages). The last stage ends the iteration with
      // only the run id, so the Map's collected results (counted against the payload limit before
      // they are discarded) stay tiny.
      const ending = lastStage ? { outputPath: '$.run.runId' } : {};
      const timeoutSeconds = Math.ceil(job.timeoutMs / 1000);

      let task: tasks.LambdaInvoke | tasks.EcsRunTask;
      if (stage.kind === 'lambda') {
        task = tasks.LambdaInvoke.jsonPath(this, `Stage ${stage.name}`, {
          lambdaFunction: props.stageFunction,
          payloadResponseOnly: true,
          payload: sfn.TaskInput.fromObject({ ...common, run: runRef }),
          resultPath: sfn.JsonPath.DISCARD,
          ...ending,
          retryOnServiceExceptions: false,
          taskTimeout: sfn.Timeout.duration(Duration.seconds(timeoutSeconds + LAMBDA_TIMEOUT_MARGIN_SECONDS)),
        });
      } else {
        const fargate = props.fargate;
        const taskDefinition = fargate?.taskDefinitions[stage.name];
        if (!fargate || !taskDefinition) {
          throw new Error(
            `Job "${job.id}": stage "${stage.name}" runs on Fargate; give props.fargate with a task definition for it`,
          );
        }
        const container = taskDefinition.findContainer(fargate.containerName);
        if (!container) {
          throw new Error(
            `Job "${job.id}": the task definition of stage "${stage.name}" has no container named "${fargate.containerName}"`,
          );
        }
        task = tasks.EcsRunTask.jsonPath(this, `Stage ${stage.name}`, {
          integrationPattern: sfn.IntegrationPattern.RUN_JOB,
          cluster: fargate.cluster,
          taskDefinition,
          launchTarget: new tasks.EcsFargateLaunchTarget({
            platformVersion: ecs.FargatePlatformVersion.LATEST,
          }),
          subnets: fargate.subnets,
          securityGroups: fargate.securityGroups,
          containerOverrides: [
            {
              containerDefinition: container,
              environment: [{ name: STAGE_EVENT_ENV, value: stageEventExpression(common) }],
            },
          ],
          resultPath: sfn.JsonPath.DISCARD,
          ...ending,
          taskTimeout: sfn.Timeout.duration(
            Duration.seconds(timeoutSeconds + FARGATE_TIMEOUT_MARGIN_SECONDS),
          ),
        });
      }
      task.addRetry({ errors: NON_RETRYABLE_ERRORS, maxAttempts: 0 });
      const { attempts, backoffMs, rate, maxBackoffMs } = job.retry;
      if (attempts > 1) {
        task.addRetry({
          errors: [sfn.Errors.ALL],
          interval: Duration.seconds(Math.max(1, Math.round(backoffMs / 1000))),
          maxAttempts: attempts - 1,
          backoffRate: rate,
          maxDelay: Duration.seconds(Math.max(1, Math.round(maxBackoffMs / 1000))),
          jitterStrategy: sfn.JitterType.FULL,
        });
      }
      task.addCatch(recordFailure, { errors: [sfn.Errors.ALL], resultPath: '$.error' });
      chain = chain ? chain.next(task) : sfn.Chain.start(task);
    });

    const mapProps = {
      itemsPath: '$.runs',
      itemSelector: {
        jobId: sfn.JsonPath.stringAt('$.jobId'),
        executionName: sfn.JsonPath.stringAt('$.executionName'),
        run: sfn.JsonPath.objectAt('$$.Map.Item.Value'),
      },
      maxConcurrency: job.concurrency,
      resultPath: sfn.JsonPath.DISCARD,
    };
    // The same item processor either way: only the Map's mode and its Map Run settings differ (the
    // local runtime runs a Distributed Map as this inline one, shared/local/workflow/inline-map.ts).
    const runs =
      mapModeOf(job.concurrency) === 'inline'
        ? sfn.Map.jsonPath(this, 'Runs', mapProps).itemProcessor(chain!)
        : sfn.DistributedMap.jsonPath(this, 'Runs', {
            ...mapProps,
            mapExecutionType: sfn.StateMachineType.STANDARD,
            toleratedFailurePercentage: 100,
          }).itemProcessor(chain!);

    // The last step of a scheduled batch asks the dispatcher to go on with the job, and waits for its
    // answer: when a run of the job was requeued with a delay (its store connection was lost) and
    // nothing else would dispatch it sooner, the answer's `wakeAt` says when it is due, and the
    // execution waits until then and asks again. On AWS nothing else wakes at a requeued run's
    // `notBefore` before the job's next tick (a day, for a daily job); the local runtime answers no
    // `wakeAt` (it has its own timer), so locally this ends at once. Bounded: each wait is at most
    // MAX_WAKE_WAIT_MS (the dispatcher caps `wakeAt`), and at most MAX_WAKES rounds.
    const continueDispatch = (id: string) => {
      const task = tasks.LambdaInvoke.jsonPath(this, id, {
        lambdaFunction: props.dispatcherFunction,
        payloadResponseOnly: true,
        payload: sfn.TaskInput.fromObject({
          action: 'continue',
          jobId: sfn.JsonPath.stringAt('$.jobId'),
          // At this step its Map is over: runs it still holds were never recorded (see ContinueEvent).
          executionName: sfn.JsonPath.stringAt('$.executionName'),
        }),
        resultPath: '$.continued',
        retryOnServiceExceptions: false,
        taskTimeout: sfn.Timeout.duration(
          Duration.seconds(
            (props.dispatcherTimeout ?? Duration.minutes(5)).toSeconds() + CONTINUE_TIMEOUT_MARGIN_SECONDS,
          ),
        ),
      });
      task.addRetry({
        errors: [sfn.Errors.ALL],
        interval: Duration.seconds(2),
        maxAttempts: 2,
        backoffRate: 2,
        jitterStrategy: sfn.JitterType.FULL,
      });
      return task;
    };
    // The execution's output: a summary, never the batch. A backfill's `startExecution.sync:2` gets
    // the child's output back next to its input, and both count against the 256 KiB state limit.
    // `wakes` counts the rounds of waiting for requeued runs.
    const summary = sfn.Pass.jsonPath(this, 'Summary', {
      parameters: {
        jobId: sfn.JsonPath.stringAt('$.jobId'),
        executionName: sfn.JsonPath.stringAt('$.executionName'),
        lane: sfn.JsonPath.stringAt('$.lane'),
        runs: sfn.JsonPath.arrayLength(sfn.JsonPath.listAt('$.runs')),
        wakes: 0,
      },
    });
    const continued = sfn.Succeed.jsonPath(this, 'Dispatch continued');
    // The dispatcher out of reach even after the retries: the job's next tick goes on instead, as
    // when the asynchronous invocation of earlier versions failed. The batch itself is done.
    const notContinued = sfn.Succeed.jsonPath(this, 'Dispatch not continued');
    const firstContinue = continueDispatch('Continue dispatch');
    const againContinue = continueDispatch('Continue dispatch again');
    firstContinue.addCatch(notContinued, { errors: [sfn.Errors.ALL], resultPath: '$.continueError' });
    againContinue.addCatch(notContinued, { errors: [sfn.Errors.ALL], resultPath: '$.continueError' });
    const countWake = sfn.Pass.jsonPath(this, 'Count wake', {
      parameters: {
        jobId: sfn.JsonPath.stringAt('$.jobId'),
        executionName: sfn.JsonPath.stringAt('$.executionName'),
        lane: sfn.JsonPath.stringAt('$.lane'),
        runs: sfn.JsonPath.numberAt('$.runs'),
        wakes: sfn.JsonPath.mathAdd(sfn.JsonPath.numberAt('$.wakes'), 1),
        wakeAt: sfn.JsonPath.stringAt('$.continued.wakeAt'),
      },
    });
    const waitForRequeued = sfn.Wait.jsonPath(this, 'Wait for requeued runs', {
      time: sfn.WaitTime.timestampPath('$.wakeAt'),
    });
    const wake = sfn.Choice.jsonPath(this, 'Wake?')
      .when(
        sfn.Condition.and(
          sfn.Condition.isPresent('$.continued.wakeAt'),
          sfn.Condition.isTimestamp('$.continued.wakeAt'),
          sfn.Condition.numberLessThan('$.wakes', MAX_WAKES),
        ),
        countWake.next(waitForRequeued).next(againContinue),
      )
      .otherwise(continued);
    firstContinue.next(wake);
    againContinue.next(wake);
    const definition = runs
      .next(summary)
      .next(
        sfn.Choice.jsonPath(this, 'Scheduled?')
          .when(sfn.Condition.stringEquals('$.lane', 'scheduled'), firstContinue)
          .otherwise(sfn.Succeed.jsonPath(this, 'Done')),
      );

    this.stateMachine = new sfn.StateMachine(this, 'StateMachine', {
      stateMachineType: sfn.StateMachineType.STANDARD,
      queryLanguage: sfn.QueryLanguage.JSON_PATH,
      comment: `Piko job ${job.id}`,
      definitionBody: sfn.DefinitionBody.fromChainable(definition),
      logs: props.logs,
      tracingEnabled: props.tracingEnabled ?? false,
    });
  }
}

/**
 * `PIKO_STAGE_EVENT`: the stage's payload as JSON text, built without an extra state, as small as
 * the Lambda payload (RunTask overrides allow 8,192 characters in all). `States.JsonToString` takes a
 * single path, so the constant fields go into a `States.Format` template (literal braces escaped as
 * `\{` `\}`) and each field of the run is a nested `States.JsonToString` (quoted and escaped as JSON).
 */
function stageEventExpression(common: {
  action: string;
  stage: string;
  stageIndex: number;
  lastStage: boolean;
}): string {
  const head = JSON.stringify(common).slice(1, -1);
  const fields = ['jobId', 'executionName', 'runId', 'generation'];
  const paths: Record<string, string> = {
    jobId: '$.jobId',
    executionName: '$.executionName',
    runId: '$.run.runId',
    generation: '$.run.generation',
  };
  const template = fields.map((field) => `"${field}":{}`).join(',');
  const args = fields.map((field) => sfn.JsonPath.jsonToString(sfn.JsonPath.objectAt(paths[field]!)));
  return sfn.JsonPath.format(`\\{${head},"run":\\{${template}\\}\\}`, ...args);
}

/**
 * The task definition family of a job's Fargate stage: `<stack name>-<jobId>-<stage>`. Families are
 * account-wide and RunTask by family runs the family's newest revision, so the family carries the
 * stack's name. By default that name is the `AWS::StackName` pseudo parameter, so the state machine
 * definition is the same text in every stack (and in the local render); pass a literal stack name
 * to get the name as deployed (its length is checked at synth, `infra/physical-names.ts`).
 */
export function stageTaskFamily(
  jobId: string,
  stageName: string,
  stackName: string = Aws.STACK_NAME,
): string {
  return `${stackName}-${jobId}-${stageName}`;
}
