/**
 * The jobs of the racing-runtimes harness (`support/racing-runtimes.ts`, used by
 * `test/race/racing-runtimes.test.ts` and `bench/racing-runtimes.ts`): one job, configured by
 * `PIKO_TEST_RACE_*` variables, so every race uses a fresh job id in one database.
 */
import type { JobDefinition } from '../../shared/job.ts';
import { recordingJob } from './recording-job.ts';

export const jobs: readonly JobDefinition[] = [recordingJob];
