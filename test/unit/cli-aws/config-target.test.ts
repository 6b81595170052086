/**
 * Region and stack name from the configuration (`PIKO_AWS__REGION`, `PIKO_AWS__STACK_NAME`), in a file
 * of its own: `getConfig()` reads the environment once per test file.
 */
import './support.ts';
import { type CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { InvokeCommand } from '@aws-sdk/client-lambda';
import { describe, expect, it } from 'vitest';
import { cfn, cli, invokeAnswer, lambda, stackExists } from './support.ts';

process.env.PIKO_AWS__REGION = 'us-east-2';
process.env.PIKO_AWS__STACK_NAME = 'PikoStaging';

describe('--aws target from the configuration', () => {
  it('reads aws.region and aws.stack_name when no flag is given', async () => {
    stackExists('PikoStaging');
    lambda.on(InvokeCommand).resolves(invokeAnswer({ action: 'status', jobs: [] }));

    const result = await cli('status', '--aws');

    expect(result).toEqual({ code: 0, out: [], err: [] });
    expect(cfn.commandCalls(DescribeStacksCommand).map((call) => call.args[0].input)).toEqual([
      { StackName: 'PikoStaging' },
    ]);
    expect(await (cfn.call(0).thisValue as CloudFormationClient).config.region()).toBe('us-east-2');
  });

  it('lets the flags win over the configuration', async () => {
    stackExists('Other');
    lambda.on(InvokeCommand).resolves(invokeAnswer({ action: 'status', jobs: [] }));

    const result = await cli('status', '--aws', '--region', 'eu-central-1', '--stack-name', 'Other');

    expect(result.code).toBe(0);
    expect(cfn.call(0).args[0].input).toEqual({ StackName: 'Other' });
    expect(await (cfn.call(0).thisValue as CloudFormationClient).config.region()).toBe('eu-central-1');
  });
});
