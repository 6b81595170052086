/** A run's state transitions as its stages report them: running, an output, succeeded, failed. */
import { InputError, RunCancelledError } from '../../errors.ts';
import type { SqlDatabase, SqlDialect } from '../../sql.ts';
import { ownerMismatch, refused } from '../owner.ts';
import type { RunOwner, RunRecord } from '../types.ts';
import { checkCount, checkDate, checkRunId, checkVersion, truncateError, unknownRun } from './checks.ts';
import { BACKFILL_NOT_HELD, JOB_NOT_PAUSED } from './holds.ts';
import { runsById } from './lists.ts';
import { getRun } from './read-runs.ts';
import { rowUpdateStatement, type Statement } from './row-update.ts';
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
 * The UPDATE that marks a run `running` for an attempt of `start.stage` by code of `start.version`,
 * in the ECS task `start.taskArn` (see StateStore.markRunning); it matches no row when the run is
 * unknown, succeeded, caught by a pause before it started, or not `owner`'s. The run's record is
 * read afterwards (the store reads those of a group commit in one statement).
 */
export function markRunningStatement(
  dialect: SqlDialect,
  runId: number,
  start: StageStart,
  now: Date,
  owner: RunOwner | undefined,
): Statement {
  const { stage, version, taskArn } = start;
  checkStart(runId, start, now);
  // The pause check is part of the same statement, so a pause that has committed is always seen:
  // a run the pause caught before its handler started is refused and stays as it is, to be
  // re-dispatched after resume. A run already running (a later stage, a retry) goes on.
  const [ownerSql, ownerParams] = ownerCondition(owner);
  return {
    sql:
      `UPDATE ${runsById(dialect)} SET status = 'running', attempts = CASE WHEN stage = ? THEN attempts + 1 ELSE 1 END, ` +
      "stage = ?, started_at = ?, finished_at = NULL, code_version = ?, task_arn = ?, updated_at = ? WHERE run_id = ? AND status NOT IN ('succeeded', 'cancelled', 'skipped') " +
      `AND (status = 'running' OR ${NOT_PAUSED})${ownerSql}`,
    params: [stage, stage, now, version, taskArn, now, runId, ...ownerParams],
  };
}

/** {@link markRunningStatement} run on `db`: true when the run was marked. */
export async function markRunning(
  db: SqlDatabase,
  runId: number,
  start: StageStart,
  now: Date,
  owner: RunOwner | undefined,
): Promise<boolean> {
  const { sql, params } = markRunningStatement(db.dialect, runId, start, now, owner);
  return (await db.query(sql, params)).affectedRows > 0;
}

/**
 * The UPDATE of {@link markRunningStatement} for a run from `read`, its record as the caller has
 * just read it: conditional, besides everything markRunning checks, on the row being still what
 * `read` says (status, attempts, stage, generation, execution, last update), so that when it
 * matches, the started run's record is {@link startedRecord} and is not read again. When it matches
 * no row, the run changed since the read or markRunning would refuse it (the caller then marks it
 * by id, which tells the two apart). Undefined for a record markRunning refuses anyway.
 */
export function markRunningFromStatement(
  dialect: SqlDialect,
  read: RunRecord,
  start: StageStart,
  now: Date,
  owner: RunOwner | undefined,
): Statement | undefined {
  const { stage, version, taskArn } = start;
  checkStart(read.runId, start, now);
  if (read.status === 'succeeded' || read.status === 'cancelled' || read.status === 'skipped')
    return undefined;
  // Who holds the run, as read: the owner's conditions say it when there is an owner (the stage
  // runner has checked that it is the one read); the statement stays short (MAX_PIPELINE_CHARS).
  const held: [string, unknown][] = owner
    ? ownerMatch(owner)
    : [
        ['generation', read.generation],
        ['execution_name', read.executionName],
      ];
  return rowUpdateStatement({
    table: runsById(dialect),
    runId: read.runId,
    set: [
      ['status', 'running'],
      ['attempts', startedAttempts(read, stage)],
      ['stage', stage],
      ['started_at', now],
      ['finished_at', null],
      ['code_version', version],
      ['task_arn', taskArn],
      ['updated_at', now],
    ],
    match: [
      ['status', read.status],
      ['attempts', read.attempts],
      ['stage', read.stage],
      ['updated_at', read.updatedAt],
      ...held,
    ],
    // The pause check as in markRunning (a run already running goes on).
    where: read.status === 'running' ? '' : ` AND ${NOT_PAUSED}`,
    whereParams: [],
  });
}

