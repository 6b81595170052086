import { InvokeCommand } from '@aws-sdk/client-lambda';
import {
  GetScheduleCommand,
  type GetScheduleCommandOutput,
  SchedulerServiceException,
  UpdateScheduleCommand,
} from '@aws-sdk/client-scheduler';
import { describe, expect, it } from 'vitest';
import type { StatusResponse } from '../../../shared/control/events.ts';
import {
  ACCOUNT,
  awsCallCount,
  cli,
  DISPATCHER,
  dispatcherCalls,
  invokeAnswer,
  lambda,
  REGION,
  scheduler,
  serviceError,
  stackExists,
} from './support.ts';

const schedulerError = (name: string, message: string) =>
  serviceError(name, message, SchedulerServiceException as never);

const STATUS: StatusResponse = {
  action: 'status',
  jobs: [
    {
      jobId: 'daily',
      watermark: '2026-11-26T03:00:00.000Z',
      paused: false,
      skippedTotal: 4,
      counts: {
        waiting: 0,
        pending: 1,
        queued: 0,
        running: 2,
        succeeded: 300,
        failed: 1,
        cancelled: 0,
        skipped: 0,
      },
      version: '7',
      outdated: 12,
      recentFailures: [
        {
          runId: 41,
          interval: { start: '2026-11-20T03:00:00.000Z', end: '2026-11-21T03:00:00.000Z' },
          attempts: 3,
          error: 'NonRetryableError: input file is corrupt',
          finishedAt: '2026-11-21T03:04:05.000Z',
        },
      ],
    },
    // Deployed, but not in the local functions/jobs/; answered by a dispatcher older than code
    // versions (no version, no outdated count).
    {
      jobId: 'legacy',
      watermark: null,
      paused: true,
      skippedTotal: 0,
      counts: { pending: 0, queued: 0, running: 0, succeeded: 0, failed: 0, cancelled: 0, skipped: 0 },
      recentFailures: [],
    } as unknown as StatusResponse['jobs'][number],
  ],
};

/** A schedule as GetSchedule answers for the stack's schedules (job-schedules.ts). */
function schedule(
  name: string,
  state: 'ENABLED' | 'DISABLED',
  expression = 'cron(0 3 * * ? *)',
): GetScheduleCommandOutput {
  return {
    $metadata: { httpStatusCode: 200, requestId: 'r-1' },
    Arn: `arn:aws:scheduler:${REGION}:${ACCOUNT}:schedule/Piko/${name}`,
    GroupName: 'Piko',
    Name: name,
    ScheduleExpression: expression,
    ScheduleExpressionTimezone: 'Europe/Paris',
    Description: `Piko job ${name}`,
    State: state,
    CreationDate: new Date('2026-11-01T00:00:00Z'),
    LastModificationDate: new Date('2026-11-02T00:00:00Z'),
    StartDate: new Date('2026-11-01T00:00:00Z'),
    FlexibleTimeWindow: { Mode: 'OFF' },
    ActionAfterCompletion: 'NONE',
    Target: {
      Arn: `arn:aws:lambda:${REGION}:${ACCOUNT}:function:${DISPATCHER}`,
      RoleArn: `arn:aws:iam::${ACCOUNT}:role/Piko-SchedulerRoleForTarget-abc`,
      Input: JSON.stringify({ jobId: name.split('.')[0] }),
      RetryPolicy: { MaximumRetryAttempts: 10, MaximumEventAgeInSeconds: 3600 },
      DeadLetterConfig: { Arn: `arn:aws:sqs:${REGION}:${ACCOUNT}:Piko-ScheduleDlq` },
    },
  };
}

/** What UpdateSchedule must receive: the schedule as read, less its read-only fields, with the new state. */
function expectedUpdate(current: GetScheduleCommandOutput, State: 'ENABLED' | 'DISABLED') {
  const {
    $metadata: _metadata,
    Arn: _arn,
    CreationDate: _created,
    LastModificationDate: _modified,
    ...rest
  } = current;
  return { ...rest, State };
}

