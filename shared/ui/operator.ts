/**
 * Where the UI's operator actions on intervals (cancel, mark a range) are carried out, and where
 * their record and the job's alerts are read: the UI's own store (the planner's functions) for a
 * self-hosted runtime, the deployed dispatcher's control events for `piko ui --aws`
 * (`shared/cli/aws/ui.ts`). The pages and actions see only this port.
 */
import type { JobDefinition } from '../job.ts';
import {
  type CancelOutcome,
  type CancelRequest,
  cancelRuns,
  type MarkOutcome,
  type MarkPreview,
  type MarkRequest,
  markRange,
  type OperatorCall,
  previewMark,
} from '../planner/index.ts';
import { type AlertRecord, alertStoreOf } from '../store/alerts.ts';
import type { OperatorAction, StateStore } from '../store/types.ts';

/** The operator actions a UI carries out, and their record. */
export interface UiOperator {
  /** Cancels the runs whose intervals start in the range (the planner's `cancelRuns`). */
  cancel(job: JobDefinition, range: CancelRequest, call: OperatorCall): Promise<CancelOutcome>;
  /** What marking the range would do, interval by interval; writes nothing. */
  previewMark(job: JobDefinition, request: Omit<MarkRequest, 'dryRun'>, now: Date): Promise<MarkPreview>;
  /** Marks the range's intervals (the planner's `markRange`), recorded with who and why. */
  mark(job: JobDefinition, request: MarkRequest, call: OperatorCall, now: Date): Promise<MarkOutcome>;
  /** The job's operator actions, newest first, at most `limit`. */
  actions(jobId: string, limit: number): Promise<OperatorAction[]>;
  /** The job's alerts, the latest intervals first, at most `limit`. */
  alerts(jobId: string, limit: number): Promise<AlertRecord[]>;
}

/** The operator actions of a self-hosted runtime: the planner's functions on its store. */
export function storeOperator(store: StateStore): UiOperator {
  const alerts = alertStoreOf(store);
  return {
    cancel: (job, range, call) => cancelRuns(store, job, range, call),
    previewMark: (job, request, now) => previewMark(store, job, request, now),
    mark: (job, request, call, now) => markRange(store, job, request, call, now),
    actions: (jobId, limit) => store.listActions({ jobId, limit }),
    alerts: (jobId, limit) => alerts.list(jobId, { newestFirst: true, limit }),
  };
}
