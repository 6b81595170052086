import type { Command } from 'commander';
import { backfillSummaryJson } from '../../control/backfills.ts';
import { BackfillStateError, ExitCodeError } from '../../errors.ts';
import { LocalRuntime } from '../../local/runtime.ts';
import {
  type BackfillCommand,
  backfillRequestOf,
  changeBackfill,
  listBackfillSummaries,
} from '../../planner/index.ts';
import {
  type AwsFlags,
  awsOption,
  refuseAwsOnlyFlags,
  regionOption,
  stackNameOption,
} from '../aws/options.ts';
import { changeText, printBackfills } from '../backfill-printer.ts';
import { cliContext, withProcess } from '../context.ts';
import { type CliIo, EXIT } from '../io.ts';
import { cliActor } from '../operator.ts';
import { progressPrinter } from '../progress.ts';

interface ControlFlags extends AwsFlags {
  readonly reason?: string;
  readonly json?: boolean;
  readonly run?: boolean;
}

const DESCRIPTIONS: Readonly<Record<BackfillCommand, string>> = {
  pause: 'pause a backfill: none of its runs is queued any more, planning stops; running ones finish',
  resume: 'resume a paused or cancelled backfill from where it was (cancelled runs run again)',
  cancel: 'cancel a backfill: its pending and queued runs become cancelled, running ones finish; resumable',
};

/**
 * `piko backfills [job]` (every backfill with its progress, newest first) and
 * `piko backfill pause|resume|cancel <id> [--reason TEXT]`, each recorded as an operator action;
 * with `--aws`, through the deployed stack's dispatcher (`shared/cli/aws/backfills.ts`).
 */
export function backfillsCommand(program: Command, io: CliIo): void {
  program
    .command('backfills [job]')
    .description('every backfill (or a job’s), newest first, with its progress and last action')
    .option('--json', 'one JSON object per backfill and line')
    .addOption(awsOption('read the backfills of the deployed stack through its dispatcher'))
    .addOption(regionOption())
    .addOption(stackNameOption())
    .action(async (jobId: string | undefined, flags: AwsFlags & { json?: boolean }) => {
      if (flags.aws) return (await import('../aws/backfills.ts')).backfillsOnAws(jobId, flags, io);
      refuseAwsOnlyFlags(flags);
      const context = await cliContext({ json: flags.json });
      if (jobId !== undefined) context.jobs.get(jobId);
      const summaries = await withProcess(context, (opened) =>
        listBackfillSummaries(opened.store, (id) => concurrencyOf(context.jobs, id), jobId),
      );
      printBackfills(io, summaries.map(backfillSummaryJson), flags.json ?? false);
    });

  const backfill = program.commands.find((command) => command.name() === 'backfill');
  if (!backfill) throw new Error('register the backfill command before backfillsCommand');
  for (const name of ['pause', 'resume', 'cancel'] as const) {
    const command = backfill
      .command(`${name} <id>`)
      .description(DESCRIPTIONS[name])
      .option('--reason <text>', 'why, recorded with the action');
    if (name === 'resume') {
      command.option('--run', 'then run it in this process until done (when no process runs it)');
    }
    command.action(async (id: string, _flags: ControlFlags, self: Command) => {
      // The parent `backfill` command owns --json, --aws, --region and --stack-name.
      const flags = self.optsWithGlobals<ControlFlags>();
      const request = { actor: cliActor(), reason: flags.reason ?? null };
      if (flags.aws) {
        return (await import('../aws/backfills.ts')).changeBackfillOnAws(id, name, request, flags, io);
      }
      refuseAwsOnlyFlags(flags);
      const context = await cliContext({ json: flags.json });
      await withProcess(context, async (opened) => {
        const record = await opened.store.getBackfill(id);
        if (!record) throw new BackfillStateError(`No backfill "${id}"; piko backfills lists them`);
        const job = context.jobs.get(record.jobId);
        const change = await changeBackfill(opened.store, job, id, name, request);
        const print = progressPrinter(io, flags.json ?? false);
        print({
          event: `backfill-${name}`,
          text: changeText(change.backfillId, name, change.runs),
          fields: { ...change },
        });
        if (name !== 'resume' || !flags.run) return;
        const runtime = new LocalRuntime({ process: opened, onProgress: flags.json ? print : () => {} });
        const outcome = await runtime.backfills.driveOrWait(job, backfillRequestOf(record), {
          limits: { maxBackfillIntervals: context.config.piko.maxBackfillIntervals },
          onHeld: (holder) =>
            print({
              event: 'backfill-held',
              text: `${job.id}: backfill ${id} is run by ${holder} (a piko start took it); waiting for it`,
              fields: { jobId: job.id, backfillId: id, holder },
            }),
        });
        const { succeeded, failed } = outcome;
        const ended = outcome.cancelled ? 'cancelled' : 'done';
        print({
          event: `backfill-${ended}`,
          text: `${job.id}: backfill ${ended}: ${succeeded} succeeded, ${failed} failed`,
          fields: { jobId: job.id, backfillId: id, succeeded, failed },
        });
        if (failed > 0) throw new ExitCodeError(EXIT.runsFailed);
      });
    });
  }
}

function concurrencyOf(jobs: { list(): readonly { id: string; concurrency: number }[] }, jobId: string) {
  return jobs.list().find((job) => job.id === jobId)?.concurrency;
}
