/** Runs becoming work: the pending and in-flight runs of a lane, queueing them, re-arming them. */
import { StoreError } from '../../errors.ts';
import { MAX_EXECUTION_NAME_LENGTH } from '../../workflow/execution-name.ts';
import type { DispatchLane, JobState, NewRun, RunRecord } from '../types.ts';
import { checkBackfillId, checkCount, checkNewStatus, checkRunId, checkTrigger } from './checks.ts';
import type { SqlContext } from './dialect.ts';
import { BACKFILL_NOT_HELD } from './holds.ts';
import { chunks, placeholders, runsById } from './lists.ts';
import { RUN_COLUMNS, toDate, toJson, toRunRecord } from './rows.ts';

/**
 * Up to `limit` pending runs of a job's lane, oldest first (newest first when `newestFirst`),
 * leaving out runs whose `notBefore` (a requeue's delay) is after the store's clock.
 */
export async function pendingRuns(
  ctx: SqlContext,
  jobId: string,
  lane: DispatchLane,
  limit: number,
  newestFirst: boolean,
): Promise<RunRecord[]> {
  checkCount('limit', limit);
  if (limit === 0) return [];
  const [laneSql, laneParams] = laneCondition(lane);
  const { rows } = await ctx.db.query(
    `SELECT ${RUN_COLUMNS} FROM piko_runs WHERE job_id = ? AND status = 'pending' AND ${laneSql} ` +
      `AND (not_before IS NULL OR not_before <= ?) AND ${BACKFILL_NOT_HELD} ` +
      `ORDER BY interval_start ${newestFirst ? 'DESC' : 'ASC'} LIMIT ?`,
    [jobId, ...laneParams, ctx.clock(), limit],
  );
  return rows.map(toRunRecord);
}

/**
 * The earliest `not_before` after the store's clock among a job's pending runs of a lane that no
 * paused or cancelled backfill holds; undefined when none is delayed.
 */
export async function delayedUntil(
  ctx: SqlContext,
  jobId: string,
  lane: DispatchLane,
): Promise<Date | undefined> {
  const [laneSql, laneParams] = laneCondition(lane);
  const { rows } = await ctx.db.query(
    `SELECT MIN(not_before) AS at FROM piko_runs WHERE job_id = ? AND status = 'pending' AND ${laneSql} ` +
      `AND not_before > ? AND ${BACKFILL_NOT_HELD}`,
    [jobId, ...laneParams, ctx.clock()],
  );
  const at = rows[0]?.at;
  return at === null || at === undefined ? undefined : toDate(at);
}

/** Runs of a job's lane that are `queued` or `running`, oldest first. */
export async function inFlightRuns(ctx: SqlContext, jobId: string, lane: DispatchLane): Promise<RunRecord[]> {
  const [laneSql, laneParams] = laneCondition(lane);
  // Sorted here, not in SQL: with ORDER BY interval_start, SQLite walks the job's interval index,
  // every run the job ever had (732 µs at 5,500 runs, linear in them), to skip a sort; without it,
  // it seeks the lane index to the few runs in flight (8 µs). MySQL seeks the lane index either way.
  const { rows } = await ctx.db.query(
    `SELECT ${RUN_COLUMNS} FROM piko_runs WHERE job_id = ? AND status IN ('queued', 'running') AND ${laneSql}`,
    [jobId, ...laneParams],
  );
  return rows.map(toRunRecord).sort((a, b) => a.interval.start.getTime() - b.interval.start.getTime());
}

/**
 * The executions that hold `queued` or `running` runs of a job's lane, by name, sorted: what a
 * dispatch counts against the lane's slots, without reading every run in flight (500 per batch,
 * thousands for a Distributed Map). Read through the lane index on both stores (a plan test keeps
 * SQLite from walking the execution index, every run the job ever had, to skip its sort).
 */
export async function inFlightExecutions(
  ctx: SqlContext,
  jobId: string,
  lane: DispatchLane,
): Promise<string[]> {
  const [laneSql, laneParams] = laneCondition(lane);
  const index = ctx.db.dialect === 'mysql' ? 'FORCE INDEX (piko_runs_lane)' : 'INDEXED BY piko_runs_lane';
  const { rows } = await ctx.db.query(
    `SELECT DISTINCT execution_name FROM piko_runs ${index} WHERE job_id = ? AND status IN ('queued', 'running') ` +
      `AND ${laneSql} AND execution_name IS NOT NULL`,
    [jobId, ...laneParams],
  );
  return rows.map((row) => String(row.execution_name)).sort();
}

/**
 * Sets `queued` and the execution name on pending runs of the locked job (other ids are ignored)
 * and returns how many it queued; none while the job is paused. @default now the store's clock
 */
export async function markQueued(
  ctx: SqlContext,
  job: JobState,
  runIds: readonly number[],
  executionName: string,
  now: Date = ctx.clock(),
): Promise<number> {
  runIds.forEach(checkRunId);
  if (!executionName || executionName.length > MAX_EXECUTION_NAME_LENGTH) {
    throw new StoreError(
      `Execution name "${executionName}" must have 1 to ${MAX_EXECUTION_NAME_LENGTH} characters.`,
    );
  }
  // The job row is locked for the whole transaction, so a pause either committed before (and is
  // seen here) or waits for this transaction and then finds these runs queued.
  if (job.paused) return 0;
  let queued = 0;
  for (const ids of chunks(runIds)) {
    const { affectedRows } = await ctx.db.query(
      `UPDATE ${runsById(ctx.db.dialect)} SET status = 'queued', execution_name = ?, updated_at = ? ` +
        `WHERE job_id = ? AND status = 'pending' AND ${BACKFILL_NOT_HELD} AND run_id IN (${placeholders(ids.length)})`,
      [executionName, now, job.jobId, ...ids],
    );
    queued += affectedRows;
  }
  return queued;
}

/**
 * Re-arms runs of a job as `pending` (`waiting` when `rearm.status` says so) in a new generation, with the trigger, backfill id and config
 * of `rearm` (output and code version cleared); ids of other jobs' runs are ignored.
 */
export async function rearmRuns(
  ctx: SqlContext,
  jobId: string,
  runIds: readonly number[],
  rearm: Omit<NewRun, 'interval'>,
): Promise<void> {
  runIds.forEach(checkRunId);
  checkTrigger(rearm.trigger);
  checkNewStatus(rearm.status);
  const backfillId = rearm.backfillId ?? null;
  if (backfillId !== null) checkBackfillId(backfillId);
  const now = ctx.clock();
  for (const ids of chunks(runIds)) {
    await ctx.db.query(
      `UPDATE ${runsById(ctx.db.dialect)} SET status = ?, generation = generation + 1, attempts = 0, stage = NULL, error = NULL, ` +
        'execution_name = NULL, output = NULL, code_version = NULL, started_at = NULL, finished_at = NULL, ' +
        'requeues = 0, not_before = NULL, ' +
        'trigger_kind = ?, backfill_id = ?, config = ?, updated_at = ? ' +
        `WHERE job_id = ? AND run_id IN (${placeholders(ids.length)})`,
      [rearm.status ?? 'pending', rearm.trigger, backfillId, toJson(rearm.config), now, jobId, ...ids],
    );
  }
}

/** The scheduled lane is every run without a backfill id (schedule and manual); a backfill's lane, its runs. */
function laneCondition(lane: DispatchLane): [string, unknown[]] {
  return lane.kind === 'scheduled' ? ['backfill_id IS NULL', []] : ['backfill_id = ?', [lane.backfillId]];
}
