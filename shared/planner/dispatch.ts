import { intervalToJson } from '../interval.ts';
import type { DispatchLane, RunRecord, StateStore, StoredJob } from '../store/types.ts';
import { executionName } from '../workflow/execution-name.ts';
import { scheduledLaneShape } from '../workflow/map-mode.ts';
import type { ExecutionInput, RunItem, WorkflowStarter } from '../workflow/starter.ts';
import { isBackfillHeld } from './backfill-control.ts';
import { releaseWaitingRuns, type WaitsFor } from './dependencies.ts';

/** Options of {@link dispatch}. */
export interface DispatchOptions {
  /** Which pending runs to take. @default { kind: 'scheduled' } */
  readonly lane?: DispatchLane;
  /** Runs per execution, capped by {@link runsPerExecution} to keep the state far under 256 KiB. @default 500 */
  readonly maxRunsPerExecution?: number;
  /** Executions to start in this call (a backfill's own concurrency). @default 1 */
  readonly maxExecutions?: number;
  /**
   * Queue one batch more than the lane's executions while they run (a local backfill's next batch,
   * queued while its current one runs), for a starter that starts it only once they have ended
   * (the local runtime's `startingInTurn`): its queuing then costs no time between batches. The batch queued ahead
   * holds a slot of its own, so at most `maxExecutions + 1` executions of the lane hold runs and at
   * most `maxExecutions` run. @default false
   */
  readonly queueAhead?: boolean;
  /**
   * The job's concurrency. A job above 40 (a Distributed Map) whose concurrency one batch cannot hold
   * keeps several scheduled executions live at once, their runs together never above it
   * ({@link scheduledLaneShape}). @default 1 (one live scheduled execution)
   */
  readonly concurrency?: number;
  /** Take the newest pending runs first (reverse backfill). @default false */
  readonly newestFirst?: boolean;
  /**
   * The job's upstream jobs and timeout (`waitsFor(job, registry)`): waiting runs whose upstream is
   * ready are released first, those past the timeout failed. @default the job's `dependsOn`, no timeout
   */
  readonly waitsFor?: WaitsFor;
  /** The time upstream timeouts are measured at. @default new Date() */
  readonly now?: Date;
  /**
   * An execution known to have ended whatever the starter says: the one whose last step asks to
   * continue (its Map is over, so its runs still in flight were never recorded). Its runs are
   * requeued at once instead of being taken for a live execution. @default none
   */
  readonly endedExecution?: string;
}

/** What a dispatch did. */
export interface DispatchResult {
  /** Executions started for pending runs. */
  readonly started: readonly ExecutionInput[];
  /** Executions of queued runs that had no live execution, started again under the same name. */
  readonly restarted: readonly string[];
  /**
   * Runs of ended executions put back to pending, to be dispatched under a new name once their
   * requeue delay is over (see RequeuePolicy).
   */
  readonly requeued: number;
  /** Runs of ended executions failed instead: they had been requeued too often. */
  readonly failed: number;
  /** Executions of this lane that were already running. */
  readonly live: readonly string[];
  /** True when the job is paused: nothing was started or restarted (DESIGN.md §8). */
  readonly paused: boolean;
  /** Waiting runs made pending by this dispatch: their upstream intervals have succeeded (DESIGN.md §9). */
  readonly released?: number;
  /** Waiting runs failed by this dispatch: their upstream timeout passed. */
  readonly timedOut?: number;
  /**
   * Set when the lane is idle after this dispatch (nothing queued, no execution holding its runs,
   * the job not paused) while some of its pending runs are delayed (a requeue's `notBefore`): when
   * the first of them becomes dispatchable. Nothing of the lane will look at them before then but a
   * tick, or a wake (`wakeAt`).
   */
  readonly delayedUntil?: Date;
}

/** Run items are the part of the state that grows with the batch: at most {@link MAX_RUN_ITEM_BYTES} each. */
export const DEFAULT_MAX_RUNS_PER_EXECUTION = 500;

/**
 * The largest execution input of a batch, in bytes of JSON. A backfill's "Run batch"
 * (`startExecution.sync:2`) gets the child's input back inside its result, next to the child's small
 * output and about 1 KiB of execution metadata; 128 KiB leaves half of Step Functions' 256 KiB.
 */
