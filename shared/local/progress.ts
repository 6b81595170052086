/**
 * The local runtime's progress lines: one builder per event, each giving the text people read and
 * the fields `--json` prints. Pure: the runtime decides when, these say what.
 */
import type { AlertBody } from '../alerts/alert.ts';
import type { IntervalJson } from '../interval.ts';

/** One line of progress. `text` is for people; `fields` for `--json`. */
export interface ProgressEvent {
  readonly event: string;
  readonly text: string;
  readonly fields: Readonly<Record<string, unknown>>;
}

/** The run a stage event is about, with its interval once the state store has told it. */
export interface ProgressRun {
  readonly jobId: string;
  readonly runId: number;
  readonly interval: IntervalJson | undefined;
}

const plural = (count: number, noun: string): string => `${count} ${noun}${count === 1 ? '' : 's'}`;

/** The run as a line shows it: its interval, or its id while the interval is not known. */
function shown(run: ProgressRun): string {
  return run.interval ? `${run.interval.start} → ${run.interval.end}` : `run ${run.runId}`;
}

/** A planning of one job that planned or skipped intervals. */
export function planned(
  jobId: string,
  result: { readonly planned: number; readonly skipped: number; readonly watermark: Date },
): ProgressEvent {
  return {
    event: 'planned',
    text: `${jobId}: planned ${plural(result.planned, 'interval')}${result.skipped ? `, skipped ${result.skipped}` : ''} (watermark ${result.watermark.toISOString()})`,
    fields: {
      jobId,
      planned: result.planned,
      skipped: result.skipped,
      watermark: result.watermark.toISOString(),
    },
  };
}

/** A planning that found the job paused. */
export function paused(jobId: string): ProgressEvent {
  return {
    event: 'paused',
    text: `${jobId}: paused, nothing runs until piko resume ${jobId}`,
    fields: { jobId },
  };
}

/** An execution started for `runs` intervals. */
export function dispatched(jobId: string, executionName: string, runs: number): ProgressEvent {
  return {
    event: 'dispatched',
    text: `${jobId}: running ${plural(runs, 'interval')} (${executionName})`,
    fields: { jobId, executionName, runs },
  };
}

/** An execution of the last stop started again. */
export function restarted(jobId: string, executionName: string): ProgressEvent {
  return {
    event: 'restarted',
    text: `${jobId}: resumed ${executionName} left over from the last stop`,
    fields: { jobId, executionName },
  };
}

/** An execution that failed as a whole (not one of its runs). */
export function executionFailed(jobId: string, executionName: string, error: string): ProgressEvent {
  return {
    event: 'execution-failed',
    text: `${jobId}: execution ${executionName} failed: ${error}`,
    fields: { jobId, executionName, error },
  };
}

/** A planning stopped because this clock disagrees with the job's state. */
export function clockSkew(jobId: string, error: string): ProgressEvent {
  return { event: 'clock-skew', text: error, fields: { jobId, error } };
}

/**
 * The runtime gives up on the state store, after `failures` failures in a row of what `failedIn`
 * names: the job's planning, its dispatch, or the heartbeat of the execution leases.
 */
export function storeFailed(
  jobId: string,
  reason: string,
  error: string,
  failures: number,
  failedIn: 'plan' | 'dispatch' | 'lease-heartbeat',
): ProgressEvent {
  return {
    event: 'store-failed',
    text: `${jobId}: giving up, ${reason}: ${error}`,
    fields: { jobId, error, failures, failedIn },
  };
}

/** A failed planning or dispatch; `retryInMs` when it is tried again after that wait. */
export function planOrDispatchError(
  kind: 'plan' | 'dispatch',
  jobId: string,
  error: string,
  failures: number,
  retryInMs: number | undefined,
): ProgressEvent {
  const retrying = retryInMs !== undefined;
  return {
    event: kind === 'plan' ? 'plan-error' : 'dispatch-error',
    text: `${jobId}: ${kind === 'plan' ? 'planning' : 'dispatch'} failed${retrying ? ` (${failures}× in a row), trying again in ${retryInMs / 1000} s` : ''}: ${error}`,
    fields: { jobId, error, failures, ...(retrying ? { retryInMs } : {}) },
  };
}

