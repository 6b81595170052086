/**
 * A minimal local Step Functions endpoint (the JSON 1.0 protocol the SDK speaks): records
 * `StartExecution` and answers it and `DescribeExecution` as Step Functions does, without running
 * anything. The dispatcher flows of this half of the tier need no more; the `artsfn` half replaces it
 * with an endpoint that runs the template's definitions (`startArtifactStack({ sfnEndpoint })`).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AwsIdentities } from './aws-identities.ts';

/** A local endpoint a sandbox's SDK clients are pointed at (`AWS_ENDPOINT_URL_<ID>`). */
export interface LocalEndpoint {
  /** `http://127.0.0.1:<port>`. */
  readonly url: string;
  close(): Promise<void>;
}

/** One execution the endpoint was asked to start. */
export interface StartedExecution {
  readonly stateMachineArn: string;
  readonly executionArn: string;
  readonly name: string;
  readonly input: unknown;
  /** Set by {@link RecordingSfnEndpoint.finish}; RUNNING until then. */
  status: 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'TIMED_OUT' | 'ABORTED';
}

/** The endpoint and what it recorded. */
export interface RecordingSfnEndpoint extends LocalEndpoint {
  /** Every execution started, in order. */
  executions(): readonly StartedExecution[];
  /** Ends an execution (DescribeExecution then reports `status`). */
  finish(executionArn: string, status?: StartedExecution['status']): void;
}

/** Options of {@link startRecordingSfnEndpoint}. */
export interface RecordingSfnEndpointOptions {
  /** Receives every call (`states:StartExecution` on the state machine, `states:DescribeExecution` on the execution). */
  readonly identities: AwsIdentities;
  /** The state machines that exist (ARNs); others answer `StateMachineDoesNotExist`. */
  readonly stateMachineArns: readonly string[];
}

class SfnError extends Error {
  constructor(
    readonly type: string,
    message: string,
  ) {
    super(message);
  }
}

/** Starts the endpoint on a free port of 127.0.0.1. */
export async function startRecordingSfnEndpoint(
  options: RecordingSfnEndpointOptions,
): Promise<RecordingSfnEndpoint> {
  const executions: StartedExecution[] = [];
  const machines = new Set(options.stateMachineArns);

  function startExecution(body: Record<string, unknown>) {
    const stateMachineArn = String(body.stateMachineArn);
    const name = String(body.name);
    if (!machines.has(stateMachineArn)) {
      throw new SfnError('StateMachineDoesNotExist', `State Machine Does Not Exist: '${stateMachineArn}'`);
    }
    const executionArn = `${stateMachineArn.replace(':stateMachine:', ':execution:')}:${name}`;
    const input = JSON.parse(String(body.input ?? '{}')) as unknown;
    const existing = executions.find((execution) => execution.executionArn === executionArn);
    if (existing) {
      // Step Functions: the same name and input while running is the same execution; else an error.
      if (existing.status !== 'RUNNING' || JSON.stringify(existing.input) !== JSON.stringify(input)) {
        throw new SfnError('ExecutionAlreadyExists', `Execution Already Exists: '${executionArn}'`);
      }
    } else {
      executions.push({ stateMachineArn, executionArn, name, input, status: 'RUNNING' });
    }
    return { executionArn, startDate: Date.now() / 1000 };
  }

  function describeExecution(body: Record<string, unknown>) {
    const executionArn = String(body.executionArn);
    const execution = executions.find((candidate) => candidate.executionArn === executionArn);
    if (!execution)
      throw new SfnError('ExecutionDoesNotExist', `Execution Does Not Exist: '${executionArn}'`);
    return {
      executionArn,
      stateMachineArn: execution.stateMachineArn,
      name: execution.name,
      status: execution.status,
      input: JSON.stringify(execution.input),
      startDate: Date.now() / 1000,
    };
  }

  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const target = String(request.headers['x-amz-target'] ?? '');
    const operation = target.replace(/^AWSStepFunctions\./, '');
    const accessKeyId = /Credential=([^/]+)\//.exec(String(request.headers.authorization ?? ''))?.[1] ?? '';
    const reply = (status: number, body: unknown, errorType?: string) => {
      response.writeHead(status, {
        'content-type': 'application/x-amz-json-1.0',
        ...(errorType ? { 'x-amzn-errortype': errorType } : {}),
      });
      response.end(JSON.stringify(body));
    };
    try {
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as Record<string, unknown>;
      if (operation === 'StartExecution') {
        options.identities.record({
          action: 'states:StartExecution',
          resource: String(body.stateMachineArn),
          accessKeyId,
        });
        reply(200, startExecution(body));
      } else if (operation === 'DescribeExecution') {
        options.identities.record({
          action: 'states:DescribeExecution',
          resource: String(body.executionArn),
          accessKeyId,
        });
        reply(200, describeExecution(body));
      } else {
        throw new SfnError(
          'UnknownOperationException',
          `${target} is not implemented by the recording endpoint`,
        );
      }
    } catch (error) {
      const type = error instanceof SfnError ? error.type : 'InternalFailure';
      reply(400, { __type: `com.amazonaws.states#${type}`, message: (error as Error).message }, type);
    }
  }

  const server: Server = createServer((request, response) => {
    handle(request, response).catch(() => response.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (!address || typeof address === 'string') throw new Error('no address');
  return {
    url: `http://127.0.0.1:${address.port}`,
    executions: () => [...executions],
    finish(executionArn, status = 'SUCCEEDED') {
      const execution = executions.find((candidate) => candidate.executionArn === executionArn);
      if (!execution) throw new Error(`no execution ${executionArn}`);
      execution.status = status;
    },
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A request to a service no local endpoint stands in for. */
export interface UnexpectedAwsCall {
  /** The SigV4 credential scope's service (`sqs`, `secretsmanager`), or `unsigned`. */
  readonly service: string;
  readonly method: string;
  readonly path: string;
  /** `X-Amz-Target`, when the protocol has one. */
  readonly target: string | undefined;
}

/** The catch-all endpoint and what reached it. */
export interface CatchAllEndpoint extends LocalEndpoint {
  calls(): readonly UnexpectedAwsCall[];
}

/**
 * An endpoint for every other service (`AWS_ENDPOINT_URL`): records each request and refuses it, so
 * no call of a sandbox leaves the machine unseen.
 */
export async function startCatchAllEndpoint(): Promise<CatchAllEndpoint> {
  const calls: UnexpectedAwsCall[] = [];
  const server: Server = createServer((request, response) => {
    request.resume();
    const scope = /Credential=[^/]+\/\d{8}\/[^/]+\/([^/]+)\//.exec(
      String(request.headers.authorization ?? ''),
    );
    const target = request.headers['x-amz-target'];
    calls.push({
      service: scope?.[1] ?? 'unsigned',
      method: request.method ?? '?',
      path: request.url ?? '/',
      target: typeof target === 'string' ? target : undefined,
    });
    response.writeHead(400, {
      'content-type': 'application/json',
      'x-amzn-errortype': 'UnknownOperationException',
    });
    response.end(
      JSON.stringify({ message: 'no local endpoint stands in for this service in the artifact tier' }),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (!address || typeof address === 'string') throw new Error('no address');
  return {
    url: `http://127.0.0.1:${address.port}`,
    calls: () => [...calls],
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
