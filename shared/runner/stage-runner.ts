/**
 * The stage runner (`shared/runner/`): runs one stage of one run, wherever it runs (a job Lambda, a
 * Fargate container, the local runtime). It reads the run from the state store, checks the event
 * against it, lends resources, routes records to sinks and records the result with owner-conditional
 * updates. Beside it: what a process opens for that (`process.ts`: config, store, resources) and the
 * container's stage (`container-stage.ts`). It may import the store, the workflow contract,
 * resources, sinks and telemetry; never the planner's dispatch, a runtime, the CLI or infra.
 */
import {
  NonRetryableError,
  RunCancelledError,
  StageEventRefusedError,
  StoreUnavailableError,
} from '../errors.ts';
import { intervalToJson } from '../interval.ts';
import { parseJobConfig } from '../job.ts';
import type { JobRegistry } from '../registry.ts';
import type { ResourceRegistry } from '../resources/lending.ts';
import { ownerMismatch, refused } from '../store/owner.ts';
import { retryWhileUnavailable, type UnavailableRetryOptions } from '../store/retry.ts';
import type { RunLogSink } from '../store/run-logs.ts';
import { OPERATOR_FINAL_STATUSES, type RunRecord, type StateStore } from '../store/types.ts';
import {
  errorMessage,
  logger,
  metrics,
  RunDuration,
  RunsFailed,
  RunsSucceeded,
  redact,
  redactValue,
  withoutSecrets,
} from '../telemetry.ts';
import type { StagePayload, StageRunResult } from '../workflow/stage-event.ts';
import { stageErrorMessage } from '../workflow/stage-event.ts';
import { attemptStage, isStageTimeout } from './attempt.ts';

/** What the stage runner needs; one per process (Lambda container, Fargate task, local runtime). */
export interface StageRunnerDeps {
  readonly store: StateStore;
  readonly jobs: JobRegistry;
  readonly resources: ResourceRegistry;
  /**
   * The one job this process runs (a job's Lambda function or Fargate task knows it from
   * `PIKO_JOB_ID`): events for any other job are refused. @default any registered job (the local runtime)
   */
  readonly jobId?: string;
  /** Directory of file sinks. @default '.piko/output' */
  readonly outputDir?: string;
  /**
   * Keeps each run's `ctx.log` lines (the local runtime's files under the data directory), besides
   * the process's logger. @default none (on AWS the lines are in CloudWatch)
   */
  readonly runLogs?: RunLogSink;
  /** Aborted when the process shuts down: running handlers see their signal abort. @default never */
  readonly shutdown?: AbortSignal;
  /**
   * How often a running stage reads its run's status, so that a cancel made by another process (the
   * CLI, the UI, `--aws`) aborts its handler's `ctx.signal`. @default 5000
   */
  readonly cancelPollMs?: number;
  /**
   * The ECS task this process is (a Fargate stage's container reads it from the task metadata
   * endpoint), recorded on the run as its stage starts so that a cancel can stop the task at once.
   * @default none (a Lambda function, the local runtime)
   */
  readonly taskArn?: string;
  /** @default () => new Date() */
  readonly now?: () => Date;
  /**
   * How a stage's result is recorded again while the store is unavailable, once its handler has run
   * (its records delivered, its output or success written): the budget and the waits.
   * @default {@link retryWhileUnavailable}'s: up to 15 s of waits of 1, 2, 4 and 8 s
   */
  readonly recordRetry?: Pick<UnavailableRetryOptions, 'budgetMs' | 'delayMs'>;
}

/**
 * Runs one stage of one run (DESIGN.md §2, §5, §8), or records a run's failure after its retries.
 * The state table is the authority: the run is read from the store and the event must name its job,
 * the execution that holds it and its generation; the job, interval, config and the previous stage's
 * output all come from the store, and every update is conditional on that owner. Then: validates the
 * config, marks the run running (a run that already succeeded is not run again), runs the attempt
 * ({@link attemptStage}: the job's resources, the handler under its timeout), routes the emitted
 * records to the sinks, records the output (the next stage's input) and, on the last stage, success.
 * Both updates record the job's `version`: the version of the code that ran the run. Once the
 * handler has run, delivering its records and recording its result are tried again while the store
 * is unavailable (`recordRetry`), so a full disk or a lost connection never runs the handler twice.
 * @throws StageEventRefusedError for an event the store disagrees with (nothing written); what the
 * handler throws (retried by the workflow unless a NonRetryableError); TimeoutError;
 * StoreUnavailableError when the store stayed unavailable past the retry budget after the handler
 * ran (the run is left running, not failed: the one case in which the handler runs again).
 */
