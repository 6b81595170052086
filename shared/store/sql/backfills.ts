/** A backfill request's row in `piko_backfills`: opening it, reading it, recording its progress. */
import { StoreError } from '../../errors.ts';
import type { SqlDatabase } from '../../sql.ts';
import {
  BACKFILL_STATUSES,
  type BackfillChain,
  type BackfillQuery,
  type BackfillRecord,
  type BackfillRunCounts,
  type BackfillStatus,
  RUN_STATUSES,
} from '../types.ts';
import { checkBackfillId, checkCount, checkDate, checkJobId, truncateError } from './checks.ts';
import type { SqlContext } from './dialect.ts';
import { BACKFILL_COLUMNS, toBackfillRecord, toJson } from './rows.ts';

/** What {@link updateBackfill} adds and sets (see JobTransaction.updateBackfill). */
export interface BackfillProgress {
  readonly cursor: Date;
  readonly status: BackfillStatus;
  readonly created: number;
  readonly rerun: number;
  readonly skipped: number;
  /** @default null */
  readonly error?: string | null;
}

/**
 * Creates a backfill row, or returns the existing one with the same id; a concurrency given (not
 * null) replaces the stored one, so running the same request with another `--concurrency` takes it.
 */
export async function openBackfill(
  ctx: SqlContext,
  backfill: Omit<BackfillRecord, 'createdAt' | 'updatedAt' | 'error' | 'concurrency'> & {
    readonly concurrency?: number | null;
  },
): Promise<BackfillRecord> {
  checkBackfillId(backfill.backfillId);
  const concurrency = backfill.concurrency ?? null;
  if (concurrency !== null && (!Number.isInteger(concurrency) || concurrency < 1)) {
    throw new StoreError(`Backfill concurrency must be a positive integer, got ${concurrency}.`);
  }
  checkJobId(backfill.jobId);
  checkDate('range.start', backfill.range.start);
  checkDate('range.end', backfill.range.end);
  checkDate('cursor', backfill.cursor);
  const now = ctx.clock();
  await ctx.db.query(
    `${ctx.dialect.insertIgnore} INTO piko_backfills (${BACKFILL_COLUMNS}) ` +
      'VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, ?)',
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
      concurrency,
    ],
  );
  if (concurrency !== null) {
    await ctx.db.query(
      'UPDATE piko_backfills SET concurrency = ? WHERE backfill_id = ? AND (concurrency IS NULL OR concurrency <> ?)',
      [concurrency, backfill.backfillId, concurrency],
    );
  }
  const record = await getBackfill(ctx.db, backfill.backfillId);
  if (!record) throw new StoreError(`Backfill "${backfill.backfillId}" was not created.`);
  return record;
}

/** One backfill by id. */
export async function getBackfill(db: SqlDatabase, backfillId: string): Promise<BackfillRecord | undefined> {
  const { rows } = await db.query(`SELECT ${BACKFILL_COLUMNS} FROM piko_backfills WHERE backfill_id = ?`, [
    backfillId,
  ]);
  return rows.length ? toBackfillRecord(rows[0]!) : undefined;
}

/**
 * Updates a backfill's cursor and status and adds to its counts; sets its error (cleared when none
 * is given). Throws a StoreError when the job has no such backfill.
 */
export async function updateBackfill(
  ctx: SqlContext,
  jobId: string,
  backfillId: string,
  update: BackfillProgress,
): Promise<void> {
  checkDate('cursor', update.cursor);
  checkCount('created', update.created);
  checkCount('rerun', update.rerun);
  checkCount('skipped', update.skipped);
  const { affectedRows } = await ctx.db.query(
    // An operator's pause or cancel (setBackfillStatus) wins over a planner that had not seen it.
    "UPDATE piko_backfills SET cursor_at = ?, status = CASE WHEN status IN ('paused', 'cancelled') THEN status ELSE ? END, " +
      'created_count = created_count + ?, ' +
      'rerun_count = rerun_count + ?, skipped_count = skipped_count + ?, error = ?, updated_at = ? ' +
      'WHERE backfill_id = ? AND job_id = ?',
    [
      update.cursor,
      update.status,
      update.created,
      update.rerun,
      update.skipped,
      update.error === undefined || update.error === null ? null : truncateError(update.error),
      ctx.clock(),
      backfillId,
      jobId,
    ],
  );
  if (affectedRows === 0) {
    throw new StoreError(
      `Backfill "${backfillId}" of job "${jobId}" does not exist; create it with openBackfill first.`,
    );
  }
}