export const MAX_EXECUTION_INPUT_BYTES = 131_072;
/**
 * The most a {@link RunItem} takes in an execution input, comma included: the largest run id and
 * generation, six-digit years. Fixed: a run item carries no config.
 */
export const MAX_RUN_ITEM_BYTES = 144;
/** The rest of an execution input: the job id (≤ 40), execution name (≤ 80), lane and backfill id (≤ 128). */
export const MAX_EXECUTION_ENVELOPE_BYTES = 360;

/** Runs per execution: what was asked, within {@link MAX_EXECUTION_INPUT_BYTES}. */
export function runsPerExecution(requested: number): number {
  const fit = Math.floor((MAX_EXECUTION_INPUT_BYTES - MAX_EXECUTION_ENVELOPE_BYTES) / MAX_RUN_ITEM_BYTES);
  return Math.max(1, Math.min(requested, fit));
}

/**
 * Dispatches a job's pending runs (DESIGN.md §4): first repairs in-flight runs whose execution is gone
 * (restarts it under the same name, while the lane has a free slot) or ended (requeues them with a
 * delay), then, while the lane's executions leave a slot free, queues the oldest pending runs under
 * one deterministic name per batch and starts them.
 * The executions that hold runs are counted again in the transaction that queues, under the job's
 * row lock, so racing dispatchers never have more executions of a lane live than it allows.
 * A paused job starts nothing (DESIGN.md §8): its pending runs wait, and runs of ended executions are
 * still put back to pending, to run after resume; so does a paused backfill, in its lane.
 */
