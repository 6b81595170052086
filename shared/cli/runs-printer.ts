/**
 * What `piko runs` prints, local or `--aws`: a run's history line (everything the state table holds
 * about it, secrets redacted), as text or JSON, and its log lines.
 */
import { secretConfigValues } from '../config-secrets.ts';
import type { JobDefinition } from '../job.ts';
import { targetHolds } from '../planner/operator.ts';
import { generationStarts, type RunLogLine } from '../store/run-logs.ts';
import type { BackfillRecord, OperatorAction, RunRecord, RunStatus } from '../store/types.ts';
import { redact } from '../telemetry.ts';
import { formatDuration, formatInZone } from '../ui/time.ts';
import type { AwsFlags } from './aws/options.ts';
import type { CliIo } from './io.ts';

/** The flags of `piko runs`. */
export interface RunsFlags extends AwsFlags {
  readonly from?: string;
  readonly to?: string;
  readonly status?: string;
  readonly limit?: string;
  readonly json?: boolean;
  readonly logs?: boolean;
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
  /** A waiting run: what it waits for, one line per upstream job (DESIGN.md §9). */
  readonly waitingFor?: readonly string[];
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

/** What follows the runs on stderr: none matched, or more matched than shown. */
export function printRunsFooter(io: CliIo, jobId: string, shown: number, more: boolean, limit: number): void {
  if (shown === 0) io.err(`${jobId}: no runs match`);
  if (more) {
    io.err(
      `${jobId}: more runs match than the ${limit} shown; narrow them with --from, --to and --status, or raise --limit`,
    );
  }
}

/**
 * The runs as history lines, with their backfills read once each; `waitingFor` has, by run id, what
 * each waiting run waits for; `actions`, the job's recorded operator actions (matched to runs here).
 * @default waitingFor - none listed; actions - none
 */
export async function historyLines(
  getBackfill: (backfillId: string) => Promise<BackfillRecord | undefined>,
  job: JobDefinition,
  runs: readonly RunRecord[],
  waitingFor: ReadonlyMap<number, readonly string[]> = new Map(),
  actions: readonly OperatorAction[] = [],
): Promise<RunHistoryLine[]> {
  const backfills = new Map<string, BackfillRecord | undefined>();
  for (const id of new Set(runs.flatMap((run) => (run.backfillId ? [run.backfillId] : [])))) {
    backfills.set(id, await getBackfill(id));
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
      ...(waitingFor.has(run.runId) && { waitingFor: waitingFor.get(run.runId) }),
      actions: actionsOn(actions, run),
    };
  });
}

/** The actions whose target is a range (`from/to`) holding the run's interval start. */
export function actionsOn(actions: readonly OperatorAction[], run: RunRecord): ActionLine[] {
  return actions
    .filter((action) => targetHolds(action.target, run.interval.start))
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

/** One run as `piko runs` prints it. */
export function printRun(io: CliIo, job: JobDefinition, line: RunHistoryLine): void {
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
  for (const wait of line.waitingFor ?? []) io.out(`  waiting for ${wait}`);
  if (line.error !== null) io.out(`  error: ${line.error}`);
  if (line.output !== null) io.out(`  output: ${JSON.stringify(line.output)}`);
  for (const action of line.actions) {
    io.out(`  ${action.kind} by ${action.actor} at ${action.at}${action.reason ? `: ${action.reason}` : ''}`);
  }
}

/**
 * A run's log lines, indented under the run: `time LEVEL [attempt n stage] message key=value`.
 * @param lines undefined when the run has no log file here.
 */
export function printRunLog(io: CliIo, lines: readonly RunLogLine[] | undefined, path: string): void {
  if (lines === undefined || lines.length === 0) {
    io.out(
      `  logs: none in ${path} (no line written, removed by [logs] max_total_bytes, or run by a runtime on another machine)`,
    );
    return;
  }
  io.out(`  logs (${path}):`);
  // A rerun or a requeue writes to the same file: where each generation of the run begins.
  const starts = generationStarts(lines);
  lines.forEach((line, index) => {
    const generation = starts.get(index);
    if (generation !== undefined) {
      io.out(
        `    ── generation ${generation}${generation === 0 ? '' : ': run again (a rerun or a requeue)'} ──`,
      );
    }
    io.out(`    ${formatRunLogLine(line)}`);
  });
}

/** One log line as text: `2026-03-01T00:00:01.000Z INFO  [attempt 1 main] message key=value`. */
export function formatRunLogLine(line: RunLogLine): string {
  const fields = Object.entries(line.fields ?? {}).map(
    ([key, value]) =>
      `${key}=${typeof value === 'string' && /^[^\s"=]+$/.test(value) ? value : JSON.stringify(value)}`,
  );
  return [
    line.time,
    line.level.toUpperCase().padEnd(5),
    `[attempt ${line.attempt} ${line.stage}]`,
    line.message,
    ...fields,
  ].join(' ');
}
