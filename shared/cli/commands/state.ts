import type { Command } from 'commander';
import { localActor } from '../../control/actor.ts';
import { jobStatuses } from '../../control/status.ts';
import { setJobPaused } from '../../planner/index.ts';
import {
  type AwsFlags,
  awsOption,
  refuseAwsOnlyFlags,
  regionOption,
  stackNameOption,
} from '../aws/options.ts';
import { cliContext, withProcess } from '../context.ts';
import type { CliIo } from '../io.ts';
import { printJobStatus } from '../status-printer.ts';

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
      const statuses = await withProcess(context, (opened) =>
        jobStatuses(opened.store, jobs, (job) => context.jobs.upstreams(job.id)),
      );
      const options = { source: 'local', jobs: context.jobs, now: new Date(), json: flags.json } as const;
      for (const status of statuses) printJobStatus(io, status, options);
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
      .option('--reason <text>', 'why (recorded with the action)')
      .addOption(regionOption())
      .addOption(stackNameOption())
      .action(async (jobId: string, flags: AwsFlags & { reason?: string }) => {
        const request = { actor: localActor(), reason: flags.reason ?? null };
        if (flags.aws) {
          return (await import('../aws/state.ts')).pauseOnAws(jobId, paused, request, flags, io);
        }
        refuseAwsOnlyFlags(flags);
        const context = await cliContext();
        const job = context.jobs.get(jobId);
        await withProcess(context, (opened) => setJobPaused(opened.store, job, paused, request));
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
