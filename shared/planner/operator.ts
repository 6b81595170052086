/**
 * Operator actions on runs (DESIGN.md §8), for every runtime and `--aws` alike: cancel a run, mark a
 * range succeeded or skipped without running it. Each is one store transaction holding the job's
 * row lock, and records the action (who, why, what it did) in the same transaction as its effect.
 */
import { InputError } from '../errors.ts';
import { type IntervalJson, intervalToJson } from '../interval.ts';
import type { JobDefinition } from '../job.ts';
import type { NewRun, RunRecord, RunStatus, StateStore } from '../store/types.ts';

/** Who asks for an action, and why. */
export interface OperatorCall {
  /** Who: `user@host` of the CLI, the UI's caller, the AWS caller (1 to 200 characters). */
  readonly actor: string;
  /** Why, in the operator's words. @default null */
  readonly reason?: string | null;
}

/** An interval and the status its run had, JSON-ready (for printers and control-event answers). */
export interface RunAtInterval extends IntervalJson {
  readonly runId: number;
  readonly status: RunStatus;
}

/** What {@link cancelRuns} did. */
export interface CancelOutcome {
  readonly jobId: string;
  /** Runs set to `cancelled`, with the status each had (a `running` one's handler is being stopped). */
  readonly cancelled: readonly RunAtInterval[];
  /** Runs of the range that had finished already, left as they were. */
  readonly finished: readonly RunAtInterval[];
}

/** Which runs {@link cancelRuns} cancels: those whose interval starts in `[from, to)`. */
export interface CancelRequest {
  readonly from: Date;
  readonly to: Date;
}

/** Intervals a mark may cover at most: a bigger range is refused (split it). */
export const MAX_MARK_INTERVALS = 100_000;

/** A `piko mark` request. */
export interface MarkRequest {
  /** The intervals that start at or after `from` and end at or before `to`. */
  readonly from: Date;
  readonly to: Date;
  readonly as: 'succeeded' | 'skipped';
  /** Say what would change and write nothing. @default false */
  readonly dryRun?: boolean;
}

/** What {@link markRange} did (or, in a dry run, would do). */
export interface MarkOutcome {
  readonly jobId: string;
  readonly as: 'succeeded' | 'skipped';
  readonly dryRun: boolean;
  /** Intervals of the range in all (from the schedule). */
  readonly intervals: number;
  /** Intervals without a run: a run is created in the status. */
  readonly created: number;
  /** Pending, failed, cancelled (or skipped, marked succeeded) runs set to the status. */
  readonly updated: number;
  /** Runs already in the status, or succeeded (a success is never undone): unchanged. */
  readonly unchanged: number;
  /** Queued and running runs, left alone: a handler holds them (cancel them first). */
  readonly leftAlone: readonly RunAtInterval[];
}

/**
 * Cancels the runs of a job whose interval starts in `[from, to)` and has not finished: a pending or
 * queued run never starts (the stage runner refuses it), a running one's handler sees its
 * `ctx.signal` abort once its stage runner next polls the run. Records a `cancel` action.
 * @throws InputError when no run of the job starts in the range.
 */
export async function cancelRuns(
  store: StateStore,
  job: JobDefinition,
  request: CancelRequest,
  call: OperatorCall,
): Promise<CancelOutcome> {
  checkRange(request.from, request.to);
  return store.withJob(job, async (tx) => {
    const runs = await tx.runsInRange(request.from, request.to);
    if (runs.length === 0) {
      throw new InputError(
        `"${job.id}" has no run of an interval starting in ${request.from.toISOString()} → ${request.to.toISOString()}; nothing to cancel`,
      );
    }
    const open = runs.filter((run) => ['pending', 'queued', 'running'].includes(run.status));
    const finished = runs.filter((run) => !open.includes(run));
    const count = open.length ? await tx.cancelRuns(open.map((run) => run.runId)) : 0;
    const outcome: CancelOutcome = {
      jobId: job.id,
      cancelled: open.map(atInterval),
      finished: finished.map(atInterval),
    };
    await tx.recordAction({
      kind: 'cancel',
      target: rangeTarget(request.from, request.to),
      actor: call.actor,
      reason: call.reason ?? null,
      details: {
        cancelled: count,
        runIds: open.map((run) => run.runId).slice(0, 100),
        finished: finished.length,
      },
    });
    return outcome;
  });
}

/**
 * Marks the intervals of a range succeeded or skipped without running them: creates a run in that
 * status for each interval without one (from the schedule), sets pending, failed and cancelled runs
 * to it, and leaves queued and running runs alone (listed) and succeeded ones as they are. The
 * planner never plans an interval that has a run, so a marked interval is neither re-created nor run;
 * `piko run` or a backfill with `--reprocess all` runs it again. Records a `mark` action with the
 * counts (not in a dry run, which writes nothing).
 * @throws InputError for a range that is empty, not over, or holds more than {@link MAX_MARK_INTERVALS}.
 */
