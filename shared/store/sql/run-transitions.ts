/** A run's state transitions as its stages report them: running, an output, succeeded, failed. */
import { InputError, RunCancelledError } from '../../errors.ts';
import type { SqlDatabase } from '../../sql.ts';
import { ownerMismatch, refused } from '../owner.ts';
import type { RunOwner, RunRecord } from '../types.ts';
import { checkCount, checkDate, checkRunId, checkVersion, truncateError, unknownRun } from './checks.ts';
import { getRun } from './read-runs.ts';
import { toJson } from './rows.ts';

/** What starts: the stage, the version of the code running it, and the ECS task it runs in (or null). */
export interface StageStart {
  readonly stage: string;
  readonly version: string | null;
  readonly taskArn: string | null;
}

/** The longest ECS task ARN the `task_arn` column holds. */
const MAX_TASK_ARN_LENGTH = 400;

/**
 * Marks a run `running` for an attempt of `start.stage` by code of `start.version`, in the ECS task
 * `start.taskArn` (see StateStore.markRunning); false when the run is unknown, succeeded, caught by
 * a pause before it started, or not `owner`'s. The run's record is read afterwards (the store reads
 * those of a group commit in one statement).
 */
export async function markRunning(
  db: SqlDatabase,
  runId: number,
  start: StageStart,
  now: Date,
  owner: RunOwner | undefined,
): Promise<boolean> {
  const { stage, version, taskArn } = start;
  checkStart(runId, start, now);
  // The pause check is part of the same statement, so a pause that has committed is always seen:
  // a run the pause caught before its handler started is refused and stays as it is, to be
  // re-dispatched after resume. A run already running (a later stage, a retry) goes on.
  const [ownerSql, ownerParams] = ownerCondition(owner);
  const updated = await db.query(
    "UPDATE piko_runs SET status = 'running', attempts = CASE WHEN stage = ? THEN attempts + 1 ELSE 1 END, " +
      "stage = ?, started_at = ?, finished_at = NULL, code_version = ?, task_arn = ?, updated_at = ? WHERE run_id = ? AND status NOT IN ('succeeded', 'cancelled', 'skipped') " +
      "AND (status = 'running' OR NOT EXISTS " +
      `(SELECT 1 FROM piko_jobs WHERE piko_jobs.job_id = piko_runs.job_id AND piko_jobs.paused <> 0))${ownerSql}`,
    [stage, stage, now, version, taskArn, now, runId, ...ownerParams],
  );
  return updated.affectedRows > 0;
}

/**
 * {@link markRunning} of a run from `read`, its record as the caller has just read it: the one UPDATE
 * is conditional, besides everything markRunning checks, on the row being still what `read` says
 * (status, attempts, stage, generation, execution, last update), so the started run's record is
 * `read` with the columns this UPDATE set, and is not read again. Undefined when the UPDATE matched
 * no row: the run changed since the read, or markRunning would refuse it (the caller then calls
 * markRunning, which tells the two apart).
 */
export async function markRunningFrom(
  db: SqlDatabase,
  read: RunRecord,
  start: StageStart,
  now: Date,
  owner: RunOwner | undefined,
): Promise<RunRecord | undefined> {
  const { stage, version, taskArn } = start;
  checkStart(read.runId, start, now);
  if (read.status === 'succeeded' || read.status === 'cancelled' || read.status === 'skipped')
    return undefined;
  const attempts = read.stage === stage ? read.attempts + 1 : 1;
  const [ownerSql, ownerParams] = ownerCondition(owner);
  // The pause check as in markRunning (a run already running goes on).
  const pauseSql =
    read.status === 'running'
      ? ''
      : ' AND NOT EXISTS (SELECT 1 FROM piko_jobs WHERE piko_jobs.job_id = piko_runs.job_id AND piko_jobs.paused <> 0)';
  const updated = await db.query(
    "UPDATE piko_runs SET status = 'running', attempts = ?, stage = ?, started_at = ?, finished_at = NULL, " +
      'code_version = ?, task_arn = ?, updated_at = ? WHERE run_id = ? AND status = ? AND attempts = ? AND ' +
      `stage ${read.stage === null ? 'IS NULL' : '= ?'} AND generation = ? AND execution_name ` +
      `${read.executionName === null ? 'IS NULL' : '= ?'} AND updated_at = ?${pauseSql}${ownerSql}`,
    [
      attempts,
      stage,
      now,
      version,
      taskArn,
      now,
      read.runId,
      read.status,
      read.attempts,
      ...(read.stage === null ? [] : [read.stage]),
      read.generation,
      ...(read.executionName === null ? [] : [read.executionName]),
      read.updatedAt,
      ...ownerParams,
    ],
  );
  if (updated.affectedRows === 0) return undefined;
  return {
    ...read,
    status: 'running',
    attempts,
    stage,
    startedAt: now,
    finishedAt: null,
    version,
    taskArn,
    updatedAt: now,
  };
}

