/**
 * `piko status [job] --aws` and `piko pause|resume <job> --aws`: the state table through the
 * deployed dispatcher, and the job's schedules through EventBridge Scheduler.
 */

import type { JobStatus as AwsJobStatus, PauseResponse, StatusResponse } from '../../control/events.ts';
import { DispatcherFailedError } from '../../errors.ts';
import { scheduleNamesFor } from '../../stack/outputs.ts';
import type { RUN_STATUSES } from '../../store/types.ts';
import { type JobStatus, printJobStatus } from '../commands/state.ts';
import { cliContext } from '../context.ts';
import type { CliIo } from '../io.ts';
import { checkJobId, invokeDispatcher } from './dispatcher.ts';
import type { AwsFlags } from './options.ts';
import { setScheduleState } from './schedules.ts';
import { AwsSession, resolveAwsTarget } from './session.ts';

/**
 * A job's status on AWS, as `piko status --aws --json` prints it: the local status's fields, with
 * each failure's run id and finish time in place of its attempt count (the dispatcher does not send it).
 */
export interface AwsStatusLine extends Omit<JobStatus, 'failures'> {
  readonly failures: readonly {
    start: string;
    end: string;
    runId: number;
    finishedAt: string | null;
    error: string | null;
  }[];
}

/** `piko status [job] --aws`: the dispatcher's `status`, printed like the local status. */
export async function statusOnAws(
  jobId: string | undefined,
  flags: AwsFlags & { readonly json?: boolean },
  io: CliIo,
): Promise<void> {
  if (jobId !== undefined) checkJobId(jobId);
  const context = await cliContext();
  const session = new AwsSession(resolveAwsTarget(flags, context.config.aws));
  const response = await invokeDispatcher<StatusResponse>(
    session,
    jobId === undefined ? { action: 'status' } : { action: 'status', jobId },
  );
  if (!Array.isArray(response.jobs)) {
    throw new DispatcherFailedError(
      `The dispatcher answered "status" without a list of jobs: is the stack deployed by this version (npx cdk deploy)?`,
      'UnexpectedAnswer',
    );
  }
  const now = new Date();
  for (const job of response.jobs) {
    const local = context.jobs.has(job.jobId) ? context.jobs.get(job.jobId) : undefined;
    const line = statusLine(job, local?.schedule.nextTick(now)?.toISOString() ?? null);
    if (flags.json) {
      io.out(JSON.stringify(line));
      continue;
    }
    const next = line.nextTick ?? (local ? '(none)' : '(unknown: not a job of the local functions/jobs)');
    printJobStatus(
      io,
      line,
      next,
      (failure) => `(run ${failure.runId}, finished ${failure.finishedAt ?? '?'})`,
    );
  }
}

function statusLine(job: AwsJobStatus, nextTick: string | null): AwsStatusLine {
  const count = (name: (typeof RUN_STATUSES)[number]) => job.counts?.[name] ?? 0;
  return {
    jobId: job.jobId,
    paused: job.paused,
    watermark: job.watermark,
    nextTick,
    skipped: job.skippedTotal,
    pending: count('pending'),
    queued: count('queued'),
    running: count('running'),
    succeeded: count('succeeded'),
    failed: count('failed'),
    failures: (job.recentFailures ?? []).map((failure) => ({
      start: failure.interval.start,
      end: failure.interval.end,
      runId: failure.runId,
      finishedAt: failure.finishedAt,
      error: failure.error,
    })),
  };
}

/**
 * `piko pause|resume <job> --aws`: the state table first (through the dispatcher: what the planner
 * obeys), then every schedule of the job (`scheduleNamesFor`) in the stack's schedule group. Both
 * steps are idempotent: after a failure, the same command finishes the job.
 */
export async function pauseOnAws(jobId: string, paused: boolean, flags: AwsFlags, io: CliIo): Promise<void> {
  const context = await cliContext();
  const job = context.jobs.get(jobId);
  const schedules = scheduleNamesFor(job);
  const session = new AwsSession(resolveAwsTarget(flags, context.config.aws));
  const { scheduleGroupName } = await session.outputs();
  await invokeDispatcher<PauseResponse>(session, { action: paused ? 'pause' : 'resume', jobId: job.id });
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
