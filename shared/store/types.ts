import type { Interval } from '../interval.ts';
import type { SqlDatabase } from '../sql.ts';

/**
 * Life cycle of one run (one job, one interval). `waiting`: a run of a job with `dependsOn` whose
 * upstream intervals are not all succeeded yet (DESIGN.md §9); it becomes `pending` once they are.
 * `cancelled` and `skipped` are set by an operator (`piko cancel`, `piko mark --as skipped`, a
 * backfill's cancel) and are final until the interval is run again.
 */
export type RunStatus =
  | 'waiting'
  | 'pending'
  | 'queued'
  | 'running'
  | 'succeeded'
  | 'failed'
  | 'cancelled'
  | 'skipped';
/** Every {@link RunStatus}, in life-cycle order. */
export const RUN_STATUSES: readonly RunStatus[] = [
  'waiting',
  'pending',
  'queued',
  'running',
  'succeeded',
  'failed',
  'cancelled',
  'skipped',
];
/** The statuses an operator can cancel: the run has not finished. */
export const CANCELLABLE_STATUSES: readonly RunStatus[] = ['pending', 'queued', 'running'];
/** The statuses in which no stage may start or record a result: an operator ended the run. */
export const OPERATOR_FINAL_STATUSES: readonly RunStatus[] = ['cancelled', 'skipped'];
/** What created (or last re-armed) a run. */
export type RunTrigger = 'schedule' | 'backfill' | 'manual';

/**
 * A job as the store sees it: its id, and where the watermark of a row the store creates starts.
 * A job definition is one; the store asks it only when the job has no row yet.
 */
export interface StoredJob {
  readonly id: string;
  /**
   * The jobs whose intervals this job's runs wait for: its runs are created `waiting` and become
   * `pending` when {@link JobTransaction.releaseReadyRuns} finds their upstream intervals succeeded.
   * @default [] (runs are created pending)
   */
  readonly dependsOn?: readonly string[];
  /** The job's `start`. @default - the store's clock when it creates the row */
  readonly start?: Date;
  readonly schedule: { tickAtOrAfter(instant: Date): Date | undefined };
}

/**
 * Where a job the store has never seen starts (DESIGN.md §4 step 1): the first tick at or after its
 * `start`, or at or after `now` when it has none.
 */
export function initialWatermark(job: StoredJob, now: Date): Date {
  const from = job.start ?? now;
  return job.schedule.tickAtOrAfter(from) ?? from;
}

/** A job's row in `piko_jobs`. */
export interface JobState {
  readonly jobId: string;
  /** End of the last interval planned or skipped (UTC). */
  readonly watermark: Date;
  readonly paused: boolean;
  /** Intervals passed over by catch-up rules, counted, never run. */
  readonly skippedTotal: number;
  readonly updatedAt: Date;
}

/** A row of `piko_runs`. */
export interface RunRecord {
  /** Store-assigned id, unique across jobs. */
  readonly runId: number;
  readonly jobId: string;
  readonly interval: Interval;
  readonly status: RunStatus;
  readonly trigger: RunTrigger;
  /** The stage last started (`null` until one starts). */
  readonly stage: string | null;
  /** Attempts of that stage so far in the current generation (1 on its first attempt). */
  readonly attempts: number;
  /** Bumped each time the run is re-armed (backfill rerun, lost execution); part of the execution name. */
  readonly generation: number;
  /**
   * Times the run was put back to pending since it was last created or re-armed (store unavailable,
   * execution ended without recording it); capped by {@link RequeuePolicy.maxRequeues}.
   */
  readonly requeues: number;
  /** A requeued run is not dispatched before this time (growing delay); `null` when dispatchable now. */
  readonly notBefore: Date | null;
  /** The workflow execution that owns the run while queued or running. */
  readonly executionName: string | null;
  /** The backfill that created or re-armed the run, if any. */
  readonly backfillId: string | null;
  /** Config override for this run, as JSON: its own (manual run), else its backfill's. */
  readonly config: unknown;
  /** Last error message (at most 1,000 characters, no secrets). */
  readonly error: string | null;
  /** The last stage's JSON output when succeeded. */
  readonly output: unknown;
  /**
   * The version of the job's code (`version` in defineJob) that last started or finished a stage of
   * the run; null before any did in this generation, or when the code declared no version.
   */
  readonly version: string | null;
  /**
   * The ECS task running the run's current stage, when that stage runs on Fargate (the container
   * records it as the stage starts); null for a Lambda stage, locally, and before any stage started.
   * `piko cancel --aws` stops it.
   */
  readonly taskArn: string | null;
  readonly createdAt: Date;
  readonly updatedAt: Date;
  readonly startedAt: Date | null;
  readonly finishedAt: Date | null;
}

