import path from 'node:path';
import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import type * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { LAMBDA_RUNTIME, lambdaBundling, PROJECT_ROOT } from '../bundling.ts';
import { acknowledgeFinding } from '../nag.ts';

/** Where a function runs in the VPC. */
export interface FunctionNetworking {
  readonly vpc: ec2.IVpc;
  readonly subnets: ec2.SubnetSelection;
  readonly securityGroups: ec2.ISecurityGroup[];
}

/** Props of {@link PikoFunction}. */
export interface PikoFunctionProps {
  /** The handler file, relative to the repository root (`functions/dispatcher.ts`); it exports `handler`. */
  readonly entry: string;
  /** @default - none */
  readonly description?: string;
  /** MiB. @default 512 */
  readonly memorySize?: number;
  /** @default Duration.minutes(1) */
  readonly timeout?: Duration;
  /** Environment variables (more can be added with `addEnvironment`). @default {} */
  readonly environment?: Readonly<Record<string, string>>;
  /** Runs the function in these subnets. @default - not in a VPC */
  readonly networking?: FunctionNetworking;
  /** @default logs.RetentionDays.ONE_MONTH */
  readonly logRetention?: logs.RetentionDays;
  /** Encrypts the log group. @default - CloudWatch Logs' own encryption */
  readonly logKey?: kms.IKey;
  /**
   * Bundle mysql2's 'Amazon RDS' CA certificates. Functions that only open the state store with
   * `ssl: true` leave them out (see `lambdaBundling`). @default true
   */
  readonly rdsCaBundle?: boolean;
  /** Concurrent executions reserved for (and allowed to) the function. @default - none (the account's unreserved pool) */
  readonly reservedConcurrentExecutions?: number;
  /** Bundle the S3 SDK that `objectStore()` loads (see `lambdaBundling`). @default true */
  readonly objectStoreSdk?: boolean;
  /**
   * Print stack traces through the bundle's source map (`NODE_OPTIONS=--enable-source-maps`).
   * Costs some cold start time on every invocation that logs a stack. @default true
   */
  readonly sourceMapStackTraces?: boolean;
}

/**
 * A Piko Lambda function: NodejsFunction bundled with `lambdaBundling` on the newest Node
 * runtime, arm64, with its own encrypted log group and its own role holding exactly what it needs:
 * writing to that log group, the VPC network interfaces when in a VPC, and what `grant*` adds.
 */
export class PikoFunction extends Construct {
  readonly function: NodejsFunction;
  readonly role: iam.Role;
  readonly logGroup: logs.LogGroup;

  constructor(scope: Construct, id: string, props: PikoFunctionProps) {
    super(scope, id);
    this.logGroup = new logs.LogGroup(this, 'Logs', {
      retention: props.logRetention ?? logs.RetentionDays.ONE_MONTH,
      encryptionKey: props.logKey,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    this.role = new iam.Role(this, 'Role', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: `Piko ${props.entry}`,
    });
    // The log group is the function's own: no logs:CreateLogGroup, and no other group.
    this.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
        resources: [this.logGroup.logGroupArn],
      }),
    );
    if (props.networking) {
      // What AWSLambdaVPCAccessExecutionRole grants, inline so every statement is visible here.
      this.role.addToPrincipalPolicy(
        new iam.PolicyStatement({
          actions: [
            'ec2:CreateNetworkInterface',
            'ec2:DescribeNetworkInterfaces',
            'ec2:DescribeSubnets',
            'ec2:DeleteNetworkInterface',
            'ec2:AssignPrivateIpAddresses',
            'ec2:UnassignPrivateIpAddresses',
          ],
          resources: ['*'],
        }),
      );
      acknowledgeFinding(
        this.role,
        'AwsSolutions-IAM5',
        'Resource::*',
        'Lambda creates and deletes the function’s VPC network interfaces with its execution role. ' +
          'ec2:Describe* support no resource-level permissions and the interfaces’ ids are unknown before they ' +
          'exist; these are exactly the actions of the AWS managed AWSLambdaVPCAccessExecutionRole, and the ' +
          'only wildcard statement of this role.',
      );
    }

    this.function = new NodejsFunction(this, 'Function', {
      entry: path.join(PROJECT_ROOT, props.entry),
      handler: 'handler',
      projectRoot: PROJECT_ROOT,
      depsLockFilePath: path.join(PROJECT_ROOT, 'package-lock.json'),
      runtime: LAMBDA_RUNTIME,
      architecture: lambda.Architecture.ARM_64,
      memorySize: props.memorySize ?? 512,
      timeout: props.timeout ?? Duration.minutes(1),
      reservedConcurrentExecutions: props.reservedConcurrentExecutions,
      description: props.description,
      role: this.role,
      logGroup: this.logGroup,
      vpc: props.networking?.vpc,
      vpcSubnets: props.networking?.subnets,
      securityGroups: props.networking?.securityGroups,
      bundling: lambdaBundling({ rdsCaBundle: props.rdsCaBundle, objectStoreSdk: props.objectStoreSdk }),
      environment: {
        ...(props.sourceMapStackTraces === false ? {} : { NODE_OPTIONS: '--enable-source-maps' }),
        ...props.environment,
      },
    });
    // The role's policy must exist before the function: Lambda checks the VPC permissions on create.
    this.function.node.addDependency(this.role);
  }

  /** Adds an environment variable. */
  addEnvironment(name: string, value: string): this {
    this.function.addEnvironment(name, value);
    return this;
  }
}
