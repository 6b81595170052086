import { beforeAll, describe, expect, it } from 'vitest';
import { WorkflowAbortedError, WorkflowFailedError } from '../../../shared/errors.ts';
import {
  type FargateTaskRequest,
  runWorkflow,
  type WorkflowBindings,
} from '../../../shared/local/workflow/executor.ts';
import { renderJobWorkflow } from '../../../shared/local/workflow/render.ts';
import {
  parseStagePayload,
  type StagePayload,
  stageErrorMessage,
} from '../../../shared/workflow/stage-event.ts';
import type { ExecutionInput, RunItem } from '../../../shared/workflow/starter.ts';
import { executionInput, fargateJob, singleStageJob, sleep, twoStageJob } from '../workflow/jobs.ts';

type RunHandler = (payload: Extract<StagePayload, { action: 'run' }>) => Promise<unknown> | unknown;

/** Bindings that record every call; stage behaviour is given per test. */
function recordingBindings(onRun: RunHandler = (payload) => ({ output: { from: payload.stage } })) {
  const calls: StagePayload[] = [];
  const fargateCalls: FargateTaskRequest[] = [];
  const continued: string[] = [];
  const bindings: WorkflowBindings = {
    async invokeStage(payload) {
      calls.push(payload);
      return payload.action === 'run' ? onRun(payload) : { recorded: true };
    },
    async runFargateTask(request) {
      fargateCalls.push(request);
    },
    async continueDispatch(jobId) {
      continued.push(jobId);
    },
  };
  const runs = () => calls.filter((call) => call.action === 'run');
  const fails = () => calls.filter((call) => call.action === 'fail');
  return { bindings, calls, runs, fails, fargateCalls, continued };
}

/** The run reference a stage event carries for `item` of `input`. */
function refOf(input: ExecutionInput, item: RunItem) {
  return {
    jobId: input.jobId,
    executionName: input.executionName,
    runId: item.runId,
    generation: item.generation,
  };
}

function namedError(name: string, message: string): Error {
  const error = new Error(message);
  error.name = name;
  return error;
}

