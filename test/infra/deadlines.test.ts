/**
 * Deadlines on AWS (DESIGN.md §9): one alarm per job with a deadline, on that job's `IntervalsLate`
 * metric, to the stack's alarm topic; the watchdog schedule invoking the dispatcher every 5 minutes.
 * (A stack without deadlines has neither: piko-stack.test.ts counts its schedules and alarms.)
 */
import { Match } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { defineJob } from '#piko';
import { WATCHDOG_SCHEDULE_NAME } from '../../infra/constructs/job-schedules.ts';
import { buildPikoStack, fanout, type Resources } from './fixtures.ts';

const sales = defineJob({
  id: 'daily_sales',
  schedule: { cron: '0 2 * * *', timezone: 'Asia/Shanghai' },
  deadline: '2h',
  handler: async () => null,
});
const events = defineJob({
  id: 'hourly_events',
  schedule: { cron: '0 * * * *' },
  deadline: '30m',
  handler: async () => null,
});

describe('deadlines in the stack', () => {
  const { app, stack, template, nag } = buildPikoStack([fanout, sales, events]);
  const resources = template.toJSON().Resources as Resources;
  const logicalId = (construct: { node: { defaultChild?: unknown } }) =>
    stack.resolve((construct.node.defaultChild as { logicalId: string }).logicalId) as string;
  const topic = { Ref: logicalId(stack.observability.topic) };

  it('alarms on each job with a deadline: its IntervalsLate, summed over 5 minutes, to the alarm topic', () => {
    for (const jobId of ['daily_sales', 'hourly_events']) {
      template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        Namespace: 'Piko',
        MetricName: 'IntervalsLate',
        Dimensions: [
          { Name: 'job', Value: jobId },
          { Name: 'service', Value: 'piko' },
          { Name: 'stack', Value: 'Piko' },
        ],
        Statistic: 'Sum',
        Period: 300,
        Threshold: 1,
        EvaluationPeriods: 1,
        ComparisonOperator: 'GreaterThanOrEqualToThreshold',
        TreatMissingData: 'notBreaching',
        AlarmActions: [topic],
        AlarmDescription: Match.stringLikeRegexp(
          `^Intervals of job ${jobId} had not succeeded by their deadline`,
        ),
      });
    }
    const lateAlarms = Object.values(resources).filter(
      (resource) =>
        resource.Type === 'AWS::CloudWatch::Alarm' && resource.Properties?.MetricName === 'IntervalsLate',
    );
    // fanout has no deadline: no alarm of its own.
    expect(
      lateAlarms.map(
        (alarm) => (alarm.Properties?.Dimensions as { Value: string }[] | undefined)?.[0]?.Value,
      ),
    ).toEqual(['daily_sales', 'hourly_events']);
  });

  it('invokes the dispatcher with { action: "watchdog" } every 5 minutes, dead letters to the schedules’ queue', () => {
    template.hasResourceProperties('AWS::Scheduler::Schedule', {
      Name: WATCHDOG_SCHEDULE_NAME,
      GroupName: Match.anyValue(),
      ScheduleExpression: 'rate(5 minutes)',
      FlexibleTimeWindow: { Mode: 'OFF' },
      Target: Match.objectLike({
        Arn: { 'Fn::GetAtt': [logicalId(stack.control.function), 'Arn'] },
        Input: JSON.stringify({ action: 'watchdog' }),
        DeadLetterConfig: { Arn: { 'Fn::GetAtt': [logicalId(stack.schedules.deadLetterQueue), 'Arn'] } },
        RetryPolicy: { MaximumEventAgeInSeconds: 300, MaximumRetryAttempts: 10 },
      }),
    });
  });

  it('passes cdk-nag AwsSolutions', () => {
    expect(nag.validateScope(app).violations).toEqual([]);
  });
});
