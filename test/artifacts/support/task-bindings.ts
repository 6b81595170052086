/**
 * How the Task states of the template's state machines reach the artifacts, as Step Functions' service
 * integrations would:
 *
 * - a Lambda function ARN as `Resource`, or `arn:aws:states:::lambda:invoke` (`InvocationType`
 *   `Event` too): the bundled function, invoked through its sandboxed process; a function error
 *   reaches Retry/Catch with its `errorType` as the error name and the Lambda error JSON as Cause;
 * - `arn:aws:states:::states:startExecution` and `.sync:2`: the local Step Functions endpoint;
 *   `.sync:2` waits and returns the DescribeExecution result (Input as JSON text, Output as JSON);
 * - `arn:aws:states:::ecs:runTask.sync`: the container artifact ({@link runContainer}) with the task
 *   definition's environment and the rendered overrides, the RunTask override limit enforced, and
 *   the task metadata endpoint (v4) ECS gives every container (`ECS_CONTAINER_METADATA_URI_V4`,
 *   `<uri>/task` → the task's ARN and cluster); a non-zero exit is `States.TaskFailed` with the task
 *   description as Cause.
 *
 * Every result is checked against the 256 KiB state payload limit (`States.DataLimitExceeded`), and
 * every call Step Functions makes on the state machine role's behalf is recorded for IAM.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AwsIdentities } from './aws-identities.ts';
import type { ContainerExit } from './container-task.ts';
import {
  type ExecutionBindings,
  type ExecutionRecord,
  type JsonValue,
  SfnApiError,
  type SfnEndpoint,
  type TaskHandler,
  taskStates,
} from './sfn-endpoint.ts';
import {
  logicalIdsOfType,
  type TemplateResources,
  type TemplateStateMachine,
  type TemplateTokens,
} from './state-machines.ts';

/** A state's input or output: at most 256 KiB of UTF-8. */
export const MAX_STATE_PAYLOAD_BYTES = 262_144;
/** RunTask's `overrides`: at most 8,192 characters of JSON in total. */
export const MAX_RUN_TASK_OVERRIDES_CHARACTERS = 8_192;

/** A Lambda function's error, as the Lambda runtime reports it. */
export interface LambdaFunctionError {
  readonly errorType: string;
  readonly errorMessage: string;
  readonly trace?: readonly string[];
}

/** What one invocation gave: a payload, or a function error. */
export type LambdaOutcome =
  | { readonly ok: true; readonly payload: unknown }
  | { readonly ok: false; readonly error: LambdaFunctionError };

/** Invokes a bundled function (by logical id) with an event, through its sandbox. */
export type InvokeFunction = (functionLogicalId: string, event: unknown) => Promise<LambdaOutcome>;

/** A RunTask request as the binding hands it to the container. */
export interface EcsTaskRequest {
  readonly taskDefinitionLogicalId: string;
  readonly containerName: string;
  /** The task definition's environment with the overrides applied. */
  readonly environment: Readonly<Record<string, string>>;
  /** Container paths the task definition backs with a bind volume. */
  readonly bindMounts: readonly string[];
  readonly timeoutMs: number;
  /** The container definition's `User`, which wins over the image's. @default the image's */
  readonly user?: string;
}

/** A Task state about to run, for a test to act on (inject a fault, count). */
export interface TaskStart {
  readonly machine: TemplateStateMachine;
  readonly execution: ExecutionRecord;
  readonly stateName: string;
  readonly input: JsonValue;
}

/** Options of {@link TaskBindings}. */
export interface TaskBindingsOptions {
  readonly template: TemplateResources;
  /** Resolves the template's tokens (the same resolver as the state machines'). */
  readonly tokens: TemplateTokens;
  /**
   * Receives the calls Step Functions makes with each state machine's role (`lambda:InvokeFunction`,
   * `states:StartExecution`, `ecs:RunTask`, `iam:PassRole`, …), as the principal named after the
   * state machine.
   */
  readonly identities: AwsIdentities;
  readonly invokeFunction: InvokeFunction;
  /** Runs a container task of the stage image. */
  readonly runEcsTask: (request: EcsTaskRequest) => Promise<ContainerExit>;
  /**
   * The container environment of a task definition, before overrides.
   * @default the template's `Environment`, resolved by `tokens`
   */
  readonly containerEnvironment?: (
    taskDefinitionLogicalId: string,
    containerName: string,
  ) => Record<string, string>;
  /** Called before each Task state runs. @default nothing */
  readonly beforeTask?: (task: TaskStart) => Promise<void> | void;
}

