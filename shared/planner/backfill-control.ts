/**
 * Operators steering backfills (DESIGN.md §8): list them with their progress; pause, resume and
 * cancel one. Each change is one transaction under the job's row lock, recorded as an operator
 * action in the same transaction, so a queuing transaction either sees it or commits before it.
 */
import { BackfillStateError } from '../errors.ts';
import type { JobDefinition } from '../job.ts';
import type {
  BackfillRecord,
  BackfillRunCounts,
  BackfillStatus,
  OperatorAction,
  StateStore,
} from '../store/types.ts';

/** Who asked and why: recorded with the action. */
export interface OperatorRequest {
  /** The OS user and host of the CLI, the UI's caller, the AWS caller. */
  readonly actor: string;
  /** @default null */
  readonly reason?: string | null;
}

/** One backfill as `piko backfills` and the UI show it. */
export interface BackfillSummary {
  readonly backfill: BackfillRecord;
  /** The backfill's runs per status (by `backfill_id`). */
  readonly runs: BackfillRunCounts;
  /** The concurrency its executions run at: its own, else the job's (null for a job not defined here). */
  readonly concurrency: number | null;
  /** The last operator action on it (start, pause, resume, cancel), if any was recorded. */
  readonly lastAction: OperatorAction | null;
}

/** Backfills {@link listBackfillSummaries} shows at most. */
export const BACKFILL_LIST_LIMIT = 100;
/** Actions of a job read to find each backfill's last one. */
const ACTIONS_SCANNED = 500;

/** What {@link changeBackfill} did. */
export interface BackfillChange {
  readonly backfillId: string;
  readonly jobId: string;
  /** The status before and after. */
  readonly from: BackfillStatus;
  readonly to: BackfillStatus;
  /** Cancel: runs set `cancelled`; resume of a cancelled backfill: runs put back to `pending`. */
  readonly runs: number;
}

/** What an operator can do to a backfill. */
export type BackfillCommand = 'pause' | 'resume' | 'cancel';

/**
 * Backfills (of one job, or every job), newest first, each with its runs per status and the last
 * operator action on it. `jobs` gives each job's concurrency (the default of its backfills).
 * @param limit @default BACKFILL_LIST_LIMIT
 */
export async function listBackfillSummaries(
  store: StateStore,
  jobConcurrency: (jobId: string) => number | undefined,
  jobId?: string,
  limit = BACKFILL_LIST_LIMIT,
): Promise<BackfillSummary[]> {
  const backfills = await store.listBackfills({ jobId, limit });
  const actionsByJob = new Map<string, OperatorAction[]>();
  const summaries: BackfillSummary[] = [];
  for (const backfill of backfills) {
    let actions = actionsByJob.get(backfill.jobId);
    if (!actions) {
      actions = (await store.listActions({ jobId: backfill.jobId, limit: ACTIONS_SCANNED })).filter(
        (action) => action.kind.startsWith('backfill'),
      );
      actionsByJob.set(backfill.jobId, actions);
    }
    summaries.push({
      backfill,
      runs: await store.backfillRunCounts(backfill.jobId, backfill.backfillId),
      concurrency: backfill.concurrency ?? jobConcurrency(backfill.jobId) ?? null,
      lastAction: actions.find((action) => action.target === backfill.backfillId) ?? null,
    });
  }
  return summaries;
}

/** Which statuses each command leaves, and what it makes of them. */
const ALLOWED: Readonly<Record<BackfillCommand, readonly BackfillStatus[]>> = {
  pause: ['planning', 'planned', 'failed'],
  resume: ['paused', 'cancelled'],
  cancel: ['planning', 'planned', 'failed', 'paused'],
};

/**
 * Pauses, resumes or cancels a backfill of `job`, recorded as an operator action (`backfill-pause`,
 * `backfill-resume`, `backfill-cancel`) in the same transaction:
 * - pause: no run of it is queued any more and planning stops at its cursor; runs already queued or
 *   running finish. What runs it (`piko backfill`, the backfill state machine) waits.
 * - resume: a paused or cancelled backfill goes on from its cursor: status `planning` (planning
 *   finds nothing left when it was planned), its cancelled runs back to `pending` (`waiting` for a
 *   job with upstream jobs).
 * - cancel: its waiting, pending and queued runs become `cancelled` (none is left stuck; a queued run's
 *   execution is refused before its handler starts); running ones finish. What runs it stops.
 * @throws BackfillStateError for an unknown backfill, one of another job, or a status the command
 *   does not apply to (resume a running backfill, cancel a done one…).
 */
export async function changeBackfill(
  store: StateStore,
  job: JobDefinition,
  backfillId: string,
  command: BackfillCommand,
  request: OperatorRequest,
): Promise<BackfillChange> {
  return store.withJob(job, async (tx) => {
    // Read under the job's row lock: every status change of the backfill takes it too.
    const record = await store.getBackfill(backfillId);
    if (!record || record.jobId !== job.id) {
      throw new BackfillStateError(
        `No backfill "${backfillId}" of job "${job.id}"; piko backfills ${job.id} lists them`,
      );
    }
    if (!ALLOWED[command].includes(record.status)) {
      throw new BackfillStateError(
        `Backfill "${backfillId}" is ${record.status}: ${command} applies only to a backfill that is ${ALLOWED[command].join(', ')}`,
      );
    }
    let runs = 0;
    let to: BackfillStatus;
    if (command === 'pause') {
      to = 'paused';
    } else if (command === 'cancel') {
      to = 'cancelled';
      runs = await tx.cancelBackfillRuns(
        backfillId,
        `cancelled with backfill ${backfillId}${request.reason ? `: ${request.reason}` : ''}`,
      );
    } else {
      to = 'planning';
      // A downstream job's runs wait for their upstream intervals again, as when first planned.
      runs = await tx.resumeCancelledRuns(
        backfillId,
        (job.dependsOn ?? []).length > 0 ? 'waiting' : 'pending',
      );
    }
    await tx.setBackfillStatus(backfillId, to);
    await tx.recordAction({
      kind: `backfill-${command}`,
      target: backfillId,
      actor: request.actor,
      reason: request.reason ?? null,
      details: { from: record.status, to, runs },
    });
    return { backfillId, jobId: job.id, from: record.status, to, runs };
  });
}

/**
 * The request a stored backfill was opened with (its id is the same): what resumes it, locally
 * (`piko backfill resume --run`) and on AWS (a new backfill state machine execution).
 */
export function backfillRequestOf(record: BackfillRecord): {
  readonly jobId: string;
  readonly from: Date;
  readonly to: Date;
  readonly reprocess: BackfillRecord['reprocess'];
  readonly reverse: boolean;
  readonly config: unknown;
} {
  return {
    jobId: record.jobId,
    from: record.range.start,
    to: record.range.end,
    reprocess: record.reprocess,
    reverse: record.reverse,
    config: record.config,
  };
}

/** Whether a backfill in this status is held: nothing of it is queued, planning stops. */
export function isBackfillHeld(status: BackfillStatus | undefined): boolean {
  return status === 'paused' || status === 'cancelled';
}
