/**
 * The local runtime (`shared/local/`, DESIGN.md §6): this orchestrator, which plans and dispatches on
 * each job's ticks; the workflow executor, starter and renderer that run the job workflow's ASL in
 * aws-local-stepfunctions (`workflow/`); Fargate stages as child processes (`fargate-process.ts`,
 * `fargate-child.ts`); retry backoff (`backoff.ts`) and progress lines (`progress.ts`). It may import
 * everything below the CLI (planner, store, runner, workflow, control), and aws-cdk-lib to render.
 */
import {
  ClockSkewError,
  RuntimeStoppingError,
  StoreCorruptError,
  StoreError,
  StoreUnavailableError,
} from '../errors.ts';
import type { Interval } from '../interval.ts';
import type { JobDefinition } from '../job.ts';
import {
  type DispatchResult,
  dispatch,
  dispatchManualRun,
  isBackfillHeld,
  type OperatorRequest,
  planScheduled,
  waitsFor,
} from '../planner/index.ts';
import type { ProcessServices } from '../runner/process.ts';
import { runStage } from '../runner/stage-runner.ts';
import { ENV_JOB_ID } from '../stack/env.ts';
import { leaseStoreOf } from '../store/leases.ts';
import type { DispatchLane, RunRecord } from '../store/types.ts';
import { errorMessage, redact } from '../telemetry.ts';
import { type StagePayload, stageErrorMessage } from '../workflow/stage-event.ts';
import type { ExecutionInput } from '../workflow/starter.ts';
import { LocalAlerts } from './alerts.ts';
import { BackfillDrivers } from './backfill-drivers.ts';
import { KeyedWaits, retryDelayMs, retryDelaysTotalMs } from './backoff.ts';
import { FargateProcesses } from './fargate-process.ts';
import { ExecutionLeases, type HeartbeatFailure } from './leases.ts';
import * as progress from './progress.ts';
import { startingInTurn } from './workflow/in-turn.ts';
import { LeasedWorkflowStarter } from './workflow/leased-starter.ts';
import { renderJobWorkflow } from './workflow/render.ts';

/** The runtime's progress lines (the type lives with their builders). */
export type { ProgressEvent } from './progress.ts';

/** Longest a timer waits before looking again (setTimeout's limit is about 24.8 days). */
const MAX_TIMER_MS = 60 * 60 * 1000;
/**
 * The in-flight runs of a job one sweep for left work reads, at most: enough to name its executions
 * (a scheduled lane has one live at a time, a manual run one of its own).
 */
const LEFT_WORK_SCAN_RUNS = 1_000;
/** How long `runOnce` waits before it looks again at runs in flight elsewhere. */
const ONCE_RECHECK_MS = 200;
/** After the grace period and the abort, how long {@link LocalRuntime.stop} still waits for running work. */
export const STOP_AFTER_ABORT_MS = 5_000;

/** Options of the local runtime. */
export interface LocalRuntimeOptions {
  /** The process's store, jobs and resources. */
  readonly process: ProcessServices;
  /** Where progress goes. @default nothing */
  readonly onProgress?: (event: progress.ProgressEvent) => void;
  /** @default () => new Date() */
  readonly clock?: () => Date;
  /** Retry without waiting for backoff (tests). @default false */
  readonly noRetryWaits?: boolean;
  /**
   * Give up after this many store failures in a row of one job's planning or dispatch (`start
   * --once`, which must end), or once the heartbeat of the executions' leases has failed for as long
   * as those retries wait ({@link retryDelaysTotalMs}): {@link LocalRuntime.fatal} then settles.
   * @default - retry until it works (stages wait for their lease to be renewed)
   */
  readonly maxStoreFailures?: number;
}

/** Counts of what the runtime ran since it started. */
export interface RunTotals {
  planned: number;
  skipped: number;
  succeeded: number;
  failed: number;
}

