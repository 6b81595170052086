/**
 * The dispatcher's logic on AWS: one function per control event, over the same planner and state
 * store as the local runtime. No AWS SDK here: workflows start through a {@link WorkflowStarter}.
 *
 * The control plane (`shared/control/`) is platform-free: the control events and their answers
 * (`events.ts`), their handlers (here) and the one job-status model (`status.ts`). It may import the
 * planner, the store and the workflow contract; `functions/dispatcher.ts` and the CLI import it.
 */

import { alertBody } from '../alerts/alert.ts';
import { AlertRaiser } from '../alerts/notify.ts';
import { checkDeadline, unannouncedAlerts } from '../alerts/watchdog.ts';
import { BackfillStateError, ClockSkewError, InputError, StoreError } from '../errors.ts';
import { intervalToJson } from '../interval.ts';
import type { JobDefinition } from '../job.ts';
import {
  advanceChain,
  type BackfillCommand,
  type BackfillRequest,
  backfillBatchRuns,
  backfillId,
  backfillRequestOf,
  cancelRuns,
  chainRootOf,
  chainStatuses,
  changeBackfill,
  countBackfill,
  currentOfChain,
  DEFAULT_MAX_RUNS_PER_EXECUTION,
  type DownstreamBackfill,
  dispatch,
  downstreamBackfills,
  finishBackfill,
  listBackfillSummaries,
  markRange,
  planBackfill,
  planChainedBackfill,
  planScheduled,
  setJobPaused,
  validateBackfill,
  waitsFor,
  wakeAt,
} from '../planner/index.ts';
import type { JobRegistry } from '../registry.ts';
import { type AlertRange, alertStoreOf } from '../store/alerts.ts';
import type { StateStore } from '../store/types.ts';
import { errorMessage, IntervalsPlanned, IntervalsSkipped, Lag, logger, metrics } from '../telemetry.ts';
import { wakeExecutionName } from '../workflow/execution-name.ts';
import type {
  ExecutionInput,
  ExecutionStatus,
  JobStateMachines,
  WorkflowStarter,
} from '../workflow/starter.ts';
import { backfillSummaryJson } from './backfills.ts';
import type {
  BackfillChangeEvent,
  BackfillChangeResponse,
  BackfillNextEvent,
  BackfillNextResponse,
  BackfillPlanResponse,
  BackfillsResponse,
  CancelEvent,
  CancelResponse,
  ControlEvent,
  ControlResponse,
  DispatchResponse,
  DownstreamPlanJson,
  PauseEvent,
  PauseResponse,
  StatusResponse,
  WatchdogResponse,
} from './events.ts';
import { UNNAMED_ACTOR } from './events.ts';
import { history, intervals, runInterval, runs } from './run-handlers.ts';
import { jobStatuses } from './status.ts';

/** What the control logic works with; opened once per Lambda container. */
export interface ControlDeps {
  readonly store: StateStore;
  readonly jobs: JobRegistry;
  /** Starts scheduled executions (Step Functions on AWS). */
  readonly starter: WorkflowStarter;
  /** Where the job state machines are (backfill batches name theirs). */
  readonly machines: JobStateMachines;
  /** @default () => new Date() */
  readonly now?: () => Date;
  /** Milliseconds left in this invocation (Lambda's `getRemainingTimeInMillis`). @default unlimited */
  readonly remainingMs?: () => number;
  /** Planning stops once less than this is left, so the answer is sent in time. @default 30_000 */
  readonly reserveMs?: number;
  /** Runs per execution at most. @default 500 */
  readonly maxRunsPerExecution?: number;
  /** A backfill over more intervals is refused. @default 1_000_000 */
  readonly maxBackfillIntervals?: number;
  /** Stops the Fargate tasks of cancelled runs (ECS on AWS). @default none: stage runners stop at their next poll */
  readonly tasks?: TaskStopper;
}

