/**
 * The stage runner against a real store (DESIGN.md §8): the state table is the authority. An event
 * names a run and its owner (job, execution, generation) and nothing else; the runner reads the
 * interval, config and previous output from the store, refuses an event that disagrees, and every
 * update is conditional on the owner. Run on the SQLite file and on MariaDB by the store test files.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { StageEventRefusedError } from '../../../shared/errors.ts';
import {
  defineJob,
  fargate,
  lambda,
  MAX_CONFIG_OVERRIDE_BYTES,
  type RunContext,
} from '../../../shared/job.ts';
import { runWorkflow, type WorkflowBindings } from '../../../shared/local/workflow/executor.ts';
import { renderJobWorkflow } from '../../../shared/local/workflow/render.ts';
import { executionInput } from '../../../shared/planner/dispatch.ts';
import { JobRegistry } from '../../../shared/registry.ts';
import { ResourceRegistry } from '../../../shared/resources/lending.ts';
import { runStage, type StageRunnerDeps } from '../../../shared/runner/stage-runner.ts';
import type { StateStore } from '../../../shared/store/types.ts';
import { executionName } from '../../../shared/workflow/execution-name.ts';
import {
  parseStagePayload,
  STAGE_EVENT_ENV,
  type StagePayload,
} from '../../../shared/workflow/stage-event.ts';
import type { ExecutionInput } from '../../../shared/workflow/starter.ts';
import { jobAt } from '../../helpers/stored-job.ts';
import type { StoreFactory, StoreUnderTest } from './conformance.ts';

const T0 = new Date('2026-03-01T00:00:00.000Z');
const HOUR_MS = 3_600_000;
/** RunTask allows this many characters in all of a task's overrides. */
const RUNTASK_OVERRIDE_LIMIT = 8_192;

/** What each job's handler saw, by job. */
const seen: Record<string, RunContext[]> = { job_a: [], job_b: [] };

const configSchema = z.object({ region: z.string().default('eu'), blob: z.string().default('') });
const jobA = defineJob({
  id: 'job_a',
  schedule: { cron: '0 * * * *' },
  start: '2026-03-01T00:00:00Z',
  retry: { attempts: 1 },
  config: configSchema,
  handler: (ctx) => {
    seen.job_a!.push(ctx);
    return { ran: 'job_a' };
  },
});
const jobB = defineJob({
  id: 'job_b',
  schedule: { cron: '0 * * * *' },
  start: '2026-03-01T00:00:00Z',
  retry: { attempts: 1 },
  config: configSchema,
  handler: (ctx) => {
    seen.job_b!.push(ctx);
    return { ran: 'job_b' };
  },
});
/** A Lambda stage with a large output, then a Fargate stage that reads it and the config. */
const BIG_OUTPUT = { rows: 'r'.repeat(200_000) };
const chained = defineJob({
  id: 'chained',
  schedule: { cron: '0 * * * *' },
  start: '2026-03-01T00:00:00Z',
  retry: { attempts: 1 },
  config: configSchema,
  stages: [
    lambda('extract', () => BIG_OUTPUT),
    fargate('crunch', { cpu: 256, memoryMiB: 512 }, (ctx) => {
      const input = ctx.input as typeof BIG_OUTPUT;
      const config = ctx.config as z.infer<typeof configSchema>;
      return { inputLength: input.rows.length, blobLength: config.blob.length, region: config.region };
    }),
  ],
});

/** A stage that runs until its signal aborts (a Fargate task that ECS stops). */
const stoppable = defineJob({
  id: 'stoppable',
  schedule: { cron: '0 * * * *' },
  start: '2026-03-01T00:00:00Z',
  retry: { attempts: 1 },
  handler: (ctx) =>
    new Promise((_, reject) => {
      ctx.signal.addEventListener('abort', () => reject(new Error('aborted: the task is stopping')));
    }),
});