/**
 * The local orchestrator (DESIGN.md §6): plans every job at start and at each job's next tick, and
 * runs each batch through the job's workflow definition, the one the CDK construct renders, in
 * aws-local-stepfunctions: Lambda stages in process, Fargate stages in a child process.
 */
export class LocalRuntime {
  readonly totals: RunTotals = { planned: 0, skipped: 0, succeeded: 0, failed: 0 };
  /**
   * The backfills this runtime drives, each under its driver lease (`backfill-drivers.ts`): the one
   * `piko backfill` asked for ({@link BackfillDrivers.drive}), or with {@link watchBackfills}, every
   * unfinished one nobody drives.
   */
  readonly backfills: BackfillDrivers;
  /** Jobs not planned because this clock disagrees with their state (ClockSkewError). */
  get clockSkewedJobs(): number {
    return this.#skewed.size;
  }
  /** Re-dispatches waiting for a requeue delay to pass, by job id. */
  readonly #requeueTimers = new KeyedWaits();
  /** Jobs whose planning stopped on a ClockSkewError, already reported. */
  readonly #skewed = new Set<string>();
  readonly #process: ProcessServices;
  readonly #clock: () => Date;
  readonly #progress: (event: progress.ProgressEvent) => void;
  readonly #starter: LeasedWorkflowStarter;
  readonly #timers = new Map<string, NodeJS.Timeout>();
  readonly #fargate = new FargateProcesses();
  /** Planning retries waiting for their backoff, by job id. */
  readonly #retryTimers = new KeyedWaits();
  /** Consecutive failed plannings or dispatches, by job id. */
  readonly #failures = new Map<string, number>();
  /** Dispatches of downstream jobs after an upstream success, running, by job id. */
  readonly #downstreamDispatches = new Set<string>();
  /** Downstream jobs to dispatch again once their running dispatch ends (another success came). */
  readonly #downstreamAgain = new Set<string>();
  /** Retries waiting or running: {@link LocalRuntime.whenIdle} waits for them too. */
  readonly #background = new Set<Promise<void>>();
  readonly #maxStoreFailures: number | undefined;
  /** The deadline watchdog, skip alerts and webhook (shared/local/alerts.ts). */
  readonly #alerts: LocalAlerts;
  #stopping = false;
  /** Set once the runtime plans the jobs: it then takes over what other runtimes leave (DESIGN.md §8). */
  #followsOthers = false;
  /** The sweep for work other runtimes left ({@link scheduleTicks}), and whether one is under way. */
  #leftWorkTimer: NodeJS.Timeout | undefined;
  #sweepingLeftWork = false;
  #firstRun: (() => void) | undefined;
  #fatalError: StoreError | undefined;
  #onFatal: (error: StoreError) => void = () => {};
  /**
   * Settles with the store error the runtime gave up on: a corrupt store (always fatal), or with
   * `maxStoreFailures`, a store that kept failing. Never settles otherwise.
   */
  readonly fatal: Promise<StoreError> = new Promise((resolve) => {
    this.#onFatal = resolve;
  });

