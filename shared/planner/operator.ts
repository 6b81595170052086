/**
 * Operator actions on runs (DESIGN.md §8), for every runtime and `--aws` alike: cancel a run, mark a
 * range succeeded or skipped without running it. Each is one store transaction holding the job's
 * row lock, and records the action (who, why, what it did) in the same transaction as its effect.
 */
import { InputError } from '../errors.ts';
import { type Interval, type IntervalJson, intervalToJson } from '../interval.ts';
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

/** What a mark does to one interval: see {@link markEffect}. */
export type MarkEffect = 'create' | 'update' | 'unchanged' | 'refused';

/**
 * What marking an interval `as` does, given its run (undefined: none): `create` a run in the status,
 * `update` the run (pending, waiting, failed, cancelled; skipped when marked succeeded), leave it
 * `unchanged` (already in the status, or succeeded: a success is never undone), or `refused`: a
 * queued or running run, which a handler holds (cancel it first).
 */
export function markEffect(run: Pick<RunRecord, 'status'> | undefined, as: MarkRequest['as']): MarkEffect {
  if (!run) return 'create';
  if (run.status === 'queued' || run.status === 'running') return 'refused';
  if (run.status === as || run.status === 'succeeded') return 'unchanged';
  return 'update';
}

/** Adjacent intervals of a mark's range that have one status now (so one {@link MarkEffect}), merged. */
export interface MarkSpan {
  readonly start: Date;
  readonly end: Date;
  /** How many intervals the span holds (at least 1). */
  readonly intervals: number;
  /** Their runs' status now; `missing` when they have no run. */
  readonly status: RunStatus | 'missing';
  readonly effect: MarkEffect;
}

/** A mark's dry run with what it does interval by interval: {@link previewMark}. */
export interface MarkPreview extends MarkOutcome {
  /** The whole range, oldest first, in spans of one status and effect. */
  readonly spans: readonly MarkSpan[];
}

/**
 * Marks the intervals of a range succeeded or skipped without running them: creates a run in that
 * status for each interval without one (from the schedule), sets pending, failed and cancelled runs
 * to it, and leaves queued and running runs alone (listed) and succeeded ones as they are
 * ({@link markEffect}). The planner never plans an interval that has a run, so a marked interval is
 * neither re-created nor run; `piko run` or a backfill with `--reprocess all` runs it again. Records
 * a `mark` action with the counts (not in a dry run, which writes nothing: {@link previewMark}).
 * @throws InputError for a range that is empty, not over, or holds more than {@link MAX_MARK_INTERVALS}.
 */
