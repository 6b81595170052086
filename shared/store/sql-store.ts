/**
 * The one `StateStore` both dialects share: a thin composition of the statement groups in `sql/`
 * (one per file), each run on the store's database or, inside `withJob`, on the transaction's
 * connection. The dialects (`mysql/`, `sqlite.ts`) give it their database and their few SQL
 * differences.
 */
import { StoreError } from '../errors.ts';
import type { SqlDatabase } from '../sql.ts';
import { type AlertRange, claimOn } from './alerts.ts';
import { listActions, recordAction } from './sql/actions.ts';
import {
  type BackfillProgress,
  backfillRunCounts,
  cancelBackfillRuns,
  getBackfill,
  getBackfillChain,
  listBackfills,
  openBackfill,
  resumeCancelledRuns,
  setBackfillChain,
  setBackfillStatus,
  updateBackfill,
} from './sql/backfills.ts';
import { checkJobId } from './sql/checks.ts';
import { databaseClock } from './sql/database-clock.ts';
import type { SqlContext, SqlStoreDialect } from './sql/dialect.ts';
import { selectRuns, selectRunsFinishedAfter } from './sql/find-runs.ts';
import { GroupCommit, GroupRead } from './sql/group-commit.ts';
import { insertBudget, insertRuns } from './sql/insert-runs.ts';
import { selectIntervalBuckets, selectIntervalSpans } from './sql/interval-spans.ts';
import { advanceWatermark, getJob, listJobs, lockJob, setJobRowPaused, setPaused } from './sql/job-rows.ts';
import { cancelRuns, markRuns } from './sql/operator-runs.ts';
import {
  delayedUntil,
  inFlightExecutions,
  inFlightRuns,
  markQueued,
  pendingRuns,
  rearmRuns,
} from './sql/queue-runs.ts';
import {
  countOutdated,
  countRuns,
  getRun,
  getRuns,
  listRuns,
  recentFailures,
  runsInRange,
} from './sql/read-runs.ts';
import { requeueRuns } from './sql/requeue-runs.ts';
import { resetWatermark } from './sql/reset-watermark.ts';
import {
  explainNoUpdate,
  markFailed,
  markRunning,
  markRunningFromStatement,
  markRunningStatement,
  markSucceeded,
  markSucceededStatement,
  recordOutput,
  showsStart,
  startedRecord,
} from './sql/run-transitions.ts';
import { StartHints } from './sql/start-hints.ts';
import {
  averageRunMs,
  failWaitingRuns,
  releaseReadyRuns,
  waitingRunsEndedBefore,
} from './sql/upstream-readiness.ts';
import {
  type ActionQuery,
  type BackfillChain,
  type BackfillQuery,
  type BackfillRecord,
  type BackfillRunCounts,
  type BackfillStatus,
  type DatabaseClock,
  DEFAULT_REQUEUE_POLICY,
  type DispatchLane,
  type JobState,
  type JobTransaction,
  type NewOperatorAction,
  type NewRun,
  type OperatorAction,
  type RequeueOutcome,
  type RequeuePolicy,
  type RunBucket,
  type RunCounts,
  type RunOwner,
  type RunQuery,
  type RunRecord,
  type RunSpan,
  type StateStore,
  type StoredJob,
  type WatermarkReset,
} from './types.ts';

export { MAX_ERROR_LENGTH, truncateError } from './sql/checks.ts';
export { nestedTransactionError, type SqlStoreDialect } from './sql/dialect.ts';

/** What a dialect gives the shared implementation. */
export interface SqlStoreBackend {
  readonly kind: StateStore['kind'];
  readonly dialect: SqlStoreDialect;
  /** Transactions hold the job lock: MySQL row locks, SQLite `BEGIN IMMEDIATE`. */
  readonly database: SqlDatabase;
  /** The store's clock, for `created_at` / `updated_at`. */
  readonly clock: () => Date;
  /** @default DEFAULT_REQUEUE_POLICY */
  readonly requeuePolicy?: RequeuePolicy;
  migrate(): Promise<{ applied: number[] }>;
  close(): Promise<void>;
  /**
   * True when called inside one of the database's transactions whose statements join it (SQLite,
   * per async context): the store's grouped reads and writes then run directly, in that
   * transaction, as they did ungrouped (grouped, they would wait for it to end, and it for them).
   * @default never
   */
  readonly inTransaction?: () => boolean;
}

/** Builds a {@link StateStore} on a dialect's {@link SqlDatabase}. */
export function createSqlStateStore(backend: SqlStoreBackend): StateStore {
  return new SqlStateStore(backend);
}

