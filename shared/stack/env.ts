/**
 * The environment the stack gives Piko's Lambda functions and Fargate tasks.
 *
 * Every `PIKO_*` name here is a key of `shared/config.ts` (which refuses unknown `PIKO_*` variables),
 * so any code in these processes may call `getConfig()` and read the same values. A leaf: it imports
 * nothing of Piko but the errors, so that the configuration and telemetry may import it (how a Lambda
 * opens the store from the configuration is `lambda-store.ts`).
 */
import { ConfigError } from '../errors.ts';

/** The state database DSN: RDS Proxy endpoint, IAM user, no password (`mysql.dsn`). */
export const ENV_MYSQL_DSN = 'PIKO_MYSQL__DSN';
/** `true`: sign an IAM token instead of a password (`mysql.iam_auth`). */
export const ENV_MYSQL_IAM_AUTH = 'PIKO_MYSQL__IAM_AUTH';
/** The stack's name (`aws.stack_name`), also the prefix of job state machine names, `<stackName>-<jobId>`. */
export const ENV_STACK_NAME = 'PIKO_AWS__STACK_NAME';
/** The cluster of the stack's Fargate stages (`aws.ecs_cluster`), set on the dispatcher, which stops their tasks on cancel. */
export const ENV_ECS_CLUSTER = 'PIKO_AWS__ECS_CLUSTER';
/** The one job a job function or Fargate task runs: stage events for other jobs are refused. */
export const ENV_JOB_ID = 'PIKO_JOB_ID';
/** Where file sinks write: Lambda's only writable directory is /tmp (`piko.data_dir`). */
export const ENV_DATA_DIR = 'PIKO_DATA_DIR';
/** Set by Lambda and ECS: the region that signs IAM tokens and hosts the state machines. */
export const ENV_AWS_REGION = 'AWS_REGION';

/** A variable's value. @throws ConfigError naming the variable when it is unset or empty. */
export function requiredEnv(
  name: string,
  env: Readonly<Record<string, string | undefined>> = process.env,
): string {
  const value = env[name];
  if (value === undefined || value === '') {
    throw new ConfigError([
      `environment variable ${name} is not set; the Piko stack sets it on this function (redeploy with npx cdk deploy)`,
    ]);
  }
  return value;
}

/** The job-outputs bucket, set on the jobs that declare `objectStore()` (`objects.bucket`). */
export const ENV_OBJECTS_BUCKET = 'PIKO_OBJECTS__BUCKET';