export async function runStage(deps: StageRunnerDeps, payload: StagePayload): Promise<StageRunResult> {
  const now = deps.now ?? (() => new Date());
  const { run: ref } = payload;
  if (deps.jobId !== undefined && ref.jobId !== deps.jobId) {
    throw refused(`this function runs job "${deps.jobId}" only, and the event names job "${ref.jobId}"`);
  }
  // A first stage's start may take the record its run was queued with (not read again): what it
  // decides from it before markRunning is either fixed for the run (job, interval, config) or
  // checked again by markRunning's conditional update. A failure or a later stage reads it afresh.
  const firstStart = payload.action === 'run' && payload.stageIndex === 0;
  const run = firstStart ? await deps.store.runToStart(ref.runId, ref) : await deps.store.getRun(ref.runId);
  if (!run) throw refused(`run ${ref.runId} does not exist in the state store`);
  const mismatch = ownerMismatch(run, ref);
  if (mismatch !== undefined) {
    logger.warn('stage event refused', { ...ref, reason: mismatch });
    throw refused(mismatch);
  }
  const job = deps.jobs.get(run.jobId);
  const interval = intervalToJson(run.interval);

  if (payload.action === 'fail') {
    if (isOperatorFinal(run)) {
      // The run's stage ended because an operator cancelled it (RunCancelledError, caught by the
      // workflow as any non-retryable error): it stays cancelled, not failed.
      logger.info('run cancelled', {
        jobId: job.id,
        runId: run.runId,
        interval: interval.start,
        status: run.status,
      });
      return { interval, cancelled: true };
    }
    const message = redact(stageErrorMessage(payload.error));
    if (payload.error.Error === StoreUnavailableError.name) {
      // The state store was out of reach through every retry: the job is not at fault, and the
      // handler may not even have run. Back to pending (a new generation), not dispatchable before a
      // growing delay; after the store's requeue limit, failed with a message saying why. A run
      // that meanwhile succeeded is left alone.
      const outcome = await deps.store.requeueRuns([run.runId], ref, message);
      if (outcome.failed > 0) {
        metrics.addMetric(RunsFailed, 'Count', 1);
        logger.warn('run failed: requeued too often while the state store was unavailable', {
          jobId: job.id,
          runId: run.runId,
          interval: interval.start,
          requeues: run.requeues,
          error: message,
        });
        return { interval, requeueLimit: true };
      }
      logger.warn('run put back to pending: the state store was unavailable', {
        jobId: job.id,
        runId: run.runId,
        interval: interval.start,
        requeues: run.requeues + 1,
        error: message,
      });
      return { interval, requeued: true };
    }
    await deps.store.markFailed(run.runId, message, run.attempts, now(), ref);
    metrics.addMetric(RunsFailed, 'Count', 1);
    logger.warn('run failed', { jobId: job.id, runId: run.runId, interval: interval.start, error: message });
    return { interval };
  }

  const stage = job.stages[payload.stageIndex];
  if (!stage || stage.name !== payload.stage) {
    throw new NonRetryableError(
      `Job "${job.id}" has no stage "${payload.stage}" at position ${payload.stageIndex + 1}; redeploy so the workflow matches the job`,
    );
  }
  let config: unknown;
  try {
    config = parseJobConfig(job, run.config);
  } catch (error) {
    // Retrying cannot fix a config the schema rejects.
    throw new NonRetryableError(error instanceof Error ? error.message : String(error));
  }

  const started = now();
  const version = job.version ?? null;
  // A later stage of a run whose first stage the pause refused: the run never started, so neither
  // does this stage (even if the job was resumed in between: it runs from its first stage later).
  const neverStarted = payload.stageIndex > 0 && run.status !== 'running' && run.status !== 'succeeded';
  const record = neverStarted
    ? undefined
    : // The record just read: the store marks it in one statement, without reading it back.
      await deps.store.markRunning(run, stage.name, started, ref, version, deps.taskArn ?? null);
  if (!record) {
    const current = await deps.store.getRun(run.runId);
    // Delivered again after it succeeded (a restarted execution): never run an interval twice.
    if (current?.status === 'succeeded') return { interval, alreadyDone: true };
    // Cancelled (or marked skipped) by an operator before this stage started: it never starts.
    if (current && isOperatorFinal(current)) return { interval, notStarted: 'cancelled' };
    const mismatch = current
      ? ownerMismatch(current, ref)
      : `run ${run.runId} does not exist in the state store`;
    // Failed for good by an earlier stage of this execution (a Fargate stage records its own
    // non-retryable failure and ends without error): the later stages run nothing, succeed nothing.
    if (current?.status === 'failed' && mismatch === undefined && payload.stageIndex > 0) {
      logger.info('stage not run: an earlier stage failed the run', {
        jobId: job.id,
        runId: run.runId,
        interval: interval.start,
        stage: stage.name,
      });
      return { interval, alreadyFailed: true };
    }
    if (current && mismatch === undefined && current.status !== 'running') {
      // Still this execution's, yet not started: the job or the run's backfill is paused. End this
      // iteration without error, so no retry is spent; the run runs after resume. Its last stage
      // (the only one, or the last the iteration goes on to) puts it back to pending now, neither
      // counted as a requeue nor delayed (nothing failed): no stage of this execution asks for it
      // after that. An earlier stage leaves it queued, attempts untouched, for the stages to come,
      // which would find it in another generation and be refused.
      if (payload.lastStage) {
        await deps.store.requeueRuns([run.runId], ref, undefined, false).catch((error: unknown) => {
          // Changed meanwhile (re-armed, cancelled): whoever changed it decides.
          if (!(error instanceof StageEventRefusedError)) throw error;
        });
      }
      logger.info('run not started: its job or backfill is paused', {
        jobId: job.id,
        runId: run.runId,
        interval: interval.start,
        stage: stage.name,
      });
      return { interval, notStarted: 'paused' };
    }
    // Re-armed or requeued between the read and the update: its new owner runs it.
    throw refused(mismatch ?? `run ${run.runId} changed while this stage started`);
  }

  // The retry of a write after the handler ran, saying each wait in the log.
  const recordRetry = (what: string): UnavailableRetryOptions => ({
    ...deps.recordRetry,
    signal: deps.shutdown,
    onRetry: (error, failures, delayMs) =>
      logger.warn(`state store unavailable after the stage ran: ${what} again`, {
        jobId: job.id,
        runId: run.runId,
        interval: interval.start,
        stage: stage.name,
        failures,
        retryInMs: delayMs,
        error: errorMessage(error),
      }),
  });

  // The attempt's one controller: the cancel poll aborts it, attemptStage adds the shutdown and the
  // job's timeout.
  const controller = new AbortController();
  const cancel = watchForCancel(deps, run.runId, controller);
  let output: unknown;
  const runLog = deps.runLogs?.open(job.id, run.runId);
  try {
    output = await attemptStage({
      job,
      stage,
      runId: run.runId,
      interval: run.interval,
      config,
      attempt: record.attempts,
      // One rule for every stage: the previous stage's output is the one it recorded in the store.
      input: payload.stageIndex === 0 ? null : (record.output ?? null),
      resources: deps.resources,
      shutdown: deps.shutdown,
      controller,
      log: (level, message, fields) => {
        // Secret-named fields (`password`, `apiKey`…) are masked on stdout as in the run's log file.
        logger[level](redact(message), {
          ...(redactValue(fields) as typeof fields),
          jobId: job.id,
          runId: run.runId,
          interval: interval.start,
          stage: stage.name,
          attempt: record.attempts,
        });
        runLog?.write({
          level,
          attempt: record.attempts,
          stage: stage.name,
          generation: record.generation,
          message,
          fields,
        });
      },
      // The handler has run: a store out of reach (a sink writing next to the state on a full disk)
      // is waited out with the records held, rather than the handler run again for them.
      deliver: (records) =>
        retryWhileUnavailable(
          () =>
            records.flush({
              jobId: job.id,
              runId: run.runId,
              stateDatabase: deps.store.database,
              outputDir: deps.outputDir ?? '.piko/output',
            }),
          recordRetry('delivering its records'),
        ).then(() => undefined),
    });
  } catch (error) {
    // Stopped from outside (SIGTERM): a cancel's ecs:StopTask, most likely. Read the run once rather
    // than wait for the next poll, so a cancelled run ends as cancelled (never retried).
    if (!cancel.cancelled() && deps.shutdown?.aborted) await cancel.checkNow();
    const cancelled = cancel.cancelled();
    if (cancelled) {
      logger.info('stage stopped: the run was cancelled', {
        jobId: job.id,
        runId: run.runId,
        stage: stage.name,
      });
      throw cancelled;
    }
    // The run's log says how each attempt ended, so a reader sees why the next one began.
    runLog?.write({
      level: 'error',
      attempt: record.attempts,
      generation: record.generation,
      stage: stage.name,
      message: `attempt ${record.attempts} of stage ${stage.name} failed: ${errorMessage(error)}`,
    });
    if (isStageTimeout(error)) throw error;
    logger.info('stage attempt failed', {
      jobId: job.id,
      runId: run.runId,
      stage: stage.name,
      attempt: record.attempts,
      error: errorMessage(error),
    });
    throw withoutSecrets(error);
  } finally {
    cancel.stop();
    // Never rejects: a log the disk refused is a warning, not the run's failure.
    await runLog?.close();
  }

  const finished = now();
  const result = output === undefined ? null : output;
  // The handler has run: its result is held and its recording tried again while the store is
  // unavailable (a full disk, an I/O error, a lost connection), never the handler (issue 10, item 7).
  // Both updates are owner-conditional and idempotent, so one that did land before its error is
  // harmless to repeat. Only a store that stays out of reach past the budget leaves the run as it is:
  // running, not failed, and run again by the workflow's retry or the dispatcher's repair.
  try {
    await retryWhileUnavailable(
      () =>
        payload.lastStage
          ? deps.store.markSucceeded(run.runId, result, finished, ref, version)
          : deps.store.recordOutput(run.runId, result, finished, ref),
      recordRetry(payload.lastStage ? 'recording its success' : 'recording its output'),
    );
  } catch (error) {
    if (!(error instanceof StoreUnavailableError)) throw error;
    logger.error('stage result not recorded: the state store stayed unavailable', {
      jobId: job.id,
      runId: run.runId,
      interval: interval.start,
      stage: stage.name,
      error: errorMessage(error),
    });
    throw new StoreUnavailableError(
      `Stage "${stage.name}" of run ${run.runId} (job "${job.id}", interval ${interval.start}) ran, but the state store stayed unavailable while its result was recorded: ${errorMessage(error)} The run is left running, not failed; it runs again once the store is back.`,
      { cause: error },
    );
  }
  if (payload.lastStage) {
    metrics.addMetric(RunsSucceeded, 'Count', 1);
    metrics.addMetric(
      RunDuration,
      'Milliseconds',
      finished.getTime() - (record.startedAt ?? started).getTime(),
    );
  }
  return { interval };
}

