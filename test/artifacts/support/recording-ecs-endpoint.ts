/**
 * A minimal local ECS endpoint (the JSON 1.1 protocol): answers `StopTask` as ECS does for the
 * template's clusters and records it, with the `ecs:cluster` condition key IAM evaluates it under,
 * for the IAM simulation. The dispatcher stops a cancelled run's Fargate task through it.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AwsIdentities } from './aws-identities.ts';
import type { LocalEndpoint } from './recording-sfn-endpoint.ts';

/** One StopTask the endpoint received. */
export interface StoppedTask {
  readonly cluster: string;
  readonly task: string;
  readonly reason: string | undefined;
  /** The caller's access key (its principal is in {@link AwsIdentities}). */
  readonly accessKeyId: string;
}

/** The endpoint and what it was asked to stop. */
export interface RecordingEcsEndpoint extends LocalEndpoint {
  stopped(): readonly StoppedTask[];
}

/** Options of {@link startRecordingEcsEndpoint}. */
export interface RecordingEcsEndpointOptions {
  readonly identities: AwsIdentities;
  /** The clusters that exist (ARNs); a request naming another answers `ClusterNotFoundException`. */
  readonly clusterArns: readonly string[];
}

class EcsError extends Error {
  constructor(
    readonly type: string,
    message: string,
  ) {
    super(message);
  }
}

/** Starts the endpoint on a free port of 127.0.0.1. */
export async function startRecordingEcsEndpoint(
  options: RecordingEcsEndpointOptions,
): Promise<RecordingEcsEndpoint> {
  const stopped: StoppedTask[] = [];
  const clusters = new Set(options.clusterArns);

  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const target = String(request.headers['x-amz-target'] ?? '');
    const accessKeyId = /Credential=([^/]+)\//.exec(String(request.headers.authorization ?? ''))?.[1] ?? '';
    const reply = (status: number, body: unknown, errorType?: string) => {
      response.writeHead(status, {
        'content-type': 'application/x-amz-json-1.1',
        ...(errorType ? { 'x-amzn-errortype': errorType } : {}),
      });
      response.end(JSON.stringify(body));
    };
    try {
      if (target !== 'AmazonEC2ContainerServiceV20141113.StopTask') {
        throw new EcsError(
          'UnknownOperationException',
          `${target} is not implemented by the recording endpoint`,
        );
      }
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as {
        cluster?: string;
        task?: string;
        reason?: string;
      };
      const cluster = String(body.cluster ?? 'default');
      const task = String(body.task ?? '');
      // IAM decides on the task's ARN with the cluster as the `ecs:cluster` condition key.
      options.identities.record({
        action: 'ecs:StopTask',
        resource: task,
        accessKeyId,
        context: { 'ecs:cluster': cluster },
      });
      if (!clusters.has(cluster)) throw new EcsError('ClusterNotFoundException', 'Cluster not found.');
      const clusterName = cluster.split('/').pop();
      if (task.split('/')[1] !== clusterName) {
        throw new EcsError('InvalidParameterException', 'The task does not belong to the specified cluster.');
      }
      stopped.push({ cluster, task, reason: body.reason, accessKeyId });
      reply(200, {
        task: {
          taskArn: task,
          clusterArn: cluster,
          lastStatus: 'RUNNING',
          desiredStatus: 'STOPPED',
          stopCode: 'UserInitiated',
          stoppedReason: body.reason ?? 'Task stopped by user',
        },
      });
    } catch (error) {
      const type = error instanceof EcsError ? error.type : 'ServerException';
      reply(400, { __type: type, message: (error as Error).message }, type);
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
    stopped: () => [...stopped],
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
