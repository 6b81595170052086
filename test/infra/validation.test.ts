import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as kms from 'aws-cdk-lib/aws-kms';
import { describe, expect, it } from 'vitest';
import { StateDatabase } from '../../infra/constructs/state-database.ts';
import { PikoStack } from '../../infra/piko-stack.ts';
import { defineJob, fargate, lambda } from '../../shared/job.ts';
import { fixtureJobs } from './fixtures.ts';

const job = (id: string) => defineJob({ id, schedule: { cron: '0 * * * *' }, handler: async () => null });
const noop = async () => null;

describe('props validation', () => {
  it('refuses names AWS would refuse, all at once', () => {
    const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
    const longStackName = `Piko${'x'.repeat(46)}`;
    expect(() => new PikoStack(app, longStackName, { jobs: [job('a'.repeat(40)), job('b')] })).toThrow(
      `PikoStack "${longStackName}":\n` +
        `  - job "${'a'.repeat(40)}": its state machine name "${longStackName}-${'a'.repeat(40)}" has 91 characters, more than the 80 AWS allows; use a shorter stack name or job id`,
    );
  });

  it('names each name that is too long with its length and limit, every one at once', () => {
    const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
    const stackName = `Piko${'y'.repeat(61)}`; // 65 characters
    const crunch = defineJob({
      id: 'c'.repeat(20),
      schedule: { cron: '0 * * * *' },
      stages: [fargate('s'.repeat(30), { cpu: 256, memoryMiB: 512 }, noop), lambda('load', noop)],
    });
    const machine = `${stackName}-${'c'.repeat(20)}`;
    expect(() => new PikoStack(app, stackName, { jobs: [crunch] })).toThrow(
      `PikoStack "${stackName}":\n` +
        `  - the RDS Proxy name "${stackName.toLowerCase()}-state" has 71 characters, more than the 60 AWS allows; use a shorter stack name\n` +
        `  - the schedule group name "${stackName}" has 65 characters, more than the 64 AWS allows; use a shorter stack name\n` +
        `  - job "${'c'.repeat(20)}": its state machine name "${machine}" has 86 characters, more than the 80 AWS allows; use a shorter stack name or job id`,
    );
  });

  it('refuses a stack name that makes an RDS Proxy name with two hyphens in a row', () => {
    const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
    expect(() => new PikoStack(app, 'Piko--eu', { jobs: [job('b')] })).toThrow(
      'PikoStack "Piko--eu":\n' +
        '  - the RDS Proxy name "piko--eu-state" has two hyphens in a row, which RDS refuses; use a stack name without "--"',
    );
  });

  it('refuses database capacities Aurora Serverless v2 does not offer', () => {
    const stack = new Stack(new App(), 'S');
    const vpc = new ec2.Vpc(stack, 'Vpc');
    expect(
      () =>
        new StateDatabase(stack, 'Db', {
          vpc,
          databaseSubnets: { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS },
          proxySubnets: { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS },
          clientSecurityGroup: new ec2.SecurityGroup(stack, 'Clients', { vpc }),
          encryptionKey: new kms.Key(stack, 'Key'),
          minCapacity: 0.3,
          maxCapacity: 0.5,
        }),
    ).toThrow(
      'StateDatabase: minCapacity 0.3 must be 0 to 256 in steps of 0.5; maxCapacity 0.5 must be 1 to 256 in steps of 0.5, and at least minCapacity',
    );
  });
});

/** The properties that name a resource across an account (or one of its regions), by resource type. */
const ACCOUNT_WIDE_NAMES: Readonly<Record<string, readonly string[]>> = {
  'AWS::StepFunctions::StateMachine': ['StateMachineName'],
  'AWS::Logs::LogGroup': ['LogGroupName'],
  'AWS::ECS::TaskDefinition': ['Family'],
  'AWS::ECS::Cluster': ['ClusterName'],
  'AWS::Scheduler::ScheduleGroup': ['Name'],
  'AWS::RDS::DBProxy': ['DBProxyName'],
  'AWS::RDS::DBCluster': ['DBClusterIdentifier'],
  'AWS::RDS::DBInstance': ['DBInstanceIdentifier'],
  'AWS::CloudWatch::Dashboard': ['DashboardName'],
  'AWS::CloudWatch::Alarm': ['AlarmName'],
  'AWS::Lambda::Function': ['FunctionName'],
  'AWS::SQS::Queue': ['QueueName'],
  'AWS::SNS::Topic': ['TopicName'],
  'AWS::IAM::Role': ['RoleName'],
  'AWS::SecretsManager::Secret': ['Name'],
  'AWS::KMS::Alias': ['AliasName'],
  'AWS::EC2::SecurityGroup': ['GroupName'],
};
/**
 * Name-like properties that name nothing account-wide: a schedule is named within its group (the
 * group is checked), inline policies within their role, the proxy's target group within the proxy;
 * the rest are not names of resources, or AWS's shared defaults.
 */