/** A backfill's chain; null when it has none or does not exist. */
export async function getBackfillChain(db: SqlDatabase, backfillId: string): Promise<BackfillChain | null> {
  checkBackfillId(backfillId);
  const { rows } = await db.query('SELECT chain FROM piko_backfills WHERE backfill_id = ?', [backfillId]);
  const text = rows[0]?.chain;
  if (text === null || text === undefined) return null;
  return chainFromJson(String(text), backfillId);
}

/** Sets (or clears) a backfill's chain; a StoreError when the job has no such backfill. */
export async function setBackfillChain(
  ctx: SqlContext,
  jobId: string,
  backfillId: string,
  chain: BackfillChain | null,
): Promise<void> {
  checkBackfillId(backfillId);
  if (chain?.kind === 'root') {
    for (const link of chain.downstream) {
      checkJobId(link.jobId);
      checkDate('chain.from', link.from);
      checkDate('chain.to', link.to);
    }
    if (!Number.isInteger(chain.current) || chain.current < -1 || chain.current >= chain.downstream.length) {
      throw new StoreError(
        `Backfill chain position must be -1 to ${chain.downstream.length - 1}, got ${chain.current}.`,
      );
    }
  }
  if (chain?.kind === 'member') checkBackfillId(chain.root);
  const { affectedRows } = await ctx.db.query(
    'UPDATE piko_backfills SET chain = ?, updated_at = ? WHERE backfill_id = ? AND job_id = ?',
    [chain === null ? null : JSON.stringify(chain), ctx.clock(), backfillId, jobId],
  );
  if (affectedRows === 0) {
    throw new StoreError(
      `Backfill "${backfillId}" of job "${jobId}" does not exist; create it with openBackfill first.`,
    );
  }
}

/** The stored JSON of a chain (instants as ISO strings) back to a {@link BackfillChain}. */
function chainFromJson(text: string, backfillId: string): BackfillChain {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new StoreError(`piko_backfills.chain of "${backfillId}" is not JSON: ${text.slice(0, 80)}`);
  }
  const chain = value as {
    kind?: unknown;
    root?: unknown;
    current?: unknown;
    downstream?: { jobId: string; from: string; to: string }[];
  };
  if (chain.kind === 'member' && typeof chain.root === 'string') return { kind: 'member', root: chain.root };
  if (chain.kind === 'root' && Array.isArray(chain.downstream) && typeof chain.current === 'number') {
    return {
      kind: 'root',
      current: chain.current,
      downstream: chain.downstream.map((link) => ({
        jobId: String(link.jobId),
        from: new Date(link.from),
        to: new Date(link.to),
      })),
    };
  }
  throw new StoreError(
    `piko_backfills.chain of "${backfillId}" is not a backfill chain: ${text.slice(0, 80)}`,
  );
}

/** Backfills, newest (creation) first; a job's when `query.jobId` is given. */
export async function listBackfills(db: SqlDatabase, query: BackfillQuery): Promise<BackfillRecord[]> {
  checkCount('limit', query.limit);
  if (query.jobId !== undefined) checkJobId(query.jobId);
  const conditions: string[] = [];
  const params: unknown[] = [];
  if (query.jobId !== undefined) {
    conditions.push('job_id = ?');
    params.push(query.jobId);
  }
  if (query.statuses !== undefined) {
    for (const status of query.statuses) {
      if (!BACKFILL_STATUSES.includes(status)) throw new StoreError(`Unknown backfill status "${status}".`);
    }
    // No status at all: nothing matches (an empty IN list is not SQL).
    if (query.statuses.length === 0) return [];
    conditions.push(`status IN (${query.statuses.map(() => '?').join(', ')})`);
    params.push(...query.statuses);
  }
  const where = conditions.length === 0 ? '' : `WHERE ${conditions.join(' AND ')} `;
  const { rows } = await db.query(
    `SELECT ${BACKFILL_COLUMNS} FROM piko_backfills ${where}ORDER BY created_at DESC, backfill_id LIMIT ?`,
    [...params, query.limit],
  );
  return rows.map(toBackfillRecord);
}

