/**
 * A backfill run to its end by one process (`piko backfill`, locally): planned, then its lane
 * dispatched batch after batch until nothing is left, waiting while the job is paused, then marked
 * done. On AWS the backfill state machine does the same through `backfill-plan` and `backfill-next`.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { JobPausedError } from '../errors.ts';
import type { JobDefinition } from '../job.ts';
import type { DispatchLane, StateStore } from '../store/types.ts';
import {
  type BackfillLimits,
  type BackfillPlanResult,
  type BackfillRequest,
  finishBackfill,
  planBackfill,
} from './backfill.ts';
import { isBackfillHeld } from './backfill-control.ts';
import type { DispatchResult } from './dispatch.ts';

/** How often a backfill of a paused job looks whether the job was resumed. */
export const BACKFILL_PAUSED_POLL_MS = 500;

/** What runs a backfill's executions and says when they have ended (the local runtime is one). */
export interface LaneRunner {
  /**
   * Dispatches the pending runs of one lane of a job (repairing in-flight ones first), at most
   * `maxRuns` per execution (a backfill's concurrency below the job's). @default maxRuns the runner's batch size
   */
  dispatchLane(
    job: JobDefinition,
    lane: DispatchLane,
    newestFirst?: boolean,
    maxRuns?: number,
  ): Promise<DispatchResult>;
  /** Resolves when no execution it started is running. */
  whenIdle(): Promise<void>;
  /** Runs that have ended since the runner was created. */
  readonly totals: { readonly succeeded: number; readonly failed: number };
}

/** What {@link runBackfill} reports as it goes. */
export type BackfillProgress =
  /** The whole range is planned. */
  | { readonly kind: 'planned'; readonly plan: BackfillPlanResult }
  /** The job is paused: the backfill waits for it to be resumed (said once per pause). */
  | { readonly kind: 'paused'; readonly backfillId: string }
  /** An operator paused the backfill (piko backfill pause): it waits for resume (said once per pause). */
  | { readonly kind: 'backfill-paused'; readonly backfillId: string }
  /** An operator resumed the backfill: it goes on from its cursor. */
  | { readonly kind: 'backfill-resumed'; readonly backfillId: string }
  /** A round of batches has ended: `done` of `total` runs of the backfill have ended, `failed` of them failed. */
  | { readonly kind: 'batch'; readonly done: number; readonly total: number; readonly failed: number };

/** Options of {@link runBackfill}. */
export interface RunBackfillOptions {
  /** Limits of the planning. @default planBackfill's */
  readonly limits?: BackfillLimits;
  /** When the job is paused, plan now and run after it is resumed. @default false: refused */
  readonly waitWhilePaused?: boolean;
  /** Where progress goes. @default nothing */
  readonly onProgress?: (progress: BackfillProgress) => void;
  /** @default () => new Date() */
  readonly clock?: () => Date;
  /** How often a paused job is looked at again. @default BACKFILL_PAUSED_POLL_MS */
  readonly pausedPollMs?: number;
  /**
   * Stops driving the backfill at its next round (its driver lost its lease, the runtime stops):
   * nothing more of it is dispatched here, its status is left as it is, and the outcome says
   * `stopped`. Executions already started go on. @default never
   */
  readonly signal?: AbortSignal;
}

/** How a backfill run by {@link runBackfill} ended. */
export interface BackfillOutcome {
  readonly backfillId: string;
  readonly succeeded: number;
  readonly failed: number;
  /**
   * Runs of the backfill still waiting for upstream intervals that did not succeed (DESIGN.md §9);
   * the backfill is then left unfinished: run the same request again once the upstream has run.
   */
  readonly waiting: number;
  /** True when an operator cancelled it (piko backfill cancel): it stopped, not done. */
  readonly cancelled?: boolean;
  /** True when `signal` stopped it before its end: another driver (or the next start) goes on with it. */
  readonly stopped?: boolean;
  /**
   * The process that drove it to its end while this call waited (`driveOrWait`): the counts are
   * then the backfill's runs in the state table, not this call's. @default this call drove it
   */
  readonly drivenBy?: string;
}

/**
 * Runs per execution of a backfill at `concurrency`: an execution's Map runs at most the job's
 * concurrency at once, and the backfill's executions run one at a time, so a lower concurrency
 * means smaller batches. Undefined: the runner's own batch size.
 */
export function backfillBatchRuns(job: JobDefinition, concurrency: number | null): number | undefined {
  return concurrency !== null && concurrency < job.concurrency ? concurrency : undefined;
}

