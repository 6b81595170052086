/**
 * `piko cancel` and `piko mark`: operator actions on runs (DESIGN.md §8), locally through the planner
 * (`shared/planner/operator.ts`), with `--aws` through the deployed dispatcher's control events. Each
 * is recorded with who (`user@host`), why (`--reason`) and when.
 */
import type { Command } from 'commander';
import { localActor } from '../../control/actor.ts';
import { InputError } from '../../errors.ts';
import type { JobDefinition } from '../../job.ts';
import {
  type CancelOutcome,
  cancelRuns,
  type MarkOutcome,
  type MarkRequest,
  markRange,
  type RunAtInterval,
} from '../../planner/index.ts';
import {
  type AwsFlags,
  awsOption,
  refuseAwsOnlyFlags,
  regionOption,
  stackNameOption,
} from '../aws/options.ts';
import { cliContext, withProcess } from '../context.ts';
import type { CliIo } from '../io.ts';
import { parseInstantFlag } from '../parse.ts';

/** Runs listed in full at most; the rest are counted. */
const LISTED = 20;

interface CancelFlags extends AwsFlags {
  readonly interval?: string;
  readonly from?: string;
  readonly to?: string;
  readonly reason?: string;
  readonly json?: boolean;
}

interface MarkFlags extends AwsFlags {
  readonly from: string;
  readonly to: string;
  readonly as: string;
  readonly reason: string;
  readonly dryRun?: boolean;
  readonly json?: boolean;
}

/**
 * The runs `piko cancel` cancels: those whose interval starts in `[from, to)`; `--interval ISO` is
 * the one interval starting at that instant.
 * @throws InputError naming the flags that are wrong.
 */
export function cancelRange(flags: CancelFlags): { from: Date; to: Date } {
  const given = flags.interval !== undefined;
  const range = flags.from !== undefined || flags.to !== undefined;
  if (given && range) {
    throw new InputError(
      'give either --interval ISO (one interval) or --from ISO --to ISO (a range), not both',
    );
  }
  if (!given && !range) {
    throw new InputError('say which runs: --interval ISO (one interval) or --from ISO --to ISO (a range)');
  }
  if (given) {
    const start = parseInstantFlag('--interval', flags.interval);
    return { from: start, to: new Date(start.getTime() + 1) };
  }
  const from = parseInstantFlag('--from', flags.from);
  const to = parseInstantFlag('--to', flags.to);
  if (from.getTime() >= to.getTime()) {
    throw new InputError(`--from ${from.toISOString()} must be before --to ${to.toISOString()}`);
  }
  return { from, to };
}

/** Parses `piko mark`'s flags. @throws InputError naming every flag that is wrong. */
export function markRequest(flags: MarkFlags): MarkRequest {
  if (flags.as !== 'succeeded' && flags.as !== 'skipped') {
    throw new InputError(`--as must be succeeded or skipped, got ${JSON.stringify(flags.as)}`);
  }
  if (!flags.reason?.trim()) throw new InputError('--reason must say why (it is recorded with the action)');
  return {
    from: parseInstantFlag('--from', flags.from),
    to: parseInstantFlag('--to', flags.to),
    as: flags.as,
    dryRun: flags.dryRun ?? false,
  };
}

