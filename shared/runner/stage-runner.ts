import { NonRetryableError, StoreUnavailableError, TimeoutError } from '../errors.ts';
import { parseJobConfig, type RunContext } from '../job.ts';
import type { StagePayload, StageRunResult } from '../local/workflow/payload.ts';
import { stageErrorMessage } from '../local/workflow/payload.ts';
import type { JobRegistry } from '../registry.ts';
import type { ResourceRegistry } from '../resources/lending.ts';
import { RecordBuffer } from '../sinks/route.ts';
import type { StateStore } from '../store/types.ts';
import {
  errorMessage,
  logger,
  metrics,
  RunDuration,
  RunsFailed,
  RunsSucceeded,
  redact,
} from '../telemetry.ts';

/** What the stage runner needs; one per process (Lambda container, Fargate task, local runtime). */
export interface StageRunnerDeps {
  readonly store: StateStore;
  readonly jobs: JobRegistry;
  readonly resources: ResourceRegistry;
  /** Directory of file sinks. @default '.piko/output' */
  readonly outputDir?: string;
  /** Aborted when the process shuts down: running handlers see their signal abort. @default never */
  readonly shutdown?: AbortSignal;
  /** @default () => new Date() */
  readonly now?: () => Date;
}

/**
 * Runs one stage of one run (DESIGN.md §2, §5), or records a run's failure after its retries:
 * validates the config, marks the run running (a run that already succeeded is not run again),
 * borrows the job's resources, runs the handler under the job's timeout, routes the emitted records to
 * the sinks, records the output (and success on the last stage), and always gives the resources back.
 * @throws what the handler throws (retried by the workflow unless a NonRetryableError), TimeoutError.
 */
export async function runStage(deps: StageRunnerDeps, payload: StagePayload): Promise<StageRunResult> {
  const now = deps.now ?? (() => new Date());
  const { run } = payload;
  const job = deps.jobs.get(run.jobId);

  if (payload.action === 'fail') {
    const message = redact(stageErrorMessage(payload.error));
    if (payload.error.Error === StoreUnavailableError.name) {
      // The state store was out of reach through every retry: the job is not at fault, and the
      // handler may not even have run. Back to pending (a new generation): the dispatcher runs it
      // again once the store answers. A run that meanwhile succeeded is left alone.
      await deps.store.requeueRuns([run.runId]);
      logger.warn('run put back to pending: the state store was unavailable', {
        jobId: job.id,
        runId: run.runId,
        interval: run.interval.start,
        error: message,
      });
      return { output: null, requeued: true };
    }
    const record = await deps.store.getRun(run.runId);
    await deps.store.markFailed(run.runId, message, record?.attempts ?? 1, now());
    metrics.addMetric(RunsFailed, 'Count', 1);
    logger.warn('run failed', {
      jobId: job.id,
      runId: run.runId,
      interval: run.interval.start,
      error: message,
    });
    return { output: null };
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
  // A later stage of a run whose first stage the pause refused: the run never started, so neither
  // does this stage (even if the job was resumed in between: it runs from its first stage later).
  const current = payload.stageIndex > 0 ? await deps.store.getRun(run.runId) : undefined;
  const record =
    current && current.status !== 'running' && current.status !== 'succeeded'
      ? undefined
      : await deps.store.markRunning(run.runId, stage.name, started);
  if (!record) {
    const known = await deps.store.getRun(run.runId);
    if (!known)
      throw new NonRetryableError(`Run ${run.runId} of job "${job.id}" does not exist in the state store`);
    // Delivered again after it succeeded (a restarted execution): never run an interval twice.
    if (known.status === 'succeeded') return { output: known.output ?? null };
    // The job is paused: leave the run as it is (queued, attempts untouched) and end this iteration
    // without error, so no retry is spent; the dispatcher re-arms it once the execution has ended.
    logger.info('run not started: the job is paused', {
      jobId: job.id,
      runId: run.runId,
      interval: run.interval.start,
      stage: stage.name,
    });
    return { output: null, notStarted: 'paused' };
  }

  const timeout = AbortSignal.timeout(job.timeoutMs);
  const signal = deps.shutdown ? AbortSignal.any([timeout, deps.shutdown]) : timeout;
  const records = new RecordBuffer(job.sinks);
  const context: RunContext = {
    jobId: job.id,
    runId: run.runId,
    interval: { start: new Date(run.interval.start), end: new Date(run.interval.end) },
    scheduledAt: new Date(run.interval.end),
    config,
    attempt: record.attempts,
    stage: stage.name,
    input: payload.inputFromStore ? record.output : payload.input,
    signal,
    emit: (tagged) => records.emit(tagged),
  };

  let output: unknown;
  try {
    output = await deps.resources.withResources(job.id, job.resources, signal, (values) =>
      stage.handler(context, values),
    );
    await records.flush({
      jobId: job.id,
      runId: run.runId,
      stateDatabase: deps.store.database,
      outputDir: deps.outputDir ?? '.piko/output',
    });
  } catch (error) {
    if (timeout.aborted) {
      throw new TimeoutError(`Stage "${stage.name}" of job "${job.id}" timed out after ${job.timeoutMs} ms`);
    }
    logger.info('stage attempt failed', {
      jobId: job.id,
      runId: run.runId,
      stage: stage.name,
      attempt: record.attempts,
      error: errorMessage(error),
    });
    throw withoutSecrets(error);
  }

  const finished = now();
  const result = output === undefined ? null : output;
  if (payload.lastStage) {
    await deps.store.markSucceeded(run.runId, result, finished);
    metrics.addMetric(RunsSucceeded, 'Count', 1);
    metrics.addMetric(
      RunDuration,
      'Milliseconds',
      finished.getTime() - new Date(record.startedAt ?? started).getTime(),
    );
  } else {
    await deps.store.recordOutput(run.runId, result, finished);
  }
  return { output: result };
}

/**
 * The error as the workflow will see it: the same name (Retry and Catch match on it) and a message
 * free of secrets, since it ends up in the execution history and the state table.
 */
export function withoutSecrets(error: unknown): Error {
  const safe = new Error(error instanceof Error ? redact(error.message) : errorMessage(error));
  safe.name = error instanceof Error ? error.name : 'Error';
  return safe;
}