/** A run not started because its job or its backfill is paused. */
export function notStarted(run: ProgressRun): ProgressEvent {
  return {
    event: 'not-started',
    text: `${run.jobId} ${shown(run)} not started: its job or backfill is paused`,
    fields: { jobId: run.jobId, runId: run.runId, start: run.interval?.start, reason: 'paused' },
  };
}

/** A run an operator cancelled (or marked skipped): before its handler started, or while it ran. */
export function cancelled(run: ProgressRun, started: boolean): ProgressEvent {
  return {
    event: 'cancelled',
    text: `${run.jobId} ${shown(run)} cancelled ${started ? 'while it ran' : 'before it started'}`,
    fields: { jobId: run.jobId, runId: run.runId, start: run.interval?.start, started },
  };
}

/** A failed run put back to pending because the state store was out of reach. */
export function requeued(run: ProgressRun, error: string): ProgressEvent {
  return {
    event: 'requeued',
    text: `${run.jobId} ${shown(run)} put back to pending (state store unavailable): ${error}`,
    fields: { jobId: run.jobId, runId: run.runId, start: run.interval?.start, error },
  };
}

/** A run recorded as failed, with the error as recorded (`null` when none is). */
export function failed(run: ProgressRun, error: string | null): ProgressEvent {
  return {
    event: 'failed',
    text: `${run.jobId} ${shown(run)} failed: ${error ?? ''}`,
    fields: { jobId: run.jobId, runId: run.runId, start: run.interval?.start, end: run.interval?.end, error },
  };
}

/** A run whose last stage succeeded. */
export function succeeded(run: ProgressRun): ProgressEvent {
  return {
    event: 'succeeded',
    text: `${run.jobId} ${shown(run)} succeeded`,
    fields: { jobId: run.jobId, runId: run.runId, start: run.interval?.start, end: run.interval?.end },
  };
}

/** One attempt of a stage failed (the workflow may retry it). */
export function attemptFailed(run: ProgressRun, stage: string, error: string): ProgressEvent {
  return {
    event: 'attempt-failed',
    text: `${run.jobId} ${shown(run)} stage ${stage} attempt failed: ${error}`,
    fields: { jobId: run.jobId, runId: run.runId, stage, error },
  };
}

/** The stop's grace period ended with work still running. */
export function graceOver(graceMs: number): ProgressEvent {
  return {
    event: 'grace-over',
    text: `grace period of ${graceMs} ms over: aborting running intervals`,
    fields: { graceMs },
  };
}

/** The stop left work that did not end after the abort. */
export function stopForced(waitedMs: number): ProgressEvent {
  return {
    event: 'stop-forced',
    text: `work still running ${waitedMs} ms after the abort (is the state store answering?): left for the next start`,
    fields: { waitedMs },
  };
}

/** An alert raised (late or skipped intervals): `message` names the job and its ranges. */
export function alert(body: AlertBody): ProgressEvent {
  return { event: 'alert', text: `ALERT ${body.message}`, fields: { ...body } };
}

/** The webhook did not take an alert, after its tries. */
export function alertUndelivered(body: AlertBody, attempts: number, error: string): ProgressEvent {
  return {
    event: 'alert-undelivered',
    text: `${body.jobId}: alert ${body.id} not delivered to the webhook after ${attempts} tries: ${error}`,
    fields: { jobId: body.jobId, alertId: body.id, attempts, error },
  };
}

/** The sweep of alerts claimed and never raised could not read them (the store); tried again at the next check. */
export function alertSweepFailed(error: string): ProgressEvent {
  return {
    event: 'alert-error',
    text: `alerts: raising the alerts a crash left claimed and unraised failed, trying again at the next check: ${error}`,
    fields: { error },
  };
}

/** A deadline check failed (the store); tried again at the next check. */
export function alertCheckFailed(jobId: string, error: string): ProgressEvent {
  return {
    event: 'alert-error',
    text: `${jobId}: alert check failed, trying again at the next check: ${error}`,
    fields: { jobId, error },
  };
}
