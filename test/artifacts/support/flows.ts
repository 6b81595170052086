/**
 * Steps the flows of the artifact tier share: the deploy's migrations (the custom resource's
 * bundle), a schedule tick (EventBridge Scheduler's input to the dispatcher) and the state table.
 */
import { checkCalls, type IamCheck } from './iam-simulation.ts';
import type { LambdaSandbox } from './lambda-sandbox.ts';
import type { WorkflowStack } from './workflow-stack.ts';

/** A run row as the state table holds it. */
export interface RunRow {
  readonly run_id: number;
  readonly job_id: string;
  readonly interval_start: Date;
  readonly status: string;
  readonly attempts: number;
  readonly execution_name: string | null;
  readonly error: string | null;
  readonly trigger: string;
  /** The last stage's result as JSON text, when recorded. */
  readonly output: string | null;
  /** The ECS task of its last Fargate stage, as the container recorded it. */
  readonly task_arn: string | null;
}

/** Applies the migrations as the deploy does: the custom resource's handler with a Create event. */
export async function deployMigrations(world: WorkflowStack): Promise<void> {
  const handler = await world.sandbox('Migrations/Handler');
  const [migrations] = world.stack.app.resourcesOfType('Custom::PikoMigrations');
  if (!migrations) throw new Error('the template has no Custom::PikoMigrations');
  const result = await handler.invoke({
    RequestType: 'Create',
    ServiceToken: world.stack.resolver.resolve(migrations[1].Properties?.ServiceToken),
    ResponseURL: 'https://cloudformation-custom-resource-response-euwest1.s3.amazonaws.com/test',
    StackId: 'arn:aws:cloudformation:eu-west-1:123456789012:stack/Piko/00000000-0000-0000-0000-000000000000',
    RequestId: '22222222-2222-2222-2222-222222222222',
    LogicalResourceId: migrations[0],
    ResourceType: 'Custom::PikoMigrations',
    ResourceProperties: world.stack.resolver.resolve(migrations[1].Properties),
  });
  if (!result.ok)
    throw new Error(
      `migrations failed: ${result.error.errorType}: ${result.error.errorMessage}\n${handler.logs()}`,
    );
}

/** Invokes the dispatcher with what EventBridge Scheduler sends on a tick: `{ jobId }`. */
export async function tick(dispatcher: LambdaSandbox, jobId: string): Promise<DispatchAnswer> {
  const result = await dispatcher.invoke({ jobId });
  if (!result.ok) {
    throw new Error(
      `dispatcher tick of ${jobId} failed: ${result.error.errorType}: ${result.error.errorMessage}\n${dispatcher.logs()}`,
    );
  }
  return result.payload as DispatchAnswer;
}

/** What the dispatcher answers a tick. */
export interface DispatchAnswer {
  readonly planned: number;
  readonly started: readonly { readonly executionName: string; readonly runs: number }[];
}

/** The runs of a job, oldest first. */
export function runsOf(world: WorkflowStack, jobId: string): Promise<RunRow[]> {
  return world.stack.query<RunRow[]>(
    'SELECT run_id, job_id, interval_start, status, attempts, execution_name, error, trigger_kind AS `trigger`, output, task_arn FROM piko_runs WHERE job_id = ? ORDER BY interval_start',
    [jobId],
  );
}

/** The runs of one execution. */
export async function runsOfExecution(
  world: WorkflowStack,
  jobId: string,
  executionName: string,
): Promise<RunRow[]> {
  return (await runsOf(world, jobId)).filter((run) => run.execution_name === executionName);
}

/**
 * Every distinct AWS call the artifacts made so far (the sandboxes', the state machines' roles', the
 * container tasks'), decided by the IAM simulation against the synthesized policies; each must be
 * Allowed. Calls of the test itself (`console`) are left out.
 * @throws Error for a call by an access key no principal has.
 */
export async function simulateRecordedCalls(
  world: WorkflowStack,
): Promise<{ calls: number; checks: IamCheck[] }> {
  const calls = world.stack.identities.calls().filter((call) => call.accessKeyId !== 'console');
  const requests = new Map<string, Parameters<typeof checkCalls>[2][number]>();
  for (const call of calls) {
    if (!call.principal)
      throw new Error(`${call.action} on ${call.resource} by unknown access key ${call.accessKeyId}`);
    requests.set(`${call.principal.roleLogicalId} ${call.action} ${call.resource}`, {
      principal: call.principal.name,
      roleLogicalId: call.principal.roleLogicalId,
      action: call.action,
      resource: call.resource,
      ...(call.context ? { context: call.context } : {}),
      expected: 'Allowed',
      source: 'recorded',
    });
  }
  return {
    calls: calls.length,
    checks: await checkCalls(world.stack.app, world.stack.resolver, [...requests.values()]),
  };
}
