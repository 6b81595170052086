import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Validations } from 'aws-cdk-lib';
import { Match } from 'aws-cdk-lib/assertions';
import type * as ecs from 'aws-cdk-lib/aws-ecs';
import * as logs from 'aws-cdk-lib/aws-logs';
import { describe, expect, it } from 'vitest';
import { type Migrations, migrationsHash } from '../../infra/constructs/migrations.ts';
import { CFN_GUARD_NAMESPACE } from '../../infra/nag.ts';
import { loadConfig } from '../../shared/config.ts';
import { OUTPUT_JOB_LOG_GROUPS, STACK_OUTPUT_NAMES } from '../../shared/stack/outputs.ts';
import {
  buildPikoStack,
  cfnText,
  fixtureJobs,
  type Resources,
  roleStatements,
  validationReport,
} from './fixtures.ts';

const { app, stack, template, nag } = buildPikoStack(
  fixtureJobs,
  { alarmEmail: 'ops@example.com' },
  { cfnGuard: true },
);
const resources = template.toJSON().Resources as Resources;
const render = cfnText(stack);
const ofType = (type: string) => Object.values(resources).filter((resource) => resource.Type === type);
const logicalId = (construct: { node: { defaultChild?: unknown } }) =>
  stack.resolve((construct.node.defaultChild as { logicalId: string }).logicalId) as string;

const ARN = 'arn:<AWS::Partition>';
const IN_REGION = '<AWS::Region>:<AWS::AccountId>';
const LAMBDA_VPC_ACCESS = {
  Action: [
    'ec2:CreateNetworkInterface',
    'ec2:DescribeNetworkInterfaces',
    'ec2:DescribeSubnets',
    'ec2:DeleteNetworkInterface',
    'ec2:AssignPrivateIpAddresses',
    'ec2:UnassignPrivateIpAddresses',
  ],
  Effect: 'Allow',
  Resource: '*',
};
/** `rds-db:connect` through the proxy as one database user, and only that one. */
const connectAs = (user: string) => ({
  Action: 'rds-db:connect',
  Effect: 'Allow',
  Resource: `${ARN}:rds-db:${IN_REGION}:dbuser:<Select(6, Split(':', StateDatabase/Cluster/Proxy.DBProxyArn))>/${user}`,
});
/** The DSN of the state database as one database user. */
const dsnOf = (user: string) => `mysql://${user}@<StateDatabase/Cluster/Proxy.Endpoint>:3306/piko`;
/** The `archive` fixture declares objectStore(): its own prefix of the job-outputs bucket, nothing else. */
const ARCHIVE_OBJECTS = {
  Action: ['s3:PutObject', 's3:GetObject'],
  Effect: 'Allow',
  Resource: '<JobOutputs/Bucket.Arn>/jobs/archive/*',
};
/** What CDK grants any state machine that logs (no resource-level permissions exist for these). */
const LOG_DELIVERY = {
  Action: [
    'logs:CreateLogDelivery',
    'logs:GetLogDelivery',
    'logs:UpdateLogDelivery',
    'logs:DeleteLogDelivery',
    'logs:ListLogDeliveries',
    'logs:PutResourcePolicy',
    'logs:DescribeResourcePolicies',
    'logs:DescribeLogGroups',
  ],
  Effect: 'Allow',
  Resource: '*',
};
const XRAY = {
  Action: [
    'xray:PutTraceSegments',
    'xray:PutTelemetryRecords',
    'xray:GetSamplingRules',
    'xray:GetSamplingTargets',
  ],
  Effect: 'Allow',
  Resource: '*',
};

