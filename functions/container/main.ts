/**
 * The local Fargate stage entry: the local runtime spawns it through tsx for each Fargate stage, and
 * it loads the jobs from `piko.jobs_dir` as the local runtime does (tests use fixture job folders).
 * The image runs `functions/container/bundle-entry.ts` instead, bundled, with the project's jobs built in.
 */
import { loadJobs } from '../../shared/registry.ts';
import { LOCAL_DRIVERS } from '../../shared/store/local.ts';
import { runContainerStage } from './run-stage.ts';

// Locally the state may be a SQLite file, as in the local runtime that spawned this process.
await runContainerStage((config) => loadJobs(config.piko.jobsDir), LOCAL_DRIVERS);
