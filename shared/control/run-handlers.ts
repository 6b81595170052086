/**
 * The handlers of `runs`, `intervals`, `history` and `run` (`run-events.ts`): reads of a job's runs,
 * operator actions and alerts for `piko runs --aws` and `piko ui --aws`, and a manual run of one
 * interval. Configs, outputs and action details are answered with their secrets redacted (the job's
 * `secret()` fields and the redactor's shapes).
 */
import { secretConfigValues } from '../config-secrets.ts';
import { InputError } from '../errors.ts';
import { intervalToJson } from '../interval.ts';
import { type JobDefinition, parseIsoInstant } from '../job.ts';
import { dispatchManualRun, validateBackfill } from '../planner/index.ts';
import { alertStoreOf } from '../store/alerts.ts';
import type { RunRecord, StateStore } from '../store/types.ts';
import { redact } from '../telemetry.ts';
import type { WorkflowStarter } from '../workflow/starter.ts';
import {
  actionToJson,
  alertToJson,
  backfillToJson,
  DEFAULT_RUNS_EVENT_LIMIT,
  type HistoryEvent,
  type HistoryResponse,
  type IntervalsEvent,
  type IntervalsResponse,
  type RunIntervalEvent,
  type RunIntervalResponse,
  type RunsEvent,
  type RunsResponse,
  runToJson,
} from './run-events.ts';

/** What these handlers need of the control deps. */
interface RunDeps {
  readonly store: StateStore;
  readonly jobs: { get(jobId: string): JobDefinition };
  readonly starter: WorkflowStarter;
}

/** A job's runs and their backfills, as `piko runs` selects them. */
export async function runs(deps: RunDeps, event: RunsEvent): Promise<RunsResponse> {
  const job = deps.jobs.get(event.jobId);
  const found = await deps.store.findRuns(job.id, {
    from: event.from === undefined ? undefined : parseIsoInstant(event.from),
    to: event.to === undefined ? undefined : parseIsoInstant(event.to),
    statuses: event.statuses,
    backfillId: event.backfillId,
    limit: event.limit ?? DEFAULT_RUNS_EVENT_LIMIT,
    newestFirst: event.newestFirst,
  });
  const backfills = [];
  for (const id of new Set(found.flatMap((run) => (run.backfillId ? [run.backfillId] : [])))) {
    const backfill = await deps.store.getBackfill(id);
    if (backfill) backfills.push(backfillToJson(backfill, redactor(job, backfill.config)));
  }
  return {
    action: 'runs',
    jobId: job.id,
    runs: found.map((run) => runToJson(run, redactor(job, run.config))),
    backfills,
  };
}

/** The grid's merged spans or counts per bucket over a range. */
export async function intervals(deps: RunDeps, event: IntervalsEvent): Promise<IntervalsResponse> {
  const job = deps.jobs.get(event.jobId);
  const range = { from: new Date(event.from), to: new Date(event.to) };
  if (event.limit !== undefined) {
    const spans = await deps.store.intervalSpans(job.id, range, event.limit);
    return {
      action: 'intervals',
      jobId: job.id,
      spans: spans.map((span) => ({ ...span, start: span.start.toISOString(), end: span.end.toISOString() })),
    };
  }
  const buckets = await deps.store.intervalBuckets(job.id, range, event.bucketMs ?? 1);
  return { action: 'intervals', jobId: job.id, buckets };
}

/** A job's operator actions (details redacted) and alerts, the newest first. */
export async function history(deps: RunDeps, event: HistoryEvent): Promise<HistoryResponse> {
  const job = deps.jobs.get(event.jobId);
  const limit = event.limit ?? DEFAULT_RUNS_EVENT_LIMIT;
  const [actions, alerts] = await Promise.all([
    deps.store.listActions({ jobId: job.id, limit }),
    alertStoreOf(deps.store).list(job.id, { newestFirst: true, limit }),
  ]);
  const redactDetails = redactor(job, null);
  return {
    action: 'history',
    jobId: job.id,
    actions: actions.map((action) => actionToJson(action, redactDetails)),
    alerts: alerts.map(alertToJson),
  };
}

/**
 * Runs one interval now as a manual run (as `piko run` and the UI's Run now and Rerun do): the
 * interval must be one of the job's that has ended and is not in flight; a rerun takes the config
 * of the interval's run.
 * @throws InputError for an interval that is not a tick, has no run to rerun, or is in flight;
 *   JobPausedError for a paused job; what the config's validation throws.
 */
export async function runInterval(
  deps: RunDeps,
  event: RunIntervalEvent,
  now: Date,
): Promise<RunIntervalResponse> {
  const job = deps.jobs.get(event.jobId);
  const start = new Date(event.start);
  const tick = job.schedule.tickAtOrAfter(start);
  const end = tick?.getTime() === start.getTime() ? job.schedule.nextTick(start) : undefined;
  if (!end) {
    throw new InputError(
      `${start.toISOString()} is not the start of an interval of "${job.id}" (cron "${job.schedule.cron}" in ${job.schedule.timezone})`,
    );
  }
  let override: unknown = event.config ?? null;
  if (event.rerun) {
    const [run] = await deps.store.listRuns(job.id, { from: start, to: new Date(start.getTime() + 1) });
    if (!run) throw new InputError(`The interval ${start.toISOString()} of "${job.id}" has no run to rerun`);
    override = run.config;
  }
  const config = validateBackfill(job, { jobId: job.id, from: start, to: end, config: override }, now);
  const request =
    event.actor === undefined ? undefined : { actor: event.actor, reason: event.reason ?? null };
  const input = await dispatchManualRun(deps.store, job, { start, end }, config, deps.starter, request);
  return {
    action: 'run',
    jobId: job.id,
    interval: intervalToJson({ start, end }),
    executionName: input.executionName,
  };
}

/** Redacts a run's JSON values: its job's secret config fields and what the redactor recognises. */
function redactor(job: JobDefinition, config: RunRecord['config']): (value: unknown) => unknown {
  const secrets = secretConfigValues(job.config, config);
  return (value) => {
    if (value === null || value === undefined) return null;
    const text = redact(JSON.stringify(value), secrets);
    try {
      return JSON.parse(text);
    } catch {
      return text;
    }
  };
}