describe('PikoStack', () => {
  it('has every resource the issue names', () => {
    const arnOf = (construct: { node: { defaultChild?: unknown } }) => ({
      'Fn::GetAtt': [logicalId(construct), 'Arn'],
    });
    template.resourceCountIs('AWS::Scheduler::Schedule', 5); // payroll restricts both day fields: two
    for (const [name, jobId] of [
      ['fanout', 'fanout'],
      ['upsert', 'upsert'],
      ['archive', 'archive'],
      ['payroll.dom', 'payroll'],
      ['payroll.dow', 'payroll'],
    ]) {
      template.hasResourceProperties('AWS::Scheduler::Schedule', {
        Name: name,
        GroupName: 'Piko',
        State: 'ENABLED',
        Target: Match.objectLike({ Arn: arnOf(stack.control.function), Input: JSON.stringify({ jobId }) }),
      });
    }
    template.resourceCountIs('AWS::StepFunctions::StateMachine', fixtureJobs.length + 1);
    for (const name of ['Piko-fanout', 'Piko-upsert', 'Piko-archive', 'Piko-payroll', 'Piko--backfill']) {
      template.hasResourceProperties('AWS::StepFunctions::StateMachine', {
        StateMachineName: name,
        StateMachineType: 'STANDARD',
      });
    }
    template.resourceCountIs('AWS::RDS::DBCluster', 1);
    template.hasResourceProperties('AWS::RDS::DBCluster', {
      Engine: 'aurora-mysql',
      DatabaseName: 'piko',
      EnableIAMDatabaseAuthentication: true,
    });
    template.resourceCountIs('AWS::RDS::DBProxy', 1);
    template.hasResourceProperties('AWS::RDS::DBProxy', {
      DBProxyName: 'piko-state',
      EngineFamily: 'MYSQL',
      RequireTLS: true,
    });
    template.resourceCountIs('AWS::ECS::TaskDefinition', 1); // archive's one Fargate stage
    template.hasResourceProperties('AWS::ECS::TaskDefinition', {
      Family: { 'Fn::Join': ['', [{ Ref: 'AWS::StackName' }, '-archive-compress']] },
      Cpu: '2048',
      Memory: '4096',
      RequiresCompatibilities: ['FARGATE'],
    });
    template.resourceCountIs('AWS::SQS::Queue', 1); // the schedules' dead-letter queue
    template.hasResourceProperties('AWS::Scheduler::Schedule', {
      Target: Match.objectLike({ DeadLetterConfig: { Arn: arnOf(stack.schedules.deadLetterQueue) } }),
    });
    template.resourceCountIs('AWS::CloudWatch::Dashboard', 1);
    template.hasResourceProperties('AWS::CloudWatch::Dashboard', {
      DashboardName: { 'Fn::Join': ['', ['Piko-', { Ref: 'AWS::Region' }]] },
    });
    // dispatcher, migrations handler and its provider, one per job
    template.resourceCountIs('AWS::Lambda::Function', 3 + fixtureJobs.length);
    for (const description of [
      'Piko dispatcher: plans due intervals and starts job workflows',
      'Piko: applies state database migrations on deploy',
      'AWS CDK resource provider framework - onEvent (Piko/Migrations/Provider)',
      ...fixtureJobs.map((job) => `Piko job ${job.id}: Lambda stages`),
    ]) {
      template.hasResourceProperties('AWS::Lambda::Function', { Description: description });
    }
    expect(ofType('AWS::CloudWatch::Alarm').length).toBeGreaterThanOrEqual(4);
  });

  it('schedules each job with its cron, timezone and input, no flexible window, retries and the DLQ', () => {
    const expected: [name: string, expression: string, timezone: string, jobId: string][] = [
      ['fanout', 'cron(* * * * ? *)', 'UTC', 'fanout'],
      ['upsert', 'cron(0/5 * * * ? *)', 'Europe/Paris', 'upsert'],
      ['archive', 'cron(0 2 * * ? *)', 'Asia/Shanghai', 'archive'],
      ['payroll.dom', 'cron(0 6 1,15 * ? *)', 'America/New_York', 'payroll'],
      ['payroll.dow', 'cron(0 6 ? * 2 *)', 'America/New_York', 'payroll'],
    ];
    const schedules = ofType('AWS::Scheduler::Schedule').map((schedule) => render(schedule.Properties));
    expect(schedules).toHaveLength(expected.length);
    for (const [name, expression, timezone, jobId] of expected) {
      expect(schedules).toContainEqual(
        expect.objectContaining({
          Name: name,
          GroupName: 'Piko',
          ScheduleExpression: expression,
          ScheduleExpressionTimezone: timezone,
          FlexibleTimeWindow: { Mode: 'OFF' },
          State: 'ENABLED',
          Target: {
            Arn: '<Dispatcher/Function/Function.Arn>',
            Input: JSON.stringify({ jobId }),
            RetryPolicy: { MaximumRetryAttempts: 10, MaximumEventAgeInSeconds: 3600 },
            DeadLetterConfig: { Arn: '<Schedules/DeadLetters.Arn>' },
            RoleArn: expect.stringMatching(/^<SchedulerRoleForTarget-[0-9a-f]+\.Arn>$/),
          },
        }),
      );
    }
    template.hasResourceProperties('AWS::Scheduler::ScheduleGroup', { Name: 'Piko' });
  });

  it('encrypts the dead-letter queue and the alarm topic, and requires TLS to both', () => {
    template.hasResourceProperties('AWS::SQS::Queue', {
      SqsManagedSseEnabled: true,
      MessageRetentionPeriod: 1_209_600,
    });
    template.hasResourceProperties('AWS::SNS::Topic', { KmsMasterKeyId: Match.anyValue() });
    const denyPlainHttp = Match.objectLike({
      Effect: 'Deny',
      Condition: { Bool: { 'aws:SecureTransport': 'false' } },
    });
    template.hasResourceProperties('AWS::SQS::QueuePolicy', {
      PolicyDocument: { Statement: Match.arrayWith([denyPlainHttp]) },
    });
    template.hasResourceProperties('AWS::SNS::TopicPolicy', {
      PolicyDocument: { Statement: Match.arrayWith([denyPlainHttp]) },
    });
    template.hasResourceProperties('AWS::SNS::Subscription', {
      Protocol: 'email',
      Endpoint: 'ops@example.com',
    });
  });

  it('encrypts every log group with the stack key', () => {
    const groups = ofType('AWS::Logs::LogGroup');
    expect(groups.length).toBeGreaterThan(0);
    for (const group of groups) expect(render(group.Properties?.KmsKeyId)).toBe('<Key.Arn>');
    template.hasResourceProperties('AWS::KMS::Key', {
      EnableKeyRotation: true,
      KeyPolicy: {
        Statement: Match.arrayWith([
          {
            Sid: 'GrantsOnlyForAwsResources',
            Effect: 'Deny',
            Principal: { AWS: '*' },
            Action: 'kms:CreateGrant',
            Resource: '*',
            Condition: {
              BoolIfExists: { 'kms:GrantIsForAWSResource': 'false', 'aws:PrincipalIsAWSService': 'false' },
            },
          },
        ]),
      },
    });
  });

  it('runs Aurora MySQL 3 Serverless v2, encrypted, with IAM auth, deletion protection and backups', () => {
    expect(render(ofType('AWS::RDS::DBCluster')[0]!.Properties)).toMatchObject({
      Engine: 'aurora-mysql',
      EngineVersion: '8.0.mysql_aurora.3.10.3',
      // Pinned, so RDS must not upgrade it behind the template's back (state-database.ts says why).
      AutoMinorVersionUpgrade: false,
      ServerlessV2ScalingConfiguration: { MinCapacity: 0.5, MaxCapacity: 4 },
      StorageEncrypted: true,
      KmsKeyId: '<Key.Arn>',
      EnableIAMDatabaseAuthentication: true,
      DeletionProtection: true,
      BackupRetentionPeriod: 7,
      MasterUsername: 'piko_admin',
      DatabaseName: 'piko',
    });
    template.hasResourceProperties('AWS::RDS::DBInstance', {
      DBInstanceClass: 'db.serverless',
      AutoMinorVersionUpgrade: false,
    });
    template.hasResourceProperties('AWS::SecretsManager::RotationSchedule', {
      RotationRules: { ScheduleExpression: 'rate(30 days)' },
    });
  });

  it('puts an RDS Proxy in front that requires IAM auth and TLS', () => {
    expect(render(ofType('AWS::RDS::DBProxy')[0]!.Properties)).toMatchObject({
      EngineFamily: 'MYSQL',
      RequireTLS: true,
      Auth: [
        {
          AuthScheme: 'SECRETS',
          IAMAuth: 'REQUIRED',
          SecretArn: '<StateDatabase/Cluster/Secret/Attachment>',
        },
      ],
      VpcSubnetIds: ['<Network/Vpc/FunctionsSubnet1/Subnet>', '<Network/Vpc/FunctionsSubnet2/Subnet>'],
    });
  });

  it('admits only Piko functions to the proxy, and only the proxy to the cluster', () => {
    const ingress = ofType('AWS::EC2::SecurityGroupIngress').map((rule) => render(rule.Properties));
    expect(ingress).toContainEqual(
      expect.objectContaining({
        GroupId: '<StateDatabase/ProxySecurityGroup.GroupId>',
        SourceSecurityGroupId: '<Network/Functions.GroupId>',
        FromPort: 3306,
        ToPort: 3306,
      }),
    );
    expect(ingress).toContainEqual(
      expect.objectContaining({
        GroupId: '<StateDatabase/ClusterSecurityGroup.GroupId>',
        SourceSecurityGroupId: '<StateDatabase/ProxySecurityGroup.GroupId>',
        FromPort: 3306,
      }),
    );
  });

  it('gives nothing launched in the public subnets a public address by default', () => {
    const publicSubnets = ofType('AWS::EC2::Subnet').filter((subnet) =>
      ((subnet.Properties?.Tags ?? []) as { Key: string; Value: string }[]).some(
        ({ Key, Value }) => Key === 'aws-cdk:subnet-type' && Value === 'Public',
      ),
    );
    expect(publicSubnets).toHaveLength(2);
    for (const subnet of publicSubnets) expect(subnet.Properties?.MapPublicIpOnLaunch).toBe(false);
  });

  it('logs all VPC traffic and reaches AWS through VPC endpoints', () => {
    template.hasResourceProperties('AWS::EC2::FlowLog', {
      TrafficType: 'ALL',
      LogDestinationType: 'cloud-watch-logs',
    });
    const endpoints = ofType('AWS::EC2::VPCEndpoint').map((endpoint) =>
      render(endpoint.Properties?.ServiceName),
    );
    // ecs: the dispatcher stops the tasks of cancelled runs' Fargate stages.
    for (const service of ['states', 'secretsmanager', 'logs', 'ecr.api', 'ecr.dkr', 'sts', 'ecs']) {
      expect(endpoints).toContain(`com.amazonaws.<AWS::Region>.${service}`);
    }
    expect(endpoints.some((name) => String(name).endsWith('.s3'))).toBe(true);
  });

  it('gives the dispatcher exactly its grants', () => {
    expect(roleStatements(stack, template, stack.control.role)).toEqual([
      {
        Action: ['logs:CreateLogStream', 'logs:PutLogEvents'],
        Effect: 'Allow',
        Resource: '<Dispatcher/Function/Logs.Arn>',
      },
      LAMBDA_VPC_ACCESS,
      connectAs('piko_dispatcher'),
      {
        Action: 'states:StartExecution',
        Effect: 'Allow',
        Resource: ['fanout', 'upsert', 'archive', 'payroll'].map(
          (jobId) => `${ARN}:states:${IN_REGION}:stateMachine:Piko-${jobId}`,
        ),
      },
      {
        Action: 'states:DescribeExecution',
        Effect: 'Allow',
        Resource: ['fanout', 'upsert', 'archive', 'payroll'].map(
          (jobId) => `${ARN}:states:${IN_REGION}:execution:Piko-${jobId}:*`,
        ),
      },
      // A cancel stops the task of a run's Fargate stage: the tasks of the stack's cluster only.
      {
        Action: 'ecs:StopTask',
        Condition: { ArnEquals: { 'ecs:cluster': '<Fargate/Cluster.Arn>' } },
        Effect: 'Allow',
        Resource: `${ARN}:ecs:${IN_REGION}:task/<Fargate/Cluster>/*`,
      },
    ]);
  });

  it('lets the dispatcher stop no task when no job has a Fargate stage', () => {
    const { stack: lambdaOnly, template: lambdaTemplate } = buildPikoStack([fixtureJobs[0]!]);
    lambdaTemplate.resourceCountIs('AWS::ECS::Cluster', 0);
    const actions = roleStatements(lambdaOnly, lambdaTemplate, lambdaOnly.control.role).flatMap(
      (statement) => (statement as { Action: string | string[] }).Action,
    );
    expect(actions).toContain('states:StartExecution');
    expect(actions.filter((action) => action.startsWith('ecs:'))).toEqual([]);
    lambdaTemplate.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ PIKO_AWS__STACK_NAME: 'Piko' }) },
    });
    const variables = Object.values(lambdaTemplate.toJSON().Resources as Resources).flatMap((resource) =>
      Object.keys((resource.Properties?.Environment as { Variables?: object } | undefined)?.Variables ?? {}),
    );
    expect(variables).not.toContain('PIKO_AWS__ECS_CLUSTER');
    // … nor an ECS endpoint to reach it through.
    const services = Object.values(lambdaTemplate.toJSON().Resources as Resources)
      .filter((resource) => resource.Type === 'AWS::EC2::VPCEndpoint')
      .map((resource) => JSON.stringify(resource.Properties?.ServiceName));
    expect(services.some((name) => name.includes('.states'))).toBe(true);
    expect(services.filter((name) => name.includes('.ecs'))).toEqual([]);
  });

  it('tells the dispatcher the cluster whose tasks it may stop, by the condition ecs:cluster', () => {
    template.hasResourceProperties('AWS::IAM::Policy', {
      Roles: [{ Ref: logicalId(stack.control.role) }],
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Action: 'ecs:StopTask',
            Condition: {
              ArnEquals: {
                'ecs:cluster': { 'Fn::GetAtt': [Match.stringLikeRegexp('^FargateCluster'), 'Arn'] },
              },
            },
          }),
        ]),
      },
    });
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: {
        Variables: Match.objectLike({
          PIKO_AWS__ECS_CLUSTER: { 'Fn::GetAtt': [Match.stringLikeRegexp('^FargateCluster'), 'Arn'] },
        }),
      },
    });
  });

  it('gives a job function exactly its grants', () => {
    const upsert = stack.jobFunctions.byJob.get('upsert')!;
    expect(roleStatements(stack, template, upsert.role)).toEqual([
      {
        Action: ['logs:CreateLogStream', 'logs:PutLogEvents'],
        Effect: 'Allow',
        Resource: '<JobFunctions/upsert/Logs.Arn>',
      },
      LAMBDA_VPC_ACCESS,
      connectAs('piko_job_upsert'),
    ]);
  });

  it('gives the job function of a job with objectStore() its own prefix of the bucket, and no other job any', () => {
    const archive = stack.jobFunctions.byJob.get('archive')!;
    expect(roleStatements(stack, template, archive.role)).toEqual([
      {
        Action: ['logs:CreateLogStream', 'logs:PutLogEvents'],
        Effect: 'Allow',
        Resource: '<JobFunctions/archive/Logs.Arn>',
      },
      LAMBDA_VPC_ACCESS,
      connectAs('piko_job_archive'),
      ARCHIVE_OBJECTS,
    ]);
    const s3Statements = Object.values(resources)
      .filter((resource) => resource.Type === 'AWS::IAM::Policy')
      .flatMap(
        (policy) => (policy.Properties!.PolicyDocument as { Statement: { Action: unknown }[] }).Statement,
      )
      .filter((statement) => JSON.stringify(statement.Action).includes('s3:'));
    // The archive function and the archive task role; nobody else.
    expect(s3Statements.map((statement) => render(statement))).toEqual([ARCHIVE_OBJECTS, ARCHIVE_OBJECTS]);
  });

  it('keeps job outputs in a private, TLS-only, encrypted, unversioned bucket that outlives the stack', () => {
    const [bucketId, ...moreBuckets] = Object.entries(resources)
      .filter(([, resource]) => resource.Type === 'AWS::S3::Bucket')
      .map(([id]) => id);
    expect(moreBuckets).toEqual([]);
    expect(template.toJSON().Resources[bucketId!]).toMatchObject({
      DeletionPolicy: 'Retain',
      UpdateReplacePolicy: 'Retain',
    });
    expect(resources[bucketId!]!.Properties).toEqual({
      PublicAccessBlockConfiguration: {
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      },
      OwnershipControls: { Rules: [{ ObjectOwnership: 'BucketOwnerEnforced' }] },
      BucketEncryption: {
        ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }],
      },
      LifecycleConfiguration: {
        Rules: [
          {
            Id: 'AbortIncompleteUploads',
            AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 },
            Status: 'Enabled',
          },
        ],
      },
    });
    template.hasResourceProperties('AWS::S3::BucketPolicy', {
      Bucket: { Ref: bucketId },
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Effect: 'Deny',
            Action: 's3:*',
            Principal: { AWS: '*' },
            Condition: { Bool: { 'aws:SecureTransport': 'false' } },
          }),
          Match.objectLike({
            Effect: 'Deny',
            Action: 's3:*',
            Principal: { AWS: '*' },
            Condition: { NumericLessThan: { 's3:TlsVersion': 1.2 } },
          }),
        ]),
      },
    });
  });

  it('creates no bucket when no job declares objectStore()', () => {
    const { stack: plain, template: plainTemplate } = buildPikoStack([fixtureJobs[0]!]);
    plainTemplate.resourceCountIs('AWS::S3::Bucket', 0);
    expect(plain.jobOutputs).toBeUndefined();
    // … and no function is told of one, nor allowed any S3 action.
    const plainResources = Object.values(plainTemplate.toJSON().Resources as Resources);
    const variables = plainResources
      .filter((resource) => resource.Type === 'AWS::Lambda::Function')
      .flatMap((resource) =>
        Object.keys(
          (resource.Properties?.Environment as { Variables?: object } | undefined)?.Variables ?? {},
        ),
      );
    expect(variables).toContain('PIKO_JOB_ID');
    expect(variables).not.toContain('PIKO_OBJECTS__BUCKET');
    const actions = plainResources
      .filter((resource) => resource.Type === 'AWS::IAM::Policy')
      .flatMap(
        (resource) =>
          (resource.Properties!.PolicyDocument as { Statement: { Action: string | string[] }[] }).Statement,
      )
      .flatMap((statement) => statement.Action);
    expect(actions).toContain('rds-db:connect');
    expect(actions.filter((action) => action.startsWith('s3:'))).toEqual([]);
  });

  it('gives Fargate stage tasks only the database and their job’s objects, and the workflow RunTask on its task definition', () => {
    const taskRole = stack.node.findChild('Fargate').node.findChild('archive-TaskRole');
    expect(roleStatements(stack, template, taskRole)).toEqual([
      connectAs('piko_job_archive'),
      ARCHIVE_OBJECTS,
    ]);
    const workflowRole = stack.jobStateMachines.byJob.get('archive')!.role;
    expect(roleStatements(stack, template, workflowRole)).toEqual([
      {
        Action: 'lambda:InvokeFunction',
        Effect: 'Allow',
        Resource: ['<Dispatcher/Function/Function.Arn>', '<Dispatcher/Function/Function.Arn>:*'],
      },
      {
        Action: 'lambda:InvokeFunction',
        Effect: 'Allow',
        Resource: ['<JobFunctions/archive/Function.Arn>', '<JobFunctions/archive/Function.Arn>:*'],
      },
      // Ref of a task definition is its ARN with the revision this stack deployed.
      { Action: 'ecs:RunTask', Effect: 'Allow', Resource: '<Fargate/archive-compress>' },
      { Action: ['ecs:StopTask', 'ecs:DescribeTasks'], Effect: 'Allow', Resource: '*' },
      {
        Action: 'iam:PassRole',
        Effect: 'Allow',
        Resource: ['<Fargate/archive-TaskRole.Arn>', '<Fargate/archive-compress/ExecutionRole.Arn>'],
      },
      {
        Action: ['events:PutTargets', 'events:PutRule', 'events:DescribeRule'],
        Effect: 'Allow',
        Resource: `${ARN}:events:${IN_REGION}:rule/StepFunctionsGetEventsForECSTaskRule`,
      },
      LOG_DELIVERY,
      XRAY,
    ]);
  });

  it('lets the backfill state machine start job workflows and itself, nothing more', () => {
    expect(roleStatements(stack, template, stack.backfill.stateMachine.role)).toEqual([
      {
        Action: 'lambda:InvokeFunction',
        Effect: 'Allow',
        Resource: ['<Dispatcher/Function/Function.Arn>', '<Dispatcher/Function/Function.Arn>:*'],
      },
      LOG_DELIVERY,
      XRAY,
      {
        Action: 'states:StartExecution',
        Effect: 'Allow',
        Resource: ['fanout', 'upsert', 'archive', 'payroll', '-backfill'].map(
          (name) => `${ARN}:states:${IN_REGION}:stateMachine:Piko-${name}`,
        ),
      },
      {
        Action: ['states:DescribeExecution', 'states:StopExecution'],
        Effect: 'Allow',
        Resource: ['fanout', 'upsert', 'archive', 'payroll'].map(
          (jobId) => `${ARN}:states:${IN_REGION}:execution:Piko-${jobId}:*`,
        ),
      },
      {
        Action: ['events:PutTargets', 'events:PutRule', 'events:DescribeRule'],
        Effect: 'Allow',
        Resource: `${ARN}:events:${IN_REGION}:rule/StepFunctionsGetEventsForStepFunctionsExecutionRule`,
      },
    ]);
  });

  it('sets each function’s environment, all of it valid Piko configuration', () => {
    const variables = (construct: { node: { defaultChild?: unknown } }) =>
      (
        render(resources[logicalId(construct)]!.Properties?.Environment) as {
          Variables: Record<string, string>;
        }
      ).Variables;
    expect(variables(stack.control.function)).toEqual({
      PIKO_MYSQL__DSN: dsnOf('piko_dispatcher'),
      PIKO_MYSQL__IAM_AUTH: 'true',
      PIKO_AWS__STACK_NAME: 'Piko',
      PIKO_AWS__ECS_CLUSTER: '<Fargate/Cluster.Arn>',
    });
    const jobEnvironment = (jobId: string) => ({
      NODE_OPTIONS: '--enable-source-maps',
      // Each job function knows its job: the stage runner refuses events for others.
      PIKO_JOB_ID: jobId,
      // The metrics' stack dimension.
      PIKO_AWS__STACK_NAME: 'Piko',
      // … and connects as its own database user.
      PIKO_MYSQL__DSN: dsnOf(`piko_job_${jobId}`),
      PIKO_MYSQL__IAM_AUTH: 'true',
      PIKO_DATA_DIR: '/tmp/piko',
    });
    for (const [jobId, fn] of stack.jobFunctions.byJob)
      expect(variables(fn.function)).toEqual(
        // Only jobs that declare objectStore() learn the bucket's name.
        jobId === 'archive'
          ? { ...jobEnvironment(jobId), PIKO_OBJECTS__BUCKET: '<JobOutputs/Bucket>' }
          : jobEnvironment(jobId),
      );
    // Unknown PIKO_* variables are configuration errors: every function's must load.
    for (const fn of [stack.control, ...stack.jobFunctions.byJob.values()]) {
      const env = Object.fromEntries(
        Object.entries(variables(fn.function)).map(([name, value]) => [
          name,
          value
            .replace(
              '<StateDatabase/Cluster/Proxy.Endpoint>',
              'piko-state.proxy-abc.eu-west-1.rds.amazonaws.com',
            )
            .replace('<JobOutputs/Bucket>', 'piko-joboutputsbucket-1a2b3c4d5e6f')
            .replace(
              '<Fargate/Cluster.Arn>',
              'arn:aws:ecs:eu-west-1:123456789012:cluster/Piko-FargateCluster',
            ),
        ]),
      );
      expect(() =>
        loadConfig({ cwd: '/nonexistent', env: { ...env, AWS_REGION: 'eu-west-1' } }),
      ).not.toThrow();
    }
  });

  it('sizes job functions from the job: memory, and timeout + 30 s within Lambda’s 15 minutes', () => {
    const fn = (jobId: string) =>
      resources[logicalId(stack.jobFunctions.byJob.get(jobId)!.function)]!.Properties!;
    expect(fn('fanout')).toMatchObject({
      MemorySize: 256,
      Timeout: 60,
      Runtime: 'nodejs24.x',
      Architectures: ['arm64'],
    });
    expect(fn('upsert')).toMatchObject({ MemorySize: 512, Timeout: 90 });
    expect(fn('archive')).toMatchObject({ MemorySize: 1024, Timeout: 900 });
    expect(render(fn('fanout').VpcConfig)).toMatchObject({
      SecurityGroupIds: ['<Network/Functions.GroupId>'],
    });
    template.hasResourceProperties('AWS::Lambda::Function', {
      Description: 'Piko dispatcher: plans due intervals and starts job workflows',
      Runtime: 'nodejs24.x',
      MemorySize: 1024,
      Timeout: 300,
    });
  });

  it('runs Fargate stages with their size, a read-only root, CloudWatch logs and Container Insights', () => {
    expect(render(ofType('AWS::ECS::TaskDefinition')[0]!.Properties)).toMatchObject({
      // Families are account-wide and RunTask by family runs the newest revision: one per stack.
      Family: '<AWS::StackName>-archive-compress',
      Cpu: '2048',
      Memory: '4096',
      RequiresCompatibilities: ['FARGATE'],
      ContainerDefinitions: [
        {
          Name: 'stage',
          ReadonlyRootFilesystem: true,
          User: '1000:1000',
          Memory: 4096,
          LogConfiguration: { LogDriver: 'awslogs', Options: { 'awslogs-stream-prefix': 'archive' } },
          MountPoints: [{ ContainerPath: '/tmp', SourceVolume: 'tmp', ReadOnly: false }],
          Environment: [
            { Name: 'PIKO_JOB_ID', Value: 'archive' },
            { Name: 'PIKO_AWS__STACK_NAME', Value: 'Piko' },
            { Name: 'PIKO_MYSQL__DSN', Value: dsnOf('piko_job_archive') },
            { Name: 'PIKO_MYSQL__IAM_AUTH', Value: 'true' },
            { Name: 'PIKO_DATA_DIR', Value: '/tmp/piko' },
            { Name: 'PIKO_OBJECTS__BUCKET', Value: '<JobOutputs/Bucket>' },
          ],
        },
      ],
    });
    template.hasResourceProperties('AWS::ECS::Cluster', {
      ClusterSettings: [{ Name: 'containerInsights', Value: 'enabled' }],
    });
    // The image is built at deploy time from the repository (Dockerfile under functions/container).
    const image = (
      stack.node.findChild('Fargate') as unknown as {
        jobs: Map<string, { taskDefinitions: Record<string, ecs.FargateTaskDefinition> }>;
      }
    ).jobs.get('archive')!.taskDefinitions.compress!.defaultContainer!;
    expect(image.containerName).toBe('stage');
  });

  it('builds the stage image for the CPU architecture its task definitions run on', () => {
    const [task, ...others] = ofType('AWS::ECS::TaskDefinition');
    expect(others).toEqual([]);
    expect(task!.Properties).toMatchObject({
      RuntimePlatform: { CpuArchitecture: 'X86_64', OperatingSystemFamily: 'LINUX' },
    });
    const manifest = JSON.parse(
      readFileSync(path.join(app.synth().directory, 'Piko.assets.json'), 'utf8'),
    ) as {
      dockerImages: Record<string, { source: { directory: string; platform?: string } }>;
    };
    expect(Object.values(manifest.dockerImages).map((image) => image.source.platform)).toEqual([
      'linux/amd64',
    ]);
  });

  it('names the state machines for the dispatcher, logging ALL events with tracing on', () => {
    const machines = ofType('AWS::StepFunctions::StateMachine').map((machine) => render(machine.Properties));
    expect(
      machines.map((machine) => (machine as { StateMachineName: string }).StateMachineName).sort(),
    ).toEqual(['Piko--backfill', 'Piko-archive', 'Piko-fanout', 'Piko-payroll', 'Piko-upsert']);
    for (const machine of machines) {
      expect(machine).toMatchObject({
        StateMachineType: 'STANDARD',
        TracingConfiguration: { Enabled: true },
        LoggingConfiguration: {
          Level: 'ALL',
          Destinations: [{ CloudWatchLogsLogGroup: { LogGroupArn: expect.any(String) } }],
        },
      });
    }
    template.hasResourceProperties('AWS::Logs::LogGroup', {
      LogGroupName: '/aws/vendedlogs/states/Piko-fanout',
    });
  });

  it('connects the migrations handler, and only it, as the master user', () => {
    const { handler } = stack.node.findChild('Migrations') as Migrations;
    expect(roleStatements(stack, template, handler.role)).toContainEqual(connectAs('piko_admin'));
    const env = render(resources[logicalId(handler.function)]!.Properties?.Environment) as {
      Variables: Record<string, string>;
    };
    expect(env.Variables.PIKO_MYSQL__DSN).toBe(dsnOf('piko_admin'));
    const admins = ofType('AWS::IAM::Policy').filter((policy) =>
      JSON.stringify(render(policy.Properties)).includes('/piko_admin'),
    );
    expect(admins).toHaveLength(1);
  });

  it('has the proxy log in as each role user with end-to-end IAM, the master user through its secret', () => {
    template.hasResourceProperties('AWS::RDS::DBProxy', {
      DefaultAuthScheme: 'IAM_AUTH',
      RequireTLS: true,
      Auth: [Match.objectLike({ AuthScheme: 'SECRETS', IAMAuth: 'REQUIRED' })],
    });
    const proxyRole = stack.database.node.findChild('ProxyRole');
    expect(roleStatements(stack, template, proxyRole)).toContainEqual({
      Action: 'rds-db:connect',
      Effect: 'Allow',
      Resource: [
        'piko_dispatcher',
        'piko_job_fanout',
        'piko_job_upsert',
        'piko_job_archive',
        'piko_job_payroll',
      ].map(
        (user) => `${ARN}:rds-db:${IN_REGION}:dbuser:<StateDatabase/Cluster.DBClusterResourceId>/${user}`,
      ),
    });
  });

  it('creates the users with the migrations: the dispatcher reads and writes rows, a job its runs', () => {
    const [migrations] = ofType('Custom::PikoMigrations');
    const users = JSON.parse((migrations!.Properties as { databaseUsers: string }).databaseUsers);
    expect(users[0]).toEqual({
      user: 'piko_dispatcher',
      grants: [
        'piko_jobs',
        'piko_runs',
        'piko_backfills',
        'piko_actions',
        'piko_alerts',
        'piko_deadline_watch',
      ].map((table) => ({
        table,
        privileges: ['SELECT', 'INSERT', 'UPDATE', 'DELETE'],
      })),
    });
    expect(users.find((plan: { user: string }) => plan.user === 'piko_job_upsert')).toEqual({
      user: 'piko_job_upsert',
      grants: [
        { table: 'piko_runs', privileges: ['SELECT', 'UPDATE'] },
        { table: 'piko_jobs', privileges: ['SELECT'] },
        { table: 'piko_backfills', privileges: ['SELECT'] },
      ],
    });
  });

  it('migrates on deploy, again whenever the migrations change', () => {
    template.hasResourceProperties('Custom::PikoMigrations', { migrationsHash: migrationsHash() });
    expect(migrationsHash()).toMatch(/^[0-9a-f]{16}$/);
    const [schedule] = ofType('AWS::Scheduler::Schedule');
    expect(schedule!.DependsOn).toEqual(expect.arrayContaining([expect.stringMatching(/^Migrations/)]));
  });

  it('alarms on failed runs, dead letters and dispatcher errors, to the topic', () => {
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'Piko',
      MetricName: 'RunsFailed',
      // The stack's own runs only: another stack in the account has its own `stack` dimension.
      Dimensions: [
        { Name: 'service', Value: 'piko' },
        { Name: 'stack', Value: 'Piko' },
      ],
      Threshold: 1,
      AlarmActions: [{ Ref: Match.stringLikeRegexp('^ObservabilityAlarms') }],
    });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'ApproximateNumberOfMessagesVisible',
    });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'Errors',
      Namespace: 'AWS/Lambda',
    });
    const dashboard = ofType('AWS::CloudWatch::Dashboard')[0]!.Properties;
    // Dashboards are global to the account: the region keeps same-named stacks apart.
    expect(render(dashboard?.DashboardName)).toBe('Piko-<AWS::Region>');
    const body = JSON.stringify(render(dashboard?.DashboardBody));
    for (const metric of [
      'IntervalsPlanned',
      'IntervalsSkipped',
      'RunsSucceeded',
      'RunsFailed',
      'RunDuration',
      'Lag',
    ]) {
      expect(body).toContain(`\\"Piko\\",\\"${metric}\\",\\"service\\",\\"piko\\",\\"stack\\",\\"Piko\\"`);
    }
  });

  it('exports what the --aws CLI reads', () => {
    const outputs = template.toJSON().Outputs as Record<string, { Value: unknown }>;
    expect(Object.keys(outputs).sort()).toEqual(
      [...Object.values(STACK_OUTPUT_NAMES), OUTPUT_JOB_LOG_GROUPS].sort(),
    );
    expect(render(outputs.DispatcherFunctionName!.Value)).toBe('<Dispatcher/Function/Function>');
    expect(render(outputs.BackfillStateMachineArn!.Value)).toBe('<Backfill/StateMachine>');
    expect(outputs.ScheduleGroupName!.Value).toBe('Piko');
    expect(outputs.JobStateMachinePrefix!.Value).toBe('Piko');
    expect(outputs.Region!.Value).toEqual({ Ref: 'AWS::Region' });
    // By job id, its function's log group (and the Fargate tasks' one for a job with Fargate stages).
    const logGroups = JSON.parse(String(render(outputs.JobLogGroups!.Value))) as Record<string, string[]>;
    expect(logGroups).toEqual(
      Object.fromEntries(
        fixtureJobs.map((job) => [
          job.id,
          [
            `<JobFunctions/${job.id}/Logs>`,
            ...(job.stages.some((stage) => stage.kind === 'fargate') ? ['<Fargate/Logs>'] : []),
          ],
        ]),
      ),
    );
  });

  it('passes cfn-guard’s Control Tower controls: each finding fixed, or acknowledged where docs/aws.md says why', () => {
    const { violations, acknowledged } = validationReport(app, CFN_GUARD_NAMESPACE);
    expect(
      violations.map(({ ruleName, violatingConstructs }) => ({
        ruleName,
        constructs: violatingConstructs.map(({ constructPath }) => constructPath),
      })),
    ).toEqual([]);

    const construct = (path: string) => path.replace(/^Piko\//, '').replace(/\/Resource$/, '');
    const byRule = new Map<string, string[]>();
    for (const { ruleName, violatingConstructs, reason } of acknowledged) {
      expect(reason?.length).toBeGreaterThan(100);
      const paths = violatingConstructs.map(({ constructPath }) => construct(constructPath));
      byRule.set(ruleName, [...(byRule.get(ruleName) ?? []), ...paths].sort());
    }
    const logGroups = stack.node
      .findAll()
      .filter((candidate) => candidate instanceof logs.LogGroup)
      .map((group) => construct(group.node.path))
      .sort();
    expect(Object.fromEntries(byRule)).toEqual({
      cloudwatch_log_group_retention_period_check: logGroups,
      lambda_inside_vpc_check: ['Migrations/Provider/framework-onEvent'],
      rds_cluster_logging_enabled_check: ['StateDatabase/Cluster'],
      rds_instance_automatic_minor_version_upgrade_enabled_check: ['StateDatabase/Cluster/Writer'],
      rds_instance_enhanced_monitoring_enabled_check: ['StateDatabase/Cluster/Writer'],
      s3_bucket_default_encryption_kms_check: ['JobOutputs/Bucket'],
      s3_bucket_logging_enabled_check: ['JobOutputs/Bucket'],
      s3_bucket_object_lock_enabled_check: ['JobOutputs/Bucket'],
      s3_bucket_versioning_enabled_check: ['JobOutputs/Bucket'],
      s3_event_notifications_enabled_check: ['JobOutputs/Bucket'],
      sqs_dlq_check: ['Schedules/DeadLetters'],
    });
    expect(logGroups).toHaveLength(14);

    // Every acknowledged rule is listed, with its control, in the security section of docs/aws.md.
    const security = readFileSync(new URL('../../docs/aws.md', import.meta.url), 'utf8').split(
      '## Security checks',
    )[1];
    for (const { ruleName, description } of acknowledged) {
      const control = /^\[(CT\.[A-Z0-9.]+)\]/.exec(description)?.[1];
      expect(security).toContain(`\`${ruleName}\``);
      expect(security).toContain(`${control}`);
    }
  });

  it('passes cdk-nag AwsSolutions with every acknowledgement narrow and explained', () => {
    expect(nag.validateScope(app).violations).toEqual([]);
    const acknowledged: { path: string; id: string; reason: string }[] = [];
    for (const construct of app.node.findAll()) {
      for (const entry of construct.node.metadata) {
        if (entry.type !== Validations.ACKNOWLEDGED_RULES_METADATA_KEY) continue;
        for (const [id, reason] of Object.entries(entry.data as Record<string, string>)) {
          if (!/AwsSolutions-/.test(id)) continue; // CDK's own, not cdk-nag's
          acknowledged.push({ path: construct.node.path, id: id.replace(/^annotation::/i, ''), reason });
        }
      }
    }
    expect(acknowledged.length).toBeGreaterThan(0);
    for (const { id, reason } of acknowledged) {
      expect(reason.length).toBeGreaterThan(60);
      // IAM5 is only ever acknowledged finding by finding.
      if (id.startsWith('AwsSolutions-IAM5')) expect(id).toMatch(/^AwsSolutions-IAM5\[Resource::.+\]$/);
      expect(id).not.toMatch(/^AwsSolutions-IAM4/);
    }
    // None on the stack or app: each sits on the construct it is about.
    expect(acknowledged.filter(({ path }) => !path.includes('/'))).toEqual([]);
  });
});