  constructor(options: LocalRuntimeOptions) {
    this.#maxStoreFailures = options.maxStoreFailures;
    this.#process = options.process;
    this.#clock = options.clock ?? (() => new Date());
    this.#progress = options.onProgress ?? (() => {});
    this.#alerts = new LocalAlerts({ process: this.#process, clock: this.#clock, progress: this.#progress });
    const dataDir = this.#process.config.piko.dataDir;
    this.#starter = new LeasedWorkflowStarter({
      // Several runtimes may share the store: each execution runs under a lease (shared/local/leases.ts).
      leases: (onChange) =>
        new ExecutionLeases({
          store: leaseStoreOf(this.#process.store),
          ttlMs: this.#process.config.runtime.leaseSeconds * 1_000,
          onChange,
          onHeartbeatError: (failure) => this.#heartbeatFailed(failure),
        }),
      onNotice: (notice) => this.#progress(notice),
      onOthersDone: (jobId) => this.#takeOverLeftWork(jobId),
      workflowOf: (jobId) => renderJobWorkflow(this.#process.jobs.get(jobId), { dataDir }),
      noRetryWaits: options.noRetryWaits,
      bindings: {
        invokeStage: (payload) => this.#invokeStage(payload),
        runFargateTask: (request, context) =>
          this.#fargate.run({ ...request.environment, [ENV_JOB_ID]: request.jobId }, context.signal),
        continueDispatch: (jobId) => this.#continue(jobId),
      },
      onExecutionEnd: (end) => {
        if (end.outcome === 'failed') {
          this.#progress(
            progress.executionFailed(end.input.jobId, end.input.executionName, errorMessage(end.error)),
          );
        }
      },
      // The dispatch that goes on with a backlog failed (the store is out of reach, say): try again
      // with backoff, or the backlog would wait for the job's next tick (a day, for a daily job).
      onContinueError: (error, jobId) => this.#retryLater(jobId, error, 'dispatch'),
    });
    this.backfills = new BackfillDrivers({
      store: this.#process.store,
      jobs: this.#process.jobs,
      lanes: this,
      // A holder of their own: a driver's lease is renewed and lost apart from the executions'.
      leases: new ExecutionLeases({
        store: leaseStoreOf(this.#process.store),
        ttlMs: this.#process.config.runtime.leaseSeconds * 1_000,
      }),
      maxBackfillIntervals: this.#process.config.piko.maxBackfillIntervals,
      clock: this.#clock,
      onProgress: (event) => this.#progress(event),
    });
  }

  /** Calls `listener` once, when the first stage of any run starts (to report start-up time). */
  onFirstRun(listener: () => void): void {
    this.#firstRun = listener;
  }

