import type { Command } from 'commander';
import { secretConfigValues } from '../../config-secrets.ts';
import { InputError } from '../../errors.ts';
import type { JobDefinition } from '../../job.ts';
import {
  type OperatorAction,
  RUN_STATUSES,
  type RunQuery,
  type RunRecord,
  type RunStatus,
  type StateStore,
} from '../../store/types.ts';
import { redact } from '../../telemetry.ts';
import { formatDuration, formatInZone } from '../../ui/time.ts';
import { cliContext, withProcess } from '../context.ts';
import type { CliIo } from '../io.ts';
import { parseInstantFlag } from '../parse.ts';

/** Runs `piko runs` prints without `--limit`. */
export const DEFAULT_RUNS_LIMIT = 100;

/** The flags of `piko runs`. */
interface RunsFlags {
  readonly from?: string;
  readonly to?: string;
  readonly status?: string;
  readonly limit?: string;
  readonly json?: boolean;
}

/** One run as `piko runs --json` prints it: everything the state table knows, secrets redacted. */
export interface RunHistoryLine {
  readonly jobId: string;
  readonly runId: number;
  readonly start: string;
  readonly end: string;
  readonly status: RunStatus;
  readonly trigger: RunRecord['trigger'];
  /** The stage last started; null before any. */
  readonly stage: string | null;
  /** Attempts of that stage in the current generation. */
  readonly attempts: number;
  readonly generation: number;
  readonly requeues: number;
  /** The version of the job's code that last ran it (`version` in `defineJob`); null for none. */
  readonly version: string | null;
  readonly notBefore: string | null;
  readonly executionName: string | null;
  readonly backfill: {
    readonly id: string;
    readonly from: string | null;
    readonly to: string | null;
    readonly reprocess: string | null;
    readonly status: string | null;
  } | null;
  /** The run's config override (its own, else its backfill's), secrets redacted; null for none. */
  readonly config: unknown;
  readonly error: string | null;
  /** The last stage's output, secrets redacted. */
  readonly output: unknown;
  readonly createdAt: string;
  readonly updatedAt: string;
  readonly startedAt: string | null;
  readonly finishedAt: string | null;
  /** From the start of the last attempt to the end; null unless finished. */
  readonly durationMs: number | null;
  /** The operator actions recorded on a range holding this interval (cancel, mark, …), newest first. */
  readonly actions: readonly ActionLine[];
}

/** An operator action as `piko runs` shows it: who, why, when. */
export interface ActionLine {
  readonly kind: string;
  readonly target: string;
  readonly actor: string;
  readonly reason: string | null;
  readonly at: string;
}

