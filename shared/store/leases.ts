/**
 * Execution leases (DESIGN.md §8): when several local runtimes share one state store, each workflow
 * execution has one holder at a time, a runtime that renews its lease with a heartbeat. Another
 * runtime takes an execution over only when its lease has expired, or when its holder is known to be
 * dead; an ended execution's lease says so, so that nobody starts it again.
 *
 * This module is the lease table (`piko_leases`, migration 4) over a store's database: who holds
 * what, compare-and-set takeovers, renewals. Whether a holder is alive, and what a runtime does with
 * a lease, is the local runtime's business (`shared/local/leases.ts`). On AWS, Step Functions owns
 * executions and no lease is written.
 */
import { StoreError } from '../errors.ts';
import type { SqlDatabase, SqlRow } from '../sql.ts';
import {
  deleteExpiredLeases,
  deleteLease,
  endLease,
  insertLease,
  type LeaseRowInput,
  renewLeases,
  selectHeldLeases,
  selectLease,
  takeOverLease,
} from './sql/leases.ts';
import type { StateStore } from './types.ts';

/** Who holds a lease: one runtime, in one process, on one host. */
export interface LeaseHolder {
  /**
   * The host, precise enough that two holders with the same host share one process table: the host
   * name with the kernel's boot id and the pid namespace where known (`shared/local/leases.ts`).
   */
  readonly host: string;
  readonly pid: number;
  /** Random per runtime: tells a runtime from an earlier process that had the same pid. */
  readonly token: string;
}

/** One workflow execution, as leases name it. */
export interface ExecutionRef {
  readonly jobId: string;
  readonly executionName: string;
}

/**
 * The lease of a backfill's driver, in the same table: `driver:<backfill id>`, a name no execution
 * can take (execution names never hold `:`). Who holds it plans and dispatches the backfill
 * (`shared/local/backfill-drivers.ts`); the UI reads it to say who runs a backfill.
 */
export function backfillDriverRef(jobId: string, backfillId: string): ExecutionRef {
  return { jobId, executionName: `driver:${backfillId}` };
}

/** A row of `piko_leases`. */
export interface ExecutionLease extends ExecutionRef {
  readonly holder: LeaseHolder;
  readonly acquiredAt: Date;
  readonly renewedAt: Date;
  /** The holder's claim lapses at this time unless it renews it first. */
  readonly expiresAt: Date;
  /** Set when the execution ended: the lease is then nobody's to take. */
  readonly endedAt: Date | null;
}

/** The lease table. Times are the callers' clocks (the holders' and the takers'). */
export interface LeaseStore {
  /** Creates `holder`'s lease of an execution that has none; false when it has one. */
  create(ref: ExecutionRef, holder: LeaseHolder, now: Date, ttlMs: number): Promise<boolean>;
  /** An execution's lease, ended or not. */
  get(ref: ExecutionRef): Promise<ExecutionLease | undefined>;
  /**
   * Gives `lease` to `holder` if it is still unended and exactly as read (same holder, same expiry),
   * so that a holder that renewed in the meantime keeps it; false otherwise.
   */
  takeOver(lease: ExecutionLease, holder: LeaseHolder, now: Date, ttlMs: number): Promise<boolean>;
  /** Extends every unended lease of `holder` to `now + ttlMs`; returns the executions it still holds. */
  renew(holder: LeaseHolder, now: Date, ttlMs: number): Promise<ExecutionRef[]>;
  /** Marks `holder`'s lease ended (the execution ended); false when it was not `holder`'s. */
  end(ref: ExecutionRef, holder: LeaseHolder, now: Date): Promise<boolean>;
  /** Deletes `holder`'s unended lease (the execution was stopped: free for anyone); false when not `holder`'s. */
  release(ref: ExecutionRef, holder: LeaseHolder): Promise<boolean>;
  /** Deletes leases that expired before `before`; returns how many. */
  prune(before: Date): Promise<number>;
}

const MAX_JOB_ID_LENGTH = 64;
const MAX_EXECUTION_NAME_LENGTH = 80;
const MAX_HOST_LENGTH = 255;
const MAX_TOKEN_LENGTH = 64;

/** The lease table of a state store, on the store's own database. */
export function leaseStoreOf(store: Pick<StateStore, 'database'>): LeaseStore {
  return new SqlLeaseStore(store.database);
}

class SqlLeaseStore implements LeaseStore {
  readonly #db: SqlDatabase;