/** What a test learns about the Task states run. */
export interface TaskRecord {
  readonly machine: string;
  readonly stateName: string;
  readonly input: JsonValue;
  /** The error name when it failed. */
  readonly error?: string;
  readonly cause?: string;
}

/** Binds Task states for an {@link SfnEndpoint}; give it the endpoint with {@link TaskBindings.attach}. */
export class TaskBindings {
  readonly #options: TaskBindingsOptions;
  #endpoint: SfnEndpoint | undefined;
  #closed = false;
  readonly #functionsByArn = new Map<string, string>();
  readonly #pending = new Set<Promise<unknown>>();
  /** Every Task state run, in order of start. */
  readonly tasks: TaskRecord[] = [];
  /** Failures of asynchronous (Event) invocations: Lambda would retry them twice, then drop them. */
  readonly asyncFailures: string[] = [];
  /** What each container task printed, in order, with the task's ARN. */
  readonly containerRuns: (ContainerExit & {
    readonly environment: Readonly<Record<string, string>>;
    readonly taskArn: string;
  })[] = [];
  /** The task metadata endpoint: `/v4/<task id>/task` → the task (`TaskARN`, `Cluster`), while it runs. */
  readonly #metadata = new Map<string, { TaskARN: string; Cluster: string; LaunchType: 'FARGATE' }>();
  #metadataServer: Promise<string> | undefined;

  constructor(options: TaskBindingsOptions) {
    this.#options = options;
    for (const logicalId of logicalIdsOfType(options.template, 'AWS::Lambda::Function')) {
      const arn = options.tokens.getAtt(logicalId, 'Arn');
      this.#functionsByArn.set(arn, logicalId);
      this.#functionsByArn.set(`${arn}:$LATEST`, logicalId);
      this.#functionsByArn.set(options.tokens.ref(logicalId), logicalId);
    }
  }

  /** The principal a state machine's role acts as (its calls are recorded under it). */
  principalOf(machine: TemplateStateMachine) {
    if (!machine.roleLogicalId) throw new Error(`state machine ${machine.name} has no role of this template`);
    return this.#options.identities.principal(machine.name, machine.roleLogicalId, machine.roleArn);
  }

  /** Stops binding: a Task state that starts from now on fails (`States.Runtime`) without calling anything. */
  close(): void {
    this.#closed = true;
    void this.#metadataServer?.then(() => this.#server?.close());
    this.#server?.closeAllConnections();
  }

  #server: Server | undefined;

