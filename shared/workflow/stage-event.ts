import { InputError, MAX_ERROR_MESSAGE_LENGTH } from '../errors.ts';
import { JOB_ID_PATTERN } from '../job.ts';
import { MAX_EXECUTION_NAME_LENGTH } from './execution-name.ts';

/** The environment variable that carries a Fargate stage's event (a `StagePayload` as JSON) into its container. */
export const STAGE_EVENT_ENV = 'PIKO_STAGE_EVENT';

/** An error as a `Catch` hands it on: `{ Error, Cause }`. */
export interface StageError {
  /** The error's name (`NonRetryableError`, `TimeoutError`, `States.Timeout`, `States.TaskFailed`, …). */
  readonly Error: string;
  /**
   * For a Lambda stage, the Lambda error as JSON text (`{"errorType","errorMessage","trace"}`), as Step
   * Functions reports it (the local executor does the same); for a Fargate stage on AWS, the ECS task
   * description as JSON text. {@link stageErrorMessage} gets the message out of either.
   */
  readonly Cause: string;
}

/** Execution names as the planner makes them (at most {@link MAX_EXECUTION_NAME_LENGTH} characters, no `:`). */
const EXECUTION_NAME = new RegExp(`^[A-Za-z0-9_-]{1,${MAX_EXECUTION_NAME_LENGTH}}$`);

/**
 * Which run a stage event is about, and who asks: the execution that holds it in its generation.
 * That is all an event carries about the run: the stage runner reads the rest (interval, config,
 * the previous stage's output) from the state store, and refuses an event that disagrees with it.
 */
export interface StageRunRef {
  readonly jobId: string;
  readonly runId: number;
  readonly executionName: string;
  readonly generation: number;
}

/**
 * The event the job workflow sends to the stage runner: the Lambda payload of a lambda stage or of
 * "Record failure", and the JSON in `PIKO_STAGE_EVENT` of a Fargate stage's container. Small and
 * bounded (a few hundred bytes), whatever the config or the stages' outputs.
 */
export type StagePayload =
  | {
      readonly action: 'run';
      /** The stage's name. */
      readonly stage: string;
      /** 0 for the first stage. */
      readonly stageIndex: number;
      /** True for the last stage: its runner marks the run succeeded. */
      readonly lastStage: boolean;
      readonly run: StageRunRef;
    }
  | {
      readonly action: 'fail';
      readonly run: StageRunRef;
      /** What failed, after the retries. */
      readonly error: StageError;
    };

/**
 * What the stage runner returns (the Lambda result, discarded by the workflow): the run as the state
 * store knows it, for progress lines. Never a stage's output: that stays in the store.
 */
export interface StageRunResult {
  /** The run's job and interval, from the state store (absent when the event was refused). */
  readonly interval?: { readonly start: string; readonly end: string };
  /** For 'fail': the run was put back to pending instead of failed (the state store was out of reach). */
  readonly requeued?: boolean;
  /** For 'fail': the state store was out of reach, and the run had been requeued too often: failed. */
  readonly requeueLimit?: boolean;
  /**
   * For 'run': the handler did not start because the job or the run's backfill is paused. Its
   * attempts untouched, the run goes back to pending (uncounted) at its last stage, or stays queued
   * for a later stage of the execution; it runs after resume. `cancelled`: an operator cancelled
   * (or skipped) the run before it started.
   */
  readonly notStarted?: 'paused' | 'cancelled';
  /** The run was cancelled (or marked skipped) by an operator: nothing was recorded, nothing retried. */
  readonly cancelled?: boolean;
  /** For 'run': the run had already succeeded (a duplicate delivery); the handler did not run. */
  readonly alreadyDone?: boolean;
  /**
   * For 'run' of a later stage: the run was already recorded failed (a Fargate stage before it failed
   * for good and recorded that itself, see `shared/runner/container-stage.ts`); this stage did not run.
   */
  readonly alreadyFailed?: boolean;
}