/**
 * Who may update a run: the execution that holds it (`execution_name`) in its current generation,
 * for its job. A stage runner passes the owner its event names; an update whose owner does not
 * match the row changes nothing and throws a StageEventRefusedError.
 */
export interface RunOwner {
  readonly jobId: string;
  readonly executionName: string;
  readonly generation: number;
}

/**
 * How often a run may be put back to pending before it is failed, and how long it waits each time:
 * `baseDelayMs × 2^(requeues so far)`, at most `maxDelayMs`. Without a cap a stage that always loses
 * the store would be requeued forever, and without a delay an ended execution's runs would be
 * dispatched again at once, in a hot loop.
 */
export interface RequeuePolicy {
  /** Requeues of one run before it is failed. @default 5 */
  readonly maxRequeues: number;
  /** Delay before the first requeue is dispatchable again, in ms. @default 10000 */
  readonly baseDelayMs: number;
  /** Longest delay, in ms. @default 600000 */
  readonly maxDelayMs: number;
}

/** The {@link RequeuePolicy} of a store opened without one: 5 requeues, 10 s, 20 s, 40 s, 80 s, 160 s. */
export const DEFAULT_REQUEUE_POLICY: RequeuePolicy = {
  maxRequeues: 5,
  baseDelayMs: 10_000,
  maxDelayMs: 600_000,
};

/** The delay before a run requeued `requeuesSoFar` times already is dispatchable again. */
export function requeueDelayMs(policy: RequeuePolicy, requeuesSoFar: number): number {
  return Math.min(policy.baseDelayMs * 2 ** Math.min(requeuesSoFar, 30), policy.maxDelayMs);
}

/** What {@link StateStore.requeueRuns} did. */
export interface RequeueOutcome {
  /** Runs put back to pending, each with its `notBefore`. */
  readonly requeued: number;
  /** Runs failed instead: they had been requeued {@link RequeuePolicy.maxRequeues} times already. */
  readonly failed: number;
}

/** Two clocks read at the same moment: the store's (this process's) and the database server's. */
export interface DatabaseClock {
  readonly local: Date;
  readonly server: Date;
}

/** What {@link JobTransaction.resetWatermark} did (or, in a dry run, would do). */
export interface WatermarkReset {
  readonly jobId: string;
  readonly from: Date;
  readonly to: Date;
  /** Pending and queued runs of intervals that end after `now`: no handler started them; deleted. */
  readonly removed: readonly RunRecord[];
  /**
   * Runs of intervals ending after `now` that are kept (succeeded, failed or in flight): the planner
   * will not plan their intervals again; rerun them with a backfill once the intervals have happened.
   */
  readonly kept: readonly RunRecord[];
}

/** A run to insert as `pending` (or `waiting`). */
export interface NewRun {
  readonly interval: Interval;
  readonly trigger: RunTrigger;
  /** `waiting` for a job whose upstream must succeed first (DESIGN.md §9). @default 'pending' */
  readonly status?: 'pending' | 'waiting';
  /** @default null */
  readonly backfillId?: string | null;
  /**
   * The run's own config override. Leave it null for a backfill's runs: a run with none reads its
   * backfill's (stored once, in `piko_backfills`). @default null
   */
  readonly config?: unknown;
}

