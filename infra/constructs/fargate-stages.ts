import { RemovalPolicy } from 'aws-cdk-lib';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import type { JobDefinition } from '../../shared/job.ts';
import { RENDER_CONTAINER_NAME } from '../../shared/local/workflow/render.ts';
import { jobDatabaseUser } from '../../shared/stack/database-users.ts';
import { STAGE_CPU_ARCHITECTURE } from '../container-image.ts';
import { acknowledge, acknowledgeFinding } from '../nag.ts';
import { jobAwsNeeds, jobEnvironment, jobOutputsFor } from './job-functions.ts';
import type { JobOutputs } from './job-outputs.ts';
import { stageTaskFamily } from './job-workflow.ts';
import type { FunctionNetworking } from './piko-function.ts';
import type { StateDatabase } from './state-database.ts';

/**
 * The container that runs a Fargate stage: the name the job workflow overrides (and the local
 * renderer uses, so the deployed and local definitions are the same text).
 */
export const STAGE_CONTAINER_NAME = RENDER_CONTAINER_NAME;

/** The user a stage container runs as: the `node` user of the Node.js images. */
export const STAGE_CONTAINER_USER = '1000:1000';

/** Props of {@link FargateStages}. */
export interface FargateStagesProps {
  readonly jobs: readonly JobDefinition[];
  readonly database: StateDatabase;
  readonly networking: FunctionNetworking;
  /** The image that runs a stage given by `PIKO_STAGE_EVENT` (`infra/container-image.ts`). */
  readonly image: ecs.ContainerImage;
  /** Encrypts the task log group. @default - CloudWatch Logs' own encryption */
  readonly logKey?: kms.IKey;
  /** The bucket of jobs that declare `objectStore()`. @default - none (no job may declare one) */
  readonly outputs?: JobOutputs;
}

/** What a job's workflow needs to run its Fargate stages. */
export interface JobFargate {
  readonly cluster: ecs.ICluster;
  /** By stage name. */
  readonly taskDefinitions: Readonly<Record<string, ecs.FargateTaskDefinition>>;
  readonly containerName: string;
  /** The tasks' role: what the job's code may do. */
  readonly taskRole: iam.Role;
}

/**
 * One ECS cluster (Container Insights on) and, per Fargate stage, a task definition with the stage's
 * cpu and memory, the stage image, logs to CloudWatch and a read-only root file system. Nothing is
 * created when no job has a Fargate stage.
 */
export class FargateStages extends Construct {
  readonly cluster: ecs.Cluster | undefined;
  /** The tasks' log group (streams prefixed with the job id); undefined when no job has a Fargate stage. */
  readonly logGroup: logs.LogGroup | undefined;
  /** By job id, for jobs with Fargate stages. */
  readonly jobs: ReadonlyMap<string, JobFargate>;

  constructor(scope: Construct, id: string, props: FargateStagesProps) {
    super(scope, id);
    const jobs = new Map<string, JobFargate>();
    const withFargate = props.jobs.filter((job) => job.stages.some((stage) => stage.kind === 'fargate'));
    if (withFargate.length === 0) {
      this.jobs = jobs;
      this.logGroup = undefined;
      return;
    }
    this.cluster = new ecs.Cluster(this, 'Cluster', {
      vpc: props.networking.vpc,
      containerInsightsV2: ecs.ContainerInsights.ENABLED,
    });
    const logGroup = new logs.LogGroup(this, 'Logs', {
      retention: logs.RetentionDays.ONE_MONTH,
      encryptionKey: props.logKey,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    this.logGroup = logGroup;

    for (const job of withFargate) {
      const taskRole = new iam.Role(this, `${job.id}-TaskRole`, {
        assumedBy: new iam.ServicePrincipal('ecs-tasks.amazonaws.com'),
        description: `Piko job ${job.id}: Fargate stages`,
      });
      if (jobAwsNeeds(job).stateDatabase) props.database.grantConnect(taskRole, jobDatabaseUser(job.id));
      const outputs = jobOutputsFor(job, props.outputs);
      outputs?.grantJob(taskRole, job.id);
      const taskDefinitions: Record<string, ecs.FargateTaskDefinition> = {};
      for (const stage of job.stages) {
        if (stage.kind !== 'fargate') continue;
        const taskDefinition = new ecs.FargateTaskDefinition(this, `${job.id}-${stage.name}`, {
          family: stageTaskFamily(job.id, stage.name),
          cpu: stage.cpu,
          memoryLimitMiB: stage.memoryMiB,
          taskRole,
          runtimePlatform: {
            cpuArchitecture: STAGE_CPU_ARCHITECTURE,
            operatingSystemFamily: ecs.OperatingSystemFamily.LINUX,
          },
        });
        // The one writable path (the data directory is under it); the image declares /tmp as a VOLUME
        // owned by its user, so this bind mount is writable for that non-root user.
        taskDefinition.addVolume({ name: 'tmp' });
        const container = taskDefinition.addContainer(STAGE_CONTAINER_NAME, {
          image: props.image,
          essential: true,
          readonlyRootFilesystem: true,
          // The image's unprivileged `node` user (uid and gid 1000), stated in the task definition too
          // so ECS never runs the stage as root whatever the image says (CT.ECS.PR.3).
          user: STAGE_CONTAINER_USER,
          // The container's hard limit is the task's memory: it is the only container (CT.ECS.PR.7).
          memoryLimitMiB: stage.memoryMiB,
          logging: ecs.LogDrivers.awsLogs({ logGroup, streamPrefix: job.id }),
          environment: jobEnvironment(props.database, job.id, outputs),
        });
        container.addMountPoints({ containerPath: '/tmp', sourceVolume: 'tmp', readOnly: false });
        acknowledge(
          taskDefinition,
          'AwsSolutions-ECS2',
          'The environment holds no secret: the state database DSN names the RDS Proxy endpoint and user without a ' +
            'password (the task signs a 15-minute IAM token with its role), plus the IAM-auth flag and the data directory.',
        );
        const executionRole = taskDefinition.obtainExecutionRole();
        acknowledgeFinding(
          executionRole,
          'AwsSolutions-IAM5',
          'Resource::*',
          'ecr:GetAuthorizationToken, which ECS needs to pull the stage image, supports no resource-level permissions; ' +
            'the pull actions themselves are limited to the image repository.',
        );
        taskDefinitions[stage.name] = taskDefinition;
      }
      jobs.set(job.id, {
        cluster: this.cluster,
        taskDefinitions,
        containerName: STAGE_CONTAINER_NAME,
        taskRole,
      });
    }
    this.jobs = jobs;
  }
}