describe('piko status --aws', () => {
  it('asks the dispatcher for every job and prints like the local status, the next tick from the local jobs', async () => {
    stackExists();
    lambda.on(InvokeCommand).resolves(invokeAnswer(STATUS));

    const result = await cli('status', '--aws', '--region', REGION);

    expect(result).toEqual({
      code: 0,
      out: [
        'daily',
        '  watermark 2026-11-26T03:00:00.000Z, next tick 2026-11-27T03:00:00.000Z',
        '  runs: pending 1, queued 0, running 2, succeeded 300, failed 1, cancelled 0, skipped 0; skipped by catch-up 4',
        '  version "7": 12 succeeded interval(s) outdated (piko backfill daily --from … --to … --reprocess outdated re-runs them)',
        '  failed 2026-11-20T03:00:00.000Z → 2026-11-21T03:00:00.000Z (run 41, finished 2026-11-21T03:04:05.000Z): NonRetryableError: input file is corrupt',
        'legacy (paused)',
        '  watermark (not planned yet), next tick (unknown: not a job of the local functions/jobs)',
        '  runs: pending 0, queued 0, running 0, succeeded 0, failed 0, cancelled 0, skipped 0; skipped by catch-up 0',
      ],
      err: [],
    });
    expect(dispatcherCalls()).toEqual([
      { FunctionName: DISPATCHER, InvocationType: 'RequestResponse', event: { action: 'status' } },
    ]);
  });

  it('asks for one job, and prints one JSON object per job with --json', async () => {
    stackExists();
    lambda.on(InvokeCommand).resolves(invokeAnswer({ action: 'status', jobs: [STATUS.jobs[0]] }));

    const result = await cli('status', 'daily', '--aws', '--region', REGION, '--json');

    expect(dispatcherCalls().map((call) => call.event)).toEqual([{ action: 'status', jobId: 'daily' }]);
    expect(result.code).toBe(0);
    expect(result.out.map((line) => JSON.parse(line))).toEqual([
      {
        jobId: 'daily',
        paused: false,
        watermark: '2026-11-26T03:00:00.000Z',
        nextTick: '2026-11-27T03:00:00.000Z',
        skipped: 4,
        waiting: 0,
        pending: 1,
        queued: 0,
        running: 2,
        succeeded: 300,
        failed: 1,
        cancelled: 0,
        skippedRuns: 0,
        version: '7',
        outdated: 12,
        failures: [
          {
            start: '2026-11-20T03:00:00.000Z',
            end: '2026-11-21T03:00:00.000Z',
            runId: 41,
            finishedAt: '2026-11-21T03:04:05.000Z',
            error: 'NonRetryableError: input file is corrupt',
          },
        ],
      },
    ]);
  });

  it('exits 1 when the answer has no job list', async () => {
    stackExists();
    lambda.on(InvokeCommand).resolves(invokeAnswer({ action: 'status' }));

    const result = await cli('status', '--aws', '--region', REGION);

    expect(result).toEqual({
      code: 1,
      out: [],
      err: [
        'error: The dispatcher answered "status" without a list of jobs: is the stack deployed by this version (npx cdk deploy)?',
      ],
    });
  });
});

