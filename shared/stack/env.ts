/**
 * The environment the stack gives Piko's Lambda functions and Fargate tasks.
 *
 * Every `PIKO_*` name here is a key of `shared/config.ts` (which refuses unknown `PIKO_*` variables),
 * so any code in these processes may call `getConfig()` and read the same values.
 */
import type { PikoConfig } from '../config.ts';
import { ConfigError } from '../errors.ts';
import type { MysqlStoreOptions } from '../store/mysql/index.ts';

/** The state database DSN: RDS Proxy endpoint, IAM user, no password (`mysql.dsn`). */
export const ENV_MYSQL_DSN = 'PIKO_MYSQL__DSN';
/** `true`: sign an IAM token instead of a password (`mysql.iam_auth`). */
export const ENV_MYSQL_IAM_AUTH = 'PIKO_MYSQL__IAM_AUTH';
/** The stack's name (`aws.stack_name`), also the prefix of job state machine names, `<stackName>-<jobId>`. */
export const ENV_STACK_NAME = 'PIKO_AWS__STACK_NAME';
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

/**
 * How a Piko Lambda opens the state store, read from the configuration as every Piko process reads
 * it (`[mysql]`, i.e. `PIKO_MYSQL__*`): IAM tokens when `mysql.iam_auth` is on (signed for
 * `mysql.region`), else the DSN's password. TLS as the DSN's `ssl` parameter says; without one, TLS
 * verified against Node's CAs (and `NODE_EXTRA_CA_CERTS`), which RDS Proxy's ACM certificate chains
 * to, so the bundles need no RDS CA certificates.
 * @throws ConfigError when `mysql.dsn` is not set.
 */
export function lambdaStoreOptions(config: PikoConfig, poolSize: number): MysqlStoreOptions {
  const dsn = config.mysql.dsn ?? requiredEnv(ENV_MYSQL_DSN, {});
  const { iamAuth, region } = config.mysql;
  return {
    dsn,
    poolSize,
    iamAuth: iamAuth && region ? { region } : undefined,
    ssl: new URL(dsn).searchParams.has('ssl') ? undefined : true,
  };
}

/** The job-outputs bucket, set on the jobs that declare `objectStore()` (`objects.bucket`). */
export const ENV_OBJECTS_BUCKET = 'PIKO_OBJECTS__BUCKET';