/** Stops the ECS task of a cancelled run's Fargate stage (`piko cancel --aws`). */
export interface TaskStopper {
  /**
   * Asks ECS to stop the task `taskArn` (the one the run recorded as its stage started), giving
   * `reason` as the task's stopped reason. Stopping a task that has stopped already is harmless.
   */
  stopTask(taskArn: string, reason: string): Promise<void>;
}

/** Intervals a dry run lists (the answer is state machine state: it must stay small). */
export const DRY_RUN_SAMPLE_SIZE = 20;
/** How long the backfill state machine waits when a batch of the backfill is already running. */
export const BACKFILL_BUSY_WAIT_SECONDS = 30;
/** The longest wait of a backfill whose runs wait for their upstream intervals. */
export const BACKFILL_WAITING_MAX_WAIT_SECONDS = 900;

/**
 * How long a backfill whose runs have waited `waitedMs` for their upstream intervals waits before it
 * asks again: a tenth of that, from {@link BACKFILL_BUSY_WAIT_SECONDS} to
 * {@link BACKFILL_WAITING_MAX_WAIT_SECONDS}. An upstream interval that failed waits for an operator
 * to re-run it, maybe for days, and a loop asking every 30 s all that time costs ~2,900 transitions
 * a day; a re-run upstream is then followed within a tenth of the time already waited (15 min at most).
 */
export function waitingBackfillWaitSeconds(waitedMs: number): number {
  const tenth = Math.ceil(Math.max(0, waitedMs) / 10_000);
  return Math.min(BACKFILL_WAITING_MAX_WAIT_SECONDS, Math.max(BACKFILL_BUSY_WAIT_SECONDS, tenth));
}

/** How long the backfill state machine waits, and asks again, while the job is paused. */
export const BACKFILL_PAUSED_WAIT_SECONDS = 60;
/**
 * The part of the 256 KiB state limit a backfill batch may use: the backfill state machine carries
 * the batch's input in its state before starting it.
 */
export const BACKFILL_BATCH_BYTES = 160_000;
/** A run item without its config, as JSON, in bytes (ids, ISO interval, keys), rounded up. */
const RUN_ITEM_BYTES = 250;

/**
 * Handles one parsed control event.
 * @throws UnknownJobError, InputError, BackfillRefusedError for requests to refuse; StoreError and
 *   AWS errors (from the starter) for failures worth retrying.
 */
export async function handleControlEvent(deps: ControlDeps, event: ControlEvent): Promise<ControlResponse> {
  switch (event.action) {
    case 'dispatch':
      return dispatchJob(deps, deps.jobs.get(event.jobId), event.action, { asker: false });
    case 'continue':
      return continueJob(deps, deps.jobs.get(event.jobId), event.executionName);
    case 'status':
      return status(deps, event.jobId);
    case 'pause':
    case 'resume':
      return pause(deps, deps.jobs.get(event.jobId), event);
    case 'backfill-plan':
      return backfillPlan(deps, event.request);
    case 'backfill-next':
      return backfillNext(deps, event);
    case 'runs':
      return runs(deps, event);
    case 'intervals':
      return intervals(deps, event);
    case 'history':
      return history(deps, event);
    case 'run':
      return runInterval(deps, event, clock(deps)());
    case 'watchdog':
      return watchdog(deps);
    case 'backfills':
      return backfills(deps, event.jobId);
    case 'backfill-pause':
    case 'backfill-resume':
    case 'backfill-cancel':
      return backfillChange(deps, event);
    case 'cancel':
      return cancel(deps, event);
    case 'mark': {
      const job = deps.jobs.get(event.jobId);
      const request = {
        from: new Date(event.from),
        to: new Date(event.to),
        as: event.as,
        dryRun: event.dryRun,
      };
      const outcome = await markRange(
        deps.store,
        job,
        request,
        { actor: event.actor, reason: event.reason },
        clock(deps)(),
      );
      return { action: 'mark', ...outcome };
    }
  }
}