function checkStart(runId: number, start: StageStart, now: Date): void {
  checkRunId(runId);
  checkDate('now', now);
  checkVersion(start.version);
  const { taskArn } = start;
  if (taskArn !== null && (taskArn.length === 0 || taskArn.length > MAX_TASK_ARN_LENGTH)) {
    throw new InputError(
      `An ECS task ARN has 1 to ${MAX_TASK_ARN_LENGTH} characters; got ${taskArn.length}: pass null for a stage that runs outside ECS`,
    );
  }
}

/** Records a non-last stage's output; the run stays running. */
export async function recordOutput(
  db: SqlDatabase,
  runId: number,
  output: unknown,
  now: Date,
  owner?: RunOwner,
): Promise<void> {
  checkRunId(runId);
  checkDate('now', now);
  const [ownerSql, ownerParams] = ownerCondition(owner);
  const updated = await db.query(
    `UPDATE piko_runs SET output = ?, updated_at = ? WHERE run_id = ?${OPEN_RUN}${ownerSql}`,
    [toJson(output), now, runId, ...ownerParams],
  );
  if (updated.affectedRows === 0) await explainNoUpdate(db, runId, owner, true);
}

/** Records success with the stage's output and the `version` of the code that finished it, clearing the last error. */
export async function markSucceeded(
  db: SqlDatabase,
  runId: number,
  output: unknown,
  now: Date,
  owner: RunOwner | undefined,
  version: string | null,
): Promise<void> {
  checkRunId(runId);
  checkDate('now', now);
  checkVersion(version);
  const [ownerSql, ownerParams] = ownerCondition(owner);
  const updated = await db.query(
    "UPDATE piko_runs SET status = 'succeeded', output = ?, error = NULL, finished_at = ?, code_version = ?, " +
      `updated_at = ? WHERE run_id = ?${OPEN_RUN}${ownerSql}`,
    [toJson(output), now, version, now, runId, ...ownerParams],
  );
  if (updated.affectedRows === 0) await explainNoUpdate(db, runId, owner, true);
}

/** Records failure with its (truncated) message; a succeeded run stays succeeded. */
export async function markFailed(
  db: SqlDatabase,
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
  const updated = await db.query(
    "UPDATE piko_runs SET status = 'failed', error = ?, attempts = ?, finished_at = ?, updated_at = ? " +
      `WHERE run_id = ? AND status NOT IN ('succeeded', 'cancelled', 'skipped')${ownerSql}`,
    [truncateError(error), attempts, now, now, runId, ...ownerParams],
  );
  // A succeeded run stays succeeded, whoever asks; a cancelled or skipped one stays as the operator left it.
  if (updated.affectedRows === 0) await explainNoUpdate(db, runId, owner);
}

/** A stage's result is recorded only on a run an operator has not cancelled or marked skipped. */
const OPEN_RUN = " AND status NOT IN ('cancelled', 'skipped')";

/** The conditions that make an update of a run conditional on its owner, with their parameters. */
export function ownerCondition(owner: RunOwner | undefined): [string, unknown[]] {
  if (!owner) return ['', []];
  return [
    ' AND job_id = ? AND execution_name = ? AND generation = ?',
    [owner.jobId, owner.executionName, owner.generation],
  ];
}

/**
 * Why an UPDATE of one run matched no row: an unknown run (StoreError) or a run `owner` does not
 * own (StageEventRefusedError); with `cancelIsError`, a run an operator cancelled or marked skipped
 * (RunCancelledError: its stage's result is not recorded); anything else (a status the update
 * leaves alone) is fine.
 */
async function explainNoUpdate(
  db: SqlDatabase,
  runId: number,
  owner: RunOwner | undefined,
  cancelIsError = false,
): Promise<void> {
  const run = await getRun(db, runId);
  if (!run) throw unknownRun(runId);
  const mismatch = owner ? ownerMismatch(run, owner) : undefined;
  if (mismatch !== undefined) throw refused(mismatch);
  if (cancelIsError && (run.status === 'cancelled' || run.status === 'skipped')) {
    throw new RunCancelledError(run.runId, run.status);
  }
}