/**
 * Which pending runs a dispatch takes: the scheduled lane (schedule + manual) or one backfill's.
 * The scheduled lane is every run whose backfill id is null; a backfill's lane, the runs with its id.
 */
export type DispatchLane =
  | { readonly kind: 'scheduled' }
  | { readonly kind: 'backfill'; readonly backfillId: string };

/**
 * What an operator did (DESIGN.md §8): every action of the CLI, the web UI and `--aws` is recorded
 * in `piko_actions` with who, why and when.
 */
export type OperatorActionKind =
  | 'pause'
  | 'resume'
  | 'run'
  | 'rerun'
  | 'cancel'
  | 'mark'
  | 'backfill'
  | 'backfill-pause'
  | 'backfill-resume'
  | 'backfill-cancel'
  | 'reset-watermark';
/** Every {@link OperatorActionKind}. */
export const OPERATOR_ACTION_KINDS: readonly OperatorActionKind[] = [
  'pause',
  'resume',
  'run',
  'rerun',
  'cancel',
  'mark',
  'backfill',
  'backfill-pause',
  'backfill-resume',
  'backfill-cancel',
  'reset-watermark',
];

/** An operator action to record. */
export interface NewOperatorAction {
  readonly jobId: string;
  readonly kind: OperatorActionKind;
  /**
   * What it acted on, as a reader wants to see it: an interval or a range
   * (`2026-03-01T00:00:00.000Z/2026-03-02T00:00:00.000Z`), a backfill id, … (at most 200 characters).
   */
  readonly target: string;
  /** Who: the OS user and host of the CLI, the UI's caller, the AWS caller (at most 200 characters). */
  readonly actor: string;
  /** Why, in the operator's words (at most 1,000 characters, truncated). @default null */
  readonly reason?: string | null;
  /** What it did, for the record (counts, run ids…), stored as JSON. @default null */
  readonly details?: unknown;
}

/** A recorded operator action, as `piko_actions` holds it. */
export interface OperatorAction extends NewOperatorAction {
  /** Increasing with each action recorded. */
  readonly actionId: number;
  readonly reason: string | null;
  readonly details: unknown;
  /** When it was recorded, by the store's clock. */
  readonly at: Date;
}

/** Which actions {@link StateStore.listActions} returns: newest first. */
export interface ActionQuery {
  /** Only this job's actions. @default every job */
  readonly jobId?: string;
  /** Only actions with an id below this (the next page). @default no bound */
  readonly beforeId?: number;
  /** At most this many. */
  readonly limit: number;
}

/**
 * Where a backfill is: `planning` (its cursor moves), `planned` (every run created, they run),
 * `done`, `failed` (planning stopped on an error; the same request resumes it), `paused` (no run of
 * it is queued and planning stops at its cursor; running ones finish) and `cancelled` (its pending
 * and queued runs are `cancelled`, nothing more is dispatched; resumable, re-planning the rest).
 */
export type BackfillStatus = 'planning' | 'planned' | 'done' | 'failed' | 'paused' | 'cancelled';
/** Every {@link BackfillStatus}. */
export const BACKFILL_STATUSES: readonly BackfillStatus[] = [
  'planning',
  'planned',
  'done',
  'failed',
  'paused',
  'cancelled',
];

/** How far a backfill's runs have got: counts of its runs (by `backfill_id`) per status. */
export type BackfillRunCounts = RunCounts;

/** Which backfills {@link StateStore.listBackfills} returns: newest first. */
export interface BackfillQuery {
  /** Only this job's. @default every job */
  readonly jobId?: string;
  /** Only backfills in one of these statuses (what a runtime adopts: `planning`, `planned`). @default every status */
  readonly statuses?: readonly BackfillStatus[];
  /** At most this many. */
  readonly limit: number;
}