/**
 * Cancels runs (the planner's `cancelRuns`); for each cancelled run that was running a Fargate stage
 * in a known ECS task, also asks ECS to stop that task (`deps.tasks`), so the stage ends now rather
 * than at its next cancel poll. The task's container sees SIGTERM, finds its run cancelled and ends
 * as cancelled; the workflow execution goes on with its other runs.
 */
async function cancel(deps: ControlDeps, event: CancelEvent): Promise<CancelResponse> {
  const job = deps.jobs.get(event.jobId);
  const range = { from: new Date(event.from), to: new Date(event.to) };
  const outcome = await cancelRuns(deps.store, job, range, { actor: event.actor, reason: event.reason });
  const stoppedTasks: string[] = [];
  if (!deps.tasks) return { action: 'cancel', ...outcome, stoppedTasks };
  const reason = event.reason
    ? `Cancelled by ${event.actor}: ${event.reason}`
    : `Cancelled by ${event.actor}`;
  for (const run of outcome.cancelled) {
    if (run.status !== 'running') continue;
    // The row as the cancel left it: the stage it was running and that stage's task.
    const record = await deps.store.getRun(run.runId);
    const stage = job.stages.find((candidate) => candidate.name === record?.stage);
    if (!record?.taskArn || stage?.kind !== 'fargate') continue;
    try {
      await deps.tasks.stopTask(record.taskArn, reason);
      stoppedTasks.push(record.taskArn);
    } catch (error) {
      // The run is cancelled in the state table already; its stage runner stops at its next poll.
      logger.warn('could not stop the task of a cancelled run', {
        jobId: job.id,
        runId: run.runId,
        taskArn: record.taskArn,
        error: errorMessage(error),
      });
    }
  }
  if (stoppedTasks.length > 0)
    logger.info('tasks of cancelled runs stopped', { jobId: job.id, stoppedTasks });
  return { action: 'cancel', ...outcome, stoppedTasks };
}

/**
 * Checks the deadline of every job that has one (`shared/alerts/watchdog.ts`) and raises each newly
 * late range once: a log line and the job's `IntervalsLate` count, which its alarm sends to SNS. A
 * job whose check fails is answered, not thrown, so one job's trouble never stops the others' checks.
 */
async function watchdog(deps: ControlDeps): Promise<WatchdogResponse> {
  const now = clock(deps)();
  const alerts = alertStoreOf(deps.store);
  const raiser = new AlertRaiser({ store: alerts, clock: clock(deps) });
  const jobs = deps.jobs.list().filter((job) => job.deadlineMs !== undefined);
  const late: WatchdogResponse['late'][number][] = [];
  const failed: WatchdogResponse['failed'][number][] = [];
  // First what a crash left claimed and unraised (a planning's skip, an earlier check's late ranges).
  try {
    const deadlineOf = (jobId: string) =>
      deps.jobs.has(jobId) ? deps.jobs.get(jobId).deadlineMs : undefined;
    for (const alert of await unannouncedAlerts(alerts, deadlineOf, now)) {
      raiser.raise(alert);
      if (alert.kind === 'late') {
        const body = alertBody(alert);
        late.push({ jobId: alert.jobId, count: body.count, intervals: body.intervals });
      }
    }
  } catch (error) {
    logger.error('alerts left unraised not swept', { error: errorMessage(error) });
  }
  for (const job of jobs) {
    try {
      const alert = await checkDeadline(alerts, job, now);
      if (!alert) continue;
      raiser.raise(alert);
      const body = alertBody(alert);
      late.push({ jobId: job.id, count: body.count, intervals: body.intervals });
    } catch (error) {
      const message = errorMessage(error);
      logger.error('deadline check failed', { jobId: job.id, error: message });
      failed.push({ jobId: job.id, error: message });
    }
  }
  // Their records as raised, before the Lambda answers (and may be frozen).
  await raiser.whenIdle();
  return { action: 'watchdog', checked: jobs.length, late, failed };
}