class SqlStateStore implements StateStore {
  readonly kind: StateStore['kind'];
  readonly database: SqlDatabase;
  readonly requeuePolicy: RequeuePolicy;
  readonly #backend: SqlStoreBackend;
  /** Statements outside a transaction: on the store's database. */
  readonly #ctx: SqlContext;
  /** The byte budget of one multi-row INSERT, asked of the server once. */
  #insertBytes: number | undefined;
  /** A run's status writes on the hot path, one transaction per event-loop turn. */
  readonly #statusWrites: GroupCommit;
  /** Runs read by id (getRun, and the records markRunning returns), per event-loop turn in one statement. */
  readonly #runReads: GroupRead<RunRecord>;
  /** The records of runs queued here, for their first stage's start (see start-hints.ts). */
  readonly #startHints = new StartHints();
  readonly #inTransaction: () => boolean;

  constructor(backend: SqlStoreBackend) {
    this.kind = backend.kind;
    this.database = backend.database;
    this.#backend = backend;
    this.#ctx = { db: backend.database, dialect: backend.dialect, clock: backend.clock };
    this.requeuePolicy = backend.requeuePolicy ?? DEFAULT_REQUEUE_POLICY;
    this.#statusWrites = new GroupCommit(backend.database);
    this.#runReads = new GroupRead((ids) => getRuns(backend.database, ids));
    this.#inTransaction = backend.inTransaction ?? (() => false);
  }

  migrate(): Promise<{ applied: number[] }> {
    return this.#backend.migrate();
  }