const NOT_ACCOUNT_WIDE = new Set([
  'AWS::Scheduler::Schedule GroupName',
  'AWS::Scheduler::Schedule Name',
  'AWS::IAM::Policy PolicyName',
  'AWS::RDS::DBProxyTargetGroup TargetGroupName',
  'AWS::RDS::DBCluster DatabaseName',
  'AWS::RDS::DBCluster DBClusterParameterGroupName',
  'AWS::RDS::DBProxy EngineFamily',
  'AWS::SNS::Topic DisplayName',
  'AWS::CloudWatch::Alarm MetricName',
  'AWS::EC2::VPCEndpoint ServiceName',
]);

/** A CloudFormation value as deployed text, or undefined when it refers to another resource. */
function deployedText(value: unknown, stackName: string, region: string): string | undefined {
  if (typeof value === 'string') return value;
  if (typeof value !== 'object' || value === null) return undefined;
  const record = value as Record<string, unknown>;
  if (record.Ref === 'AWS::StackName') return stackName;
  if (record.Ref === 'AWS::Region') return region;
  if ('Fn::Join' in record) {
    const [separator, parts] = record['Fn::Join'] as [string, unknown[]];
    const texts = parts.map((part) => deployedText(part, stackName, region));
    return texts.every((text) => text !== undefined) ? texts.join(separator) : undefined;
  }
  return undefined;
}

/** Every physical name a stack's template sets itself, as `<type> <name>`. */
function physicalNamesOf(template: Template, stackName: string, region: string): string[] {
  const resources = template.toJSON().Resources as Record<
    string,
    { Type: string; Properties?: Record<string, unknown> }
  >;
  const names: string[] = [];
  for (const { Type, Properties = {} } of Object.values(resources)) {
    for (const [property, value] of Object.entries(Properties)) {
      if (!/(Name|Family|Identifier)$/.test(property)) continue;
      const text = deployedText(value, stackName, region);
      if (text === undefined) continue; // a reference: named by the referenced resource
      const accountWide = ACCOUNT_WIDE_NAMES[Type]?.includes(property) ?? false;
      expect(
        accountWide || NOT_ACCOUNT_WIDE.has(`${Type} ${property}`),
        `${Type} ${property} "${text}" is not classified`,
      ).toBe(true);
      if (accountWide) names.push(`${Type} ${text.toLowerCase()}`);
    }
  }
  return names;
}

describe('physical names', () => {
  it('differ between two Piko stacks of one app, and across regions for the global dashboard', () => {
    const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
    const first = new PikoStack(app, 'PikoBlue', { jobs: fixtureJobs });
    const second = new PikoStack(app, 'PikoGreen', { jobs: fixtureJobs });
    const blue = physicalNamesOf(Template.fromStack(first), 'PikoBlue', 'eu-west-1');
    const green = physicalNamesOf(Template.fromStack(second), 'PikoGreen', 'eu-west-1');
    expect(blue).toContain('AWS::ECS::TaskDefinition pikoblue-archive-compress');
    expect(blue).toContain('AWS::RDS::DBProxy pikoblue-state');
    expect(blue.length).toBe(new Set(blue).size);
    expect(blue.filter((name) => green.includes(name))).toEqual([]);

    const dashboard = (region: string) =>
      physicalNamesOf(Template.fromStack(first), 'PikoBlue', region).filter((name) =>
        name.startsWith('AWS::CloudWatch::Dashboard'),
      );
    expect(dashboard('eu-west-1')).toEqual(['AWS::CloudWatch::Dashboard pikoblue-eu-west-1']);
    expect(dashboard('us-east-1')).not.toEqual(dashboard('eu-west-1'));
  });
});
