import type { Command } from 'commander';
import { localActor } from '../../control/actor.ts';
import { ExitCodeError } from '../../errors.ts';
import { LocalRuntime } from '../../local/runtime.ts';
import { manualRunTarget, runManually } from '../../planner/index.ts';
import { cliContext, withProcess } from '../context.ts';
import { type CliIo, EXIT } from '../io.ts';
import { parseInstantFlag, parseJsonFlag } from '../parse.ts';
import { progressPrinter } from '../progress.ts';
import { stoppableBySignals } from '../signals.ts';

/** `piko run <job> [--at ISO] [--config JSON]`: a manual run of one interval. */
export function runCommand(program: Command, io: CliIo): void {
  program
    .command('run <job>')
    .description('run the interval that ends at or before --at (default now), now, through the workflow')
    .option('--at <iso>', 'an instant; the interval ending at or before it runs')
    .option('--config <json>', 'config override, e.g. \'{"region":"us"}\'')
    .option('--reason <text>', 'why, recorded with the run in piko_actions (who: your user@host)')
    .option('--json', 'progress as JSON lines')
    .action(
      async (jobId: string, flags: { at?: string; config?: string; reason?: string; json?: boolean }) => {
        const context = await cliContext({ json: flags.json });
        const job = context.jobs.get(jobId);
        const now = new Date();
        const at = flags.at === undefined ? now : parseInstantFlag('--at', flags.at);
        const target = manualRunTarget(job, at, parseJsonFlag('--config', flags.config), now);
        // Aborted once a signal's grace period is over: the handler's ctx.signal.
        const abortHandlers = new AbortController();
        await withProcess(
          context,
          async (opened) => {
            const print = progressPrinter(io, flags.json ?? false);
            const runtime = new LocalRuntime({ process: opened, onProgress: print });
            const graceSeconds = opened.config.piko.shutdownGraceSeconds;
            // Only this interval runs: its execution does not go on with the job's pending runs.
            const run = await stoppableBySignals({ runtime, graceSeconds, abortHandlers, print }, () =>
              runManually(opened.store, job, target, runtime, {
                actor: localActor(),
                reason: flags.reason?.trim() || null,
              }),
            );
            if (run?.status === 'queued') {
              // Paused after the run was queued: the stage runner did not start it.
              io.err(
                `${job.id} was paused before ${target.interval.start.toISOString()} started; it runs after piko resume ${job.id}`,
              );
            }
            if (run?.status !== 'succeeded') throw new ExitCodeError(EXIT.runsFailed);
          },
          { shutdown: abortHandlers.signal },
        );
      },
    );
}
