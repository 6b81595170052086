import { StoreError } from '../errors.ts';
import type { SqlDatabase, SqlRow } from '../sql.ts';
import { ownerMismatch, refused } from './owner.ts';
import { selectRuns, selectRunsFinishedAfter } from './sql/find-runs.ts';
import { selectIntervalBuckets, selectIntervalSpans } from './sql/interval-spans.ts';
import {
  checkCount,
  checkDate,
  fromJson,
  RUN_COLUMNS,
  toDate,
  toRunRecord,
  toRunStatus,
  toStringOrNull,
} from './sql/rows.ts';
import {
  type BackfillRecord,
  type DatabaseClock,
  DEFAULT_REQUEUE_POLICY,
  type DispatchLane,
  type JobState,
  type JobTransaction,
  type NewRun,
  type RequeueOutcome,
  type RequeuePolicy,
  RUN_STATUSES,
  type RunBucket,
  type RunCounts,
  type RunOwner,
  type RunQuery,
  type RunRecord,
  type RunSpan,
  type RunTrigger,
  requeueDelayMs,
  type StateStore,
  type WatermarkReset,
} from './types.ts';

/** Longest error message kept, in characters (code points). */
export const MAX_ERROR_LENGTH = 1_000;
/** Rows per multi-row INSERT, and ids per `IN (…)` list. */
const CHUNK_SIZE = 1_000;
/**
 * The most a multi-row INSERT may take, in bytes of SQL as the server receives it (MySQL:
 * parameters inlined and escaped): far under any `max_allowed_packet` in use (MySQL 8 64 MiB,
 * MariaDB 16 MiB, MySQL 5.7 4 MiB). A MySQL server set lower gets a quarter of its own limit.
 */
export const MAX_INSERT_BYTES = 1_048_576;
const MAX_JOB_ID_LENGTH = 64;
const MAX_BACKFILL_ID_LENGTH = 128;
const MAX_EXECUTION_NAME_LENGTH = 80;
const RUN_TRIGGERS: readonly RunTrigger[] = ['schedule', 'backfill', 'manual'];

/** The few places where the two dialects' SQL differs. Everything else is shared. */
export interface SqlStoreDialect {
  /** `INSERT IGNORE` (MySQL) or `INSERT OR IGNORE` (SQLite). */
  readonly insertIgnore: string;
  /** The two-argument maximum function: `GREATEST` (MySQL) or `MAX` (SQLite). */
  readonly greatest: string;
  /** Appended to a SELECT to lock its rows until the transaction ends; `''` when the transaction is exclusive anyway. */
  readonly forUpdate: string;
  /**
   * Creates a job row when missing, inside the current transaction, taking its row lock
   * (parameters: job id, watermark, updated at). Must not take a shared lock on an existing row:
   * two transactions upgrading shared locks to exclusive ones deadlock.
   */
  readonly createJob: string;
  /** A query answering the server's largest packet in bytes as column `bytes` (MySQL); none when unlimited. */
  readonly packetLimit?: string;
}

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
}

/** Builds a {@link StateStore} on a dialect's {@link SqlDatabase}. */
export function createSqlStateStore(backend: SqlStoreBackend): StateStore {
  return new SqlStateStore(backend);
}

const JOB_COLUMNS = 'job_id, watermark, paused, skipped_total, updated_at';
const BACKFILL_COLUMNS =
  'backfill_id, job_id, range_start, range_end, reprocess, reverse_order, config, cursor_at, status, ' +
  'created_count, rerun_count, skipped_count, created_at, updated_at, error';
const INSERT_RUN_COLUMNS =
  'job_id, interval_start, interval_end, status, trigger_kind, backfill_id, config, created_at, updated_at';
const INSERT_RUN_TUPLE = "(?, ?, ?, 'pending', ?, ?, ?, ?, ?)";
/** Bytes of one inlined {@link INSERT_RUN_TUPLE} besides its job id, backfill id and config: three times, a trigger, separators. */
const INSERT_RUN_FIXED_BYTES = 160;

class SqlStateStore implements StateStore {
  readonly kind: StateStore['kind'];
  readonly database: SqlDatabase;
  readonly requeuePolicy: RequeuePolicy;
  readonly #backend: SqlStoreBackend;
  readonly #dialect: SqlStoreDialect;
  readonly #clock: () => Date;

  constructor(backend: SqlStoreBackend) {
    this.kind = backend.kind;
    this.database = backend.database;
    this.#backend = backend;
    this.#dialect = backend.dialect;
    this.#clock = backend.clock;
    this.requeuePolicy = backend.requeuePolicy ?? DEFAULT_REQUEUE_POLICY;
  }