/** Recorded actions of a job `piko runs` reads to match them to its runs. */
const ACTIONS_READ = 500;

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
    .action(async (jobId: string, flags: RunsFlags) => {
      const query = parseRunsFlags(flags);
      const context = await cliContext();
      const job = context.jobs.get(jobId);
      await withProcess(context, async (opened) => {
        const runs = await opened.store.findRuns(job.id, { ...query, limit: query.limit + 1 });
        const more = runs.length > query.limit;
        const shown = runs.slice(0, query.limit);
        if (query.newestFirst) shown.reverse();
        const lines = await historyLines(opened.store, job, shown);
        for (const line of lines) {
          if (flags.json) io.out(JSON.stringify(line));
          else printRun(io, job, line);
          if (io.ready && !(await io.ready())) return;
        }
        if (lines.length === 0) io.err(`${job.id}: no runs match`);
        if (more) {
          io.err(
            `${job.id}: more runs match than the ${query.limit} shown; narrow them with --from, --to and --status, or raise --limit`,
          );
        }
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

/** The runs as history lines, with their backfills read once each. */
async function historyLines(
  store: StateStore,
  job: JobDefinition,
  runs: readonly RunRecord[],
): Promise<RunHistoryLine[]> {
  const actions = runs.length ? await store.listActions({ jobId: job.id, limit: ACTIONS_READ }) : [];
  const backfills = new Map<string, Awaited<ReturnType<StateStore['getBackfill']>>>();
  for (const id of new Set(runs.flatMap((run) => (run.backfillId ? [run.backfillId] : [])))) {
    backfills.set(id, await store.getBackfill(id));
  }
  return runs.map((run) => {
    const backfill = run.backfillId ? backfills.get(run.backfillId) : undefined;
    const secrets = secretConfigValues(job.config, run.config);
    return {
      jobId: run.jobId,
      runId: run.runId,
      start: run.interval.start.toISOString(),
      end: run.interval.end.toISOString(),
      status: run.status,
      trigger: run.trigger,
      stage: run.stage,
      attempts: run.attempts,
      generation: run.generation,
      requeues: run.requeues,
      version: run.version,
      notBefore: run.notBefore?.toISOString() ?? null,
      executionName: run.executionName,
      backfill: run.backfillId
        ? {
            id: run.backfillId,
            from: backfill?.range.start.toISOString() ?? null,
            to: backfill?.range.end.toISOString() ?? null,
            reprocess: backfill?.reprocess ?? null,
            status: backfill?.status ?? null,
          }
        : null,
      config: redactedValue(run.config, secrets),
      error: run.error,
      output: redactedValue(run.output, secrets),
      createdAt: run.createdAt.toISOString(),
      updatedAt: run.updatedAt.toISOString(),
      startedAt: run.startedAt?.toISOString() ?? null,
      finishedAt: run.finishedAt?.toISOString() ?? null,
      durationMs: run.startedAt && run.finishedAt ? run.finishedAt.getTime() - run.startedAt.getTime() : null,
      actions: actionsOn(actions, run),
    };
  });
}

/** The actions whose target is a range (`from/to`) holding the run's interval start. */
export function actionsOn(actions: readonly OperatorAction[], run: RunRecord): ActionLine[] {
  const start = run.interval.start.getTime();
  return actions
    .filter((action) => {
      const [from, to] = action.target.split('/').map((part) => Date.parse(part));
      return from !== undefined && to !== undefined && from <= start && start < to;
    })
    .map((action) => ({
      kind: action.kind,
      target: action.target,
      actor: action.actor,
      reason: action.reason,
      at: action.at.toISOString(),
    }));
}

/** A JSON value with every secret in it redacted (as text when redaction leaves no valid JSON). */
function redactedValue(value: unknown, secrets: readonly string[]): unknown {
  if (value === null || value === undefined) return null;
  const text = redact(JSON.stringify(value), secrets);
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

function printRun(io: CliIo, job: JobDefinition, line: RunHistoryLine): void {
  const tz = job.schedule.timezone;
  const local = `${formatInZone(new Date(line.start), tz)} → ${formatInZone(new Date(line.end), tz)}`;
  io.out(`${line.jobId}  ${line.start} → ${line.end}  ${line.status}  (${local})`);
  io.out(
    `  run ${line.runId}: trigger ${line.trigger}, ${line.attempts} attempt${line.attempts === 1 ? '' : 's'}${line.stage ? ` of stage ${line.stage}` : ''}, generation ${line.generation}, requeues ${line.requeues}${line.version === null ? '' : `, version ${line.version}`}${line.notBefore ? `, not before ${line.notBefore}` : ''}`,
  );
  const backfill = line.backfill
    ? `${line.backfill.id} (${line.backfill.from ?? '?'} → ${line.backfill.to ?? '?'}, reprocess ${line.backfill.reprocess ?? '?'}, ${line.backfill.status ?? '?'})`
    : 'none';
  io.out(`  execution ${line.executionName ?? 'none'}; backfill ${backfill}`);
  const took = line.durationMs === null ? '' : ` (took ${formatDuration(line.durationMs)})`;
  io.out(
    `  created ${line.createdAt}, started ${line.startedAt ?? '-'}, finished ${line.finishedAt ?? '-'}${took}, updated ${line.updatedAt}`,
  );
  io.out(`  config ${line.config === null ? 'none (the job defaults)' : JSON.stringify(line.config)}`);
  if (line.error !== null) io.out(`  error: ${line.error}`);
  if (line.output !== null) io.out(`  output: ${JSON.stringify(line.output)}`);
  for (const action of line.actions) {
    io.out(`  ${action.kind} by ${action.actor} at ${action.at}${action.reason ? `: ${action.reason}` : ''}`);
  }
}
