import { App, Stack } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as kms from 'aws-cdk-lib/aws-kms';
import { describe, expect, it } from 'vitest';
import { StateDatabase } from '../../infra/constructs/state-database.ts';
import { PikoStack } from '../../infra/piko-stack.ts';
import { defineJob } from '../../shared/job.ts';

const job = (id: string) => defineJob({ id, schedule: { cron: '0 * * * *' }, handler: async () => null });

describe('props validation', () => {
  it('refuses names AWS would refuse, all at once', () => {
    const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
    const longStackName = `Piko${'x'.repeat(46)}`;
    expect(() => new PikoStack(app, longStackName, { jobs: [job('a'.repeat(40)), job('b')] })).toThrow(
      `PikoStack "${longStackName}":\n` +
        `  - job "${'a'.repeat(40)}": its state machine name "${longStackName}-${'a'.repeat(40)}" is longer than 80 characters; use a shorter stack name or job id`,
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
