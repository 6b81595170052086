/**
 * The Fargate image's entry (bundled by `infra/container-image.ts`): the project's jobs are imported
 * statically, as in the job Lambdas, so the image carries JavaScript only and loads nothing at run time.
 */
import { JobRegistry } from '../../shared/registry.ts';
import { runContainerStage } from '../../shared/runner/container-stage.ts';
import { MYSQL_DRIVERS } from '../../shared/store/drivers.ts';
import { jobs } from '../jobs/index.ts';

// On AWS the state is MySQL: the image carries no SQLite.
await runContainerStage(() => new JobRegistry(jobs), MYSQL_DRIVERS);
