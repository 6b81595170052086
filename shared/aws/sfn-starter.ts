/**
 * The AWS adapters (`shared/aws/`): the thin code that turns a port of the platform-free core into an
 * AWS SDK call. Here the Step Functions `WorkflowStarter` the dispatcher Lambda uses. The AWS SDK is
 * imported only here and in the `--aws` CLI (`shared/cli/aws/`); the names the stack gives things
 * come from `shared/stack/`.
 */
import type { SFNClient } from '@aws-sdk/client-sfn';
import {
  AwsCallError,
  AwsThrottledError,
  awsErrorName,
  THROTTLING_ERRORS,
  WorkflowNotDeployedError,
} from '../errors.ts';
import { jobStateMachineName } from '../stack/outputs.ts';
import type {
  ExecutionInput,
  ExecutionStatus,
  JobStateMachines,
  WorkflowStarter,
} from '../workflow/starter.ts';

/** Where the job state machines of a stack are, from the parts of their ARNs. */
export function jobStateMachines(location: {
  readonly partition: string;
  readonly region: string;
  readonly account: string;
  /** The stack's state machine name prefix (its name). */
  readonly prefix: string;
}): JobStateMachines {
  const { partition, region, account, prefix } = location;
  const base = `arn:${partition}:states:${region}:${account}`;
  return {
    stateMachineArn: (jobId) => `${base}:stateMachine:${jobStateMachineName(prefix, jobId)}`,
    executionArn: (jobId, name) => `${base}:execution:${jobStateMachineName(prefix, jobId)}:${name}`,
  };
}

/**
 * Where the job state machines are, from the ARN of the Lambda function that runs this code
 * (`context.invokedFunctionArn`): same partition, region and account.
 * @throws AwsCallError when the ARN is not a Lambda function ARN.
 */
export function jobStateMachinesOfFunction(functionArn: string, prefix: string): JobStateMachines {
  const match = /^arn:([^:]+):lambda:([^:]+):(\d{12}):function:/.exec(functionArn);
  if (!match) {
    throw new AwsCallError(`"${functionArn}" is not a Lambda function ARN`, 'InvalidArn');
  }
  const [, partition, region, account] = match as unknown as [string, string, string, string];
  return jobStateMachines({ partition, region, account, prefix });
}

/**
 * The Step Functions SDK, loaded on first use: loading it costs a cold start about 250 ms, and the
 * status, pause and backfill-plan events never need it.
 */
function sdk(): Promise<typeof import('@aws-sdk/client-sfn')> {
  sdkModule ??= import('@aws-sdk/client-sfn');
  return sdkModule;
}
let sdkModule: Promise<typeof import('@aws-sdk/client-sfn')> | undefined;

/** A Step Functions client created on first use, with the SDK's default retries. */
export function lazySfnClient(config: { readonly region: string }): () => Promise<SFNClient> {
  let client: Promise<SFNClient> | undefined;
  return () => {
    client ??= sdk().then(({ SFNClient }) => new SFNClient({ region: config.region }));
    return client;
  };
}

/** Step Functions statuses of an execution that is still going. */
const LIVE_STATUSES: ReadonlySet<string> = new Set(['RUNNING', 'PENDING_REDRIVE']);

/**
 * Starts job workflow executions in Step Functions ({@link WorkflowStarter} on AWS).
 *
 * `start` is idempotent by name: Step Functions itself accepts a second start of a running execution
 * with the same name and input, and answers `ExecutionAlreadyExists` when it has ended (or the input
 * differs, which a deterministic name rules out), which means "already started" here.
 */
export class SfnWorkflowStarter implements WorkflowStarter {
  readonly #client: () => Promise<SFNClient>;
  readonly #machines: JobStateMachines;

  /**
   * @param client the Step Functions client (its default retry policy retries throttling first), or a
   *   function that creates it on first use (see {@link lazySfnClient}).
   * @param machines where the job state machines are.
   */
  constructor(client: SFNClient | (() => Promise<SFNClient>), machines: JobStateMachines) {
    this.#client = typeof client === 'function' ? client : () => Promise.resolve(client);
    this.#machines = machines;
  }

  /**
   * Starts `input.executionName` of the job's state machine with `input` as its input.
   * @throws AwsThrottledError when throttled after the SDK's retries; WorkflowNotDeployedError when the
   *   job's state machine does not exist; AwsCallError for any other AWS error.
   */
  async start(input: ExecutionInput): Promise<void> {
    const stateMachineArn = this.#machines.stateMachineArn(input.jobId);
    try {
      const [client, { StartExecutionCommand }] = await Promise.all([this.#client(), sdk()]);
      await client.send(
        new StartExecutionCommand({
          stateMachineArn,
          name: input.executionName,
          input: JSON.stringify(input),
        }),
      );
    } catch (error) {
      if (awsErrorName(error) === 'ExecutionAlreadyExists') return;
      throw sfnError(error, 'StartExecution', input.jobId, input.executionName, stateMachineArn);
    }
  }

  /**
   * `running` while the execution runs (or waits to be redriven), `ended` once it has stopped,
   * `absent` when Step Functions does not know it.
   * @throws AwsThrottledError, AwsCallError as {@link SfnWorkflowStarter.start}.
   */
  async status(jobId: string, executionName: string): Promise<ExecutionStatus> {
    const executionArn = this.#machines.executionArn(jobId, executionName);
    try {
      const [client, { DescribeExecutionCommand }] = await Promise.all([this.#client(), sdk()]);
      const { status } = await client.send(new DescribeExecutionCommand({ executionArn }));
      return status !== undefined && LIVE_STATUSES.has(status) ? 'running' : 'ended';
    } catch (error) {
      if (awsErrorName(error) === 'ExecutionDoesNotExist') return 'absent';
      throw sfnError(error, 'DescribeExecution', jobId, executionName, this.#machines.stateMachineArn(jobId));
    }
  }
}

function sfnError(
  error: unknown,
  call: string,
  jobId: string,
  executionName: string,
  stateMachineArn: string,
): AwsCallError {
  const name = awsErrorName(error);
  const detail = error instanceof Error && error.message ? `: ${error.message}` : '';
  const what = `Step Functions ${call} of execution "${executionName}" of job "${jobId}"`;
  if (THROTTLING_ERRORS.has(name)) {
    return new AwsThrottledError(
      `${what} was throttled (${name}) after the SDK's retries; the runs stay queued and the next dispatch starts them again`,
      name,
      { cause: error },
    );
  }
  if (name === 'StateMachineDoesNotExist') {
    return new WorkflowNotDeployedError(
      `${what} failed: state machine ${stateMachineArn} does not exist; deploy the stack (npx cdk deploy) after adding or renaming a job`,
      name,
      { cause: error },
    );
  }
  return new AwsCallError(`${what} failed (${name})${detail}`, name, { cause: error });
}
