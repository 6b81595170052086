import { createHash } from 'node:crypto';
import { CustomResource, Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Provider } from 'aws-cdk-lib/custom-resources';
import { Construct } from 'constructs';
import type { JobDefinition } from '../../shared/job.ts';
import {
  type DatabaseUserPlan,
  databaseUserPlanProblems,
  dispatcherUserPlan,
  jobUserPlan,
  MIGRATIONS_DATABASE_USER,
} from '../../shared/stack/database-users.ts';
import { ENV_MYSQL_DSN, ENV_MYSQL_IAM_AUTH } from '../../shared/stack/env.ts';
import { MIGRATIONS } from '../../shared/store/migrations.ts';
import { LAMBDA_ENTRIES } from '../bundling.ts';
import { acknowledgeFinding, acknowledgeGuardRule, arnToken } from '../nag.ts';
import { type FunctionNetworking, PikoFunction } from './piko-function.ts';
import type { StateDatabase } from './state-database.ts';

/** Props of {@link Migrations}. */
export interface MigrationsProps {
  readonly database: StateDatabase;
  /** The users it creates after the schema, with their grants ({@link databaseUserPlans}). */
  readonly databaseUsers: readonly DatabaseUserPlan[];
  readonly networking: FunctionNetworking;
  /** Encrypts the log groups. @default - CloudWatch Logs' own encryption */
  readonly logKey?: kms.IKey;
}

/** A short hash of every migration's SQL: the custom resource updates (and migrates) when it changes. */
export function migrationsHash(): string {
  return createHash('sha256').update(JSON.stringify(MIGRATIONS)).digest('hex').slice(0, 16);
}

/** The tables of the state database a job's sinks create and write. */
export function jobSinkTables(job: Pick<JobDefinition, 'sinks'>): string[] {
  return [...new Set(job.sinks.flatMap((sink) => (sink.table ? [sink.table.name] : [])))];
}

/**
 * The stack's database users besides the master: the dispatcher's, and one per job (the stage
 * runner's needs plus its sinks' tables).
 * @throws Error listing every problem (a reserved sink table, two jobs mapped to one user name).
 */
export function databaseUserPlans(jobs: readonly JobDefinition[]): DatabaseUserPlan[] {
  const plans = [dispatcherUserPlan(), ...jobs.map((job) => jobUserPlan(job.id, jobSinkTables(job)))];
  const problems = databaseUserPlanProblems(plans);
  if (problems.length > 0) throw new Error(`Database users: ${problems.join('; ')}`);
  return plans;
}

/**
 * Applies the state store's numbered migrations on deploy: a custom resource (Provider framework)
 * whose handler, `functions/migrate.ts`, runs the same `migrate()` as the local runtime, under the
 * same lock, through the proxy. It runs on create and whenever the migrations change.
 */
export class Migrations extends Construct {
  readonly resource: CustomResource;
  readonly handler: PikoFunction;

  constructor(scope: Construct, id: string, props: MigrationsProps) {
    super(scope, id);
    this.handler = new PikoFunction(this, 'Handler', {
      entry: LAMBDA_ENTRIES.migrate,
      // It opens the store with `ssl: true`: no RDS CA certificates needed.
      rdsCaBundle: false,
      description: 'Piko: applies state database migrations on deploy',
      // The migration lock waits up to 5 minutes for another migrating process.
      timeout: Duration.minutes(10),
      networking: props.networking,
      logKey: props.logKey,
      environment: {
        [ENV_MYSQL_DSN]: props.database.dsnFor(MIGRATIONS_DATABASE_USER),
        [ENV_MYSQL_IAM_AUTH]: 'true',
      },
    });
    props.database.grantConnect(this.handler.role, MIGRATIONS_DATABASE_USER);

    const frameworkLogs = new logs.LogGroup(this, 'ProviderLogs', {
      retention: logs.RetentionDays.ONE_MONTH,
      encryptionKey: props.logKey,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    const frameworkRole = new iam.Role(this, 'ProviderRole', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: 'Piko: CloudFormation custom resource provider of the migrations',
    });
    frameworkRole.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
        resources: [frameworkLogs.logGroupArn],
      }),
    );
    const provider = new Provider(this, 'Provider', {
      onEventHandler: this.handler.function,
      frameworkOnEventRole: frameworkRole,
      logGroup: frameworkLogs,
    });
    acknowledgeGuardRule(
      provider,
      'lambda_inside_vpc_check',
      "The CDK Provider framework's function only relays CloudFormation's events to the migration handler (which " +
        "runs in the VPC) and answers CloudFormation's presigned S3 URL: it reads no data and may only invoke the " +
        'handler. In the VPC it would need a Lambda interface endpoint when the stack runs without NAT gateways.',
    );
    acknowledgeFinding(
      frameworkRole,
      'AwsSolutions-IAM5',
      `Resource::${arnToken(this.handler.function)}:*`,
      'Written by the CDK Provider framework: lambda:InvokeFunction on the migration handler and its versions ' +
        '(`<arn>:*`), the one function this provider calls.',
    );

    this.resource = new CustomResource(this, 'Resource', {
      serviceToken: provider.serviceToken,
      resourceType: 'Custom::PikoMigrations',
      // The users are a property: a change of a job's sinks updates the resource and its grants.
      properties: {
        migrationsHash: migrationsHash(),
        migrations: MIGRATIONS.length,
        databaseUsers: JSON.stringify(props.databaseUsers),
      },
    });
    // The schema needs a reachable database: the proxy's targets and the writer instance.
    this.resource.node.addDependency(props.database.proxy);
    this.resource.node.addDependency(props.database.cluster);
  }
}