/** Every backfill (or a job's), newest first, with its progress. */
async function backfills(deps: ControlDeps, jobId: string | undefined): Promise<BackfillsResponse> {
  if (jobId !== undefined) deps.jobs.get(jobId);
  const concurrency = (id: string) => deps.jobs.list().find((job) => job.id === id)?.concurrency;
  const summaries = await listBackfillSummaries(deps.store, concurrency, jobId);
  const backfills = [];
  for (const summary of summaries) {
    const json = backfillSummaryJson(summary);
    const chain = await deps.store.getBackfillChain(json.backfillId);
    if (chain?.kind !== 'root' || chain.downstream.length === 0) {
      backfills.push(json);
      continue;
    }
    const downstream = (await chainStatuses(deps.store, chain)).map((link) => ({
      jobId: link.jobId,
      backfillId: link.backfillId,
      from: link.from.toISOString(),
      to: link.to.toISOString(),
      status: link.status,
    }));
    backfills.push({ ...json, downstream });
  }
  return { action: 'backfills', backfills };
}

/**
 * Pauses, resumes or cancels a backfill, recorded with who and why. The backfill state machine
 * notices at its next `backfill-next`: it waits while paused and ends when cancelled; resuming a
 * cancelled backfill answers the request to start it again with.
 */
async function backfillChange(
  deps: ControlDeps,
  event: BackfillChangeEvent,
): Promise<BackfillChangeResponse> {
  let record = await deps.store.getBackfill(event.backfillId);
  if (!record)
    throw new BackfillStateError(`No backfill "${event.backfillId}"; piko backfills --aws lists them`);
  // A done upstream backfill whose chain drives a downstream one: the command is for that one
  // (the later ones of the chain start only after it, so they are paused or cancelled with it).
  const chain = await deps.store.getBackfillChain(record.backfillId);
  if (record.status === 'done' && chain?.kind === 'root' && chain.current >= 0) {
    const current = await deps.store.getBackfill(
      currentOfChain(record.backfillId, record.jobId, chain).backfillId,
    );
    if (current) record = current;
  }
  const job = deps.jobs.get(record.jobId);
  const command = event.action.slice('backfill-'.length) as BackfillCommand;
  const change = await changeBackfill(deps.store, job, record.backfillId, command, event);
  logger.info(`backfill ${command}`, { ...change, actor: event.actor, reason: event.reason ?? null });
  if (command !== 'resume' || change.from !== 'cancelled') return { action: event.action, ...change };
  // Its execution has ended: a new one starts with the request of the chain's upstream backfill,
  // which resumes the chain where it was.
  const rootId = await chainRootOf(deps.store, record.backfillId);
  const root = rootId === undefined ? record : ((await deps.store.getBackfill(rootId)) ?? record);
  const request = backfillRequestOf(root);
  const restart = {
    jobId: request.jobId,
    from: request.from.toISOString(),
    to: request.to.toISOString(),
    reprocess: request.reprocess,
    dryRun: false as const,
    reverse: request.reverse,
    config: request.config,
    ...(rootId === undefined ? {} : { downstream: true as const }),
  };
  return { action: event.action, ...change, restart };
}

const clock = (deps: ControlDeps) => deps.now ?? (() => new Date());

function budget(deps: ControlDeps): () => boolean {
  const remaining = deps.remainingMs;
  const reserve = deps.reserveMs ?? 30_000;
  return remaining ? () => remaining() < reserve : () => false;
}

/**
 * A scheduled execution of the job ended (its workflow's last step): goes on with the job's backlog,
 * then dispatches its downstream jobs (DESIGN.md §9), whose waiting runs the execution's successes
 * may have made ready, at once rather than at their next tick.
 */