/** A backfill request's row in `piko_backfills`. */
export interface BackfillRecord {
  /** Deterministic id derived from the request, so re-running the same request resumes it. */
  readonly backfillId: string;
  readonly jobId: string;
  readonly range: Interval;
  readonly reprocess: 'missing' | 'failed' | 'outdated' | 'all';
  readonly reverse: boolean;
  readonly config: unknown;
  /** How far planning got: the next chunk starts here (or ends here when reverse). */
  readonly cursor: Date;
  /** `failed`: planning stopped on {@link error}; the same request resumes it from the cursor. */
  readonly status: BackfillStatus;
  /**
   * Runs of the backfill at once (the Map's MaxConcurrency of its executions); null: the job's
   * `concurrency`.
   */
  readonly concurrency: number | null;
  readonly created: number;
  readonly rerun: number;
  readonly skipped: number;
  /** Why planning failed (at most 1,000 characters); null unless `failed`. */
  readonly error: string | null;
  readonly createdAt: Date;
  readonly updatedAt: Date;
}

/** One downstream backfill of a {@link BackfillChain}: `reprocess: 'all'` over `[from, to)` of a job. */
export interface BackfillChainLink {
  readonly jobId: string;
  readonly from: Date;
  readonly to: Date;
}

/**
 * A `--downstream` backfill's chain (`piko_backfills.chain`): on the upstream backfill (`root`), the
 * downstream backfills found stale before it was planned, in dependency order, and the one the
 * backfill state machine drives (`current`: -1 while it drives the upstream backfill itself); on a
 * downstream backfill (`member`), the upstream backfill whose chain started it.
 */
export type BackfillChain =
  | {
      readonly kind: 'root';
      readonly downstream: readonly BackfillChainLink[];
      readonly current: number;
    }
  | { readonly kind: 'member'; readonly root: string };

