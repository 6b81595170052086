/**
 * A local Step Functions endpoint: an HTTP server speaking the Step Functions JSON protocol
 * (`X-Amz-Target: AWSStepFunctions.<Action>`, `application/x-amz-json-1.0`, errors as
 * `{ "__type", "message" }` with status 400) for the calls Piko makes (StartExecution,
 * DescribeExecution, StopExecution, ListExecutions), so the real `@aws-sdk/client-sfn` inside the
 * bundles reaches it through `AWS_ENDPOINT_URL_SFN`. It runs the state machines of the template in
 * aws-local-stepfunctions, with the Task states bound by the caller ({@link ExecutionBindings}), and
 * with every Retry interval and relative Wait state (`Seconds`, `SecondsPath`) shortened to nothing
 * so no flow waits in real time. A Wait until a timestamp (`Timestamp`, `TimestampPath`: a job
 * workflow waking for its requeued runs) keeps its real time: shortened, it would ask again before
 * the instant it waits for, in a loop, which is not what AWS does.
 *
 * Names behave as in Standard workflows: the same name and input as a running execution returns
 * that execution; an ended execution's name, or another input, is `ExecutionAlreadyExists`.
 *
 * aws-local-stepfunctions has no Distributed Map: a definition runs through the local runtime's one
 * translation (`toInlineMap`), and each iteration of a Distributed Map, a child execution on AWS
 * that the state machine's role starts, is recorded as `states:StartExecution` on the state machine
 * by its role, for the IAM simulation.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { toInlineMap } from '../../../shared/local/workflow/inline-map.ts';
import type { AwsIdentities } from './aws-identities.ts';
import type { TemplateStateMachine } from './state-machines.ts';

// aws-local-stepfunctions 3 needs Promise.withResolvers (Node 22); this test process may be Node 20.
{
  const promise = Promise as unknown as { withResolvers?: unknown };
  if (typeof promise.withResolvers !== 'function') {
    Object.defineProperty(Promise, 'withResolvers', {
      configurable: true,
      writable: true,
      value<T>() {
        let resolve!: (value: T | PromiseLike<T>) => void;
        let reject!: (reason?: unknown) => void;
        const created = new Promise<T>((res, rej) => {
          resolve = res;
          reject = rej;
        });
        return { promise: created, resolve, reject };
      },
    });
  }
}

/** A JSON value as aws-local-stepfunctions passes it. */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/** Runs one Task state: gets the state's effective input (after `Parameters`), returns its result. */
export type TaskHandler = (input: JsonValue) => Promise<JsonValue>;

/** The Task states of one execution, by state name (inside a Map too). */
export type ExecutionBindings = (
  machine: TemplateStateMachine,
  execution: ExecutionRecord,
) => Record<string, TaskHandler>;

/** Step Functions' execution statuses (the ones this endpoint reaches). */
export type ExecutionStatus = 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'TIMED_OUT' | 'ABORTED';

/** One execution, as DescribeExecution reports it. */
export interface ExecutionRecord {
  readonly executionArn: string;
  readonly stateMachineArn: string;
  readonly name: string;
  /** The input as given (JSON text). */
  readonly input: string;
  readonly startDate: Date;
  status: ExecutionStatus;
  stopDate?: Date;
  /** JSON text, when SUCCEEDED. */
  output?: string;
  error?: string;
  cause?: string;
  /** Settles when the execution has ended (never rejects). */
  readonly ended: Promise<void>;
}

/** A Step Functions API error, as the JSON protocol sends it. */
export class SfnApiError extends Error {
  readonly status: number;
  constructor(type: string, message: string, status = 400) {
    super(message);
    this.name = type;
    this.status = status;
  }
}

/** Options of {@link startSfnEndpoint}. */
export interface SfnEndpointOptions {
  /** The state machines it knows, by ARN ({@link templateStateMachines}). */
  readonly machines: ReadonlyMap<string, TemplateStateMachine>;
  /** Binds the Task states of each execution. */
  readonly bindings: ExecutionBindings;
  /**
   * Receives every API call, with the access key of its SigV4 signature (which names the caller's
   * role): `states:StartExecution` on the state machine, `states:DescribeExecution` and
   * `states:StopExecution` on the execution, `states:ListExecutions` on the state machine.
   */
  readonly identities: AwsIdentities;
}

