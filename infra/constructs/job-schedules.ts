import { Duration, RemovalPolicy, Stack, TimeZone } from 'aws-cdk-lib';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as scheduler from 'aws-cdk-lib/aws-scheduler';
import * as targets from 'aws-cdk-lib/aws-scheduler-targets';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import type { JobDefinition } from '../../shared/job.ts';
import { eventBridgeCrons } from '../../shared/stack/eventbridge-cron.ts';
import { scheduleNamesFor } from '../../shared/stack/outputs.ts';
import { acknowledge, acknowledgeFinding, acknowledgeGuardRule, arnToken } from '../nag.ts';

/** Props of {@link JobSchedules}. */
export interface JobSchedulesProps {
  readonly jobs: readonly JobDefinition[];
  /** The schedule group's name. */
  readonly groupName: string;
  /** What each tick invokes, with `{ "jobId": "<id>" }`. */
  readonly controlFunction: lambda.IFunction;
  /**
   * Retries of a failed invocation of the control function. A tick that is never delivered loses nothing: the
   * next tick plans every interval due by then. @default 10
   */
  readonly retryAttempts?: number;
  /** How long a tick is retried before it goes to the dead-letter queue. @default Duration.hours(1) */
  readonly maxEventAge?: Duration;
  /**
   * How often the watchdog checks deadlines (`{ "action": "watchdog" }` to the control function),
   * when a job has one. @default Duration.minutes(5)
   */
  readonly watchdogRate?: Duration;
}

/**
 * The watchdog's schedule name: job ids hold no `.`, and a job's own schedules end in `.dom` or
 * `.dow` when they have a dot, so this never collides with one.
 */
export const WATCHDOG_SCHEDULE_NAME = 'piko.watchdog';

/**
 * One EventBridge Scheduler schedule per job (two when its cron restricts both day fields) in a Piko
 * schedule group: the job's cron in EventBridge's six-field form and its timezone, no flexible window,
 * invoking the control function (the dispatcher) with `{ "jobId": "<id>" }`, with a retry policy and an encrypted
 * dead-letter queue. When a job has a `deadline`, one more schedule, the watchdog, invokes it with
 * `{ "action": "watchdog" }` every 5 minutes, so deadlines are checked even when nothing else runs.
 */
export class JobSchedules extends Construct {
  readonly group: scheduler.ScheduleGroup;
  readonly deadLetterQueue: sqs.Queue;
  /** By schedule name. */
  readonly schedules: ReadonlyMap<string, scheduler.Schedule>;
  /** The watchdog's schedule; only when a job has a deadline. */
  readonly watchdog: scheduler.Schedule | undefined;

  constructor(scope: Construct, id: string, props: JobSchedulesProps) {
    super(scope, id);
    this.group = new scheduler.ScheduleGroup(this, 'Group', {
      scheduleGroupName: props.groupName,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    this.deadLetterQueue = new sqs.Queue(this, 'DeadLetters', {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    acknowledge(
      this.deadLetterQueue,
      'AwsSolutions-SQS3',
      'This queue is the dead-letter queue of the job schedules; an alarm watches it and nothing consumes it automatically.',
    );
    acknowledgeGuardRule(
      this.deadLetterQueue,
      'sqs_dlq_check',
      'This queue is itself the dead-letter queue of the job schedules: nothing consumes it, so no message can fail ' +
        'to be processed and need a queue of its own; an alarm fires on its first message.',
    );

    const schedules = new Map<string, scheduler.Schedule>();
    for (const job of props.jobs) {
      const names = scheduleNamesFor(job);
      const crons = eventBridgeCrons(job.schedule.cron);
      crons.forEach((cron, index) => {
        const name = names[index]!;
        const target = new targets.LambdaInvoke(props.controlFunction, {
          input: scheduler.ScheduleTargetInput.fromObject({ jobId: job.id }),
          deadLetterQueue: this.deadLetterQueue,
          retryAttempts: props.retryAttempts ?? 10,
          maxEventAge: props.maxEventAge ?? Duration.hours(1),
        });
        const schedule = new scheduler.Schedule(this, name, {
          scheduleName: name,
          scheduleGroup: this.group,
          description: `Piko job ${job.id}: ${job.schedule.cron} (${job.schedule.timezone})${crons.length > 1 ? `, ${cron.covers}` : ''}`,
          schedule: scheduler.ScheduleExpression.expression(
            cron.expression,
            TimeZone.of(job.schedule.timezone),
          ),
          target,
          timeWindow: scheduler.TimeWindow.off(),
        });
        schedules.set(name, schedule);
      });
    }
    this.schedules = schedules;
    this.watchdog = props.jobs.some((job) => job.deadlineMs !== undefined)
      ? new scheduler.Schedule(this, 'Watchdog', {
          scheduleName: WATCHDOG_SCHEDULE_NAME,
          scheduleGroup: this.group,
          description: 'Piko watchdog: checks the deadlines of every job that has one',
          schedule: scheduler.ScheduleExpression.rate(props.watchdogRate ?? Duration.minutes(5)),
          target: new targets.LambdaInvoke(props.controlFunction, {
            input: scheduler.ScheduleTargetInput.fromObject({ action: 'watchdog' }),
            deadLetterQueue: this.deadLetterQueue,
            retryAttempts: props.retryAttempts ?? 10,
            // A missed check loses nothing (the next one reads from where the last stopped): no use
            // retrying it past the next.
            maxEventAge: props.watchdogRate ?? Duration.minutes(5),
          }),
          timeWindow: scheduler.TimeWindow.off(),
        })
      : undefined;
    // The targets share one role per target function, which they create at the stack's root.
    const role = Stack.of(this).node.children.find((child) =>
      child.node.id.startsWith('SchedulerRoleForTarget'),
    );
    if (role) {
      acknowledgeFinding(
        role,
        'AwsSolutions-IAM5',
        `Resource::${arnToken(props.controlFunction)}:*`,
        'Written by the Scheduler LambdaInvoke target: lambda:InvokeFunction on the dispatcher and its versions; ' +
          'the schedules invoke the unqualified dispatcher.',
      );
    }
  }
}
