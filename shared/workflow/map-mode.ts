/**
 * Which Map state a job workflow runs its batch in, by the job's concurrency: an inline Map runs at
 * most 40 iterations at once, a Distributed Map up to 10,000 child executions. Pure: the CDK
 * construct, the dispatcher and the local translation all decide by it.
 */

/**
 * An inline Map state runs at most this many iterations at once; a Distributed Map up to a job's
 * `MAX_CONCURRENCY` (10,000, `shared/job.ts`).
 */
export const INLINE_MAP_MAX_CONCURRENCY = 40;

/** How a job workflow's Map state runs its iterations. */
export type MapMode = 'inline' | 'distributed';

/** `inline` up to {@link INLINE_MAP_MAX_CONCURRENCY}, `distributed` above. */
export function mapModeOf(concurrency: number): MapMode {
  return concurrency > INLINE_MAP_MAX_CONCURRENCY ? 'distributed' : 'inline';
}

/** How a job's scheduled lane is cut into executions: how many may be live at once, of how many runs. */
export interface ScheduledLaneShape {
  /** Scheduled executions of the job live at once. */
  readonly executions: number;
  /** Runs per scheduled execution. */
  readonly runsPerExecution: number;
}

/**
 * The scheduled lane of a job with this concurrency, when one execution holds at most `maxRuns` runs
 * (its input must stay under Step Functions' 256 KiB). An inline job, or a distributed one whose
 * concurrency fits one batch, has one live execution of up to `maxRuns` runs (DESIGN.md §4). A
 * distributed job whose concurrency one batch cannot hold runs `k = ⌈concurrency / maxRuns⌉`
 * executions at once of `⌊concurrency / k⌋` runs each: never more than `concurrency` runs in flight,
 * and as close to it as whole batches allow (5,000 at batches of 500: 10 executions of 500).
 */
export function scheduledLaneShape(concurrency: number, maxRuns: number): ScheduledLaneShape {
  if (mapModeOf(concurrency) === 'inline' || concurrency <= maxRuns) {
    return { executions: 1, runsPerExecution: maxRuns };
  }
  const executions = Math.ceil(concurrency / maxRuns);
  return { executions, runsPerExecution: Math.floor(concurrency / executions) };
}