export async function markRange(
  store: StateStore,
  job: JobDefinition,
  request: MarkRequest,
  call: OperatorCall,
  now: Date,
): Promise<MarkOutcome> {
  if (request.dryRun) {
    const { spans: _spans, ...outcome } = await previewMark(store, job, request, now);
    return outcome;
  }
  const { from, as } = request;
  const intervals = markIntervals(job, request, now);
  const rangeEnd = startsBefore(intervals);
  return store.withJob(job, async (tx) => {
    const p = planMark(intervals, await tx.runsInRange(from, rangeEnd), as);
    if (p.missing.length) await tx.insertRuns(p.missing);
    const created = new Set(p.missing.map((run) => run.interval.start.getTime()));
    const fresh = created.size
      ? (await tx.runsInRange(from, rangeEnd)).filter((run) => created.has(run.interval.start.getTime()))
      : [];
    const ids = [...p.change, ...fresh].map((run) => run.runId);
    if (ids.length) await tx.markRuns(ids, as);
    const result = markOutcome(job, request, intervals.length, p, false);
    await tx.recordAction({
      kind: 'mark',
      target: rangeTarget(request.from, request.to),
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

/**
 * What {@link markRange} would do, and to which intervals (the dry run of `piko mark` and of the web
 * UI's mark): reads the range's runs only, writes nothing, creates not even the job's row.
 * @throws InputError as {@link markRange} does.
 */
export async function previewMark(
  store: Pick<StateStore, 'listRuns'>,
  job: JobDefinition,
  request: Omit<MarkRequest, 'dryRun'>,
  now: Date,
): Promise<MarkPreview> {
  const intervals = markIntervals(job, request, now);
  const runs = await store.listRuns(job.id, { from: request.from, to: startsBefore(intervals) });
  const p = planMark(intervals, runs, request.as);
  const spans: {
    start: Date;
    end: Date;
    intervals: number;
    status: MarkSpan['status'];
    effect: MarkEffect;
  }[] = [];
  for (const [i, interval] of intervals.entries()) {
    const status = p.statuses[i]!;
    const last = spans.at(-1);
    if (last && last.status === status && last.end.getTime() === interval.start.getTime()) {
      last.end = interval.end;
      last.intervals++;
    } else {
      spans.push({
        start: interval.start,
        end: interval.end,
        intervals: 1,
        status,
        effect: markEffect(status === 'missing' ? undefined : { status }, request.as),
      });
    }
  }
  return { ...markOutcome(job, request, intervals.length, p, true), spans };
}

/**
 * The intervals a mark covers, after checking the request.
 * @throws InputError naming every problem.
 */
function markIntervals(job: JobDefinition, request: Omit<MarkRequest, 'dryRun'>, now: Date): Interval[] {
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
  return intervals;
}

/** Just after the last interval's start: the end of a run query over the intervals. */
function startsBefore(intervals: readonly Interval[]): Date {
  return new Date(intervals.at(-1)!.start.getTime() + 1);
}

/** What a mark does to each interval, from the runs of the range. */
function planMark(intervals: readonly Interval[], runs: readonly RunRecord[], as: MarkRequest['as']) {
  const byStart = new Map(runs.map((run) => [run.interval.start.getTime(), run]));
  const missing: NewRun[] = [];
  const change: RunRecord[] = [];
  const leftAlone: RunRecord[] = [];
  const statuses: MarkSpan['status'][] = [];
  let unchanged = 0;
  for (const interval of intervals) {
    const run = byStart.get(interval.start.getTime());
    statuses.push(run?.status ?? 'missing');
    switch (markEffect(run, as)) {
      case 'create':
        missing.push({ interval, trigger: 'manual' });
        break;
      case 'refused':
        leftAlone.push(run!);
        break;
      case 'unchanged':
        unchanged++;
        break;
      case 'update':
        change.push(run!);
        break;
    }
  }
  return { missing, change, leftAlone, unchanged, statuses };
}

function markOutcome(
  job: JobDefinition,
  request: Pick<MarkRequest, 'as'>,
  intervals: number,
  p: ReturnType<typeof planMark>,
  dryRun: boolean,
): MarkOutcome {
  return {
    jobId: job.id,
    as: request.as,
    dryRun,
    intervals,
    created: p.missing.length,
    updated: p.change.length,
    unchanged: p.unchanged,
    leftAlone: p.leftAlone.map(atInterval),
  };
}

/** How an action's record names a range of intervals. */
export function rangeTarget(from: Date, to: Date): string {
  return `${from.toISOString()}/${to.toISOString()}`;
}

/**
 * Whether an action's target holds the interval starting at `start`: a range ({@link rangeTarget},
 * cancel, mark) when `from <= start < to`, an interval's start (run now, rerun) when it is `start`.
 * The actions on an interval, as `piko runs` and the UI show them.
 */
export function targetHolds(target: string, start: Date): boolean {
  const [from, to, ...rest] = target.split('/').map((part) => Date.parse(part));
  const at = start.getTime();
  if (rest.length > 0 || from === undefined) return false;
  return to === undefined ? from === at : from <= at && at < to;
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

/**
 * Pauses or resumes a job (DESIGN.md §8: nothing of a paused job is planned or started; running
 * runs finish), recorded in `piko_actions` as `pause` or `resume` with who and why, in the same
 * transaction.
 */
export async function setJobPaused(
  store: StateStore,
  job: JobDefinition,
  paused: boolean,
  call: OperatorCall,
): Promise<void> {
  await store.withJob(job, async (tx) => {
    await tx.setPaused(paused);
    await tx.recordAction({
      kind: paused ? 'pause' : 'resume',
      target: job.id,
      actor: call.actor,
      reason: call.reason ?? null,
      details: { wasPaused: tx.job.paused },
    });
  });
}