/** Registers `piko cancel` and `piko mark`. */
export function operatorCommands(program: Command, io: CliIo): void {
  program
    .command('cancel <job>')
    .description(
      'cancel runs: a pending or queued run never starts, a running one is stopped (its ctx.signal aborts); recorded as cancelled',
    )
    .option('--interval <iso>', 'the run of the interval starting at this instant')
    .option('--from <iso>', 'runs of intervals starting at or after this instant')
    .option('--to <iso>', 'runs of intervals starting before this instant')
    .option('--reason <text>', 'why (recorded with the action)')
    .option('--json', 'the outcome as one JSON object')
    .addOption(awsOption('cancel on the deployed stack'))
    .addOption(regionOption())
    .addOption(stackNameOption())
    .action(async (jobId: string, flags: CancelFlags) => {
      const range = cancelRange(flags);
      const call = { actor: localActor(), reason: flags.reason ?? null };
      if (flags.aws) {
        const { cancelOnAws } = await import('../aws/operator.ts');
        printCancel(io, await cancelOnAws(jobId, range, call, flags), flags.json);
        return;
      }
      refuseAwsOnlyFlags(flags);
      const context = await cliContext();
      const job = context.jobs.get(jobId);
      if (flags.interval !== undefined) refuseNonTick(job, range.from);
      await withProcess(context, async (opened) => {
        printCancel(io, await cancelRuns(opened.store, job, range, call), flags.json);
      });
    });

  program
    .command('mark <job>')
    .description(
      'mark the intervals of a range succeeded or skipped without running them (never a queued or running one)',
    )
    .requiredOption('--from <iso>', 'the first interval starts at or after this instant')
    .requiredOption('--to <iso>', 'the last interval ends at or before this instant (not after now)')
    .requiredOption('--as <status>', 'succeeded | skipped')
    .requiredOption('--reason <text>', 'why (recorded with the action)')
    .option('--dry-run', 'say what would change, change nothing')
    .option('--json', 'the outcome as one JSON object')
    .addOption(awsOption('mark on the deployed stack'))
    .addOption(regionOption())
    .addOption(stackNameOption())
    .action(async (jobId: string, flags: MarkFlags) => {
      const request = markRequest(flags);
      const call = { actor: localActor(), reason: flags.reason };
      if (flags.aws) {
        const { markOnAws } = await import('../aws/operator.ts');
        printMark(io, await markOnAws(jobId, request, call, flags), flags.json);
        return;
      }
      refuseAwsOnlyFlags(flags);
      const context = await cliContext();
      const job: JobDefinition = context.jobs.get(jobId);
      await withProcess(context, async (opened) => {
        printMark(io, await markRange(opened.store, job, request, call, new Date()), flags.json);
      });
    });
}

/**
 * Prints what a cancel did; with `--aws`, also the ECS tasks of Fargate stages the dispatcher asked
 * to stop (`stoppedTasks`).
 */
export function printCancel(
  io: CliIo,
  outcome: CancelOutcome & { readonly stoppedTasks?: readonly string[] },
  json = false,
): void {
  if (json) {
    io.out(JSON.stringify(outcome));
    return;
  }
  const running = outcome.cancelled.filter((run) => run.status === 'running').length;
  io.out(
    `${outcome.jobId}: cancelled ${outcome.cancelled.length} run(s)${running ? ` (${running} running: stopping its handler)` : ''}`,
  );
  list(io, outcome.cancelled, 'was');
  for (const task of outcome.stoppedTasks ?? []) io.out(`  stopped ECS task ${task}`);
  if (outcome.finished.length) {
    io.out(`  left ${outcome.finished.length} finished run(s) as they were`);
    list(io, outcome.finished, 'is');
  }
}

/** Prints what a mark did (or would do). */
export function printMark(io: CliIo, outcome: MarkOutcome, json = false): void {
  if (json) {
    io.out(JSON.stringify(outcome));
    return;
  }
  const would = outcome.dryRun ? 'would ' : '';
  io.out(
    `${outcome.dryRun ? '(dry run) ' : ''}${outcome.jobId}: ${outcome.intervals} interval(s); ${would}create ${outcome.created} run(s) and ${would}set ${outcome.updated} run(s) ${outcome.as}; ${outcome.unchanged} already ${outcome.as === 'succeeded' ? 'succeeded' : 'skipped or succeeded'}, unchanged`,
  );
  if (outcome.leftAlone.length) {
    io.out(
      `  left ${outcome.leftAlone.length} queued or running run(s) alone (cancel them first to mark them):`,
    );
    list(io, outcome.leftAlone, 'is');
  }
}

function list(io: CliIo, runs: readonly RunAtInterval[], verb: string): void {
  for (const run of runs.slice(0, LISTED))
    io.out(`    ${run.start} → ${run.end} (run ${run.runId} ${verb} ${run.status})`);
  if (runs.length > LISTED) io.out(`    … and ${runs.length - LISTED} more`);
}

/**
 * `--interval` names an interval by its start: an instant that is not one of the job's ticks names
 * none (it would cancel nothing, and say so of a millisecond). Says which interval holds it.
 * @throws InputError naming the interval's start to give instead.
 */
function refuseNonTick(job: JobDefinition, instant: Date): void {
  const start = job.schedule.previousTick(new Date(instant.getTime() + 1));
  if (start?.getTime() === instant.getTime()) return;
  throw new InputError(
    `--interval ${instant.toISOString()} is not the start of an interval of "${job.id}" (${job.schedule.cron} in ${job.schedule.timezone})` +
      (start
        ? `: the interval holding it starts at ${start.toISOString()}; give that, or --from and --to for a range`
        : ''),
  );
}