describe('piko pause|resume <job> --aws', () => {
  it('pauses the job in the state table, then disables its schedule with every other field kept', async () => {
    stackExists();
    lambda.on(InvokeCommand).resolves(invokeAnswer({ action: 'pause', jobId: 'daily', paused: true }));
    const current = schedule('daily', 'ENABLED');
    scheduler.on(GetScheduleCommand, { Name: 'daily', GroupName: 'Piko' }).resolves(current);
    scheduler.on(UpdateScheduleCommand).resolves({ ScheduleArn: current.Arn });

    const result = await cli('pause', 'daily', '--aws', '--region', REGION, '--reason', 'db maintenance');

    expect(result).toEqual({
      code: 0,
      out: ['schedule Piko/daily: ENABLED → DISABLED', 'daily paused'],
      err: [],
    });
    // Who and why go with it: the dispatcher records the pause.
    expect(dispatcherCalls().map((call) => call.event)).toEqual([
      { action: 'pause', jobId: 'daily', actor: expect.stringMatching(/^.+@.+$/), reason: 'db maintenance' },
    ]);
    const updates = scheduler.commandCalls(UpdateScheduleCommand).map((call) => call.args[0].input);
    expect(updates).toEqual([expectedUpdate(current, 'DISABLED')]);
    // Spelled out, so a field the helper above would drop cannot go unnoticed.
    expect(updates[0]).toEqual({
      GroupName: 'Piko',
      Name: 'daily',
      ScheduleExpression: 'cron(0 3 * * ? *)',
      ScheduleExpressionTimezone: 'Europe/Paris',
      Description: 'Piko job daily',
      State: 'DISABLED',
      StartDate: new Date('2026-11-01T00:00:00Z'),
      FlexibleTimeWindow: { Mode: 'OFF' },
      ActionAfterCompletion: 'NONE',
      Target: current.Target,
    });
    // The state table first: a failure afterwards leaves the job paused where the planner looks.
    expect(lambda.call(0).calledBefore(scheduler.call(0))).toBe(true);
  });

  it('resumes both schedules of a job whose cron restricts both day fields, leaving one already enabled alone', async () => {
    stackExists();
    lambda.on(InvokeCommand).resolves(invokeAnswer({ action: 'resume', jobId: 'payday', paused: false }));
    const dom = schedule('payday.dom', 'DISABLED', 'cron(0 9 1 * ? *)');
    scheduler.on(GetScheduleCommand, { Name: 'payday.dom', GroupName: 'Piko' }).resolves(dom);
    scheduler
      .on(GetScheduleCommand, { Name: 'payday.dow', GroupName: 'Piko' })
      .resolves(schedule('payday.dow', 'ENABLED', 'cron(0 9 ? * 2 *)'));
    scheduler.on(UpdateScheduleCommand).resolves({ ScheduleArn: dom.Arn });

    const result = await cli('resume', 'payday', '--aws', '--region', REGION);

    expect(result).toEqual({
      code: 0,
      out: [
        'schedule Piko/payday.dom: DISABLED → ENABLED',
        'schedule Piko/payday.dow: already ENABLED',
        'payday resumed',
      ],
      err: [],
    });
    expect(dispatcherCalls().map((call) => call.event)).toEqual([
      { action: 'resume', jobId: 'payday', actor: expect.stringMatching(/^.+@.+$/), reason: null },
    ]);
    expect(scheduler.commandCalls(GetScheduleCommand).map((call) => call.args[0].input)).toEqual([
      { Name: 'payday.dom', GroupName: 'Piko' },
      { Name: 'payday.dow', GroupName: 'Piko' },
    ]);
    expect(scheduler.commandCalls(UpdateScheduleCommand).map((call) => call.args[0].input)).toEqual([
      expectedUpdate(dom, 'ENABLED'),
    ]);
  });

  it('refuses a job that is not in the local jobs before calling AWS (exit 2)', async () => {
    const result = await cli('pause', 'nightly', '--aws', '--region', REGION);

    expect(result).toEqual({
      code: 2,
      out: [],
      err: ['error: Unknown job "nightly". Known jobs: daily, monthly, payday, weekly.'],
    });
    expect(awsCallCount()).toBe(0);
  });

  it('touches no schedule when the dispatcher fails', async () => {
    stackExists();
    lambda
      .on(InvokeCommand)
      .resolves(invokeAnswer({ errorType: 'StoreError', errorMessage: 'deadlock' }, 'Unhandled'));

    const result = await cli('pause', 'daily', '--aws', '--region', REGION);

    expect(result.code).toBe(1);
    expect(result.err).toEqual([
      `error: The dispatcher (${DISPATCHER}) failed on "pause" of job "daily" (StoreError): deadlock; its CloudWatch logs have the details`,
    ]);
    expect(scheduler.calls()).toHaveLength(0);
  });

  it('exits 2 when the schedule does not exist (job not deployed), saying the state table changed', async () => {
    stackExists();
    lambda.on(InvokeCommand).resolves(invokeAnswer({ action: 'pause', jobId: 'daily', paused: true }));
    scheduler
      .on(GetScheduleCommand)
      .rejects(schedulerError('ResourceNotFoundException', 'Schedule daily does not exist.'));

    const result = await cli('pause', 'daily', '--aws', '--region', REGION);

    expect(result).toEqual({
      code: 2,
      out: [],
      err: [
        'daily is paused in the state table, but not every schedule was updated: run piko pause daily --aws again',
        `error: EventBridge Scheduler GetSchedule on schedule Piko/daily in ${REGION} failed: it does not exist (ResourceNotFoundException); deploy the stack "Piko" (npx cdk deploy) after adding or renaming the job`,
      ],
    });
  });

  it('exits 1 when UpdateSchedule is throttled, and names iam:PassRole when it is denied', async () => {
    stackExists();
    lambda.on(InvokeCommand).resolves(invokeAnswer({ action: 'resume', jobId: 'daily', paused: false }));
    scheduler.on(GetScheduleCommand).resolves(schedule('daily', 'DISABLED'));
    scheduler
      .on(UpdateScheduleCommand)
      .rejectsOnce(schedulerError('ThrottlingException', 'Rate exceeded'))
      .rejects(schedulerError('AccessDeniedException', 'not authorized to perform: iam:PassRole'));

    const throttled = await cli('resume', 'daily', '--aws', '--region', REGION);
    const denied = await cli('resume', 'daily', '--aws', '--region', REGION);

    expect(throttled.code).toBe(1);
    expect(throttled.err[1]).toBe(
      `error: EventBridge Scheduler UpdateSchedule on schedule Piko/daily in ${REGION} was throttled by AWS (ThrottlingException) after 5 attempts: wait a minute and run the command again`,
    );
    expect(denied.code).toBe(1);
    expect(denied.err[1]).toBe(
      `error: AWS denied EventBridge Scheduler UpdateSchedule on schedule Piko/daily in ${REGION} (AccessDeniedException): the caller needs scheduler:UpdateSchedule (and iam:PassRole on its target role) on it (docs/aws.md, "Permissions of the CLI"); AWS said: not authorized to perform: iam:PassRole`,
    );
  });
});
