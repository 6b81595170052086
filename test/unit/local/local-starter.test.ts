import { beforeAll, describe, expect, it } from 'vitest';
import type { WorkflowBindings } from '../../../shared/local/workflow/executor.ts';
import { type ExecutionEnd, LocalWorkflowStarter } from '../../../shared/local/workflow/local-starter.ts';
import { renderJobWorkflow } from '../../../shared/local/workflow/render.ts';
import type { ExecutionStatus } from '../../../shared/workflow/starter.ts';
import { executionInput, singleStageJob, sleep } from '../workflow/jobs.ts';

describe('LocalWorkflowStarter', () => {
  let asl: string;
  beforeAll(async () => {
    asl = await renderJobWorkflow(singleStageJob);
  });

  function starter(bindings: Partial<WorkflowBindings>, options: { historySize?: number } = {}) {
    const ends: ExecutionEnd[] = [];
    const lookups: string[] = [];
    const instance = new LocalWorkflowStarter({
      workflowOf: (jobId) => {
        lookups.push(jobId);
        if (jobId !== singleStageJob.id) throw new Error(`no workflow for ${jobId}`);
        return asl;
      },
      bindings: {
        invokeStage: async () => ({ output: null }),
        runFargateTask: async () => undefined,
        continueDispatch: async () => undefined,
        ...bindings,
      },
      noRetryWaits: true,
      onExecutionEnd: (end) => ends.push(end),
      ...options,
    });
    return { instance, ends, lookups };
  }

  it('starts an execution once per name and reports its status', async () => {
    let invocations = 0;
    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const { instance, ends } = starter({
      invokeStage: async () => {
        invocations++;
        await gate;
        return { output: null };
      },
    });
    const input = executionInput(singleStageJob, 2);

    expect(await instance.status(input.jobId, input.executionName)).toBe('absent');
    await instance.start(input);
    await instance.start(input); // same name: nothing new
    expect(await instance.status(input.jobId, input.executionName)).toBe('running');
    expect(await instance.status('other', input.executionName)).toBe('absent');
    expect(instance.running).toBe(1);

    release();
    await instance.whenIdle();
    expect(await instance.status(input.jobId, input.executionName)).toBe('ended');
    expect(invocations).toBe(2);
    expect(ends).toEqual([expect.objectContaining({ input, outcome: 'succeeded' })]);

    await instance.start(input); // an ended name is still known: nothing runs again
    await instance.whenIdle();
    expect(invocations).toBe(2);
  });

  it('runs the dispatcher continuation after the execution has ended', async () => {
    const seen: ExecutionStatus[] = [];
    const input = executionInput(singleStageJob, 1, 'scheduled');
    const { instance, ends } = starter({
      continueDispatch: async (jobId) => {
        seen.push(await instance.status(jobId, input.executionName));
        expect(ends).toHaveLength(1);
      },
    });

    await instance.start(input);
    await instance.whenIdle();

    expect(seen).toEqual(['ended']);
  });

  it('whenIdle waits for executions started by the continuation', async () => {
    const first = executionInput(singleStageJob, 1, 'scheduled', 'batch-1');
    const second = executionInput(singleStageJob, 1, 'backfill', 'batch-2');
    const { instance, ends } = starter({
      continueDispatch: async () => {
        await sleep(5);
        await instance.start(second);
      },
    });

    await instance.start(first);
    await instance.whenIdle();

    expect(ends.map((end) => end.input.executionName)).toEqual(['batch-1', 'batch-2']);
  });

  it('throws from start when the workflow cannot be found, and remembers nothing', async () => {
    const { instance } = starter({});
    const input = { ...executionInput(singleStageJob, 1), jobId: 'unknown' };
    await expect(instance.start(input)).rejects.toThrow(/no workflow for unknown/);
    expect(await instance.status('unknown', input.executionName)).toBe('absent');
    await instance.whenIdle();
  });

  it('reports a failed execution', async () => {
    const ends: ExecutionEnd[] = [];
    const broken = new LocalWorkflowStarter({
      workflowOf: () =>
        JSON.stringify({ StartAt: 'F', States: { F: { Type: 'Fail', Error: 'Boom', Cause: 'no' } } }),
      bindings: {
        invokeStage: async () => null,
        runFargateTask: async () => undefined,
        continueDispatch: async () => undefined,
      },
      onExecutionEnd: (end) => ends.push(end),
    });
    const input = executionInput(singleStageJob, 1);

    await broken.start(input);
    await broken.whenIdle();

    expect(ends).toEqual([
      expect.objectContaining({ outcome: 'failed', error: expect.objectContaining({ error: 'Boom' }) }),
    ]);
    expect(await broken.status(input.jobId, input.executionName)).toBe('ended');
  });

  it('abortAll stops new stages; running ones finish before whenIdle resolves', async () => {
    let started = 0;
    let finished = 0;
    const { instance, ends } = starter({
      invokeStage: async () => {
        started++;
        await sleep(20);
        finished++;
        return { output: null };
      },
    });
    const input = executionInput(singleStageJob, 30);

    await instance.start(input);
    await sleep(5);
    instance.abortAll();
    await instance.whenIdle();

    expect(started).toBe(singleStageJob.concurrency);
    expect(finished).toBe(started);
    expect(ends).toEqual([expect.objectContaining({ outcome: 'aborted' })]);
    expect(await instance.status(input.jobId, input.executionName)).toBe('ended');
  });

  it('forgets the oldest ended executions beyond historySize', async () => {
    const { instance } = starter({}, { historySize: 2 });
    for (const name of ['a', 'b', 'c']) {
      await instance.start(executionInput(singleStageJob, 1, 'backfill', name));
      await instance.whenIdle();
    }
    expect(await instance.status(singleStageJob.id, 'a')).toBe('absent');
    expect(await instance.status(singleStageJob.id, 'b')).toBe('ended');
    expect(await instance.status(singleStageJob.id, 'c')).toBe('ended');
  });
});
