import {
  DescribeExecutionCommand,
  ExecutionAlreadyExists,
  ExecutionDoesNotExist,
  SFNClient,
  SFNServiceException,
  StartExecutionCommand,
  StateMachineDoesNotExist,
} from '@aws-sdk/client-sfn';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import {
  jobStateMachines,
  jobStateMachinesOfFunction,
  lazySfnClient,
  SfnWorkflowStarter,
} from '../../../shared/aws/sfn-starter.ts';
import { AwsCallError, AwsThrottledError, WorkflowNotDeployedError } from '../../../shared/errors.ts';
import type { ExecutionInput } from '../../../shared/workflow/starter.ts';

const sfn = mockClient(SFNClient);
afterEach(() => sfn.reset());

const machines = jobStateMachines({
  partition: 'aws',
  region: 'eu-west-1',
  account: '123456789012',
  prefix: 'Piko',
});
const input: ExecutionInput = {
  jobId: 'daily',
  executionName: 'daily-s20260101T000000Z-0123456789abcdef',
  lane: 'scheduled',
  backfillId: null,
  runs: [
    {
      runId: 7,
      generation: 0,
      interval: { start: '2026-01-01T00:00:00.000Z', end: '2026-01-02T00:00:00.000Z' },
    },
  ],
};
const starter = () => new SfnWorkflowStarter(new SFNClient({ region: 'eu-west-1' }), machines);
/** An SDK service error as the client throws it (the specific classes set their own name). */
const serviceError = (Type: new (options: never) => Error, name: string): Error =>
  new Type({ name, $fault: 'client', $metadata: {}, message: `${name} happened` } as never);

describe('jobStateMachines', () => {
  it('builds state machine and execution ARNs from the prefix and the job id', () => {
    expect(machines.stateMachineArn('daily')).toBe(
      'arn:aws:states:eu-west-1:123456789012:stateMachine:Piko-daily',
    );
    expect(machines.executionArn('daily', 'n1')).toBe(
      'arn:aws:states:eu-west-1:123456789012:execution:Piko-daily:n1',
    );
  });

  it('finds partition, region and account in the function’s own ARN', () => {
    const found = jobStateMachinesOfFunction(
      'arn:aws-cn:lambda:cn-north-1:123456789012:function:dispatcher:live',
      'P',
    );
    expect(found.stateMachineArn('j')).toBe('arn:aws-cn:states:cn-north-1:123456789012:stateMachine:P-j');
    expect(() => jobStateMachinesOfFunction('not-an-arn', 'P')).toThrow(
      '"not-an-arn" is not a Lambda function ARN',
    );
  });
});

describe('SfnWorkflowStarter', () => {
  it('starts the job’s state machine under the execution name, with the input as JSON', async () => {
    sfn.on(StartExecutionCommand).resolves({ executionArn: 'arn', startDate: new Date() });
    await starter().start(input);
    const calls = sfn.commandCalls(StartExecutionCommand);
    expect(calls).toHaveLength(1);
    expect(calls[0]!.args[0].input).toEqual({
      stateMachineArn: 'arn:aws:states:eu-west-1:123456789012:stateMachine:Piko-daily',
      name: input.executionName,
      input: JSON.stringify(input),
    });
  });

  it('treats ExecutionAlreadyExists as already started', async () => {
    sfn.on(StartExecutionCommand).rejects(serviceError(ExecutionAlreadyExists, 'ExecutionAlreadyExists'));
    await expect(starter().start(input)).resolves.toBeUndefined();
  });

  it('reports throttling that outlasted the SDK’s retries clearly', async () => {
    sfn.on(StartExecutionCommand).rejects(serviceError(SFNServiceException, 'ThrottlingException'));
    const error = await starter()
      .start(input)
      .catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(AwsThrottledError);
    expect((error as AwsThrottledError).awsErrorName).toBe('ThrottlingException');
    expect((error as Error).message).toBe(
      'Step Functions StartExecution of execution "daily-s20260101T000000Z-0123456789abcdef" of job "daily" was throttled ' +
        "(ThrottlingException) after the SDK's retries; the runs stay queued and the next dispatch starts them again",
    );
  });

  it('says to deploy when the job’s state machine does not exist', async () => {
    sfn.on(StartExecutionCommand).rejects(serviceError(StateMachineDoesNotExist, 'StateMachineDoesNotExist'));
    await expect(starter().start(input)).rejects.toThrow(WorkflowNotDeployedError);
    await expect(starter().start(input)).rejects.toThrow(
      'state machine arn:aws:states:eu-west-1:123456789012:stateMachine:Piko-daily does not exist; deploy the stack (npx cdk deploy) after adding or renaming a job',
    );
  });

  it('wraps any other AWS error with the call, the job and the AWS error name', async () => {
    sfn.on(StartExecutionCommand).rejects(serviceError(SFNServiceException, 'AccessDeniedException'));
    await expect(starter().start(input)).rejects.toThrow(AwsCallError);
    await expect(starter().start(input)).rejects.toThrow(
      'Step Functions StartExecution of execution "daily-s20260101T000000Z-0123456789abcdef" of job "daily" failed (AccessDeniedException): AccessDeniedException happened',
    );
  });

  it('maps DescribeExecution to running, ended and absent', async () => {
    const executionArn = 'arn:aws:states:eu-west-1:123456789012:execution:Piko-daily:n1';
    sfn
      .on(DescribeExecutionCommand, { executionArn })
      .resolvesOnce({ status: 'RUNNING' } as never)
      .resolvesOnce({ status: 'PENDING_REDRIVE' } as never)
      .resolvesOnce({ status: 'SUCCEEDED' } as never)
      .resolvesOnce({ status: 'FAILED' } as never)
      .rejectsOnce(serviceError(ExecutionDoesNotExist, 'ExecutionDoesNotExist'));
    const subject = starter();
    const statuses = [];
    for (let i = 0; i < 5; i++) statuses.push(await subject.status('daily', 'n1'));
    expect(statuses).toEqual(['running', 'running', 'ended', 'ended', 'absent']);
  });

  it('creates its client on first use when given a factory', async () => {
    sfn.on(StartExecutionCommand).resolves({});
    const client = lazySfnClient({ region: 'eu-west-1' });
    expect(await client()).toBe(await client());
    await new SfnWorkflowStarter(client, machines).start(input);
    expect(sfn.commandCalls(StartExecutionCommand)).toHaveLength(1);
  });
});