async function continueJob(
  deps: ControlDeps,
  job: JobDefinition,
  executionName: string | undefined,
): Promise<DispatchResponse> {
  const response = await dispatchJob(deps, job, 'continue', { asker: true, endedExecution: executionName });
  const downstream: DispatchResponse[] = [];
  for (const next of deps.jobs.downstreams(job.id))
    downstream.push(await dispatchJob(deps, next, 'continue', { asker: false }));
  return downstream.length > 0 ? { ...response, downstream } : response;
}

/** Jobs whose clock skew this container has logged already: said once, not at every tick. */
const skewedJobs = new Set<string>();

/** Who reads a dispatch's answer: whether it waits for the answer's `wakeAt` itself. */
interface DispatchCaller {
  /**
   * True for the last step of the job's own workflow (`continue` of that job): it waits until
   * `wakeAt` and asks again. Otherwise (a tick, a downstream dispatch) nothing waits for the answer,
   * so a wake needed is an execution started to wait ({@link startWake}).
   */
  readonly asker: boolean;
  /** The asking execution, taken as ended (see ContinueEvent). @default none */
  readonly endedExecution?: string;
}

/**
 * Plans the job's due intervals within the time budget, then dispatches its scheduled lane. A job
 * whose planning meets a ClockSkewError is neither planned nor dispatched; the answer says why.
 */
async function dispatchJob(
  deps: ControlDeps,
  job: JobDefinition,
  action: 'dispatch' | 'continue',
  { asker, endedExecution }: DispatchCaller,
): Promise<DispatchResponse> {
  const now = clock(deps)();
  let plan: Awaited<ReturnType<typeof planScheduled>>;
  try {
    plan = await planScheduled(deps.store, job, now, budget(deps));
    skewedJobs.delete(job.id);
  } catch (error) {
    if (!(error instanceof ClockSkewError)) throw error;
    // Answered, not thrown: a Lambda error would be retried at once, and retrying cannot fix a
    // clock. Nothing is dispatched either (pending runs may be of intervals that have not happened).
    if (!skewedJobs.has(job.id))
      logger.error('job not planned: clock skew', { jobId: job.id, error: error.message });
    skewedJobs.add(job.id);
    const state = await deps.store.getJob(job.id);
    return {
      action,
      jobId: job.id,
      planned: 0,
      skipped: 0,
      watermark: (state?.watermark ?? now).toISOString(),
      more: false,
      paused: state?.paused ?? false,
      started: [],
      restarted: [],
      requeued: 0,
      live: [],
      clockSkew: error.message,
    };
  }
  if (plan.planned > 0) metrics.addMetric(IntervalsPlanned, 'Count', plan.planned);
  if (plan.skipped > 0) metrics.addMetric(IntervalsSkipped, 'Count', plan.skipped);
  await raiseSkipped(deps, job, plan, now);
  const result = await dispatch(deps.store, job, deps.starter, {
    lane: { kind: 'scheduled' },
    maxRunsPerExecution: deps.maxRunsPerExecution ?? DEFAULT_MAX_RUNS_PER_EXECUTION,
    concurrency: job.concurrency,
    waitsFor: waitsFor(job, deps.jobs),
    now,
    endedExecution,
  });
  const wake = wakeAt({ now, delayedUntil: result.delayedUntil, nextTick: job.schedule.nextTick(now) });
  const wakeExecution = wake && !asker ? await startWake(deps, job, wake) : undefined;
  for (const input of result.started) {
    const oldest = input.runs[0];
    if (oldest)
      metrics.addMetric(Lag, 'Milliseconds', Math.max(0, now.getTime() - Date.parse(oldest.interval.end)));
  }
  const response: DispatchResponse = {
    action,
    jobId: job.id,
    planned: plan.planned,
    skipped: plan.skipped,
    watermark: plan.watermark.toISOString(),
    more: plan.more,
    paused: plan.paused || result.paused,
    started: result.started.map((input) => ({ executionName: input.executionName, runs: input.runs.length })),
    restarted: result.restarted,
    requeued: result.requeued,
    live: result.live,
    ...(result.released !== undefined && { released: result.released, timedOut: result.timedOut ?? 0 }),
    ...(wake && { wakeAt: wake.toISOString() }),
    ...(wakeExecution && { wakeExecution }),
  };
  logger.info('dispatched', { ...response });
  return response;
}

