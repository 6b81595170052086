/**
 * The deployed stack's contract (`shared/stack/`): what the CDK stack promises the code that runs in
 * it and the `--aws` CLI, as pure names and functions: the stack's outputs and the resource names
 * derived from a job (here), the environment of functions and tasks (`env.ts`), the database users
 * and grants (`database-users.ts`) and the EventBridge cron translation (`eventbridge-cron.ts`).
 * Free of aws-cdk-lib and the AWS SDK: infra, the Lambda entry points and the CLI all import it.
 */
/**
 * The contract between the CDK stack and the `--aws` CLI: the stack's output names, and the names
 * of the resources the CLI derives from a job. Pure and free of aws-cdk-lib and the AWS SDK.
 */
import { PikoError } from '../errors.ts';
import { eventBridgeCrons } from './eventbridge-cron.ts';

/** Output: the dispatcher Lambda's function name (`piko dispatch|status|pause|resume --aws` invoke it). */
export const OUTPUT_DISPATCHER_FUNCTION_NAME = 'DispatcherFunctionName';
/** Output: the backfill state machine's ARN (`piko backfill --aws` starts it). */
export const OUTPUT_BACKFILL_STATE_MACHINE_ARN = 'BackfillStateMachineArn';
/** Output: the EventBridge Scheduler group that holds every job's schedules. */
export const OUTPUT_SCHEDULE_GROUP_NAME = 'ScheduleGroupName';
/** Output: job state machines are named `<prefix>-<jobId>` (see {@link jobStateMachineName}). */
export const OUTPUT_JOB_STATE_MACHINE_PREFIX = 'JobStateMachinePrefix';
/** Output: the region the stack is deployed in. */
export const OUTPUT_REGION = 'Region';
/**
 * Output: by job id, the CloudWatch log groups of the job's function and Fargate tasks, as JSON
 * (`piko runs --aws` and `piko ui --aws` give the Logs Insights query over them). Optional: a stack
 * deployed before it has none, and the query is then given without its log groups.
 */
export const OUTPUT_JOB_LOG_GROUPS = 'JobLogGroups';

/** Every output the CLI reads, by the property of {@link PikoStackOutputs} it fills. */
export const STACK_OUTPUT_NAMES = {
  dispatcherFunctionName: OUTPUT_DISPATCHER_FUNCTION_NAME,
  backfillStateMachineArn: OUTPUT_BACKFILL_STATE_MACHINE_ARN,
  scheduleGroupName: OUTPUT_SCHEDULE_GROUP_NAME,
  jobStateMachinePrefix: OUTPUT_JOB_STATE_MACHINE_PREFIX,
  region: OUTPUT_REGION,
} as const;

/** The stack's outputs, as the CLI uses them. */
export type PikoStackOutputs = { readonly [K in keyof typeof STACK_OUTPUT_NAMES]: string } & {
  /** By job id, its log groups ({@link OUTPUT_JOB_LOG_GROUPS}). @default - none (a stack deployed before it) */
  readonly jobLogGroups?: Readonly<Record<string, readonly string[]>>;
};

/** AWS region names, such as `eu-west-1`. */
export const AWS_REGION_PATTERN = /^[a-z]{2}(-[a-z]+)+-\d+$/;
/** CloudFormation stack names: a letter, then letters, digits or hyphens; at most 128 characters. */
export const STACK_NAME_PATTERN = /^[A-Za-z][A-Za-z0-9-]{0,127}$/;

/** Step Functions allows 80 characters in a state machine name. */
export const MAX_STATE_MACHINE_NAME_LENGTH = 80;
/** EventBridge Scheduler allows 64 characters in a schedule name. */
export const MAX_SCHEDULE_NAME_LENGTH = 64;

/**
 * The name of a job's state machine. Explicit names let the dispatcher build the ARNs it starts
 * without referencing the state machines (which reference the dispatcher: a cycle otherwise).
 */
export function jobStateMachineName(prefix: string, jobId: string): string {
  return `${prefix}-${jobId}`;
}

/**
 * The names of a job's schedules in the Piko schedule group: the job id, or, when its cron restricts
 * both day fields and needs two EventBridge expressions, `<jobId>.dom` and `<jobId>.dow` (job ids
 * hold no `.`, so these never collide with another job's).
 * @throws ScheduleError for a cron EventBridge cannot express.
 */
export function scheduleNamesFor(job: {
  readonly id: string;
  readonly schedule: { readonly cron: string };
}): string[] {
  const crons = eventBridgeCrons(job.schedule.cron);
  if (crons.length === 1) return [job.id];
  return crons.map((cron) => `${job.id}.${cron.covers === 'day-of-month' ? 'dom' : 'dow'}`);
}

/**
 * Reads the stack's outputs (CloudFormation `DescribeStacks` → `Stacks[0].Outputs`).
 * @throws PikoError naming every missing output and the stack, so a wrong stack name is obvious.
 */
export function parseStackOutputs(
  stackName: string,
  outputs: readonly { readonly OutputKey?: string; readonly OutputValue?: string }[],
): PikoStackOutputs {
  const byKey = new Map(outputs.map((output) => [output.OutputKey, output.OutputValue]));
  const missing: string[] = [];
  const result: Record<string, string> = {};
  for (const [property, key] of Object.entries(STACK_OUTPUT_NAMES)) {
    const value = byKey.get(key);
    if (value === undefined || value === '') missing.push(key);
    else result[property] = value;
  }
  if (missing.length > 0) {
    throw new PikoError(
      `Stack "${stackName}" lacks the output(s) ${missing.join(', ')}: is it a Piko stack, deployed by this version (npx cdk deploy)?`,
    );
  }
  const required = result as unknown as PikoStackOutputs;
  const logGroups = byKey.get(OUTPUT_JOB_LOG_GROUPS);
  if (logGroups === undefined || logGroups === '') return required;
  return { ...required, jobLogGroups: parseJobLogGroups(stackName, logGroups) };
}

/** The {@link OUTPUT_JOB_LOG_GROUPS} output's JSON. @throws PikoError when it is not `{ jobId: [name…] }`. */
function parseJobLogGroups(stackName: string, text: string): Record<string, readonly string[]> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    value = undefined;
  }
  const valid =
    typeof value === 'object' &&
    value !== null &&
    !Array.isArray(value) &&
    Object.values(value).every(
      (groups) => Array.isArray(groups) && groups.every((group) => typeof group === 'string'),
    );
  if (!valid) {
    throw new PikoError(
      `Stack "${stackName}" has an output ${OUTPUT_JOB_LOG_GROUPS} that is not a JSON object of log group names by job id: deploy it again with this version (npx cdk deploy)`,
    );
  }
  return value as Record<string, readonly string[]>;
}