/**
 * Parses a stage event (a Lambda event or the parsed `PIKO_STAGE_EVENT`).
 * @throws InputError naming what is wrong (a workflow given such an event retries it like any failure).
 */
export function parseStagePayload(event: unknown): StagePayload {
  const value = typeof event === 'string' ? parseJson(event) : event;
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new InputError('stage event must be a JSON object');
  const record = value as Record<string, unknown>;
  const run = record.run as Partial<StageRunRef> | undefined;
  if (
    typeof run !== 'object' ||
    run === null ||
    typeof run.jobId !== 'string' ||
    !JOB_ID_PATTERN.test(run.jobId) ||
    typeof run.executionName !== 'string' ||
    !EXECUTION_NAME.test(run.executionName) ||
    !Number.isSafeInteger(run.runId) ||
    (run.runId as number) < 1 ||
    !Number.isSafeInteger(run.generation) ||
    (run.generation as number) < 0
  ) {
    throw new InputError(
      'stage event: "run" must be { jobId, runId, executionName, generation }: a job id, a positive integer runId, ' +
        `an execution name of 1 to ${MAX_EXECUTION_NAME_LENGTH} characters [A-Za-z0-9_-] and a generation of 0 or more`,
    );
  }
  const ref: StageRunRef = {
    jobId: run.jobId,
    runId: run.runId as number,
    executionName: run.executionName,
    generation: run.generation as number,
  };
  if (record.action === 'fail') {
    const error = record.error as Partial<StageError> | undefined;
    return {
      action: 'fail',
      run: ref,
      error: {
        Error: typeof error?.Error === 'string' ? error.Error : 'Error',
        Cause: typeof error?.Cause === 'string' ? error.Cause : JSON.stringify(error?.Cause ?? ''),
      },
    };
  }
  if (record.action !== 'run')
    throw new InputError(`stage event: unknown action ${JSON.stringify(record.action)}`);
  if (
    typeof record.stage !== 'string' ||
    !Number.isSafeInteger(record.stageIndex) ||
    (record.stageIndex as number) < 0
  ) {
    throw new InputError('stage event: "stage" and "stageIndex" (an integer of 0 or more) are required');
  }
  return {
    action: 'run',
    stage: record.stage,
    stageIndex: record.stageIndex as number,
    lastStage: record.lastStage === true,
    run: ref,
  };
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new InputError(`stage event is not JSON: ${(error as Error).message}`);
  }
}

/**
 * The readable message of a caught stage error: the `errorMessage` of a Lambda error, the stopped
 * reason (and exit code) of an ECS task, or the Cause as it is. Never longer than `maxLength`.
 * @param maxLength @default {@link MAX_ERROR_MESSAGE_LENGTH}
 */
export function stageErrorMessage(error: StageError, maxLength = MAX_ERROR_MESSAGE_LENGTH): string {
  let message = error.Cause;
  try {
    const cause = JSON.parse(error.Cause) as unknown;
    if (typeof cause === 'object' && cause !== null) {
      const record = cause as Record<string, unknown>;
      if (typeof record.errorMessage === 'string') {
        message = record.errorMessage;
      } else if (typeof record.StoppedReason === 'string' || Array.isArray(record.Containers)) {
        const containers = Array.isArray(record.Containers)
          ? (record.Containers as Record<string, unknown>[])
          : [];
        const details = containers
          .map((container) =>
            [
              container.Reason,
              container.ExitCode !== undefined ? `exit code ${String(container.ExitCode)}` : undefined,
            ]
              .filter((part) => part !== undefined && part !== '')
              .join(', '),
          )
          .filter((part) => part !== '');
        message = [record.StoppedReason, ...details].filter((part) => typeof part === 'string').join('; ');
      }
    }
  } catch {
    // Not JSON: the Cause is the message.
  }
  if (message === '') message = error.Error;
  return message.length > maxLength ? `${message.slice(0, maxLength - 1)}…` : message;
}