export async function dispatch(
  store: StateStore,
  job: StoredJob,
  starter: WorkflowStarter,
  options: DispatchOptions = {},
): Promise<DispatchResult> {
  const jobId = job.id;
  const lane = options.lane ?? { kind: 'scheduled' };
  const batchRuns = runsPerExecution(options.maxRunsPerExecution ?? DEFAULT_MAX_RUNS_PER_EXECUTION);
  const scheduled = scheduledLaneShape(options.concurrency ?? 1, batchRuns);
  const maxRuns = lane.kind === 'scheduled' ? scheduled.runsPerExecution : batchRuns;
  const maxExecutions = options.maxExecutions ?? 1;
  /** Executions of the lane that may run at once. */
  const slots = lane.kind === 'scheduled' ? scheduled.executions : maxExecutions;

  const dependsOn = job.dependsOn ?? [];
  const { holders, paused, backfillHeld, waiting } = await store.withJob(job, async (tx) => ({
    // Runs whose upstream intervals have all succeeded become pending, of every lane.
    waiting:
      dependsOn.length > 0
        ? await releaseWaitingRuns(store, tx, dependsOn, options.waitsFor, options.now ?? new Date())
        : undefined,
    holders: await tx.inFlightExecutions(lane),
    paused: tx.job.paused,
    // A paused backfill holds its runs as a paused job does (read under the job's row lock, which
    // every change of a backfill's status takes).
    backfillHeld: lane.kind === 'backfill' && isBackfillHeld(await tx.backfillStatus(lane.backfillId)),
  }));
  /** The job or the lane's backfill is paused: what the pause caught stays for after resume. */
  const held = paused || backfillHeld;
  const live: string[] = [];
  const restarted: string[] = [];
  let requeued = 0;
  let failed = 0;
  const repairs = new Map<string, 'absent' | 'ended'>();
  for (const name of holders) {
    const status = name === options.endedExecution ? 'ended' : await starter.status(jobId, name);
    if (status === 'running') live.push(name);
    else repairs.set(name, status);
  }
  // The runs themselves are read only when some execution needs repairing (after a crash, say),
  // the execution with the oldest runs first.
  const inFlight = repairs.size === 0 ? [] : await store.withJob(job, (tx) => tx.inFlightRuns(lane));
  for (const [name, runs] of groupByExecution(inFlight)) {
    const status = repairs.get(name);
    if (status === undefined) continue; // Running, or queued since the names were read.
    if (status === 'absent') {
      // Paused: left queued, restarted under the same name by the first dispatch after resume.
      if (held) continue;
      // Never more running than the lane allows: of two batches left queued by a process that died
      // (one running, one queued ahead), the second is restarted once the first has ended.
      if (live.length >= slots) continue;
      // Asked again now that its runs are read: one that had not started when first asked may have
      // started since (its dispatcher was only slow), and its runs moved on; read before it
      // started, they are the ones it was queued with.
      const now = await starter.status(jobId, name);
      if (now === 'running') live.push(name);
      if (now !== 'absent') continue;
      // Crashed between commit and start: the same name and input make the restart harmless.
      await starter.start(executionInput(jobId, name, lane, runs));
      restarted.push(name);
      live.push(name);
    } else {
      // Ended without recording these runs (its "Record failure" could not reach the store, say):
      // back to pending after a growing delay, so they are not started again at once in a loop;
      // failed once requeued too often (RequeuePolicy).
      // Paused: the pause caught them, nothing failed; back to pending as they were, no delay.
      const outcome = await store.requeueRuns(
        runs.map((run) => run.runId),
        undefined,
        undefined,
        !held,
      );
      requeued += outcome.requeued;
      failed += outcome.failed;
    }
  }

  const started: ExecutionInput[] = [];
  const holdable = slots + (options.queueAhead ? 1 : 0);
  const free = holdable - live.length;
  let pausedNow = paused;
  let delayedUntil: Date | undefined;
  // Every batch is queued in one transaction before any starts: a started execution's stages take
  // the store's connections at once, and batches queued after it would wait behind them (a job at
  // concurrency 5,000 then never had its ten batches in flight together). A crash before the starts
  // leaves queued runs with no execution, which the next dispatch restarts, as for one batch.
  const inputs =
    free <= 0 || pausedNow
      ? []
      : await store.withJob(job, async (tx) => {
          // Checked under the job's row lock, in the transaction that queues: a pause is either seen
          // here or waits for this commit (and then the stage runner refuses the queued runs).
          if (tx.job.paused) {
            pausedNow = true;
            return [];
          }
          // The lane's executions counted again under the lock: another dispatcher may have queued a
          // batch since the read above (two racing dispatchers would otherwise both see no live
          // execution and start a batch each). Every execution that holds queued or running runs
          // takes a slot, whoever queued it: live, restarted above, or queued and about to start.
          const holding = await tx.inFlightExecutions(lane);
          const open = holdable - holding.length;
          const batches: ExecutionInput[] = [];
          while (batches.length < open) {
            const runs = await tx.pendingRuns(lane, maxRuns, options.newestFirst ?? false);
            if (runs.length === 0) break;
            const name = executionName(jobId, lane, runs);
            await tx.markQueued(
              runs.map((run) => run.runId),
              name,
            );
            batches.push(executionInput(jobId, name, lane, runs));
          }
          // Idle with delayed runs only: say when they are due, so the caller can wake for them.
          if (batches.length === 0 && holding.length === 0) delayedUntil = await tx.delayedUntil(lane);
          return batches;
        });
  for (const input of inputs) {
    await starter.start(input);
    started.push(input);
  }
  return {
    started,
    restarted,
    requeued,
    failed,
    live,
    paused: pausedNow,
    ...(waiting && { released: waiting.released, timedOut: waiting.timedOut }),
    ...(delayedUntil && !pausedNow && { delayedUntil }),
  };
}

/** The execution input for a batch of runs: deterministic, so a restart sends the same input. */
export function executionInput(
  jobId: string,
  name: string,
  lane: DispatchLane,
  runs: readonly RunRecord[],
): ExecutionInput {
  return {
    jobId,
    executionName: name,
    lane: lane.kind,
    backfillId: lane.kind === 'backfill' ? lane.backfillId : null,
    runs: runs.map(
      (run): RunItem => ({
        runId: run.runId,
        generation: run.generation,
        interval: intervalToJson(run.interval),
      }),
    ),
  };
}

function groupByExecution(runs: readonly RunRecord[]): Map<string, RunRecord[]> {
  const groups = new Map<string, RunRecord[]>();
  for (const run of runs) {
    if (!run.executionName) continue;
    const group = groups.get(run.executionName) ?? [];
    group.push(run);
    groups.set(run.executionName, group);
  }
  return groups;
}
