import { ArnFormat, Duration, Stack } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as rds from 'aws-cdk-lib/aws-rds';
import { Construct } from 'constructs';
import { MIGRATIONS_DATABASE_USER } from '../../shared/stack/database-users.ts';
import { acknowledge, acknowledgeGuardRule } from '../nag.ts';
import { stateDatabaseProxyName } from '../physical-names.ts';

/**
 * The cluster's master user (generated credentials, the proxy's one secret): only the migrations
 * handler connects as it; every other function has a user of its own (`shared/stack/database-users.ts`).
 */
export const STATE_DATABASE_USER = MIGRATIONS_DATABASE_USER;
/** The schema that holds Piko's tables (and the upsert sinks' tables). */
export const STATE_DATABASE_NAME = 'piko';
/** MySQL's port; RDS Proxy always listens on it. */
const MYSQL_PORT = 3306;

/** Props of {@link StateDatabase}. */
export interface StateDatabaseProps {
  readonly vpc: ec2.IVpc;
  /** Where the cluster runs. */
  readonly databaseSubnets: ec2.SubnetSelection;
  /** Where the proxy and the secret rotation function run. */
  readonly proxySubnets: ec2.SubnetSelection;
  /** The only security group admitted by the proxy. */
  readonly clientSecurityGroup: ec2.ISecurityGroup;
  /** Encrypts the storage. */
  readonly encryptionKey: kms.IKey;
  /** Least Aurora capacity units; 0 lets an idle cluster pause (Aurora MySQL 3.08 and later). @default 0.5 */
  readonly minCapacity?: number;
  /** Most Aurora capacity units. @default 4 */
  readonly maxCapacity?: number;
  /** Refuse to delete the cluster (CloudFormation and console). @default true */
  readonly deletionProtection?: boolean;
  /** How long automated backups are kept. @default Duration.days(7) */
  readonly backupRetention?: Duration;
  /** Days between rotations of the generated credentials. @default 30 */
  readonly rotationDays?: number;
  /** @default rds.AuroraMysqlEngineVersion.VER_3_10_3 (a 3.10 long-term support release) */
  readonly engineVersion?: rds.AuroraMysqlEngineVersion;
  /**
   * The users the proxy logs in as with end-to-end IAM authentication (created by the migrations,
   * `IDENTIFIED WITH AWSAuthenticationPlugin`): the proxy's role may `rds-db:connect` as each.
   * @default []
   */
  readonly iamUsers?: readonly string[];
}

/**
 * Piko's state: Aurora MySQL 3 Serverless v2, storage encrypted with the stack's key, IAM database
 * authentication, generated credentials in Secrets Manager rotated on a schedule, and an RDS Proxy
 * that admits only IAM-authenticated TLS connections from Piko's functions: the connection pool
 * shared by every Lambda.
 */
export class StateDatabase extends Construct {
  readonly cluster: rds.DatabaseCluster;
  readonly proxy: rds.DatabaseProxy;