describe('runWorkflow', () => {
  const asl: Record<string, string> = {};
  beforeAll(async () => {
    for (const job of [singleStageJob, twoStageJob, fargateJob]) asl[job.id] = await renderJobWorkflow(job);
  });

  it("runs every run's stages in order, each event naming only the run and its owner", async () => {
    const recorder = recordingBindings((payload) => ({
      output: { stage: payload.stage, runId: payload.run.runId },
    }));
    const input = executionInput(twoStageJob, 5, 'backfill');

    const output = await runWorkflow(asl.two_stage!, input, recorder.bindings, { noRetryWaits: true });

    // A summary, never the batch: a backfill's startExecution.sync:2 gets the output back.
    expect(output).toEqual({
      jobId: input.jobId,
      executionName: input.executionName,
      lane: 'backfill',
      runs: 5,
      wakes: 0,
    });
    expect(recorder.fails()).toEqual([]);
    for (const item of input.runs) {
      const run = refOf(input, item);
      const calls = recorder.runs().filter((call) => call.run.runId === item.runId);
      // The previous stage's output is not in the event: the next stage reads it from the store.
      expect(calls).toEqual([
        { action: 'run', stage: 'extract', stageIndex: 0, lastStage: false, run },
        { action: 'run', stage: 'load', stageIndex: 1, lastStage: true, run },
      ]);
    }
  });

  it('retries a failing stage: fails twice, succeeds on the third invocation', async () => {
    let attempts = 0;
    const recorder = recordingBindings(() => {
      attempts++;
      if (attempts <= 2) throw new Error(`flaky ${attempts}`);
      return { output: null };
    });

    await runWorkflow(asl.single!, executionInput(singleStageJob, 1), recorder.bindings, {
      noRetryWaits: true,
    });

    expect(recorder.runs()).toHaveLength(3);
    expect(recorder.fails()).toEqual([]);
  });

  it('records a NonRetryableError at once, with its name and message', async () => {
    const recorder = recordingBindings(() => {
      throw namedError('NonRetryableError', 'input file is corrupt');
    });
    const input = executionInput(singleStageJob, 1);

    await runWorkflow(asl.single!, input, recorder.bindings, { noRetryWaits: true });

    expect(recorder.runs()).toHaveLength(1);
    const [fail] = recorder.fails();
    expect(fail).toMatchObject({
      action: 'fail',
      run: refOf(input, input.runs[0]!),
      error: { Error: 'NonRetryableError' },
    });
    if (fail?.action !== 'fail') throw new Error('no fail call');
    // As Step Functions reports a Lambda error: the Cause is the error as JSON.
    expect(JSON.parse(fail.error.Cause)).toMatchObject({
      errorType: 'NonRetryableError',
      errorMessage: 'input file is corrupt',
    });
    expect(stageErrorMessage(fail.error)).toBe('input file is corrupt');
  });

  it('records the last error after the retries are exhausted', async () => {
    const recorder = recordingBindings(() => {
      throw namedError('TimeoutError', 'took too long');
    });
    await runWorkflow(asl.single!, executionInput(singleStageJob, 1), recorder.bindings, {
      noRetryWaits: true,
    });
    expect(recorder.runs()).toHaveLength(3); // retry.attempts
    expect(recorder.fails()).toHaveLength(1);
    expect(recorder.fails()[0]).toMatchObject({ error: { Error: 'TimeoutError' } });
  });

  it('respects the Map MaxConcurrency', async () => {
    let inFlight = 0;
    let most = 0;
    const recorder = recordingBindings(async () => {
      inFlight++;
      most = Math.max(most, inFlight);
      await sleep(10);
      inFlight--;
      return { output: null };
    });

    await runWorkflow(asl.single!, executionInput(singleStageJob, 20), recorder.bindings, {
      noRetryWaits: true,
    });

    expect(recorder.runs()).toHaveLength(20);
    expect(most).toBe(singleStageJob.concurrency);
  });

  it('lets the other runs go on when one fails', async () => {
    const recorder = recordingBindings((payload) => {
      if (payload.run.runId === 2 && payload.stage === 'extract') throw new Error('run 2 is broken');
      return { output: payload.run.runId };
    });
    const input = executionInput(twoStageJob, 4);

    await runWorkflow(asl.two_stage!, input, recorder.bindings, { noRetryWaits: true });

    const loads = recorder.runs().filter((call) => call.stage === 'load');
    expect(loads.map((call) => call.run.runId).sort()).toEqual([1, 3, 4]);
    expect(recorder.fails()).toHaveLength(1);
    expect(recorder.fails()[0]).toMatchObject({ run: { runId: 2 }, error: { Error: 'Error' } });
    expect(recorder.continued).toEqual([twoStageJob.id]);
  });

  it('asks the dispatcher to go on once after a scheduled batch, never after a backfill', async () => {
    const scheduled = recordingBindings();
    await runWorkflow(asl.single!, executionInput(singleStageJob, 3, 'scheduled'), scheduled.bindings);
    expect(scheduled.continued).toEqual(['single']);

    const backfill = recordingBindings();
    await runWorkflow(asl.single!, executionInput(singleStageJob, 3, 'backfill'), backfill.bindings);
    expect(backfill.continued).toEqual([]);
  });

  it('passes the stage event to a Fargate stage in PIKO_STAGE_EVENT; the next stage reads the store', async () => {
    const recorder = recordingBindings((payload) => ({ output: { rows: payload.run.runId * 10 } }));
    const input = executionInput(fargateJob, 2);

    // validate: aws-local-stepfunctions' own asl-validator accepts the nested intrinsics too.
    await runWorkflow(asl.heavy!, input, recorder.bindings, { noRetryWaits: true, validate: true });

    expect(recorder.fargateCalls).toHaveLength(2);
    for (const item of input.runs) {
      const run = refOf(input, item);
      const request = recorder.fargateCalls.find(
        (call) => parseStagePayload(call.environment.PIKO_STAGE_EVENT).run.runId === run.runId,
      );
      expect(request?.stage).toBe('crunch');
      expect(request?.jobId).toBe(input.jobId);
      expect(Object.keys(request?.environment ?? {})).toEqual(['PIKO_STAGE_EVENT']);
      expect(JSON.parse(request?.environment.PIKO_STAGE_EVENT ?? '')).toEqual({
        action: 'run',
        stage: 'crunch',
        stageIndex: 1,
        lastStage: false,
        run,
      });
      const load = recorder.runs().find((call) => call.stage === 'load' && call.run.runId === run.runId);
      expect(load).toEqual({
        action: 'run',
        stage: 'load',
        stageIndex: 2,
        lastStage: true,
        run,
      });
    }
  });

  it('fails a Fargate stage by the thrown error, and records it', async () => {
    const recorder = recordingBindings();
    recorder.bindings.runFargateTask = async () => {
      throw namedError('NonRetryableError', 'container exited with 3');
    };
    await runWorkflow(asl.heavy!, executionInput(fargateJob, 1), recorder.bindings, { noRetryWaits: true });
    expect(recorder.fails()).toEqual([
      expect.objectContaining({ error: { Error: 'NonRetryableError', Cause: 'container exited with 3' } }),
    ]);
    expect(recorder.runs().map((call) => call.stage)).toEqual(['extract']);
  });

  it('discards every stage result: a large or odd result never reaches the next stage or the state', async () => {
    const recorder = recordingBindings(() => ({ rows: 'x'.repeat(300_000) }));
    const input = executionInput(twoStageJob, 1);

    const output = await runWorkflow(asl.two_stage!, input, recorder.bindings, { noRetryWaits: true });

    // The local continue answers nothing (the local runtime has its own timer): no wake.
    expect(output).toEqual({
      jobId: input.jobId,
      executionName: input.executionName,
      lane: 'scheduled',
      runs: 1,
      wakes: 0,
      continued: null,
    });
    expect(recorder.runs().map((call) => Object.keys(call).sort())).toEqual([
      ['action', 'lastStage', 'run', 'stage', 'stageIndex'],
      ['action', 'lastStage', 'run', 'stage', 'stageIndex'],
    ]);
  });

  it('fails the execution, as Step Functions does, when a state references a missing path', async () => {
    const { runs: _runs, ...withoutRuns } = executionInput(singleStageJob, 1);
    await expect(
      runWorkflow(asl.single!, withoutRuns as never, recordingBindings().bindings, { noRetryWaits: true }),
    ).rejects.toBeInstanceOf(WorkflowFailedError);
  });

  it('stops starting stages when aborted, lets running ones finish, records nothing as failed', async () => {
    const controller = new AbortController();
    let finished = 0;
    const recorder = recordingBindings(async () => {
      if (recorder.runs().length === 4) controller.abort();
      await sleep(20);
      finished++;
      return { output: null };
    });

    const started = performance.now();
    await expect(
      runWorkflow(asl.single!, executionInput(singleStageJob, 40), recorder.bindings, {
        signal: controller.signal,
        noRetryWaits: true,
      }),
    ).rejects.toBeInstanceOf(WorkflowAbortedError);

    expect(recorder.runs()).toHaveLength(4);
    expect(finished).toBe(4); // running stages finished before the promise settled
    expect(recorder.fails()).toEqual([]);
    expect(recorder.continued).toEqual([]);
    await sleep(50);
    expect(recorder.runs()).toHaveLength(4); // nothing started in the background either
    expect(performance.now() - started).toBeLessThan(2_000);
  });

  it('refuses an ASL with a Task it cannot bind', async () => {
    const asl = JSON.stringify({
      StartAt: 'Q',
      States: { Q: { Type: 'Task', Resource: 'arn:aws:states:::sqs:sendMessage', End: true } },
    });
    await expect(
      runWorkflow(asl, executionInput(singleStageJob, 1), recordingBindings().bindings),
    ).rejects.toThrow(/Task state "Q" has a Resource with no local binding/);
  });

  it('honours the real retry backoff without noRetryWaits', async () => {
    // 1 s interval with full jitter: the wait is random in [0, 1 s]; over several runs it is not all zero.
    const job = {
      ...singleStageJob,
      id: 'backoff',
      retry: { attempts: 2, backoffMs: 1000, rate: 1, maxBackoffMs: 1000 },
    };
    const backoffAsl = await renderJobWorkflow(job);
    const failedAt = new Map<number, number>();
    const waits: number[] = [];
    const recorder = recordingBindings((payload) => {
      const first = failedAt.get(payload.run.runId);
      if (first === undefined) {
        failedAt.set(payload.run.runId, performance.now());
        throw new Error('once');
      }
      waits.push(performance.now() - first);
      return { output: null };
    });
    await runWorkflow(backoffAsl, executionInput(job, 4, 'backfill'), recorder.bindings);
    expect(waits).toHaveLength(4);
    expect(Math.max(...waits)).toBeGreaterThan(5);
    expect(Math.max(...waits)).toBeLessThanOrEqual(1_100);
  });
});
