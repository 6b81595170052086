import type { Command } from 'commander';
import { ExitCodeError, InputError, JobPausedError } from '../../errors.ts';
import { LocalRuntime } from '../../local/runtime.ts';
import {
  type BackfillRequest,
  finishBackfill,
  planBackfill,
  previewBackfill,
  type Reprocess,
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
import { progressPrinter } from './start.ts';

const REPROCESS: readonly Reprocess[] = ['missing', 'failed', 'all'];
const BAR_WIDTH = 30;
/** How often a backfill of a paused job looks whether the job was resumed. */
const PAUSED_POLL_MS = 500;

interface BackfillFlags extends AwsFlags {
  from?: string;
  to?: string;
  reprocess: string;
  dryRun?: boolean;
  reverse?: boolean;
  config?: string;
  json?: boolean;
  wait?: boolean;
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
  };
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
    .option('--reprocess <which>', 'missing | failed | all', 'missing')
    .option('--dry-run', 'print the plan and write nothing')
    .option('--reverse', 'newest intervals first')
    .option('--config <json>', 'config override for the backfilled runs')
    .option('--json', 'JSON lines')
    .option('--wait', 'when the job is paused, plan now and run after piko resume (else refused)')
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
          const counts: Record<string, number> = {};
          for await (const line of previewBackfill(opened.store, job, request)) {
            counts[line.action] = (counts[line.action] ?? 0) + 1;
            const start = line.start.toISOString();
            const end = line.end.toISOString();
            io.out(
              flags.json
                ? JSON.stringify({ start, end, action: line.action })
                : `${start} → ${end}  ${line.action}`,
            );
          }
          if (!flags.json)
            io.out(
              `plan: ${
                Object.entries(counts)
                  .map(([action, n]) => `${action} ${n}`)
                  .join(', ') || 'nothing'
              }`,
            );
          return;
        }

        // A paused job starts no run: refuse before writing anything, so a script never blocks on a
        // pause it did not expect; --wait plans now and runs after resume (as a pause mid-way does).
        if (!flags.wait && (await opened.store.getJob(job.id))?.paused) {
          throw new JobPausedError(job.id, 'a backfill (pass --wait to plan it now and run it after resume)');
        }
        const print = progressPrinter(io, flags.json ?? false);
        const plan = await planBackfill(opened.store, job, request, now, limits);
        print({
          event: 'backfill-planned',
          text: `${job.id}: backfill ${plan.backfillId} planned: ${plan.counts.create} created, ${plan.counts.rerun} re-armed, ${plan.counts['skip-succeeded'] + plan.counts['skip-in-flight'] + plan.counts['skip-failed']} skipped`,
          fields: { jobId: job.id, backfillId: plan.backfillId, ...plan.counts },
        });
        const lane = { kind: 'backfill', backfillId: plan.backfillId } as const;
        const todo = (await opened.store.listRuns(job.id, { from: request.from, to: request.to })).filter(
          (run) =>
            run.backfillId === plan.backfillId && run.status !== 'succeeded' && run.status !== 'failed',
        ).length;
        const runtime = new LocalRuntime({ process: opened, onProgress: flags.json ? print : () => {} });
        let waiting = false;
        for (;;) {
          const dispatched = await runtime.dispatchLane(job, lane, request.reverse);
          await runtime.whenIdle();
          const { succeeded, failed } = runtime.totals;
          if (dispatched.paused) {
            // A paused job starts nothing, backfills included: wait here and go on after resume.
            if (!waiting) {
              waiting = true;
              print({
                event: 'backfill-paused',
                text: `${job.id}: paused; the backfill waits (piko resume ${job.id} to go on, Ctrl-C to stop and run this command again later)`,
                fields: { jobId: job.id, backfillId: plan.backfillId },
              });
            }
            await new Promise((resolve) => setTimeout(resolve, PAUSED_POLL_MS));
            continue;
          }
          waiting = false;
          if (!flags.json) io.err(progressBar(succeeded + failed, todo, failed));
          // Done when nothing was started, resumed after an interruption, or still running.
          if (dispatched.started.length + dispatched.restarted.length + dispatched.live.length === 0) break;
        }
        await finishBackfill(opened.store, job, plan.backfillId);
        const { succeeded, failed } = runtime.totals;
        print({
          event: 'backfill-done',
          text: `${job.id}: backfill done: ${succeeded} succeeded, ${failed} failed`,
          fields: { jobId: job.id, backfillId: plan.backfillId, succeeded, failed },
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
