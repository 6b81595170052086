/**
 * The job function: runs a job's Lambda stages and records failures (the job workflow's Task states).
 * Three steps: parse the event, run the stage, map errors (rethrown with their name, which the
 * workflow's Retry and Catch match on, and a message free of secrets).
 */

import { getConfig } from '../shared/config.ts';
import { JobRegistry } from '../shared/registry.ts';
import { openProcessServices, type ProcessServices } from '../shared/runner/process.ts';
import { runStage } from '../shared/runner/stage-runner.ts';
import { ENV_JOB_ID, requiredEnv } from '../shared/stack/env.ts';
import { MYSQL_DRIVERS, type StoreDrivers } from '../shared/store/drivers.ts';
import { configureTelemetry, metrics, withoutSecrets } from '../shared/telemetry.ts';
import { parseStagePayload } from '../shared/workflow/stage-event.ts';
import { jobs } from './jobs/index.ts';

/**
 * The job function's handler, opening the store with `drivers`: MySQL on AWS ({@link handler}); a
 * test may run this very handler on a SQLite file with the local drivers.
 */
export function stageRunnerHandler(drivers: StoreDrivers): (event: unknown) => Promise<unknown> {
  let runtime: Promise<ProcessServices> | undefined;
  /** The job this function is deployed for (one function per job): events for others are refused. */
  let ownJobId: string | undefined;

  /** Opened once per Lambda container; migrations are applied by the deploy, not here. */
  const processServices = (): Promise<ProcessServices> => {
    if (!runtime) {
      const config = getConfig();
      configureTelemetry({ logLevel: config.piko.logLevel, json: config.piko.logJson });
      ownJobId = requiredEnv(ENV_JOB_ID);
      runtime = openProcessServices(config, new JobRegistry(jobs), { drivers, migrate: false });
      runtime.catch(() => {
        runtime = undefined;
      });
    }
    return runtime;
  };

  return async (event) => {
    const payload = parseStagePayload(event);
    try {
      const deps = await processServices();
      return await runStage({ ...deps, jobId: ownJobId }, payload);
    } catch (error) {
      throw withoutSecrets(error);
    } finally {
      metrics.publishStoredMetrics();
    }
  };
}

/** Lambda entry point of a job's stages: on AWS the state is MySQL. */
export const handler = stageRunnerHandler(MYSQL_DRIVERS);
