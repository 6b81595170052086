import { Duration, Stack } from 'aws-cdk-lib';
import type * as kms from 'aws-cdk-lib/aws-kms';
import { Construct } from 'constructs';
import type { JobDefinition } from '../../shared/job.ts';
import { jobDatabaseUser } from '../../shared/stack/database-users.ts';
import {
  ENV_DATA_DIR,
  ENV_JOB_ID,
  ENV_MYSQL_DSN,
  ENV_MYSQL_IAM_AUTH,
  ENV_STACK_NAME,
} from '../../shared/stack/env.ts';
import { LAMBDA_ENTRIES } from '../bundling.ts';
import type { JobOutputs } from './job-outputs.ts';
import { type FunctionNetworking, PikoFunction } from './piko-function.ts';
import type { StateDatabase } from './state-database.ts';

/** Manual runs (`piko run`) at once a job's reserved concurrency leaves room for, beside its two lanes. */
export const MANUAL_RUN_INVOCATIONS = 1;
/** Concurrent executions Lambda keeps unreserved in every account and region. */
export const LAMBDA_UNRESERVED_MINIMUM = 100;
/** Lambda's default quota of concurrent executions per account and region. */
export const DEFAULT_LAMBDA_CONCURRENCY_QUOTA = 1_000;

/** Lambda's longest timeout, in seconds. */
const MAX_LAMBDA_TIMEOUT_SECONDS = 900;
/** Added to the job's timeout: the stage runner's own timeout fires first and records the failure. */
const TIMEOUT_MARGIN_SECONDS = 30;
/** Lambda and Fargate may only write under /tmp (file sinks write under the data directory). */
const WRITABLE_DATA_DIR = '/tmp/piko';

/** What a job's code needs from AWS, from its resources (and the state every stage records). */
export interface JobAwsNeeds {
  /** `rds-db:connect` through the proxy. */
  readonly stateDatabase: boolean;
  /** `s3:PutObject`/`s3:GetObject` on its own prefix of the job-outputs bucket, and the bucket's name. */
  readonly objectStore: boolean;
}

/**
 * The grants a job's function and tasks need. Every stage runner records its run in the state
 * database; resources and sinks add their own needs (`Resource.aws`).
 */
export function jobAwsNeeds(job: Pick<JobDefinition, 'resources'>): JobAwsNeeds {
  const recordsState = true;
  const resourcesNeedIt = Object.values(job.resources).some(
    (resource) => resource.aws?.stateDatabase === true,
  );
  const objectStore = Object.values(job.resources).some((resource) => resource.aws?.objectStore === true);
  return { stateDatabase: recordsState || resourcesNeedIt, objectStore };
}

/**
 * The environment of a job's function and Fargate tasks: every name is a `shared/config.ts` key, and
 * the job id, so the stage runner refuses events for other jobs. `outputs` (the job-outputs bucket)
 * only for jobs that declare an object store. The DSN names the job's own database user.
 * @default outputs - none
 */
export function jobEnvironment(
  database: StateDatabase,
  jobId: string,
  outputs?: JobOutputs,
): Record<string, string> {
  return {
    [ENV_JOB_ID]: jobId,
    // The `stack` dimension of the metrics (shared/telemetry.ts), so stacks in one account stay apart.
    [ENV_STACK_NAME]: Stack.of(database).stackName,
    [ENV_MYSQL_DSN]: database.dsnFor(jobDatabaseUser(jobId)),
    [ENV_MYSQL_IAM_AUTH]: 'true',
    [ENV_DATA_DIR]: WRITABLE_DATA_DIR,
    ...outputs?.environment(),
  };
}

/**
 * The job-outputs bucket when the job declares an object store, else `undefined`.
 * @throws Error when the job needs it and the stack made none.
 */
export function jobOutputsFor(
  job: Pick<JobDefinition, 'id' | 'resources'>,
  outputs?: JobOutputs,
): JobOutputs | undefined {
  if (!jobAwsNeeds(job).objectStore) return undefined;
  if (!outputs)
    throw new Error(`job "${job.id}" declares objectStore(), but no job-outputs bucket was given`);
  return outputs;
}

