/**
 * The Fargate container entry point: runs one Fargate stage of one run, then exits.
 * The event arrives in `PIKO_STAGE_EVENT` (the workflow's container override; locally, the child
 * process environment). Exit code 0 on success; 1 on failure, with the error on stderr. The image runs
 * TypeScript through tsx, so the jobs load from `piko.jobs_dir` as in the local runtime.
 */
import { ENV_JOB_ID, requiredEnv } from '../../shared/aws/env.ts';
import { getConfig } from '../../shared/config.ts';
import { parseStagePayload, STAGE_EVENT_ENV } from '../../shared/local/workflow/payload.ts';
import { loadJobs } from '../../shared/registry.ts';
import { openProcessRuntime } from '../../shared/runner/process.ts';
import { runStage } from '../../shared/runner/stage-runner.ts';
import { configureTelemetry, errorMessage, logger } from '../../shared/telemetry.ts';

const config = getConfig();
configureTelemetry({ logLevel: config.piko.logLevel, json: config.piko.logJson });
const shutdown = new AbortController();
process.once('SIGTERM', () => shutdown.abort(new Error('Fargate task stopped (SIGTERM)')));

try {
  const raw = process.env[STAGE_EVENT_ENV];
  if (!raw)
    throw new Error(`${STAGE_EVENT_ENV} is not set: this container runs one stage given by the job workflow`);
  const payload = parseStagePayload(raw);
  const jobId = requiredEnv(ENV_JOB_ID);
  const runtime = await openProcessRuntime(config, await loadJobs(config.piko.jobsDir), {
    migrate: false,
    shutdown: shutdown.signal,
  });
  try {
    await runStage({ ...runtime, jobId }, payload);
  } finally {
    await runtime.close();
  }
} catch (error) {
  const message = errorMessage(error);
  logger.error('stage failed', { error: message, errorName: error instanceof Error ? error.name : 'Error' });
  // The last stderr line is what the local runtime (and a reader of the task's logs) reports.
  process.stderr.write(`${error instanceof Error ? error.name : 'Error'}: ${message}\n`);
  process.exitCode = 1;
}