function isOperatorFinal(run: RunRecord): boolean {
  return OPERATOR_FINAL_STATUSES.includes(run.status);
}

/**
 * Polls the run's status every `cancelPollMs` while its stage runs (and at once on `checkNow`): once
 * an operator has cancelled it (or marked it skipped), `controller` aborts with a RunCancelledError,
 * which `cancelled()` answers from then on (the controller may also abort for other reasons: the
 * shutdown, the timeout). A failed read is ignored (the next one tries again); the timer never keeps
 * the process alive.
 */
function watchForCancel(
  deps: StageRunnerDeps,
  runId: number,
  controller: AbortController,
): { cancelled(): RunCancelledError | undefined; checkNow(): Promise<void>; stop(): void } {
  let cancelled: RunCancelledError | undefined;
  const check = () =>
    deps.store.getRun(runId).then(
      (current) => {
        if (current && isOperatorFinal(current) && cancelled === undefined) {
          cancelled = new RunCancelledError(runId, current.status === 'skipped' ? 'skipped' : 'cancelled');
          controller.abort(cancelled);
        }
      },
      (error: unknown) => logger.debug('cancel poll failed', { runId, error: errorMessage(error) }),
    );
  const timer = setInterval(check, deps.cancelPollMs ?? 5_000);
  timer.unref?.();
  return { cancelled: () => cancelled, checkNow: check, stop: () => clearInterval(timer) };
}
