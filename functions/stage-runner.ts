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
import { configureTelemetry, metrics, withoutSecrets } from '../shared/telemetry.ts';
import { parseStagePayload } from '../shared/workflow/stage-event.ts';
import { jobs } from './jobs/index.ts';

let runtime: Promise<ProcessServices> | undefined;
/** The job this function is deployed for (one function per job): events for others are refused. */
let ownJobId: string | undefined;

/** Opened once per Lambda container; migrations are applied by the deploy, not here. */
function processServices(): Promise<ProcessServices> {
  if (!runtime) {
    const config = getConfig();
    configureTelemetry({ logLevel: config.piko.logLevel, json: config.piko.logJson });
    ownJobId = requiredEnv(ENV_JOB_ID);
    runtime = openProcessServices(config, new JobRegistry(jobs), { migrate: false });
    runtime.catch(() => {
      runtime = undefined;
    });
  }
  return runtime;
}

/** Lambda entry point of a job's stages. */
export async function handler(event: unknown): Promise<unknown> {
  const payload = parseStagePayload(event);
  try {
    const deps = await processServices();
    return await runStage({ ...deps, jobId: ownJobId }, payload);
  } catch (error) {
    throw withoutSecrets(error);
  } finally {
    metrics.publishStoredMetrics();
  }
}
