import type { Command } from 'commander';
import { ExitCodeError, InputError } from '../../errors.ts';
import type { JobDefinition } from '../../job.ts';
import { LocalRuntime } from '../../local/runtime.ts';
import type { StateStore } from '../../store/types.ts';
import { cliContext, withProcess } from '../context.ts';
import { giveUpOnStore, ONCE_MAX_STORE_FAILURES } from '../give-up.ts';
import { type CliIo, EXIT } from '../io.ts';
import { progressPrinter } from '../progress.ts';
import { SIGNAL_EXIT } from '../signals.ts';
import { RuntimeUi, runtimeHealth, UI_HOST_OPTION, UI_PORT_OPTION, type UiAddressFlags } from './ui.ts';

/** `piko start [--once] [--no-ui]`: the local orchestrator, with its web UI unless `--once` or `--no-ui`. */
export function startCommand(program: Command, io: CliIo): void {
  program
    .command('start')
    .description('run the jobs locally: catch up what was missed, then run each interval when it is due')
    .option(
      '--once',
      'plan and run everything due, then exit (exit code 1 if any run failed or a job was stopped by clock skew)',
    )
    .option('--json', 'progress as JSON lines')
    .option('--no-ui', 'do not serve the web UI (start --once never does)')
    .option(...UI_PORT_OPTION)
    .option(...UI_HOST_OPTION)
    .action(async (flags: UiAddressFlags & { once?: boolean; json?: boolean; ui?: boolean }) => {
      const json = flags.json ?? false;
      const print = progressPrinter(io, json);
      const servesUi = !flags.once && flags.ui !== false;
      if (!servesUi && (flags.port !== undefined || flags.host !== undefined)) {
        // Refused rather than ignored: they would say where a UI listens that does not start.
        throw new InputError(
          `--port and --host set where the web UI listens; piko start ${flags.once ? '--once' : '--no-ui'} serves no UI: leave them out`,
        );
      }
      const context = await cliContext({ json });
      const ui = new RuntimeUi(context, servesUi ? flags : undefined, print);
      const abortHandlers = new AbortController();
      await withProcess(
        ui.closedWith(context),
        async (opened) => {
          const runtime = new LocalRuntime({
            process: opened,
            onProgress: ui.tee(print),
            maxStoreFailures: flags.once ? ONCE_MAX_STORE_FAILURES : undefined,
          });
          const startupMs = Math.round(performance.now());
          const store = context.config.mysql.dsn ? 'MySQL' : `SQLite ${context.config.sqlite.file}`;
          print({
            event: 'started',
            text: `piko started in ${startupMs} ms: ${context.jobs.list().length} jobs (${context.jobs.ids().join(', ')}), state in ${store}`,
            fields: {
              startupMs,
              jobs: context.jobs.ids(),
              store: context.config.mysql.dsn ? 'mysql' : 'sqlite',
            },
          });
          runtime.onFirstRun(() => {
            const firstRunMs = Math.round(performance.now());
            print({
              event: 'first-run',
              text: `first interval running ${firstRunMs} ms after start`,
              fields: { firstRunMs },
            });
          });

          let signalled: keyof typeof SIGNAL_EXIT | undefined;
          ui.start(runtime, () => runtimeHealth(runtime, signalled !== undefined));
          const stopped = new Promise<void>((resolve) => {
            const stop = (signal: keyof typeof SIGNAL_EXIT) => {
              signalled = signal;
              print({
                event: 'stopping',
                text: `${signal}: no new work; running intervals get ${context.config.piko.shutdownGraceSeconds} s`,
                fields: { signal },
              });
              runtime
                .stop(context.config.piko.shutdownGraceSeconds * 1000, abortHandlers)
                .then(() => resolve(), resolve);
            };
            process.once('SIGINT', stop);
            process.once('SIGTERM', stop);
          });

          const fatal = runtime.fatal.then(async (error) => {
            // Let what is running finish (or not, within the grace period), then end with the error.
            await runtime.stop(context.config.piko.shutdownGraceSeconds * 1000, abortHandlers);
            return error;
          });
          if (flags.once) {
            await Promise.race([runtime.runOnce(), stopped, fatal]);
          } else {
            await runtime.planAll();
            runtime.scheduleTicks();
            // A backfill outlives the process that started it: this runtime runs what nobody drives.
            runtime.watchBackfills();
            await Promise.race([stopped, fatal]);
          }
          const fatalError = runtime.fatalError;
          if (fatalError) {
            await fatal;
            giveUpOnStore(io, fatalError, 'at the next piko start');
          }
          // After a signal, stop() has already waited for running work, for a bounded time.
          if (!signalled) await runtime.whenIdle();
          const { planned, skipped, succeeded, failed } = runtime.totals;
          if (flags.once && signalled) {
            // Stopped before its end: not done. What is left (every job's runs not finished) runs
            // at the next start; the exit code says a signal stopped it, as piko backfill's does.
            const left = await unfinishedRuns(opened.store, context.jobs.list());
            print({
              event: 'stopped',
              text: `stopped by ${signalled} before the end: ${succeeded} succeeded, ${failed} failed, ${planned} planned, ${skipped} skipped; ${left} run(s) not finished, for the next start`,
              fields: { ...runtime.totals, signal: signalled, unfinished: left },
            });
            throw new ExitCodeError(SIGNAL_EXIT[signalled]);
          }
          print({
            event: 'stopped',
            text: `done: ${succeeded} succeeded, ${failed} failed, ${planned} planned, ${skipped} skipped`,
            fields: { ...runtime.totals },
          });
          // A job stopped by clock skew is not a success either: --once says so in its exit code.
          if (failed > 0 || runtime.clockSkewedJobs > 0) throw new ExitCodeError(EXIT.runsFailed);
        },
        { shutdown: abortHandlers.signal },
      );
    });
}

/** The runs of these jobs not finished (pending, queued or running), of every lane. */
async function unfinishedRuns(store: StateStore, jobs: readonly JobDefinition[]): Promise<number> {
  let left = 0;
  for (const job of jobs) {
    const counts = await store.countRuns(job.id);
    left += counts.pending + counts.queued + counts.running;
  }
  return left;
}