/** Operations allowed inside {@link StateStore.withJob}: one transaction holding the job's row lock. */
export interface JobTransaction {
  /** The job row as locked at the start of the transaction. */
  readonly job: JobState;
  /**
   * Inserts `pending` runs (`waiting` ones when their `status` says so), ignoring intervals that
   * already have a row. Returns how many were inserted.
   */
  insertRuns(runs: readonly NewRun[]): Promise<number>;
  /** Moves the watermark and adds to the skipped counter. */
  advanceWatermark(watermark: Date, skippedDelta: number): Promise<void>;
  /**
   * Claims the intervals this planning skipped as a `skipped` alert, in this transaction (so that a
   * crash after the commit cannot lose it: a claim not raised is raised by the alerts' sweep).
   * Returns the ranges claimed: none when that range was claimed before.
   */
  claimSkippedAlert(
    range: { readonly start: Date; readonly end: Date; readonly intervals: number },
    raisedAt: Date,
  ): Promise<{ readonly start: Date; readonly end: Date; readonly intervals: number }[]>;
  /** The job's runs with `from <= interval.start < to`, oldest first. */
  runsInRange(from: Date, to: Date): Promise<RunRecord[]>;
  /**
   * Re-arms runs as `pending`: generation + 1, attempts and requeues 0, error, execution and delay cleared, trigger,
   * backfill id and config replaced. Output, code version, start and finish times are cleared too;
   * ids of other jobs' runs are ignored.
   */
  rearmRuns(runIds: readonly number[], rearm: Omit<NewRun, 'interval'>): Promise<void>;
  /**
   * Makes `pending` up to `limit` of the job's `waiting` runs, oldest first, whose upstream is ready
   * (DESIGN.md §9): for each job of `upstreams`, its watermark is at or after the run's interval end,
   * and its succeeded runs cover every instant of the run's interval from the upstream's first run
   * on (overlaps computed on instants, in SQL). Returns how many it released.
   */
  releaseReadyRuns(upstreams: readonly string[], limit: number): Promise<number>;
  /** Up to `limit` of the job's `waiting` runs whose interval ended before `endedBefore`, oldest first. */
  waitingRunsEndedBefore(endedBefore: Date, limit: number): Promise<RunRecord[]>;
  /**
   * Fails `waiting` runs of the job (an upstream timeout), each with its own message (truncated to
   * 1,000 characters); runs no longer waiting are left alone. Returns how many it failed.
   */
  failWaitingRuns(failures: readonly { readonly runId: number; readonly error: string }[]): Promise<number>;
  /**
   * Up to `limit` pending runs of a lane, oldest first (newest first when `newestFirst`), leaving
   * out runs whose `notBefore` (a requeue's delay) is after the store's clock.
   */
  pendingRuns(lane: DispatchLane, limit: number, newestFirst?: boolean): Promise<RunRecord[]>;
  /** Runs of a lane that are `queued` or `running`, oldest first. */
  inFlightRuns(lane: DispatchLane): Promise<RunRecord[]>;
  /** The names of the executions that hold `queued` or `running` runs of a lane, sorted. */
  inFlightExecutions(lane: DispatchLane): Promise<string[]>;
  /**
   * The earliest `notBefore` after the store's clock among the lane's pending runs (those a paused
   * or cancelled backfill does not hold): when the first of its requeued runs becomes dispatchable.
   * Undefined when no pending run of the lane is delayed.
   */
  delayedUntil(lane: DispatchLane): Promise<Date | undefined>;
  /**
   * Sets `queued` and the execution name on pending runs (of this job; other ids are ignored) and
   * returns how many it queued. Queues nothing while the job is paused: this is the one step by
   * which runs become work (DESIGN.md §8), so no path can start a paused job's runs.
   */
  markQueued(runIds: readonly number[], executionName: string): Promise<number>;
  /**
   * The database server's clock (MySQL `NOW(3)`) next to the store's own clock read at the same
   * moment; undefined on SQLite, whose clock is the process's own.
   */
  databaseClock(): Promise<DatabaseClock | undefined>;
  /**
   * Moves the job's watermark back to `to` (a clock that ran ahead): deletes the pending and queued
   * runs of intervals ending after `now`, keeps every other run and reports the kept ones after `now`.
   * With `dryRun`, changes nothing and reports the same.
   */
  resetWatermark(to: Date, now: Date, dryRun: boolean): Promise<WatermarkReset>;
  /**
   * Records an operator action on this job in the same transaction as its effect, so the record
   * exists exactly when the action took effect.
   */
  recordAction(action: Omit<NewOperatorAction, 'jobId'>): Promise<void>;
  /**
   * Pauses or resumes the job (DESIGN.md §8) in this transaction, under its row lock: a queuing
   * transaction sees it or commits before it. `tx.job` keeps the row as it was locked.
   */
  setPaused(paused: boolean): Promise<void>;
  /** The status of this job's backfill `backfillId`, read in this transaction; undefined when it has none of that id. */
  backfillStatus(backfillId: string): Promise<BackfillStatus | undefined>;
  /**
   * Sets a backfill's status as an operator asked (pause, resume, cancel), unconditionally, under
   * the job's row lock: a queuing transaction sees it or commits before it.
   */
  setBackfillStatus(backfillId: string, status: BackfillStatus): Promise<void>;
  /**
   * Cancels the backfill's runs that no handler has started: its `waiting`, `pending` and `queued` runs become
   * `cancelled` in a new generation with no execution (so a queued run's execution is refused by
   * the owner check and never starts it), with `error` as their message. Returns how many.
   */
  cancelBackfillRuns(backfillId: string, error: string): Promise<number>;
  /**
   * Puts the backfill's `cancelled` runs back to `status` in a new generation: `waiting` for a job
   * with upstream jobs, so they wait for their upstream intervals again. Returns how many.
   */
  resumeCancelledRuns(backfillId: string, status: 'pending' | 'waiting'): Promise<number>;
  /**
   * Sets runs of this job that are pending, queued or running to `cancelled` (finish time now,
   * requeue delay cleared; the execution name is kept, so its stage runner still finds its run and
   * sees the cancel); other ids and statuses are left alone. Returns how many it cancelled.
   */
  cancelRuns(runIds: readonly number[]): Promise<number>;
  /**
   * Sets runs of this job that are pending, failed, cancelled or skipped (never queued, running or
   * succeeded) to `status` without running them: finish time now, error and execution cleared.
   * Returns how many changed.
   */
  markRuns(runIds: readonly number[], status: 'succeeded' | 'skipped'): Promise<number>;
  /**
   * Updates a backfill's cursor and status and adds to its counts, atomically with the runs; sets
   * its error (cleared when none is given). A `paused` or `cancelled` backfill keeps that status
   * (an operator's word wins over a planner that had not seen it yet).
   */
  /**
   * Sets (or, with null, clears) the chain of a backfill of this job. Throws a StoreError when the
   * job has no such backfill.
   */
  setBackfillChain(backfillId: string, chain: BackfillChain | null): Promise<void>;
  updateBackfill(
    backfillId: string,
    update: {
      cursor: Date;
      status: BackfillStatus;
      created: number;
      rerun: number;
      skipped: number;
      /** @default null */
      error?: string | null;
    },
  ): Promise<void>;
}

