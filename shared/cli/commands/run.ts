import type { Command } from 'commander';
import { InputError } from '../../errors.ts';
import { LocalRuntime } from '../../local/runtime.ts';
import { initialWatermark, latestIntervalEndingBy, validateBackfill } from '../../planner/index.ts';
import { cliContext, withProcess } from '../context.ts';
import { type CliIo, EXIT } from '../io.ts';
import { parseInstantFlag, parseJsonFlag } from '../parse.ts';
import { ExitCodeError } from '../program.ts';
import { progressPrinter } from './start.ts';

/** `piko run <job> [--at ISO] [--config JSON]`: a manual run of one interval. */
export function runCommand(program: Command, io: CliIo): void {
  program
    .command('run <job>')
    .description('run the interval that ends at or before --at (default now), now, through the workflow')
    .option('--at <iso>', 'an instant; the interval ending at or before it runs')
    .option('--config <json>', 'config override, e.g. \'{"region":"us"}\'')
    .option('--json', 'progress as JSON lines')
    .action(async (jobId: string, flags: { at?: string; config?: string; json?: boolean }) => {
      const context = await cliContext({ json: flags.json });
      const job = context.jobs.get(jobId);
      const now = new Date();
      const at = flags.at === undefined ? now : parseInstantFlag('--at', flags.at);
      const interval = latestIntervalEndingBy(job, at);
      if (!interval)
        throw new InputError(`Job "${job.id}" has no interval ending at or before ${at.toISOString()}`);
      const config = validateBackfill(
        job,
        { jobId, from: interval.start, to: interval.end, config: parseJsonFlag('--config', flags.config) },
        now,
      );
      await withProcess(context, async (opened) => {
        const { store } = opened;
        const run = await store.withJob(job.id, initialWatermark(job, now), async (tx) => {
          const [existing] = await tx.runsInRange(interval.start, new Date(interval.start.getTime() + 1));
          const manual = { trigger: 'manual' as const, backfillId: null, config };
          if (!existing) await tx.insertRuns([{ interval, ...manual }]);
          else if (existing.status === 'succeeded' || existing.status === 'failed')
            await tx.rearmRuns([existing.runId], manual);
          else return existing;
          return undefined;
        });
        if (run) {
          throw new InputError(
            `The interval ${interval.start.toISOString()} → ${interval.end.toISOString()} of "${job.id}" is already ${run.status}; wait for it to finish`,
          );
        }
        const runtime = new LocalRuntime({
          process: opened,
          onProgress: progressPrinter(io, flags.json ?? false),
        });
        await runtime.dispatchLane(job, { kind: 'scheduled' });
        await runtime.whenIdle();
        const [result] = await store.listRuns(job.id, {
          from: interval.start,
          to: new Date(interval.start.getTime() + 1),
        });
        if (result?.status !== 'succeeded') throw new ExitCodeError(EXIT.runsFailed);
      });
    });
}