  constructor(scope: Construct, id: string, props: StateDatabaseProps) {
    super(scope, id);
    const problems: string[] = [];
    const minCapacity = props.minCapacity ?? 0.5;
    const maxCapacity = props.maxCapacity ?? 4;
    if (!(minCapacity >= 0 && minCapacity <= 256 && (minCapacity * 2) % 1 === 0)) {
      problems.push(`minCapacity ${minCapacity} must be 0 to 256 in steps of 0.5`);
    }
    if (
      !(maxCapacity >= 1 && maxCapacity <= 256 && (maxCapacity * 2) % 1 === 0 && maxCapacity >= minCapacity)
    ) {
      problems.push(`maxCapacity ${maxCapacity} must be 1 to 256 in steps of 0.5, and at least minCapacity`);
    }
    if (problems.length > 0) throw new Error(`StateDatabase: ${problems.join('; ')}`);
    const deletionProtection = props.deletionProtection ?? true;

    const clusterSecurityGroup = new ec2.SecurityGroup(this, 'ClusterSecurityGroup', {
      vpc: props.vpc,
      description: 'Piko state database: reachable from its RDS Proxy only',
      allowAllOutbound: false,
    });
    // A pinned engine version with automatic minor upgrades off: the template is the one record of
    // the version the cluster runs, and an upgrade is a reviewed change of `engineVersion`. With
    // automatic upgrades on, RDS moves the cluster past the pinned `EngineVersion` in a maintenance
    // window and the stack drifts (a later deploy that sets a version below the running one fails,
    // downgrades are refused). The other way round is not open: CDK's cluster engines take a full
    // version (there is no "major only"), and an unversioned engine leaves the version and parameter
    // group family to RDS's default of the day, which CDK advises against. Aurora upgrades a cluster
    // automatically only when the cluster and every instance allow it, so both say no.
    this.cluster = new rds.DatabaseCluster(this, 'Cluster', {
      engine: rds.DatabaseClusterEngine.auroraMysql({
        version: props.engineVersion ?? rds.AuroraMysqlEngineVersion.VER_3_10_3,
      }),
      autoMinorVersionUpgrade: false,
      writer: rds.ClusterInstance.serverlessV2('Writer', { autoMinorVersionUpgrade: false }),
      serverlessV2MinCapacity: minCapacity,
      serverlessV2MaxCapacity: maxCapacity,
      credentials: rds.Credentials.fromGeneratedSecret(STATE_DATABASE_USER),
      defaultDatabaseName: STATE_DATABASE_NAME,
      storageEncrypted: true,
      storageEncryptionKey: props.encryptionKey,
      iamAuthentication: true,
      deletionProtection,
      backup: { retention: props.backupRetention ?? Duration.days(7) },
      copyTagsToSnapshot: true,
      vpc: props.vpc,
      vpcSubnets: props.databaseSubnets,
      securityGroups: [clusterSecurityGroup],
      port: MYSQL_PORT,
    });
    this.cluster.addRotationSingleUser({
      automaticallyAfter: Duration.days(props.rotationDays ?? 30),
      vpcSubnets: props.proxySubnets,
    });

    const proxySecurityGroup = new ec2.SecurityGroup(this, 'ProxySecurityGroup', {
      vpc: props.vpc,
      description: 'Piko state database proxy: reachable from Piko functions only',
      allowAllOutbound: false,
    });
    // End-to-end IAM authentication: the proxy logs in to the cluster as a function's own user with an
    // IAM token of this role, so the role users need no password and no secret to rotate. The
    // master user keeps its secret (SECRETS auth, IAM still required from clients) for the migrations
    // handler, which creates those users.
    const proxyRole = new iam.Role(this, 'ProxyRole', {
      assumedBy: new iam.ServicePrincipal('rds.amazonaws.com'),
      description: 'Piko state database proxy: reads the master secret, connects as the Piko users',
    });
    const iamUsers = props.iamUsers ?? [];
    if (iamUsers.length > 0) {
      const stack = Stack.of(this);
      proxyRole.addToPrincipalPolicy(
        new iam.PolicyStatement({
          actions: ['rds-db:connect'],
          resources: iamUsers.map((user) =>
            stack.formatArn({
              service: 'rds-db',
              resource: 'dbuser',
              resourceName: `${this.cluster.clusterResourceIdentifier}/${user}`,
              arnFormat: ArnFormat.COLON_RESOURCE_NAME,
            }),
          ),
        }),
      );
    }
    this.proxy = this.cluster.addProxy('Proxy', {
      // Proxy names are unique per account and region: one per stack.
      dbProxyName: stateDatabaseProxyName(Stack.of(this).stackName),
      role: proxyRole,
      defaultAuthScheme: rds.DefaultAuthScheme.IAM_AUTH,
      secrets: [this.cluster.secret!],
      vpc: props.vpc,
      vpcSubnets: props.proxySubnets,
      securityGroups: [proxySecurityGroup],
      iamAuth: true,
      requireTLS: true,
      debugLogging: false,
      // Lambda containers come and go; idle client connections are closed after this.
      idleClientTimeout: Duration.minutes(30),
      maxConnectionsPercent: 90,
      borrowTimeout: Duration.seconds(30),
    });
    this.proxy.connections.allowFrom(props.clientSecurityGroup, ec2.Port.tcp(MYSQL_PORT), 'Piko functions');
    this.cluster.connections.allowFrom(this.proxy, ec2.Port.tcp(MYSQL_PORT), 'RDS Proxy');

    acknowledge(
      this.cluster,
      'AwsSolutions-RDS11',
      'Clients never reach the cluster: its security group admits only the RDS Proxy, which always listens ' +
        'on 3306 for MySQL, so a non-default cluster port would hide nothing.',
    );
    acknowledge(
      this.cluster,
      'AwsSolutions-RDS14',
      'Piko state is recovered by point-in-time restore from the automated backups; Backtrack would bill every ' +
        'change record of a write-heavy, high-frequency workload for a recovery mode the design does not use.',
    );
    acknowledgeGuardRule(
      this.cluster,
      'rds_instance_automatic_minor_version_upgrade_enabled_check',
      'The engine version is pinned and upgraded by changing engineVersion (a reviewed deploy): automatic minor ' +
        'upgrades would move the cluster past the template and make the stack drift (see the comment at the cluster).',
    );
    acknowledgeGuardRule(
      this.cluster,
      'rds_cluster_logging_enabled_check',
      'The control asks for all four MySQL logs; the general log records every statement of a high-frequency ' +
        'planner, and the audit log needs the server_audit plugin, both for every tick. Runs and their errors are ' +
        'recorded by Piko in the state database and in the function logs; the error log stays in the RDS console.',
    );
    acknowledgeGuardRule(
      this.cluster,
      'rds_instance_enhanced_monitoring_enabled_check',
      'Enhanced Monitoring samples the host operating system of a Serverless v2 instance, whose capacity Aurora ' +
        'manages; Piko alarms on its own run metrics and the cluster metrics (ACUs, connections) in CloudWatch. ' +
        'Turning it on needs a monitoring role writing to the shared RDSOSMetrics log group.',
    );
    if (!deletionProtection) {
      acknowledge(
        this.cluster,
        'AwsSolutions-RDS10',
        'Deletion protection was turned off on purpose through the stack prop deletionProtection: false (a ' +
          'disposable environment); production stacks keep the default.',
      );
    }
  }

  /**
   * The DSN of the state database for IAM authentication through the proxy as `user`: no password,
   * TLS. Tokens are signed for that user.
   */
  dsnFor(user: string): string {
    return `mysql://${user}@${this.proxy.endpoint}:${MYSQL_PORT}/${STATE_DATABASE_NAME}`;
  }

  /** Lets `grantee` connect through the proxy as `user` only (`rds-db:connect` on `dbuser:<proxy id>/<user>`). */
  grantConnect(grantee: iam.IGrantable, user: string): iam.Grant {
    return this.proxy.grantConnect(grantee, user);
  }
}
