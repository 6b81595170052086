/**
 * Backfills that know the graph (DESIGN.md §9): which intervals of the jobs downstream of a backfilled
 * job go stale when its intervals re-run, transitively, in dependency order, with an estimate of
 * the time they take from past run durations. `piko backfill --downstream` re-runs them (their runs
 * are re-armed `waiting`, so each waits for its re-run upstream intervals); its dry run lists them,
 * and without `--downstream` the dry run still says which become stale.
 */
import type { Interval } from '../interval.ts';
import type { JobDefinition } from '../job.ts';
import { type MergedRange, mergeIntervals, overlappingIntervals } from '../schedule/index.ts';
import type { StateStore } from '../store/types.ts';
import { type BackfillRequest, previewBackfill } from './backfill.ts';

/** The jobs a downstream plan reads: the registry's graph. */
export interface JobGraph {
  get(jobId: string): JobDefinition;
  /** Every job downstream of `jobId`, transitively, each after the jobs it depends on. */
  downstreamOrder(jobId: string): JobDefinition[];
}

/** What re-runs of one downstream job. */
export interface DownstreamBackfill {
  readonly job: JobDefinition;
  /** Its intervals that overlap a re-run upstream interval, adjacent ones merged, oldest first. */
  readonly ranges: readonly MergedRange[];
  /** How many intervals the ranges hold. */
  readonly intervals: number;
  /** Average start-to-finish time of its past succeeded runs, ms; undefined when none ran. */
  readonly averageRunMs: number | undefined;
  /** `intervals × averageRunMs / concurrency`: how long the re-runs may take; undefined without a past run. */
  readonly estimateMs: number | undefined;
  /** The backfill requests that re-run them: one per range, `reprocess: 'all'`. */
  readonly requests: readonly BackfillRequest[];
}

/**
 * The downstream jobs of `request`'s job whose intervals go stale when the backfill re-runs its
 * intervals (those it would create or re-run), transitively and in dependency order: an interval of a
 * downstream job is stale when it overlaps (on instants) a stale or re-run interval of one of its
 * upstream jobs. Only intervals that have ended by `now` (and start at or after the job's `start`)
 * count: later ones are planned by the schedule and wait for their upstream anyway. Reads the plan
 * with a dry run: call it before planning the backfill. Jobs with nothing stale are left out.
 */
export async function downstreamBackfills(
  store: StateStore,
  jobs: JobGraph,
  root: JobDefinition,
  request: BackfillRequest,
  now: Date,
): Promise<DownstreamBackfill[]> {
  const order = jobs.downstreamOrder(root.id);
  if (order.length === 0) return [];
  const rootIntervals: Interval[] = [];
  for await (const planned of previewBackfill(store, root, { ...request, reverse: false })) {
    if (planned.action === 'create' || planned.action === 'rerun')
      rootIntervals.push({ start: planned.start, end: planned.end });
  }
  const result: DownstreamBackfill[] = [];
  for (const { job, ranges, intervals } of staleDownstream(order, root, mergeIntervals(rootIntervals), now)) {
    const averageRunMs = await store.averageRunMs(job.id);
    result.push({
      job,
      ranges,
      intervals,
      averageRunMs,
      estimateMs:
        averageRunMs === undefined ? undefined : Math.round((intervals * averageRunMs) / job.concurrency),
      requests: ranges.map((range) => ({
        jobId: job.id,
        from: range.start,
        to: range.end,
        reprocess: 'all',
      })),
    });
  }
  return result;
}

/**
 * The downstream re-runs a backfill of `root` over `[from, to)` may need, from the schedules alone:
 * as {@link downstreamBackfills}, but as if every interval of the range re-ran (no store to say
 * which do), so its ranges hold those of `downstreamBackfills` and maybe more. What `piko backfill
 * --downstream --aws` tells the user to run, job by job, in dependency order.
 */
export function downstreamRanges(
  jobs: JobGraph,
  root: JobDefinition,
  range: { readonly from: Date; readonly to: Date },
  now: Date,
): { readonly job: JobDefinition; readonly ranges: readonly MergedRange[] }[] {
  const order = jobs.downstreamOrder(root.id);
  if (order.length === 0) return [];
  const rerun = mergeIntervals(root.schedule.intervals(range.from, range.to));
  return staleDownstream(order, root, rerun, now).map(({ job, ranges }) => ({ job, ranges }));
}

/**
 * Propagates re-runs down the graph: an interval of a downstream job (in `order`, each after its
 * upstreams) is stale when it overlaps a stale or re-run interval of one of its upstream jobs and
 * has ended by `now` (and starts at or after the job's `start`). Jobs with nothing stale are left out.
 */
function staleDownstream(
  order: readonly JobDefinition[],
  root: JobDefinition,
  rootRanges: readonly MergedRange[],
  now: Date,
): { readonly job: JobDefinition; readonly ranges: MergedRange[]; readonly intervals: number }[] {
  const rerun = new Map<string, readonly Interval[]>([[root.id, rootRanges]]);
  const result: { job: JobDefinition; ranges: MergedRange[]; intervals: number }[] = [];
  for (const job of order) {
    const starts = new Map<number, Interval>();
    for (const upstream of job.dependsOn) {
      for (const range of rerun.get(upstream) ?? []) {
        for (const interval of overlappingIntervals(job.schedule, range)) {
          if (interval.end.getTime() > now.getTime()) break;
          if (job.start && interval.start.getTime() < job.start.getTime()) continue;
          starts.set(interval.start.getTime(), interval);
        }
      }
    }
    const stale = [...starts.values()].sort((a, b) => a.start.getTime() - b.start.getTime());
    const ranges = mergeIntervals(stale);
    rerun.set(job.id, ranges);
    if (ranges.length > 0) result.push({ job, ranges, intervals: stale.length });
  }
  return result;
}
