/**
 * The dispatcher (control) Lambda: EventBridge Scheduler ticks, job workflow continuations, the
 * backfill state machine's steps and the `--aws` CLI. Three steps: parse the event, run the control
 * logic, map errors (rethrown with their class name, which Step Functions and the CLI match on, and
 * a message free of secrets).
 */

import { EcsTaskStopper } from '../shared/aws/ecs-task-stopper.ts';
import { jobStateMachinesOfFunction, lazySfnClient, SfnWorkflowStarter } from '../shared/aws/sfn-starter.ts';
import { getConfig } from '../shared/config.ts';
import type { ControlResponse } from '../shared/control/events.ts';
import { parseControlEvent } from '../shared/control/events.ts';
import { handleControlEvent } from '../shared/control/handlers.ts';
import { JobRegistry } from '../shared/registry.ts';
import { ENV_AWS_REGION, ENV_STACK_NAME, requiredEnv } from '../shared/stack/env.ts';
import { lambdaStoreOptions } from '../shared/stack/lambda-store.ts';
import { openMysqlStore } from '../shared/store/mysql/index.ts';
import type { StateStore } from '../shared/store/types.ts';
import { errorMessage, logger, metrics, withoutSecrets } from '../shared/telemetry.ts';
import { jobs } from './jobs/index.ts';

// Read at load time: a function deployed without them fails its first cold start, loudly.
const config = getConfig();
const storeOptions = lambdaStoreOptions(config, 2);
const region = requiredEnv(ENV_AWS_REGION);
const stackName = requiredEnv(ENV_STACK_NAME);

const registry = new JobRegistry(jobs);
const sfn = lazySfnClient({ region });
// The stack's Fargate cluster, when a job has a Fargate stage: a cancel stops the task of a run there.
const ecsCluster = config.aws.ecsCluster;
const tasks = ecsCluster ? new EcsTaskStopper({ region, clusterArn: ecsCluster }) : undefined;
let store: Promise<StateStore> | undefined;

/** The parts of Lambda's context object the dispatcher reads. */
export interface DispatcherContext {
  /** Gives the partition, region and account of the job state machines. */
  readonly invokedFunctionArn: string;
  getRemainingTimeInMillis(): number;
}

/**
 * One store per container, as the configuration says (on AWS: RDS Proxy with an IAM token, TLS with
 * Node's own CAs; see `lambdaStoreOptions`); a failed open is retried next time.
 */
function openStoreOnce(): Promise<StateStore> {
  if (!store) {
    store = openMysqlStore(storeOptions);
    store.catch(() => {
      store = undefined;
    });
  }
  return store;
}

/** Lambda entry point. */
export async function handler(event: unknown, context: DispatcherContext): Promise<ControlResponse> {
  try {
    const parsed = parseControlEvent(event);
    const machines = jobStateMachinesOfFunction(context.invokedFunctionArn, stackName);
    return await handleControlEvent(
      {
        store: await openStoreOnce(),
        jobs: registry,
        starter: new SfnWorkflowStarter(sfn, machines),
        machines,
        remainingMs: () => context.getRemainingTimeInMillis(),
        ...(tasks ? { tasks } : {}),
      },
      parsed,
    );
  } catch (error) {
    logger.error('dispatcher event failed', { error: errorMessage(error) });
    throw withoutSecrets(error, { described: true });
  } finally {
    if (metrics.hasStoredMetrics()) metrics.publishStoredMetrics();
  }
}
