/**
 * The AWS the `--aws` CLI talks to, locally, on one HTTP endpoint (`AWS_ENDPOINT_URL`): what the CLI
 * needs of CloudFormation (DescribeStacks, AWS Query protocol: the template's outputs, resolved),
 * Lambda (Invoke, REST-JSON: the bundled function in its sandbox) and EventBridge Scheduler
 * (GetSchedule and UpdateSchedule, REST-JSON: the template's schedules, with their state kept here).
 * The service is told by the SigV4 credential scope of each request, as AWS routes them by host.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { CfnResolver } from './cfn-resolver.ts';
import type { InvokeResult } from './lambda-sandbox.ts';
import type { LocalEndpoint } from './recording-sfn-endpoint.ts';
import type { SynthesizedApp } from './synth.ts';

/** One call the CLI made. */
export interface CliAwsCall {
  readonly service: string;
  readonly operation: string;
  readonly target: string;
}

/** The endpoint, the schedules' state and the calls received. */
export interface CliAwsEndpoint extends LocalEndpoint {
  /** A schedule's state (`ENABLED`, `DISABLED`), by `<group>/<name>`. */
  scheduleState(group: string, name: string): string;
  calls(): readonly CliAwsCall[];
}

/** Options of {@link startCliAwsEndpoint}. */
export interface CliAwsEndpointOptions {
  readonly app: SynthesizedApp;
  readonly resolver: CfnResolver;
  /** Invokes a function by its physical name (its sandbox). */
  readonly invoke: (functionName: string, payload: unknown) => Promise<InvokeResult>;
}

/** A schedule as GetSchedule returns it. */
type Schedule = Record<string, unknown> & { Name: string; GroupName: string; State: string };

