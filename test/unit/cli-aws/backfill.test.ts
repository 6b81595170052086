import { DescribeExecutionCommand, SFNServiceException, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { describe, expect, it } from 'vitest';
import {
  backfillExecutionInput,
  backfillExecutionName,
  executionArnOf,
  executionConsoleUrl,
} from '../../../shared/cli/aws/backfill.ts';
import { backfillId } from '../../../shared/planner/backfill.ts';
import { MAX_EXECUTION_NAME_LENGTH } from '../../../shared/workflow/execution-name.ts';
import {
  ACCOUNT,
  awsCallCount,
  BACKFILL_ARN,
  cfn,
  cli,
  REGION,
  serviceError,
  sfn,
  stackExists,
} from './support.ts';

const FROM = '2026-11-01T00:00:00Z';
const TO = '2026-11-08T00:00:00Z';
const ARGS = ['backfill', 'daily', '--from', FROM, '--to', TO, '--aws', '--region', REGION];
const REQUEST = { jobId: 'daily', from: new Date(FROM), to: new Date(TO) };
const NAME = `daily-${backfillId(REQUEST)}`;
const EXECUTION_ARN = `arn:aws:states:${REGION}:${ACCOUNT}:execution:Piko--backfill:${NAME}`;
const URL = `https://${REGION}.console.aws.amazon.com/states/home?region=${REGION}#/v2/executions/details/${EXECUTION_ARN}`;
const INPUT = {
  jobId: 'daily',
  from: '2026-11-01T00:00:00.000Z',
  to: '2026-11-08T00:00:00.000Z',
  reprocess: 'missing',
  dryRun: false,
  reverse: false,
  config: null,
};
const sfnError = (name: string, message: string) => serviceError(name, message, SFNServiceException as never);

/** Step Functions starts every execution it is asked to, now. */
function startsExecutions(): void {
  sfn.on(StartExecutionCommand).callsFake((input: { stateMachineArn: string; name: string }) => ({
    executionArn: executionArnOf(input.stateMachineArn, input.name),
    startDate: new Date(),
  }));
}

function startInputs(): { stateMachineArn?: string; name?: string; input: unknown }[] {
  return sfn.commandCalls(StartExecutionCommand).map((call) => ({
    stateMachineArn: call.args[0].input.stateMachineArn,
    name: call.args[0].input.name,
    input: JSON.parse(call.args[0].input.input ?? 'null'),
  }));
}

describe('piko backfill --aws', () => {
  it('--downstream: starts the backfill state machine with downstream in the input, under a name of its own', async () => {
    // Arrange: weekly and monthly depend on daily (transitively).
    stackExists();
    startsExecutions();

    // Act
    const result = await cli(...ARGS, '--reprocess', 'all', '--downstream');
    const dryRun = await cli(...ARGS, '--reprocess', 'all', '--downstream', '--dry-run');

    // Assert
    const request = { ...REQUEST, reprocess: 'all', downstream: true } as const;
    const name = `daily-${backfillId(request)}-downstream`;
    expect(result).toEqual({
      code: 0,
      out: [
        `daily: backfill ${backfillId(request)}, then the backfills of weekly, monthly that it makes stale started as execution ${name}`,
        URL.replace(NAME, name),
      ],
      err: [],
    });
    expect(dryRun.code).toBe(0);
    expect(dryRun.out[0]).toBe(
      `daily: dry run of backfill ${backfillId(request)}, then the backfills of weekly, monthly that it makes stale started as execution daily-${backfillId(request)}-downstream-dry-run; the plan will be its output`,
    );
    expect(startInputs()).toEqual([
      { stateMachineArn: BACKFILL_ARN, name, input: { ...INPUT, reprocess: 'all', downstream: true } },
      {
        stateMachineArn: BACKFILL_ARN,
        name: `daily-${backfillId(request)}-downstream-dry-run`,
        input: { ...INPUT, reprocess: 'all', dryRun: true, downstream: true },
      },
    ]);
  });

  it('starts a --downstream backfill of a job nothing depends on as a plain one', async () => {
    stackExists();
    startsExecutions();

    const result = await cli(...ARGS.map((arg) => (arg === 'daily' ? 'monthly' : arg)), '--downstream');

    expect(result.code).toBe(0);
    expect(startInputs().map((start) => (start.input as { jobId: string }).jobId)).toEqual(['monthly']);
  });

  it('finds the backfill state machine in the stack outputs, starts it with the request and prints its console URL', async () => {
    stackExists();
    startsExecutions();

    const result = await cli(...ARGS);

    expect(result).toEqual({
      code: 0,
      out: [`daily: backfill ${backfillId(REQUEST)} started as execution ${NAME}`, URL],
      err: [],
    });
    expect(cfn.calls().map((call) => call.args[0].input)).toEqual([{ StackName: 'Piko' }]);
    const client = cfn.call(0).thisValue as { config: { region: () => Promise<string> } };
    expect(await client.config.region()).toBe(REGION);
    expect(sfn.commandCalls(StartExecutionCommand)[0]!.args[0].input).toEqual({
      stateMachineArn: BACKFILL_ARN,
      name: NAME,
      input: JSON.stringify(INPUT),
    });
  });

  it('sends every flag in the input: reprocess, dry run, reverse and the config', async () => {
    stackExists();
    startsExecutions();

    const result = await cli(
      ...ARGS,
      '--reprocess',
      'failed',
      '--dry-run',
      '--reverse',
      '--config',
      '{"region":"us"}',
    );

    const request = { ...REQUEST, reprocess: 'failed', reverse: true, config: { region: 'us' } } as const;
    const name = `daily-${backfillId(request)}-dry-run`;
    expect(result.code).toBe(0);
    expect(result.out[0]).toBe(
      `daily: dry run of backfill ${backfillId(request)} started as execution ${name}; the plan will be its output`,
    );
    expect(startInputs()).toEqual([
      {
        stateMachineArn: BACKFILL_ARN,
        name,
        input: { ...INPUT, reprocess: 'failed', dryRun: true, reverse: true, config: { region: 'us' } },
      },
    ]);
  });

  it('sends --reprocess outdated as it is: the deployed dispatcher compares with the deployed version', async () => {
    stackExists();
    startsExecutions();

    const result = await cli(...ARGS, '--reprocess', 'outdated');

    const request = { ...REQUEST, reprocess: 'outdated' } as const;
    expect(result.code).toBe(0);
    expect(startInputs()).toEqual([
      {
        stateMachineArn: BACKFILL_ARN,
        name: `daily-${backfillId(request)}`,
        input: { ...INPUT, reprocess: 'outdated' },
      },
    ]);
    expect(backfillId(request)).not.toBe(backfillId({ ...REQUEST, reprocess: 'all' }));
  });

  it('names the execution after the request: the same request (in any offset) gets the same name, another one another', async () => {
    stackExists();
    startsExecutions();

    await cli(...ARGS);
    await cli(
      'backfill',
      'daily',
      '--from',
      '2026-11-01T01:00:00+01:00',
      '--to',
      '2026-11-07T19:00:00-05:00',
      '--aws',
      '--region',
      REGION,
    );
    await cli(...ARGS, '--reprocess', 'all');
    await cli(...ARGS, '--dry-run');

    const names = startInputs().map((call) => call.name);
    expect(names[0]).toBe(NAME);
    expect(names[1]).toBe(NAME);
    expect(startInputs()[1]!.input).toEqual(INPUT);
    expect(names[2]).toBe(`daily-${backfillId({ ...REQUEST, reprocess: 'all' })}`);
    expect(names[2]).not.toBe(NAME);
    expect(names[3]).toBe(`${NAME}-dry-run`);
  });

  it('keeps execution names within 80 characters and free of colons, even for a 40-character job id', () => {
    const jobId = `j${'x'.repeat(39)}`;
    const name = backfillExecutionName({ jobId, from: new Date(FROM), to: new Date(TO), dryRun: true });
    expect(name).toBe(`${jobId}-${backfillId({ jobId, from: new Date(FROM), to: new Date(TO) })}-dry-run`);
    expect(name.length).toBeLessThanOrEqual(MAX_EXECUTION_NAME_LENGTH);
    expect(name).toMatch(/^[A-Za-z0-9_-]+$/);
    // With -downstream too, the job id does not fit: the name is the backfill's id alone.
    const downstream = { jobId, from: new Date(FROM), to: new Date(TO), dryRun: true, downstream: true };
    expect(backfillExecutionName(downstream)).toBe(`${backfillId(downstream)}-downstream-dry-run`);
    expect(backfillExecutionInput({ jobId, from: new Date(FROM), to: new Date(TO) })).toEqual({
      ...INPUT,
      jobId,
    });
    expect(executionConsoleUrl('us-east-2', 'arn:aws:states:us-east-2:1:execution:m:n')).toBe(
      'https://us-east-2.console.aws.amazon.com/states/home?region=us-east-2#/v2/executions/details/arn:aws:states:us-east-2:1:execution:m:n',
    );
  });

  it('prints one JSON line with --json', async () => {
    stackExists();
    startsExecutions();

    const result = await cli(...ARGS, '--json');

    expect(result.code).toBe(0);
    expect(result.out.map((line) => JSON.parse(line))).toEqual([
      {
        event: 'backfill-started',
        jobId: 'daily',
        backfillId: backfillId(REQUEST),
        dryRun: false,
        executionName: NAME,
        executionArn: EXECUTION_ARN,
        url: URL,
      },
    ]);
  });

  it('says a backfill that already ran was already started, with its URL, and exits 0 (ExecutionAlreadyExists, same input)', async () => {
    stackExists();
    sfn
      .on(StartExecutionCommand)
      .rejects(sfnError('ExecutionAlreadyExists', `Execution Already Exists: '${EXECUTION_ARN}'`));
    // Started from the console with the same request: other key order, an offset, defaults left out.
    sfn.on(DescribeExecutionCommand, { executionArn: EXECUTION_ARN }).resolves({
      executionArn: EXECUTION_ARN,
      stateMachineArn: BACKFILL_ARN,
      status: 'SUCCEEDED',
      startDate: new Date('2026-11-20T00:00:00Z'),
      input: JSON.stringify({ to: '2026-11-07T19:00:00-05:00', from: FROM, jobId: 'daily' }),
    });

    const result = await cli(...ARGS);

    expect(result).toEqual({
      code: 0,
      out: [
        `daily: backfill ${backfillId(REQUEST)} was already started as execution ${NAME} (SUCCEEDED); not started again; to run the same request again, start it from the Step Functions console under another name (docs/aws.md)`,
        URL,
      ],
      err: [],
    });
  });

  it('says a running backfill was already started when Step Functions hands back the running execution', async () => {
    stackExists();
    sfn.on(StartExecutionCommand).resolves({
      executionArn: EXECUTION_ARN,
      startDate: new Date('2026-11-26T09:00:00Z'),
    });

    const result = await cli(...ARGS, '--json');

    expect(result.code).toBe(0);
    expect(JSON.parse(result.out[0]!)).toMatchObject({
      event: 'backfill-already-started',
      status: 'RUNNING',
      executionArn: EXECUTION_ARN,
      url: URL,
    });
  });

  it('refuses with exit 2 when the execution name is taken by an execution with another input', async () => {
    stackExists();
    sfn.on(StartExecutionCommand).rejects(sfnError('ExecutionAlreadyExists', 'Execution Already Exists'));
    const other = JSON.stringify({ ...INPUT, reprocess: 'all' });
    sfn
      .on(DescribeExecutionCommand)
      .resolves({ executionArn: EXECUTION_ARN, status: 'RUNNING', input: other });

    const result = await cli(...ARGS);

    expect(result).toEqual({
      code: 2,
      out: [],
      err: [
        `error: Execution ${NAME} of ${BACKFILL_ARN} already exists with another input (${other}), so this backfill cannot start under its name; start it from the Step Functions console under another name with the input ${JSON.stringify(INPUT)}`,
      ],
    });
  });

  it('still reports the existing execution (exit 0) when its input cannot be read, with a note', async () => {
    stackExists();
    sfn.on(StartExecutionCommand).rejects(sfnError('ExecutionAlreadyExists', 'Execution Already Exists'));
    sfn
      .on(DescribeExecutionCommand)
      .rejects(sfnError('AccessDeniedException', 'not authorized to perform: states:DescribeExecution'));

    const result = await cli(...ARGS);

    expect(result.code).toBe(0);
    expect(result.err).toEqual([
      `note: could not compare the input of the existing execution: AWS denied Step Functions DescribeExecution on execution ${EXECUTION_ARN} (AccessDeniedException): the caller needs states:DescribeExecution on it (docs/aws.md, "Permissions of the CLI"); AWS said: not authorized to perform: states:DescribeExecution`,
    ]);
    expect(result.out).toEqual([
      `daily: backfill ${backfillId(REQUEST)} was already started as execution ${NAME} (status unknown); not started again; to run the same request again, start it from the Step Functions console under another name (docs/aws.md)`,
      URL,
    ]);
  });

  it('maps throttling of StartExecution to exit 1 with a message to retry', async () => {
    stackExists();
    sfn.on(StartExecutionCommand).rejects(sfnError('ThrottlingException', 'Rate exceeded'));

    const result = await cli(...ARGS);

    expect(result).toEqual({
      code: 1,
      out: [],
      err: [
        `error: Step Functions StartExecution on the backfill state machine ${BACKFILL_ARN} was throttled by AWS (ThrottlingException) after 5 attempts: wait a minute and run the command again`,
      ],
    });
  });

  it('maps AccessDenied of StartExecution to exit 1 naming the permission', async () => {
    stackExists();
    sfn
      .on(StartExecutionCommand)
      .rejects(
        sfnError('AccessDeniedException', 'User: arn:aws:iam::123456789012:user/ci is not authorized'),
      );

    const result = await cli(...ARGS);

    expect(result.code).toBe(1);
    expect(result.err).toEqual([
      `error: AWS denied Step Functions StartExecution on the backfill state machine ${BACKFILL_ARN} (AccessDeniedException): the caller needs states:StartExecution on it (docs/aws.md, "Permissions of the CLI"); AWS said: User: arn:aws:iam::123456789012:user/ci is not authorized`,
    ]);
  });

  it('checks the request against the local job before calling AWS (exit 2, no call)', async () => {
    stackExists();
    startsExecutions();

    const future = await cli(
      'backfill',
      'daily',
      '--from',
      FROM,
      '--to',
      '2026-12-01T00:00:00Z',
      '--aws',
      '--region',
      REGION,
    );
    const unknown = await cli('backfill', 'nightly', '--from', FROM, '--to', TO, '--aws', '--region', REGION);
    const config = await cli(...ARGS, '--config', '{"region":"mars"}');
    const empty = await cli('backfill', 'daily', '--from', TO, '--to', FROM, '--aws', '--region', REGION);

    expect(future).toEqual({
      code: 2,
      out: [],
      err: [
        'error: Backfill refused: to (2026-12-01T00:00:00.000Z) is in the future (now is 2026-11-26T10:00:00.000Z); only intervals that have ended can be backfilled',
      ],
    });
    expect(unknown).toEqual({
      code: 2,
      out: [],
      err: ['error: Unknown job "nightly". Known jobs: daily, monthly, payday, weekly.'],
    });
    expect(config.code).toBe(2);
    expect(config.err[0]).toMatch(/^error: Invalid config for job "daily": region: /);
    expect(empty.code).toBe(2);
    expect(awsCallCount()).toBe(0);
  });
});
