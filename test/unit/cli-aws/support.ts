/**
 * The `--aws` CLI in process (`runCli`) against mocked AWS clients (aws-sdk-client-mock): every
 * CloudFormation, Step Functions, Lambda and Scheduler call is answered here, and nothing can leave
 * the process (the SDK is pointed at a closed port with dummy credentials as well).
 *
 * Import this module first: it sets the environment before the CLI reads its configuration, which
 * `getConfig()` does once per test file.
 */
import {
  CloudFormationClient,
  CloudFormationServiceException,
  DescribeStacksCommand,
} from '@aws-sdk/client-cloudformation';
import { type InvokeCommandOutput, LambdaClient } from '@aws-sdk/client-lambda';
import { SchedulerClient } from '@aws-sdk/client-scheduler';
import { SFNClient } from '@aws-sdk/client-sfn';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, vi } from 'vitest';
import { runCli } from '../../../shared/cli/program.ts';

for (const name of Object.keys(process.env)) {
  if ((name.startsWith('PIKO_') && !name.startsWith('PIKO_TEST_')) || name.startsWith('AWS_')) {
    delete process.env[name];
  }
}
Object.assign(process.env, {
  PIKO_JOBS_DIR: 'test/unit/cli-aws/jobs',
  PIKO_LOG_LEVEL: 'error',
  AWS_ACCESS_KEY_ID: 'test',
  AWS_SECRET_ACCESS_KEY: 'test',
  AWS_ENDPOINT_URL: 'http://127.0.0.1:9',
  AWS_EC2_METADATA_DISABLED: 'true',
});

export const cfn = mockClient(CloudFormationClient);
export const sfn = mockClient(SFNClient);
export const lambda = mockClient(LambdaClient);
export const scheduler = mockClient(SchedulerClient);

/** The clock of every test: 2026-11-26T10:00:00Z (only `Date` is faked). */
export const NOW = new Date('2026-11-26T10:00:00.000Z');

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['Date'] });
  vi.setSystemTime(NOW);
});
afterEach(() => {
  vi.useRealTimers();
  for (const mock of [cfn, sfn, lambda, scheduler]) mock.reset();
});

export const REGION = 'eu-west-1';
export const ACCOUNT = '123456789012';
export const DISPATCHER = 'Piko-DispatcherFunction1A2B3C';
export const BACKFILL_ARN = `arn:aws:states:${REGION}:${ACCOUNT}:stateMachine:Piko--backfill`;

/** The outputs of a deployed Piko stack. */
export const OUTPUTS: Readonly<Record<string, string>> = {
  DispatcherFunctionName: DISPATCHER,
  BackfillStateMachineArn: BACKFILL_ARN,
  ScheduleGroupName: 'Piko',
  JobStateMachinePrefix: 'Piko',
  Region: REGION,
};

/** DescribeStacks finds `stackName` with these outputs. */
export function stackExists(stackName = 'Piko', outputs: Readonly<Record<string, string>> = OUTPUTS): void {
  cfn.on(DescribeStacksCommand, { StackName: stackName }).resolves({
    Stacks: [
      {
        StackName: stackName,
        StackStatus: 'UPDATE_COMPLETE',
        CreationTime: new Date('2026-11-01T00:00:00Z'),
        Outputs: Object.entries(outputs).map(([OutputKey, OutputValue]) => ({ OutputKey, OutputValue })),
      },
    ],
  });
}

/** A Lambda Invoke answer: the payload as JSON, with `FunctionError` when given. */
export function invokeAnswer(payload: unknown, functionError?: string): InvokeCommandOutput {
  return {
    $metadata: {},
    StatusCode: 200,
    ExecutedVersion: '$LATEST',
    ...(functionError === undefined ? {} : { FunctionError: functionError }),
    Payload: new TextEncoder().encode(JSON.stringify(payload)) as InvokeCommandOutput['Payload'],
  };
}

/** The events sent to the dispatcher, parsed, with the function name and invocation type. */
export function dispatcherCalls(): { FunctionName?: string; InvocationType?: string; event: unknown }[] {
  return lambda.calls().map((call) => {
    const input = call.args[0].input as { FunctionName?: string; InvocationType?: string; Payload?: unknown };
    return {
      FunctionName: input.FunctionName,
      InvocationType: input.InvocationType,
      event: JSON.parse(String(input.Payload)),
    };
  });
}

/** An AWS service error as the SDK throws it: the exception class, its name and message. */
export function serviceError(
  name: string,
  message: string,
  Type: new (options: never) => Error = CloudFormationServiceException as never,
): Error {
  return new Type({ name, $fault: 'client', $metadata: { httpStatusCode: 400 }, message } as never);
}

/** The SDK's error when no credential provider found credentials. */
export function noCredentials(): Error {
  return Object.assign(new Error('Could not load credentials from any providers'), {
    name: 'CredentialsProviderError',
  });
}

/** One run of the CLI: exit code and the lines it wrote. */
export interface CliResult {
  readonly code: number;
  readonly out: string[];
  readonly err: string[];
}

/** Runs `piko <argv>` in process. */
export async function cli(...argv: string[]): Promise<CliResult> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli(argv, { out: (line) => out.push(line), err: (line) => err.push(line) });
  return { code, out, err };
}

/** Total calls made to every mocked AWS client. */
export function awsCallCount(): number {
  return [cfn, sfn, lambda, scheduler].reduce((total, mock) => total + mock.calls().length, 0);
}