  /**
   * Plans and dispatches every job once; executions run in the background. A job whose planning or
   * dispatch fails is reported (`plan-error`) and tried again with backoff until it succeeds or the
   * runtime stops; {@link LocalRuntime.whenIdle} waits for those retries.
   */
  async planAll(): Promise<void> {
    this.#followsOthers = true;
    for (const job of this.#process.jobs.list()) await this.#planOrRetry(job, 'plan');
  }

  /** Plans one job's due intervals and dispatches its pending runs (scheduled lane). */
  async planJob(job: JobDefinition): Promise<void> {
    if (this.#stopping) return;
    const now = this.#clock();
    let result: Awaited<ReturnType<typeof planScheduled>>;
    try {
      result = await planScheduled(this.#process.store, job, now, undefined, {
        clockToleranceMs: this.#process.config.piko.clockSkewToleranceSeconds * 1_000,
        databaseClockToleranceMs: this.#process.config.mysql.serverClockToleranceSeconds * 1_000,
      });
    } catch (error) {
      // Chunks already committed are pending runs: dispatch them even though planning the rest
      // failed (a full disk, a lost connection), rather than leave them waiting for the store.
      if (error instanceof StoreUnavailableError) {
        await this.dispatchLane(job, { kind: 'scheduled' }).catch(() => undefined);
      }
      throw error;
    }
    if (result.paused) this.#progress(progress.paused(job.id));
    this.totals.planned += result.planned;
    this.totals.skipped += result.skipped;
    if (result.planned > 0 || result.skipped > 0) this.#progress(progress.planned(job.id, result));
    this.#alerts.skipped(job.id, result.skippedClaimed);
    await this.dispatchLane(job, { kind: 'scheduled' });
  }

  /**
   * Dispatches pending runs of one lane of a job (repairing in-flight ones first), at most `maxRuns`
   * per execution; says what it did. @default maxRuns the configured maxRunsPerExecution
   */
  async dispatchLane(
    job: JobDefinition,
    lane: DispatchLane,
    newestFirst = false,
    maxRuns?: number,
  ): Promise<DispatchResult> {
    if (this.#stopping)
      return { started: [], restarted: [], requeued: 0, failed: 0, live: [], paused: false };
    const configured = this.#process.config.piko.maxRunsPerExecution;
    // A backfill's next batch is queued while its current one runs and started when that one ends:
    // the batches still run one at a time, without the queuing's round trips between them.
    const queueAhead = lane.kind === 'backfill';
    const dispatching = dispatch(
      this.#process.store,
      job,
      queueAhead ? startingInTurn(this.#starter, (input) => this.#mayStartInTurn(input)) : this.#starter,
      {
        lane,
        maxRunsPerExecution: maxRuns === undefined ? configured : Math.min(maxRuns, configured),
        concurrency: job.concurrency,
        newestFirst,
        queueAhead,
        waitsFor: waitsFor(job, this.#process.jobs),
        now: this.#clock(),
      },
    );
    // Waiting for its turn, the batch queued ahead runs nowhere yet: whenIdle waits for it too.
    if (queueAhead) this.#inBackground(dispatching);
    const result = await dispatching;
    if (result.timedOut) this.totals.failed += result.timedOut;
    for (const input of result.started) {
      this.#progress(progress.dispatched(job.id, input.executionName, input.runs.length));
    }
    if (result.requeued > 0) await this.#redispatchAfterDelay(job);
    for (const name of result.restarted) this.#progress(progress.restarted(job.id, name));
    return result;
  }

  /**
   * Whether a batch queued ahead starts now that the one before it has ended. Not while stopping:
   * its runs stay queued and the lane's next dispatch restarts them. Not once its backfill was
   * cancelled (the cancel cancelled its queued runs) or paused: a paused backfill has no run queued,
   * so they go back to pending as a pause leaves them, neither counted nor delayed, for after resume.
   */
  async #mayStartInTurn(input: ExecutionInput): Promise<boolean> {
    if (this.#stopping) return false;
    if (input.backfillId === null) return true;
    const status = (await this.#process.store.getBackfill(input.backfillId))?.status;
    if (status === 'paused') {
      const runIds = input.runs.map((run) => run.runId);
      await this.#process.store.requeueRuns(runIds, undefined, undefined, false);
    }
    return !isBackfillHeld(status);
  }

  /**
   * Runs one interval now, as a manual run with its config override, in an execution of its own that
   * runs nothing else (`piko run`), recorded as `request`'s action when given. Wait for it with
   * {@link LocalRuntime.whenIdle}.
   * @throws JobPausedError when the job is paused; InputError when the interval is already in flight;
   *   RuntimeStoppingError once {@link stop} was called (its run would start as the runtime stops,
   *   and its handler be aborted when the grace period ends).
   */
  async runInterval(
    job: JobDefinition,
    interval: Interval,
    config: unknown,
    request?: OperatorRequest,
  ): Promise<void> {
    if (this.#stopping) throw new RuntimeStoppingError();
    const input = await dispatchManualRun(this.#process.store, job, interval, config, this.#starter, request);
    this.#progress(progress.dispatched(job.id, input.executionName, 1));
  }

  /** Resolves once none of these executions of the job runs here or in another live runtime. */
  async whenExecutionsEnd(jobId: string, executionNames: readonly string[]): Promise<void> {
    await Promise.all(
      executionNames.map((executionName) => this.#starter.whenEnded({ jobId, executionName })),
    );
  }

  /**
   * Adopts and runs every unfinished backfill no live process drives, now and every third of
   * `[runtime] lease_seconds` (a long-running `piko start`), until {@link LocalRuntime.stop}.
   */
  watchBackfills(): void {
    if (!this.#stopping) this.backfills.watch();
  }

  /** Keeps `work` in {@link whenIdle}'s sight until it settles; its outcome is its own to report. */
  #inBackground(work: Promise<unknown>): void {
    const settled = work.then(
      () => undefined,
      () => undefined,
    );
    this.#background.add(settled);
    void settled.then(() => this.#background.delete(settled));
  }

  /** Resolves when no execution is running (continuations included) and no retry is waiting or running. */
  async whenIdle(): Promise<void> {
    for (;;) {
      await this.#starter.whenIdle();
      if (this.#background.size === 0) return;
      await Promise.allSettled([...this.#background]);
    }
  }

  /** Plans every job until nothing due is left, running everything; for `piko start --once`. */
  async runOnce(): Promise<RunTotals> {
    await this.planAll();
    await this.whenIdle();
    // Runs still in flight now run elsewhere, or nowhere: another runtime that won a job's lane while
    // this one dispatched may not have started (or leased) its batch yet, so this dispatch saw nothing
    // to watch. Look again as a dispatch does (watching a batch another live runtime holds, starting
    // one nobody runs) until none is left.
    while (!this.#stopping && (await this.#inFlightElsewhere())) {
      await new Promise((resolve) => setTimeout(resolve, ONCE_RECHECK_MS));
      await this.planAll();
      await this.whenIdle();
    }
    // Deadlines are judged once at the end, and the alerts' webhook POSTs are waited for.
    await this.#alerts.checkNow();
    await this.#alerts.whenIdle();
    return this.totals;
  }

  /**
   * Re-plans each job at its next tick, and checks deadlines every `[alerts] check_seconds`, until
   * {@link LocalRuntime.stop}.
   */
  scheduleTicks(): void {
    for (const job of this.#process.jobs.list()) this.#armTimer(job);
    this.#alerts.watch();
    this.#watchLeftWork();
  }

  /**
   * Every third of the lease, looks for scheduled and manual runs in flight in executions nobody
   * runs (their runtime stopped on a signal with them unfinished, died, or its lease expired) and
   * takes their job's work over: a job's lane is otherwise repaired only at its next tick, an hour
   * away for an hourly job, a day for a daily one. An execution another live runtime holds is
   * watched instead, and taken over when it ends (as a dispatch that meets it does). Until stop.
   */
  #watchLeftWork(): void {
    if (this.#leftWorkTimer || this.#stopping) return;
    const everyMs = (this.#process.config.runtime.leaseSeconds * 1_000) / 3;
    this.#leftWorkTimer = setInterval(() => {
      if (this.#sweepingLeftWork || this.#stopping) return;
      this.#sweepingLeftWork = true;
      this.#inBackground(this.#sweepLeftWork().finally(() => (this.#sweepingLeftWork = false)));
    }, everyMs);
    this.#leftWorkTimer.unref();
  }

  /**
   * Whether a job this runtime can dispatch has scheduled or manual runs queued or running: not one
   * that is paused (its queued runs wait for the resume) or stopped by clock skew (its planning and
   * dispatch wait for the clock or the watermark to be fixed).
   */
  async #inFlightElsewhere(): Promise<boolean> {
    for (const job of this.#process.jobs.list()) {
      if (this.#skewed.has(job.id) || (await this.#process.store.getJob(job.id))?.paused) continue;
      if ((await this.#scheduledInFlight(job, 1)).length > 0) return true;
    }
    return false;
  }

  /** A job's scheduled and manual runs (not a backfill's) queued or running, at most `limit`. */
  #scheduledInFlight(job: JobDefinition, limit: number): Promise<RunRecord[]> {
    return this.#process.store.findRuns(job.id, { statuses: ['queued', 'running'], backfillId: null, limit });
  }

  async #sweepLeftWork(): Promise<void> {
    for (const job of this.#process.jobs.list()) {
      if (this.#stopping) return;
      try {
        const inFlight = await this.#scheduledInFlight(job, LEFT_WORK_SCAN_RUNS);
        const names = new Set(inFlight.map((run) => run.executionName).filter((name) => name !== null));
        for (const name of names) {
          if ((await this.#starter.status(job.id, name)) === 'running') continue;
          this.#takeOverLeftWork(job.id);
          break;
        }
      } catch {
        // The store out of reach: the job's next tick (or the next sweep) tries again.
      }
    }
  }

  /**
   * Stops: no new work; running intervals get `graceMs` to finish, then their handlers are aborted and
   * the rest is left queued for the next start. Closes nothing (the caller owns the process runtime).
   */
  async stop(graceMs: number, abortHandlers: AbortController): Promise<boolean> {
    this.#stopping = true;
    clearInterval(this.#leftWorkTimer);
    for (const timer of this.#timers.values()) clearTimeout(timer);
    this.#timers.clear();
    this.#retryTimers.endAll();
    this.#requeueTimers.endAll();
    // Backfills driven here dispatch nothing more and give their leases up, for another runtime.
    const drivesStopped = this.backfills.stop();
    this.#starter.abortAll(); // no new state starts; stages already running go on within the grace period
    // Alerts being POSTed get the grace period too, beside the running work.
    const alertsDone = this.#alerts.stop(graceMs);
    const idle = Promise.all([this.whenIdle(), drivesStopped]).then(() => undefined);
    const graceOver = new Promise<'timeout'>((resolve) =>
      setTimeout(() => resolve('timeout'), graceMs).unref(),
    );
    if ((await Promise.race([idle, graceOver])) === 'timeout') {
      this.#progress(progress.graceOver(graceMs));
      abortHandlers.abort(new Error('Piko is shutting down'));
      this.#fargate.stopAll();
      // Work stuck on a store that does not answer may never end: wait a bounded time, then leave
      // it (its runs stay queued or running, and the next start repairs them).
      const left = new Promise<'left'>((resolve) =>
        setTimeout(() => resolve('left'), STOP_AFTER_ABORT_MS).unref(),
      );
      if ((await Promise.race([idle, left])) === 'left') {
        this.#progress(progress.stopForced(STOP_AFTER_ABORT_MS));
        await alertsDone;
        return false;
      }
    }
    await alertsDone;
    return true;
  }

  /** The store error the runtime gave up on, if any (see {@link LocalRuntime.fatal}). */
  get fatalError(): StoreError | undefined {
    return this.#fatalError;
  }

  #armTimer(job: JobDefinition): void {
    if (this.#stopping) return;
    const now = this.#clock();
    const next = job.schedule.nextTick(now);
    if (!next) return;
    const delay = Math.min(Math.max(next.getTime() - now.getTime(), 0), MAX_TIMER_MS);
    const timer = setTimeout(() => {
      this.#timers.delete(job.id);
      void this.#planOrRetry(job, 'plan').finally(() => this.#armTimer(job));
    }, delay);
    this.#timers.set(job.id, timer);
  }

  /** Plans and dispatches a job; on failure, reports it and tries again later (never throws). */
  async #planOrRetry(job: JobDefinition, kind: 'plan' | 'dispatch'): Promise<void> {
    try {
      await this.planJob(job);
      this.#failures.delete(job.id);
      this.#skewed.delete(job.id);
    } catch (error) {
      if (error instanceof ClockSkewError) {
        // Not retried with backoff (retrying cannot fix a clock): said once, tried again at the next tick.
        if (!this.#skewed.has(job.id)) {
          this.#skewed.add(job.id);
          this.#progress(progress.clockSkew(job.id, error.message));
        }
        return;
      }
      this.#retryLater(job.id, error, kind);
    }
  }

  /**
   * Reports a failed planning or dispatch and plans the job again (which also dispatches, repairing
   * runs left in flight by ended executions) after 1 s, 2 s, 4 s … ({@link retryDelayMs}).
   */
  #retryLater(jobId: string, error: unknown, kind: 'plan' | 'dispatch'): void {
    const failures = (this.#failures.get(jobId) ?? 0) + 1;
    this.#failures.set(jobId, failures);
    if (this.#givesUp(error, failures)) {
      const reason =
        error instanceof StoreCorruptError
          ? 'the state store is corrupt'
          : `the state store failed ${failures} times in a row`;
      this.#progress(progress.storeFailed(jobId, reason, errorMessage(error), failures, kind));
      this.#fatalError ??= error as StoreError;
      this.#onFatal(this.#fatalError);
      return;
    }
    const delayMs = retryDelayMs(failures);
    const retrying = !this.#stopping && !this.#retryTimers.has(jobId);
    this.#progress(
      progress.planOrDispatchError(
        kind,
        jobId,
        errorMessage(error),
        failures,
        retrying ? delayMs : undefined,
      ),
    );
    if (!retrying) return;
    const job = this.#process.jobs.get(jobId);
    const waited = this.#retryTimers.wait(jobId, delayMs);
    this.#inBackground(waited.then(() => this.#planOrRetry(job, kind)));
  }

  /**
   * The leases' heartbeat could not reach the store. A stage starts only under a confirmed lease, so
   * while the store stays out of reach, stages wait and their executions never end: with
   * `maxStoreFailures`, the runtime gives up once that has lasted as long as a job's planning retries
   * (and at once on a corrupt store); the runs stay in flight in the store for the next start. Without
   * it (a long-running `piko start`), stages wait for the store to come back, or for a stop.
   */
  #heartbeatFailed(failure: HeartbeatFailure): void {
    if (this.#fatalError || this.#maxStoreFailures === undefined) return;
    const { error, failingForMs } = failure;
    const corrupt = error instanceof StoreCorruptError;
    if (!(error instanceof StoreError)) return;
    if (!corrupt && failingForMs < retryDelaysTotalMs(this.#maxStoreFailures)) return;
    const reason = corrupt
      ? 'the state store is corrupt'
      : `the state store did not renew the execution leases for ${Math.round(failingForMs / 1000)} s (${failure.failures} heartbeats in a row)`;
    const jobIds = new Set(failure.held.map((ref) => ref.jobId));
    for (const jobId of jobIds)
      this.#progress(
        progress.storeFailed(jobId, reason, errorMessage(error), failure.failures, 'lease-heartbeat'),
      );
    this.#fatalError = error;
    this.#onFatal(error);
  }

  /** A corrupt store ends the runtime at once; a failing one after `maxStoreFailures` in a row. */
  #givesUp(error: unknown, failures: number): boolean {
    if (error instanceof StoreCorruptError) return true;
    return (
      error instanceof StoreError &&
      this.#maxStoreFailures !== undefined &&
      failures >= this.#maxStoreFailures
    );
  }

  /**
   * Dispatches the job again once its earliest requeued run is dispatchable (`notBefore`): nothing
   * else would before the job's next tick, which may be a day away. One timer per job.
   */
  async #redispatchAfterDelay(job: JobDefinition): Promise<void> {
    if (this.#stopping || this.#requeueTimers.has(job.id)) return;
    let delayMs: number;
    try {
      const now = this.#clock().getTime();
      const waiting = (await this.#process.store.listRuns(job.id))
        .filter((run) => run.status === 'pending' && run.notBefore !== null)
        .map((run) => run.notBefore!.getTime());
      // Only runs still delayed; those already due were taken by the dispatch that just ran.
      if (waiting.length === 0) return;
      delayMs = Math.max(0, Math.min(...waiting) - now);
    } catch {
      // The store is out of reach: look again after the shortest delay.
      delayMs = this.#process.store.requeuePolicy.baseDelayMs;
    }
    if (this.#requeueTimers.has(job.id)) return;
    const waited = this.#requeueTimers.wait(job.id, delayMs);
    const redispatch = waited.then(async () => {
      if (this.#stopping) return;
      await this.#planOrRetry(job, 'dispatch');
      // Runs still delayed (a later notBefore, or the dispatch failed): wait for them too.
      const due = await this.#process.store.listRuns(job.id).catch(() => undefined);
      const now = this.#clock().getTime();
      if (
        !due ||
        due.some(
          (run) =>
            run.status === 'pending' &&
            run.notBefore !== null &&
            run.notBefore.getTime() > now - 1 &&
            run.notBefore.getTime() >= now,
        )
      ) {
        await this.#redispatchAfterDelay(job);
      }
    });
    this.#inBackground(redispatch);
  }

  /**
   * An execution another runtime held has ended or can be taken over: a runtime that plans the jobs
   * dispatches that job again now (taking over what was left, or going on with its backlog) rather
   * than at its next tick; `whenIdle` waits for it.
   */
  #takeOverLeftWork(jobId: string): void {
    if (this.#stopping || !this.#followsOthers) return;
    this.#inBackground(this.#planOrRetry(this.#process.jobs.get(jobId), 'dispatch'));
  }

  /**
   * An upstream run succeeded: dispatch its downstream jobs now (DESIGN.md §9), rather than at their
   * next tick, so a ready downstream interval runs at once. Successes that come while a downstream
   * job's dispatch runs are folded into one more dispatch after it.
   */
  #dispatchDownstream(upstreamId: string): void {
    // Only a runtime that plans the jobs (`piko start`): a backfill's runs its downstream backfills itself.
    if (this.#stopping || !this.#followsOthers) return;
    for (const job of this.#process.jobs.downstreams(upstreamId)) {
      if (this.#downstreamDispatches.has(job.id)) {
        this.#downstreamAgain.add(job.id);
        continue;
      }
      this.#downstreamDispatches.add(job.id);
      const dispatching = (async () => {
        do {
          this.#downstreamAgain.delete(job.id);
          await this.#planOrRetry(job, 'dispatch');
        } while (this.#downstreamAgain.has(job.id) && !this.#stopping);
      })();
      this.#inBackground(dispatching.finally(() => this.#downstreamDispatches.delete(job.id)));
    }
  }

  async #continue(jobId: string): Promise<void> {
    if (this.#stopping) return;
    await this.dispatchLane(this.#process.jobs.get(jobId), { kind: 'scheduled' });
  }

  async #invokeStage(payload: StagePayload): Promise<unknown> {
    if (payload.action === 'run' && payload.stageIndex === 0 && this.#firstRun) {
      this.#firstRun();
      this.#firstRun = undefined;
    }
    const { jobId, runId } = payload.run;
    // The interval as the state store knows it (the event does not carry it).
    let subject: progress.ProgressRun = { jobId, runId, interval: undefined };
    try {
      const result = await runStage(this.#process, payload);
      if (result.interval) subject = { jobId, runId, interval: result.interval };
      if (result.notStarted === 'paused') {
        this.#progress(progress.notStarted(subject));
      } else if (result.notStarted === 'cancelled' || result.cancelled) {
        // Neither succeeded nor failed: an operator ended it (a backfill's cancel, piko cancel).
        this.#progress(progress.cancelled(subject, result.cancelled === true));
      } else if (result.alreadyDone) {
        // Delivered again after it succeeded: counted when it did.
      } else if (result.alreadyFailed) {
        // A Fargate stage before this one failed the run for good and recorded it (its child process
        // reports nothing to this runtime): said here, once, by the next stage.
        this.totals.failed++;
        const run = await this.#process.store.getRun(runId);
        this.#progress(progress.failed(subject, run?.error ?? null));
      } else if (payload.action === 'fail' && result.requeued) {
        await this.#redispatchAfterDelay(this.#process.jobs.get(jobId));
        this.#progress(progress.requeued(subject, stageErrorMessage(payload.error)));
      } else if (payload.action === 'fail' && result.requeueLimit) {
        this.totals.failed++;
        const run = await this.#process.store.getRun(runId);
        this.#progress(progress.failed(subject, run?.error ?? null));
      } else if (payload.action === 'fail') {
        this.totals.failed++;
        this.#progress(progress.failed(subject, redact(stageErrorMessage(payload.error))));
      } else if (payload.lastStage) {
        this.totals.succeeded++;
        this.#progress(progress.succeeded(subject));
        this.#dispatchDownstream(jobId);
      }
      return result;
    } catch (error) {
      if (payload.action === 'run') {
        this.#progress(progress.attemptFailed(subject, payload.stage, errorMessage(error)));
      }
      throw error;
    }
  }
}
