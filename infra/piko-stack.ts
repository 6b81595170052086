import { ArnFormat, CfnOutput, type Duration, Stack, type StackProps } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import type * as ecs from 'aws-cdk-lib/aws-ecs';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';
import type { JobDefinition } from '../shared/job.ts';
import { eventBridgeCrons } from '../shared/stack/eventbridge-cron.ts';
import {
  OUTPUT_BACKFILL_STATE_MACHINE_ARN,
  OUTPUT_DISPATCHER_FUNCTION_NAME,
  OUTPUT_JOB_LOG_GROUPS,
  OUTPUT_JOB_STATE_MACHINE_PREFIX,
  OUTPUT_REGION,
  OUTPUT_SCHEDULE_GROUP_NAME,
} from '../shared/stack/outputs.ts';
import { BackfillWorkflow } from './constructs/backfill-workflow.ts';
import { ControlFunction } from './constructs/control-function.ts';
import { FargateStages } from './constructs/fargate-stages.ts';
import {
  DEFAULT_LAMBDA_CONCURRENCY_QUOTA,
  JobFunctions,
  jobAwsNeeds,
  reservedConcurrencyProblems,
} from './constructs/job-functions.ts';
import { JobOutputs } from './constructs/job-outputs.ts';
import { JobSchedules } from './constructs/job-schedules.ts';
import { JobStateMachines } from './constructs/job-state-machines.ts';
import { databaseUserPlans, Migrations } from './constructs/migrations.ts';
import { Network, type NetworkProps } from './constructs/network.ts';
import { Observability } from './constructs/observability.ts';
import type { FunctionNetworking } from './constructs/piko-function.ts';
import { StateDatabase, type StateDatabaseProps } from './constructs/state-database.ts';
import { BundledStageImage } from './container-image.ts';
import { acknowledgeGuardRule } from './nag.ts';
import {
  backfillStateMachineName,
  dashboardName,
  physicalNameProblems,
  scheduleGroupName,
} from './physical-names.ts';

export { backfillStateMachineName };

/** The database settings a deployment may choose. */
export type PikoDatabaseOptions = Pick<
  StateDatabaseProps,
  'minCapacity' | 'maxCapacity' | 'deletionProtection' | 'backupRetention' | 'rotationDays' | 'engineVersion'
>;

/** Props of {@link PikoStack}. */
export interface PikoStackProps extends StackProps {
  /** The jobs to deploy (`functions/jobs/index.ts`, loaded by `infra/app.ts`). */
  readonly jobs: readonly JobDefinition[];
  /** VPC settings. @default {} (2 AZs, 1 NAT gateway) */
  readonly network?: Omit<NetworkProps, 'logKey'>;
  /** State database settings. @default {} (0.5–4 ACUs, deletion protection on, 7 days of backups) */
  readonly database?: PikoDatabaseOptions;
  /** Receives the alarms by email. @default - no subscription */
  readonly alarmEmail?: string;
  /**
   * The image of Fargate stages. @default built at deploy time from the bundle of
   * `functions/container/bundle-entry.ts` and `functions/container/Dockerfile` (`infra/container-image.ts`)
   */
  readonly stageImage?: ecs.ContainerImage;
  /** Retries of a schedule tick that fails to invoke the control function. @default 10 */
  readonly scheduleRetryAttempts?: number;
  /** How long a tick is retried before it is dead-lettered. @default Duration.hours(1) */
  readonly scheduleMaxEventAge?: Duration;
  /** The control function's timeout. @default Duration.minutes(5) */
  readonly controlFunctionTimeout?: Duration;
  /**
   * The account's Lambda quota of concurrent executions in the stack's region: every job function
   * reserves what its workflows can run at once (`jobFunctionConcurrency`), and synth refuses jobs
   * that would leave fewer than 100 unreserved. Raise it with the quota for jobs above a few hundred.
   * @default 1000 (Lambda's default quota)
   */
  readonly lambdaConcurrencyQuota?: number;
}

/**
 * The whole orchestrator on AWS (DESIGN.md §5): network, state database and its migrations,
 * control function (the dispatcher), job functions, Fargate stages, job state machines, schedules, backfill state machine and
 * observability. Its outputs are what the `--aws` CLI reads (`shared/stack/outputs.ts`).
 */
export class PikoStack extends Stack {
  readonly network: Network;
  readonly database: StateDatabase;
  /** The control function (the dispatcher Lambda). */
  readonly control: ControlFunction;
  readonly jobFunctions: JobFunctions;
  /** The bucket of `objectStore()` outputs; only when a job declares one. */
  readonly jobOutputs: JobOutputs | undefined;
  readonly jobStateMachines: JobStateMachines;
  readonly schedules: JobSchedules;
  readonly backfill: BackfillWorkflow;
  readonly observability: Observability;

