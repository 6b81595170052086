/** A backfill request's row in `piko_backfills`: opening it, reading it, recording its progress. */
import { StoreError } from '../../errors.ts';
import type { SqlDatabase } from '../../sql.ts';
import type { BackfillRecord } from '../types.ts';
import { checkBackfillId, checkCount, checkDate, checkJobId, truncateError } from './checks.ts';
import type { SqlContext } from './dialect.ts';
import { BACKFILL_COLUMNS, toBackfillRecord, toJson } from './rows.ts';

/** What {@link updateBackfill} adds and sets (see JobTransaction.updateBackfill). */
export interface BackfillProgress {
  readonly cursor: Date;
  readonly status: BackfillRecord['status'];
  readonly created: number;
  readonly rerun: number;
  readonly skipped: number;
  /** @default null */
  readonly error?: string | null;
}

/** Creates a backfill row, or returns the existing one with the same id. */
export async function openBackfill(
  ctx: SqlContext,
  backfill: Omit<BackfillRecord, 'createdAt' | 'updatedAt' | 'error'>,
): Promise<BackfillRecord> {
  checkBackfillId(backfill.backfillId);
  checkJobId(backfill.jobId);
  checkDate('range.start', backfill.range.start);
  checkDate('range.end', backfill.range.end);
  checkDate('cursor', backfill.cursor);
  const now = ctx.clock();
  await ctx.db.query(
    `${ctx.dialect.insertIgnore} INTO piko_backfills (${BACKFILL_COLUMNS}) ` +
      'VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL)',
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
    ],
  );
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
    'UPDATE piko_backfills SET cursor_at = ?, status = ?, created_count = created_count + ?, ' +
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
