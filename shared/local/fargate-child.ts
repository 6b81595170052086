/**
 * The local Fargate stage entry: `fargate-process.ts` spawns it through tsx for each Fargate stage.
 * It runs the stage as the image does (`shared/runner/container-stage.ts`), with the jobs loaded from
 * `piko.jobs_dir` as the local runtime loads them (tests use fixture job folders), where the image has
 * the project's jobs built in (`functions/container/bundle-entry.ts`).
 */
import { loadJobs } from '../registry.ts';
import { runContainerStage } from '../runner/container-stage.ts';
import { LOCAL_DRIVERS } from '../store/local.ts';

// Locally the state may be a SQLite file, as in the local runtime that spawned this process; the
// stage's ctx.log lines go to the same run log file as the runtime's own stages.
await runContainerStage((config) => loadJobs(config.piko.jobsDir), LOCAL_DRIVERS, { keepRunLogs: true });
