/**
 * Where a run's logs and execution are on AWS, as pure names: the CloudWatch Logs Insights query of
 * its `ctx.log` lines (over the log groups of the job's function and Fargate tasks, from the stack's
 * outputs) and the Step Functions console link of its execution. `piko runs --aws --logs` prints
 * them; `piko ui --aws` shows them on an interval's page.
 */
import { jobStateMachineName, type PikoStackOutputs } from './outputs.ts';

/** What the links of one run are made from: the stack's outputs and the run's row. */
export interface RunLinkInput {
  readonly outputs: Pick<
    PikoStackOutputs,
    'region' | 'backfillStateMachineArn' | 'jobStateMachinePrefix' | 'jobLogGroups'
  >;
  readonly jobId: string;
  readonly runId: number;
  /** The execution that holds (or last held) the run; null before any. */
  readonly executionName: string | null;
  /** When the run was created and finished: the time range to give the query. */
  readonly createdAt: Date;
  /** @default - now (the run has not finished) */
  readonly finishedAt?: Date | null;
}

/** A run's logs and execution on AWS. */
export interface RunAwsLinks {
  readonly region: string;
  /** The log groups to run {@link query} over; empty when the stack's outputs do not list them. */
  readonly logGroups: readonly string[];
  /** The Logs Insights query of the run's lines, every attempt and stage (JSON lines of Lambda, text lines of Fargate). */
  readonly query: string;
  /** The time range to select in the console (ISO 8601), from the run's creation to its end (or now). */
  readonly from: string;
  readonly to: string | null;
  /** The Logs Insights console of the region. */
  readonly insightsUrl: string;
  /** The execution's ARN; null before the run was dispatched. */
  readonly executionArn: string | null;
  /** The Step Functions console page of the execution; null before the run was dispatched. */
  readonly executionUrl: string | null;
}

/**
 * The Logs Insights query and the execution console link of one run. The account and partition
 * come from the backfill state machine's ARN (every state machine of the stack shares them).
 */
export function runAwsLinks(input: RunLinkInput): RunAwsLinks {
  const { outputs, jobId, runId } = input;
  const region = outputs.region;
  const [, partition = 'aws', , , account = ''] = outputs.backfillStateMachineArn.split(':');
  const machine = jobStateMachineName(outputs.jobStateMachinePrefix, jobId);
  const executionArn = input.executionName
    ? `arn:${partition}:states:${region}:${account}:execution:${machine}:${input.executionName}`
    : null;
  const console = `https://${region}.console.${partition === 'aws-cn' ? 'amazonaws.cn' : 'aws.amazon.com'}`;
  return {
    region,
    logGroups: outputs.jobLogGroups?.[jobId] ?? [],
    query: runLogsQuery(jobId, runId),
    from: input.createdAt.toISOString(),
    to: input.finishedAt ? input.finishedAt.toISOString() : null,
    insightsUrl: `${console}/cloudwatch/home?region=${region}#logsV2:logs-insights`,
    executionArn,
    executionUrl: executionArn
      ? `${console}/states/home?region=${region}#/v2/executions/details/${executionArn}`
      : null,
  };
}

/**
 * The Logs Insights query of run `runId` of `jobId`: Lambda writes JSON lines (fields `jobId`,
 * `runId`), Fargate tasks readable lines (`… jobId=<job> runId=<id> …`); both are matched.
 */
export function runLogsQuery(jobId: string, runId: number): string {
  return [
    'fields @timestamp, level, stage, attempt, message, @message',
    `| filter (jobId = "${jobId}" and runId = ${runId}) or (@message like "jobId=${jobId} " and @message like /runId=${runId}( |$)/)`,
    '| sort @timestamp asc',
    '| limit 10000',
  ].join('\n');
}
