import type { StateMachine } from 'aws-local-stepfunctions';
import { WorkflowAbortedError, WorkflowFailedError } from '../../errors.ts';
import { parseStagePayload, type StagePayload } from '../../workflow/stage-event.ts';
import type { ExecutionInput } from '../../workflow/starter.ts';
import { loadInterpreter } from './fast-jsonpath.ts';
import { toInlineMap } from './inline-map.ts';

export type { StagePayload } from '../../workflow/stage-event.ts';

// aws-local-stepfunctions 3 declares Node >= 22: on Node 20 every Task fails on the missing
// `Promise.withResolvers` (FACTS.md). Polyfill that one function.
{
  const promise = Promise as unknown as { withResolvers?: unknown };
  if (typeof promise.withResolvers !== 'function') {
    Object.defineProperty(Promise, 'withResolvers', {
      configurable: true,
      writable: true,
      value: function withResolvers<T>() {
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

/** What a binding learns about the call besides its arguments. */
export interface BindingContext {
  /** The Task state being run (`Stage main`, `Record failure`, `Continue dispatch`). */
  readonly stateName: string;
  /** Aborted when the execution is aborted: the binding may stop early. */
  readonly signal: AbortSignal;
}

/** The request of a Fargate stage (`ecs:runTask.sync`). */
export interface FargateTaskRequest {
  /** The execution's job: its task definition sets `PIKO_JOB_ID` to it on AWS. */
  readonly jobId: string;
  readonly stage: string;
  /** The container overrides' environment, `PIKO_STAGE_EVENT` included. */
  readonly environment: Record<string, string>;
}

/** How the Task states of a job workflow run locally. */
export interface WorkflowBindings {
  /**
   * lambda:invoke of the stage function: payload action 'run' or 'fail'. Return value = Lambda result
   * (a `StageRunResult`, discarded by the workflow). Throw to fail (error.name is matched by Retry/Catch).
   */
  invokeStage(payload: StagePayload, context: BindingContext): Promise<unknown>;
  /** ecs:runTask.sync of a Fargate stage: environment = the container overrides' env vars (incl. PIKO_STAGE_EVENT). Throw to fail the task. */
  runFargateTask(request: FargateTaskRequest, context: BindingContext): Promise<void>;
  /** lambda:invoke of the dispatcher with { action: 'continue', jobId }. */
  continueDispatch(jobId: string, context: BindingContext): Promise<void>;
}

export interface RunWorkflowOptions {
  /** Aborts the execution: no new state starts; the promise rejects once running bindings settle. */
  readonly signal?: AbortSignal;
  /** Retries without waiting (tests). @default false: the definition's backoff and jitter apply. */
  readonly noRetryWaits?: boolean;
  /**
   * Validates the ASL with asl-validator (checkPaths, checkArn) the first time it is run. Costs about
   * 1 s per definition, so it is off by default: rendered definitions are validated by the infra tests.
   * @default false
   */
  readonly validate?: boolean;
  /**
   * Called when an asynchronous (InvocationType Event) Lambda invocation fails. As on AWS, it does not
   * fail the execution. @default a process warning
   */
  readonly onAsyncInvokeError?: (error: unknown, stateName: string) => void;
}

type TaskKind = 'lambda' | 'lambda:invoke' | 'ecs:runTask.sync';

interface CompiledWorkflow {
  readonly machine: StateMachine;
  /** Task states by name, with how each one is bound. */
  readonly tasks: ReadonlyMap<string, TaskKind>;
  /** States that have a Retry field. */
  readonly retryStates: readonly string[];
}

const compiled = new Map<string, CompiledWorkflow>();
const COMPILED_CACHE_SIZE = 64;

/**
 * Runs a job workflow's ASL in aws-local-stepfunctions with Task states bound to `bindings`, and
 * resolves with the execution's output.
 *
 * Lambda tasks (a function ARN as Resource, or `arn:aws:states:::lambda:invoke`) call `invokeStage` or
 * `continueDispatch` by the payload's `action`; `arn:aws:states:::ecs:runTask.sync` calls
 * `runFargateTask`. An error thrown by a Lambda binding reaches Retry/Catch as Step Functions reports a
 * Lambda error: `Error` = the error's name, `Cause` = `{"errorType","errorMessage","trace"}` as JSON.
 * An error thrown by `runFargateTask` keeps its name, and its message is the Cause.
 *
 * @throws WorkflowFailedError when the execution fails; WorkflowAbortedError when aborted.
 */
export async function runWorkflow(
  asl: string,
  input: ExecutionInput,
  bindings: WorkflowBindings,
  options: RunWorkflowOptions = {},
): Promise<unknown> {
  const workflow = await compile(asl, options.validate ?? false);
  const signal = options.signal ?? new AbortController().signal;
  if (signal.aborted) throw new WorkflowAbortedError();

  const inFlight = new Set<Promise<unknown>>();
  const handlers: Record<string, (input: JsonValue) => Promise<JsonValue>> = {};
  for (const [stateName, kind] of workflow.tasks) {
    const context: BindingContext = { stateName, signal };
    const call = async (stateInput: JsonValue): Promise<JsonValue> => {
      // A Map keeps starting queued iterations after an abort; make them stop at their first Task,
      // with an error no Retry or Catch takes (so nothing is recorded as failed).
      if (signal.aborted) throw new AbortedTaskError();
      return kind === 'ecs:runTask.sync'
        ? runFargate(input.jobId, stateInput, bindings, context)
        : invokeLambda(kind, stateInput, bindings, context, options);
    };
    handlers[stateName] = (stateInput) => {
      const pending = call(stateInput);
      inFlight.add(pending);
      const forget = () => inFlight.delete(pending);
      pending.then(forget, forget);
      return pending;
    };
  }
  const retryIntervalOverrides: Record<string, number> = {};
  if (options.noRetryWaits) for (const name of workflow.retryStates) retryIntervalOverrides[name] = 0;

  const execution = workflow.machine.run(input as unknown as JsonValue, {
    overrides: { taskResourceLocalHandlers: handlers, retryIntervalOverrides },
  });
  void drain(execution.eventLogs);
  const onAbort = () => execution.abort();
  signal.addEventListener('abort', onAbort, { once: true });
  try {
    return await execution.result;
  } catch (error) {
    if (signal.aborted) {
      await Promise.allSettled([...inFlight]);
      throw new WorkflowAbortedError();
    }
    const cause = (error as { cause?: unknown }).cause;
    if (cause instanceof Error) throw new WorkflowFailedError(cause.name, cause.message);
    throw error;
  } finally {
    signal.removeEventListener('abort', onAbort);
  }
}

/** Parses an ASL text once (validating it if asked), and finds its Task and Retry states. */
async function compile(asl: string, validate: boolean): Promise<CompiledWorkflow> {
  const key = `${validate ? 'v' : 'n'}${asl}`;
  const known = compiled.get(key);
  if (known) return known;
  // With the fast path for plain JSONPath queries (fast-jsonpath.ts): the same definition runs.
  const { StateMachine } = loadInterpreter();
  // Distributed Maps run as inline ones locally: the one allowed difference (inline-map.ts).
  const definition = toInlineMap(JSON.parse(asl) as AslDefinition);
  const tasks = new Map<string, TaskKind>();
  const retryStates: string[] = [];
  const visit = (states: Record<string, AslState>) => {
    for (const [name, state] of Object.entries(states)) {
      if (Array.isArray(state.Retry)) retryStates.push(name);
      if (state.Type === 'Task') tasks.set(name, taskKind(name, state.Resource));
      const processor = state.ItemProcessor ?? state.Iterator;
      if (processor) visit(processor.States);
      for (const branch of state.Branches ?? []) visit(branch.States);
    }
  };
  visit(definition.States);
  const workflow: CompiledWorkflow = {
    machine: new StateMachine(definition as ConstructorParameters<typeof StateMachine>[0], {
      validationOptions: validate ? { checkPaths: true, checkArn: true } : { noValidate: true },
    }),
    tasks,
    retryStates,
  };
  if (compiled.size >= COMPILED_CACHE_SIZE) compiled.delete(compiled.keys().next().value as string);
  compiled.set(key, workflow);
  return workflow;
}

function taskKind(stateName: string, resource: unknown): TaskKind {
  if (typeof resource === 'string') {
    if (/^arn:[^:]+:lambda:[^:]*:[^:]*:function:/.test(resource)) return 'lambda';
    if (/^arn:[^:]+:states:::lambda:invoke$/.test(resource)) return 'lambda:invoke';
    if (/^arn:[^:]+:states:::ecs:runTask\.sync$/.test(resource)) return 'ecs:runTask.sync';
  }
  throw new Error(`Task state "${stateName}" has a Resource with no local binding: ${String(resource)}`);
}

async function invokeLambda(
  kind: 'lambda' | 'lambda:invoke',
  stateInput: JsonValue,
  bindings: WorkflowBindings,
  context: BindingContext,
  options: RunWorkflowOptions,
): Promise<JsonValue> {
  const parameters = (kind === 'lambda' ? { Payload: stateInput } : (stateInput ?? {})) as {
    Payload?: unknown;
    InvocationType?: string;
  };
  const event = (parameters.Payload ?? {}) as { action?: unknown; jobId?: unknown };
  const asynchronous = parameters.InvocationType === 'Event';
  let result: unknown = null;
  try {
    if (event.action === 'continue') {
      if (typeof event.jobId !== 'string') throw new Error('continue event without a jobId');
      await bindings.continueDispatch(event.jobId, context);
    } else {
      result = await bindings.invokeStage(parseStagePayload(event), context);
    }
  } catch (error) {
    if (!asynchronous) throw lambdaError(error);
    (options.onAsyncInvokeError ?? warnAsyncError)(error, context.stateName);
  }
  // What a Lambda returns travels as JSON (Dates become strings, undefined becomes null).
  const payload = JSON.parse(JSON.stringify(result ?? null)) as JsonValue;
  if (kind === 'lambda') return payload;
  return asynchronous ? { StatusCode: 202, Payload: '' } : { StatusCode: 200, Payload: payload };
}

async function runFargate(
  jobId: string,
  stateInput: JsonValue,
  bindings: WorkflowBindings,
  context: BindingContext,
) {
  const parameters = (stateInput ?? {}) as {
    Overrides?: { ContainerOverrides?: { Environment?: { Name?: unknown; Value?: unknown }[] }[] };
  };
  const environment: Record<string, string> = {};
  for (const variable of parameters.Overrides?.ContainerOverrides?.[0]?.Environment ?? []) {
    if (typeof variable.Name === 'string') environment[variable.Name] = String(variable.Value ?? '');
  }
  const stage = context.stateName.replace(/^Stage /, '');
  try {
    await bindings.runFargateTask({ jobId, stage, environment }, context);
  } catch (error) {
    throw asError(error);
  }
  return {};
}

/** A Lambda function error as Step Functions reports it: name = errorType, Cause = the error JSON. */
function lambdaError(thrown: unknown): Error {
  const error = asError(thrown);
  const cause = {
    errorType: error.name,
    errorMessage: error.message,
    trace: typeof error.stack === 'string' ? error.stack.split('\n') : [],
  };
  const reported = new Error(JSON.stringify(cause));
  reported.name = error.name;
  return reported;
}

function asError(thrown: unknown): Error {
  if (thrown instanceof Error) return thrown;
  const error = new Error(typeof thrown === 'string' ? thrown : (JSON.stringify(thrown) ?? String(thrown)));
  error.name = 'Error';
  return error;
}

function warnAsyncError(error: unknown, stateName: string): void {
  process.emitWarning(`Asynchronous invocation in "${stateName}" failed: ${asError(error).message}`);
}

/** Thrown by a Task that starts after an abort: aws-local-stepfunctions neither retries nor catches it. */
class AbortedTaskError extends Error {
  override name = 'ExecutionAborted';
  readonly isRetryable = false;
  readonly isCatchable = false;
  constructor() {
    super('execution aborted');
  }
}

/** Reads and drops the execution's event log, so it does not pile up in memory. */
async function drain(events: AsyncIterable<unknown>): Promise<void> {
  try {
    for await (const _event of events) {
      // dropped
    }
  } catch {
    // the log ends with the execution
  }
}

type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

interface AslState {
  readonly Type: string;
  readonly Resource?: unknown;
  readonly Retry?: unknown;
  readonly ItemProcessor?: { readonly States: Record<string, AslState> };
  readonly Iterator?: { readonly States: Record<string, AslState> };
  readonly Branches?: readonly { readonly States: Record<string, AslState> }[];
}

interface AslDefinition {
  readonly States: Record<string, AslState>;
}