  migrate(): Promise<{ applied: number[] }> {
    return this.#backend.migrate();
  }

  #insertBytes: number | undefined;
  /**
   * The byte budget of one multi-row INSERT: {@link MAX_INSERT_BYTES}, or a quarter of the server's
   * packet limit when that is smaller. Asked once, through `db` (the transaction's connection: a
   * pool of one must not wait for itself).
   */
  async #insertBudget(db: SqlDatabase): Promise<number> {
    if (this.#insertBytes === undefined) {
      const sql = this.#dialect.packetLimit;
      const limit = sql === undefined ? Infinity : Number((await db.query(sql)).rows[0]?.bytes);
      this.#insertBytes = Math.min(MAX_INSERT_BYTES, limit > 0 ? Math.floor(limit / 4) : MAX_INSERT_BYTES);
    }
    return this.#insertBytes;
  }

  async withJob<T>(
    jobId: string,
    initialWatermark: Date,
    work: (tx: JobTransaction) => Promise<T>,
  ): Promise<T> {
    checkJobId(jobId);
    checkDate('initialWatermark', initialWatermark);
    return await this.database.transaction(async (db) => {
      const select = `SELECT ${JOB_COLUMNS} FROM piko_jobs WHERE job_id = ?${this.#dialect.forUpdate}`;
      let { rows } = await db.query(select, [jobId]);
      if (rows.length === 0) {
        await db.query(this.#dialect.createJob, [jobId, initialWatermark, this.#clock()]);
        ({ rows } = await db.query(select, [jobId]));
      }
      if (rows.length === 0) throw new StoreError(`Could not create or lock the row of job "${jobId}".`);
      const tx = new SqlJobTransaction(db, toJobState(rows[0]!), this.#dialect, this.#clock, () =>
        this.#insertBudget(db),
      );
      try {
        return await work(tx);
      } finally {
        tx.end();
      }
    });
  }

  async getJob(jobId: string): Promise<JobState | undefined> {
    const { rows } = await this.database.query(`SELECT ${JOB_COLUMNS} FROM piko_jobs WHERE job_id = ?`, [
      jobId,
    ]);
    return rows.length ? toJobState(rows[0]!) : undefined;
  }

  async listJobs(): Promise<JobState[]> {
    const { rows } = await this.database.query(`SELECT ${JOB_COLUMNS} FROM piko_jobs ORDER BY job_id`);
    return rows.map(toJobState);
  }

  async setPaused(jobId: string, paused: boolean, initialWatermark: Date): Promise<void> {
    checkJobId(jobId);
    checkDate('initialWatermark', initialWatermark);
    const now = this.#clock();
    const created = await this.database.query(
      `${this.#dialect.insertIgnore} INTO piko_jobs (job_id, watermark, paused, skipped_total, updated_at) VALUES (?, ?, ?, 0, ?)`,
      [jobId, initialWatermark, paused ? 1 : 0, now],
    );
    if (created.affectedRows > 0) return;
    await this.database.query('UPDATE piko_jobs SET paused = ?, updated_at = ? WHERE job_id = ?', [
      paused ? 1 : 0,
      now,
      jobId,
    ]);
  }

  async getRun(runId: number): Promise<RunRecord | undefined> {
    const { rows } = await this.database.query(`SELECT ${RUN_COLUMNS} FROM piko_runs WHERE run_id = ?`, [
      runId,
    ]);
    return rows.length ? toRunRecord(rows[0]!) : undefined;
  }

  async listRuns(jobId: string, range?: { from: Date; to: Date }): Promise<RunRecord[]> {
    if (range) return selectRunsInRange(this.database, jobId, range.from, range.to);
    const { rows } = await this.database.query(
      `SELECT ${RUN_COLUMNS} FROM piko_runs WHERE job_id = ? ORDER BY interval_start`,
      [jobId],
    );
    return rows.map(toRunRecord);
  }

  async countRuns(jobId: string): Promise<RunCounts> {
    const { rows } = await this.database.query(
      'SELECT status, COUNT(*) AS n FROM piko_runs WHERE job_id = ? GROUP BY status',
      [jobId],
    );
    const counts = Object.fromEntries(RUN_STATUSES.map((status) => [status, 0])) as RunCounts;
    for (const row of rows) counts[toRunStatus(row.status)] = Number(row.n);
    return counts;
  }

  async recentFailures(jobId: string, limit: number): Promise<RunRecord[]> {
    checkCount('limit', limit);
    if (limit === 0) return [];
    const { rows } = await this.database.query(
      `SELECT ${RUN_COLUMNS} FROM piko_runs WHERE job_id = ? AND status = 'failed' ` +
        'ORDER BY finished_at DESC, run_id DESC LIMIT ?',
      [jobId, limit],
    );
    return rows.map(toRunRecord);
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

  async countOutdated(jobId: string, version: string | null): Promise<number> {
    checkVersion(version);
    // Two forms rather than a null-safe comparison, which the dialects spell differently (<=>, IS).
    const [versionSql, versionParams] =
      version === null
        ? ['code_version IS NOT NULL', []]
        : ['(code_version IS NULL OR code_version <> ?)', [version]];
    const { rows } = await this.database.query(
      `SELECT COUNT(*) AS n FROM piko_runs WHERE job_id = ? AND status = 'succeeded' AND ${versionSql}`,
      [jobId, ...versionParams],
    );
    return Number(rows[0]?.n ?? 0);
  }

  async markRunning(
    runId: number,
    stage: string,
    now: Date,
    owner?: RunOwner,
    version: string | null = null,
  ): Promise<RunRecord | undefined> {
    checkRunId(runId);
    checkDate('now', now);
    checkVersion(version);
    // The pause check is part of the same statement, so a pause that has committed is always seen:
    // a run the pause caught before its handler started is refused and stays as it is, to be
    // re-dispatched after resume. A run already running (a later stage, a retry) goes on.
    const [ownerSql, ownerParams] = ownerCondition(owner);
    const updated = await this.database.query(
      "UPDATE piko_runs SET status = 'running', attempts = CASE WHEN stage = ? THEN attempts + 1 ELSE 1 END, " +
        "stage = ?, started_at = ?, finished_at = NULL, code_version = ?, updated_at = ? WHERE run_id = ? AND status <> 'succeeded' " +
        "AND (status = 'running' OR NOT EXISTS " +
        `(SELECT 1 FROM piko_jobs WHERE piko_jobs.job_id = piko_runs.job_id AND piko_jobs.paused <> 0))${ownerSql}`,
      [stage, stage, now, version, now, runId, ...ownerParams],
    );
    if (updated.affectedRows === 0) return undefined;
    return this.getRun(runId);
  }

  async recordOutput(runId: number, output: unknown, now: Date, owner?: RunOwner): Promise<void> {
    checkRunId(runId);
    checkDate('now', now);
    const [ownerSql, ownerParams] = ownerCondition(owner);
    const updated = await this.database.query(
      `UPDATE piko_runs SET output = ?, updated_at = ? WHERE run_id = ?${ownerSql}`,
      [toJson(output), now, runId, ...ownerParams],
    );
    if (updated.affectedRows === 0) await this.#explainNoUpdate(runId, owner);
  }

  async markSucceeded(
    runId: number,
    output: unknown,
    now: Date,
    owner?: RunOwner,
    version: string | null = null,
  ): Promise<void> {
    checkRunId(runId);
    checkDate('now', now);
    checkVersion(version);
    const [ownerSql, ownerParams] = ownerCondition(owner);
    const updated = await this.database.query(
      "UPDATE piko_runs SET status = 'succeeded', output = ?, error = NULL, finished_at = ?, code_version = ?, " +
        `updated_at = ? WHERE run_id = ?${ownerSql}`,
      [toJson(output), now, version, now, runId, ...ownerParams],
    );
    if (updated.affectedRows === 0) await this.#explainNoUpdate(runId, owner);
  }

  async markFailed(
    runId: number,
    error: string,
    attempts: number,
    now: Date,
    owner?: RunOwner,
  ): Promise<void> {
    checkRunId(runId);
    checkCount('attempts', attempts);
    checkDate('now', now);
    const [ownerSql, ownerParams] = ownerCondition(owner);
    const updated = await this.database.query(
      "UPDATE piko_runs SET status = 'failed', error = ?, attempts = ?, finished_at = ?, updated_at = ? " +
        `WHERE run_id = ? AND status <> 'succeeded'${ownerSql}`,
      [truncateError(error), attempts, now, now, runId, ...ownerParams],
    );
    // A succeeded run stays succeeded, whoever asks.
    if (updated.affectedRows === 0) await this.#explainNoUpdate(runId, owner);
  }

  async requeueRuns(
    runIds: readonly number[],
    owner?: RunOwner,
    error?: string,
    counted = true,
  ): Promise<RequeueOutcome> {
    runIds.forEach(checkRunId);
    const now = this.#clock();
    const policy = this.requeuePolicy;
    const message = error === undefined ? null : truncateError(error);
    const [ownerSql, ownerParams] = ownerCondition(owner);
    let requeued = 0;
    let failed = 0;
    let refusal: Error | undefined;
    for (const ids of chunks(runIds)) {
      const { rows } = await this.database.query(
        `SELECT ${RUN_COLUMNS} FROM piko_runs WHERE run_id IN (${placeholders(ids.length)})`,
        ids,
      );
      const found = new Map(rows.map((row) => [Number(row.run_id), toRunRecord(row)]));
      // Runs requeued as often as each other get the same delay: one UPDATE per count.
      const byRequeues = new Map<number, number[]>();
      for (const runId of ids) {
        const run = found.get(runId);
        if (owner) {
          if (!run) throw unknownRun(runId);
          const mismatch = ownerMismatch(run, owner);
          if (mismatch !== undefined) {
            refusal ??= refused(mismatch);
            continue;
          }
        }
        if (!run || (run.status !== 'queued' && run.status !== 'running')) continue;
        if (counted && run.requeues >= policy.maxRequeues) {
          // Guarded by the count read: a concurrent requeue of the same run changes nothing here.
          const updated = await this.database.query(
            "UPDATE piko_runs SET status = 'failed', error = ?, finished_at = ?, updated_at = ? " +
              `WHERE run_id = ? AND requeues = ? AND status IN ('queued', 'running')${ownerSql}`,
            [
              truncateError(requeueLimitMessage(run.requeues, message ?? run.error)),
              now,
              now,
              runId,
              run.requeues,
              ...ownerParams,
            ],
          );
          failed += updated.affectedRows;
          continue;
        }
        const group = byRequeues.get(run.requeues) ?? [];
        group.push(runId);
        byRequeues.set(run.requeues, group);
      }
      for (const [count, group] of byRequeues) {
        const notBefore = counted ? new Date(now.getTime() + requeueDelayMs(policy, count)) : null;
        const updated = await this.database.query(
          "UPDATE piko_runs SET status = 'pending', generation = generation + 1, attempts = 0, stage = NULL, " +
            `execution_name = NULL, started_at = NULL, requeues = requeues + ${counted ? 1 : 0}, not_before = ?, ` +
            'error = COALESCE(?, error), updated_at = ? ' +
            `WHERE status IN ('queued', 'running') AND requeues = ? AND run_id IN (${placeholders(group.length)})${ownerSql}`,
          [notBefore, message, now, count, ...group, ...ownerParams],
        );
        requeued += updated.affectedRows;
      }
    }
    if (refusal) throw refusal;
    return { requeued, failed };
  }

  /**
   * Why an UPDATE of one run matched no row: an unknown run (StoreError) or a run `owner` does not
   * own (StageEventRefusedError); anything else (a status the update leaves alone) is fine.
   */
  async #explainNoUpdate(runId: number, owner: RunOwner | undefined): Promise<void> {
    const run = await this.getRun(runId);
    if (!run) throw unknownRun(runId);
    const mismatch = owner ? ownerMismatch(run, owner) : undefined;
    if (mismatch !== undefined) throw refused(mismatch);
  }

  async openBackfill(
    backfill: Omit<BackfillRecord, 'createdAt' | 'updatedAt' | 'error'>,
  ): Promise<BackfillRecord> {
    checkBackfillId(backfill.backfillId);
    checkJobId(backfill.jobId);
    checkDate('range.start', backfill.range.start);
    checkDate('range.end', backfill.range.end);
    checkDate('cursor', backfill.cursor);
    const now = this.#clock();
    await this.database.query(
      `${this.#dialect.insertIgnore} INTO piko_backfills (${BACKFILL_COLUMNS}) ` +
        'VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL)',
      [
        backfill.backfillId,
        backfill.jobId,
        backfill.range.start,
        backfill.range.end,
        backfill.reprocess,
        backfill.reverse ? 1 : 0,
        toJson(backfill.config),
        backfill.cursor,
        backfill.status,
        backfill.created,
        backfill.rerun,
        backfill.skipped,
        now,
        now,
      ],
    );
    const record = await this.getBackfill(backfill.backfillId);
    if (!record) throw new StoreError(`Backfill "${backfill.backfillId}" was not created.`);
    return record;
  }

  async getBackfill(backfillId: string): Promise<BackfillRecord | undefined> {
    const { rows } = await this.database.query(
      `SELECT ${BACKFILL_COLUMNS} FROM piko_backfills WHERE backfill_id = ?`,
      [backfillId],
    );
    return rows.length ? toBackfillRecord(rows[0]!) : undefined;
  }

  close(): Promise<void> {
    return this.#backend.close();
  }
}