function xmlEscape(text: string): string {
  return text.replace(/[<>&'"]/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** Starts the endpoint on a free port of 127.0.0.1. */
export async function startCliAwsEndpoint(options: CliAwsEndpointOptions): Promise<CliAwsEndpoint> {
  const { app, resolver } = options;
  const calls: CliAwsCall[] = [];
  const schedules = new Map<string, Schedule>();
  for (const [, resource] of app.resourcesOfType('AWS::Scheduler::Schedule')) {
    const props = resolver.resolve(resource.Properties) as Record<string, unknown>;
    const schedule: Schedule = {
      ...props,
      Name: String(props.Name),
      GroupName: String(props.GroupName ?? 'default'),
      State: String(props.State ?? 'ENABLED'),
      Arn: `arn:aws:scheduler:eu-west-1:123456789012:schedule/${props.GroupName}/${props.Name}`,
      CreationDate: 1_764_547_200,
      LastModificationDate: 1_764_547_200,
    };
    schedules.set(`${schedule.GroupName}/${schedule.Name}`, schedule);
  }

  function describeStacks(body: URLSearchParams): { status: number; xml: string } {
    const stackName = body.get('StackName');
    if (stackName !== app.stackName) {
      return {
        status: 400,
        xml: `<ErrorResponse xmlns="http://cloudformation.amazonaws.com/doc/2010-05-15/"><Error><Type>Sender</Type><Code>ValidationError</Code><Message>Stack with id ${xmlEscape(String(stackName))} does not exist</Message></Error><RequestId>0</RequestId></ErrorResponse>`,
      };
    }
    const outputs = Object.entries(app.template.Outputs ?? {})
      .map(
        ([key, output]) =>
          `<member><OutputKey>${xmlEscape(key)}</OutputKey><OutputValue>${xmlEscape(resolver.resolveString(output.Value))}</OutputValue></member>`,
      )
      .join('');
    return {
      status: 200,
      xml:
        `<DescribeStacksResponse xmlns="http://cloudformation.amazonaws.com/doc/2010-05-15/"><DescribeStacksResult><Stacks><member>` +
        `<StackName>${xmlEscape(app.stackName)}</StackName><StackId>arn:aws:cloudformation:eu-west-1:123456789012:stack/${xmlEscape(app.stackName)}/00000000-0000-0000-0000-000000000000</StackId>` +
        `<StackStatus>CREATE_COMPLETE</StackStatus><CreationTime>2026-12-01T00:00:00.000Z</CreationTime><Outputs>${outputs}</Outputs>` +
        `</member></Stacks></DescribeStacksResult><ResponseMetadata><RequestId>0</RequestId></ResponseMetadata></DescribeStacksResponse>`,
    };
  }

  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks).toString('utf8');
    const scope = /Credential=[^/]+\/\d{8}\/[^/]+\/([^/]+)\//.exec(
      String(request.headers.authorization ?? ''),
    );
    const service = scope?.[1] ?? 'unsigned';
    const url = new URL(request.url ?? '/', 'http://localhost');
    const json = (status: number, value: unknown, errorType?: string) => {
      response.writeHead(status, {
        'content-type': 'application/json',
        ...(errorType ? { 'x-amzn-errortype': errorType } : {}),
      });
      response.end(JSON.stringify(value));
    };

    if (service === 'cloudformation') {
      const form = new URLSearchParams(body);
      calls.push({ service, operation: String(form.get('Action')), target: String(form.get('StackName')) });
      const { status, xml } =
        form.get('Action') === 'DescribeStacks' ? describeStacks(form) : { status: 400, xml: '' };
      response.writeHead(status, { 'content-type': 'text/xml' });
      response.end(xml);
      return;
    }
    if (service === 'lambda') {
      const match = /^\/2015-03-31\/functions\/([^/]+)\/invocations$/.exec(url.pathname);
      if (request.method !== 'POST' || !match)
        return json(404, { message: 'not implemented' }, 'UnknownOperationException');
      const functionName = decodeURIComponent(match[1]!);
      calls.push({ service, operation: 'Invoke', target: functionName });
      const result = await options.invoke(functionName, body === '' ? {} : JSON.parse(body));
      response.writeHead(200, {
        'content-type': 'application/json',
        'x-amz-executed-version': '$LATEST',
        ...(result.ok ? {} : { 'x-amz-function-error': 'Unhandled' }),
      });
      response.end(JSON.stringify(result.ok ? result.payload : result.error));
      return;
    }
    if (service === 'scheduler') {
      const match = /^\/schedules\/([^/]+)$/.exec(url.pathname);
      const name = match ? decodeURIComponent(match[1]!) : '';
      const group =
        request.method === 'GET'
          ? (url.searchParams.get('groupName') ?? 'default')
          : String((JSON.parse(body || '{}') as { GroupName?: string }).GroupName ?? 'default');
      const key = `${group}/${name}`;
      const schedule = schedules.get(key);
      calls.push({
        service,
        operation: request.method === 'GET' ? 'GetSchedule' : 'UpdateSchedule',
        target: key,
      });
      if (!schedule) {
        return json(404, { Message: `Schedule ${name} does not exist.` }, 'ResourceNotFoundException');
      }
      if (request.method === 'GET') return json(200, schedule);
      if (request.method === 'PUT') {
        const update = JSON.parse(body) as Record<string, unknown>;
        const { ClientToken: _token, ...fields } = update;
        schedules.set(key, {
          ...schedule,
          ...fields,
          Name: name,
          GroupName: group,
          State: String(update.State),
        });
        return json(200, { ScheduleArn: schedule.Arn });
      }
    }
    json(
      400,
      { message: `${service} ${request.method} ${url.pathname} is not implemented here` },
      'UnknownOperationException',
    );
  }

  const server: Server = createServer((request, response) => {
    handle(request, response).catch((error: unknown) => {
      response.writeHead(500, { 'content-type': 'application/json' });
      response.end(JSON.stringify({ message: String(error) }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (!address || typeof address === 'string') throw new Error('no address');
  return {
    url: `http://127.0.0.1:${address.port}`,
    scheduleState(group, name) {
      const schedule = schedules.get(`${group}/${name}`);
      if (!schedule) throw new Error(`no schedule ${group}/${name}`);
      return schedule.State;
    },
    calls: () => [...calls],
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
