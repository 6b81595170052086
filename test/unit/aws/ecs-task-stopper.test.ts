/**
 * The dispatcher's ECS adapter: StopTask as the ECS JSON 1.1 API takes it, signed with SigV4 (the
 * signer checked against the AWS documentation's example), against a local HTTP endpoint that plays
 * ECS: refusals, throttling and server errors as ECS answers them.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  environmentCredentials,
  serviceEndpoint,
  signAwsRequest,
} from '../../../shared/aws/aws-json-call.ts';
import { EcsTaskStopper } from '../../../shared/aws/ecs-task-stopper.ts';
import { AwsCallError, AwsCredentialsError, AwsThrottledError, InputError } from '../../../shared/errors.ts';

const CLUSTER = 'arn:aws:ecs:eu-west-1:123456789012:cluster/Piko-FargateCluster';
const TASK = 'arn:aws:ecs:eu-west-1:123456789012:task/Piko-FargateCluster/0123456789abcdef0123456789abcdef';
const CREDENTIALS = {
  accessKeyId: 'ASIAPIKOTEST0000000A',
  secretAccessKey: 'test/secret/key/0000000000000000000000',
  sessionToken: 'session-token',
};
const NOW = new Date('2026-12-01T10:00:00.000Z');

interface Received {
  readonly headers: IncomingMessage['headers'];
  readonly body: unknown;
}

/** An ECS stand-in: answers each request with the next of `answers` (status, body). */
let server: Server;
let endpoint: string;
let received: Received[];
let answers: { status: number; body: unknown }[];