/** Counts of a job's runs per status. */
export type RunCounts = Record<RunStatus, number>;

/**
 * Adjacent runs of one job that share a status, merged: `runs` runs cover `[start, end)` with no
 * interval missing in between (the merge breaks at a gap as at a change of status).
 */
export interface RunSpan {
  readonly status: RunStatus;
  /** The first run's interval start. */
  readonly start: Date;
  /** The last run's interval end. */
  readonly end: Date;
  /** How many runs the span merges (at least 1). */
  readonly runs: number;
}

/**
 * The runs of one status whose interval starts in one time bucket: bucket `index` covers
 * `[from + index × bucketMs, from + (index + 1) × bucketMs)`. A zoomed-out view's summary when a
 * range holds more intervals than it can show (read from an index alone, without the rows).
 */
export interface RunBucket {
  readonly index: number;
  readonly status: RunStatus;
  readonly runs: number;
}

/** Which of a job's runs {@link StateStore.findRuns} returns. */
export interface RunQuery {
  /** Runs whose interval starts at or after this. @default no lower bound */
  readonly from?: Date;
  /** Runs whose interval starts before this. @default no upper bound */
  readonly to?: Date;
  /** Only runs in one of these statuses. @default every status */
  readonly statuses?: readonly RunStatus[];
  /**
   * Only the runs of this backfill, or with `null` only the scheduled lane's (schedule and manual
   * runs, no backfill). @default every run
   */
  readonly backfillId?: string | null;
  /** At most this many runs. */
  readonly limit: number;
  /** The newest intervals first (the last `limit` of the range) instead of the oldest. @default false */
  readonly newestFirst?: boolean;
}

/**
 * Where Piko keeps its state: `piko_jobs`, `piko_runs`, `piko_backfills` (DESIGN.md §3).
 * One interface, two implementations (MySQL, SQLite), one conformance suite.
 */
export interface StateStore {
  /** `'mysql'` or `'sqlite'`. */
  readonly kind: 'mysql' | 'sqlite';
  /** Applies pending numbered migrations under a lock; concurrent callers wait, never apply twice. */
  migrate(): Promise<{ applied: number[] }>;
  /**
   * Runs `work` in one transaction that holds the job's row lock, creating the row when missing,
   * its watermark at {@link initialWatermark} by the store's clock. Commits when `work` resolves,
   * rolls back when it throws. Inside `work`, use `tx`: other calls on the store are not part of the
   * transaction on MySQL (and join it on SQLite, whose single connection the transaction holds).
   */
  withJob<T>(job: StoredJob, work: (tx: JobTransaction) => Promise<T>): Promise<T>;
  /** A job's row, or undefined before the planner first saw it. */
  getJob(jobId: string): Promise<JobState | undefined>;
  /** Every job row, by id. */
  listJobs(): Promise<JobState[]>;
  /** Pauses or resumes a job, creating its row when missing (as {@link withJob} does). */
  setPaused(job: StoredJob, paused: boolean): Promise<void>;

