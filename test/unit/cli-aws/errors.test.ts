import {
  type CloudFormationClient,
  CloudFormationServiceException,
  DescribeStacksCommand,
} from '@aws-sdk/client-cloudformation';
import { InvokeCommand } from '@aws-sdk/client-lambda';
import { describe, expect, it } from 'vitest';
import { AwsSession, awsClientConfig } from '../../../shared/cli/aws/session.ts';
import {
  awsCallCount,
  cfn,
  cli,
  invokeAnswer,
  lambda,
  noCredentials,
  OUTPUTS,
  REGION,
  serviceError,
  stackExists,
} from './support.ts';

const cfnError = (name: string, message: string) =>
  serviceError(name, message, CloudFormationServiceException as never);
const STATUS = ['status', '--aws', '--region', REGION];

describe('AWS errors of the --aws CLI', () => {
  it('a missing stack: exit 2, saying to deploy it or to point --stack-name/--region at it', async () => {
    cfn.on(DescribeStacksCommand).rejects(cfnError('ValidationError', 'Stack with id Piko does not exist'));

    const result = await cli(...STATUS);

    expect(result).toEqual({
      code: 2,
      out: [],
      err: [
        `error: Stack "Piko" does not exist in ${REGION}: deploy it (npx cdk deploy), or point --stack-name/--region (aws.stack_name/aws.region in settings.toml, PIKO_AWS__STACK_NAME/PIKO_AWS__REGION) at the deployed one`,
      ],
    });
    expect(lambda.calls()).toHaveLength(0);
  });

  it('another ValidationError is reported as it is (exit 1)', async () => {
    cfn.on(DescribeStacksCommand).rejects(cfnError('ValidationError', '1 validation error detected'));

    const result = await cli(...STATUS);

    expect(result.code).toBe(1);
    expect(result.err).toEqual([
      `error: CloudFormation DescribeStacks on stack "Piko" in ${REGION} failed (ValidationError): 1 validation error detected`,
    ]);
  });

  it('a stack without the outputs: exit 2, naming them and the stack status', async () => {
    stackExists('Piko', { Region: REGION, ScheduleGroupName: 'Piko' });

    const result = await cli(...STATUS);

    expect(result).toEqual({
      code: 2,
      out: [],
      err: [
        `error: Stack "Piko" lacks the output(s) DispatcherFunctionName, BackfillStateMachineArn, JobStateMachinePrefix: is it a Piko stack, deployed by this version (npx cdk deploy)? (stack status UPDATE_COMPLETE in ${REGION})`,
      ],
    });
  });

  it('no credentials: exit 2, saying how to provide them', async () => {
    cfn.on(DescribeStacksCommand).rejects(noCredentials());

    const result = await cli(...STATUS);

    expect(result).toEqual({
      code: 2,
      out: [],
      err: [
        `error: No usable AWS credentials for CloudFormation DescribeStacks on stack "Piko" in ${REGION} (CredentialsProviderError: Could not load credentials from any providers): sign in (aws sso login, or aws configure) and set AWS_PROFILE, or set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY`,
      ],
    });
  });

  it('expired credentials: exit 2 as well', async () => {
    cfn
      .on(DescribeStacksCommand)
      .rejects(cfnError('ExpiredToken', 'The security token included in the request is expired'));

    const result = await cli(...STATUS);

    expect(result.code).toBe(2);
    expect(result.err[0]).toMatch(
      /^error: No usable AWS credentials for CloudFormation DescribeStacks .*\(ExpiredToken: The security token included in the request is expired\)/,
    );
  });

  it('throttling of DescribeStacks: exit 1, saying to retry', async () => {
    cfn.on(DescribeStacksCommand).rejects(cfnError('Throttling', 'Rate exceeded'));

    const result = await cli(...STATUS);

    expect(result).toEqual({
      code: 1,
      out: [],
      err: [
        `error: CloudFormation DescribeStacks on stack "Piko" in ${REGION} was throttled by AWS (Throttling) after 5 attempts: wait a minute and run the command again`,
      ],
    });
  });

  it('AccessDenied of DescribeStacks: exit 1, naming the permission', async () => {
    cfn
      .on(DescribeStacksCommand)
      .rejects(cfnError('AccessDenied', 'User is not authorized to perform: cloudformation:DescribeStacks'));

    const result = await cli(...STATUS);

    expect(result).toEqual({
      code: 1,
      out: [],
      err: [
        `error: AWS denied CloudFormation DescribeStacks on stack "Piko" in ${REGION} (AccessDenied): the caller needs cloudformation:DescribeStacks on it (docs/aws.md, "Permissions of the CLI"); AWS said: User is not authorized to perform: cloudformation:DescribeStacks`,
      ],
    });
  });

  it('no region in flags or configuration: exit 2 before any call, naming every way to set one', async () => {
    for (const argv of [
      ['status', '--aws'],
      ['dispatch', 'daily', '--aws'],
      ['pause', 'daily', '--aws'],
      ['backfill', 'daily', '--from', '2026-11-01T00:00:00Z', '--to', '2026-11-02T00:00:00Z', '--aws'],
    ]) {
      expect(await cli(...argv)).toEqual({
        code: 2,
        out: [],
        err: [
          'error: No AWS region for --aws: pass --region (such as eu-west-1), or set region in the [aws] section of settings.toml, PIKO_AWS__REGION or AWS_REGION',
        ],
      });
    }
    expect(awsCallCount()).toBe(0);
  });

  it('refuses a --region or --stack-name that cannot be one (exit 2)', async () => {
    expect(await cli('status', '--aws', '--region', 'Ireland')).toEqual({
      code: 2,
      out: [],
      err: ['error: --region "Ireland" is not an AWS region such as eu-west-1'],
    });
    expect(await cli('status', '--aws', '--region', REGION, '--stack-name', 'my_stack')).toEqual({
      code: 2,
      out: [],
      err: [
        'error: --stack-name "my_stack" is not a CloudFormation stack name (a letter, then letters, digits or hyphens; at most 128 characters)',
      ],
    });
    expect(awsCallCount()).toBe(0);
  });

  it('refuses --region and --stack-name without --aws rather than acting on the local state (exit 2)', async () => {
    expect(await cli('status', '--region', REGION)).toEqual({
      code: 2,
      out: [],
      err: [
        'error: --region only applies with --aws: add --aws to act on the deployed stack, or leave it out to act on the local state',
      ],
    });
    expect((await cli('pause', 'daily', '--stack-name', 'Piko', '--region', REGION)).err).toEqual([
      'error: --region and --stack-name only apply with --aws: add --aws to act on the deployed stack, or leave them out to act on the local state',
    ]);
    expect(
      (
        await cli(
          'backfill',
          'daily',
          '--from',
          '2026-11-01T00:00:00Z',
          '--to',
          '2026-11-02T00:00:00Z',
          '--stack-name',
          'Piko',
        )
      ).code,
    ).toBe(2);
  });

  it('uses --stack-name and --region for the lookup and every client', async () => {
    stackExists('Staging', OUTPUTS);
    lambda.on(InvokeCommand).resolves(invokeAnswer({ action: 'status', jobs: [] }));

    const result = await cli('status', '--aws', '--region', 'ap-southeast-2', '--stack-name', 'Staging');

    expect(result).toEqual({ code: 0, out: [], err: [] });
    expect(cfn.call(0).args[0].input).toEqual({ StackName: 'Staging' });
    const cfnClient = cfn.call(0).thisValue as CloudFormationClient;
    const lambdaClient = lambda.call(0).thisValue as CloudFormationClient;
    expect(await cfnClient.config.region()).toBe('ap-southeast-2');
    expect(await lambdaClient.config.region()).toBe('ap-southeast-2');
  });

  it('configures every client with the standard retry mode and 5 attempts', async () => {
    expect(awsClientConfig('eu-west-1')).toEqual({
      region: 'eu-west-1',
      maxAttempts: 5,
      retryMode: 'standard',
    });
    const session = new AwsSession({ region: 'eu-west-1', stackName: 'Piko' });
    for (const client of [session.cloudFormation, session.sfn, session.lambda, session.scheduler]) {
      expect(await client.config.maxAttempts()).toBe(5);
      expect(client.config.retryMode).toBe('standard');
      expect((await client.config.retryStrategy()) as { mode?: string }).toMatchObject({ mode: 'standard' });
      expect(await client.config.region()).toBe('eu-west-1');
    }
  });
});