  constructor(db: SqlDatabase) {
    this.#db = db;
  }

  async create(ref: ExecutionRef, holder: LeaseHolder, now: Date, ttlMs: number): Promise<boolean> {
    return insertLease(this.#db, rowInput(ref, holder, now, ttlMs));
  }

  async get(ref: ExecutionRef): Promise<ExecutionLease | undefined> {
    checkRef(ref);
    const row = await selectLease(this.#db, ref.jobId, ref.executionName);
    return row ? toLease(row) : undefined;
  }

  async takeOver(lease: ExecutionLease, holder: LeaseHolder, now: Date, ttlMs: number): Promise<boolean> {
    return takeOverLease(
      this.#db,
      { token: lease.holder.token, expiresAt: lease.expiresAt },
      rowInput(lease, holder, now, ttlMs),
    );
  }

  async renew(holder: LeaseHolder, now: Date, ttlMs: number): Promise<ExecutionRef[]> {
    checkHolder(holder);
    await renewLeases(this.#db, holder.token, now, expiry(now, ttlMs));
    const rows = await selectHeldLeases(this.#db, holder.token);
    return rows.map((row) => ({ jobId: String(row.job_id), executionName: String(row.execution_name) }));
  }

  async end(ref: ExecutionRef, holder: LeaseHolder, now: Date): Promise<boolean> {
    checkRef(ref);
    checkHolder(holder);
    return endLease(this.#db, ref.jobId, ref.executionName, holder.token, now);
  }

  async release(ref: ExecutionRef, holder: LeaseHolder): Promise<boolean> {
    checkRef(ref);
    checkHolder(holder);
    return deleteLease(this.#db, ref.jobId, ref.executionName, holder.token);
  }

  async prune(before: Date): Promise<number> {
    return deleteExpiredLeases(this.#db, before);
  }
}

function rowInput(ref: ExecutionRef, holder: LeaseHolder, now: Date, ttlMs: number): LeaseRowInput {
  checkRef(ref);
  checkHolder(holder);
  return {
    jobId: ref.jobId,
    executionName: ref.executionName,
    host: holder.host,
    pid: holder.pid,
    token: holder.token,
    now,
    expiresAt: expiry(now, ttlMs),
  };
}

function expiry(now: Date, ttlMs: number): Date {
  if (Number.isNaN(now.getTime())) throw new StoreError('A lease needs a valid time, got an invalid Date.');
  if (!(ttlMs > 0)) throw new StoreError(`A lease must last more than 0 ms, got ${ttlMs}.`);
  return new Date(now.getTime() + ttlMs);
}

function checkRef(ref: ExecutionRef): void {
  if (!ref.jobId || ref.jobId.length > MAX_JOB_ID_LENGTH) {
    throw new StoreError(`Job id "${ref.jobId}" must have 1 to ${MAX_JOB_ID_LENGTH} characters.`);
  }
  if (!ref.executionName || ref.executionName.length > MAX_EXECUTION_NAME_LENGTH) {
    throw new StoreError(
      `Execution name "${ref.executionName}" must have 1 to ${MAX_EXECUTION_NAME_LENGTH} characters.`,
    );
  }
}

function checkHolder(holder: LeaseHolder): void {
  if (!holder.host || holder.host.length > MAX_HOST_LENGTH) {
    throw new StoreError(`A lease holder's host must have 1 to ${MAX_HOST_LENGTH} characters.`);
  }
  if (!Number.isSafeInteger(holder.pid) || holder.pid < 0 || holder.pid > 2 ** 31 - 1) {
    throw new StoreError(`A lease holder's pid must be a whole number from 0, got ${holder.pid}.`);
  }
  if (!holder.token || holder.token.length > MAX_TOKEN_LENGTH) {
    throw new StoreError(`A lease holder's token must have 1 to ${MAX_TOKEN_LENGTH} characters.`);
  }
}

function toDate(value: unknown): Date {
  return value instanceof Date ? value : new Date(Number(value));
}

function toLease(row: SqlRow): ExecutionLease {
  return {
    jobId: String(row.job_id),
    executionName: String(row.execution_name),
    holder: { host: String(row.holder_host), pid: Number(row.holder_pid), token: String(row.holder_token) },
    acquiredAt: toDate(row.acquired_at),
    renewedAt: toDate(row.renewed_at),
    expiresAt: toDate(row.expires_at),
    endedAt: row.ended_at === null || row.ended_at === undefined ? null : toDate(row.ended_at),
  };
}
