import { getConfig, type PikoConfig } from '../config.ts';
import { type JobRegistry, loadJobs } from '../registry.ts';
import { openProcessServices, type ProcessServices } from '../runner/process.ts';
import { LOCAL_DRIVERS } from '../store/local.ts';
import { configureTelemetry } from '../telemetry.ts';

/** What most commands need: the config, the jobs, and (opened on demand) the store and resources. */
export interface CliContext {
  readonly config: PikoConfig;
  readonly jobs: JobRegistry;
  /** Opens the store (migrated) and the resources; call `close()` on the result. */
  open(options?: { shutdown?: AbortSignal }): Promise<ProcessServices>;
}

/** Loads config and jobs; the store is opened only by commands that need it. */
export async function cliContext(options: { json?: boolean } = {}): Promise<CliContext> {
  const config = getConfig();
  configureTelemetry({
    logLevel: config.piko.logLevel,
    json: options.json ?? config.piko.logJson,
    // --json: standard output carries the command's events only, one JSON object each.
    toStderr: options.json === true,
  });
  const jobs = await loadJobs(config.piko.jobsDir);
  return {
    config,
    jobs,
    open: (openOptions = {}) =>
      openProcessServices(config, jobs, {
        drivers: LOCAL_DRIVERS,
        migrate: true,
        shutdown: openOptions.shutdown,
        keepRunLogs: true,
      }),
  };
}

/** Runs `work` with the opened process services and always closes them. */
export async function withProcess<T>(
  context: CliContext,
  work: (runtime: ProcessServices) => Promise<T>,
  options: { shutdown?: AbortSignal } = {},
): Promise<T> {
  const runtime = await context.open(options);
  try {
    return await work(runtime);
  } finally {
    await runtime.close();
  }
}
