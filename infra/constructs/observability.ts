import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import {
  IntervalsLate,
  METRICS_JOB_DIMENSION,
  METRICS_NAMESPACE,
  METRICS_SERVICE,
  METRICS_STACK_DIMENSION,
} from '../../shared/telemetry.ts';

export { METRICS_NAMESPACE };

/**
 * The dimensions on every metric of the stack `stackName` (Powertools Metrics in
 * `shared/telemetry.ts`): the service, and the stack, so two stacks in one account stay apart.
 */
export function metricsDimensions(stackName: string): Readonly<Record<string, string>> {
  return { service: METRICS_SERVICE, [METRICS_STACK_DIMENSION]: stackName };
}

/** Props of {@link Observability}. */
export interface ObservabilityProps {
  /** The stack's name, as its functions and tasks get it (`PIKO_AWS__STACK_NAME`): their metrics' `stack` dimension. */
  readonly stackName: string;
  /** Encrypts the alarm topic (its key policy must let CloudWatch use it). */
  readonly topicKey: kms.IKey;
  /** Its errors raise an alarm; the dashboard graphs it. */
  readonly controlFunction: lambda.IFunction;
  readonly deadLetterQueue: sqs.IQueue;
  /** By job id. */
  readonly jobStateMachines: ReadonlyMap<string, sfn.IStateMachine>;
  readonly backfillStateMachine: sfn.IStateMachine;
  /**
   * The jobs with a `deadline`: each gets an alarm on its `IntervalsLate` metric (the watchdog counts
   * each late interval once), sent to the alarm topic. @default [] (no job has a deadline)
   */
  readonly deadlineJobIds?: readonly string[];
  /** Subscribed to the alarm topic. @default - no subscription */
  readonly alarmEmail?: string;
  /** @default 'Piko' */
  readonly dashboardName?: string;
}

/**
 * A dashboard of Piko's metrics (intervals planned and skipped, runs succeeded and failed, run
 * duration, lag, late intervals) and of its functions, queues and workflows; alarms on failed runs,
 * dead letters, dispatcher errors, failed executions and, per job with a deadline, late intervals,
 * sent to an encrypted SNS topic.
 */
export class Observability extends Construct {
  readonly topic: sns.Topic;
  readonly dashboard: cloudwatch.Dashboard;
  readonly alarms: readonly cloudwatch.Alarm[];

  constructor(scope: Construct, id: string, props: ObservabilityProps) {
    super(scope, id);
    this.topic = new sns.Topic(this, 'Alarms', {
      displayName: 'Piko alarms',
      masterKey: props.topicKey,
      enforceSSL: true,
    });
    if (props.alarmEmail) this.topic.addSubscription(new subscriptions.EmailSubscription(props.alarmEmail));

    const piko = (metricName: string, statistic: string) =>
      new cloudwatch.Metric({
        namespace: METRICS_NAMESPACE,
        metricName,
        dimensionsMap: { ...metricsDimensions(props.stackName) },
        statistic,
        period: Duration.minutes(5),
      });
    const runsFailed = piko('RunsFailed', 'Sum');

    const alarms: cloudwatch.Alarm[] = [];
    const alarm = (id: string, metric: cloudwatch.IMetric, description: string) => {
      const created = new cloudwatch.Alarm(this, id, {
        metric,
        threshold: 1,
        evaluationPeriods: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
        alarmDescription: description,
      });
      created.addAlarmAction(new actions.SnsAction(this.topic));
      alarms.push(created);
    };
    alarm('RunsFailedAlarm', runsFailed, 'Piko runs failed after their retries (see `piko status`).');
    alarm(
      'DeadLettersAlarm',
      props.deadLetterQueue.metricApproximateNumberOfMessagesVisible({
        period: Duration.minutes(5),
        statistic: 'Maximum',
      }),
      'Schedule ticks could not reach the dispatcher and went to the dead-letter queue.',
    );
    alarm(
      'DispatcherErrorsAlarm',
      props.controlFunction.metricErrors({ period: Duration.minutes(5), statistic: 'Sum' }),
      'The Piko dispatcher failed (see its log group).',
    );
    for (const [jobId, machine] of props.jobStateMachines) {
      alarm(
        `${jobId}-ExecutionsFailedAlarm`,
        machine.metricFailed({ period: Duration.minutes(5), statistic: 'Sum' }),
        `A workflow execution of job ${jobId} failed as a whole (runs are normally failed one by one).`,
      );
    }
    const lateByJob: cloudwatch.IMetric[] = [];
    for (const jobId of props.deadlineJobIds ?? []) {
      const late = new cloudwatch.Metric({
        namespace: METRICS_NAMESPACE,
        metricName: IntervalsLate,
        dimensionsMap: { ...metricsDimensions(props.stackName), [METRICS_JOB_DIMENSION]: jobId },
        statistic: 'Sum',
        period: Duration.minutes(5),
      });
      // Labelled on the dashboard only: a label would make the alarm a metric-math alarm.
      lateByJob.push(late.with({ label: jobId }));
      alarm(
        `${jobId}-IntervalsLateAlarm`,
        late,
        `Intervals of job ${jobId} had not succeeded by their deadline (the watchdog's log line names them; see \`piko status ${jobId}\`).`,
      );
    }
    alarm(
      'BackfillFailedAlarm',
      props.backfillStateMachine.metricFailed({ period: Duration.minutes(5), statistic: 'Sum' }),
      'A backfill execution failed (refused request, or a batch that failed as a whole).',
    );
    this.alarms = alarms;

    this.dashboard = new cloudwatch.Dashboard(this, 'Dashboard', {
      dashboardName: props.dashboardName ?? 'Piko',
      defaultInterval: Duration.hours(6),
    });
    const graph = (title: string, left: cloudwatch.IMetric[], right: cloudwatch.IMetric[] = []) =>
      new cloudwatch.GraphWidget({ title, left, right, width: 12, height: 6 });
    this.dashboard.addWidgets(
      graph('Intervals', [piko('IntervalsPlanned', 'Sum'), piko('IntervalsSkipped', 'Sum')]),
      graph('Runs', [piko('RunsSucceeded', 'Sum'), runsFailed]),
    );
    this.dashboard.addWidgets(
      graph('Run duration (ms)', [piko('RunDuration', 'p50'), piko('RunDuration', 'p99')]),
      graph('Lag: interval end to start (ms)', [piko('Lag', 'Maximum'), piko('Lag', 'Average')]),
    );
    if (lateByJob.length > 0) this.dashboard.addWidgets(graph('Late intervals, by job', lateByJob));
    this.dashboard.addWidgets(
      graph(
        'Dispatcher',
        [
          props.controlFunction.metricInvocations(),
          props.controlFunction.metricErrors(),
          props.controlFunction.metricThrottles(),
        ],
        [props.controlFunction.metricDuration({ statistic: 'p99' })],
      ),
      graph('Workflows', [
        ...[...props.jobStateMachines.values()].map((machine) => machine.metricFailed()),
        props.backfillStateMachine.metricFailed(),
        props.deadLetterQueue.metricApproximateNumberOfMessagesVisible(),
      ]),
    );
    this.dashboard.addWidgets(new cloudwatch.AlarmStatusWidget({ title: 'Alarms', alarms, width: 24 }));
  }
}
