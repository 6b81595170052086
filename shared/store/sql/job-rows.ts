/** A job's row in `piko_jobs`: locking (and first creating) it, reading it, pausing, the watermark. */
import { StoreError } from '../../errors.ts';
import type { SqlDatabase } from '../../sql.ts';
import { initialWatermark, type JobState, type StoredJob } from '../types.ts';
import { checkCount, checkDate, checkJobId } from './checks.ts';
import type { SqlContext } from './dialect.ts';
import { JOB_COLUMNS, toJobState } from './rows.ts';

/**
 * Locks a job's row for the rest of the transaction `ctx.db` belongs to, creating it when missing
 * (its watermark at the job's {@link initialWatermark} by the store's clock), and returns it as locked.
 */
export async function lockJob(ctx: SqlContext, job: StoredJob): Promise<JobState> {
  const { db, dialect } = ctx;
  const select = `SELECT ${JOB_COLUMNS} FROM piko_jobs WHERE job_id = ?${dialect.forUpdate}`;
  let { rows } = await db.query(select, [job.id]);
  if (rows.length === 0) {
    const now = ctx.clock();
    await db.query(dialect.createJob, [job.id, newRowWatermark(job, now), now]);
    ({ rows } = await db.query(select, [job.id]));
  }
  if (rows.length === 0) throw new StoreError(`Could not create or lock the row of job "${job.id}".`);
  return toJobState(rows[0]!);
}

/** A job's row, or undefined before its first transaction. */
export async function getJob(db: SqlDatabase, jobId: string): Promise<JobState | undefined> {
  const { rows } = await db.query(`SELECT ${JOB_COLUMNS} FROM piko_jobs WHERE job_id = ?`, [jobId]);
  return rows.length ? toJobState(rows[0]!) : undefined;
}

/** Every job row, by id. */
export async function listJobs(db: SqlDatabase): Promise<JobState[]> {
  const { rows } = await db.query(`SELECT ${JOB_COLUMNS} FROM piko_jobs ORDER BY job_id`);
  return rows.map(toJobState);
}

/** Pauses or resumes a job, creating its row when missing. */
export async function setPaused(ctx: SqlContext, job: StoredJob, paused: boolean): Promise<void> {
  checkJobId(job.id);
  const now = ctx.clock();
  const created = await ctx.db.query(
    `${ctx.dialect.insertIgnore} INTO piko_jobs (job_id, watermark, paused, skipped_total, updated_at) VALUES (?, ?, ?, 0, ?)`,
    [job.id, newRowWatermark(job, now), paused ? 1 : 0, now],
  );
  if (created.affectedRows > 0) return;
  await ctx.db.query('UPDATE piko_jobs SET paused = ?, updated_at = ? WHERE job_id = ?', [
    paused ? 1 : 0,
    now,
    job.id,
  ]);
}

/** Pauses or resumes a job whose row exists (inside its transaction, which holds the row's lock). */
export async function setJobRowPaused(ctx: SqlContext, jobId: string, paused: boolean): Promise<void> {
  await ctx.db.query('UPDATE piko_jobs SET paused = ?, updated_at = ? WHERE job_id = ?', [
    paused ? 1 : 0,
    ctx.clock(),
    jobId,
  ]);
}

/** Moves a job's watermark and adds to its skipped counter. */
export async function advanceWatermark(
  ctx: SqlContext,
  jobId: string,
  watermark: Date,
  skippedDelta: number,
): Promise<void> {
  checkDate('watermark', watermark);
  checkCount('skippedDelta', skippedDelta);
  await ctx.db.query(
    'UPDATE piko_jobs SET watermark = ?, skipped_total = skipped_total + ?, updated_at = ? WHERE job_id = ?',
    [watermark, skippedDelta, ctx.clock(), jobId],
  );
}

/** The watermark of a row created at `now`, checked before it is written. */
function newRowWatermark(job: StoredJob, now: Date): Date {
  const watermark = initialWatermark(job, now);
  checkDate('initialWatermark', watermark);
  return watermark;
}
