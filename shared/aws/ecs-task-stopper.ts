/**
 * The ECS `TaskStopper` the dispatcher Lambda uses (`piko cancel --aws` of a run on a Fargate stage):
 * `ecs:StopTask` on the task the run recorded, in the stack's cluster only (the dispatcher's grant
 * holds for that cluster's tasks alone, by the `ecs:cluster` condition).
 */
import type { TaskStopper } from '../control/handlers.ts';
import { InputError } from '../errors.ts';
import { clusterArnOfTask } from '../stack/ecs-tasks.ts';
import { type AwsJsonClientOptions, callAwsJson } from './aws-json-call.ts';

/** StopTask's `reason`: at most 255 characters. */
export const MAX_STOP_REASON_LENGTH = 255;

/** The ECS JSON 1.1 API's target prefix. */
const ECS_TARGET_PREFIX = 'AmazonEC2ContainerServiceV20141113';

/** Options of {@link EcsTaskStopper}. */
export interface EcsTaskStopperOptions
  extends Partial<Omit<AwsJsonClientOptions, 'service' | 'serviceId' | 'targetPrefix' | 'region'>> {
  readonly region: string;
  /** The stack's cluster (ARN): a task of any other cluster is refused before any call. */
  readonly clusterArn: string;
}

/** Stops ECS tasks of the stack's cluster with `ecs:StopTask`. */
export class EcsTaskStopper implements TaskStopper {
  readonly #options: EcsTaskStopperOptions;

  constructor(options: EcsTaskStopperOptions) {
    this.#options = options;
  }

  /**
   * Asks ECS to stop `taskArn`; its containers get SIGTERM, then SIGKILL after their stop timeout.
   * A task that has stopped already is answered by ECS as stopped, not as an error.
   * @throws InputError for a task outside the stack's cluster (nothing is called); AwsCallError and
   *   AwsThrottledError from ECS.
   */
  async stopTask(taskArn: string, reason: string): Promise<void> {
    const cluster = clusterArnOfTask(taskArn);
    if (cluster !== this.#options.clusterArn) {
      throw new InputError(
        `Task ${taskArn} is not a task of the stack's cluster ${this.#options.clusterArn}: the dispatcher stops only the tasks of its own Fargate stages`,
      );
    }
    const { clusterArn: _, ...client } = this.#options;
    await callAwsJson(
      { ...client, service: 'ecs', serviceId: 'ECS', targetPrefix: ECS_TARGET_PREFIX },
      'StopTask',
      { cluster, task: taskArn, reason: truncate(reason, MAX_STOP_REASON_LENGTH) },
    );
  }
}

function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}