/** A job function's timeout: the job's, plus a margin, within Lambda's 15 minutes. */
export function jobFunctionTimeoutSeconds(job: Pick<JobDefinition, 'timeoutMs'>): number {
  return Math.min(MAX_LAMBDA_TIMEOUT_SECONDS, Math.ceil(job.timeoutMs / 1000) + TIMEOUT_MARGIN_SECONDS);
}

/**
 * The most invocations of a job's function at once, and so its reserved concurrency: the scheduled
 * lane (at most `concurrency` runs in flight, however many executions carry them), one backfill
 * batch (its Map's MaxConcurrency is `concurrency` too) and {@link MANUAL_RUN_INVOCATIONS} manual
 * run. A run's stages and its "Record failure" follow one another, never overlap. Reserved at this,
 * the job's own Maps are never throttled, and the job's containers, hence its connections to RDS
 * Proxy, never exceed it (docs/aws.md, "What the database sees").
 */
export function jobFunctionConcurrency(job: Pick<JobDefinition, 'concurrency'>): number {
  return 2 * job.concurrency + MANUAL_RUN_INVOCATIONS;
}

/**
 * What is wrong with reserving {@link jobFunctionConcurrency} for every job in an account whose
 * Lambda quota of concurrent executions is `quota`: Lambda refuses reservations that leave fewer
 * than {@link LAMBDA_UNRESERVED_MINIMUM} unreserved (the dispatcher and the other functions run there).
 */
export function reservedConcurrencyProblems(jobs: readonly JobDefinition[], quota: number): string[] {
  const reserved = jobs.map((job) => ({ id: job.id, reserved: jobFunctionConcurrency(job) }));
  const total = reserved.reduce((sum, job) => sum + job.reserved, 0);
  if (total + LAMBDA_UNRESERVED_MINIMUM <= quota) return [];
  const largest = [...reserved].sort((a, b) => b.reserved - a.reserved).slice(0, 5);
  return [
    `the job functions reserve ${total} concurrent executions (${largest
      .map((job) => `${job.id}: ${job.reserved}`)
      .join(
        ', ',
      )}${reserved.length > largest.length ? ', …' : ''}; each job twice its concurrency, for its scheduled and backfill lanes, and ` +
      `${MANUAL_RUN_INVOCATIONS} manual run), but the account's Lambda quota of ${quota} concurrent executions ` +
      `keeps ${LAMBDA_UNRESERVED_MINIMUM} unreserved: raise the quota (Service Quotas, "Concurrent executions") ` +
      `and set the stack prop lambdaConcurrencyQuota to it, or lower the jobs' concurrency`,
  ];
}

/** Props of {@link JobFunctions}. */
export interface JobFunctionsProps {
  readonly jobs: readonly JobDefinition[];
  readonly database: StateDatabase;
  readonly networking: FunctionNetworking;
  /** Encrypts the log groups. @default - CloudWatch Logs' own encryption */
  readonly logKey?: kms.IKey;
  /** The bucket of jobs that declare `objectStore()`. @default - none (no job may declare one) */
  readonly outputs?: JobOutputs;
}

/**
 * One Lambda function per job (`functions/stage-runner.ts`): runs the job's Lambda stages and records
 * failures, with the job's memory and timeout, its concurrency reserved ({@link jobFunctionConcurrency})
 * and only the grants its code needs.
 */
export class JobFunctions extends Construct {
  /** By job id. */
  readonly byJob: ReadonlyMap<string, PikoFunction>;

  constructor(scope: Construct, id: string, props: JobFunctionsProps) {
    super(scope, id);
    const functions = new Map<string, PikoFunction>();
    for (const job of props.jobs) {
      const outputs = jobOutputsFor(job, props.outputs);
      const fn = new PikoFunction(this, job.id, {
        entry: LAMBDA_ENTRIES.stageRunner,
        description: `Piko job ${job.id}: Lambda stages`,
        memorySize: job.memoryMiB,
        timeout: Duration.seconds(jobFunctionTimeoutSeconds(job)),
        reservedConcurrentExecutions: jobFunctionConcurrency(job),
        networking: props.networking,
        logKey: props.logKey,
        environment: jobEnvironment(props.database, job.id, outputs),
      });
      if (jobAwsNeeds(job).stateDatabase) props.database.grantConnect(fn.role, jobDatabaseUser(job.id));
      outputs?.grantJob(fn.role, job.id);
      functions.set(job.id, fn);
    }
    this.byJob = functions;
  }
}
