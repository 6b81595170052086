/**
 * The one printer of `piko status`, local or `--aws`: a job's {@link JobStatus} (computed in
 * `shared/control/status.ts`) as readable lines, or with `--json` as one JSON object per line. The
 * next tick comes from the local job definition.
 */
import type { FailedRunStatus, JobStatus } from '../control/status.ts';
import type { JobDefinition } from '../job.ts';
import type { JobRegistry } from '../registry.ts';
import { RUN_STATUSES, type RunCounts } from '../store/types.ts';
import type { CliIo } from './io.ts';

/** Where a status was read: the local store, or the deployed stack (through its control function). */
export type StatusSource = 'local' | 'aws';

/**
 * A failed run in `piko status --json`: with its attempt count locally; with its run id and finish
 * time on AWS (what `--aws` has always printed).
 */
export type FailureLine =
  | { readonly start: string; readonly end: string; readonly attempts: number; readonly error: string | null }
  | {
      readonly start: string;
      readonly end: string;
      readonly runId: number;
      readonly finishedAt: string | null;
      readonly error: string | null;
    };

/**
 * One job in `piko status --json`: the run counts per status, except that `skipped` keeps its older
 * meaning (intervals the catch-up rules passed over) and runs marked skipped are `skippedRuns`.
 */
export interface StatusLine extends Omit<RunCounts, 'skipped'> {
  readonly jobId: string;
  readonly paused: boolean;
  readonly watermark: string | null;
  /** The job's next tick after now (ISO 8601); null when it has none, or is not a local job. */
  readonly nextTick: string | null;
  /** Intervals the catch-up rules passed over (never run). */
  readonly skipped: number;
  /** Runs an operator marked skipped (`piko mark --as skipped`). */
  readonly skippedRuns: number;
  /** The job's current code version; null when it declares none. */
  readonly version: string | null;
  /** Succeeded intervals run by another version (or none). */
  readonly outdated: number;
  readonly failures: readonly FailureLine[];
  /** Jobs with `dependsOn`: the oldest waiting runs, with what each waits for. */
  readonly waitingRuns?: readonly {
    readonly start: string;
    readonly end: string;
    readonly waitingFor: readonly string[];
  }[];
}

/** How {@link printJobStatus} prints. */
export interface StatusPrintOptions {
  readonly source: StatusSource;
  /** The local job definitions: a job's next tick comes from its definition here. */
  readonly jobs: JobRegistry;
  /** The instant the next tick follows. */
  readonly now: Date;
  /** One JSON object per job and line. @default false */
  readonly json?: boolean;
}

/**
 * Prints one job's status. A job of the deployed stack that the local `functions/jobs/` lacks is
 * printed too, its next tick unknown.
 */
export function printJobStatus(io: CliIo, status: JobStatus, options: StatusPrintOptions): void {
  const job = options.jobs.has(status.jobId) ? options.jobs.get(status.jobId) : undefined;
  const line = statusLine(status, job, options);
  if (options.json) {
    io.out(JSON.stringify(line));
    return;
  }
  const nextTick = line.nextTick ?? (job ? '(none)' : '(unknown: not a job of the local functions/jobs)');
  // `waiting` only for jobs that can have waiting runs (dependsOn), so other statuses read as before.
  const counts = RUN_STATUSES.filter(
    (name) => name !== 'waiting' || line.waiting > 0 || (job?.dependsOn.length ?? 0) > 0,
  )
    .map((name) => `${name} ${name === 'skipped' ? line.skippedRuns : line[name]}`)
    .join(', ');
  io.out(`${line.jobId}${line.paused ? ' (paused)' : ''}`);
  io.out(`  watermark ${line.watermark ?? '(not planned yet)'}, next tick ${nextTick}`);
  io.out(`  runs: ${counts}; skipped by catch-up ${line.skipped}`);
  // Only for jobs that use versions, so the status of the others reads as it always has.
  if (line.version !== null || line.outdated > 0) {
    const version = line.version === null ? '(none)' : JSON.stringify(line.version);
    io.out(`  version ${version}: ${line.outdated} succeeded interval(s) outdated${outdatedHint(line)}`);
  }
  for (const failure of status.recentFailures) {
    const { start, end } = failure.interval;
    io.out(`  failed ${start} → ${end} ${failureDetail(failure, options.source)}: ${failure.error ?? ''}`);
  }
  for (const waiting of line.waitingRuns ?? []) {
    io.out(`  waiting ${waiting.start} → ${waiting.end} for ${waiting.waitingFor.join('; ')}`);
  }
}

/** A status as `piko status --json` prints it. */
function statusLine(
  status: JobStatus,
  job: JobDefinition | undefined,
  options: StatusPrintOptions,
): StatusLine {
  const counts = Object.fromEntries(
    RUN_STATUSES.filter((name) => name !== 'skipped').map((name) => [name, status.counts[name] ?? 0]),
  ) as Omit<RunCounts, 'skipped'>;
  return {
    jobId: status.jobId,
    paused: status.paused,
    watermark: status.watermark,
    nextTick: job?.schedule.nextTick(options.now)?.toISOString() ?? null,
    skipped: status.skippedTotal,
    ...counts,
    skippedRuns: status.counts.skipped ?? 0,
    version: status.version,
    outdated: status.outdated,
    failures: status.recentFailures.map((failure) => failureLine(failure, options.source)),
    ...(status.waiting && {
      waitingRuns: status.waiting.map((run) => ({
        ...run.interval,
        waitingFor: run.upstreams.map((upstream) => upstream.text),
      })),
    }),
  };
}

function outdatedHint(line: StatusLine): string {
  return line.outdated > 0
    ? ` (piko backfill ${line.jobId} --from … --to … --reprocess outdated re-runs them)`
    : '';
}

function failureLine(failure: FailedRunStatus, source: StatusSource): FailureLine {
  const { start, end } = failure.interval;
  return source === 'local'
    ? { start, end, attempts: failure.attempts, error: failure.error }
    : { start, end, runId: failure.runId, finishedAt: failure.finishedAt, error: failure.error };
}

function failureDetail(failure: FailedRunStatus, source: StatusSource): string {
  return source === 'local'
    ? `after ${failure.attempts} attempt(s)`
    : `(run ${failure.runId}, finished ${failure.finishedAt ?? '?'})`;
}
