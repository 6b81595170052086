/**
 * The one job-status model: what `piko status` reports of a job, local or `--aws`. Computed here from
 * the state store, by the dispatcher's `status` handler (which answers it as is) and by the local
 * CLI alike; the CLI prints it with one printer (`shared/cli/status-printer.ts`).
 */
import { type IntervalJson, intervalToJson } from '../interval.ts';
import type { JobDefinition } from '../job.ts';
import { describeWait, type UpstreamJob, upstreamWaits } from '../planner/dependencies.ts';
import type { RunCounts, RunRecord, StateReader } from '../store/types.ts';

/** Failed runs listed per job, newest first. */
export const STATUS_RECENT_FAILURES = 5;
/** Waiting runs listed per job (with what they wait for), oldest first. */
export const STATUS_WAITING_RUNS = 3;

/** A waiting run, as a status lists it: the upstream intervals it waits for (DESIGN.md §9). */
export interface WaitingRunStatus {
  readonly runId: number;
  readonly interval: IntervalJson;
  /** One per upstream job. */
  readonly upstreams: readonly {
    readonly jobId: string;
    /** The overlapping upstream intervals, from the first's start to the last's end; null when none. */
    readonly range: IntervalJson | null;
    readonly intervals: number;
    /** How many of them have not succeeded. */
    readonly missing: number;
    /** How far the upstream has planned (ISO 8601); null before it was first planned. */
    readonly plannedThrough: string | null;
    readonly ready: boolean;
    /** The whole wait as text: `hourly_events 2026-03-28T23:00Z–2026-03-29T22:00Z (23 intervals, 5 missing: …)`. */
    readonly text: string;
  }[];
}

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
  /**
   * Jobs with `dependsOn`: the {@link STATUS_WAITING_RUNS} oldest waiting runs and what they wait
   * for. Absent for other jobs.
   */
  readonly waiting?: readonly WaitingRunStatus[];
}

/**
 * Reads the status of each of `jobs` from the store, in their order. `upstreamsOf` gives a job's
 * upstream jobs (the registry's `upstreams`), for what its waiting runs wait for.
 * @default upstreamsOf - no waiting runs listed
 */
export async function jobStatuses(
  store: StateReader,
  jobs: readonly JobDefinition[],
  upstreamsOf?: (job: JobDefinition) => readonly UpstreamJob[],
): Promise<JobStatus[]> {
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
      ...(upstreamsOf &&
        job.dependsOn.length > 0 && { waiting: await waitingRuns(store, job, upstreamsOf(job)) }),
    });
  }
  return result;
}

/** The oldest waiting runs of a job and what each waits for. */
export async function waitingRuns(
  store: StateReader,
  job: JobDefinition,
  upstreams: readonly UpstreamJob[],
  limit: number = STATUS_WAITING_RUNS,
): Promise<WaitingRunStatus[]> {
  const runs = await store.findRuns(job.id, { statuses: ['waiting'], limit });
  const result: WaitingRunStatus[] = [];
  for (const run of runs) {
    const waits = await upstreamWaits(store, upstreams, run.interval);
    result.push({
      runId: run.runId,
      interval: intervalToJson(run.interval),
      upstreams: waits.map((wait) => ({
        jobId: wait.jobId,
        range: wait.range ? intervalToJson(wait.range) : null,
        intervals: wait.intervals,
        missing: wait.missing.length,
        plannedThrough: wait.plannedThrough?.toISOString() ?? null,
        ready: wait.ready,
        text: describeWait(wait),
      })),
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
