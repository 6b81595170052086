/**
 * One attempt of one stage, without the state store: the run context, the job's resources, the
 * handler under the job's timeout and the emitted records. The stage runner (`stage-runner.ts`) wraps
 * it with the store's checks and updates; `runJobOnce` (`run-once.ts`) runs it in a job's unit test.
 * It imports no store, so the public job API can carry it.
 */
import { TimeoutError } from '../errors.ts';
import type { Interval } from '../interval.ts';
import type { JobDefinition, LogFields, RunContext, RunLogger, Stage } from '../job.ts';
import type { ResourceRegistry } from '../resources/lending.ts';
import { RecordBuffer } from '../sinks/route.ts';
import type { TaggedRecord } from '../sinks/types.ts';

/** The levels of a {@link RunLogger}. */
export type RunLogLevel = keyof RunLogger;

/** What an attempt is about and what it runs with. */
export interface StageAttempt {
  readonly job: JobDefinition;
  readonly stage: Stage;
  readonly runId: number;
  readonly interval: Interval;
  /** The config, validated, overrides applied. */
  readonly config: unknown;
  /** 1 for the first attempt. */
  readonly attempt: number;
  /** The previous stage's JSON result (`null` for the first stage). */
  readonly input: unknown;
  /** Lends the job's resources for the attempt. */
  readonly resources: ResourceRegistry;
  /** Aborted when the process shuts down. @default never */
  readonly shutdown?: AbortSignal;
  /**
   * The attempt's one controller: its signal is the handler's `ctx.signal`, aborted by the job's
   * timeout, by `shutdown`, or by whoever holds it (the stage runner, on a cancel). One per attempt,
   * where combining signals (`AbortSignal.timeout`, `AbortSignal.any`) would make several.
   * @default a new one
   */
  readonly controller?: AbortController;
  /** Where the context's log lines go (the fields the handler gave). */
  log(level: RunLogLevel, message: string, fields: LogFields): void;
  /** Writes the records the stage emitted, once its handler has returned (still under the timeout). */
  deliver(records: RecordBuffer): Promise<void>;
}

/**
 * Runs one attempt of a stage: builds its {@link RunContext}, borrows the job's resources (always
 * given back), runs the handler under the job's timeout and hands the emitted records to `deliver`.
 * Returns the handler's result.
 * @throws TimeoutError when the job's timeout passes first; what the handler, a resource or `deliver`
 *   throws otherwise, as it was thrown.
 */
export async function attemptStage(attempt: StageAttempt): Promise<unknown> {
  const { job, stage, shutdown } = attempt;
  const controller = attempt.controller ?? new AbortController();
  const { signal } = controller;
  let timedOut = false;
  // What AbortSignal.timeout would do: abort with a TimeoutError DOMException, never keeping the
  // process alive.
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort(new DOMException('The operation was aborted due to timeout', 'TimeoutError'));
  }, job.timeoutMs);
  timer.unref?.();
  const onShutdown = () => controller.abort(shutdown?.reason);
  if (shutdown?.aborted) onShutdown();
  else shutdown?.addEventListener('abort', onShutdown, { once: true });
  const records = new RecordBuffer(job.sinks);
  const log = runLogger(attempt);
  const context: RunContext = {
    jobId: job.id,
    runId: attempt.runId,
    interval: { start: attempt.interval.start, end: attempt.interval.end },
    scheduledAt: attempt.interval.end,
    config: attempt.config,
    attempt: attempt.attempt,
    stage: stage.name,
    input: attempt.input,
    signal,
    emit: (tagged: TaggedRecord<unknown>) => records.emit(tagged),
    log,
    logger: log,
  };
  try {
    const output = await attempt.resources.withResources(job.id, job.resources, signal, (values) =>
      stage.handler(context, values),
    );
    await attempt.deliver(records);
    return output;
  } catch (error) {
    if (timedOut) {
      const timeoutError = new TimeoutError(
        `Stage "${stage.name}" of job "${job.id}" timed out after ${job.timeoutMs} ms`,
      );
      stageTimeouts.add(timeoutError);
      throw timeoutError;
    }
    throw error;
  } finally {
    clearTimeout(timer);
    shutdown?.removeEventListener('abort', onShutdown);
  }
}

/** The TimeoutErrors {@link attemptStage} threw, as opposed to any a handler threw itself. */
const stageTimeouts = new WeakSet<Error>();

/** True for the TimeoutError {@link attemptStage} throws when the job's timeout passes (not one a handler threw). */
export function isStageTimeout(error: unknown): boolean {
  return error instanceof Error && stageTimeouts.has(error);
}

/** The context's logger: each line goes to the attempt's `log`. */
function runLogger(attempt: StageAttempt): RunLogger {
  const at =
    (level: RunLogLevel) =>
    (message: string, fields: LogFields = {}): void =>
      attempt.log(level, message, fields);
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}
