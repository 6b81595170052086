/**
 * Alerts in the state store (DESIGN.md §9): which ranges of a job's intervals were alerted as late
 * or skipped (`piko_alerts`, migration 8), and how far the watchdog has checked each job's deadlines
 * (`piko_deadline_watch`). An alert is claimed here before it is sent: a range claimed once is never
 * claimed again, so neither a restart nor two runtimes (or dispatchers) racing send it twice. What
 * is late is decided in `shared/alerts/`; this module only keeps the record.
 */
import { randomUUID } from 'node:crypto';
import { StoreError } from '../errors.ts';
import type { Interval } from '../interval.ts';
import type { SqlDatabase, SqlRow } from '../sql.ts';
import {
  insertAlertClaims,
  lockJobForWatch,
  selectAlerts,
  selectCheckedTo,
  selectScheduledRuns,
  selectUnannounced,
  updateAlertAnnounced,
  updateAlertDelivery,
  writeCheckedTo,
} from './sql/alerts.ts';
import { checkCount, checkDate, checkJobId, truncateError } from './sql/checks.ts';
import { toDate, toRunStatus } from './sql/rows.ts';
import type { RunStatus, StateStore } from './types.ts';

export { NOT_SUCCEEDED_STATUSES } from './sql/alerts.ts';

/** What an alert is about: intervals past their deadline, or intervals the catch-up rules skipped. */
export type AlertKind = 'late' | 'skipped';
/** Every {@link AlertKind}. */
export const ALERT_KINDS: readonly AlertKind[] = ['late', 'skipped'];

/** Adjacent intervals of one job, merged: `[start, end)` holds `intervals` of them. */
export interface AlertRange {
  readonly start: Date;
  readonly end: Date;
  /** How many of the job's intervals the range holds (at least 1). */
  readonly intervals: number;
}

/** A row of `piko_alerts`: one alerted range. */
export interface AlertRecord extends AlertRange {
  readonly jobId: string;
  readonly kind: AlertKind;
  readonly raisedAt: Date;
  /** When the webhook accepted it; null when there is none, or it has not (yet). */
  readonly deliveredAt: Date | null;
  /** Why the webhook did not accept it, after its retries; null otherwise. */
  readonly error: string | null;
  /** When it was raised (its log line and metric written); null for a claim not raised yet. */
  readonly announcedAt: Date | null;
}

/** A run as the watchdog judges it. */
export interface WatchedRun {
  readonly interval: Interval;
  readonly status: RunStatus;
  readonly finishedAt: Date | null;
}

/** One job's deadline check, inside a transaction that holds the job's row lock. */
export interface DeadlineWatch {
  /** The job's watermark: intervals from here on have not been planned. */
  readonly watermark: Date;
  readonly paused: boolean;
  /** Intervals starting before this were checked already; undefined before the job's first check. */
  readonly checkedTo: Date | undefined;
  /**
   * The job's scheduled runs (trigger `schedule`, no backfill) with `from <= interval.start < to`,
   * oldest first, at most `limit`.
   */
  scheduledRuns(from: Date, to: Date, limit: number): Promise<WatchedRun[]>;
  /** Claims ranges as alerts of `kind` (see {@link AlertStore.claim}). */
  claim(kind: AlertKind, ranges: readonly AlertRange[], raisedAt: Date): Promise<AlertRange[]>;
  /** Records that intervals starting before `checkedTo` are checked. */
  advance(checkedTo: Date, now: Date): Promise<void>;
}

/** The alert tables of a state store. */
export interface AlertStore {
  /**
   * Runs `work` in one transaction holding the job's row lock (racing watchdogs and planners take
   * turns); commits when it resolves, rolls back when it throws. Undefined, without calling `work`,
   * when the job has no row yet (nothing planned, so nothing can be late).
   */
  watchDeadline<T>(jobId: string, work: (watch: DeadlineWatch) => Promise<T>): Promise<T | undefined>;
  /**
   * Claims each range as an alert of `kind` unless that range (same job, kind and start) was
   * claimed before, and returns the ranges this call claimed, oldest first: send those, and only those.
   */
  claim(jobId: string, kind: AlertKind, ranges: readonly AlertRange[], raisedAt: Date): Promise<AlertRange[]>;
  /** Records that the alert of these ranges was delivered at `deliveredAt`, or failed with `error`. */
  recordDelivery(
    jobId: string,
    kind: AlertKind,
    starts: readonly Date[],
    outcome: { readonly deliveredAt: Date } | { readonly error: string },
  ): Promise<void>;
  /** Records that the alert of these ranges was raised at `announcedAt` (claims of a crash are raised by a sweep). */
  markAnnounced(jobId: string, kind: AlertKind, starts: readonly Date[], announcedAt: Date): Promise<void>;
  /**
   * Every job's ranges claimed before `before` and never announced (a crash, or a store error,
   * between the claim and its raising), oldest claim first, at most `limit`.
   */
  unannounced(before: Date, limit: number): Promise<AlertRecord[]>;
  /** A job's alerted ranges, oldest first; with `query`, the newest first or only some. */
  list(jobId: string, query?: AlertQuery): Promise<AlertRecord[]>;
}

/** Which of a job's alerts {@link AlertStore.list} returns, and in which order. */
export interface AlertQuery {
  /** At most this many. @default every alert */
  readonly limit?: number;
  /** The latest intervals first (with `limit`: the latest alerts) instead of the oldest. @default false */
  readonly newestFirst?: boolean;
}

/** The alert tables of a state store, on the store's own database. */
export function alertStoreOf(store: Pick<StateStore, 'database'>): AlertStore {
  return new SqlAlertStore(store.database);
}

class SqlAlertStore implements AlertStore {
  readonly #db: SqlDatabase;

