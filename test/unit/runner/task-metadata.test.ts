/** How a Fargate stage's container learns its task's ARN: the ECS task metadata endpoint (v4). */
import { createServer, type Server } from 'node:http';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ECS_METADATA_URI_ENV, ecsTaskArn } from '../../../shared/runner/task-metadata.ts';
import { clusterArnOfTask } from '../../../shared/stack/ecs-tasks.ts';

const TASK = 'arn:aws:ecs:eu-west-1:123456789012:task/Piko-FargateCluster/0123456789abcdef0123456789abcdef';

/** A metadata endpoint: `<uri>/task` answers `answer`; every path asked is kept. */
let server: Server;
let uri: string;
let paths: string[];
let answer: { status: number; body: unknown };

beforeEach(async () => {
  paths = [];
  answer = {
    status: 200,
    body: { Cluster: 'arn:aws:ecs:eu-west-1:123456789012:cluster/Piko-FargateCluster', TaskARN: TASK },
  };
  server = createServer((request, response) => {
    paths.push(request.url ?? '');
    response.writeHead(answer.status, { 'content-type': 'application/json' });
    response.end(JSON.stringify(answer.body));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (!address || typeof address === 'string') throw new Error('no address');
  uri = `http://127.0.0.1:${address.port}/v4/0123456789abcdef-1234567890`;
});
afterEach(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

describe('ecsTaskArn', () => {
  it('reads TaskARN from <ECS_CONTAINER_METADATA_URI_V4>/task', async () => {
    const arn = await ecsTaskArn({ env: { [ECS_METADATA_URI_ENV]: uri } });

    expect(arn).toBe(TASK);
    expect(paths).toEqual(['/v4/0123456789abcdef-1234567890/task']);
  });

  it('is undefined outside ECS (no metadata endpoint), asking nothing', async () => {
    expect(await ecsTaskArn({ env: {} })).toBeUndefined();
    expect(paths).toEqual([]);
  });

  it('is undefined, not an error, when the endpoint fails or answers no long-format task ARN', async () => {
    answer = { status: 500, body: {} };
    expect(await ecsTaskArn({ env: { [ECS_METADATA_URI_ENV]: uri } })).toBeUndefined();
    // The old short format names no cluster: StopTask could not be limited to the stack's cluster.
    answer = { status: 200, body: { TaskARN: 'arn:aws:ecs:eu-west-1:123456789012:task/0123456789abcdef' } };
    expect(await ecsTaskArn({ env: { [ECS_METADATA_URI_ENV]: uri } })).toBeUndefined();
    expect(await ecsTaskArn({ env: { [ECS_METADATA_URI_ENV]: 'http://127.0.0.1:1/v4/x' } })).toBeUndefined();
    expect(paths).toHaveLength(2);
  });
});

describe('clusterArnOfTask', () => {
  it('is the cluster a long-format task ARN names, and undefined for anything else', () => {
    expect(clusterArnOfTask(TASK)).toBe('arn:aws:ecs:eu-west-1:123456789012:cluster/Piko-FargateCluster');
    expect(clusterArnOfTask('arn:aws:ecs:eu-west-1:123456789012:task/0123456789abcdef')).toBeUndefined();
    expect(clusterArnOfTask(`${TASK}/extra`)).toBeUndefined();
  });
});
