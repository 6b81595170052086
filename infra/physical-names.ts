/**
 * Every physical name the Piko stack sets itself, with the limits AWS puts on it. These names are
 * unique per account and region (the dashboard's per account), so each one carries the stack's name:
 * two Piko stacks in one account never share a resource. Every other resource is named by
 * CloudFormation (`<stack>-<logical id>-<random>`), which is unique already.
 *
 * `physicalNameProblems` is checked at synth, before any construct exists, so a stack name or job id
 * that AWS would refuse fails `cdk synth` with every problem at once instead of a deploy half-way.
 */

import type { JobDefinition } from '../shared/job.ts';
import {
  jobStateMachineName,
  MAX_SCHEDULE_NAME_LENGTH,
  MAX_STATE_MACHINE_NAME_LENGTH,
  scheduleNamesFor,
} from '../shared/stack/outputs.ts';
import { stageTaskFamily } from './constructs/job-workflow.ts';

/** RDS Proxy names: 1 to 60 letters, digits and hyphens (CDK's generated names stop at 60 too). */
export const MAX_DB_PROXY_NAME_LENGTH = 60;
/** EventBridge Scheduler schedule group names: 1 to 64 of `[0-9a-zA-Z-_.]`. */
export const MAX_SCHEDULE_GROUP_NAME_LENGTH = 64;
/** ECS task definition families: up to 255 letters, digits, hyphens and underscores. */
export const MAX_TASK_FAMILY_LENGTH = 255;
/** CloudWatch Logs log group names: 1 to 512 characters. */
export const MAX_LOG_GROUP_NAME_LENGTH = 512;
/** CloudWatch dashboard names: 1 to 255 of `[A-Za-z0-9_-]`. */
export const MAX_DASHBOARD_NAME_LENGTH = 255;
/** The longest AWS region code, for the dashboard name's length (`ap-southeast-5`, `us-gov-west-1`). */
const LONGEST_REGION_LENGTH = 'ap-southeast-5'.length;

/** Step Functions finds log groups under this prefix without growing its resource policy. */
export const VENDED_LOGS_PREFIX = '/aws/vendedlogs/states/';

/** The backfill state machine: job ids start with a letter, so it never collides with `<stack>-<jobId>`. */
export function backfillStateMachineName(stackName: string): string {
  return `${stackName}--backfill`;
}

/** A state machine's log group. */
export function stateMachineLogGroupName(stateMachineName: string): string {
  return `${VENDED_LOGS_PREFIX}${stateMachineName}`;
}

/** The schedule group of the stack's schedules (schedule names are unique within their group). */
export function scheduleGroupName(stackName: string): string {
  return stackName;
}

/** The RDS Proxy: RDS stores identifiers in lowercase. */
export function stateDatabaseProxyName(stackName: string): string {
  return `${stackName}-state`.toLowerCase();
}

/**
 * The dashboard. Dashboards are global to the account, not regional: the region keeps stacks of the
 * same name in two regions apart.
 */
export function dashboardName(stackName: string, region: string): string {
  return `${stackName}-${region}`;
}

/** One name the stack sets, what it names and the most characters AWS accepts. */
export interface PhysicalName {
  /** What it is, as a message says it: `job "daily": its state machine name`. */
  readonly what: string;
  readonly name: string;
  readonly limit: number;
  /** How to make it shorter. */
  readonly fix: string;
}

/** Every name a stack named `stackName` with `jobs` sets (schedules of a cron EventBridge refuses are left out). */
export function physicalNames(
  stackName: string,
  jobs: readonly Pick<JobDefinition, 'id' | 'schedule' | 'stages'>[],
): PhysicalName[] {
  const shorterStack = 'use a shorter stack name';
  const shorterBoth = 'use a shorter stack name or job id';
  const names: PhysicalName[] = [
    {
      what: 'the RDS Proxy name',
      name: stateDatabaseProxyName(stackName),
      limit: MAX_DB_PROXY_NAME_LENGTH,
      fix: shorterStack,
    },
    {
      what: 'the schedule group name',
      name: scheduleGroupName(stackName),
      limit: MAX_SCHEDULE_GROUP_NAME_LENGTH,
      fix: shorterStack,
    },
    {
      what: 'the dashboard name (with the longest region)',
      name: dashboardName(stackName, 'x'.repeat(LONGEST_REGION_LENGTH)),
      limit: MAX_DASHBOARD_NAME_LENGTH,
      fix: shorterStack,
    },
  ];
  const stateMachine = (owner: string, name: string, fix: string) => {
    names.push({ what: `${owner} state machine name`, name, limit: MAX_STATE_MACHINE_NAME_LENGTH, fix });
    names.push({
      what: `${owner} state machine log group name`,
      name: stateMachineLogGroupName(name),
      limit: MAX_LOG_GROUP_NAME_LENGTH,
      fix,
    });
  };
  stateMachine("the backfill's", backfillStateMachineName(stackName), shorterStack);
  for (const job of jobs) {
    stateMachine(`job "${job.id}": its`, jobStateMachineName(stackName, job.id), shorterBoth);
    let schedules: string[] = [];
    try {
      schedules = scheduleNamesFor(job);
    } catch {
      // The cron's own problem is reported by the stack's validation.
    }
    for (const schedule of schedules) {
      names.push({
        what: `job "${job.id}": its schedule name`,
        name: schedule,
        limit: MAX_SCHEDULE_NAME_LENGTH,
        fix: 'use a shorter job id',
      });
    }
    for (const stage of job.stages) {
      if (stage.kind !== 'fargate') continue;
      names.push({
        what: `job "${job.id}": the task definition family of stage "${stage.name}"`,
        name: stageTaskFamily(job.id, stage.name, stackName),
        limit: MAX_TASK_FAMILY_LENGTH,
        fix: 'use a shorter stack name, job id or stage name',
      });
    }
  }
  return names;
}

/**
 * What is wrong with the names a stack would set, one line each: which name, its length, the limit,
 * and how to fix it. Also the RDS rule that an identifier never holds two hyphens in a row.
 */
export function physicalNameProblems(
  stackName: string,
  jobs: readonly Pick<JobDefinition, 'id' | 'schedule' | 'stages'>[],
): string[] {
  const problems = physicalNames(stackName, jobs)
    .filter(({ name, limit }) => name.length > limit)
    .map(
      ({ what, name, limit, fix }) =>
        `${what} "${name}" has ${name.length} characters, more than the ${limit} AWS allows; ${fix}`,
    );
  const proxy = stateDatabaseProxyName(stackName);
  if (proxy.includes('--')) {
    problems.push(
      `the RDS Proxy name "${proxy}" has two hyphens in a row, which RDS refuses; use a stack name without "--"`,
    );
  }
  return problems;
}
