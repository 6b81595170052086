/**
 * The local Step Functions endpoint of the artifact tier speaks the protocol the real
 * `@aws-sdk/client-sfn` speaks, with Step Functions' answers for names, inputs and unknown ARNs.
 */
import {
  DescribeExecutionCommand,
  ListExecutionsCommand,
  SFNClient,
  StartExecutionCommand,
  StopExecutionCommand,
} from '@aws-sdk/client-sfn';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AwsIdentities } from './support/aws-identities.ts';
import { type SfnEndpoint, startSfnEndpoint } from './support/sfn-endpoint.ts';
import type { TemplateStateMachine } from './support/state-machines.ts';

const ARN = 'arn:aws:states:eu-west-1:123456789012:stateMachine:Piko-echo';
const ROLE = 'arn:aws:iam::123456789012:role/Piko-EchoRole-ABC';

/** Waits in a Task until released, then echoes its input. */
const machine: TemplateStateMachine = {
  logicalId: 'EchoStateMachine',
  name: 'Piko-echo',
  arn: ARN,
  roleArn: ROLE,
  roleLogicalId: 'EchoRole',
  type: 'STANDARD',
  definition: JSON.stringify({
    StartAt: 'Hold',
    States: {
      Hold: { Type: 'Task', Resource: 'arn:aws:states:::lambda:invoke', Next: 'Check' },
      Check: {
        Type: 'Choice',
        Choices: [
          {
            And: [
              { Variable: '$.fail', IsPresent: true },
              { Variable: '$.fail', BooleanEquals: true },
            ],
            Next: 'Fail',
          },
        ],
        Default: 'Echo',
      },
      Fail: { Type: 'Fail', Error: 'EchoFailed', Cause: 'asked to fail' },
      Echo: { Type: 'Pass', End: true },
    },
  }),
};

let release: () => void = () => {};
let held = new Promise<void>((resolve) => {
  release = resolve;
});
const identities = new AwsIdentities();
const dispatcher = identities.principal(
  'dispatcher',
  'DispatcherRole',
  'arn:aws:iam::123456789012:role/dispatcher',
);
let endpoint: SfnEndpoint;
let client: SFNClient;

beforeAll(async () => {
  endpoint = await startSfnEndpoint({
    machines: new Map([[ARN, machine]]),
    identities,
    bindings: () => ({
      Hold: async (input) => {
        await held;
        return input;
      },
    }),
  });
  client = new SFNClient({
    region: 'eu-west-1',
    endpoint: endpoint.url,
    credentials: dispatcher.credentials,
    maxAttempts: 1,
  });
});

afterAll(async () => {
  release();
  client?.destroy();
  await endpoint?.close();
});

const start = (name: string, input: unknown) =>
  client.send(new StartExecutionCommand({ stateMachineArn: ARN, name, input: JSON.stringify(input) }));

describe('local Step Functions endpoint (JSON protocol, real SDK client)', () => {
  it('starts an execution, and the same name and input again is the same execution', async () => {
    const first = await start('run-1', { Payload: { n: 1 } });
    const again = await start('run-1', { Payload: { n: 1 } });
    expect(first.executionArn).toBe('arn:aws:states:eu-west-1:123456789012:execution:Piko-echo:run-1');
    expect(again.executionArn).toBe(first.executionArn);
    expect(again.startDate).toEqual(first.startDate);
    const described = await client.send(new DescribeExecutionCommand({ executionArn: first.executionArn }));
    expect(described.status).toBe('RUNNING');
    expect(described.input).toBe('{"Payload":{"n":1}}');
  });

  it('refuses the same name with another input: ExecutionAlreadyExists', async () => {
    await expect(start('run-1', { Payload: { n: 2 } })).rejects.toMatchObject({
      name: 'ExecutionAlreadyExists',
      message: "Execution Already Exists: 'arn:aws:states:eu-west-1:123456789012:execution:Piko-echo:run-1'",
      $metadata: { httpStatusCode: 400 },
    });
  });

  it('answers unknown state machines, executions, bad names and oversized input as Step Functions does', async () => {
    await expect(
      client.send(new StartExecutionCommand({ stateMachineArn: `${ARN}-nope`, name: 'x', input: '{}' })),
    ).rejects.toMatchObject({ name: 'StateMachineDoesNotExist' });
    await expect(
      client.send(
        new DescribeExecutionCommand({
          executionArn: `${ARN.replace(':stateMachine:', ':execution:')}:nope`,
        }),
      ),
    ).rejects.toMatchObject({ name: 'ExecutionDoesNotExist' });
    await expect(start('has:colon', {})).rejects.toMatchObject({ name: 'InvalidName' });
    await expect(start('big', { blob: 'x'.repeat(262_144) })).rejects.toMatchObject({
      name: 'ValidationException',
    });
  });

  it('runs the execution to its end; an ended name is ExecutionAlreadyExists even with the same input', async () => {
    await start('run-2', { fail: true });
    release();
    await endpoint.idle();
    const ok = await client.send(
      new DescribeExecutionCommand({ executionArn: `${ARN.replace(':stateMachine:', ':execution:')}:run-1` }),
    );
    expect(ok, `${ok.error}: ${ok.cause}`).toMatchObject({
      status: 'SUCCEEDED',
      output: '{"Payload":{"n":1}}',
    });
    expect(ok.stopDate).toBeInstanceOf(Date);
    const failed = await client.send(
      new DescribeExecutionCommand({ executionArn: `${ARN.replace(':stateMachine:', ':execution:')}:run-2` }),
    );
    expect(failed).toMatchObject({ status: 'FAILED', error: 'EchoFailed', cause: 'asked to fail' });
    await expect(start('run-1', { Payload: { n: 1 } })).rejects.toMatchObject({
      name: 'ExecutionAlreadyExists',
    });
    const listed = await client.send(
      new ListExecutionsCommand({ stateMachineArn: ARN, statusFilter: 'FAILED' }),
    );
    expect(listed.executions?.map((execution) => execution.name)).toEqual(['run-2']);
  });

  it('stops a running execution (ABORTED)', async () => {
    held = new Promise<void>((resolve) => {
      release = resolve;
    });
    const { executionArn } = await start('run-3', {});
    await client.send(new StopExecutionCommand({ executionArn, error: 'Stopped', cause: 'by the test' }));
    await endpoint.idle();
    const stopped = await client.send(new DescribeExecutionCommand({ executionArn }));
    expect(stopped).toMatchObject({ status: 'ABORTED', error: 'Stopped', cause: 'by the test' });
    release();
  });

  it('records every call with the caller’s role, for the IAM simulation', () => {
    const actions = identities.calls().map((call) => call.action);
    expect(
      actions.filter((action) => action === 'states:StartExecution'),
      JSON.stringify(identities.calls()),
    ).toHaveLength(9);
    expect(new Set(actions)).toEqual(
      new Set([
        'states:StartExecution',
        'states:DescribeExecution',
        'states:ListExecutions',
        'states:StopExecution',
      ]),
    );
    expect(new Set(identities.calls().map((call) => call.principal?.roleArn))).toEqual(
      new Set(['arn:aws:iam::123456789012:role/dispatcher']),
    );
    expect(endpoint.problems).toEqual([]);
  });
});