/**
 * Neither the run's job nor its backfill is paused (nor the backfill cancelled): correlated
 * conditions of an UPDATE of piko_runs, checked by a first stage's start.
 */
const NOT_PAUSED = `${JOB_NOT_PAUSED} AND ${BACKFILL_NOT_HELD}`;

/** An owner's conditions as a row update's matched columns. */
function ownerMatch(owner: RunOwner): [string, unknown][] {
  return [
    ['job_id', owner.jobId],
    ['execution_name', owner.executionName],
    ['generation', owner.generation],
  ];
}

/** The attempt a start of `stage` counts: one more on the stage last started, else the first. */
function startedAttempts(read: RunRecord, stage: string): number {
  return read.stage === stage ? read.attempts + 1 : 1;
}

/** The record of a run {@link markRunningFromStatement} marked: `read` with the columns it set. */
export function startedRecord(read: RunRecord, start: StageStart, now: Date): RunRecord {
  return {
    ...read,
    status: 'running',
    attempts: startedAttempts(read, start.stage),
    stage: start.stage,
    startedAt: now,
    finishedAt: null,
    version: start.version,
    taskArn: start.taskArn,
    updatedAt: now,
  };
}

/**
 * Whether `current` shows the start `start` made at `now` by `owner` (with `attempts`, when known):
 * how a start whose answer was lost tells that it committed. Its `now` is part of what it wrote, so
 * no other start looks the same.
 */
export function showsStart(
  current: RunRecord | undefined,
  start: StageStart,
  now: Date,
  owner: RunOwner | undefined,
  attempts?: number,
): boolean {
  return (
    current !== undefined &&
    current.status === 'running' &&
    current.stage === start.stage &&
    current.startedAt?.getTime() === now.getTime() &&
    current.updatedAt.getTime() === now.getTime() &&
    current.version === start.version &&
    current.taskArn === start.taskArn &&
    (attempts === undefined || current.attempts === attempts) &&
    (owner === undefined || ownerMismatch(current, owner) === undefined)
  );
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

/**
 * The UPDATE that records success with the stage's output and the `version` of the code that
 * finished it, clearing the last error; when it matches no row, {@link explainNoUpdate} says why
 * (with `cancelIsError`).
 */
export function markSucceededStatement(
  dialect: SqlDialect,
  runId: number,
  output: unknown,
  now: Date,
  owner: RunOwner | undefined,
  version: string | null,
): Statement {
  checkRunId(runId);
  checkDate('now', now);
  checkVersion(version);
  return rowUpdateStatement({
    table: runsById(dialect),
    runId,
    set: [
      ['status', 'succeeded'],
      ['output', toJson(output)],
      ['error', null],
      ['finished_at', now],
      ['code_version', version],
      ['updated_at', now],
    ],
    match: owner ? ownerMatch(owner) : [],
    where: OPEN_RUN,
    whereParams: [],
  });
}

/** Records success ({@link markSucceededStatement}) on `db`. */
export async function markSucceeded(
  db: SqlDatabase,
  runId: number,
  output: unknown,
  now: Date,
  owner: RunOwner | undefined,
  version: string | null,
): Promise<void> {
  const { sql, params } = markSucceededStatement(db.dialect, runId, output, now, owner, version);
  const updated = await db.query(sql, params);
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
export async function explainNoUpdate(
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
