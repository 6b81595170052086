/**
 * Dependencies between jobs' intervals (DESIGN.md §9): runs of a job with `dependsOn` are created
 * `waiting`; the dispatch of the job releases the ready ones (the check is SQL over the store,
 * `store/sql/upstream-readiness.ts`) and fails those waiting past their `upstreamTimeout`, naming the
 * upstream intervals still missing; and what a waiting run waits for, for status lines.
 */
import { formatDuration } from '../duration.ts';
import type { Interval } from '../interval.ts';
import type { JobDefinition } from '../job.ts';
import { describeIntervals, overlappingIntervals, shortInstant } from '../schedule/index.ts';
import type { JobTransaction, RunRecord, StateReader, StateStore } from '../store/types.ts';

/** What the planner reads of an upstream job: its id and schedule. */
export type UpstreamJob = Pick<JobDefinition, 'id' | 'schedule'>;

/** What a job's runs wait for: its upstream jobs and how long they may wait. */
export interface WaitsFor {
  /** The jobs of its `dependsOn`, defined. */
  readonly upstreams: readonly UpstreamJob[];
  /** Its `upstreamTimeout` in ms; undefined: no limit. */
  readonly timeoutMs: number | undefined;
}

/** Waiting runs released per dispatch at most (each transaction stays short). */
export const MAX_RELEASED_PER_DISPATCH = 10_000;
/** Waiting runs failed for an upstream timeout per dispatch at most. */
export const MAX_TIMED_OUT_PER_DISPATCH = 100;
/** Upstream intervals one wait description reads at most (a daily job over a minutely one reads 1,440). */
export const MAX_UPSTREAM_INTERVALS_READ = 100_000;

/** The status a job's new or re-armed runs start in: `waiting` when it has upstream jobs. */
export function newRunStatus(job: { readonly dependsOn?: readonly string[] }): 'pending' | 'waiting' {
  return (job.dependsOn?.length ?? 0) > 0 ? 'waiting' : 'pending';
}

/** The upstream jobs of `job` and its timeout, resolved from the jobs by id. */
export function waitsFor(job: JobDefinition, jobs: { get(jobId: string): JobDefinition }): WaitsFor {
  return { upstreams: job.dependsOn.map((id) => jobs.get(id)), timeoutMs: job.upstreamTimeoutMs };
}

/** What {@link releaseWaitingRuns} did. */
export interface ReleaseResult {
  /** Waiting runs made pending: their upstream intervals have all succeeded. */
  readonly released: number;
  /** Waiting runs failed: their upstream timeout passed. */
  readonly timedOut: number;
}

/**
 * In a transaction holding the job's lock: fails the waiting runs whose interval ended more than
 * the timeout before `now` (their error names the upstream intervals still missing), then releases
 * the ready ones. `dependsOn` names the upstream jobs when `waits` is not given (no timeout then).
 */
export async function releaseWaitingRuns(
  store: StateStore,
  tx: JobTransaction,
  dependsOn: readonly string[],
  waits: WaitsFor | undefined,
  now: Date,
): Promise<ReleaseResult> {
  const upstreams = waits?.upstreams.map((job) => job.id) ?? dependsOn;
  if (upstreams.length === 0) return { released: 0, timedOut: 0 };
  let timedOut = 0;
  if (waits?.timeoutMs !== undefined) {
    const expired = await tx.waitingRunsEndedBefore(
      new Date(now.getTime() - waits.timeoutMs),
      MAX_TIMED_OUT_PER_DISPATCH,
    );
    const failures: { runId: number; error: string }[] = [];
    for (const run of expired) {
      const missing = (await upstreamWaits(store, waits.upstreams, run.interval)).filter(
        (wait) => !wait.ready,
      );
      // Ready now, though not released yet: released below rather than failed.
      if (missing.length === 0) continue;
      failures.push({ runId: run.runId, error: timeoutMessage(run, waits.timeoutMs, missing) });
    }
    if (failures.length > 0) timedOut = await tx.failWaitingRuns(failures);
  }
  const released = await tx.releaseReadyRuns(upstreams, MAX_RELEASED_PER_DISPATCH);
  return { released, timedOut };
}

