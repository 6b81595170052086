import type { Command } from 'commander';
import type { JobDefinition } from '../../job.ts';
import type { ProcessRuntime } from '../../runner/process.ts';
import { RUN_STATUSES } from '../../store/types.ts';
import {
  type AwsFlags,
  awsOption,
  refuseAwsOnlyFlags,
  regionOption,
  stackNameOption,
} from '../aws/options.ts';
import { cliContext, withProcess } from '../context.ts';
import type { CliIo } from '../io.ts';

/** Per-job state as `piko status` reports it. */
export interface JobStatus {
  readonly jobId: string;
  readonly paused: boolean;
  readonly watermark: string | null;
  readonly nextTick: string | null;
  readonly skipped: number;
  readonly pending: number;
  readonly queued: number;
  readonly running: number;
  readonly succeeded: number;
  readonly failed: number;
  readonly failures: readonly { start: string; end: string; attempts: number; error: string | null }[];
}

/** Reads a job's status from the store. */
export async function jobStatus(opened: ProcessRuntime, job: JobDefinition, now: Date): Promise<JobStatus> {
  const state = await opened.store.getJob(job.id);
  const counts = await opened.store.countRuns(job.id);
  const failures = await opened.store.recentFailures(job.id, 5);
  const next = job.schedule.nextTick(now);
  return {
    jobId: job.id,
    paused: state?.paused ?? false,
    watermark: state?.watermark.toISOString() ?? null,
    nextTick: next?.toISOString() ?? null,
    skipped: state?.skippedTotal ?? 0,
    ...counts,
    failures: failures.map((run) => ({
      start: run.interval.start.toISOString(),
      end: run.interval.end.toISOString(),
      attempts: run.attempts,
      error: run.error,
    })),
  };
}

/** What the human status of a job prints; the failures' detail differs locally and on AWS. */
type PrintableStatus<F> = Omit<JobStatus, 'failures'> & {
  readonly failures: readonly (F & { start: string; end: string; error: string | null })[];
};

/** Prints one job's status as readable lines (`piko status`, local or `--aws`). */
export function printJobStatus<F>(
  io: CliIo,
  status: PrintableStatus<F>,
  nextTick: string,
  failureDetail: (failure: F) => string,
): void {
  const counts = RUN_STATUSES.map((name) => `${name} ${status[name]}`).join(', ');
  io.out(`${status.jobId}${status.paused ? ' (paused)' : ''}`);
  io.out(`  watermark ${status.watermark ?? '(not planned yet)'}, next tick ${nextTick}`);
  io.out(`  runs: ${counts}; skipped ${status.skipped}`);
  for (const failure of status.failures) {
    io.out(`  failed ${failure.start} → ${failure.end} ${failureDetail(failure)}: ${failure.error ?? ''}`);
  }
}

/**
 * `piko status`, `piko pause`, `piko resume`, `piko jobs`. With `--aws`, status, pause and resume act
 * on the deployed stack (`shared/cli/aws/state.ts`).
 */
export function stateCommands(program: Command, io: CliIo): void {
  program
    .command('status [job]')
    .description('per job: watermark, next tick, runs per status, the last failures')
    .option('--json', 'one JSON object per job and line')
    .addOption(awsOption('read the state table of the deployed stack through its dispatcher'))
    .addOption(regionOption())
    .addOption(stackNameOption())
    .action(async (jobId: string | undefined, flags: AwsFlags & { json?: boolean }) => {
      if (flags.aws) return (await import('../aws/state.ts')).statusOnAws(jobId, flags, io);
      refuseAwsOnlyFlags(flags);
      const context = await cliContext();
      const jobs = jobId ? [context.jobs.get(jobId)] : context.jobs.list();
      await withProcess(context, async (opened) => {
        for (const job of jobs) {
          const status = await jobStatus(opened, job, new Date());
          if (flags.json) {
            io.out(JSON.stringify(status));
            continue;
          }
          printJobStatus(
            io,
            status,
            `${status.nextTick ?? '(none)'}`,
            (failure) => `after ${failure.attempts} attempt(s)`,
          );
        }
      });
    });

  for (const [name, paused] of [
    ['pause', true],
    ['resume', false],
  ] as const) {
    program
      .command(`${name} <job>`)
      .description(
        paused
          ? 'stop new work of a job: nothing is planned or started, running intervals finish'
          : 'let a paused job plan and run again',
      )
      .addOption(
        awsOption(
          paused
            ? 'pause the job in the state table of the deployed stack and disable its schedules'
            : 'resume the job in the state table of the deployed stack and enable its schedules',
        ),
      )
      .addOption(regionOption())
      .addOption(stackNameOption())
      .action(async (jobId: string, flags: AwsFlags) => {
        if (flags.aws) return (await import('../aws/state.ts')).pauseOnAws(jobId, paused, flags, io);
        refuseAwsOnlyFlags(flags);
        const context = await cliContext();
        const job = context.jobs.get(jobId);
        await withProcess(context, (opened) => opened.store.setPaused(job, paused));
        io.out(`${job.id} ${paused ? 'paused' : 'resumed'}`);
      });
  }

  program
    .command('jobs')
    .description('list the jobs in functions/jobs/')
    .option('--json', 'one JSON object per job and line')
    .action(async (flags: { json?: boolean }) => {
      const context = await cliContext();
      for (const job of context.jobs.list()) {
        const stages = job.stages.map((stage) => `${stage.kind}:${stage.name}`);
        if (flags.json) {
          io.out(
            JSON.stringify({
              id: job.id,
              cron: job.schedule.cron,
              timezone: job.schedule.timezone,
              concurrency: job.concurrency,
              stages,
              description: job.description,
            }),
          );
        } else {
          io.out(
            `${job.id}  ${job.schedule.cron} (${job.schedule.timezone})  concurrency ${job.concurrency}  ${stages.join(' → ')}`,
          );
          if (job.description) io.out(`  ${job.description}`);
        }
      }
    });
}
