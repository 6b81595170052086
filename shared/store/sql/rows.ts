/**
 * How `piko_runs` rows read back, and the checks of values every statement makes: shared by the
 * store and the statement files beside this one.
 */
import { StoreError } from '../../errors.ts';
import type { SqlRow } from '../../sql.ts';
import { RUN_STATUSES, type RunRecord, type RunStatus, type RunTrigger } from '../types.ts';

/**
 * A run's columns, selected from `piko_runs` alone. A backfill's runs hold no config of their own
 * (NULL): theirs is the backfill's, stored once in `piko_backfills`; a manual run keeps its own.
 */
export const RUN_COLUMNS =
  'run_id, job_id, interval_start, interval_end, status, trigger_kind, stage, attempts, generation, execution_name, ' +
  'backfill_id, COALESCE(config, (SELECT piko_backfills.config FROM piko_backfills ' +
  'WHERE piko_backfills.backfill_id = piko_runs.backfill_id)) AS config, ' +
  'error, output, created_at, updated_at, started_at, finished_at, requeues, not_before, code_version';
/** A JSON text column as its value (null for NULL). @throws StoreError for invalid JSON, naming the column. */
export function fromJson(value: unknown, column: string): unknown {
  if (value === null || value === undefined) return null;
  try {
    return JSON.parse(String(value));
  } catch (error) {
    throw new StoreError(`Column ${column} holds invalid JSON.`, { cause: error });
  }
}

/** A time column as a Date: MySQL returns Dates, SQLite epoch milliseconds. */
export function toDate(value: unknown): Date {
  return value instanceof Date ? value : new Date(Number(value));
}

/** A nullable time column as a Date or null. */
export function toDateOrNull(value: unknown): Date | null {
  return value === null || value === undefined ? null : toDate(value);
}

/** A nullable text column as a string or null. */
export function toStringOrNull(value: unknown): string | null {
  return value === null || value === undefined ? null : String(value);
}

/** A `status` column as a RunStatus. @throws StoreError for a status Piko does not know. */
export function toRunStatus(value: unknown): RunStatus {
  if (!RUN_STATUSES.includes(value as RunStatus))
    throw new StoreError(`Unknown run status "${String(value)}".`);
  return value as RunStatus;
}

/** A row selected with {@link RUN_COLUMNS} as a RunRecord. */
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
  };
}

/** @throws StoreError naming `name` unless `value` is a valid Date. */
export function checkDate(name: string, value: Date): void {
  if (!(value instanceof Date) || Number.isNaN(value.getTime())) {
    throw new StoreError(`${name} must be a valid Date, got ${String(value)}.`);
  }
}

/** @throws StoreError naming `name` unless `value` is a whole number >= 0. */
export function checkCount(name: string, value: number): void {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new StoreError(`${name} must be a whole number >= 0, got ${value}.`);
  }
}
