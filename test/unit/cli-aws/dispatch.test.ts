import { InvokeCommand, LambdaServiceException } from '@aws-sdk/client-lambda';
import { describe, expect, it } from 'vitest';
import type { DispatchResponse } from '../../../shared/control/events.ts';
import {
  awsCallCount,
  cli,
  DISPATCHER,
  dispatcherCalls,
  invokeAnswer,
  lambda,
  REGION,
  serviceError,
  stackExists,
} from './support.ts';

const ANSWER: DispatchResponse = {
  action: 'dispatch',
  jobId: 'daily',
  planned: 3,
  skipped: 1,
  watermark: '2026-11-26T03:00:00.000Z',
  more: false,
  paused: false,
  started: [{ executionName: 'daily-s20261123T030000Z-0123456789abcdef', runs: 3 }],
  restarted: ['daily-s20261120T030000Z-fedcba9876543210'],
  requeued: 2,
  live: [],
};
const lambdaError = (name: string, message: string) =>
  serviceError(name, message, LambdaServiceException as never);

describe('piko dispatch <job> --aws', () => {
  it('invokes the dispatcher (RequestResponse) with { action: "dispatch", jobId } and prints what it did', async () => {
    stackExists();
    lambda.on(InvokeCommand).resolves(invokeAnswer(ANSWER));

    const result = await cli('dispatch', 'daily', '--aws', '--region', REGION);

    expect(result).toEqual({
      code: 0,
      out: [
        'daily: planned 3, skipped 1, watermark 2026-11-26T03:00:00.000Z',
        '  started daily-s20261123T030000Z-0123456789abcdef (3 run(s))',
        '  started again daily-s20261120T030000Z-fedcba9876543210',
        '  2 run(s) of ended executions put back to pending',
      ],
      err: [],
    });
    expect(dispatcherCalls()).toEqual([
      {
        FunctionName: DISPATCHER,
        InvocationType: 'RequestResponse',
        event: { action: 'dispatch', jobId: 'daily' },
      },
    ]);
  });

  it('says when nothing started, the job is paused, or more is due', async () => {
    stackExists();
    lambda.on(InvokeCommand).resolves(
      invokeAnswer({
        ...ANSWER,
        planned: 0,
        paused: true,
        more: true,
        started: [],
        restarted: [],
        requeued: 0,
      }),
    );

    const result = await cli('dispatch', 'daily', '--aws', '--region', REGION);

    expect(result.out).toEqual([
      'daily (paused): planned 0, skipped 1, watermark 2026-11-26T03:00:00.000Z',
      '  nothing to start',
      '  more intervals are due: run piko dispatch again, or wait for the next tick',
    ]);
  });

  it('prints the answer as one JSON object with --json', async () => {
    stackExists();
    lambda.on(InvokeCommand).resolves(invokeAnswer(ANSWER));

    const result = await cli('dispatch', 'daily', '--aws', '--region', REGION, '--json');

    expect(result.code).toBe(0);
    expect(result.out.map((line) => JSON.parse(line))).toEqual([ANSWER]);
  });

  it('exits 1 with the message of a FunctionError', async () => {
    stackExists();
    lambda
      .on(InvokeCommand)
      .resolves(
        invokeAnswer(
          { errorType: 'StoreUnavailableError', errorMessage: 'connect ETIMEDOUT', trace: ['at x'] },
          'Unhandled',
        ),
      );

    const result = await cli('dispatch', 'daily', '--aws', '--region', REGION);

    expect(result).toEqual({
      code: 1,
      out: [],
      err: [
        `error: The dispatcher (${DISPATCHER}) failed on "dispatch" of job "daily" (StoreUnavailableError): connect ETIMEDOUT; its CloudWatch logs have the details`,
      ],
    });
  });

  it('exits 1 for a timed-out invocation, whose payload has no errorType', async () => {
    stackExists();
    lambda
      .on(InvokeCommand)
      .resolves(invokeAnswer({ errorMessage: 'Task timed out after 300.00 seconds' }, 'Unhandled'));

    const result = await cli('dispatch', 'daily', '--aws', '--region', REGION);

    expect(result.code).toBe(1);
    expect(result.err).toEqual([
      `error: The dispatcher (${DISPATCHER}) failed on "dispatch" of job "daily" (Unhandled): Task timed out after 300.00 seconds; its CloudWatch logs have the details`,
    ]);
  });

  it('exits 2 when the dispatcher refuses the request (unknown job), as the local CLI does', async () => {
    stackExists();
    lambda
      .on(InvokeCommand)
      .resolves(
        invokeAnswer(
          { errorType: 'UnknownJobError', errorMessage: 'Unknown job "gone". Known jobs: daily.' },
          'Unhandled',
        ),
      );

    const result = await cli('dispatch', 'gone', '--aws', '--region', REGION);

    expect(result).toEqual({
      code: 2,
      out: [],
      err: ['error: The dispatcher refused "dispatch" of job "gone": Unknown job "gone". Known jobs: daily.'],
    });
  });

  it('exits 1 when the answer is not a JSON object', async () => {
    stackExists();
    lambda.on(InvokeCommand).resolves({ $metadata: {}, StatusCode: 200 });

    const result = await cli('dispatch', 'daily', '--aws', '--region', REGION);

    expect(result.code).toBe(1);
    expect(result.err).toEqual([
      `error: The dispatcher (${DISPATCHER}) answered "dispatch" of job "daily" with "", not a JSON object: is the stack deployed by this version (npx cdk deploy)?`,
    ]);
  });

  it('maps Lambda throttling (TooManyRequestsException) to exit 1 and a missing function to exit 2', async () => {
    stackExists();
    lambda
      .on(InvokeCommand)
      .rejectsOnce(lambdaError('TooManyRequestsException', 'Rate Exceeded.'))
      .rejects(lambdaError('ResourceNotFoundException', `Function not found: ${DISPATCHER}`));

    const throttled = await cli('dispatch', 'daily', '--aws', '--region', REGION);
    const missing = await cli('dispatch', 'daily', '--aws', '--region', REGION);

    expect(throttled).toEqual({
      code: 1,
      out: [],
      err: [
        `error: Lambda Invoke on the dispatcher function ${DISPATCHER} in ${REGION} was throttled by AWS (TooManyRequestsException) after 5 attempts: wait a minute and run the command again`,
      ],
    });
    expect(missing).toEqual({
      code: 2,
      out: [],
      err: [
        `error: Lambda Invoke on the dispatcher function ${DISPATCHER} in ${REGION} failed: it does not exist (ResourceNotFoundException); deploy the stack "Piko" again (npx cdk deploy): its dispatcher is gone`,
      ],
    });
  });

  it('needs --aws and a job id, and calls nothing without them (exit 2)', async () => {
    const local = await cli('dispatch', 'daily');
    const badId = await cli('dispatch', 'Daily Sales', '--aws', '--region', REGION);

    expect(local).toEqual({
      code: 2,
      out: [],
      err: [
        'error: piko dispatch invokes the dispatcher on AWS: add --aws (locally, piko start or piko start --once plans and runs what is due)',
      ],
    });
    expect(badId).toEqual({
      code: 2,
      out: [],
      err: [
        'error: Job id "Daily Sales" is not a job id (a-z first, then a-z, 0-9, _ or -, at most 40 characters)',
      ],
    });
    expect(awsCallCount()).toBe(0);
  });
});