/** What one waiting interval waits for from one upstream job. */
export interface UpstreamWait {
  readonly jobId: string;
  /** From the first overlapping upstream interval's start to the last one's end; undefined when none overlaps. */
  readonly range: Interval | undefined;
  /** Upstream intervals that overlap the waiting interval (from the upstream's first run on). */
  readonly intervals: number;
  /** Those not succeeded (no run, or a run in another status), oldest first. */
  readonly missing: readonly Interval[];
  /** The upstream's watermark: it has planned up to here; undefined before it was first planned. */
  readonly plannedThrough: Date | undefined;
  /** True when nothing is missing and the upstream has planned through the waiting interval's end. */
  readonly ready: boolean;
}

/**
 * What `interval` (of a downstream job) waits for from each upstream job, read from the store: the
 * upstream intervals overlapping it (on instants; those before the upstream's first run did not
 * exist), which of them have not succeeded, and how far the upstream has planned.
 */
export async function upstreamWaits(
  store: StateReader,
  upstreams: readonly UpstreamJob[],
  interval: Interval,
): Promise<UpstreamWait[]> {
  const waits: UpstreamWait[] = [];
  for (const upstream of upstreams) {
    const state = await store.getJob(upstream.id);
    const [first] = await store.findRuns(upstream.id, { limit: 1 });
    const firstStart = first?.interval.start.getTime() ?? Number.POSITIVE_INFINITY;
    const overlapping: Interval[] = [];
    for (const candidate of overlappingIntervals(upstream.schedule, interval)) {
      // An interval that began before the upstream's first run, ending after it, did not exist.
      if (candidate.end.getTime() <= firstStart) continue;
      overlapping.push(candidate);
      if (overlapping.length >= MAX_UPSTREAM_INTERVALS_READ) break;
    }
    const [firstInterval] = overlapping;
    const lastInterval = overlapping[overlapping.length - 1];
    const succeeded = new Set<number>();
    if (firstInterval && lastInterval) {
      const runs = await store.findRuns(upstream.id, {
        from: firstInterval.start,
        to: lastInterval.end,
        statuses: ['succeeded'],
        limit: overlapping.length + 1,
      });
      for (const run of runs) succeeded.add(run.interval.start.getTime());
    }
    const missing = overlapping.filter((candidate) => !succeeded.has(candidate.start.getTime()));
    const plannedThrough = state?.watermark;
    waits.push({
      jobId: upstream.id,
      range:
        firstInterval && lastInterval ? { start: firstInterval.start, end: lastInterval.end } : undefined,
      intervals: overlapping.length,
      missing,
      plannedThrough,
      ready:
        missing.length === 0 &&
        plannedThrough !== undefined &&
        plannedThrough.getTime() >= interval.end.getTime(),
    });
  }
  return waits;
}

/**
 * One upstream wait as a line: `hourly_events 2026-03-28T23:00Z–2026-03-29T22:00Z (23 intervals, 5
 * missing: 2026-03-29T17:00Z–2026-03-29T22:00Z)`, and whether it has planned that far.
 */
export function describeWait(wait: UpstreamWait): string {
  const range = wait.range ? ` ${shortInstant(wait.range.start)}–${shortInstant(wait.range.end)}` : '';
  const plural = wait.intervals === 1 ? 'interval' : 'intervals';
  const missing =
    wait.missing.length === 0
      ? 'none missing'
      : `${wait.missing.length} missing: ${describeIntervals(wait.missing)}`;
  const planned =
    wait.plannedThrough === undefined
      ? '; not planned yet'
      : wait.range && wait.plannedThrough < wait.range.end
        ? `; planned through ${shortInstant(wait.plannedThrough)}`
        : '';
  return `${wait.jobId}${range} (${wait.intervals} ${plural}, ${missing}${planned})`;
}

/** The error of a run failed by its upstream timeout, naming what was still missing. */
export function timeoutMessage(run: RunRecord, timeoutMs: number, missing: readonly UpstreamWait[]): string {
  return (
    `Upstream timeout: the interval ${shortInstant(run.interval.start)}–${shortInstant(run.interval.end)} waited ` +
    `${formatDuration(timeoutMs)} after its end for ${missing.map(describeWait).join('; ')}. ` +
    'Run the missing upstream intervals (piko backfill <upstream> --reprocess failed), then this one (piko backfill --reprocess failed).'
  );
}
