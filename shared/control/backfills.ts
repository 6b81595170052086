/**
 * Backfills as JSON: what `piko backfills --json` prints and the dispatcher's `backfills` answer
 * carries (the same shape locally and on AWS).
 */
import type { BackfillSummary } from '../planner/backfill-control.ts';
import type { BackfillRunCounts, BackfillStatus } from '../store/types.ts';

/** One backfill with its progress, as JSON (instants in ISO 8601 UTC). */
export interface BackfillSummaryJson {
  readonly backfillId: string;
  readonly jobId: string;
  readonly status: BackfillStatus;
  readonly from: string;
  readonly to: string;
  readonly reprocess: string;
  readonly reverse: boolean;
  /** The concurrency its executions run at (its own, else the job's); null when unknown. */
  readonly concurrency: number | null;
  /** Intervals planning created and re-armed so far, and passed over (in flight, already done). */
  readonly created: number;
  readonly rerun: number;
  readonly skipped: number;
  /** Its runs per status. */
  readonly runs: BackfillRunCounts;
  readonly createdAt: string;
  readonly updatedAt: string;
  /** Why planning failed, when it did. */
  readonly error: string | null;
  /** The last operator action on it. */
  readonly lastAction: {
    readonly kind: string;
    readonly actor: string;
    readonly reason: string | null;
    readonly at: string;
  } | null;
  /**
   * A `--downstream` backfill on AWS: its downstream backfills in the order they run, each with
   * its status (`pending` until its turn).
   */
  readonly downstream?: readonly {
    readonly jobId: string;
    readonly backfillId: string;
    readonly from: string;
    readonly to: string;
    readonly status: BackfillStatus | 'pending';
  }[];
}

/** A {@link BackfillSummary} as JSON. */
export function backfillSummaryJson(summary: BackfillSummary): BackfillSummaryJson {
  const { backfill, lastAction } = summary;
  return {
    backfillId: backfill.backfillId,
    jobId: backfill.jobId,
    status: backfill.status,
    from: backfill.range.start.toISOString(),
    to: backfill.range.end.toISOString(),
    reprocess: backfill.reprocess,
    reverse: backfill.reverse,
    concurrency: summary.concurrency,
    created: backfill.created,
    rerun: backfill.rerun,
    skipped: backfill.skipped,
    runs: summary.runs,
    createdAt: backfill.createdAt.toISOString(),
    updatedAt: backfill.updatedAt.toISOString(),
    error: backfill.error,
    lastAction: lastAction && {
      kind: lastAction.kind,
      actor: lastAction.actor,
      reason: lastAction.reason,
      at: lastAction.at.toISOString(),
    },
  };
}
