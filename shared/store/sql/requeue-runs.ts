/** Putting the runs of an execution that is gone back to pending, with a growing delay, or failing them. */
import { ownerMismatch, refused } from '../owner.ts';
import { type RequeueOutcome, type RequeuePolicy, type RunOwner, requeueDelayMs } from '../types.ts';
import { checkRunId, truncateError, unknownRun } from './checks.ts';
import type { SqlContext } from './dialect.ts';
import { chunks, placeholders } from './lists.ts';
import { RUN_COLUMNS, toRunRecord } from './rows.ts';
import { ownerCondition } from './run-transitions.ts';

/** What {@link requeueRuns} is asked to do (see StateStore.requeueRuns). */
export interface RequeueRequest {
  readonly runIds: readonly number[];
  readonly policy: RequeuePolicy;
  readonly owner?: RunOwner;
  readonly error?: string;
  /** False for runs a pause caught: neither counted nor delayed. */
  readonly counted: boolean;
}

/**
 * Puts queued/running runs back to `pending` in a new generation, delayed by the requeue policy;
 * fails those requeued `maxRequeues` times already. With an owner, refuses (after requeueing the
 * owned ones) a run it does not own.
 */
export async function requeueRuns(ctx: SqlContext, request: RequeueRequest): Promise<RequeueOutcome> {
  const { db } = ctx;
  const { runIds, policy, owner, error, counted } = request;
  runIds.forEach(checkRunId);
  const now = ctx.clock();
  const message = error === undefined ? null : truncateError(error);
  const [ownerSql, ownerParams] = ownerCondition(owner);
  let requeued = 0;
  let failed = 0;
  let refusal: Error | undefined;
  for (const ids of chunks(runIds)) {
    const { rows } = await db.query(
      `SELECT ${RUN_COLUMNS} FROM piko_runs WHERE run_id IN (${placeholders(ids.length)})`,
      ids,
    );
    const found = new Map(rows.map((row) => [Number(row.run_id), toRunRecord(row)]));
    // Runs requeued as often as each other get the same delay: one UPDATE per count.
    const byRequeues = new Map<number, number[]>();
    for (const runId of ids) {
      const run = found.get(runId);
      if (owner) {
        if (!run) throw unknownRun(runId);
        const mismatch = ownerMismatch(run, owner);
        if (mismatch !== undefined) {
          refusal ??= refused(mismatch);
          continue;
        }
      }
      if (!run || (run.status !== 'queued' && run.status !== 'running')) continue;
      if (counted && run.requeues >= policy.maxRequeues) {
        // Guarded by the count read: a concurrent requeue of the same run changes nothing here.
        const updated = await db.query(
          "UPDATE piko_runs SET status = 'failed', error = ?, finished_at = ?, updated_at = ? " +
            `WHERE run_id = ? AND requeues = ? AND status IN ('queued', 'running')${ownerSql}`,
          [
            truncateError(requeueLimitMessage(run.requeues, message ?? run.error)),
            now,
            now,
            runId,
            run.requeues,
            ...ownerParams,
          ],
        );
        failed += updated.affectedRows;
        continue;
      }
      const group = byRequeues.get(run.requeues) ?? [];
      group.push(runId);
      byRequeues.set(run.requeues, group);
    }
    for (const [count, group] of byRequeues) {
      const notBefore = counted ? new Date(now.getTime() + requeueDelayMs(policy, count)) : null;
      const updated = await db.query(
        "UPDATE piko_runs SET status = 'pending', generation = generation + 1, attempts = 0, stage = NULL, " +
          `execution_name = NULL, started_at = NULL, requeues = requeues + ${counted ? 1 : 0}, not_before = ?, ` +
          'error = COALESCE(?, error), updated_at = ? ' +
          `WHERE status IN ('queued', 'running') AND requeues = ? AND run_id IN (${placeholders(group.length)})${ownerSql}`,
        [notBefore, message, now, count, ...group, ...ownerParams],
      );
      requeued += updated.affectedRows;
    }
  }
  if (refusal) throw refusal;
  return { requeued, failed };
}

/** Why a run was failed instead of requeued once more. */
function requeueLimitMessage(requeues: number, lastError: string | null): string {
  return (
    `Failed after ${requeues} requeues (the state store was unavailable, or the run's execution ended ` +
    `without recording its outcome, each time); last error: ${lastError ?? '(none recorded)'}. ` +
    'Fix the cause, then rerun it with piko backfill --reprocess failed.'
  );
}