/** StartExecution's limit on `input`: 256 KiB of UTF-8. */
export const MAX_EXECUTION_INPUT_BYTES = 262_144;

/** Characters Step Functions refuses in an execution name. */
const INVALID_NAME = /[\s<>{}[\]?*"#%\\^|~`$&,;:/]/u;

/** True when a name holds a control character (U+0000–U+001F, U+007F–U+009F), which Step Functions refuses. */
function hasControlCharacter(name: string): boolean {
  return [...name].some((character) => {
    const code = character.codePointAt(0) ?? 0;
    return code <= 0x1f || (code >= 0x7f && code <= 0x9f);
  });
}

/** The endpoint; {@link SfnEndpoint.close} it when done. */
export class SfnEndpoint {
  /** `http://127.0.0.1:<port>`: the value of `AWS_ENDPOINT_URL_SFN`. */
  readonly url: string;
  readonly #server: http.Server;
  readonly #options: SfnEndpointOptions;
  readonly #executions = new Map<string, ExecutionRecord>();
  readonly #aborts = new Map<string, () => void>();
  /** Failures of the endpoint itself (a binding that threw outside a Task, a bad request): a test checks none. */
  readonly problems: string[] = [];

  constructor(server: http.Server, options: SfnEndpointOptions) {
    this.#server = server;
    this.#options = options;
    const { port } = server.address() as AddressInfo;
    this.url = `http://127.0.0.1:${port}`;
  }

  /** Every execution so far, oldest first. */
  get executions(): ExecutionRecord[] {
    return [...this.#executions.values()];
  }

  /** The executions of one state machine, oldest first. */
  executionsOf(stateMachineArn: string): ExecutionRecord[] {
    return this.executions.filter((execution) => execution.stateMachineArn === stateMachineArn);
  }

  /** Resolves when no execution is running (executions that start meanwhile are waited for too). */
  async idle(): Promise<void> {
    for (;;) {
      const running = this.executions.filter((execution) => execution.status === 'RUNNING');
      if (running.length === 0) return;
      await Promise.all(running.map((execution) => execution.ended));
    }
  }

  /**
   * StartExecution, as the API does it (the HTTP handler and `states:startExecution` tasks call it).
   * @param accessKeyId the caller's, recorded with `states:StartExecution` on the state machine.
   * @throws SfnApiError as Step Functions answers.
   */
  startExecution(
    request: { stateMachineArn?: unknown; name?: unknown; input?: unknown },
    accessKeyId: string,
  ): ExecutionRecord {
    const stateMachineArn = typeof request.stateMachineArn === 'string' ? request.stateMachineArn : '';
    this.#options.identities.record({
      action: 'states:StartExecution',
      resource: stateMachineArn,
      accessKeyId,
    });
    if (!/^arn:[^:]+:states:[^:]+:\d{12}:stateMachine:[^:]+$/.test(stateMachineArn)) {
      throw new SfnApiError(
        'InvalidArn',
        `Invalid Arn: 'Resource type not valid in this context: ${stateMachineArn}'`,
      );
    }
    const machine = this.#options.machines.get(stateMachineArn);
    if (!machine)
      throw new SfnApiError('StateMachineDoesNotExist', `State Machine Does Not Exist: '${stateMachineArn}'`);
    const name = request.name === undefined ? crypto.randomUUID() : request.name;
    if (
      typeof name !== 'string' ||
      name.length < 1 ||
      name.length > 80 ||
      INVALID_NAME.test(name) ||
      hasControlCharacter(name)
    ) {
      throw new SfnApiError('InvalidName', `Invalid Name: '${String(name)}'`);
    }
    const input = request.input === undefined ? '{}' : request.input;
    if (typeof input !== 'string')
      throw new SfnApiError(
        'InvalidExecutionInput',
        'Invalid State Machine Execution Input: input must be a string',
      );
    if (Buffer.byteLength(input, 'utf8') > MAX_EXECUTION_INPUT_BYTES) {
      throw new SfnApiError(
        'ValidationException',
        `1 validation error detected: Value at 'input' failed to satisfy constraint: Member must have length less than or equal to ${MAX_EXECUTION_INPUT_BYTES}`,
      );
    }
    let parsed: JsonValue;
    try {
      parsed = JSON.parse(input) as JsonValue;
    } catch (error) {
      throw new SfnApiError(
        'InvalidExecutionInput',
        `Invalid State Machine Execution Input: '${(error as Error).message}'`,
      );
    }
    const executionArn = `${stateMachineArn.replace(':stateMachine:', ':execution:')}:${name}`;
    const existing = this.#executions.get(executionArn);
    if (existing) {
      if (existing.status === 'RUNNING' && existing.input === input) return existing;
      throw new SfnApiError('ExecutionAlreadyExists', `Execution Already Exists: '${executionArn}'`);
    }
    return this.#run(machine, executionArn, name, input, parsed);
  }

  /** Stops a running execution (StopExecution). */
  stopExecution(executionArn: string, error?: string, cause?: string): Date {
    const execution = this.#executions.get(executionArn);
    if (!execution)
      throw new SfnApiError('ExecutionDoesNotExist', `Execution Does Not Exist: '${executionArn}'`);
    if (execution.status === 'RUNNING') {
      execution.error = error;
      execution.cause = cause;
      this.#aborts.get(executionArn)?.();
    }
    return execution.stopDate ?? new Date();
  }

  /** Stops every running execution and the server. */
  async close(): Promise<void> {
    for (const abort of this.#aborts.values()) abort();
    await Promise.all(this.executions.map((execution) => execution.ended));
    await new Promise<void>((resolve, reject) =>
      this.#server.close((error) => (error ? reject(error) : resolve())),
    );
  }

  #run(
    machine: TemplateStateMachine,
    executionArn: string,
    name: string,
    input: string,
    parsed: JsonValue,
  ): ExecutionRecord {
    let markEnded!: () => void;
    const ended = new Promise<void>((resolve) => {
      markEnded = resolve;
    });
    const startDate = new Date();
    const execution: ExecutionRecord = {
      executionArn,
      stateMachineArn: machine.arn,
      name,
      input,
      startDate,
      status: 'RUNNING',
      ended,
    };
    this.#executions.set(executionArn, execution);
    void this.#execute(machine, execution, parsed).finally(() => {
      execution.stopDate = new Date();
      this.#aborts.delete(executionArn);
      markEnded();
    });
    return execution;
  }

  async #execute(machine: TemplateStateMachine, execution: ExecutionRecord, input: JsonValue): Promise<void> {
    const { StateMachine } = await import('aws-local-stepfunctions');
    const template = JSON.parse(machine.definition) as Definition;
    const distributedMaps = distributedMapStates(template);
    const definition = toInlineMap(template);
    const { retryStates, waitStates } = shortenedStates(definition);
    const role =
      distributedMaps.size > 0 && machine.roleLogicalId
        ? this.#options.identities.principal(machine.name, machine.roleLogicalId, machine.roleArn)
        : undefined;
    const interpreter = new StateMachine(definition as ConstructorParameters<typeof StateMachine>[0], {
      validationOptions: { noValidate: true },
    });
    const run = interpreter.run(input, {
      overrides: {
        taskResourceLocalHandlers: this.#options.bindings(machine, execution),
        retryIntervalOverrides: Object.fromEntries(retryStates.map((state) => [state, 0])),
        waitTimeOverrides: Object.fromEntries(waitStates.map((state) => [state, 0])),
      },
      context: {
        Execution: {
          Id: execution.executionArn,
          Input: input,
          Name: execution.name,
          RoleArn: machine.roleArn,
          StartTime: execution.startDate.toISOString(),
        },
        StateMachine: { Id: machine.arn, Name: machine.name },
      },
    });
    this.#aborts.set(execution.executionArn, () => run.abort());
    void (async () => {
      try {
        for await (const event of run.eventLogs) {
          // A Distributed Map's iteration: on AWS, a child execution its role starts.
          if (event.type === 'MapIterationStarted' && role && distributedMaps.has(event.parentState.name)) {
            this.#options.identities.record({
              action: 'states:StartExecution',
              resource: machine.arn,
              accessKeyId: role.credentials.accessKeyId,
            });
          }
        }
      } catch {
        // ends with the execution
      }
    })();
    try {
      const output = await run.result;
      execution.output = JSON.stringify(output ?? null);
      execution.status = 'SUCCEEDED';
    } catch (error) {
      const failure = error as Error & { cause?: unknown };
      if (failure.name === 'ExecutionAbortedError') {
        execution.status = 'ABORTED';
      } else if (failure.name === 'ExecutionTimeoutError') {
        execution.status = 'TIMED_OUT';
        execution.error = 'States.Timeout';
      } else {
        const cause = failure.cause instanceof Error ? failure.cause : failure;
        execution.status = 'FAILED';
        execution.error = cause.name;
        execution.cause = cause.message;
      }
    }
  }

  /** Answers one HTTP request of the JSON protocol. */
  async handle(request: http.IncomingMessage, response: http.ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const target = String(request.headers['x-amz-target'] ?? '');
    const accessKeyId =
      /Credential=([^/]+)\//.exec(String(request.headers.authorization ?? ''))?.[1] ?? 'unsigned';
    let status = 200;
    let body: unknown;
    try {
      if (request.method !== 'POST' || !target.startsWith('AWSStepFunctions.')) {
        throw new SfnApiError(
          'UnknownOperationException',
          `unknown operation ${target || '(no X-Amz-Target)'}`,
        );
      }
      const parameters = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as Record<
        string,
        unknown
      >;
      body = this.#dispatch(target.slice('AWSStepFunctions.'.length), parameters, accessKeyId);
    } catch (error) {
      const apiError =
        error instanceof SfnApiError
          ? error
          : new SfnApiError('InternalFailure', (error as Error).message, 500);
      if (!(error instanceof SfnApiError)) this.problems.push(`${target}: ${(error as Error).stack}`);
      status = apiError.status;
      body = { __type: apiError.name, message: apiError.message };
      response.setHeader('x-amzn-errortype', apiError.name);
    }
    const text = JSON.stringify(body);
    response.writeHead(status, {
      'content-type': 'application/x-amz-json-1.0',
      'content-length': Buffer.byteLength(text),
      'x-amzn-requestid': crypto.randomUUID(),
    });
    response.end(text);
  }

  #dispatch(action: string, parameters: Record<string, unknown>, accessKeyId: string): unknown {
    const record = (name: string, resource: string) =>
      this.#options.identities.record({ action: `states:${name}`, resource, accessKeyId });
    switch (action) {
      case 'StartExecution': {
        const execution = this.startExecution(parameters, accessKeyId);
        return { executionArn: execution.executionArn, startDate: epochSeconds(execution.startDate) };
      }
      case 'DescribeExecution': {
        const executionArn = String(parameters.executionArn ?? '');
        record('DescribeExecution', executionArn);
        return describe(this.#execution(executionArn));
      }
      case 'StopExecution': {
        const executionArn = String(parameters.executionArn ?? '');
        record('StopExecution', executionArn);
        this.#execution(executionArn);
        const stopDate = this.stopExecution(
          executionArn,
          parameters.error as string | undefined,
          parameters.cause as string | undefined,
        );
        return { stopDate: epochSeconds(stopDate) };
      }
      case 'ListExecutions': {
        const stateMachineArn = String(parameters.stateMachineArn ?? '');
        record('ListExecutions', stateMachineArn);
        if (!this.#options.machines.has(stateMachineArn)) {
          throw new SfnApiError(
            'StateMachineDoesNotExist',
            `State Machine Does Not Exist: '${stateMachineArn}'`,
          );
        }
        const filter = parameters.statusFilter;
        const executions = this.executionsOf(stateMachineArn)
          .filter((execution) => filter === undefined || execution.status === filter)
          .reverse()
          .map((execution) => ({
            executionArn: execution.executionArn,
            stateMachineArn: execution.stateMachineArn,
            name: execution.name,
            status: execution.status,
            startDate: epochSeconds(execution.startDate),
            ...(execution.stopDate ? { stopDate: epochSeconds(execution.stopDate) } : {}),
          }));
        return { executions };
      }
    }
    throw new SfnApiError(
      'UnknownOperationException',
      `this endpoint does not implement AWSStepFunctions.${action}`,
    );
  }

  #execution(executionArn: string): ExecutionRecord {
    if (!/^arn:[^:]+:states:[^:]+:\d{12}:execution:[^:]+:[^:]+$/.test(executionArn)) {
      throw new SfnApiError('InvalidArn', `Invalid Arn: '${executionArn}'`);
    }
    const execution = this.#executions.get(executionArn);
    if (!execution)
      throw new SfnApiError('ExecutionDoesNotExist', `Execution Does Not Exist: '${executionArn}'`);
    return execution;
  }
}