/**
 * Counts of a backfill's runs per status: one `COUNT(*)` per status, each an equality range of the
 * `piko_runs_lane (job_id, status, backfill_id, interval_start)` index, read from the index alone
 * (a GROUP BY over the job's runs would read every run of the job).
 */
export async function backfillRunCounts(
  db: SqlDatabase,
  jobId: string,
  backfillId: string,
): Promise<BackfillRunCounts> {
  checkJobId(jobId);
  checkBackfillId(backfillId);
  const selects = RUN_STATUSES.map(
    (status) =>
      `(SELECT COUNT(*) FROM piko_runs WHERE job_id = ? AND status = '${status}' AND backfill_id = ?) AS n_${status}`,
  );
  const { rows } = await db.query(
    `SELECT ${selects.join(', ')}`,
    RUN_STATUSES.flatMap(() => [jobId, backfillId]),
  );
  const row = rows[0] ?? {};
  return Object.fromEntries(
    RUN_STATUSES.map((status) => [status, Number(row[`n_${status}`] ?? 0)]),
  ) as BackfillRunCounts;
}

/** Sets a backfill's status (pause, resume, cancel), keeping its counts and cursor. */
export async function setBackfillStatus(
  ctx: SqlContext,
  jobId: string,
  backfillId: string,
  status: BackfillStatus,
): Promise<void> {
  const { affectedRows } = await ctx.db.query(
    'UPDATE piko_backfills SET status = ?, updated_at = ? WHERE backfill_id = ? AND job_id = ?',
    [status, ctx.clock(), backfillId, jobId],
  );
  if (affectedRows === 0) {
    throw new StoreError(`Backfill "${backfillId}" of job "${jobId}" does not exist.`);
  }
}

/**
 * Cancels a backfill's waiting, pending and queued runs: `cancelled`, generation + 1, no execution,
 * so the execution that held a queued run is refused by the owner check before its handler starts.
 */
export async function cancelBackfillRuns(
  ctx: SqlContext,
  jobId: string,
  backfillId: string,
  error: string,
): Promise<number> {
  checkBackfillId(backfillId);
  const now = ctx.clock();
  const { affectedRows } = await ctx.db.query(
    "UPDATE piko_runs SET status = 'cancelled', generation = generation + 1, execution_name = NULL, " +
      'error = ?, not_before = NULL, finished_at = ?, updated_at = ? ' +
      "WHERE job_id = ? AND status IN ('waiting', 'pending', 'queued') AND backfill_id = ?",
    [truncateError(error), now, now, jobId, backfillId],
  );
  return affectedRows;
}

/**
 * Puts a backfill's cancelled runs back to `status` (`pending`, or `waiting` for a job with upstream
 * jobs) in a new generation (attempts and requeues 0).
 */
export async function resumeCancelledRuns(
  ctx: SqlContext,
  jobId: string,
  backfillId: string,
  status: 'pending' | 'waiting',
): Promise<number> {
  checkBackfillId(backfillId);
  const { affectedRows } = await ctx.db.query(
    'UPDATE piko_runs SET status = ?, generation = generation + 1, attempts = 0, requeues = 0, ' +
      'stage = NULL, error = NULL, execution_name = NULL, not_before = NULL, started_at = NULL, ' +
      "finished_at = NULL, updated_at = ? WHERE job_id = ? AND status = 'cancelled' AND backfill_id = ?",
    [status, ctx.clock(), jobId, backfillId],
  );
  return affectedRows;
}
