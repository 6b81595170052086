import { type Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import type { JobDefinition } from '../../shared/job.ts';
import { jobStateMachineName } from '../../shared/stack/outputs.ts';
import { mapModeOf } from '../../shared/workflow/map-mode.ts';
import { acknowledgeFinding, arnToken } from '../nag.ts';
import { stateMachineLogGroupName, VENDED_LOGS_PREFIX } from '../physical-names.ts';
import type { JobFargate } from './fargate-stages.ts';
import { JobWorkflow } from './job-workflow.ts';
import type { FunctionNetworking, PikoFunction } from './piko-function.ts';

/** Props of {@link JobStateMachines}. */
export interface JobStateMachinesProps {
  readonly jobs: readonly JobDefinition[];
  /** State machines are named `<prefix>-<jobId>`, which the control function relies on. */
  readonly stateMachinePrefix: string;
  /** By job id. */
  readonly functions: ReadonlyMap<string, PikoFunction>;
  /** By job id, for jobs with Fargate stages. */
  readonly fargate: ReadonlyMap<string, JobFargate>;
  /** Invoked after a scheduled batch, to go on with the job. */
  readonly controlFunction: lambda.IFunction;
  /** The control function's timeout ("Continue dispatch" waits for its answer). @default Duration.minutes(5) */
  readonly controlFunctionTimeout?: Duration;
  /** Where Fargate stages run. */
  readonly networking: FunctionNetworking;
  /** Encrypts the log groups. @default - CloudWatch Logs' own encryption */
  readonly logKey?: kms.IKey;
}

export { VENDED_LOGS_PREFIX };

/**
 * The deployed state machines of the jobs: each job's {@link JobWorkflow} (the definition the local
 * runtime renders too), named `<prefix>-<jobId>`, logging every event to an encrypted log group, with
 * X-Ray tracing.
 */
export class JobStateMachines extends Construct {
  /** By job id. */
  readonly byJob: ReadonlyMap<string, sfn.StateMachine>;

  constructor(scope: Construct, id: string, props: JobStateMachinesProps) {
    super(scope, id);
    const machines = new Map<string, sfn.StateMachine>();
    for (const job of props.jobs) {
      const name = jobStateMachineName(props.stateMachinePrefix, job.id);
      const stageFunction = props.functions.get(job.id);
      if (!stageFunction) throw new Error(`JobStateMachines: no function for job "${job.id}"`);
      const fargate = props.fargate.get(job.id);
      const logGroup = new logs.LogGroup(this, `${job.id}-Logs`, {
        logGroupName: stateMachineLogGroupName(name),
        retention: logs.RetentionDays.ONE_MONTH,
        encryptionKey: props.logKey,
        removalPolicy: RemovalPolicy.DESTROY,
      });
      const workflow = new JobWorkflow(this, job.id, {
        job,
        stageFunction: stageFunction.function,
        dispatcherFunction: props.controlFunction,
        dispatcherTimeout: props.controlFunctionTimeout,
        fargate: fargate && {
          cluster: fargate.cluster,
          taskDefinitions: fargate.taskDefinitions,
          containerName: fargate.containerName,
          subnets: props.networking.subnets,
          securityGroups: props.networking.securityGroups,
        },
        logs: { destination: logGroup, level: sfn.LogLevel.ALL },
        tracingEnabled: true,
      });
      // JobWorkflow takes no name; the control function finds the state machine by this one.
      (workflow.stateMachine.node.defaultChild as sfn.CfnStateMachine).stateMachineName = name;

      const role = workflow.stateMachine.role;
      const why = {
        invoke: (what: string) =>
          `lambda:InvokeFunction on ${what} and its versions and aliases (\`<arn>:*\`), as CDK's LambdaInvoke grants it; ` +
          'the workflow invokes the unqualified function.',
        delivery:
          'Step Functions log delivery (logs:CreateLogDelivery, PutResourcePolicy, …) and X-Ray (PutTraceSegments, …) ' +
          'support no resource-level permissions.',
      };
      acknowledgeFinding(
        role,
        'AwsSolutions-IAM5',
        `Resource::${arnToken(stageFunction.function)}:*`,
        why.invoke(`job ${job.id}'s function`),
      );
      acknowledgeFinding(
        role,
        'AwsSolutions-IAM5',
        `Resource::${arnToken(props.controlFunction)}:*`,
        why.invoke('the dispatcher'),
      );
      acknowledgeFinding(
        role,
        'AwsSolutions-IAM5',
        'Resource::*',
        `${why.delivery}${fargate ? ' ecs:StopTask and ecs:DescribeTasks (runTask.sync polls and stops its tasks) take task ARNs unknown before the run.' : ''}`,
      );
      if (mapModeOf(job.concurrency) === 'distributed') acknowledgeDistributedMap(workflow.stateMachine);
      machines.set(job.id, workflow.stateMachine);
    }
    this.byJob = machines;
  }
}

/**
 * The two wildcards of the policy CDK gives a Distributed Map's role (`DistributedMapPolicy`): its
 * child executions and its Map Runs are named by Step Functions at run time, under the state
 * machine's own name.
 */
function acknowledgeDistributedMap(stateMachine: sfn.StateMachine): void {
  const cfn = stateMachine.node.defaultChild as sfn.CfnStateMachine;
  const name = `{"Fn::Select":[6,{"Fn::Split":[":",{"Ref":"${Stack.of(stateMachine).getLogicalId(cfn)}"}]}]}`;
  const executions = `arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:execution:${name}`;
  acknowledgeFinding(
    stateMachine,
    'AwsSolutions-IAM5',
    `Resource::${executions}:*`,
    'A Distributed Map starts, describes and stops child executions of its own state machine ' +
      '(states:DescribeExecution, states:StopExecution), whose names Step Functions picks at run time: ' +
      'the executions of this one state machine, no other.',
  );
  acknowledgeFinding(
    stateMachine,
    'AwsSolutions-IAM5',
    `Resource::${executions}/*:*`,
    'states:RedriveExecution of the Map Runs of this state machine (`execution:<name>/<map run>:<id>`), named ' +
      'by Step Functions at run time; CDK grants it with every Distributed Map.',
  );
}
