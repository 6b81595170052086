/**
 * Which ECS task a Fargate stage's container runs in: the task metadata endpoint (version 4) that ECS
 * gives every container of a task (`ECS_CONTAINER_METADATA_URI_V4`, Fargate platform 1.4.0 and
 * later). The stage records the task's ARN on its run, so that `piko cancel --aws` can stop the task
 * at once instead of waiting for the stage's next cancel poll.
 */
import { isTaskArn } from '../stack/ecs-tasks.ts';
import { errorMessage, logger } from '../telemetry.ts';

/** The variable ECS sets to the container's metadata endpoint; `<uri>/task` describes its task. */
export const ECS_METADATA_URI_ENV = 'ECS_CONTAINER_METADATA_URI_V4';

/** How long the container waits for the metadata endpoint, in milliseconds: it answers locally. */
export const TASK_METADATA_TIMEOUT_MS = 2_000;

/** Options of {@link ecsTaskArn}. */
export interface TaskMetadataOptions {
  /** @default process.env */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** @default globalThis.fetch */
  readonly fetch?: typeof fetch;
  /** @default {@link TASK_METADATA_TIMEOUT_MS} */
  readonly timeoutMs?: number;
}

/**
 * The ARN of the ECS task this process runs in, or undefined outside ECS (no metadata endpoint: a
 * Lambda function, the local runtime's child process). Never throws: an endpoint that fails or
 * answers something else is logged, and the stage runs without its task recorded (a cancel then
 * stops it at the stage's next poll).
 */
export async function ecsTaskArn(options: TaskMetadataOptions = {}): Promise<string | undefined> {
  const uri = (options.env ?? process.env)[ECS_METADATA_URI_ENV];
  if (!uri) return undefined;
  try {
    const response = await (options.fetch ?? fetch)(`${uri.replace(/\/+$/, '')}/task`, {
      signal: AbortSignal.timeout(options.timeoutMs ?? TASK_METADATA_TIMEOUT_MS),
    });
    if (!response.ok) throw new Error(`HTTP ${response.status} from the task metadata endpoint`);
    const body = (await response.json()) as { TaskARN?: unknown };
    const taskArn = body.TaskARN;
    if (typeof taskArn !== 'string' || !isTaskArn(taskArn)) {
      throw new Error(
        `the task metadata has no task ARN in the long format (TaskARN: ${JSON.stringify(taskArn) ?? 'absent'})`,
      );
    }
    return taskArn;
  } catch (error) {
    logger.warn('task ARN not known: a cancel stops this stage at its next poll', {
      error: errorMessage(error),
    });
    return undefined;
  }
}