  /** The metadata endpoint's base URL (`http://127.0.0.1:<port>`), started on first use. */
  #metadataUrl(): Promise<string> {
    this.#metadataServer ??= new Promise((resolve, reject) => {
      const server = createServer((request, response) => {
        const id = /^\/v4\/([^/]+)\/task$/.exec(request.url ?? '')?.[1];
        const task = id === undefined ? undefined : this.#metadata.get(id);
        response.writeHead(task ? 200 : 404, { 'content-type': 'application/json' });
        response.end(JSON.stringify(task ?? { message: 'no such task' }));
      });
      this.#server = server;
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => {
        const address = server.address();
        if (!address || typeof address === 'string') reject(new Error('no address'));
        else resolve(`http://127.0.0.1:${address.port}`);
      });
    });
    return this.#metadataServer;
  }

  /** The endpoint `states:startExecution` tasks start executions on. */
  attach(endpoint: SfnEndpoint): void {
    this.#endpoint = endpoint;
  }

  /** The {@link ExecutionBindings} to give the endpoint. */
  readonly bindings: ExecutionBindings = (machine, execution) => {
    const handlers: Record<string, TaskHandler> = {};
    for (const [stateName, resource] of taskStates(machine.definition)) {
      const run = this.#handler(machine, execution, stateName, resource);
      handlers[stateName] = async (input) => {
        if (this.#closed) throw namedError('States.Runtime', 'the artifact stack is stopping');
        await this.#options.beforeTask?.({ machine, execution, stateName, input });
        const record: { -readonly [K in keyof TaskRecord]: TaskRecord[K] } = {
          machine: machine.name,
          stateName,
          input,
        };
        this.tasks.push(record);
        try {
          return checkedPayload(await run(input));
        } catch (error) {
          record.error = (error as Error).name;
          record.cause = (error as Error).message;
          throw error;
        }
      };
    }
    return handlers;
  };

  /**
   * Resolves once no execution runs and no asynchronous invocation is in flight.
   * @param maxExecutions fails once more executions than this exist in all: a workflow that keeps
   *   starting itself (a runaway) fails the flow at once instead of at its timeout. @default 60
   */
  async settled(maxExecutions = 60): Promise<void> {
    const endpoint = this.#requireEndpoint();
    for (;;) {
      if (endpoint.executions.length > maxExecutions) {
        const names = endpoint.executions.slice(-3).map((execution) => execution.name);
        throw new Error(
          `runaway: ${endpoint.executions.length} executions started (more than ${maxExecutions}); the last: ${names.join(', ')}`,
        );
      }
      await Promise.race([endpoint.idle(), new Promise((resolve) => setTimeout(resolve, 200))]);
      if (endpoint.executions.some((execution) => execution.status === 'RUNNING')) continue;
      if (this.#pending.size === 0) {
        const running = endpoint.executions.some((execution) => execution.status === 'RUNNING');
        if (!running) return;
        continue;
      }
      await Promise.allSettled([...this.#pending]);
    }
  }

  #handler(
    machine: TemplateStateMachine,
    execution: ExecutionRecord,
    stateName: string,
    resource: string,
  ): TaskHandler {
    const caller = `${machine.name} › ${stateName}`;
    const principal = this.principalOf(machine);
    const record = (action: string, target: string) =>
      this.#options.identities.record({
        action,
        resource: target,
        accessKeyId: principal.credentials.accessKeyId,
      });
    const service = /^arn:[^:]+:states:::(.+)$/.exec(resource)?.[1];

    if (service === undefined) {
      // A function ARN as Resource: the payload is the state's input; the result is the function's.
      const functionId = this.#functionId(resource, stateName);
      return async (input) => {
        record('lambda:InvokeFunction', resource);
        return lambdaResult(await this.#options.invokeFunction(functionId, input));
      };
    }
    if (service === 'lambda:invoke') {
      return async (input): Promise<JsonValue> => {
        const parameters = (input ?? {}) as {
          FunctionName?: string;
          Payload?: unknown;
          InvocationType?: string;
        };
        const functionName = String(parameters.FunctionName);
        record('lambda:InvokeFunction', functionName);
        const functionId = this.#functionId(functionName, stateName);
        if (parameters.InvocationType === 'Event') {
          // Queued by Lambda and run later; the task only learns that Lambda accepted it.
          const pending = this.#options
            .invokeFunction(functionId, parameters.Payload ?? {})
            .then((outcome) => {
              if (!outcome.ok)
                this.asyncFailures.push(
                  `${caller}: ${outcome.error.errorType}: ${outcome.error.errorMessage}`,
                );
            });
          this.#pending.add(pending);
          void pending.finally(() => this.#pending.delete(pending));
          return { StatusCode: 202, Payload: '' };
        }
        const payload = lambdaResult(
          await this.#options.invokeFunction(functionId, parameters.Payload ?? {}),
        );
        return {
          ExecutedVersion: '$LATEST',
          Payload: payload,
          SdkHttpMetadata: { HttpStatusCode: 200 },
          SdkResponseMetadata: { RequestId: randomUUID() },
          StatusCode: 200,
        };
      };
    }
    if (
      service === 'states:startExecution' ||
      service === 'states:startExecution.sync:2' ||
      service === 'states:startExecution.sync'
    ) {
      return async (input) => {
        const parameters = (input ?? {}) as { StateMachineArn?: string; Name?: string; Input?: unknown };
        const child = this.#start(parameters, principal.credentials.accessKeyId);
        if (service === 'states:startExecution') {
          return { ExecutionArn: child.executionArn, StartDate: child.startDate.getTime() };
        }
        record('states:DescribeExecution', child.executionArn);
        record(
          'events:PutTargets',
          arnBeside(machine.arn, 'events', 'rule/StepFunctionsGetEventsForStepFunctionsExecutionRule'),
        );
        record(
          'events:PutRule',
          arnBeside(machine.arn, 'events', 'rule/StepFunctionsGetEventsForStepFunctionsExecutionRule'),
        );
        record(
          'events:DescribeRule',
          arnBeside(machine.arn, 'events', 'rule/StepFunctionsGetEventsForStepFunctionsExecutionRule'),
        );
        await child.ended;
        const described = {
          ExecutionArn: child.executionArn,
          Input: child.input,
          InputDetails: { Included: true },
          Name: child.name,
          ...(child.output !== undefined
            ? {
                Output:
                  service === 'states:startExecution.sync:2'
                    ? (JSON.parse(child.output) as JsonValue)
                    : child.output,
                OutputDetails: { Included: true },
              }
            : {}),
          RedriveCount: 0,
          RedriveStatus: 'NOT_REDRIVABLE',
          StartDate: child.startDate.getTime(),
          StateMachineArn: child.stateMachineArn,
          Status: child.status,
          StopDate: (child.stopDate ?? new Date()).getTime(),
          ...(child.error !== undefined ? { Error: child.error } : {}),
          ...(child.cause !== undefined ? { Cause: child.cause } : {}),
        };
        if (child.status !== 'SUCCEEDED') throw namedError('States.TaskFailed', JSON.stringify(described));
        return described as JsonValue;
      };
    }
    if (service === 'ecs:runTask.sync') {
      return async (input) => this.#runTask(input, machine, execution, stateName, record);
    }
    throw new Error(`Task state "${stateName}" of ${machine.name}: no binding for Resource ${resource}`);
  }

  #start(
    parameters: { StateMachineArn?: string; Name?: string; Input?: unknown },
    accessKeyId: string,
  ): ExecutionRecord {
    const input =
      parameters.Input === undefined
        ? '{}'
        : typeof parameters.Input === 'string'
          ? parameters.Input
          : JSON.stringify(parameters.Input);
    try {
      return this.#requireEndpoint().startExecution(
        { stateMachineArn: parameters.StateMachineArn, name: parameters.Name, input },
        accessKeyId,
      );
    } catch (error) {
      if (error instanceof SfnApiError) {
        const type = error.name.endsWith('Exception') ? error.name : `${error.name}Exception`;
        throw namedError(
          `StepFunctions.${type}`,
          `${error.message} (Service: AWSStepFunctions; Status Code: ${error.status}; Error Code: ${error.name})`,
        );
      }
      throw error;
    }
  }

  async #runTask(
    input: JsonValue,
    machine: TemplateStateMachine,
    execution: ExecutionRecord,
    stateName: string,
    record: (action: string, target: string) => void,
  ): Promise<JsonValue> {
    const { template, tokens } = this.#options;
    const parameters = (input ?? {}) as {
      Cluster?: string;
      TaskDefinition?: string;
      Overrides?: {
        ContainerOverrides?: { Name?: string; Environment?: { Name?: string; Value?: string }[] }[];
      };
    };
    const taskDefinitionId = this.#taskDefinitionId(String(parameters.TaskDefinition));
    const taskDefinitionArn = tokens.ref(taskDefinitionId);
    record('ecs:RunTask', taskDefinitionArn);
    const properties = template.Resources[taskDefinitionId]?.Properties ?? {};
    for (const roleProperty of ['TaskRoleArn', 'ExecutionRoleArn']) {
      if (properties[roleProperty] !== undefined)
        record('iam:PassRole', tokens.resolveString(properties[roleProperty]));
    }
    // RunTask's limit counts the JSON of the overrides as the API receives them.
    const apiOverrides = {
      containerOverrides: (parameters.Overrides?.ContainerOverrides ?? []).map((override) => ({
        name: override.Name,
        environment: (override.Environment ?? []).map((variable) => ({
          name: variable.Name,
          value: variable.Value,
        })),
      })),
    };
    const overridesLength = JSON.stringify(apiOverrides).length;
    if (overridesLength > MAX_RUN_TASK_OVERRIDES_CHARACTERS) {
      throw namedError(
        'ECS.InvalidParameterException',
        `Container Overrides length must be at most ${MAX_RUN_TASK_OVERRIDES_CHARACTERS} (Service: AmazonECS; Status Code: 400; Error Code: InvalidParameterException; Request ID: ${randomUUID()}) — this request: ${overridesLength} characters`,
      );
    }
    const definitions = (properties.ContainerDefinitions ?? []) as {
      Name?: string;
      User?: unknown;
      MountPoints?: { ContainerPath?: string; SourceVolume?: string }[];
    }[];
    const override = parameters.Overrides?.ContainerOverrides?.[0];
    const containerName = override?.Name ?? definitions[0]?.Name ?? '';
    const container = definitions.find((definition) => definition.Name === containerName);
    if (!container)
      throw namedError(
        'ECS.InvalidParameterException',
        `Override for container named ${containerName} is not a container in the TaskDefinition.`,
      );
    const volumes = (
      (properties.Volumes ?? []) as { Name?: string; Host?: unknown; EFSVolumeConfiguration?: unknown }[]
    ).filter((volume) => volume.EFSVolumeConfiguration === undefined);
    const bindMounts = (container.MountPoints ?? [])
      .filter((mount) => volumes.some((volume) => volume.Name === mount.SourceVolume))
      .map((mount) => String(mount.ContainerPath));
    const environment = {
      ...(this.#options.containerEnvironment?.(taskDefinitionId, containerName) ??
        defaultContainerEnvironment(this.#options.template, tokens, taskDefinitionId, containerName)),
    };
    for (const variable of override?.Environment ?? []) {
      if (typeof variable.Name === 'string') environment[variable.Name] = String(variable.Value ?? '');
    }
    const cluster = String(parameters.Cluster);
    const clusterName = cluster.split('/').pop() ?? cluster;
    const taskId = randomUUID().replace(/-/g, '');
    const taskArn = arnBeside(machine.arn, 'ecs', `task/${clusterName}/${taskId}`);
    // As ECS does for every container of a task (Fargate platform 1.4.0 and later).
    const metadataId = `${taskId}-${randomUUID().slice(0, 8)}`;
    this.#metadata.set(metadataId, {
      TaskARN: taskArn,
      Cluster: cluster,
      LaunchType: 'FARGATE',
    });
    environment.ECS_CONTAINER_METADATA_URI_V4 = `${await this.#metadataUrl()}/v4/${metadataId}`;
    record('ecs:DescribeTasks', taskArn);
    for (const action of ['events:PutTargets', 'events:PutRule', 'events:DescribeRule']) {
      record(action, arnBeside(machine.arn, 'events', 'rule/StepFunctionsGetEventsForECSTaskRule'));
    }
    const state = JSON.parse(machine.definition) as unknown;
    const timeoutSeconds = findTimeout(state, stateName) ?? 99_999_999;
    const exit = await this.#options.runEcsTask({
      taskDefinitionLogicalId: taskDefinitionId,
      containerName,
      environment,
      bindMounts,
      timeoutMs: timeoutSeconds * 1000,
      ...(container.User !== undefined ? { user: tokens.resolveString(container.User) } : {}),
    });
    this.#metadata.delete(metadataId);
    this.containerRuns.push({ ...exit, environment, taskArn });
    const stoppedAt = Date.now();
    const description = {
      Attachments: [],
      ClusterArn: cluster,
      Containers: [
        {
          ContainerArn: arnBeside(machine.arn, 'ecs', `container/${clusterName}/${randomUUID()}`),
          ExitCode: exit.exitCode ?? 137,
          LastStatus: 'STOPPED',
          Name: containerName,
          TaskArn: taskArn,
          ...(exit.signal ? { Reason: `killed by ${exit.signal}` } : {}),
        },
      ],
      DesiredStatus: 'STOPPED',
      Group: `family:${tokens.resolveString(properties.Family)}`,
      LastStatus: 'STOPPED',
      LaunchType: 'FARGATE',
      Overrides: parameters.Overrides ?? {},
      PlatformVersion: '1.4.0',
      StartedBy: `AWS Step Functions ${execution.executionArn.split(':').slice(-2).join(':')}`.slice(0, 128),
      StopCode: 'EssentialContainerExited',
      StoppedAt: stoppedAt,
      StoppedReason: 'Essential container in task exited',
      TaskArn: taskArn,
      TaskDefinitionArn: taskDefinitionArn,
    };
    if (exit.exitCode !== 0) throw namedError('States.TaskFailed', JSON.stringify(description));
    return description as JsonValue;
  }

  #functionId(nameOrArn: string, stateName: string): string {
    const id = this.#functionsByArn.get(nameOrArn);
    if (!id) throw new Error(`Task state "${stateName}": ${nameOrArn} is not a function of the template`);
    return id;
  }

  #taskDefinitionId(familyOrArn: string): string {
    const { template, tokens } = this.#options;
    const family = familyOrArn.replace(/^arn:[^:]+:ecs:[^:]+:\d+:task-definition\//, '').replace(/:\d+$/, '');
    for (const logicalId of logicalIdsOfType(template, 'AWS::ECS::TaskDefinition')) {
      const properties = template.Resources[logicalId]?.Properties ?? {};
      if (properties.Family !== undefined && tokens.resolveString(properties.Family) === family)
        return logicalId;
    }
    throw namedError('ECS.ClientException', `Unable to find task definition '${familyOrArn}'.`);
  }

  #requireEndpoint(): SfnEndpoint {
    if (!this.#endpoint) throw new Error('TaskBindings: attach(endpoint) first');
    return this.#endpoint;
  }
}

