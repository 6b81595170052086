import type { Command } from 'commander';
import { InputError } from '../../errors.ts';
import { describeWait, upstreamWaits } from '../../planner/index.ts';
import { readRunLog } from '../../store/run-logs.ts';
import { RUN_STATUSES, type RunQuery, type RunStatus } from '../../store/types.ts';
import { awsOption, refuseAwsOnlyFlags, regionOption, stackNameOption } from '../aws/options.ts';
import { cliContext, withProcess } from '../context.ts';
import type { CliIo } from '../io.ts';
import { parseInstantFlag } from '../parse.ts';
import { historyLines, printRun, printRunLog, printRunsFooter, type RunsFlags } from '../runs-printer.ts';

/** Recorded actions of a job `piko runs` reads to match them to its runs. */
const ACTIONS_READ = 500;

/** Runs `piko runs` prints without `--limit`. */
export const DEFAULT_RUNS_LIMIT = 100;

/**
 * `piko runs <job> [--from ISO] [--to ISO] [--status S] [--limit N] [--json]`: the runs of a job's
 * intervals with all the state table holds about them, oldest first.
 */
export function runsCommand(program: Command, io: CliIo): void {
  program
    .command('runs <job>')
    .description(
      "a job's runs: attempts, timings, error, output, trigger, execution, backfill and config of each interval",
    )
    .option('--from <iso>', 'runs of intervals starting at or after this instant')
    .option('--to <iso>', 'runs of intervals starting before this instant')
    .option('--status <status>', `only runs in these statuses, comma-separated (${RUN_STATUSES.join(', ')})`)
    .option(
      '--limit <n>',
      `at most this many runs: the first from --from, else the latest (default ${DEFAULT_RUNS_LIMIT})`,
    )
    .option('--json', 'one JSON object per run and line')
    .option(
      '--logs',
      "each run's ctx.log lines, every attempt's (kept by the runtime that ran it under its data directory; with --aws: the CloudWatch Logs Insights query and the execution's console link)",
    )
    .addOption(awsOption("read the deployed stack's runs through its dispatcher"))
    .addOption(regionOption())
    .addOption(stackNameOption())
    .action(async (jobId: string, flags: RunsFlags) => {
      const query = parseRunsFlags(flags);
      if (flags.aws) return (await import('../aws/runs.ts')).runsOnAws(jobId, query, flags, io);
      refuseAwsOnlyFlags(flags);
      const context = await cliContext();
      const job = context.jobs.get(jobId);
      await withProcess(context, async (opened) => {
        const runs = await opened.store.findRuns(job.id, { ...query, limit: query.limit + 1 });
        const more = runs.length > query.limit;
        const shown = runs.slice(0, query.limit);
        if (query.newestFirst) shown.reverse();
        const upstreams = context.jobs.upstreams(job.id);
        const waits = new Map<number, string[]>();
        for (const run of shown) {
          if (run.status !== 'waiting') continue;
          waits.set(
            run.runId,
            (await upstreamWaits(opened.store, upstreams, run.interval)).map(describeWait),
          );
        }
        const actions = shown.length
          ? await opened.store.listActions({ jobId: job.id, limit: ACTIONS_READ })
          : [];
        const lines = await historyLines((id) => opened.store.getBackfill(id), job, shown, waits, actions);
        const dataDir = context.config.piko.dataDir;
        for (const line of lines) {
          const log = flags.logs ? await readRunLog(dataDir, job.id, line.runId) : undefined;
          if (flags.json) io.out(JSON.stringify(log ? { ...line, logs: log.lines ?? [] } : line));
          else {
            printRun(io, job, line);
            if (log) printRunLog(io, log.lines, log.path);
          }
          if (io.ready && !(await io.ready())) return;
        }
        printRunsFooter(io, job.id, lines.length, more, query.limit);
      });
    });
}

/**
 * The query the flags ask for: without `--from`, the latest runs (newest first, printed oldest first).
 * @throws InputError naming the flag that is wrong.
 */
export function parseRunsFlags(flags: RunsFlags): RunQuery & { readonly limit: number } {
  const from = flags.from === undefined ? undefined : parseInstantFlag('--from', flags.from);
  const to = flags.to === undefined ? undefined : parseInstantFlag('--to', flags.to);
  if (from && to && from.getTime() >= to.getTime()) {
    throw new InputError(`--from ${from.toISOString()} must be before --to ${to.toISOString()}`);
  }
  let statuses: RunStatus[] | undefined;
  if (flags.status !== undefined) {
    statuses = flags.status.split(',').map((status) => status.trim()) as RunStatus[];
    const unknown = statuses.filter((status) => !RUN_STATUSES.includes(status));
    if (unknown.length > 0 || statuses.length === 0) {
      throw new InputError(
        `--status ${JSON.stringify(flags.status)}: ${unknown.map((status) => JSON.stringify(status)).join(', ') || 'nothing'} is not a run status; use ${RUN_STATUSES.join(', ')}`,
      );
    }
  }
  const limit = flags.limit === undefined ? DEFAULT_RUNS_LIMIT : Number(flags.limit);
  if (flags.limit !== undefined && (!/^\d+$/.test(flags.limit) || limit < 1)) {
    throw new InputError(`--limit ${JSON.stringify(flags.limit)} must be a whole number of at least 1`);
  }
  return { from, to, statuses, limit, newestFirst: from === undefined };
}
