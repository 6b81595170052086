import type { Command } from 'commander';
import { resetWatermark } from '../../planner/index.ts';
import type { RunRecord } from '../../store/types.ts';
import { cliContext, withProcess } from '../context.ts';
import type { CliIo } from '../io.ts';
import { parseInstantFlag } from '../parse.ts';

/** Runs listed in full at most; the rest are counted. */
const LISTED = 20;

/** `piko reset-watermark <job> --to ISO [--dry-run]`: recovery from a clock that ran ahead. */
export function resetWatermarkCommand(program: Command, io: CliIo): void {
  program
    .command('reset-watermark <job>')
    .description(
      "move a job's watermark back (after a clock ran ahead): pending/queued runs of intervals after now are deleted, other runs kept and listed",
    )
    .requiredOption('--to <iso>', "the new watermark: a tick of the job's schedule, not after now")
    .option('--dry-run', 'say what would change, change nothing')
    .action(async (jobId: string, flags: { to: string; dryRun?: boolean }) => {
      const context = await cliContext();
      const job = context.jobs.get(jobId);
      const to = parseInstantFlag('--to', flags.to);
      const now = new Date();
      const dryRun = flags.dryRun ?? false;
      await withProcess(context, async (opened) => {
        const reset = await resetWatermark(opened.store, job, to, now, dryRun);
        const verb = dryRun ? 'would move' : 'moved';
        io.out(
          `${dryRun ? '(dry run) ' : ''}${job.id}: ${verb} the watermark from ${reset.from.toISOString()} to ${reset.to.toISOString()} (now is ${now.toISOString()})`,
        );
        io.out(
          `  ${dryRun ? 'would delete' : 'deleted'} ${reset.removed.length} pending or queued run(s) of intervals ending after now`,
        );
        io.out(
          `  kept ${reset.kept.length} other run(s) of intervals ending after now${reset.kept.length ? ':' : ''}`,
        );
        for (const run of reset.kept.slice(0, LISTED)) io.out(`    ${describe(run)}`);
        if (reset.kept.length > LISTED) io.out(`    … and ${reset.kept.length - LISTED} more`);
        if (reset.kept.length) {
          io.out(
            `  the planner will not plan those intervals again; once they have happened, rerun them with piko backfill ${job.id} --from … --to … --reprocess all`,
          );
        }
      });
    });
}

function describe(run: RunRecord): string {
  return `${run.interval.start.toISOString()} → ${run.interval.end.toISOString()} ${run.status}`;
}
