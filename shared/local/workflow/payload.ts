import { parseIsoInstant } from '../../job.ts';
import type { RunItem } from '../../planner/starter.ts';

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

/**
 * The event the job workflow sends to the stage runner: the Lambda payload of a lambda stage or of
 * "Record failure", and the JSON in `PIKO_STAGE_EVENT` of a Fargate stage's container.
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
      readonly run: RunItem;
      /** The previous Lambda stage's `output` (`null` for the first stage, or after a Fargate stage). */
      readonly input: unknown;
      /** True right after a Fargate stage: read the input from the state store, where that stage recorded its output. */
      readonly inputFromStore?: boolean;
    }
  | {
      readonly action: 'fail';
      readonly run: RunItem;
      /** What failed, after the retries. */
      readonly error: StageError;
    };

/**
 * What a Lambda stage (action `'run'`) must return. The next stage reads `$.result.output`, and in
 * Step Functions a path that points nowhere is a `States.Runtime` error that no Catch catches and
 * that fails the whole execution: `output` must always be present (`null` when there is none).
 */
export interface StageRunResult {
  readonly output: unknown;
  /** For 'fail': the run was put back to pending instead of failed (the state store was out of reach). */
  readonly requeued?: boolean;
  /**
   * For 'run': the handler did not start because the job is paused. The run stays queued, its
   * attempts untouched; once its execution has ended the dispatcher puts it back to pending, and it
   * runs after resume.
   */
  readonly notStarted?: 'paused';
}

/**
 * Parses a stage event (a Lambda event or the parsed `PIKO_STAGE_EVENT`).
 * @throws Error naming what is wrong.
 */
export function parseStagePayload(event: unknown): StagePayload {
  const value = typeof event === 'string' ? parseJson(event) : event;
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new Error('stage event must be a JSON object');
  const record = value as Record<string, unknown>;
  const run = record.run as RunItem | undefined;
  if (
    typeof run !== 'object' ||
    run === null ||
    typeof run.jobId !== 'string' ||
    !Number.isSafeInteger(run.runId) ||
    run.runId < 1 ||
    !isInstant(run.interval?.start) ||
    !isInstant(run.interval?.end)
  ) {
    throw new Error(
      'stage event: "run" must be { jobId, runId, interval: { start, end }, config }, with a positive integer runId and ISO 8601 instants',
    );
  }
  const normalisedRun: RunItem = { ...run, config: run.config ?? null };
  if (record.action === 'fail') {
    const error = record.error as Partial<StageError> | undefined;
    return {
      action: 'fail',
      run: normalisedRun,
      error: {
        Error: typeof error?.Error === 'string' ? error.Error : 'Error',
        Cause: typeof error?.Cause === 'string' ? error.Cause : JSON.stringify(error?.Cause ?? ''),
      },
    };
  }
  if (record.action !== 'run')
    throw new Error(`stage event: unknown action ${JSON.stringify(record.action)}`);
  if (
    typeof record.stage !== 'string' ||
    !Number.isSafeInteger(record.stageIndex) ||
    (record.stageIndex as number) < 0
  ) {
    throw new Error('stage event: "stage" and "stageIndex" (an integer of 0 or more) are required');
  }
  return {
    action: 'run',
    stage: record.stage,
    stageIndex: record.stageIndex as number,
    lastStage: record.lastStage === true,
    run: normalisedRun,
    input: record.input ?? null,
    ...(record.inputFromStore === true ? { inputFromStore: true } : {}),
  };
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new Error(`stage event is not JSON: ${(error as Error).message}`);
  }
}

/** An ISO 8601 instant with an offset, as the planner writes them (`toISOString()`). */
function isInstant(value: unknown): value is string {
  return typeof value === 'string' && parseIsoInstant(value) !== undefined;
}

/**
 * The readable message of a caught stage error: the `errorMessage` of a Lambda error, the stopped
 * reason (and exit code) of an ECS task, or the Cause as it is. Never longer than `maxLength`.
 */
export function stageErrorMessage(error: StageError, maxLength = 1000): string {
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
