/**
 * A backfill recorded for a runtime to run (the web UI's start, DESIGN.md §8): the row and the
 * operator action, nothing planned; the runtime that adopts it plans and runs it.
 */
import { BackfillStateError } from '../errors.ts';
import type { JobDefinition } from '../job.ts';
import type { BackfillRecord, StateStore } from '../store/types.ts';
import {
  type BackfillLimits,
  type BackfillRequest,
  backfillId,
  freshProgress,
  validateBackfill,
} from './backfill.ts';
import type { OperatorRequest } from './backfill-control.ts';

/** What {@link recordBackfill} did. */
export interface RecordedBackfill {
  readonly backfill: BackfillRecord;
  /** `new`: recorded now; `again`: a done one of the same request, to be planned anew. */
  readonly recorded: 'new' | 'again';
}

/**
 * Records a backfill request for a runtime to plan and run (the UI's start): the backfill row,
 * `planning` at the start of its range, and an operator action `backfill` with who and why, in
 * one transaction under the job's row lock. Nothing is planned here: the runtime that adopts it
 * (`piko start`, shared/local/backfill-drivers.ts) plans it from its cursor and runs it, as
 * `piko backfill` would. A done backfill of the same request starts over, as the same command does.
 * @throws BackfillRefusedError / InputError as {@link validateBackfill}; BackfillStateError when the
 *   same request's backfill is under way, paused or cancelled (resume it instead) or failed.
 */
export async function recordBackfill(
  store: StateStore,
  job: JobDefinition,
  request: BackfillRequest,
  now: Date,
  operator: OperatorRequest,
  limits: BackfillLimits = {},
): Promise<RecordedBackfill> {
  const config = validateBackfill(job, request, now, limits);
  const id = backfillId(request);
  const reverse = request.reverse ?? false;
  const rangeStart = reverse ? request.to : request.from;
  return store.withJob(job, async (tx) => {
    const existing = await store.getBackfill(id);
    if (existing && existing.status !== 'done') {
      throw new BackfillStateError(
        `Backfill "${id}" of this request is ${existing.status} already: ${
          existing.status === 'paused' || existing.status === 'cancelled'
            ? 'resume it instead'
            : existing.status === 'failed'
              ? `piko backfill ${job.id} with the same range and options resumes it (${existing.error ?? 'planning failed'})`
              : 'it runs; follow it in the list'
        }`,
      );
    }
    let backfill = await store.openBackfill({
      backfillId: id,
      jobId: job.id,
      range: { start: request.from, end: request.to },
      reprocess: request.reprocess ?? 'missing',
      reverse,
      config,
      ...freshProgress(rangeStart),
      concurrency: request.concurrency ?? null,
    });
    if (existing) {
      await tx.updateBackfill(id, freshProgress(rangeStart));
      backfill = { ...backfill, ...freshProgress(rangeStart) };
    }
    await tx.recordAction({
      kind: 'backfill',
      target: id,
      actor: operator.actor,
      reason: operator.reason ?? null,
      details: {
        from: request.from.toISOString(),
        to: request.to.toISOString(),
        reprocess: request.reprocess ?? 'missing',
        reverse,
        concurrency: request.concurrency ?? null,
        config: config !== null,
      },
    });
    return { backfill, recorded: existing ? 'again' : 'new' };
  });
}