class SqlJobTransaction implements JobTransaction {
  readonly job: JobState;
  readonly #db: SqlDatabase;
  readonly #dialect: SqlStoreDialect;
  readonly #clock: () => Date;
  readonly #insertBudget: () => Promise<number>;
  #ended = false;

  constructor(
    db: SqlDatabase,
    job: JobState,
    dialect: SqlStoreDialect,
    clock: () => Date,
    insertBudget: () => Promise<number>,
  ) {
    this.job = job;
    this.#db = db;
    this.#dialect = dialect;
    this.#clock = clock;
    this.#insertBudget = insertBudget;
  }

  /** Called when the transaction commits or rolls back: later calls throw. */
  end(): void {
    this.#ended = true;
  }

  /** The transaction's database, refusing use after the transaction ended. */
  get #open(): SqlDatabase {
    if (this.#ended) {
      throw new StoreError(
        `The transaction on job "${this.job.jobId}" has ended; use the JobTransaction only inside withJob's callback.`,
      );
    }
    return this.#db;
  }

  async insertRuns(runs: readonly NewRun[]): Promise<number> {
    const db = this.#open;
    const jobId = this.job.jobId;
    // Hot path of backfill planning (bench/plan-backfill): one flat parameter list per statement,
    // built in one pass; on MySQL, times as DATETIME text (see bindDateTime).
    const bindDate = db.dialect === 'mysql' ? bindDateTime : (date: Date): unknown => date;
    const now = bindDate(this.#clock());
    runs.forEach((run) => {
      checkInterval(run.interval);
      checkTrigger(run.trigger);
      if (run.backfillId !== undefined && run.backfillId !== null) checkBackfillId(run.backfillId);
    });
    if (runs.length === 0) return 0;
    // Statements end at CHUNK_SIZE rows or at the byte budget, whichever comes first (a row larger
    // than the budget goes alone), so no INSERT nears the server's packet limit.
    const budget = await this.#insertBudget();
    const jobIdBytes = inlinedBytes(jobId);
    let inserted = 0;
    let params: unknown[] = [];
    let count = 0;
    let bytes = 0;
    const flush = async () => {
      const { affectedRows } = await db.query(insertRunsSql(this.#dialect.insertIgnore, count), params);
      inserted += affectedRows;
      params = [];
      count = 0;
      bytes = 0;
    };
    let lastConfig: unknown;
    let lastConfigJson: string | null = null;
    let lastBackfillId: string | null | undefined;
    let lastExtraBytes = 0;
    let lastEndMs = Number.NaN;
    let lastEnd: unknown;
    for (let i = 0; i < runs.length; i++) {
      const run = runs[i]!;
      // A batch of runs mostly shares one config and backfill id: serialize and measure them once.
      if (i === 0 || run.config !== lastConfig || run.backfillId !== lastBackfillId) {
        lastConfig = run.config;
        lastConfigJson = toJson(run.config);
        lastBackfillId = run.backfillId;
        lastExtraBytes = inlinedBytes(lastConfigJson) + inlinedBytes(run.backfillId ?? null);
      }
      const rowBytes = INSERT_RUN_FIXED_BYTES + jobIdBytes + lastExtraBytes;
      if (count === CHUNK_SIZE || (count > 0 && bytes + rowBytes > budget)) await flush();
      // Contiguous intervals: this start is the last end, already bound.
      const start = run.interval.start.getTime() === lastEndMs ? lastEnd : bindDate(run.interval.start);
      lastEndMs = run.interval.end.getTime();
      lastEnd = bindDate(run.interval.end);
      params.push(jobId, start, lastEnd, run.trigger, run.backfillId ?? null, lastConfigJson, now, now);
      count++;
      bytes += rowBytes;
    }
    await flush();
    return inserted;
  }

  async advanceWatermark(watermark: Date, skippedDelta: number): Promise<void> {
    const db = this.#open;
    checkDate('watermark', watermark);
    checkCount('skippedDelta', skippedDelta);
    await db.query(
      'UPDATE piko_jobs SET watermark = ?, skipped_total = skipped_total + ?, updated_at = ? WHERE job_id = ?',
      [watermark, skippedDelta, this.#clock(), this.job.jobId],
    );
  }

  runsInRange(from: Date, to: Date): Promise<RunRecord[]> {
    return selectRunsInRange(this.#open, this.job.jobId, from, to);
  }

  async rearmRuns(runIds: readonly number[], rearm: Omit<NewRun, 'interval'>): Promise<void> {
    const db = this.#open;
    runIds.forEach(checkRunId);
    checkTrigger(rearm.trigger);
    const backfillId = rearm.backfillId ?? null;
    if (backfillId !== null) checkBackfillId(backfillId);
    const now = this.#clock();
    for (const ids of chunks(runIds)) {
      await db.query(
        "UPDATE piko_runs SET status = 'pending', generation = generation + 1, attempts = 0, stage = NULL, error = NULL, " +
          'execution_name = NULL, output = NULL, code_version = NULL, started_at = NULL, finished_at = NULL, ' +
          'requeues = 0, not_before = NULL, ' +
          'trigger_kind = ?, backfill_id = ?, config = ?, updated_at = ? ' +
          `WHERE job_id = ? AND run_id IN (${placeholders(ids.length)})`,
        [rearm.trigger, backfillId, toJson(rearm.config), now, this.job.jobId, ...ids],
      );
    }
  }

  async pendingRuns(lane: DispatchLane, limit: number, newestFirst = false): Promise<RunRecord[]> {
    const db = this.#open;
    checkCount('limit', limit);
    if (limit === 0) return [];
    const [laneSql, laneParams] = laneCondition(lane);
    const { rows } = await db.query(
      `SELECT ${RUN_COLUMNS} FROM piko_runs WHERE job_id = ? AND status = 'pending' AND ${laneSql} ` +
        'AND (not_before IS NULL OR not_before <= ?) ' +
        `ORDER BY interval_start ${newestFirst ? 'DESC' : 'ASC'} LIMIT ?`,
      [this.job.jobId, ...laneParams, this.#clock(), limit],
    );
    return rows.map(toRunRecord);
  }

  async inFlightRuns(lane: DispatchLane): Promise<RunRecord[]> {
    const db = this.#open;
    const [laneSql, laneParams] = laneCondition(lane);
    const { rows } = await db.query(
      `SELECT ${RUN_COLUMNS} FROM piko_runs WHERE job_id = ? AND status IN ('queued', 'running') AND ${laneSql} ` +
        'ORDER BY interval_start',
      [this.job.jobId, ...laneParams],
    );
    return rows.map(toRunRecord);
  }

  async markQueued(runIds: readonly number[], executionName: string): Promise<number> {
    const db = this.#open;
    runIds.forEach(checkRunId);
    if (!executionName || executionName.length > MAX_EXECUTION_NAME_LENGTH) {
      throw new StoreError(
        `Execution name "${executionName}" must have 1 to ${MAX_EXECUTION_NAME_LENGTH} characters.`,
      );
    }
    // The job row is locked for the whole transaction, so a pause either committed before (and is
    // seen here) or waits for this transaction and then finds these runs queued.
    if (this.job.paused) return 0;
    const now = this.#clock();
    let queued = 0;
    for (const ids of chunks(runIds)) {
      const { affectedRows } = await db.query(
        "UPDATE piko_runs SET status = 'queued', execution_name = ?, updated_at = ? " +
          `WHERE job_id = ? AND status = 'pending' AND run_id IN (${placeholders(ids.length)})`,
        [executionName, now, this.job.jobId, ...ids],
      );
      queued += affectedRows;
    }
    return queued;
  }

  async databaseClock(): Promise<DatabaseClock | undefined> {
    const db = this.#open;
    if (db.dialect !== 'mysql') return undefined;
    const before = this.#clock().getTime();
    const { rows } = await db.query('SELECT NOW(3) AS now');
    const after = this.#clock().getTime();
    if (!rows.length) return undefined;
    // The middle of the round trip: the server read its clock somewhere in it.
    return { local: new Date((before + after) / 2), server: toDate(rows[0]!.now) };
  }

  async resetWatermark(to: Date, now: Date, dryRun: boolean): Promise<WatermarkReset> {
    const db = this.#open;
    checkDate('to', to);
    checkDate('now', now);
    const { rows } = await db.query(
      `SELECT ${RUN_COLUMNS} FROM piko_runs WHERE job_id = ? AND interval_end > ? ORDER BY interval_start`,
      [this.job.jobId, now],
    );
    const after = rows.map(toRunRecord);
    // Pending and queued runs never started a handler: gone, nothing of them has happened (a stage
    // event for a deleted queued run is refused). Running, succeeded and failed ones are kept.
    const notStarted = (run: RunRecord) => run.status === 'pending' || run.status === 'queued';
    const removed = after.filter(notStarted);
    const kept = after.filter((run) => !notStarted(run));
    if (!dryRun) {
      for (const ids of chunks(removed.map((run) => run.runId))) {
        await db.query(
          `DELETE FROM piko_runs WHERE job_id = ? AND status IN ('pending', 'queued') AND run_id IN (${placeholders(ids.length)})`,
          [this.job.jobId, ...ids],
        );
      }
      await db.query('UPDATE piko_jobs SET watermark = ?, updated_at = ? WHERE job_id = ?', [
        to,
        now,
        this.job.jobId,
      ]);
    }
    return { jobId: this.job.jobId, from: this.job.watermark, to, removed, kept };
  }

  async updateBackfill(
    backfillId: string,
    update: {
      cursor: Date;
      status: BackfillRecord['status'];
      created: number;
      rerun: number;
      skipped: number;
      error?: string | null;
    },
  ): Promise<void> {
    const db = this.#open;
    checkDate('cursor', update.cursor);
    checkCount('created', update.created);
    checkCount('rerun', update.rerun);
    checkCount('skipped', update.skipped);
    const { affectedRows } = await db.query(
      'UPDATE piko_backfills SET cursor_at = ?, status = ?, created_count = created_count + ?, ' +
        'rerun_count = rerun_count + ?, skipped_count = skipped_count + ?, error = ?, updated_at = ? ' +
        'WHERE backfill_id = ? AND job_id = ?',
      [
        update.cursor,
        update.status,
        update.created,
        update.rerun,
        update.skipped,
        update.error === undefined || update.error === null ? null : truncateError(update.error),
        this.#clock(),
        backfillId,
        this.job.jobId,
      ],
    );
    if (affectedRows === 0) {
      throw new StoreError(
        `Backfill "${backfillId}" of job "${this.job.jobId}" does not exist; create it with openBackfill first.`,
      );
    }
  }
}

async function selectRunsInRange(db: SqlDatabase, jobId: string, from: Date, to: Date): Promise<RunRecord[]> {
  checkDate('from', from);
  checkDate('to', to);
  const { rows } = await db.query(
    `SELECT ${RUN_COLUMNS} FROM piko_runs WHERE job_id = ? AND interval_start >= ? AND interval_start < ? ` +
      'ORDER BY interval_start',
    [jobId, from, to],
  );
  return rows.map(toRunRecord);
}

/** The conditions that make an update of a run conditional on its owner, with their parameters. */
function ownerCondition(owner: RunOwner | undefined): [string, unknown[]] {
  if (!owner) return ['', []];
  return [
    ' AND job_id = ? AND execution_name = ? AND generation = ?',
    [owner.jobId, owner.executionName, owner.generation],
  ];
}

/** The scheduled lane is every run without a backfill id (schedule and manual); a backfill's lane, its runs. */
function laneCondition(lane: DispatchLane): [string, unknown[]] {
  return lane.kind === 'scheduled' ? ['backfill_id IS NULL', []] : ['backfill_id = ?', [lane.backfillId]];
}

/** Truncates an error message to {@link MAX_ERROR_LENGTH} code points (never splitting a surrogate pair). */
export function truncateError(message: string): string {
  // A string of at most MAX_ERROR_LENGTH UTF-16 units has at most that many code points.
  if (message.length <= MAX_ERROR_LENGTH) return message;
  let end = 0;
  let count = 0;
  for (const char of message) {
    if (count === MAX_ERROR_LENGTH) break;
    end += char.length;
    count++;
  }
  return message.slice(0, end);
}

function toJson(value: unknown): string | null {
  if (value === undefined || value === null) return null;
  return JSON.stringify(value) ?? null;
}

function toJobState(row: SqlRow): JobState {
  return {
    jobId: String(row.job_id),
    watermark: toDate(row.watermark),
    paused: Number(row.paused) !== 0,
    skippedTotal: Number(row.skipped_total),
    updatedAt: toDate(row.updated_at),
  };
}

function toBackfillRecord(row: SqlRow): BackfillRecord {
  return {
    backfillId: String(row.backfill_id),
    jobId: String(row.job_id),
    range: { start: toDate(row.range_start), end: toDate(row.range_end) },
    reprocess: row.reprocess as BackfillRecord['reprocess'],
    reverse: Number(row.reverse_order) !== 0,
    config: fromJson(row.config, 'piko_backfills.config'),
    cursor: toDate(row.cursor_at),
    status: row.status as BackfillRecord['status'],
    created: Number(row.created_count),
    rerun: Number(row.rerun_count),
    skipped: Number(row.skipped_count),
    error: toStringOrNull(row.error),
    createdAt: toDate(row.created_at),
    updatedAt: toDate(row.updated_at),
  };
}

/** The multi-row INSERT of `count` runs; the full-size statements are built once per dialect. */
function insertRunsSql(insertIgnore: string, count: number): string {
  const key = `${insertIgnore}\u0000${count}`;
  let sql = insertRunsSqlCache.get(key);
  if (sql === undefined) {
    sql =
      `${insertIgnore} INTO piko_runs (${INSERT_RUN_COLUMNS}) VALUES ` +
      Array(count).fill(INSERT_RUN_TUPLE).join(', ');
    if (count === CHUNK_SIZE) insertRunsSqlCache.set(key, sql);
  }
  return sql;
}
const insertRunsSqlCache = new Map<string, string>();

/** 0000-01-01T00:00:00.000Z and 9999-12-31T23:59:59.999Z: where `toISOString` has four-digit years. */
const MIN_FOUR_DIGIT_YEAR_MS = -62_167_219_200_000;
const MAX_FOUR_DIGIT_YEAR_MS = 253_402_300_799_999;

const DAY_MS = 86_400_000;
/** The last day {@link bindDateTime} wrote, as `YYYY-MM-DD`: consecutive runs mostly share it. */
let boundDay = Number.NaN;
let boundDayText = '';

/**
 * A time as MySQL DATETIME(3) text in UTC (`2026-01-01 05:00:00.000`): the exact text mysql2 writes
 * for a `Date` with `timezone: 'Z'` (the store's setting), at a fraction of the cost. Dates outside
 * years 0–9999 are passed on as they are.
 */
function bindDateTime(date: Date): unknown {
  const ms = date.getTime();
  if (!(ms >= MIN_FOUR_DIGIT_YEAR_MS && ms <= MAX_FOUR_DIGIT_YEAR_MS)) return date;
  const day = Math.floor(ms / DAY_MS);
  if (day !== boundDay) {
    boundDay = day;
    boundDayText = date.toISOString().slice(0, 10);
  }
  const time = ms - day * DAY_MS;
  const hours = Math.floor(time / 3_600_000);
  const minutes = Math.floor(time / 60_000) % 60;
  const seconds = Math.floor(time / 1_000) % 60;
  const millis = time % 1_000;
  return `${boundDayText} ${pad2(hours)}:${pad2(minutes)}:${pad2(seconds)}.${millis < 10 ? '00' : millis < 100 ? '0' : ''}${millis}`;
}

function pad2(value: number): string {
  return value < 10 ? `0${value}` : `${value}`;
}

function* chunks<T>(items: readonly T[]): Generator<T[]> {
  for (let i = 0; i < items.length; i += CHUNK_SIZE) yield items.slice(i, i + CHUNK_SIZE);
}

/**
 * The most a string parameter takes inlined in MySQL SQL: quoted, every byte possibly escaped
 * (mysql2 escapes quotes, backslashes and control characters with a backslash).
 */
function inlinedBytes(value: string | null): number {
  return value === null ? 4 : 2 + 2 * Buffer.byteLength(value);
}

function placeholders(count: number): string {
  return Array(count).fill('?').join(', ');
}

/** What both dialects answer to a transaction started inside a transaction. */
export function nestedTransactionError(): StoreError {
  return new StoreError(
    'Nested transactions are not supported: use the database given to the outer transaction.',
  );
}

/** Why a run was failed instead of requeued once more. */
function requeueLimitMessage(requeues: number, lastError: string | null): string {
  return (
    `Failed after ${requeues} requeues (the state store was unavailable, or the run's execution ended ` +
    `without recording its outcome, each time); last error: ${lastError ?? '(none recorded)'}. ` +
    'Fix the cause, then rerun it with piko backfill --reprocess failed.'
  );
}

function unknownRun(runId: number): StoreError {
  return new StoreError(`Run ${runId} does not exist.`);
}

function checkInterval(interval: NewRun['interval']): void {
  checkDate('interval.start', interval.start);
  checkDate('interval.end', interval.end);
  if (interval.start.getTime() >= interval.end.getTime()) {
    throw new StoreError(
      `Interval [${interval.start.toISOString()}, ${interval.end.toISOString()}) is empty: start must be before end.`,
    );
  }
}

function checkJobId(jobId: string): void {
  if (typeof jobId !== 'string' || jobId.length === 0 || jobId.length > MAX_JOB_ID_LENGTH) {
    throw new StoreError(`Job id "${jobId}" must have 1 to ${MAX_JOB_ID_LENGTH} characters.`);
  }
}

function checkBackfillId(backfillId: string): void {
  if (
    typeof backfillId !== 'string' ||
    backfillId.length === 0 ||
    backfillId.length > MAX_BACKFILL_ID_LENGTH
  ) {
    throw new StoreError(`Backfill id "${backfillId}" must have 1 to ${MAX_BACKFILL_ID_LENGTH} characters.`);
  }
}

function checkTrigger(trigger: RunTrigger): void {
  if (!RUN_TRIGGERS.includes(trigger)) {
    throw new StoreError(`Unknown run trigger "${trigger}"; expected one of ${RUN_TRIGGERS.join(', ')}.`);
  }
}

function checkVersion(version: string | null): void {
  if (version !== null && (typeof version !== 'string' || version.length === 0)) {
    throw new StoreError(
      `A code version must be a non-empty string or null, got ${JSON.stringify(version) ?? String(version)}.`,
    );
  }
}

function checkRunId(runId: number): void {
  if (!Number.isSafeInteger(runId) || runId < 1) throw new StoreError(`Invalid run id ${runId}.`);
}
