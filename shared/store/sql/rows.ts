/** The columns the store selects and how their rows become records; JSON and time conversions. */
import { StoreError } from '../../errors.ts';
import type { SqlRow } from '../../sql.ts';
import {
  type BackfillRecord,
  type BackfillStatus,
  type JobState,
  RUN_STATUSES,
  type RunRecord,
  type RunStatus,
  type RunTrigger,
} from '../types.ts';

/** A job's columns in `piko_jobs`, as {@link toJobState} reads them. */
export const JOB_COLUMNS = 'job_id, watermark, paused, skipped_total, updated_at';
/**
 * A run's columns, selected from `piko_runs` alone. A backfill's runs hold no config of their own
 * (NULL): theirs is the backfill's, stored once in `piko_backfills`; a manual run keeps its own.
 */
export const RUN_COLUMNS =
  'run_id, job_id, interval_start, interval_end, status, trigger_kind, stage, attempts, generation, execution_name, ' +
  'backfill_id, COALESCE(config, (SELECT piko_backfills.config FROM piko_backfills ' +
  'WHERE piko_backfills.backfill_id = piko_runs.backfill_id)) AS config, ' +
  'error, output, created_at, updated_at, started_at, finished_at, requeues, not_before, code_version, task_arn';
/** A backfill's columns in `piko_backfills`, in the order {@link toBackfillRecord} and its INSERT use. */
export const BACKFILL_COLUMNS =
  'backfill_id, job_id, range_start, range_end, reprocess, reverse_order, config, cursor_at, status, ' +
  'created_count, rerun_count, skipped_count, created_at, updated_at, error, concurrency';

/** A value as stored JSON text; null for none. */
export function toJson(value: unknown): string | null {
  if (value === undefined || value === null) return null;
  return JSON.stringify(value) ?? null;
}

function fromJson(value: unknown, column: string): unknown {
  if (value === null || value === undefined) return null;
  try {
    return JSON.parse(String(value));
  } catch (error) {
    throw new StoreError(`Column ${column} holds invalid JSON.`, { cause: error });
  }
}

/** A stored time: a `Date` (MySQL) or epoch milliseconds (SQLite). */
export function toDate(value: unknown): Date {
  return value instanceof Date ? value : new Date(Number(value));
}

function toDateOrNull(value: unknown): Date | null {
  return value === null || value === undefined ? null : toDate(value);
}

function toStringOrNull(value: unknown): string | null {
  return value === null || value === undefined ? null : String(value);
}

/** A stored run status, refusing one the store does not know. */
export function toRunStatus(value: unknown): RunStatus {
  if (!RUN_STATUSES.includes(value as RunStatus))
    throw new StoreError(`Unknown run status "${String(value)}".`);
  return value as RunStatus;
}

/** A row of {@link JOB_COLUMNS}. */
export function toJobState(row: SqlRow): JobState {
  return {
    jobId: String(row.job_id),
    watermark: toDate(row.watermark),
    paused: Number(row.paused) !== 0,
    skippedTotal: Number(row.skipped_total),
    updatedAt: toDate(row.updated_at),
  };
}

/** A row of {@link RUN_COLUMNS}. */
export function toRunRecord(row: SqlRow): RunRecord {
  return {
    runId: Number(row.run_id),
    jobId: String(row.job_id),
    interval: { start: toDate(row.interval_start), end: toDate(row.interval_end) },
    status: toRunStatus(row.status),
    trigger: row.trigger_kind as RunTrigger,
    stage: toStringOrNull(row.stage),
    attempts: Number(row.attempts),
    generation: Number(row.generation),
    executionName: toStringOrNull(row.execution_name),
    backfillId: toStringOrNull(row.backfill_id),
    config: fromJson(row.config, 'piko_runs.config'),
    error: toStringOrNull(row.error),
    output: fromJson(row.output, 'piko_runs.output'),
    createdAt: toDate(row.created_at),
    updatedAt: toDate(row.updated_at),
    startedAt: toDateOrNull(row.started_at),
    finishedAt: toDateOrNull(row.finished_at),
    requeues: Number(row.requeues),
    notBefore: toDateOrNull(row.not_before),
    version: toStringOrNull(row.code_version),
    taskArn: toStringOrNull(row.task_arn),
  };
}

/** A row of {@link BACKFILL_COLUMNS}. */
export function toBackfillRecord(row: SqlRow): BackfillRecord {
  return {
    backfillId: String(row.backfill_id),
    jobId: String(row.job_id),
    range: { start: toDate(row.range_start), end: toDate(row.range_end) },
    reprocess: row.reprocess as BackfillRecord['reprocess'],
    reverse: Number(row.reverse_order) !== 0,
    config: fromJson(row.config, 'piko_backfills.config'),
    cursor: toDate(row.cursor_at),
    status: row.status as BackfillStatus,
    created: Number(row.created_count),
    rerun: Number(row.rerun_count),
    skipped: Number(row.skipped_count),
    error: toStringOrNull(row.error),
    concurrency: row.concurrency === null || row.concurrency === undefined ? null : Number(row.concurrency),
    createdAt: toDate(row.created_at),
    updatedAt: toDate(row.updated_at),
  };
}