export async function markRange(
  store: StateStore,
  job: JobDefinition,
  request: MarkRequest,
  call: OperatorCall,
  now: Date,
): Promise<MarkOutcome> {
  const { from, to, as } = request;
  checkRange(from, to);
  const problems: string[] = [];
  if (as !== 'succeeded' && as !== 'skipped')
    problems.push(`--as must be succeeded or skipped, not "${String(as)}"`);
  if (to.getTime() > now.getTime()) {
    problems.push(
      `--to ${to.toISOString()} is after now (${now.toISOString()}); only intervals that have ended can be marked`,
    );
  }
  const intervals = problems.length ? [] : [...limitedIntervals(job, from, to, problems)];
  if (problems.length) throw new InputError(`Cannot mark intervals of "${job.id}": ${problems.join('; ')}.`);
  if (intervals.length === 0) {
    throw new InputError(
      `Cannot mark intervals of "${job.id}": no interval of "${job.schedule.cron}" lies within ${from.toISOString()} → ${to.toISOString()}.`,
    );
  }
  const rangeEnd = new Date((intervals.at(-1)?.start.getTime() ?? from.getTime()) + 1);
  const plan = (runs: readonly RunRecord[]) => {
    const byStart = new Map(runs.map((run) => [run.interval.start.getTime(), run]));
    const missing: NewRun[] = [];
    const change: RunRecord[] = [];
    const leftAlone: RunRecord[] = [];
    let unchanged = 0;
    for (const interval of intervals) {
      const run = byStart.get(interval.start.getTime());
      if (!run) missing.push({ interval, trigger: 'manual' });
      else if (run.status === 'queued' || run.status === 'running') leftAlone.push(run);
      else if (run.status === as || run.status === 'succeeded') unchanged++;
      else change.push(run);
    }
    return { missing, change, leftAlone, unchanged };
  };
  const outcome = (p: ReturnType<typeof plan>, dryRun: boolean): MarkOutcome => ({
    jobId: job.id,
    as,
    dryRun,
    intervals: intervals.length,
    created: p.missing.length,
    updated: p.change.length,
    unchanged: p.unchanged,
    leftAlone: p.leftAlone.map(atInterval),
  });
  if (request.dryRun) {
    // Read only: a dry run creates not even the job's row.
    return outcome(plan(await store.listRuns(job.id, { from, to: rangeEnd })), true);
  }
  return store.withJob(job, async (tx) => {
    const p = plan(await tx.runsInRange(from, rangeEnd));
    if (p.missing.length) await tx.insertRuns(p.missing);
    const created = new Set(p.missing.map((run) => run.interval.start.getTime()));
    const fresh = created.size
      ? (await tx.runsInRange(from, rangeEnd)).filter((run) => created.has(run.interval.start.getTime()))
      : [];
    const ids = [...p.change, ...fresh].map((run) => run.runId);
    if (ids.length) await tx.markRuns(ids, as);
    const result = outcome(p, false);
    await tx.recordAction({
      kind: 'mark',
      target: rangeTarget(from, to),
      actor: call.actor,
      reason: call.reason ?? null,
      details: {
        as,
        intervals: result.intervals,
        created: result.created,
        updated: result.updated,
        unchanged: result.unchanged,
        leftAlone: result.leftAlone.length,
      },
    });
    return result;
  });
}

/** How an action's record names a range of intervals. */
export function rangeTarget(from: Date, to: Date): string {
  return `${from.toISOString()}/${to.toISOString()}`;
}

function checkRange(from: Date, to: Date): void {
  if (
    !(from instanceof Date) ||
    Number.isNaN(from.getTime()) ||
    !(to instanceof Date) ||
    Number.isNaN(to.getTime())
  ) {
    throw new InputError('from and to must be valid instants (ISO 8601)');
  }
  if (from.getTime() >= to.getTime()) {
    throw new InputError(`from ${from.toISOString()} must be before to ${to.toISOString()}`);
  }
}

function* limitedIntervals(job: JobDefinition, from: Date, to: Date, problems: string[]) {
  let count = 0;
  for (const interval of job.schedule.intervals(from, to)) {
    if (++count > MAX_MARK_INTERVALS) {
      problems.push(
        `${from.toISOString()} → ${to.toISOString()} holds more than ${MAX_MARK_INTERVALS} intervals; mark it in smaller ranges`,
      );
      return;
    }
    yield interval;
  }
}

function atInterval(run: RunRecord): RunAtInterval {
  return { ...intervalToJson(run.interval), runId: run.runId, status: run.status };
}