  /** One run by id. */
  getRun(runId: number): Promise<RunRecord | undefined>;
  /**
   * The record of a run whose first stage `owner` is about to start, for {@link markRunning}: the
   * one this store queued it with, when its queuing committed here (the local runtime), else read
   * as {@link getRun} reads it. It may be stale (cancelled, paused, re-armed since): markRunning
   * from a record starts the run only if the row is still what the record says, and otherwise
   * marks it by id and reads it. Not for a decision markRunning does not check.
   */
  runToStart(runId: number, owner: RunOwner): Promise<RunRecord | undefined>;
  /** A job's runs with `from <= interval.start < to`, oldest first (all when no range). */
  listRuns(jobId: string, range?: { from: Date; to: Date }): Promise<RunRecord[]>;
  /** How many of the job's runs are in each status. */
  countRuns(jobId: string): Promise<RunCounts>;
  /** The job's most recent failed runs, newest (finish time) first. */
  recentFailures(jobId: string, limit: number): Promise<RunRecord[]>;
  /**
   * The job's runs that match `query`, by interval start (oldest first, or newest first with
   * `newestFirst`), at most `query.limit`.
   */
  findRuns(jobId: string, query: RunQuery): Promise<RunRecord[]>;
  /**
   * Runs of the job that finished (succeeded or failed) after `after`, in finish order (then by
   * run id), at most `limit`: what a scrape of run durations has not seen yet.
   */
  runsFinishedAfter(jobId: string, after: Date, limit: number): Promise<RunRecord[]>;
  /**
   * The job's runs with `from <= interval.start < to`, adjacent runs of one status merged in SQL
   * into spans, oldest first, at most `limit` spans (the first ones). A missing interval (no run)
   * between two runs ends a span: the caller tells the gaps from the schedule.
   */
  intervalSpans(jobId: string, range: { from: Date; to: Date }, limit: number): Promise<RunSpan[]>;
  /**
   * Counts of the job's runs with `from <= interval.start < to` per time bucket of `bucketMs` and
   * status, oldest bucket first (only buckets and statuses that have runs). Reads an index only.
   */
  intervalBuckets(jobId: string, range: { from: Date; to: Date }, bucketMs: number): Promise<RunBucket[]>;
  /**
   * How many of the job's succeeded runs were run by another version of its code than `version`
   * (a run of no version counts when `version` is given; with `version` null, every run of a version).
   */
  countOutdated(jobId: string, version: string | null): Promise<number>;
  /**
   * The average time from start to finish of the job's succeeded runs, in ms (at most the `sample`
   * most recent ones); undefined when none has succeeded. @default sample 1000
   */
  averageRunMs(jobId: string, sample?: number): Promise<number | undefined>;