/** The container's `Environment` in the template, resolved. */
export function defaultContainerEnvironment(
  template: TemplateResources,
  tokens: TemplateTokens,
  taskDefinitionLogicalId: string,
  containerName: string,
): Record<string, string> {
  const definitions = (template.Resources[taskDefinitionLogicalId]?.Properties?.ContainerDefinitions ??
    []) as {
    Name?: string;
    Environment?: unknown;
  }[];
  const container = definitions.find((definition) => definition.Name === containerName);
  const environment =
    (tokens.resolve(container?.Environment ?? []) as { Name: string; Value: string }[]) ?? [];
  return Object.fromEntries(environment.map((variable) => [variable.Name, String(variable.Value)]));
}

/** A Lambda outcome as the Task state sees it: the payload, or the error Retry/Catch match on. */
function lambdaResult(outcome: LambdaOutcome): JsonValue {
  if (outcome.ok) return JSON.parse(JSON.stringify(outcome.payload ?? null)) as JsonValue;
  const { errorType, errorMessage, trace } = outcome.error;
  throw namedError(
    errorType || 'Lambda.Unknown',
    JSON.stringify({ errorType, errorMessage, trace: trace ?? [] }),
  );
}

function checkedPayload(result: JsonValue): JsonValue {
  const bytes = Buffer.byteLength(JSON.stringify(result ?? null), 'utf8');
  if (bytes > MAX_STATE_PAYLOAD_BYTES) {
    throw namedError(
      'States.DataLimitExceeded',
      `The state/task returned a result with a size exceeding the maximum number of bytes service limit (${bytes} > ${MAX_STATE_PAYLOAD_BYTES}).`,
    );
  }
  return result;
}

/** An ARN in the partition, region and account of another (`arn:aws:states:eu-west-1:1234…`). */
function arnBeside(arn: string, service: string, resource: string): string {
  const [, partition, , region, account] = arn.split(':');
  return `arn:${partition}:${service}:${region}:${account}:${resource}`;
}

function namedError(name: string, message: string): Error {
  const error = new Error(message);
  error.name = name;
  return error;
}

/** The `TimeoutSeconds` of a state, wherever it is nested. */
function findTimeout(node: unknown, stateName: string): number | undefined {
  if (typeof node !== 'object' || node === null) return undefined;
  const states = (node as { States?: Record<string, unknown> }).States;
  if (states) {
    const state = states[stateName] as { TimeoutSeconds?: number } | undefined;
    if (state?.TimeoutSeconds !== undefined) return state.TimeoutSeconds;
  }
  for (const value of Object.values(node)) {
    const found = findTimeout(value, stateName);
    if (found !== undefined) return found;
  }
  return undefined;
}