  constructor(db: SqlDatabase) {
    this.#db = db;
  }

  async watchDeadline<T>(jobId: string, work: (watch: DeadlineWatch) => Promise<T>): Promise<T | undefined> {
    checkJobId(jobId);
    return this.#db.transaction(async (db) => {
      const job = await lockJobForWatch(db, jobId);
      if (!job) return undefined;
      const stored = await selectCheckedTo(db, jobId);
      let exists = stored !== undefined && stored !== null;
      let open = true;
      const checkOpen = () => {
        if (!open)
          throw new StoreError(`The deadline check of job "${jobId}" has ended; use it inside work.`);
      };
      const watch: DeadlineWatch = {
        watermark: toDate(job.watermark),
        paused: Number(job.paused) !== 0,
        checkedTo: exists ? toDate(stored) : undefined,
        async scheduledRuns(from, to, limit) {
          checkOpen();
          checkDate('from', from);
          checkDate('to', to);
          checkCount('limit', limit);
          const rows = await selectScheduledRuns(db, jobId, from, to, limit);
          return rows.map((row) => ({
            interval: { start: toDate(row.interval_start), end: toDate(row.interval_end) },
            status: toRunStatus(row.status),
            finishedAt:
              row.finished_at === null || row.finished_at === undefined ? null : toDate(row.finished_at),
          }));
        },
        async claim(kind, ranges, raisedAt) {
          checkOpen();
          return claimOn(db, jobId, kind, ranges, raisedAt);
        },
        async advance(checkedTo, now) {
          checkOpen();
          checkDate('checkedTo', checkedTo);
          await writeCheckedTo(db, jobId, checkedTo, now, exists);
          exists = true;
        },
      };
      try {
        return await work(watch);
      } finally {
        open = false;
      }
    });
  }

  claim(
    jobId: string,
    kind: AlertKind,
    ranges: readonly AlertRange[],
    raisedAt: Date,
  ): Promise<AlertRange[]> {
    checkJobId(jobId);
    return claimOn(this.#db, jobId, kind, ranges, raisedAt);
  }

  async recordDelivery(
    jobId: string,
    kind: AlertKind,
    starts: readonly Date[],
    outcome: { readonly deliveredAt: Date } | { readonly error: string },
  ): Promise<void> {
    checkJobId(jobId);
    checkKind(kind);
    for (const start of starts) checkDate('start', start);
    if ('deliveredAt' in outcome) {
      checkDate('deliveredAt', outcome.deliveredAt);
      await updateAlertDelivery(this.#db, jobId, kind, starts, outcome.deliveredAt, null);
    } else {
      await updateAlertDelivery(this.#db, jobId, kind, starts, null, truncateError(outcome.error));
    }
  }

  async markAnnounced(
    jobId: string,
    kind: AlertKind,
    starts: readonly Date[],
    announcedAt: Date,
  ): Promise<void> {
    checkJobId(jobId);
    checkKind(kind);
    for (const start of starts) checkDate('start', start);
    checkDate('announcedAt', announcedAt);
    await updateAlertAnnounced(this.#db, jobId, kind, starts, announcedAt);
  }

  async unannounced(before: Date, limit: number): Promise<AlertRecord[]> {
    checkDate('before', before);
    checkCount('limit', limit);
    return (await selectUnannounced(this.#db, before, limit)).map(toAlertRecord);
  }

  async list(jobId: string, query: AlertQuery = {}): Promise<AlertRecord[]> {
    checkJobId(jobId);
    if (query.limit !== undefined) checkCount('limit', query.limit);
    return (await selectAlerts(this.#db, jobId, query.newestFirst ?? false, query.limit)).map(toAlertRecord);
  }
}

/**
 * Claims ranges as alerts of `kind` on `db` (the store's database, or a transaction's connection: a
 * planning claims what it skipped in its own transaction); see {@link AlertStore.claim}.
 */
export async function claimOn(
  db: SqlDatabase,
  jobId: string,
  kind: AlertKind,
  ranges: readonly AlertRange[],
  raisedAt: Date,
): Promise<AlertRange[]> {
  checkKind(kind);
  checkDate('raisedAt', raisedAt);
  for (const range of ranges) {
    checkDate('range.start', range.start);
    checkDate('range.end', range.end);
    if (range.start >= range.end) {
      throw new StoreError(
        `Alert range [${range.start.toISOString()}, ${range.end.toISOString()}) is empty: start must be before end.`,
      );
    }
    if (!Number.isSafeInteger(range.intervals) || range.intervals < 1) {
      throw new StoreError(`An alert range holds at least 1 interval, got ${range.intervals}.`);
    }
  }
  const rows = await insertAlertClaims(db, jobId, kind, ranges, randomUUID(), raisedAt);
  return rows.map(toRange);
}

function checkKind(kind: AlertKind): void {
  if (!ALERT_KINDS.includes(kind)) {
    throw new StoreError(`Unknown alert kind "${String(kind)}"; expected one of ${ALERT_KINDS.join(', ')}.`);
  }
}

function toRange(row: SqlRow): AlertRange {
  return {
    start: toDate(row.interval_start),
    end: toDate(row.interval_end),
    intervals: Number(row.intervals),
  };
}

function toAlertRecord(row: SqlRow): AlertRecord {
  return {
    ...toRange(row),
    jobId: String(row.job_id),
    kind: String(row.kind) as AlertKind,
    raisedAt: toDate(row.raised_at),
    deliveredAt:
      row.delivered_at === null || row.delivered_at === undefined ? null : toDate(row.delivered_at),
    error: row.error === null || row.error === undefined ? null : String(row.error),
    announcedAt:
      row.announced_at === null || row.announced_at === undefined ? null : toDate(row.announced_at),
  };
}