/**
 * Plans the backfill of `request` and runs it through `runner` until every run of its lane has ended,
 * then marks it done. Runs it again with the same request after a stop, and it goes on where it was.
 * @throws JobPausedError (before writing anything) when the job is paused and `waitWhilePaused` is not
 *   set; the errors of {@link planBackfill}.
 */
export async function runBackfill(
  store: StateStore,
  job: JobDefinition,
  request: BackfillRequest,
  runner: LaneRunner,
  options: RunBackfillOptions = {},
): Promise<BackfillOutcome> {
  const clock = options.clock ?? (() => new Date());
  const report = options.onProgress ?? (() => {});
  // A paused job starts no run: refuse before writing anything, so a script never blocks on a pause
  // it did not expect; waiting plans now and runs after resume (as a pause mid-way does).
  if (!options.waitWhilePaused && (await store.getJob(job.id))?.paused) {
    throw new JobPausedError(job.id, 'a backfill (pass --wait to plan it now and run it after resume)');
  }
  const plan = await planBackfill(store, job, request, clock(), options.limits);
  report({ kind: 'planned', plan });
  const id = plan.backfillId;
  const lane = { kind: 'backfill', backfillId: id } as const;
  // Its runs not finished yet, counted from the lane's index (never the range's rows).
  const countTotal = async () => {
    const counts = await store.backfillRunCounts(job.id, id);
    return Object.entries(counts).reduce(
      (sum, [status, runs]) => (status === 'succeeded' || status === 'failed' ? sum : sum + runs),
      0,
    );
  };
  let total = await countTotal();
  let waiting = false;
  let held = false;
  const signal = options.signal;
  const pause = (ms: number) => sleep(ms, undefined, { signal }).catch(() => undefined);
  const stopped = (): BackfillOutcome => {
    const { succeeded, failed } = runner.totals;
    return { backfillId: id, succeeded, failed, waiting: 0, stopped: true };
  };
  for (;;) {
    if (signal?.aborted) return stopped();
    // An operator's pause or cancel (piko backfill pause|cancel, the UI) is read each round.
    const record = await store.getBackfill(id);
    if (record?.status === 'cancelled') {
      const { succeeded, failed } = runner.totals;
      return { backfillId: id, succeeded, failed, waiting: 0, cancelled: true };
    }
    if (record?.status === 'paused') {
      if (!held) report({ kind: 'backfill-paused', backfillId: id });
      held = true;
      await pause(options.pausedPollMs ?? BACKFILL_PAUSED_POLL_MS);
      continue;
    }
    if (held) report({ kind: 'backfill-resumed', backfillId: id });
    held = false;
    // Resumed (or planning cut short): plan the rest from the cursor, then run it too.
    if (record?.status === 'planning') {
      await planBackfill(store, job, request, clock(), options.limits);
      total = Math.max(total, await countTotal());
    }
    const maxRuns = backfillBatchRuns(job, record?.concurrency ?? null);
    const dispatched = await runner.dispatchLane(job, lane, request.reverse, maxRuns);
    // A round that started a batch goes on at once: the next round's dispatch queues the batch after
    // it while it runs (a runner that queues ahead starts that one when this one ends; another
    // finds the lane's slot taken and waits below).
    if (dispatched.started.length === 0) await runner.whenIdle();
    // Stopped meanwhile, its dispatch may have been refused: never read that as the backfill's end.
    if (signal?.aborted) return stopped();
    if (dispatched.paused) {
      // A paused job starts nothing, backfills included: wait here and go on after resume.
      if (!waiting) report({ kind: 'paused', backfillId: id });
      waiting = true;
      await pause(options.pausedPollMs ?? BACKFILL_PAUSED_POLL_MS);
      continue;
    }
    waiting = false;
    const { succeeded, failed } = runner.totals;
    report({ kind: 'batch', done: succeeded + failed, total, failed });
    // Done when nothing was started, resumed after an interruption, or still running, unless an
    // operator's pause or cancel came meanwhile (the next round sees it).
    if (dispatched.started.length + dispatched.restarted.length + dispatched.live.length === 0) {
      if (isBackfillHeld((await store.getBackfill(id))?.status)) continue;
      break;
    }
  }
  const { succeeded, failed } = runner.totals;
  // Nothing is left to start, but runs may wait for upstream intervals that failed or never ran.
  const stillWaiting = (
    await store.findRuns(job.id, { backfillId: plan.backfillId, statuses: ['waiting'], limit: total + 1 })
  ).length;
  if (stillWaiting === 0) await finishBackfill(store, job, plan.backfillId);
  return { backfillId: plan.backfillId, succeeded, failed, waiting: stillWaiting };
}