  constructor(scope: Construct, id: string, props: PikoStackProps) {
    super(scope, id, props);
    // ecs:RunTask on each stage's task definition rather than on every revision of its family.
    this.node.setContext('@aws-cdk/aws-stepfunctions-tasks:fixRunEcsTaskPolicy', true);
    validateJobs(
      this.stackName,
      props.jobs,
      props.lambdaConcurrencyQuota ?? DEFAULT_LAMBDA_CONCURRENCY_QUOTA,
    );
    const prefix = this.stackName;
    const jobIds = props.jobs.map((job) => job.id);

    const key = new kms.Key(this, 'Key', {
      description: `Piko ${this.stackName}: state database, logs and alarm topic`,
      enableKeyRotation: true,
    });
    allowServicesToUseKey(this, key);

    this.network = new Network(this, 'Network', { ...props.network, logKey: key });
    const networking: FunctionNetworking = {
      vpc: this.network.vpc,
      subnets: this.network.functionSubnets,
      securityGroups: [this.network.functionsSecurityGroup],
    };
    const databaseUsers = databaseUserPlans(props.jobs);
    this.database = new StateDatabase(this, 'StateDatabase', {
      ...props.database,
      iamUsers: databaseUsers.map((plan) => plan.user),
      vpc: this.network.vpc,
      databaseSubnets: this.network.databaseSubnets,
      proxySubnets: this.network.functionSubnets,
      clientSecurityGroup: this.network.functionsSecurityGroup,
      encryptionKey: key,
    });
    const migrations = new Migrations(this, 'Migrations', {
      database: this.database,
      databaseUsers,
      networking,
      logKey: key,
    });

    // Construct ids are the deployed resources' logical ids: these keep their old names, so a rename
    // of the class never replaces what is deployed.
    this.control = new ControlFunction(this, 'Dispatcher', {
      database: this.database,
      networking,
      jobIds,
      stateMachinePrefix: prefix,
      timeout: props.controlFunctionTimeout,
      logKey: key,
    });
    this.jobOutputs = props.jobs.some((job) => jobAwsNeeds(job).objectStore)
      ? new JobOutputs(this, 'JobOutputs')
      : undefined;
    this.jobFunctions = new JobFunctions(this, 'JobFunctions', {
      jobs: props.jobs,
      database: this.database,
      networking,
      logKey: key,
      outputs: this.jobOutputs,
    });
    const fargate = new FargateStages(this, 'Fargate', {
      jobs: props.jobs,
      database: this.database,
      networking,
      image: props.stageImage ?? new BundledStageImage(),
      logKey: key,
      outputs: this.jobOutputs,
    });
    // A cancel stops the task of a run's Fargate stage at once (the dispatcher's ecs:StopTask,
    // through an ECS endpoint: the dispatcher's AWS calls never leave the VPC).
    if (fargate.cluster) {
      this.network.addAwsEndpoint('Ecs', ec2.InterfaceVpcEndpointAwsService.ECS);
      this.control.bindTaskStopping(fargate.cluster);
    }
    // 'JobWorkflows': the logical ids' old name, as for 'Dispatcher' above.
    this.jobStateMachines = new JobStateMachines(this, 'JobWorkflows', {
      jobs: props.jobs,
      stateMachinePrefix: prefix,
      functions: this.jobFunctions.byJob,
      fargate: fargate.jobs,
      controlFunction: this.control.function,
      controlFunctionTimeout: this.control.function.timeout,
      networking,
      logKey: key,
    });
    this.schedules = new JobSchedules(this, 'Schedules', {
      jobs: props.jobs,
      groupName: scheduleGroupName(this.stackName),
      controlFunction: this.control.function,
      retryAttempts: props.scheduleRetryAttempts,
      maxEventAge: props.scheduleMaxEventAge,
    });
    // Ticks only make sense once the schema exists.
    this.schedules.node.addDependency(migrations.resource);
    this.backfill = new BackfillWorkflow(this, 'Backfill', {
      stateMachineName: backfillStateMachineName(prefix),
      controlFunction: this.control.function,
      controlFunctionTimeout: this.control.function.timeout!,
      jobIds,
      stateMachinePrefix: prefix,
      logKey: key,
    });
    this.observability = new Observability(this, 'Observability', {
      stackName: prefix,
      topicKey: key,
      controlFunction: this.control.function,
      deadLetterQueue: this.schedules.deadLetterQueue,
      jobStateMachines: this.jobStateMachines.byJob,
      backfillStateMachine: this.backfill.stateMachine,
      alarmEmail: props.alarmEmail,
      deadlineJobIds: props.jobs.filter((job) => job.deadlineMs !== undefined).map((job) => job.id),
      dashboardName: dashboardName(this.stackName, this.region),
    });

    new CfnOutput(this, OUTPUT_DISPATCHER_FUNCTION_NAME, {
      value: this.control.function.functionName,
      description: 'Invoked by `piko dispatch|status|pause|resume --aws`',
    });
    new CfnOutput(this, OUTPUT_BACKFILL_STATE_MACHINE_ARN, {
      value: this.backfill.stateMachine.stateMachineArn,
      description:
        'Start with { jobId, from, to, reprocess, dryRun, reverse, config } or `piko backfill --aws`',
    });
    new CfnOutput(this, OUTPUT_SCHEDULE_GROUP_NAME, { value: this.schedules.group.scheduleGroupName });
    new CfnOutput(this, OUTPUT_JOB_STATE_MACHINE_PREFIX, {
      value: prefix,
      description: 'Job state machines are named <prefix>-<jobId>',
    });
    new CfnOutput(this, OUTPUT_REGION, { value: this.region });
    new CfnOutput(this, OUTPUT_JOB_LOG_GROUPS, {
      value: this.toJsonString(
        Object.fromEntries(
          props.jobs.map((job) => [
            job.id,
            [
              this.jobFunctions.byJob.get(job.id)?.logGroup.logGroupName,
              fargate.jobs.has(job.id) ? fargate.logGroup?.logGroupName : undefined,
            ].filter((name) => name !== undefined),
          ]),
        ),
      ),
      description: 'By job id, the log groups of its function and Fargate tasks (`piko runs --aws --logs`)',
    });

    for (const construct of this.node.findAll()) {
      if (!(construct instanceof logs.LogGroup)) continue;
      acknowledgeGuardRule(
        construct,
        'cloudwatch_log_group_retention_period_check',
        'Piko log groups hold diagnostics (function, workflow, task and VPC flow logs), kept one month (flow logs ' +
          'three) to bound their cost and any personal data a job logs; the record of every run is the state ' +
          'database with its backups. A deployment that must keep logs a year sets the retention on the construct.',
      );
    }
  }
}