beforeEach(async () => {
  received = [];
  answers = [];
  server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      received.push({ headers: request.headers, body: JSON.parse(Buffer.concat(chunks).toString('utf8')) });
      const answer = answers.shift() ?? { status: 200, body: { task: { taskArn: TASK } } };
      response.writeHead(answer.status, { 'content-type': 'application/x-amz-json-1.1' });
      response.end(JSON.stringify(answer.body));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (!address || typeof address === 'string') throw new Error('no address');
  endpoint = `http://127.0.0.1:${address.port}`;
});
afterEach(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

const stopper = () =>
  new EcsTaskStopper({
    region: 'eu-west-1',
    clusterArn: CLUSTER,
    endpoint,
    credentials: () => CREDENTIALS,
    now: () => NOW,
    retryDelayMs: 1,
  });

describe('signAwsRequest (SigV4)', () => {
  it('signs the AWS documentation’s example request (IAM ListUsers) to its published signature', () => {
    const headers = signAwsRequest({
      method: 'GET',
      url: 'https://iam.amazonaws.com/?Action=ListUsers&Version=2010-05-08',
      headers: { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' },
      body: '',
      service: 'iam',
      region: 'us-east-1',
      credentials: {
        accessKeyId: 'AKIDEXAMPLE',
        secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY',
      },
      now: new Date('2015-08-30T12:36:00Z'),
    });

    expect(headers.authorization).toBe(
      'AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/iam/aws4_request, SignedHeaders=content-type;host;x-amz-date, Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7',
    );
    expect(headers['x-amz-date']).toBe('20150830T123600Z');
  });
});

describe('EcsTaskStopper', () => {
  it('sends StopTask with the cluster, the task and the reason, signed for ecs in the region', async () => {
    // Act
    await stopper().stopTask(TASK, 'Cancelled by ops@host: bad input');

    // Assert
    expect(received).toHaveLength(1);
    const [request] = received;
    expect(request!.body).toEqual({
      cluster: CLUSTER,
      task: TASK,
      reason: 'Cancelled by ops@host: bad input',
    });
    expect(request!.headers['x-amz-target']).toBe('AmazonEC2ContainerServiceV20141113.StopTask');
    expect(request!.headers['content-type']).toBe('application/x-amz-json-1.1');
    expect(request!.headers['x-amz-security-token']).toBe('session-token');
    // Signed as received: the host the endpoint saw (with its port) is the one signed.
    const expected = signAwsRequest({
      method: 'POST',
      url: `http://${request!.headers.host}/`,
      headers: {
        'content-type': 'application/x-amz-json-1.1',
        'x-amz-target': 'AmazonEC2ContainerServiceV20141113.StopTask',
      },
      body: JSON.stringify(request!.body),
      service: 'ecs',
      region: 'eu-west-1',
      credentials: CREDENTIALS,
      now: NOW,
    });
    expect(request!.headers.authorization).toBe(expected.authorization);
    expect(request!.headers.authorization).toMatch(
      /^AWS4-HMAC-SHA256 Credential=ASIAPIKOTEST0000000A\/20261201\/eu-west-1\/ecs\/aws4_request, SignedHeaders=content-type;host;x-amz-date;x-amz-security-token;x-amz-target, Signature=[0-9a-f]{64}$/,
    );
  });

  it('cuts the reason to the 255 characters StopTask takes', async () => {
    await stopper().stopTask(TASK, `Cancelled by ops@host: ${'x'.repeat(400)}`);

    const reason = (received[0]!.body as { reason: string }).reason;
    expect(reason).toHaveLength(255);
    expect(reason.endsWith('…')).toBe(true);
  });

  it('refuses a task of another cluster without calling ECS', async () => {
    const other = TASK.replace('Piko-FargateCluster', 'Other-Cluster');

    await expect(stopper().stopTask(other, 'Cancelled by ops@host')).rejects.toThrow(
      new InputError(
        `Task ${other} is not a task of the stack's cluster ${CLUSTER}: the dispatcher stops only the tasks of its own Fargate stages`,
      ),
    );
    await expect(stopper().stopTask('not-an-arn', 'x')).rejects.toBeInstanceOf(InputError);
    expect(received).toEqual([]);
  });

  it('reports a refusal of ECS by its error name, without retrying it', async () => {
    answers.push({
      status: 400,
      body: {
        __type: 'com.amazonaws.ecs#AccessDeniedException',
        message: 'not authorized to perform ecs:StopTask',
      },
    });

    const stop = stopper().stopTask(TASK, 'Cancelled by ops@host');

    await expect(stop).rejects.toThrow(
      new AwsCallError(
        'ECS StopTask failed (AccessDeniedException): not authorized to perform ecs:StopTask',
        'AccessDeniedException',
      ),
    );
    await expect(stop).rejects.toMatchObject({ awsErrorName: 'AccessDeniedException' });
    expect(received).toHaveLength(1);
  });

  it('retries throttling and server errors, then gives up with AwsThrottledError', async () => {
    answers.push(
      { status: 500, body: { __type: 'ServerException', message: 'internal' } },
      { status: 400, body: { __type: 'ThrottlingException', message: 'Rate exceeded' } },
    );
    await stopper().stopTask(TASK, 'Cancelled by ops@host');
    expect(received).toHaveLength(3);

    answers.push(
      ...[1, 2, 3].map(() => ({
        status: 400,
        body: { __type: 'ThrottlingException', message: 'Rate exceeded' },
      })),
    );
    await expect(stopper().stopTask(TASK, 'Cancelled by ops@host')).rejects.toThrow(
      new AwsThrottledError(
        'ECS StopTask failed (ThrottlingException): Rate exceeded; throttled through 3 attempts',
        'ThrottlingException',
      ),
    );
    expect(received).toHaveLength(6);
  });
});

describe('where and as whom ECS is called', () => {
  it('goes where the SDK would: AWS_ENDPOINT_URL_<ID>, else AWS_ENDPOINT_URL, else the regional endpoint', () => {
    expect(
      serviceEndpoint('ecs', 'ECS', 'eu-west-1', {
        AWS_ENDPOINT_URL_ECS: 'http://a',
        AWS_ENDPOINT_URL: 'http://b',
      }),
    ).toBe('http://a');
    expect(serviceEndpoint('ecs', 'ECS', 'eu-west-1', { AWS_ENDPOINT_URL: 'http://b' })).toBe('http://b');
    expect(serviceEndpoint('ecs', 'ECS', 'eu-west-1', {})).toBe('https://ecs.eu-west-1.amazonaws.com');
    expect(serviceEndpoint('ecs', 'ECS', 'cn-north-1', {})).toBe('https://ecs.cn-north-1.amazonaws.com.cn');
  });

  it('signs with the Lambda runtime’s credentials, and says so when they are missing', () => {
    expect(
      environmentCredentials({
        AWS_ACCESS_KEY_ID: 'ASIA1',
        AWS_SECRET_ACCESS_KEY: 's',
        AWS_SESSION_TOKEN: 't',
      }),
    ).toEqual({ accessKeyId: 'ASIA1', secretAccessKey: 's', sessionToken: 't' });
    expect(() => environmentCredentials({ AWS_ACCESS_KEY_ID: 'ASIA1' })).toThrow(
      new AwsCredentialsError(
        'No AWS credentials in the environment (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY): the Lambda runtime sets them for the function role',
        'CredentialsProviderError',
      ),
    );
  });
});
