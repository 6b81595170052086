import type { Command } from 'commander';
import { ExitCodeError, InputError } from '../../errors.ts';
import { LocalRuntime } from '../../local/runtime.ts';
import {
  type BackfillAction,
  type BackfillRequest,
  countBackfill,
  REPROCESS,
  type Reprocess,
  runBackfill,
  validateBackfill,
} from '../../planner/index.ts';
import {
  type AwsFlags,
  awsOption,
  refuseAwsOnlyFlags,
  regionOption,
  stackNameOption,
} from '../aws/options.ts';
import { cliContext, withProcess } from '../context.ts';
import { type CliIo, EXIT } from '../io.ts';
import { parseInstantFlag, parseJsonFlag } from '../parse.ts';
import { progressPrinter } from '../progress.ts';

const BAR_WIDTH = 30;

interface BackfillFlags extends AwsFlags {
  from?: string;
  to?: string;
  reprocess: string;
  dryRun?: boolean;
  reverse?: boolean;
  config?: string;
  json?: boolean;
  wait?: boolean;
  concurrency?: string;
}

/** Parses and checks `piko backfill`'s flags into a request. @throws InputError naming the flag. */
export function backfillRequest(jobId: string, flags: BackfillFlags): BackfillRequest {
  if (!REPROCESS.includes(flags.reprocess as Reprocess)) {
    throw new InputError(
      `--reprocess must be one of ${REPROCESS.join(', ')}, got ${JSON.stringify(flags.reprocess)}`,
    );
  }
  return {
    jobId,
    from: parseInstantFlag('--from', flags.from),
    to: parseInstantFlag('--to', flags.to),
    reprocess: flags.reprocess as Reprocess,
    dryRun: flags.dryRun ?? false,
    reverse: flags.reverse ?? false,
    config: parseJsonFlag('--config', flags.config),
    ...(flags.concurrency === undefined ? {} : { concurrency: parseConcurrencyFlag(flags.concurrency) }),
  };
}

/** `--concurrency N`: a positive integer (validateBackfill checks it against the job's). */
function parseConcurrencyFlag(text: string): number {
  const value = Number(text);
  if (!/^[0-9]+$/.test(text) || !Number.isSafeInteger(value) || value < 1) {
    throw new InputError(`--concurrency must be a positive integer, got ${JSON.stringify(text)}`);
  }
  return value;
}

/**
 * `piko backfill <job> --from --to …`: plans a range and runs it locally, resumable; with `--aws`,
 * starts the deployed stack's backfill state machine instead (`shared/cli/aws/backfill.ts`).
 */
export function backfillCommand(program: Command, io: CliIo): void {
  program
    .command('backfill <job>')
    .description(
      'run (or re-run) every interval of a job in [--from, --to); run again to continue after a stop',
    )
    .option('--from <iso>', 'range start (ISO 8601 with offset)')
    .option('--to <iso>', 'range end (ISO 8601 with offset), not in the future')
    .option(
      '--reprocess <which>',
      'missing | failed | outdated (also succeeded under another version of the job) | all',
      'missing',
    )
    .option('--dry-run', 'print the plan and write nothing')
    .option('--reverse', 'newest intervals first')
    .option('--config <json>', 'config override for the backfilled runs')
    .option('--json', 'JSON lines')
    .option('--wait', 'when the job is paused, plan now and run after piko resume (else refused)')
    .option('--concurrency <n>', "runs of the backfill at once, at most the job's (default: the job's)")
    .addOption(awsOption('start the backfill state machine of the deployed stack'))
    .addOption(regionOption())
    .addOption(stackNameOption())
    .action(async (jobId: string, flags: BackfillFlags) => {
      const request = backfillRequest(jobId, flags);
      if (flags.aws) return (await import('../aws/backfill.ts')).backfillOnAws(request, flags, io);
      refuseAwsOnlyFlags(flags);
      const context = await cliContext({ json: flags.json });
      const job = context.jobs.get(jobId);
      const now = new Date();
      const limits = { maxBackfillIntervals: context.config.piko.maxBackfillIntervals };
      validateBackfill(job, request, now, limits);

      await withProcess(context, async (opened) => {
        if (request.dryRun) {
          const met: BackfillAction[] = [];
          const { counts } = await countBackfill(opened.store, job, request, {
            each: (line) => {
              if (!met.includes(line.action)) met.push(line.action);
              const start = line.start.toISOString();
              const end = line.end.toISOString();
              io.out(
                flags.json
                  ? JSON.stringify({ start, end, action: line.action })
                  : `${start} → ${end}  ${line.action}`,
              );
            },
          });
          // The summary names the actions in the order the listing met them.
          if (!flags.json)
            io.out(`plan: ${met.map((action) => `${action} ${counts[action]}`).join(', ') || 'nothing'}`);
          return;
        }

        const print = progressPrinter(io, flags.json ?? false);
        const runtime = new LocalRuntime({ process: opened, onProgress: flags.json ? print : () => {} });
        const outcome = await runBackfill(opened.store, job, request, runtime, {
          limits,
          waitWhilePaused: flags.wait,
          onProgress: (progress) => {
            if (progress.kind === 'planned') {
              const { backfillId, counts } = progress.plan;
              const skipped = counts['skip-succeeded'] + counts['skip-in-flight'] + counts['skip-failed'];
              print({
                event: 'backfill-planned',
                text: `${job.id}: backfill ${backfillId} planned: ${counts.create} created, ${counts.rerun} re-armed, ${skipped} skipped`,
                fields: { jobId: job.id, backfillId, ...counts },
              });
            } else if (progress.kind === 'paused') {
              print({
                event: 'backfill-paused',
                text: `${job.id}: paused; the backfill waits (piko resume ${job.id} to go on, Ctrl-C to stop and run this command again later)`,
                fields: { jobId: job.id, backfillId: progress.backfillId },
              });
            } else if (progress.kind === 'backfill-paused' || progress.kind === 'backfill-resumed') {
              const paused = progress.kind === 'backfill-paused';
              print({
                event: progress.kind,
                text: paused
                  ? `${job.id}: backfill ${progress.backfillId} paused; it waits (piko backfill resume ${progress.backfillId} to go on)`
                  : `${job.id}: backfill ${progress.backfillId} resumed`,
                fields: { jobId: job.id, backfillId: progress.backfillId },
              });
            } else if (!flags.json) {
              io.err(progressBar(progress.done, progress.total, progress.failed));
            }
          },
        });
        const { succeeded, failed } = outcome;
        if (outcome.cancelled) {
          print({
            event: 'backfill-cancelled',
            text: `${job.id}: backfill ${outcome.backfillId} cancelled: ${succeeded} succeeded, ${failed} failed (piko backfill resume ${outcome.backfillId} goes on)`,
            fields: { jobId: job.id, backfillId: outcome.backfillId, succeeded, failed },
          });
          return;
        }
        print({
          event: 'backfill-done',
          text: `${job.id}: backfill done: ${succeeded} succeeded, ${failed} failed`,
          fields: { jobId: job.id, backfillId: outcome.backfillId, succeeded, failed },
        });
        if (failed > 0) throw new ExitCodeError(EXIT.runsFailed);
      });
    });
}

function progressBar(done: number, total: number, failed: number): string {
  const ratio = total === 0 ? 1 : Math.min(done / total, 1);
  const filled = Math.round(ratio * BAR_WIDTH);
  return `[${'#'.repeat(filled)}${'-'.repeat(BAR_WIDTH - filled)}] ${done}/${total}${failed ? ` (${failed} failed)` : ''}`;
}
