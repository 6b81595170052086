/**
 * `piko status [job] --aws` and `piko pause|resume <job> --aws`: the state table through the
 * deployed control function, and the job's schedules through EventBridge Scheduler.
 */

import type { PauseResponse, StatusResponse } from '../../control/events.ts';
import type { JobStatus } from '../../control/status.ts';
import { DispatcherFailedError } from '../../errors.ts';
import type { OperatorCall } from '../../planner/index.ts';
import { scheduleNamesFor } from '../../stack/outputs.ts';
import { RUN_STATUSES, type RunCounts } from '../../store/types.ts';
import { cliContext } from '../context.ts';
import type { CliIo } from '../io.ts';
import { printJobStatus } from '../status-printer.ts';
import { checkJobId, invokeControlFunction } from './control-client.ts';
import type { AwsFlags } from './options.ts';
import { setScheduleState } from './schedules.ts';
import { AwsSession, resolveAwsTarget } from './session.ts';

/** `piko status [job] --aws`: the control function's `status`, printed as the local status is. */
export async function statusOnAws(
  jobId: string | undefined,
  flags: AwsFlags & { readonly json?: boolean },
  io: CliIo,
): Promise<void> {
  if (jobId !== undefined) checkJobId(jobId);
  const context = await cliContext();
  const session = new AwsSession(resolveAwsTarget(flags, context.config.aws));
  const response = await invokeControlFunction<StatusResponse>(
    session,
    jobId === undefined ? { action: 'status' } : { action: 'status', jobId },
  );
  if (!Array.isArray(response.jobs)) {
    throw new DispatcherFailedError(
      `The dispatcher answered "status" without a list of jobs: is the stack deployed by this version (npx cdk deploy)?`,
      'UnexpectedAnswer',
    );
  }
  const options = { source: 'aws', jobs: context.jobs, now: new Date(), json: flags.json } as const;
  for (const status of response.jobs) printJobStatus(io, withDefaults(status), options);
}

/**
 * A status as a control function of another version may answer it: counts, failures, the code
 * version and the outdated count can be missing.
 */
function withDefaults(status: JobStatus): JobStatus {
  const counts = status.counts as Partial<RunCounts> | undefined;
  return {
    ...status,
    counts: Object.fromEntries(RUN_STATUSES.map((name) => [name, counts?.[name] ?? 0])) as RunCounts,
    version: status.version ?? null,
    outdated: status.outdated ?? 0,
    recentFailures: status.recentFailures ?? [],
  };
}

/**
 * `piko pause|resume <job> --aws`: the state table first (through the dispatcher: what the planner
 * obeys), then every schedule of the job (`scheduleNamesFor`) in the stack's schedule group. Both
 * steps are idempotent: after a failure, the same command finishes the job.
 */
export async function pauseOnAws(
  jobId: string,
  paused: boolean,
  request: OperatorCall,
  flags: AwsFlags,
  io: CliIo,
): Promise<void> {
  const context = await cliContext();
  const job = context.jobs.get(jobId);
  const schedules = scheduleNamesFor(job);
  const session = new AwsSession(resolveAwsTarget(flags, context.config.aws));
  const { scheduleGroupName } = await session.outputs();
  await invokeControlFunction<PauseResponse>(session, {
    action: paused ? 'pause' : 'resume',
    jobId: job.id,
    actor: request.actor,
    reason: request.reason ?? null,
  });
  const verb = paused ? 'paused' : 'resumed';
  for (const name of schedules) {
    try {
      const change = await setScheduleState(
        session,
        scheduleGroupName,
        name,
        paused ? 'DISABLED' : 'ENABLED',
      );
      io.out(
        change.changed
          ? `schedule ${change.schedule}: ${change.from} → ${change.to}`
          : `schedule ${change.schedule}: already ${change.to}`,
      );
    } catch (error) {
      io.err(
        `${job.id} is ${verb} in the state table, but not every schedule was updated: run piko ${paused ? 'pause' : 'resume'} ${job.id} --aws again`,
      );
      throw error;
    }
  }
  io.out(`${job.id} ${verb}`);
}
