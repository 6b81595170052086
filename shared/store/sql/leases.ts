/**
 * The statements of `piko_leases` (migration 4), one function each, in both dialects. Row mapping and
 * checks live in `../leases.ts`; nothing here decides who may hold a lease.
 */
import type { SqlDatabase, SqlRow } from '../../sql.ts';

/** The lease columns, as every SELECT of this file returns them. */
const LEASE_COLUMNS =
  'job_id, execution_name, holder_host, holder_pid, holder_token, acquired_at, renewed_at, expires_at, ended_at';

/** A lease row to write: who holds which execution, from when, until when. */
export interface LeaseRowInput {
  readonly jobId: string;
  readonly executionName: string;
  readonly host: string;
  readonly pid: number;
  readonly token: string;
  readonly now: Date;
  readonly expiresAt: Date;
}

/** Inserts a lease unless the execution has one already; true when inserted. */
export async function insertLease(db: SqlDatabase, lease: LeaseRowInput): Promise<boolean> {
  const insertIgnore = db.dialect === 'mysql' ? 'INSERT IGNORE' : 'INSERT OR IGNORE';
  const { affectedRows } = await db.query(
    `${insertIgnore} INTO piko_leases (${LEASE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL)`,
    [
      lease.jobId,
      lease.executionName,
      lease.host,
      lease.pid,
      lease.token,
      lease.now,
      lease.now,
      lease.expiresAt,
    ],
  );
  return affectedRows > 0;
}

/** The lease of one execution, or undefined. */
export async function selectLease(
  db: SqlDatabase,
  jobId: string,
  executionName: string,
): Promise<SqlRow | undefined> {
  const { rows } = await db.query(
    `SELECT ${LEASE_COLUMNS} FROM piko_leases WHERE job_id = ? AND execution_name = ?`,
    [jobId, executionName],
  );
  return rows[0];
}

/**
 * Gives an unended lease to a new holder, only if it is still exactly as it was read (same holder
 * token, same expiry): a holder that renewed meanwhile keeps it. True when taken over.
 */
export async function takeOverLease(
  db: SqlDatabase,
  expected: { readonly token: string; readonly expiresAt: Date },
  lease: LeaseRowInput,
): Promise<boolean> {
  const { affectedRows } = await db.query(
    'UPDATE piko_leases SET holder_host = ?, holder_pid = ?, holder_token = ?, acquired_at = ?, renewed_at = ?, ' +
      'expires_at = ? WHERE job_id = ? AND execution_name = ? AND holder_token = ? AND expires_at = ? AND ended_at IS NULL',
    [
      lease.host,
      lease.pid,
      lease.token,
      lease.now,
      lease.now,
      lease.expiresAt,
      lease.jobId,
      lease.executionName,
      expected.token,
      expected.expiresAt,
    ],
  );
  return affectedRows > 0;
}

/** Extends every unended lease of a holder (its heartbeat); returns how many. */
export async function renewLeases(
  db: SqlDatabase,
  token: string,
  now: Date,
  expiresAt: Date,
): Promise<number> {
  const { affectedRows } = await db.query(
    'UPDATE piko_leases SET renewed_at = ?, expires_at = ? WHERE holder_token = ? AND ended_at IS NULL',
    [now, expiresAt, token],
  );
  return affectedRows;
}

/** The executions a holder holds (unended leases with its token). */
export async function selectHeldLeases(db: SqlDatabase, token: string): Promise<SqlRow[]> {
  const { rows } = await db.query(
    'SELECT job_id, execution_name FROM piko_leases WHERE holder_token = ? AND ended_at IS NULL',
    [token],
  );
  return rows;
}

/** Marks a holder's lease ended (its execution ended); true when it was the holder's. */
export async function endLease(
  db: SqlDatabase,
  jobId: string,
  executionName: string,
  token: string,
  now: Date,
): Promise<boolean> {
  const { affectedRows } = await db.query(
    'UPDATE piko_leases SET ended_at = ? WHERE job_id = ? AND execution_name = ? AND holder_token = ? AND ended_at IS NULL',
    [now, jobId, executionName, token],
  );
  return affectedRows > 0;
}

/** Deletes a holder's unended lease (its execution was stopped); true when it was the holder's. */
export async function deleteLease(
  db: SqlDatabase,
  jobId: string,
  executionName: string,
  token: string,
): Promise<boolean> {
  const { affectedRows } = await db.query(
    'DELETE FROM piko_leases WHERE job_id = ? AND execution_name = ? AND holder_token = ? AND ended_at IS NULL',
    [jobId, executionName, token],
  );
  return affectedRows > 0;
}

/** Deletes leases that expired before `before` (ended or abandoned long ago); returns how many. */
export async function deleteExpiredLeases(db: SqlDatabase, before: Date): Promise<number> {
  const { affectedRows } = await db.query('DELETE FROM piko_leases WHERE expires_at < ?', [before]);
  return affectedRows;
}
