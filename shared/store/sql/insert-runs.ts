/** Inserting pending (or waiting) runs: the hot path of backfill planning (bench/plan-backfill). */
import type { SqlDatabase } from '../../sql.ts';
import type { NewRun } from '../types.ts';
import { checkBackfillId, checkInterval, checkNewStatus, checkTrigger } from './checks.ts';
import { bindDateTime } from './datetime.ts';
import type { SqlContext, SqlStoreDialect } from './dialect.ts';
import { CHUNK_SIZE } from './lists.ts';
import { toJson } from './rows.ts';

/**
 * The most a multi-row INSERT may take, in bytes of SQL as the server receives it (MySQL:
 * parameters inlined and escaped): far under any `max_allowed_packet` in use (MySQL 8 64 MiB,
 * MariaDB 16 MiB, MySQL 5.7 4 MiB). A MySQL server set lower gets a quarter of its own limit.
 */
export const MAX_INSERT_BYTES = 1_048_576;
const INSERT_RUN_COLUMNS =
  'job_id, interval_start, interval_end, status, trigger_kind, backfill_id, config, created_at, updated_at';
const INSERT_RUN_TUPLE = '(?, ?, ?, ?, ?, ?, ?, ?, ?)';
/** Bytes of one inlined {@link INSERT_RUN_TUPLE} besides its job id, backfill id and config: three times, a trigger, separators. */
const INSERT_RUN_FIXED_BYTES = 160;

/**
 * The byte budget of one multi-row INSERT: {@link MAX_INSERT_BYTES}, or a quarter of the server's
 * packet limit when that is smaller. Asked through `db`, the transaction's connection (a pool of
 * one must not wait for itself); the store asks once and keeps the answer.
 */
export async function insertBudget(db: SqlDatabase, dialect: SqlStoreDialect): Promise<number> {
  const sql = dialect.packetLimit;
  const limit = sql === undefined ? Infinity : Number((await db.query(sql)).rows[0]?.bytes);
  return Math.min(MAX_INSERT_BYTES, limit > 0 ? Math.floor(limit / 4) : MAX_INSERT_BYTES);
}

/**
 * Inserts `pending` runs of a job (`waiting` ones when their `status` says so), ignoring intervals that already have a row, in statements of at
 * most {@link CHUNK_SIZE} rows and `budget()` bytes. Returns how many were inserted.
 */
export async function insertRuns(
  ctx: SqlContext,
  jobId: string,
  runs: readonly NewRun[],
  budget: () => Promise<number>,
): Promise<number> {
  const { db } = ctx;
  // One flat parameter list per statement, built in one pass; on MySQL, times as DATETIME text
  // (see bindDateTime).
  const bindDate = db.dialect === 'mysql' ? bindDateTime : (date: Date): unknown => date;
  const now = bindDate(ctx.clock());
  runs.forEach((run) => {
    checkInterval(run.interval);
    checkTrigger(run.trigger);
    checkNewStatus(run.status);
    if (run.backfillId !== undefined && run.backfillId !== null) checkBackfillId(run.backfillId);
  });
  if (runs.length === 0) return 0;
  // Statements end at CHUNK_SIZE rows or at the byte budget, whichever comes first (a row larger
  // than the budget goes alone), so no INSERT nears the server's packet limit.
  const maxBytes = await budget();
  const jobIdBytes = inlinedBytes(jobId);
  let inserted = 0;
  let params: unknown[] = [];
  let count = 0;
  let bytes = 0;
  const flush = async () => {
    const { affectedRows } = await db.query(insertRunsSql(ctx.dialect.insertIgnore, count), params);
    inserted += affectedRows;
    params = [];
    count = 0;
    bytes = 0;
  };
  let lastConfig: unknown;
  let lastConfigJson: string | null = null;
  let lastBackfillId: string | null | undefined;
  let lastExtraBytes = 0;
  let lastEndMs = Number.NaN;
  let lastEnd: unknown;
  for (let i = 0; i < runs.length; i++) {
    const run = runs[i]!;
    // A batch of runs mostly shares one config and backfill id: serialize and measure them once.
    if (i === 0 || run.config !== lastConfig || run.backfillId !== lastBackfillId) {
      lastConfig = run.config;
      lastConfigJson = toJson(run.config);
      lastBackfillId = run.backfillId;
      lastExtraBytes = inlinedBytes(lastConfigJson) + inlinedBytes(run.backfillId ?? null);
    }
    const rowBytes = INSERT_RUN_FIXED_BYTES + jobIdBytes + lastExtraBytes;
    if (count === CHUNK_SIZE || (count > 0 && bytes + rowBytes > maxBytes)) await flush();
    // Contiguous intervals: this start is the last end, already bound.
    const start = run.interval.start.getTime() === lastEndMs ? lastEnd : bindDate(run.interval.start);
    lastEndMs = run.interval.end.getTime();
    lastEnd = bindDate(run.interval.end);
    params.push(
      jobId,
      start,
      lastEnd,
      run.status ?? 'pending',
      run.trigger,
      run.backfillId ?? null,
      lastConfigJson,
      now,
      now,
    );
    count++;
    bytes += rowBytes;
  }
  await flush();
  return inserted;
}

/** The multi-row INSERT of `count` runs; the full-size statements are built once per dialect. */
function insertRunsSql(insertIgnore: string, count: number): string {
  const key = `${insertIgnore}\u0000${count}`;
  let sql = insertRunsSqlCache.get(key);
  if (sql === undefined) {
    sql =
      `${insertIgnore} INTO piko_runs (${INSERT_RUN_COLUMNS}) VALUES ` +
      Array(count).fill(INSERT_RUN_TUPLE).join(', ');
    if (count === CHUNK_SIZE) insertRunsSqlCache.set(key, sql);
  }
  return sql;
}
const insertRunsSqlCache = new Map<string, string>();

/**
 * The most a string parameter takes inlined in MySQL SQL: quoted, every byte possibly escaped
 * (mysql2 escapes quotes, backslashes and control characters with a backslash).
 */
function inlinedBytes(value: string | null): number {
  return value === null ? 4 : 2 + 2 * Buffer.byteLength(value);
}
