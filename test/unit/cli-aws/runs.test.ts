import { InvokeCommand } from '@aws-sdk/client-lambda';
import { describe, expect, it } from 'vitest';
import type { RunsResponse } from '../../../shared/control/run-events.ts';
import {
  ACCOUNT,
  cli,
  DISPATCHER,
  dispatcherCalls,
  invokeAnswer,
  lambda,
  OUTPUTS,
  REGION,
  stackExists,
} from './support.ts';

const EXECUTION = 'daily-s20261125T030000Z-0123456789abcdef';
const RUNS: RunsResponse = {
  action: 'runs',
  jobId: 'daily',
  runs: [
    {
      runId: 77,
      jobId: 'daily',
      interval: { start: '2026-11-25T03:00:00.000Z', end: '2026-11-26T03:00:00.000Z' },
      status: 'failed',
      trigger: 'schedule',
      stage: 'main',
      attempts: 3,
      generation: 0,
      requeues: 0,
      notBefore: null,
      executionName: EXECUTION,
      backfillId: null,
      config: null,
      error: 'upstream timed out',
      output: null,
      version: '7',
      createdAt: '2026-11-26T03:00:01.000Z',
      updatedAt: '2026-11-26T03:05:00.000Z',
      startedAt: '2026-11-26T03:04:00.000Z',
      finishedAt: '2026-11-26T03:05:00.000Z',
    },
  ],
  backfills: [],
};

describe('piko runs --aws', () => {
  it("prints the stack's runs, and with --logs the Logs Insights query and the execution's console link", async () => {
    // Arrange
    stackExists('Piko', {
      ...OUTPUTS,
      JobLogGroups: JSON.stringify({ daily: ['Piko-JobFunctionsdailyLogs-abc', 'Piko-FargateLogs-def'] }),
    });
    lambda.on(InvokeCommand).resolves(invokeAnswer(RUNS));

    // Act
    const result = await cli(
      'runs',
      'daily',
      '--aws',
      '--region',
      REGION,
      '--logs',
      '--from',
      '2026-11-25T00:00:00Z',
    );

    // Assert
    expect(result.err).toEqual([]);
    expect(result.code).toBe(0);
    expect(dispatcherCalls()).toEqual([
      {
        FunctionName: DISPATCHER,
        InvocationType: 'RequestResponse',
        event: {
          action: 'runs',
          jobId: 'daily',
          from: '2026-11-25T00:00:00.000Z',
          limit: 101,
          newestFirst: false,
        },
      },
    ]);
    const arn = `arn:aws:states:${REGION}:${ACCOUNT}:execution:Piko-daily:${EXECUTION}`;
    expect(result.out.slice(0, 2)).toEqual([
      'daily  2026-11-25T03:00:00.000Z → 2026-11-26T03:00:00.000Z  failed  (2026-11-25 03:00 UTC → 2026-11-26 03:00 UTC)',
      '  run 77: trigger schedule, 3 attempts of stage main, generation 0, requeues 0, version 7',
    ]);
    expect(result.out.slice(-7)).toEqual([
      '  error: upstream timed out',
      `  execution: https://${REGION}.console.aws.amazon.com/states/home?region=${REGION}#/v2/executions/details/${arn}`,
      `  logs: CloudWatch Logs Insights (https://${REGION}.console.aws.amazon.com/cloudwatch/home?region=${REGION}#logsV2:logs-insights), log groups Piko-JobFunctionsdailyLogs-abc, Piko-FargateLogs-def, from 2026-11-26T03:00:01.000Z to 2026-11-26T03:05:00.000Z:`,
      '    fields @timestamp, level, stage, attempt, message, @message',
      '    | filter (jobId = "daily" and runId = 77) or (@message like "jobId=daily " and @message like /runId=77( |$)/)',
      '    | sort @timestamp asc',
      '    | limit 10000',
    ]);
  });

  it('gives the links in --json, and says when the stack lists no log groups', async () => {
    stackExists();
    lambda.on(InvokeCommand).resolves(invokeAnswer(RUNS));

    const result = await cli('runs', 'daily', '--aws', '--region', REGION, '--logs', '--json');

    expect(result.code).toBe(0);
    const [line] = result.out.map(
      (text) => JSON.parse(text) as { runId: number; aws: Record<string, unknown> },
    );
    expect(line).toMatchObject({
      runId: 77,
      aws: {
        region: REGION,
        logGroups: [],
        executionArn: `arn:aws:states:${REGION}:${ACCOUNT}:execution:Piko-daily:${EXECUTION}`,
      },
    });
  });
});