/**
 * Refuses jobs whose cron EventBridge cannot express, duplicate job ids, and names AWS would refuse
 * (`infra/physical-names.ts`); all at once.
 */
function validateJobs(
  stackName: string,
  jobs: readonly JobDefinition[],
  lambdaConcurrencyQuota: number,
): void {
  const problems: string[] = [];
  const seen = new Set<string>();
  for (const job of jobs) {
    if (seen.has(job.id)) problems.push(`two jobs have the id "${job.id}"`);
    seen.add(job.id);
    try {
      eventBridgeCrons(job.schedule.cron);
    } catch (error) {
      problems.push(`job "${job.id}": ${error instanceof Error ? error.message : String(error)}`);
    }
  }
  problems.push(...physicalNameProblems(stackName, jobs));
  problems.push(...reservedConcurrencyProblems(jobs, lambdaConcurrencyQuota));
  if (problems.length > 0) throw new Error(`PikoStack "${stackName}":\n  - ${problems.join('\n  - ')}`);
}

/**
 * Lets CloudWatch Logs encrypt this account's log groups in this region, and CloudWatch alarms
 * publish to the encrypted topic, with the stack's key; and refuses grants that no AWS service asked for
 * (the Control Tower control CT.KMS.PR.3).
 */
function allowServicesToUseKey(stack: Stack, key: kms.Key): void {
  key.addToResourcePolicy(
    new iam.PolicyStatement({
      sid: 'CloudWatchLogsEncryptsPikoLogGroups',
      principals: [new iam.ServicePrincipal(`logs.${stack.region}.amazonaws.com`)],
      actions: ['kms:Encrypt*', 'kms:Decrypt*', 'kms:ReEncrypt*', 'kms:GenerateDataKey*', 'kms:Describe*'],
      resources: ['*'],
      conditions: {
        ArnLike: {
          'kms:EncryptionContext:aws:logs:arn': stack.formatArn({
            service: 'logs',
            resource: 'log-group',
            resourceName: '*',
            arnFormat: ArnFormat.COLON_RESOURCE_NAME,
          }),
        },
      },
    }),
  );
  key.addToResourcePolicy(
    new iam.PolicyStatement({
      sid: 'CloudWatchAlarmsPublishToEncryptedTopic',
      principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
      actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
      // As AWS documents it for alarms on encrypted topics: CloudWatch names no source in these calls.
      resources: ['*'],
    }),
  );
  // Grants on the key only for AWS services acting for a resource (RDS encrypting the cluster's
  // storage): nobody, the account's admins included, hands out the key's use outside its policy.
  key.addToResourcePolicy(
    new iam.PolicyStatement({
      sid: 'GrantsOnlyForAwsResources',
      effect: iam.Effect.DENY,
      principals: [new iam.AnyPrincipal()],
      actions: ['kms:CreateGrant'],
      resources: ['*'],
      conditions: {
        BoolIfExists: { 'kms:GrantIsForAWSResource': 'false', 'aws:PrincipalIsAWSService': 'false' },
      },
    }),
  );
}
