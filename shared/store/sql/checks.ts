/** The store's argument checks: a bad argument throws a StoreError before any statement runs. */
import { MAX_ERROR_MESSAGE_LENGTH, StoreError } from '../../errors.ts';
import type { NewRun, RunTrigger } from '../types.ts';

/** Longest error message kept, in characters (code points): the one limit of `shared/errors.ts`. */
export const MAX_ERROR_LENGTH = MAX_ERROR_MESSAGE_LENGTH;
const MAX_JOB_ID_LENGTH = 64;
const MAX_BACKFILL_ID_LENGTH = 128;
const RUN_TRIGGERS: readonly RunTrigger[] = ['schedule', 'backfill', 'manual'];

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

/** The error for a run id no row has. */
export function unknownRun(runId: number): StoreError {
  return new StoreError(`Run ${runId} does not exist.`);
}

/** Throws unless `value` is a valid Date. */
export function checkDate(name: string, value: Date): void {
  if (!(value instanceof Date) || Number.isNaN(value.getTime())) {
    throw new StoreError(`${name} must be a valid Date, got ${String(value)}.`);
  }
}

/** Throws unless the interval has valid times and starts before it ends. */
export function checkInterval(interval: NewRun['interval']): void {
  checkDate('interval.start', interval.start);
  checkDate('interval.end', interval.end);
  if (interval.start.getTime() >= interval.end.getTime()) {
    throw new StoreError(
      `Interval [${interval.start.toISOString()}, ${interval.end.toISOString()}) is empty: start must be before end.`,
    );
  }
}

/** Throws unless the job id fits `piko_jobs.job_id`. */
export function checkJobId(jobId: string): void {
  if (typeof jobId !== 'string' || jobId.length === 0 || jobId.length > MAX_JOB_ID_LENGTH) {
    throw new StoreError(`Job id "${jobId}" must have 1 to ${MAX_JOB_ID_LENGTH} characters.`);
  }
}

/** Throws unless the backfill id fits `piko_backfills.backfill_id`. */
export function checkBackfillId(backfillId: string): void {
  if (
    typeof backfillId !== 'string' ||
    backfillId.length === 0 ||
    backfillId.length > MAX_BACKFILL_ID_LENGTH
  ) {
    throw new StoreError(`Backfill id "${backfillId}" must have 1 to ${MAX_BACKFILL_ID_LENGTH} characters.`);
  }
}

/** Throws unless a new or re-armed run's status is `pending` or `waiting` (or left out). */
export function checkNewStatus(status: NewRun['status']): void {
  if (status !== undefined && status !== 'pending' && status !== 'waiting')
    throw new StoreError(`A new or re-armed run is "pending" or "waiting", got "${String(status)}".`);
}

/** Throws unless the trigger is one of the run triggers. */
export function checkTrigger(trigger: RunTrigger): void {
  if (!RUN_TRIGGERS.includes(trigger)) {
    throw new StoreError(`Unknown run trigger "${trigger}"; expected one of ${RUN_TRIGGERS.join(', ')}.`);
  }
}

/** Throws unless the code version is a non-empty string or null. */
export function checkVersion(version: string | null): void {
  if (version !== null && (typeof version !== 'string' || version.length === 0)) {
    throw new StoreError(
      `A code version must be a non-empty string or null, got ${JSON.stringify(version) ?? String(version)}.`,
    );
  }
}

/** Throws unless the run id is a positive whole number. */
export function checkRunId(runId: number): void {
  if (!Number.isSafeInteger(runId) || runId < 1) throw new StoreError(`Invalid run id ${runId}.`);
}

/** Throws unless `value` is a whole number >= 0. */
export function checkCount(name: string, value: number): void {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new StoreError(`${name} must be a whole number >= 0, got ${value}.`);
  }
}