  async withJob<T>(job: StoredJob, work: (tx: JobTransaction) => Promise<T>): Promise<T> {
    checkJobId(job.id);
    let queued: readonly RunRecord[] = [];
    const result = await this.database.transaction(async (db) => {
      const ctx = { ...this.#ctx, db };
      const row = await lockJob(ctx, job);
      // Asked through the transaction's connection: a pool of one must not wait for itself.
      const budget = async () => (this.#insertBytes ??= await insertBudget(db, ctx.dialect));
      const tx = new SqlJobTransaction(ctx, row, budget);
      try {
        const value = await work(tx);
        queued = tx.queued;
        return value;
      } finally {
        tx.end();
      }
    });
    // Committed: what it queued is now what the runs are (until something changes them).
    this.#startHints.add(queued);
    return result;
  }

  getJob(jobId: string): Promise<JobState | undefined> {
    return getJob(this.database, jobId);
  }

  listJobs(): Promise<JobState[]> {
    return listJobs(this.database);
  }

  setPaused(job: StoredJob, paused: boolean): Promise<void> {
    return setPaused(this.#ctx, job, paused);
  }

  getRun(runId: number): Promise<RunRecord | undefined> {
    // Every stage starts with this read: grouped, the runs of one turn cost one SELECT.
    // A malformed id is read alone: in a group's statement it would fail the others' reads too.
    if (this.#inTransaction() || !Number.isSafeInteger(runId)) return getRun(this.database, runId);
    return this.#runReads.get(runId);
  }

  runToStart(runId: number, owner: RunOwner): Promise<RunRecord | undefined> {
    const hint = this.#startHints.take(runId, owner);
    return hint ? Promise.resolve(hint) : this.getRun(runId);
  }

  listRuns(jobId: string, range?: { from: Date; to: Date }): Promise<RunRecord[]> {
    return listRuns(this.database, jobId, range);
  }

  countRuns(jobId: string): Promise<RunCounts> {
    return countRuns(this.database, jobId);
  }

  recentFailures(jobId: string, limit: number): Promise<RunRecord[]> {
    return recentFailures(this.database, jobId, limit);
  }

  countOutdated(jobId: string, version: string | null): Promise<number> {
    return countOutdated(this.database, jobId, version);
  }

  averageRunMs(jobId: string, sample = 1_000): Promise<number | undefined> {
    return averageRunMs(this.database, this.#backend.dialect, jobId, sample);
  }

  findRuns(jobId: string, query: RunQuery): Promise<RunRecord[]> {
    return selectRuns(this.database, jobId, query);
  }

  runsFinishedAfter(jobId: string, after: Date, limit: number): Promise<RunRecord[]> {
    return selectRunsFinishedAfter(this.database, jobId, after, limit);
  }

  intervalSpans(jobId: string, range: { from: Date; to: Date }, limit: number): Promise<RunSpan[]> {
    return selectIntervalSpans(this.database, jobId, range, limit);
  }

  intervalBuckets(jobId: string, range: { from: Date; to: Date }, bucketMs: number): Promise<RunBucket[]> {
    return selectIntervalBuckets(this.database, jobId, range, bucketMs);
  }

  async markRunning(
    run: number | RunRecord,
    stage: string,
    now: Date,
    owner?: RunOwner,
    version: string | null = null,
    taskArn: string | null = null,
  ): Promise<RunRecord | undefined> {
    const started = { stage, version, taskArn };
    const { dialect } = this.database;
    if (typeof run !== 'number') {
      // From the caller's record: one conditional UPDATE, no read back. Only when the run changed
      // since (or is refused) does it go on as from the id, which reads it again and tells why.
      const statement = markRunningFromStatement(dialect, run, started, now, owner);
      if (statement) {
        const expected = startedRecord(run, started, now);
        const marked = this.#inTransaction()
          ? await this.database.query(statement.sql, statement.params)
          : await this.#statusWrites.write(
              statement,
              (result) => result,
              async () =>
                showsStart(await this.#runReads.get(run.runId), started, now, owner, expected.attempts),
            );
        if (marked.affectedRows > 0) return expected;
      }
    }
    const runId = typeof run === 'number' ? run : run.runId;
    if (this.#inTransaction()) {
      const marked = await markRunning(this.database, runId, started, now, owner);
      return marked ? getRun(this.database, runId) : undefined;
    }
    const statement = markRunningStatement(dialect, runId, started, now, owner);
    const marked = await this.#statusWrites.write(
      statement,
      (result) => result.affectedRows > 0,
      async () => showsStart(await this.#runReads.get(runId), started, now, owner),
    );
    return marked ? this.#runReads.get(runId) : undefined;
  }

  recordOutput(runId: number, output: unknown, now: Date, owner?: RunOwner): Promise<void> {
    return recordOutput(this.database, runId, output, now, owner);
  }

  async markSucceeded(
    runId: number,
    output: unknown,
    now: Date,
    owner?: RunOwner,
    version: string | null = null,
  ): Promise<void> {
    if (this.#inTransaction()) return markSucceeded(this.database, runId, output, now, owner, version);
    const statement = markSucceededStatement(this.database.dialect, runId, output, now, owner, version);
    return this.#statusWrites.write(statement, async (result) => {
      if (result.affectedRows === 0) await explainNoUpdate(this.database, runId, owner, true);
    });
  }

  markFailed(runId: number, error: string, attempts: number, now: Date, owner?: RunOwner): Promise<void> {
    return markFailed(this.database, runId, error, attempts, now, owner);
  }

  requeueRuns(
    runIds: readonly number[],
    owner?: RunOwner,
    error?: string,
    counted = true,
  ): Promise<RequeueOutcome> {
    return requeueRuns(this.#ctx, { runIds, policy: this.requeuePolicy, owner, error, counted });
  }

  openBackfill(
    backfill: Omit<BackfillRecord, 'createdAt' | 'updatedAt' | 'error' | 'concurrency'> & {
      readonly concurrency?: number | null;
    },
  ): Promise<BackfillRecord> {
    return openBackfill(this.#ctx, backfill);
  }

  getBackfill(backfillId: string): Promise<BackfillRecord | undefined> {
    return getBackfill(this.database, backfillId);
  }

  getBackfillChain(backfillId: string): Promise<BackfillChain | null> {
    return getBackfillChain(this.database, backfillId);
  }

  listBackfills(query: BackfillQuery): Promise<BackfillRecord[]> {
    return listBackfills(this.database, query);
  }

  backfillRunCounts(jobId: string, backfillId: string): Promise<BackfillRunCounts> {
    return backfillRunCounts(this.database, jobId, backfillId);
  }

  recordAction(action: NewOperatorAction): Promise<void> {
    return recordAction(this.#ctx, action);
  }

  listActions(query: ActionQuery): Promise<OperatorAction[]> {
    return listActions(this.database, query);
  }

  close(): Promise<void> {
    return this.#backend.close();
  }
}

/** The operations of one `withJob` transaction, on its connection, refused once it has ended. */
class SqlJobTransaction implements JobTransaction {
  readonly job: JobState;
  readonly #ctx: SqlContext;
  readonly #insertBudget: () => Promise<number>;
  #ended = false;
  /** The pending runs this transaction read, by id: what the runs it queues were until then. */
  readonly #pendingRead = new Map<number, RunRecord>();
  /** The records of the runs this transaction queued, as they are once it commits. */
  readonly queued: RunRecord[] = [];

  constructor(ctx: SqlContext, job: JobState, insertBudget: () => Promise<number>) {
    this.job = job;
    this.#ctx = ctx;
    this.#insertBudget = insertBudget;
  }

  /** Called when the transaction commits or rolls back: later calls throw. */
  end(): void {
    this.#ended = true;
  }

  /** The transaction's context, refusing use after the transaction ended (the methods are async: a rejection). */
  get #open(): SqlContext {
    if (this.#ended) {
      throw new StoreError(
        `The transaction on job "${this.job.jobId}" has ended; use the JobTransaction only inside withJob's callback.`,
      );
    }
    return this.#ctx;
  }

  async insertRuns(runs: readonly NewRun[]): Promise<number> {
    return insertRuns(this.#open, this.job.jobId, runs, this.#insertBudget);
  }

  async advanceWatermark(watermark: Date, skippedDelta: number): Promise<void> {
    return advanceWatermark(this.#open, this.job.jobId, watermark, skippedDelta);
  }

  async claimSkippedAlert(
    range: { readonly start: Date; readonly end: Date; readonly intervals: number },
    raisedAt: Date,
  ): Promise<AlertRange[]> {
    return claimOn(this.#open.db, this.job.jobId, 'skipped', [range], raisedAt);
  }

  async runsInRange(from: Date, to: Date): Promise<RunRecord[]> {
    return runsInRange(this.#open.db, this.job.jobId, from, to);
  }

  async rearmRuns(runIds: readonly number[], rearm: Omit<NewRun, 'interval'>): Promise<void> {
    return rearmRuns(this.#open, this.job.jobId, runIds, rearm);
  }

  async releaseReadyRuns(upstreams: readonly string[], limit: number): Promise<number> {
    return releaseReadyRuns(this.#open, this.job.jobId, upstreams, limit);
  }

  async waitingRunsEndedBefore(endedBefore: Date, limit: number): Promise<RunRecord[]> {
    return waitingRunsEndedBefore(this.#open.db, this.job.jobId, endedBefore, limit);
  }

  async failWaitingRuns(failures: readonly { runId: number; error: string }[]): Promise<number> {
    return failWaitingRuns(this.#open, this.job.jobId, failures);
  }

  async pendingRuns(lane: DispatchLane, limit: number, newestFirst = false): Promise<RunRecord[]> {
    const runs = await pendingRuns(this.#open, this.job.jobId, lane, limit, newestFirst);
    for (const run of runs) this.#pendingRead.set(run.runId, run);
    return runs;
  }

  async inFlightRuns(lane: DispatchLane): Promise<RunRecord[]> {
    return inFlightRuns(this.#open, this.job.jobId, lane);
  }

  async inFlightExecutions(lane: DispatchLane): Promise<string[]> {
    return inFlightExecutions(this.#open, this.job.jobId, lane);
  }

  async delayedUntil(lane: DispatchLane): Promise<Date | undefined> {
    return delayedUntil(this.#open, this.job.jobId, lane);
  }

  async markQueued(runIds: readonly number[], executionName: string): Promise<number> {
    const ctx = this.#open;
    const now = ctx.clock();
    const queued = await markQueued(ctx, this.job, runIds, executionName, now);
    // Every run was pending as read in this transaction and each one matched: each is now its read
    // record queued. Otherwise which ones did is not known, and their stages read them.
    const read = runIds.map((runId) => this.#pendingRead.get(runId));
    if (queued === runIds.length && new Set(runIds).size === runIds.length) {
      for (const run of read) {
        if (run) this.queued.push({ ...run, status: 'queued', executionName, updatedAt: now });
      }
    }
    return queued;
  }

  async databaseClock(): Promise<DatabaseClock | undefined> {
    return databaseClock(this.#open);
  }

  async resetWatermark(to: Date, now: Date, dryRun: boolean): Promise<WatermarkReset> {
    return resetWatermark(this.#open, this.job, to, now, dryRun);
  }

  async recordAction(action: Omit<NewOperatorAction, 'jobId'>): Promise<void> {
    return recordAction(this.#open, { ...action, jobId: this.job.jobId });
  }

  async setPaused(paused: boolean): Promise<void> {
    return setJobRowPaused(this.#open, this.job.jobId, paused);
  }

  async backfillStatus(backfillId: string): Promise<BackfillStatus | undefined> {
    const record = await getBackfill(this.#open.db, backfillId);
    return record?.jobId === this.job.jobId ? record.status : undefined;
  }

  async setBackfillStatus(backfillId: string, status: BackfillStatus): Promise<void> {
    return setBackfillStatus(this.#open, this.job.jobId, backfillId, status);
  }

  async cancelBackfillRuns(backfillId: string, error: string): Promise<number> {
    return cancelBackfillRuns(this.#open, this.job.jobId, backfillId, error);
  }

  async resumeCancelledRuns(backfillId: string, status: 'pending' | 'waiting'): Promise<number> {
    return resumeCancelledRuns(this.#open, this.job.jobId, backfillId, status);
  }

  async cancelRuns(runIds: readonly number[]): Promise<number> {
    return cancelRuns(this.#open, this.job.jobId, runIds);
  }

  async markRuns(runIds: readonly number[], status: 'succeeded' | 'skipped'): Promise<number> {
    return markRuns(this.#open, this.job.jobId, runIds, status);
  }

  async setBackfillChain(backfillId: string, chain: BackfillChain | null): Promise<void> {
    return setBackfillChain(this.#open, this.job.jobId, backfillId, chain);
  }

  async updateBackfill(backfillId: string, update: BackfillProgress): Promise<void> {
    return updateBackfill(this.#open, this.job.jobId, backfillId, update);
  }
}