/**
 * Starts an execution of the job's workflow that holds no runs, so that its last step waits until
 * `wake` and then asks the dispatcher to continue, as the execution that ends a batch does. For the
 * runs a tick (or a downstream dispatch) requeued with a delay while no execution of the job is live:
 * nothing else would dispatch them before the job's next tick, a day away for a daily job. One name
 * per job and instant, so racing dispatchers start it once. Returns its name.
 */
async function startWake(deps: ControlDeps, job: JobDefinition, wake: Date): Promise<string> {
  const executionName = wakeExecutionName(job.id, wake);
  await deps.starter.start({ jobId: job.id, executionName, lane: 'scheduled', backfillId: null, runs: [] });
  return executionName;
}

/**
 * Raises the alert of the intervals a planning skipped, claimed in its transaction, and waits for
 * its record as raised (a Lambda may be frozen once it answers). Never throws: the planning has
 * committed and dispatching must go on; a raising cut short is the watchdog sweep's.
 */
async function raiseSkipped(
  deps: ControlDeps,
  job: JobDefinition,
  plan: { readonly skippedClaimed: readonly AlertRange[] },
  now: Date,
): Promise<void> {
  if (plan.skippedClaimed.length === 0) return;
  const raiser = new AlertRaiser({ store: alertStoreOf(deps.store), clock: clock(deps) });
  raiser.raise({ kind: 'skipped', jobId: job.id, ranges: plan.skippedClaimed, raisedAt: now });
  await raiser.whenIdle();
}

async function status(deps: ControlDeps, jobId: string | undefined): Promise<StatusResponse> {
  const jobs = jobId === undefined ? deps.jobs.list() : [deps.jobs.get(jobId)];
  return {
    action: 'status',
    jobs: await jobStatuses(deps.store, jobs, (job) => deps.jobs.upstreams(job.id)),
  };
}

async function pause(deps: ControlDeps, job: JobDefinition, event: PauseEvent): Promise<PauseResponse> {
  const { action } = event;
  const paused = action === 'pause';
  await setJobPaused(deps.store, job, paused, {
    actor: event.actor ?? UNNAMED_ACTOR,
    reason: event.reason ?? null,
  });
  logger.info(paused ? 'job paused' : 'job resumed', { jobId: job.id });
  return { action, jobId: job.id, paused };
}

/**
 * Validates and plans a backfill within the time budget (`backfill-next` plans the rest). A dry run
 * writes nothing and answers the counts and the first intervals.
 */
async function backfillPlan(deps: ControlDeps, request: BackfillRequest): Promise<BackfillPlanResponse> {
  const job = deps.jobs.get(request.jobId);
  const now = clock(deps)();
  const limits = { maxBackfillIntervals: deps.maxBackfillIntervals };
  const base = {
    action: 'backfill-plan' as const,
    backfillId: backfillId(request),
    jobId: job.id,
    dryRun: request.dryRun ?? false,
    reverse: request.reverse ?? false,
  };
  if (request.dryRun) {
    validateBackfill(job, request, now, limits);
    const { counts, sample, notShown } = await countBackfill(deps.store, job, request, {
      sampleSize: DRY_RUN_SAMPLE_SIZE,
    });
    const sampleJson = sample.map((planned) => ({ ...intervalToJson(planned), action: planned.action }));
    const downstream = request.downstream
      ? { downstream: downstreamJson(await downstreamBackfills(deps.store, deps.jobs, job, request, now)) }
      : {};
    return { ...base, planned: true, counts, sample: sampleJson, notShown, ...downstream };
  }
  if (request.downstream) {
    const { plan, downstream } = await planChainedBackfill(
      deps.store,
      deps.jobs,
      request,
      now,
      limits,
      budget(deps),
    );
    const found = downstream === undefined ? {} : { downstream: downstreamJson(downstream) };
    logger.info('backfill planned', { ...base, planned: plan.done, counts: plan.counts, ...found });
    return { ...base, planned: plan.done, counts: plan.counts, ...found };
  }
  const result = await planBackfill(deps.store, job, request, now, limits, budget(deps));
  logger.info('backfill planned', { ...base, planned: result.done, counts: result.counts });
  return { ...base, backfillId: result.backfillId, planned: result.done, counts: result.counts };
}

