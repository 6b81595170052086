/**
 * One Fargate stage of one run, then exit: what the image's entry (`functions/container/bundle-entry.ts`)
 * and the local runtime's child (`shared/local/fargate-child.ts`) both do. The event arrives in
 * `PIKO_STAGE_EVENT` (the workflow's container override; locally, the child process environment).
 * Exit code 0 on success, and on a NonRetryableError once the run's failure is recorded (the workflow
 * cannot tell a non-retryable failure from a failed task, so the container settles it); 1 on any other
 * failure, with the error's name and message as the last stderr line.
 */

import { getConfig, type PikoConfig } from '../config.ts';
import { NonRetryableError, workflowErrorName } from '../errors.ts';
import type { JobRegistry } from '../registry.ts';
import { ENV_JOB_ID, requiredEnv } from '../stack/env.ts';
import type { StoreDrivers } from '../store/drivers.ts';
import { configureTelemetry, logger, withoutSecrets } from '../telemetry.ts';
import { parseStagePayload, STAGE_EVENT_ENV } from '../workflow/stage-event.ts';
import { openProcessServices } from './process.ts';
import { runStage } from './stage-runner.ts';
import { ecsTaskArn } from './task-metadata.ts';

/**
 * Runs the stage named by `PIKO_STAGE_EVENT` with the jobs `loadRegistry` gives, and sets the exit code.
 * Never throws: a failure is logged, written to stderr and leaves `process.exitCode` at 1.
 */
export async function runContainerStage(
  loadRegistry: (config: PikoConfig) => JobRegistry | Promise<JobRegistry>,
  drivers: StoreDrivers,
  options: {
    /** Keep the run's `ctx.log` lines in the data directory's run log files (the local runtime's child). @default false */
    readonly keepRunLogs?: boolean;
  } = {},
): Promise<void> {
  const shutdown = new AbortController();
  process.once('SIGTERM', () => shutdown.abort(new Error('Fargate task stopped (SIGTERM)')));
  try {
    const config = getConfig();
    configureTelemetry({ logLevel: config.piko.logLevel, json: config.piko.logJson });
    const raw = process.env[STAGE_EVENT_ENV];
    if (!raw)
      throw new Error(
        `${STAGE_EVENT_ENV} is not set: this container runs one stage given by the job workflow`,
      );
    const payload = parseStagePayload(raw);
    // The task knows its own job (the task definition's environment) and refuses events of others.
    const jobId = requiredEnv(ENV_JOB_ID);
    const runtime = await openProcessServices(config, await loadRegistry(config), {
      drivers,
      migrate: false,
      shutdown: shutdown.signal,
      keepRunLogs: options.keepRunLogs,
    });
    try {
      // On ECS, the task this container is: recorded on the run, so a cancel can stop the task.
      const taskArn = await ecsTaskArn();
      const deps = { ...runtime, jobId, ...(taskArn === undefined ? {} : { taskArn }) };
      try {
        await runStage(deps, payload);
      } catch (error) {
        // By name: the stage runner throws a handler's error without secrets, a plain Error named
        // NonRetryableError (for every subclass too).
        const nonRetryable = error instanceof Error && workflowErrorName(error) === NonRetryableError.name;
        if (payload.action !== 'run' || !nonRetryable) throw error;
        // A failed `runTask.sync` reaches the workflow as States.TaskFailed whatever the container
        // says, so the workflow's NonRetryable rule (MaxAttempts 0) cannot match it and the stage
        // would be retried. The container records the failure itself, as "Record failure" would, and
        // ends with exit code 0: the workflow goes on, and every later stage finds the run failed
        // and runs nothing. If even that write fails, exit 1 as before (the stage is retried).
        const { name, message } = withoutSecrets(error);
        await runStage(deps, { action: 'fail', run: payload.run, error: { Error: name, Cause: message } });
        logger.warn('stage failed for good: recorded, not retried', { error: message, errorName: name });
        process.stderr.write(`${name}: ${message} (recorded as the run's failure; not retried)\n`);
      }
    } finally {
      await runtime.close();
    }
  } catch (error) {
    const { name, message } = withoutSecrets(error);
    logger.error('stage failed', { error: message, errorName: name });
    // The last stderr line is what the local runtime (and a reader of the task's logs) reports.
    process.stderr.write(`${name}: ${message}\n`);
    process.exitCode = 1;
  }
}
