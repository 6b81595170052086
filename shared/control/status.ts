/**
 * The one job-status model: what `piko status` reports of a job, local or `--aws`. Computed here from
 * the state store, by the dispatcher's `status` handler (which answers it as is) and by the local
 * CLI alike; the CLI prints it with one printer (`shared/cli/status-printer.ts`).
 */
import { type IntervalJson, intervalToJson } from '../interval.ts';
import type { JobDefinition } from '../job.ts';
import type { RunCounts, RunRecord, StateReader } from '../store/types.ts';

/** Failed runs listed per job, newest first. */
export const STATUS_RECENT_FAILURES = 5;

/** A failed run, as a status lists it. */
export interface FailedRunStatus {
  readonly runId: number;
  readonly interval: IntervalJson;
  /** Attempts made before the run failed. */
  readonly attempts: number;
  readonly error: string | null;
  /** When the run failed (ISO 8601). */
  readonly finishedAt: string | null;
}

/** One job's status, JSON-ready (the dispatcher's `status` answer carries it unchanged). */
export interface JobStatus {
  readonly jobId: string;
  /** End of the last interval planned or skipped (ISO 8601); null before the planner first saw the job. */
  readonly watermark: string | null;
  readonly paused: boolean;
  /** Intervals the catch-up rules passed over, in all. */
  readonly skippedTotal: number;
  /** Runs per status. */
  readonly counts: RunCounts;
  /**
   * The job's current code version: `version` in the definition the answering process runs (the
   * deployed dispatcher's on AWS, `functions/jobs/` locally); null when it declares none.
   */
  readonly version: string | null;
  /**
   * Succeeded intervals run by another version than {@link version} (or by none):
   * `piko backfill --reprocess outdated` re-runs them.
   */
  readonly outdated: number;
  /** The {@link STATUS_RECENT_FAILURES} most recent failed runs, newest first. */
  readonly recentFailures: readonly FailedRunStatus[];
}

/** Reads the status of each of `jobs` from the store, in their order. */
export async function jobStatuses(store: StateReader, jobs: readonly JobDefinition[]): Promise<JobStatus[]> {
  const states = new Map((await store.listJobs()).map((state) => [state.jobId, state]));
  const result: JobStatus[] = [];
  for (const job of jobs) {
    const state = states.get(job.id);
    const version = job.version ?? null;
    const [counts, failures, outdated] = await Promise.all([
      store.countRuns(job.id),
      store.recentFailures(job.id, STATUS_RECENT_FAILURES),
      store.countOutdated(job.id, version),
    ]);
    result.push({
      jobId: job.id,
      watermark: state ? state.watermark.toISOString() : null,
      paused: state?.paused ?? false,
      skippedTotal: state?.skippedTotal ?? 0,
      counts,
      version,
      outdated,
      recentFailures: failures.map(failedRunStatus),
    });
  }
  return result;
}

function failedRunStatus(run: RunRecord): FailedRunStatus {
  return {
    runId: run.runId,
    interval: intervalToJson(run.interval),
    attempts: run.attempts,
    error: run.error,
    finishedAt: run.finishedAt ? run.finishedAt.toISOString() : null,
  };
}