/** Ranges a `backfill-plan` answer lists per downstream job (the answer is state machine state). */
export const DOWNSTREAM_RANGES_SHOWN = 20;

/** Downstream backfills as a `backfill-plan` answer carries them: small, whatever their size. */
function downstreamJson(downstream: readonly DownstreamBackfill[]): DownstreamPlanJson[] {
  return downstream.map((stale) => ({
    jobId: stale.job.id,
    dependsOn: stale.job.dependsOn,
    intervals: stale.intervals,
    ranges: stale.ranges.slice(0, DOWNSTREAM_RANGES_SHOWN).map((range) => ({
      ...intervalToJson(range),
      intervals: range.count,
    })),
    rangesNotShown: Math.max(0, stale.ranges.length - DOWNSTREAM_RANGES_SHOWN),
  }));
}

/**
 * The backfill state machine's loop step: finishes planning if the budget cut it short, then takes the
 * next batch of the backfill's pending runs. The batch is not started here: the state machine starts
 * it with `startExecution.sync` and waits for it, so batches run one after another.
 */
async function backfillNext(deps: ControlDeps, event: BackfillNextEvent): Promise<BackfillNextResponse> {
  const job = deps.jobs.get(event.jobId);
  const now = clock(deps)();
  const record = await deps.store.getBackfill(event.backfillId);
  if (!record || record.jobId !== job.id) {
    throw new InputError(
      `No backfill "${event.backfillId}" of job "${job.id}": start it with backfill-plan (the backfill state machine does)`,
    );
  }
  // An operator's cancel ends the backfill state machine; a pause keeps it waiting here.
  if (record.status === 'cancelled') {
    logger.info('backfill cancelled: the state machine ends', {
      jobId: job.id,
      backfillId: record.backfillId,
    });
    return { action: 'backfill-next', done: true, cancelled: true };
  }
  if (record.status === 'paused') {
    return { action: 'backfill-next', done: false, waitSeconds: BACKFILL_PAUSED_WAIT_SECONDS };
  }
  // A backfill whose planning failed resumes from its cursor (a retry of this step, a new start).
  if (record.status === 'planning' || record.status === 'failed') {
    const request: BackfillRequest = {
      jobId: job.id,
      from: record.range.start,
      to: record.range.end,
      reprocess: record.reprocess,
      reverse: record.reverse,
      config: record.config,
    };
    // planBackfill finds the backfill by the request's id: a different id would start another one.
    if (backfillId(request) !== record.backfillId) {
      throw new StoreError(
        `Backfill "${record.backfillId}" does not match its stored request; start it again with backfill-plan`,
      );
    }
    await planBackfill(
      deps.store,
      job,
      request,
      now,
      { maxBackfillIntervals: deps.maxBackfillIntervals },
      budget(deps),
    );
  }

  const capture = new CapturingStarter(deps.starter);
  const result = await dispatch(deps.store, job, capture, {
    lane: { kind: 'backfill', backfillId: record.backfillId },
    maxExecutions: 1,
    newestFirst: event.reverse,
    maxRunsPerExecution: Math.min(
      runsPerBatch(record.config, deps.maxRunsPerExecution),
      backfillBatchRuns(job, record.concurrency) ?? Number.POSITIVE_INFINITY,
    ),
    waitsFor: waitsFor(job, deps.jobs),
    now,
  });
  const [execution] = capture.captured;
  if (execution) {
    return {
      action: 'backfill-next',
      done: false,
      execution,
      stateMachineArn: deps.machines.stateMachineArn(job.id),
    };
  }
  if (result.live.length > 0) {
    return { action: 'backfill-next', done: false, waitSeconds: BACKFILL_BUSY_WAIT_SECONDS };
  }
  // A paused job starts nothing, backfills included: the backfill waits and goes on after resume.
  if (result.paused) {
    logger.info('backfill waits: the job is paused', { jobId: job.id, backfillId: record.backfillId });
    return { action: 'backfill-next', done: false, waitSeconds: BACKFILL_PAUSED_WAIT_SECONDS };
  }
  // Runs requeued with a delay (their store connection was lost): ask again once the first is due,
  // rather than calling the backfill done and leaving them pending for ever.
  if (result.delayedUntil) {
    const waitMs = result.delayedUntil.getTime() - now.getTime();
    return { action: 'backfill-next', done: false, waitSeconds: Math.max(1, Math.ceil(waitMs / 1000)) };
  }
  // Runs waiting for their upstream intervals (a --downstream backfill's): ask again after a wait.
  const [waiting] = await deps.store.findRuns(job.id, {
    backfillId: record.backfillId,
    statuses: ['waiting'],
    limit: 1,
  });
  if (waiting) {
    const waitedMs = now.getTime() - waiting.updatedAt.getTime();
    return { action: 'backfill-next', done: false, waitSeconds: waitingBackfillWaitSeconds(waitedMs) };
  }
  const after = await deps.store.getBackfill(record.backfillId);
  if (after?.status === 'planning') return { action: 'backfill-next', done: false, waitSeconds: 0 };
  // Paused or cancelled since it was read: the next step sees it.
  if (after?.status === 'paused' || after?.status === 'cancelled') {
    return { action: 'backfill-next', done: false, waitSeconds: 0 };
  }
  await finishBackfill(deps.store, job, record.backfillId);
  logger.info('backfill done', { jobId: job.id, backfillId: record.backfillId });
  // A --downstream backfill goes on with the next backfill of its chain, in the same execution.
  const following = await advanceChain(
    deps.store,
    deps.jobs,
    { jobId: job.id, backfillId: record.backfillId },
    now,
    { maxBackfillIntervals: deps.maxBackfillIntervals },
    budget(deps),
  );
  if (following) {
    logger.info('downstream backfill follows', { jobId: job.id, backfillId: record.backfillId, following });
    return { action: 'backfill-next', done: false, following: { ...following, reverse: false } };
  }
  return { action: 'backfill-next', done: true };
}

/**
 * Runs per backfill batch: every run item carries the backfill's config override, so a large config
 * means fewer runs per batch, keeping the batch within {@link BACKFILL_BATCH_BYTES}.
 */
export function runsPerBatch(config: unknown, maxRuns = DEFAULT_MAX_RUNS_PER_EXECUTION): number {
  const configBytes = Buffer.byteLength(JSON.stringify(config ?? null));
  return Math.max(1, Math.min(maxRuns, Math.floor(BACKFILL_BATCH_BYTES / (RUN_ITEM_BYTES + configBytes))));
}

/**
 * Records what `dispatch` would start instead of starting it (the backfill state machine starts it);
 * asks the real starter for statuses, so lost and ended batches are repaired as usual.
 */
class CapturingStarter implements WorkflowStarter {
  readonly captured: ExecutionInput[] = [];
  readonly #inner: WorkflowStarter;

  constructor(inner: WorkflowStarter) {
    this.#inner = inner;
  }

  async start(input: ExecutionInput): Promise<void> {
    this.captured.push(input);
  }

  status(jobId: string, executionName: string): Promise<ExecutionStatus> {
    return this.#inner.status(jobId, executionName);
  }
}