/** DescribeExecution's answer (dates as epoch seconds, as the JSON protocol sends them). */
export function describe(execution: ExecutionRecord): Record<string, unknown> {
  return {
    executionArn: execution.executionArn,
    stateMachineArn: execution.stateMachineArn,
    name: execution.name,
    status: execution.status,
    startDate: epochSeconds(execution.startDate),
    ...(execution.stopDate ? { stopDate: epochSeconds(execution.stopDate) } : {}),
    input: execution.input,
    inputDetails: { included: true },
    ...(execution.output !== undefined
      ? { output: execution.output, outputDetails: { included: true } }
      : {}),
    ...(execution.error !== undefined ? { error: execution.error } : {}),
    ...(execution.cause !== undefined ? { cause: execution.cause } : {}),
  };
}

/** Starts an endpoint on a free port of 127.0.0.1. */
export async function startSfnEndpoint(options: SfnEndpointOptions): Promise<SfnEndpoint> {
  let endpoint: SfnEndpoint | undefined;
  const server = http.createServer((request, response) => {
    void endpoint?.handle(request, response).catch((error: unknown) => {
      endpoint?.problems.push(String(error));
      response.destroy();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  endpoint = new SfnEndpoint(server, options);
  return endpoint;
}

function epochSeconds(date: Date): number {
  return date.getTime() / 1000;
}

interface DefinitionState {
  readonly Type: string;
  readonly Retry?: unknown;
  readonly Timestamp?: unknown;
  readonly TimestampPath?: unknown;
  readonly ItemProcessor?: {
    readonly States: Record<string, DefinitionState>;
    readonly ProcessorConfig?: { readonly Mode?: unknown };
  };
  readonly Iterator?: { readonly States: Record<string, DefinitionState> };
  readonly Branches?: readonly { readonly States: Record<string, DefinitionState> }[];
}

interface Definition {
  readonly States: Record<string, DefinitionState>;
}

/** States whose Retry intervals and relative Wait durations the endpoint shortens to zero. */
function shortenedStates(definition: Definition): { retryStates: string[]; waitStates: string[] } {
  const retryStates: string[] = [];
  const waitStates: string[] = [];
  const visit = (states: Record<string, DefinitionState>) => {
    for (const [name, state] of Object.entries(states)) {
      if (Array.isArray(state.Retry)) retryStates.push(name);
      if (state.Type === 'Wait' && state.Timestamp === undefined && state.TimestampPath === undefined)
        waitStates.push(name);
      const processor = state.ItemProcessor ?? state.Iterator;
      if (processor) visit(processor.States);
      for (const branch of state.Branches ?? []) visit(branch.States);
    }
  };
  visit(definition.States);
  return { retryStates, waitStates };
}

/** The names of a definition's Distributed Map states, nested ones included. */
function distributedMapStates(definition: Definition): Set<string> {
  const names = new Set<string>();
  const visit = (states: Record<string, DefinitionState>) => {
    for (const [name, state] of Object.entries(states)) {
      const processor = state.ItemProcessor;
      if (state.Type === 'Map' && processor?.ProcessorConfig?.Mode === 'DISTRIBUTED') names.add(name);
      const inner = processor ?? state.Iterator;
      if (inner) visit(inner.States);
      for (const branch of state.Branches ?? []) visit(branch.States);
    }
  };
  visit(definition.States);
  return names;
}

/** All Task states of a definition with their `Resource`, nested ones included. */
export function taskStates(definitionText: string): Map<string, string> {
  const tasks = new Map<string, string>();
  const visit = (states: Record<string, DefinitionState & { Resource?: unknown }>) => {
    for (const [name, state] of Object.entries(states)) {
      if (state.Type === 'Task') tasks.set(name, String(state.Resource));
      const processor = state.ItemProcessor ?? state.Iterator;
      if (processor) visit(processor.States);
      for (const branch of state.Branches ?? []) visit(branch.States);
    }
  };
  visit((JSON.parse(definitionText) as Definition).States);
  return tasks;
}