  /**
   * Marks a run `running` for an attempt of `stage`: attempts + 1 when that stage was the last one
   * started, else 1. Refuses (returns undefined) a run that is already `succeeded`, so a duplicate
   * delivery never runs twice, and a run that is not yet `running` while its job is paused (checked
   * in the same statement), so a pause stops queued runs before their handler starts; such a run is
   * left as it was. Sets the start time to `now`, clears the finish time and records `version`, the
   * version of the code starting the stage, and `taskArn`, the ECS task running it (cleared for a
   * stage that runs elsewhere); returns undefined for an unknown run. With `owner`, only when the
   * run is still owned by it (job, execution name, generation); else undefined too, and nothing
   * changes. `run` is the run's id, or its record as the caller has just read it: then the run is
   * marked in one statement, conditional on its row being still that record, and its started record
   * is not read again (a run that changed since the read is marked as from its id).
   * @default version null (the code declares none); taskArn null (not an ECS task)
   */
  markRunning(
    run: number | RunRecord,
    stage: string,
    now: Date,
    owner?: RunOwner,
    version?: string | null,
    taskArn?: string | null,
  ): Promise<RunRecord | undefined>;
  /**
   * Records a non-last stage's output (the next stage reads it from here); the run stays running.
   * With `owner`, throws a StageEventRefusedError (changing nothing) when the run is not its own.
   */
  recordOutput(runId: number, output: unknown, now: Date, owner?: RunOwner): Promise<void>;
  /**
   * Records success with the stage's output and `version`, the version of the code that finished it,
   * clearing the last error. Throws a StoreError for an unknown run; with `owner`, a
   * StageEventRefusedError (changing nothing) when the run is not its own.
   * @default version null (the code declares none)
   */
  markSucceeded(
    runId: number,
    output: unknown,
    now: Date,
    owner?: RunOwner,
    version?: string | null,
  ): Promise<void>;
  /**
   * Records failure with its message (truncated to 1,000 characters). A `succeeded` run stays
   * succeeded (a late duplicate never undoes a success). Throws a StoreError for an unknown run;
   * with `owner`, a StageEventRefusedError (changing nothing) when the run is not its own.
   */
  markFailed(runId: number, error: string, attempts: number, now: Date, owner?: RunOwner): Promise<void>;
  /**
   * Puts queued/running runs of an execution that is gone back to `pending`, generation + 1.
   * As a new generation: attempts 0, execution and start time cleared; the last error is kept, or
   * replaced by `error` when given. Each requeue counts (`requeues` + 1) and delays the run
   * (`notBefore`, see {@link RequeuePolicy}); a run already requeued `maxRequeues` times is failed
   * instead, with a message saying so and its last error. Runs in any other status are left alone.
   * With `owner`, only runs it owns are requeued; a run it does not own throws a
   * StageEventRefusedError (after the owned ones were requeued). With `counted` false (runs a pause
   * caught), neither counted nor delayed. @default counted true
   */
  requeueRuns(
    runIds: readonly number[],
    owner?: RunOwner,
    error?: string,
    counted?: boolean,
  ): Promise<RequeueOutcome>;
  /** The store's requeue policy. */
  readonly requeuePolicy: RequeuePolicy;

  /**
   * Creates a backfill row, or returns the existing one with the same id (its concurrency set to
   * the one given when that is not null). @default concurrency null (the job's)
   */
  openBackfill(
    backfill: Omit<BackfillRecord, 'createdAt' | 'updatedAt' | 'error' | 'concurrency'> & {
      readonly concurrency?: number | null;
    },
  ): Promise<BackfillRecord>;
  /** One backfill by id. */
  getBackfill(backfillId: string): Promise<BackfillRecord | undefined>;
  /** A backfill's chain (see {@link BackfillChain}); null when it has none or does not exist. */
  getBackfillChain(backfillId: string): Promise<BackfillChain | null>;
  /** Backfills, newest (creation) first. */
  listBackfills(query: BackfillQuery): Promise<BackfillRecord[]>;
  /**
   * Counts of the backfill's runs per status, read from the `piko_runs_lane` index alone (one range
   * per status).
   */
  backfillRunCounts(jobId: string, backfillId: string): Promise<BackfillRunCounts>;

  /** Records an operator action (outside a job transaction). */
  recordAction(action: NewOperatorAction): Promise<void>;
  /** Recorded operator actions, newest first. */
  listActions(query: ActionQuery): Promise<OperatorAction[]>;

  /** The database behind the store, for sinks that write next to the state (upsertSink's default). */
  readonly database: SqlDatabase;
  /** Closes connections. The store cannot be used afterwards. */
  close(): Promise<void>;
}

/**
 * The reads the web UI and the job-status model make of a state store: what `piko ui --aws` answers
 * through the deployed dispatcher's control events instead of a database.
 */
export type StateReader = Pick<
  StateStore,
  | 'getJob'
  | 'listJobs'
  | 'listRuns'
  | 'countRuns'
  | 'recentFailures'
  | 'findRuns'
  | 'runsFinishedAfter'
  | 'intervalSpans'
  | 'intervalBuckets'
  | 'countOutdated'
  | 'getBackfill'
>;
