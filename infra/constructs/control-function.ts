import { ArnFormat, Duration, Stack } from 'aws-cdk-lib';
import type * as ecs from 'aws-cdk-lib/aws-ecs';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import { Construct } from 'constructs';
import { DISPATCHER_DATABASE_USER } from '../../shared/stack/database-users.ts';
import {
  ENV_ECS_CLUSTER,
  ENV_MYSQL_DSN,
  ENV_MYSQL_IAM_AUTH,
  ENV_STACK_NAME,
} from '../../shared/stack/env.ts';
import { jobStateMachineName } from '../../shared/stack/outputs.ts';
import { LAMBDA_ENTRIES } from '../bundling.ts';
import { acknowledgeFinding, refToken } from '../nag.ts';
import { type FunctionNetworking, PikoFunction, type PikoFunctionProps } from './piko-function.ts';
import type { StateDatabase } from './state-database.ts';

/**
 * The control function's code and bundling (also what `bench/dispatcher-cold.ts` bundles). It opens the
 * state store with `ssl: true`, so mysql2's RDS CA certificates stay out of its bundle; and it logs
 * error messages, not stacks, so Node does not parse its source map on every cold start (measured:
 * about 70 ms of CPU); the map still ships with the code.
 */
export const CONTROL_FUNCTION = {
  entry: LAMBDA_ENTRIES.control,
  description: 'Piko dispatcher: plans due intervals and starts job workflows',
  rdsCaBundle: false,
  // It imports the jobs for their schedules, never runs their stages: no object store, no S3 SDK.
  objectStoreSdk: false,
  sourceMapStackTraces: false,
} as const satisfies Partial<PikoFunctionProps>;

/** Props of {@link ControlFunction}. */
export interface ControlFunctionProps {
  readonly database: StateDatabase;
  readonly networking: FunctionNetworking;
  /** The jobs whose state machines it starts and describes. */
  readonly jobIds: readonly string[];
  /** Job state machines are named `<prefix>-<jobId>`; the stack's name. */
  readonly stateMachinePrefix: string;
  /** Planning stops 30 s before this, to answer in time. @default Duration.minutes(5) */
  readonly timeout?: Duration;
  /** MiB; more memory is more CPU for planning. @default 1024 */
  readonly memorySize?: number;
  /** Encrypts the log group. @default - CloudWatch Logs' own encryption */
  readonly logKey?: kms.IKey;
}

/**
 * The control function: the Lambda of the control plane (`shared/control/`), the dispatcher
 * `functions/dispatcher.ts`. It plans through RDS Proxy with an IAM token and starts the job
 * workflows. It finds them by name (`<prefix>-<jobId>` in its own partition, region and account)
 * rather than by reference, because the workflows reference it (to continue).
 */
export class ControlFunction extends Construct {
  /** The Lambda function: what schedules, workflows and alarms point at. */
  readonly function: NodejsFunction;
  /** Its execution role. */
  readonly role: iam.Role;

  constructor(scope: Construct, id: string, props: ControlFunctionProps) {
    super(scope, id);
    const { function: fn, role } = new PikoFunction(this, 'Function', {
      ...CONTROL_FUNCTION,
      timeout: props.timeout ?? Duration.minutes(5),
      memorySize: props.memorySize ?? 1024,
      networking: props.networking,
      logKey: props.logKey,
      environment: {
        [ENV_MYSQL_DSN]: props.database.dsnFor(DISPATCHER_DATABASE_USER),
        [ENV_MYSQL_IAM_AUTH]: 'true',
        [ENV_STACK_NAME]: props.stateMachinePrefix,
      },
    });
    this.function = fn;
    this.role = role;
    props.database.grantConnect(role, DISPATCHER_DATABASE_USER);
    if (props.jobIds.length === 0) return;

    const stack = Stack.of(this);
    const names = props.jobIds.map((jobId) => jobStateMachineName(props.stateMachinePrefix, jobId));
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['states:StartExecution'],
        resources: names.map((name) =>
          stack.formatArn({
            service: 'states',
            resource: 'stateMachine',
            resourceName: name,
            arnFormat: ArnFormat.COLON_RESOURCE_NAME,
          }),
        ),
      }),
    );
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['states:DescribeExecution'],
        resources: names.map((name) => executionArnPattern(stack, name)),
      }),
    );
    for (const name of names) {
      acknowledgeFinding(
        role,
        'AwsSolutions-IAM5',
        `Resource::${executionArnFinding(name)}`,
        `states:DescribeExecution on the executions of state machine ${name} only: execution names are ` +
          'derived from the runs they carry, so they are not known when the policy is written.',
      );
    }
  }

  /**
   * Lets the dispatcher stop the tasks of the stack's Fargate stages (`piko cancel --aws` of a run on
   * a Fargate stage): `ecs:StopTask` on the tasks of `cluster` only, by their ARNs and by the
   * `ecs:cluster` condition, and `PIKO_AWS__ECS_CLUSTER` set to the cluster, which the dispatcher
   * stops tasks in.
   */
  bindTaskStopping(cluster: ecs.ICluster): void {
    const stack = Stack.of(this);
    const tasks = stack.formatArn({
      service: 'ecs',
      resource: 'task',
      resourceName: `${cluster.clusterName}/*`,
      arnFormat: ArnFormat.SLASH_RESOURCE_NAME,
    });
    this.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['ecs:StopTask'],
        resources: [tasks],
        conditions: { ArnEquals: { 'ecs:cluster': cluster.clusterArn } },
      }),
    );
    this.function.addEnvironment(ENV_ECS_CLUSTER, cluster.clusterArn);
    acknowledgeFinding(
      this.role,
      'AwsSolutions-IAM5',
      `Resource::arn:<AWS::Partition>:ecs:<AWS::Region>:<AWS::AccountId>:task/${refToken(cluster)}/*`,
      'ecs:StopTask on the tasks of the stack’s own Fargate cluster only (and the ecs:cluster condition): task ids ' +
        'are given by ECS when a stage starts, so they are not known when the policy is written.',
    );
  }
}

/** `arn:<partition>:states:<region>:<account>:execution:<stateMachineName>:*`. */
export function executionArnPattern(stack: Stack, stateMachineName: string): string {
  return stack.formatArn({
    service: 'states',
    resource: 'execution',
    resourceName: `${stateMachineName}:*`,
    arnFormat: ArnFormat.COLON_RESOURCE_NAME,
  });
}

/** How cdk-nag writes {@link executionArnPattern} in a finding. */
export function executionArnFinding(stateMachineName: string): string {
  return `arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:execution:${stateMachineName}:*`;
}