/** Registers the test's stage runner suite for one store. */
export function describeStageEvents(name: string, factory: StoreFactory): void {
  describe(`${name}: stage events verified against the state table`, () => {
    let underTest: StoreUnderTest;
    let store: StateStore;
    let deps: StageRunnerDeps;

    beforeAll(async () => {
      underTest = await factory({ clock: () => T0 });
      store = underTest.store;
      await store.migrate();
      deps = {
        store,
        jobs: new JobRegistry([jobA, jobB, chained, stoppable]),
        resources: new ResourceRegistry(),
      };
    });

    afterAll(async () => {
      await underTest?.cleanup();
    });

    /** One interval of `jobId` at `hour`, created with `config` and queued as a dispatch does: its batch. */
    async function dispatched(jobId: string, hour: number, config: unknown = null): Promise<ExecutionInput> {
      const start = new Date(T0.getTime() + hour * HOUR_MS);
      const interval = { start, end: new Date(start.getTime() + HOUR_MS) };
      const lane = { kind: 'scheduled' } as const;
      return store.withJob(jobAt(jobId, T0), async (tx) => {
        await tx.insertRuns([{ interval, trigger: 'manual', config }]);
        const runs = await tx.runsInRange(interval.start, interval.end);
        const name = executionName(jobId, lane, runs);
        await tx.markQueued(
          runs.map((run) => run.runId),
          name,
        );
        return executionInput(jobId, name, lane, runs);
      });
    }

    /** The run event of a batch's first run, as the workflow sends it. */
    function runEvent(input: ExecutionInput, overrides: Partial<StagePayload['run']> = {}): StagePayload {
      const item = input.runs[0]!;
      return {
        action: 'run',
        stage: 'main',
        stageIndex: 0,
        lastStage: true,
        run: {
          jobId: input.jobId,
          executionName: input.executionName,
          runId: item.runId,
          generation: item.generation,
          ...overrides,
        },
      };
    }

    const refusal = (reason: string) =>
      `Stage event refused: ${reason}; nothing was written. Only the execution that holds a run, in its current generation, may update it.`;

    it('runs the handler with the interval and config of the state table', async () => {
      const batch = await dispatched('job_b', 0, { region: 'us' });
      seen.job_b = [];

      await runStage(deps, runEvent(batch));

      expect(
        seen.job_b.map((ctx) => [
          ctx.interval.start.toISOString(),
          ctx.interval.end.toISOString(),
          ctx.config,
        ]),
      ).toEqual([['2026-03-01T00:00:00.000Z', '2026-03-01T01:00:00.000Z', { region: 'us', blob: '' }]]);
      expect(await store.getRun(batch.runs[0]!.runId)).toMatchObject({
        status: 'succeeded',
        output: { ran: 'job_b' },
      });
    });

    it("refuses an event naming job_a with job_b's run: job_a's handler never runs, job_b's run is untouched", async () => {
      const batch = await dispatched('job_b', 1);
      const before = await store.getRun(batch.runs[0]!.runId);
      seen.job_a = [];

      const forged = runStage(deps, runEvent(batch, { jobId: 'job_a' }));

      await expect(forged).rejects.toThrow(
        refusal(`run ${before!.runId} belongs to job "job_b", not "job_a"`),
      );
      await expect(runStage(deps, runEvent(batch, { jobId: 'job_a' }))).rejects.toBeInstanceOf(
        StageEventRefusedError,
      );
      expect(seen.job_a).toEqual([]);
      expect(await store.getRun(before!.runId)).toEqual(before);
    });

    it("refuses a forged fail event: no attacker text in another job's error column", async () => {
      const batch = await dispatched('job_b', 2);
      const before = await store.getRun(batch.runs[0]!.runId);
      const error = { Error: 'Error', Cause: JSON.stringify({ errorMessage: 'attacker text' }) };
      const { run } = runEvent(batch);

      await expect(
        runStage(deps, { action: 'fail', run: { ...run, jobId: 'job_a' }, error }),
      ).rejects.toThrow(refusal(`run ${run.runId} belongs to job "job_b", not "job_a"`));
      await expect(
        runStage(deps, {
          action: 'fail',
          run: { ...run, executionName: 'job_b-s20260101T000000Z-forged' },
          error,
        }),
      ).rejects.toThrow(StageEventRefusedError);

      expect(await store.getRun(run.runId)).toEqual(before);
    });

    it('refuses a stale generation: the run was requeued, its new owner runs it', async () => {
      const batch = await dispatched('job_b', 3);
      await store.requeueRuns([batch.runs[0]!.runId]);
      const before = await store.getRun(batch.runs[0]!.runId);
      seen.job_b = [];

      await expect(runStage(deps, runEvent(batch))).rejects.toThrow(
        refusal(
          `run ${before!.runId} is held by no execution (status pending), not by "${batch.executionName}"`,
        ),
      );
      await expect(
        runStage(deps, runEvent(batch, { executionName: batch.executionName, generation: 1 })),
      ).rejects.toThrow(StageEventRefusedError);

      expect(seen.job_b).toEqual([]);
      expect(await store.getRun(before!.runId)).toEqual(before);
    });

    it('refuses a generation the run is not in, under its own execution name', async () => {
      const batch = await dispatched('job_b', 4);
      const before = await store.getRun(batch.runs[0]!.runId);

      await expect(runStage(deps, runEvent(batch, { generation: 7 }))).rejects.toThrow(
        refusal(`run ${before!.runId} is in generation 0, not 7 (it was re-armed or requeued since)`),
      );
      expect(await store.getRun(before!.runId)).toEqual(before);
    });

    it('refuses a wrong execution name', async () => {
      const batch = await dispatched('job_b', 5);
      const before = await store.getRun(batch.runs[0]!.runId);

      await expect(
        runStage(deps, runEvent(batch, { executionName: 'job_b-s20260301T050000Z-0000000000000000' })),
      ).rejects.toThrow(
        refusal(
          `run ${before!.runId} is held by execution "${batch.executionName}" (status queued), not by "job_b-s20260301T050000Z-0000000000000000"`,
        ),
      );
      expect(await store.getRun(before!.runId)).toEqual(before);
    });

    it("refuses, in job_a's function, a genuine event of job_b", async () => {
      const batch = await dispatched('job_b', 6);
      const before = await store.getRun(batch.runs[0]!.runId);
      seen.job_b = [];

      await expect(runStage({ ...deps, jobId: 'job_a' }, runEvent(batch))).rejects.toThrow(
        refusal('this function runs job "job_a" only, and the event names job "job_b"'),
      );
      expect(seen.job_b).toEqual([]);
      expect(await store.getRun(before!.runId)).toEqual(before);
      // The right function runs it.
      await runStage({ ...deps, jobId: 'job_b' }, runEvent(batch));
      expect(await store.getRun(before!.runId)).toMatchObject({ status: 'succeeded' });
    });

    it('records the ECS task of a Fargate stage as it starts (cancel stops it), and clears it when a stage starts elsewhere', async () => {
      // Arrange: the task ARN the container read from its metadata endpoint.
      const taskArn = 'arn:aws:ecs:eu-west-1:123456789012:task/piko-cluster/0123456789abcdef0123456789abcdef';
      const batch = await dispatched('chained', 1);
      const { run } = runEvent(batch);
      const stage = (stageIndex: number) =>
        ({
          action: 'run',
          stage: chained.stages[stageIndex]!.name,
          stageIndex,
          lastStage: stageIndex === 1,
          run,
        }) as const;

      // Act: the Lambda stage, then the Fargate stage in its task.
      await runStage({ ...deps, jobId: 'chained' }, stage(0));
      const afterLambda = await store.getRun(run.runId);
      await runStage({ ...deps, jobId: 'chained', taskArn }, stage(1));
      const afterFargate = await store.getRun(run.runId);
      // A stage that starts outside ECS (a retry of a run on a Lambda stage) clears it.
      const other = await dispatched('job_b', 30);
      const owner = runEvent(other).run;
      await store.markRunning(owner.runId, 'main', T0, owner, null, taskArn);
      const inTask = await store.getRun(owner.runId);
      await store.markRunning(owner.runId, 'main', T0, owner, null);
      const outside = await store.getRun(owner.runId);

      // Assert
      expect(afterLambda).toMatchObject({ status: 'running', stage: 'extract', taskArn: null });
      expect(afterFargate).toMatchObject({ status: 'succeeded', stage: 'crunch', taskArn });
      expect(inTask).toMatchObject({ stage: 'main', attempts: 1, taskArn });
      expect(outside).toMatchObject({ stage: 'main', attempts: 2, taskArn: null });
      await expect(store.markRunning(owner.runId, 'main', T0, owner, null, '')).rejects.toThrow(
        'An ECS task ARN has 1 to 400 characters; got 0: pass null for a stage that runs outside ECS',
      );
    });

    it('ends as cancelled, not failed, when its task is stopped (SIGTERM) after a cancel, before the next poll', async () => {
      // Arrange: a stage running in a task; the cancel poll would come only in a minute.
      const batch = await dispatched('stoppable', 0);
      const shutdown = new AbortController();
      const running = runStage(
        { ...deps, jobId: 'stoppable', shutdown: shutdown.signal, cancelPollMs: 60_000 },
        runEvent(batch),
      );
      const runId = batch.runs[0]!.runId;
      await expect.poll(async () => (await store.getRun(runId))?.status).toBe('running');

      // Act: piko cancel --aws cancels the run, then stops its task.
      await store.withJob(jobAt('stoppable', T0), (tx) => tx.cancelRuns([runId]));
      shutdown.abort(new Error('Fargate task stopped (SIGTERM)'));

      // Assert: a RunCancelledError (non-retryable), and the run stays cancelled.
      await expect(running).rejects.toThrow(
        `Run ${runId} was cancelled by an operator while it ran; its result is not recorded (run the interval again with piko run or a backfill)`,
      );
      expect(await store.getRun(runId)).toMatchObject({ status: 'cancelled' });
    });

    it('hands a Fargate stage a small override; it reads the large previous output and the largest config from the store', async () => {
      // Arrange: the largest config override allowed, a 200 KB output of the Lambda stage.
      const blob = 'b'.repeat(MAX_CONFIG_OVERRIDE_BYTES - JSON.stringify({ region: 'us', blob: '' }).length);
      const config = { region: 'us', blob };
      expect(Buffer.byteLength(JSON.stringify(config))).toBe(MAX_CONFIG_OVERRIDE_BYTES);
      const batch = await dispatched('chained', 0, config);
      const overrides: number[] = [];
      const bindings: WorkflowBindings = {
        invokeStage: (payload) => runStage({ ...deps, jobId: 'chained' }, payload),
        // The container's side: only the environment, as RunTask delivers it.
        async runFargateTask(request) {
          overrides.push(
            Object.entries(request.environment).reduce(
              (total, [key, value]) => total + key.length + value.length,
              0,
            ),
          );
          const payload = parseStagePayload(request.environment[STAGE_EVENT_ENV]);
          await runStage({ ...deps, jobId: request.jobId }, payload);
        },
        async continueDispatch() {},
      };

      // Act
      await runWorkflow(await renderJobWorkflow(chained), batch, bindings, { noRetryWaits: true });

      // Assert
      expect(overrides).toHaveLength(1);
      expect(overrides[0]).toBeLessThan(RUNTASK_OVERRIDE_LIMIT);
      expect(await store.getRun(batch.runs[0]!.runId)).toMatchObject({
        status: 'succeeded',
        output: { inputLength: 200_000, blobLength: blob.length, region: 'us' },
      });
    });
  });
}
