import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ClockSkewError } from '../../../shared/errors.ts';
import {
  defineJob,
  type JobDefinition,
  type JobOptions,
  lambda,
  MAX_CONFIG_OVERRIDE_BYTES,
} from '../../../shared/job.ts';
import {
  MAX_EXECUTION_ENVELOPE_BYTES,
  MAX_EXECUTION_INPUT_BYTES,
  MAX_RUN_ITEM_BYTES,
  runsPerExecution,
} from '../../../shared/planner/dispatch.ts';
import {
  backfillId,
  dispatch,
  executionName,
  planBackfill,
  planScheduled,
  planScheduledOnce,
  previewBackfill,
  resetWatermark,
} from '../../../shared/planner/index.ts';
import { JobRegistry } from '../../../shared/registry.ts';
import { ResourceRegistry } from '../../../shared/resources/lending.ts';
import type { ResourceMap } from '../../../shared/resources/types.ts';
import { runStage } from '../../../shared/runner/stage-runner.ts';
import type { JobTransaction, StateStore, StoredJob } from '../../../shared/store/types.ts';
import type { StagePayload } from '../../../shared/workflow/stage-event.ts';
import type { RunItem } from '../../../shared/workflow/starter.ts';
import { RecordingStarter } from '../../helpers/recording-starter.ts';

/** A store for one test file, and how to wipe it between tests. */
export interface PlannerStoreFactory {
  readonly kind: 'mysql' | 'sqlite';
  /** Opens the store with `clock` as its clock (times of rows, requeue delays). */
  open(clock: () => Date): Promise<StateStore>;
  /** Removes every row, so each test starts from an empty store. */
  wipe(store: StateStore): Promise<void>;
  /** Bytes the state tables take in use (SQLite: pages in use; MySQL: data and index length). */
  databaseBytes(store: StateStore): Promise<number>;
  cleanup(): Promise<void>;
}

const T0 = new Date('2026-03-01T00:00:00.000Z');
const at = (iso: string) => new Date(iso);
const noop = async () => undefined;

let sequence = 0;
function hourly(options: Partial<JobOptions<unknown, ResourceMap>> = {}): JobDefinition {
  return defineJob({
    id: `hourly_${++sequence}`,
    schedule: { cron: '0 * * * *' },
    start: T0.toISOString(),
    handler: noop,
    config: z.object({ region: z.string().default('eu') }),
    ...options,
  } as JobOptions<unknown, ResourceMap>);
}

async function statuses(store: StateStore, jobId: string) {
  return (await store.listRuns(jobId)).map((run) => `${run.interval.start.toISOString()} ${run.status}`);
}

/** The planner suite, run against each store implementation. */
export function describePlanner(name: string, factory: PlannerStoreFactory): void {
  describe(`planner on ${name}`, () => {
    let store: StateStore;
    /** The store's clock when a test sets it (requeue delays); the real one otherwise. */
    let storeNow: Date | undefined;
    beforeAll(async () => {
      store = await factory.open(() => storeNow ?? new Date());
      await store.migrate();
    });
    beforeEach(async () => {
      storeNow = undefined;
      await factory.wipe(store);
    });
    afterAll(async () => {
      await store.close();
      await factory.cleanup();
    });

    describe('scheduled planning', () => {
      it('starts a job without a start at the first tick at or after now, and plans nothing yet', async () => {
        const job = hourly({ start: undefined });
        // The store creates the row, so "now" for a job without a start is the store's clock. On
        // MySQL that clock is then months from the server's, which this test is not about.
        storeNow = at('2026-03-01T10:20:00Z');
        const databaseClockToleranceMs = Number.POSITIVE_INFINITY;

        const result = await planScheduled(store, job, storeNow, () => false, { databaseClockToleranceMs });

        expect(result).toEqual({
          planned: 0,
          skipped: 0,
          skippedClaimed: [],
          watermark: at('2026-03-01T11:00:00Z'),
          more: false,
          paused: false,
        });
        expect((await store.getJob(job.id))?.watermark).toEqual(at('2026-03-01T11:00:00Z'));
      });

      it('plans every missed interval once, oldest first, and nothing the second time', async () => {
        const job = hourly();
        const now = at('2026-03-01T05:30:00Z');

        const first = await planScheduled(store, job, now);
        const second = await planScheduled(store, job, now);

        expect(first).toMatchObject({ planned: 5, skipped: 0, watermark: at('2026-03-01T05:00:00Z') });
        expect(second).toMatchObject({ planned: 0, skipped: 0, watermark: at('2026-03-01T05:00:00Z') });
        expect(await statuses(store, job.id)).toEqual([
          '2026-03-01T00:00:00.000Z pending',
          '2026-03-01T01:00:00.000Z pending',
          '2026-03-01T02:00:00.000Z pending',
          '2026-03-01T03:00:00.000Z pending',
          '2026-03-01T04:00:00.000Z pending',
        ]);
      });

      it('treats an interval as due exactly at its end (±1 ms)', async () => {
        const job = hourly();

        expect((await planScheduled(store, job, at('2026-03-01T00:59:59.999Z'))).planned).toBe(0);
        expect((await planScheduled(store, job, at('2026-03-01T01:00:00.000Z'))).planned).toBe(1);
      });

      it('skips intervals that ended before the catch-up window, counting them', async () => {
        const job = hourly({ catchupWindow: '3h' });

        const result = await planScheduled(store, job, at('2026-03-02T00:30:00Z'));

        // Due: 00:00..24:00 = 24 intervals; the window keeps those ending at or after 21:30 (21:00-22:00 onward).
        expect(result).toMatchObject({
          planned: 3,
          skipped: 21,
          skippedRange: { start: at('2026-03-01T00:00:00Z'), end: at('2026-03-01T21:00:00Z') },
          watermark: at('2026-03-02T00:00:00Z'),
        });
        expect((await store.getJob(job.id))?.skippedTotal).toBe(21);
        expect((await store.listRuns(job.id))[0]?.interval.start).toEqual(at('2026-03-01T21:00:00Z'));
      });

      it('with catchup false runs only the latest due interval, within the misfire grace time', async () => {
        const late = hourly({ catchup: false, misfireGraceTime: '10m' });
        const tooLate = hourly({ catchup: false, misfireGraceTime: '10m' });

        const inGrace = await planScheduled(store, late, at('2026-03-01T05:10:00Z'));
        const outOfGrace = await planScheduled(store, tooLate, at('2026-03-01T05:10:00.001Z'));

        expect(inGrace).toMatchObject({
          planned: 1,
          skipped: 4,
          skippedRange: { start: at('2026-03-01T00:00:00Z'), end: at('2026-03-01T04:00:00Z') },
        });
        expect(await statuses(store, late.id)).toEqual(['2026-03-01T04:00:00.000Z pending']);
        expect(outOfGrace).toMatchObject({ planned: 0, skipped: 5, watermark: at('2026-03-01T05:00:00Z') });
      });

      it('plans at most maxIntervalsPerDispatch per transaction and says there is more', async () => {
        const job = hourly({ maxIntervalsPerDispatch: 4 });
        const now = at('2026-03-01T10:00:00Z');

        const once = await planScheduledOnce(store, job, now);
        const rest = await planScheduled(store, job, now);

        expect(once).toMatchObject({ planned: 4, more: true, watermark: at('2026-03-01T04:00:00Z') });
        expect(rest).toMatchObject({ planned: 6, more: false, watermark: at('2026-03-01T10:00:00Z') });
        expect(await store.listRuns(job.id)).toHaveLength(10);
      });

      it('plans nothing while paused; on resume the pause is due like any missed time', async () => {
        const job = hourly();
        await planScheduled(store, job, at('2026-03-01T02:00:00Z'));
        await store.setPaused(job, true);

        const paused = await planScheduled(store, job, at('2026-03-01T06:00:00Z'));
        await store.setPaused(job, false);
        const resumed = await planScheduled(store, job, at('2026-03-01T06:00:00Z'));

        expect(paused).toMatchObject({ planned: 0, paused: true, watermark: at('2026-03-01T02:00:00Z') });
        expect(resumed).toMatchObject({ planned: 4, paused: false });
        expect(await store.listRuns(job.id)).toHaveLength(6);
      });

      it('follows the DST rules of the job timezone', async () => {
        const job = defineJob({
          id: `dst_${++sequence}`,
          schedule: { cron: '30 2 * * *', timezone: 'America/New_York' },
          start: '2026-03-07T00:00:00-05:00',
          handler: noop,
        });

        await planScheduled(store, job, at('2026-03-10T12:00:00Z'));

        expect((await store.listRuns(job.id)).map((run) => [run.interval.start, run.interval.end])).toEqual([
          [at('2026-03-07T07:30:00Z'), at('2026-03-09T06:30:00Z')],
          [at('2026-03-09T06:30:00Z'), at('2026-03-10T06:30:00Z')],
        ]);
      });

      it('leaves the store as it was when a planning transaction fails at any step', async () => {
        const job = hourly();
        await planScheduled(store, job, at('2026-03-01T02:00:00Z'));
        const before = { job: await store.getJob(job.id), runs: await store.listRuns(job.id) };
        const steps: (keyof JobTransaction | 'commit')[] = ['insertRuns', 'advanceWatermark', 'commit'];

        for (const step of steps) {
          const failing = failAt(store, step);
          await expect(planScheduled(failing, job, at('2026-03-01T09:00:00Z'))).rejects.toThrow(
            `injected at ${step}`,
          );
          expect({ job: await store.getJob(job.id), runs: await store.listRuns(job.id) }).toEqual(before);
        }
        const brandNew = hourly();
        await expect(
          planScheduled(failAt(store, 'insertRuns'), brandNew, at('2026-03-01T09:00:00Z')),
        ).rejects.toThrow();
        expect(await store.getJob(brandNew.id)).toBeUndefined();
      });
    });

    describe('dispatch', () => {
      it('queues pending runs in batches under deterministic names of at most 80 characters', async () => {
        const job = hourly({ id: 'a_job_id_that_is_exactly_forty_chars_xyz' });
        await planScheduled(store, job, at('2026-03-02T00:00:00Z'));
        const starter = new RecordingStarter();

        const first = await dispatch(store, job, starter, { maxRunsPerExecution: 10 });
        const whileLive = await dispatch(store, job, starter, { maxRunsPerExecution: 10 });
        starter.statuses.clear();

        expect(first.started).toHaveLength(1);
        const [input] = first.started;
        expect(input?.runs).toHaveLength(10);
        // Which run, in which generation: no config (the stage runner reads it from the store).
        expect(input?.runs[0]).toEqual({
          runId: expect.any(Number),
          generation: 0,
          interval: { start: '2026-03-01T00:00:00.000Z', end: '2026-03-01T01:00:00.000Z' },
        });
        expect(input?.executionName).toMatch(
          /^a_job_id_that_is_exactly_forty_chars_xyz-s20260301T000000Z-[0-9a-f]{16}$/,
        );
        expect(input?.executionName.length).toBeLessThanOrEqual(80);
        expect(whileLive).toEqual({
          started: [],
          restarted: [],
          requeued: 0,
          failed: 0,
          live: [input?.executionName],
          paused: false,
        });
        const queued = (await store.listRuns(job.id)).filter((run) => run.status === 'queued');
        expect(executionName(job.id, { kind: 'scheduled' }, queued)).toBe(input?.executionName);
      });

      it('queues one batch ahead of a live backfill execution; after a crash restarts one at a time', async () => {
        // Arrange: a backfill of 9 hourly intervals, batches of 3
        const job = hourly();
        const request = { jobId: job.id, from: T0, to: at('2026-03-01T09:00:00Z') };
        const plan = await planBackfill(store, job, request, at('2026-03-02T00:00:00Z'));
        const lane = { kind: 'backfill', backfillId: plan.backfillId } as const;
        const options = { lane, maxRunsPerExecution: 3, queueAhead: true };
        const starter = new RecordingStarter();

        // Act: nothing holds the lane: two batches (the second to start once the first ends); the
        // first live: nothing more; the first ended (runs done), then a crash loses both executions
        const first = await dispatch(store, job, starter, options);
        const whileBothHold = await dispatch(store, job, starter, options);
        const [a, b] = first.started;
        for (const run of a!.runs) {
          await store.markRunning(run.runId, 'main', at('2026-03-02T00:00:00Z'));
          await store.markSucceeded(run.runId, null, at('2026-03-02T00:00:01Z'));
        }
        starter.statuses.set(a!.executionName, 'ended');
        const next = await dispatch(store, job, starter, options);
        const [c] = next.started;
        starter.statuses.clear();
        const afterCrash = await dispatch(store, job, starter, options);

        // Assert
        expect(first.started.map((input) => input.runs.length)).toEqual([3, 3]);
        expect(whileBothHold.started).toEqual([]);
        expect(whileBothHold.live).toEqual([a!.executionName, b!.executionName].sort());
        expect(next.started).toHaveLength(1);
        expect(next.live).toEqual([b!.executionName]);
        // Both left queued, none running: only the one with the oldest runs restarts; no new batch
        expect(afterCrash.restarted).toEqual([b!.executionName]);
        expect(afterCrash.started).toEqual([]);
        expect(
          (await store.findRuns(job.id, { statuses: ['queued'], limit: 10 })).map((run) => run.executionName),
        ).toEqual([
          b!.executionName,
          b!.executionName,
          b!.executionName,
          c!.executionName,
          c!.executionName,
          c!.executionName,
        ]);
      });

      it('caps a batch by bytes, whatever maxRunsPerExecution asks, and leaves the config out of it', async () => {
        const job = defineJob({
          id: `minutely_${++sequence}`,
          schedule: { cron: '* * * * *' },
          start: T0.toISOString(),
          handler: noop,
          config: z.object({ blob: z.string().default('') }),
        });
        const config = { blob: 'x'.repeat(MAX_CONFIG_OVERRIDE_BYTES - JSON.stringify({ blob: '' }).length) };
        const to = new Date(T0.getTime() + 1_200 * 60_000);
        const runs = [...job.schedule.intervals(T0, to)].map((interval) => ({
          interval,
          trigger: 'manual' as const,
          config,
        }));
        await store.withJob(job, (tx) => tx.insertRuns(runs));
        const starter = new RecordingStarter();

        const result = await dispatch(store, job, starter, { maxRunsPerExecution: 5_000 });

        const [input] = result.started;
        expect(input?.runs).toHaveLength(runsPerExecution(5_000));
        expect(runsPerExecution(5_000)).toBe(
          Math.floor((MAX_EXECUTION_INPUT_BYTES - MAX_EXECUTION_ENVELOPE_BYTES) / MAX_RUN_ITEM_BYTES),
        );
        expect(Buffer.byteLength(JSON.stringify(input))).toBeLessThan(MAX_EXECUTION_INPUT_BYTES);
        expect(JSON.stringify(input)).not.toContain('xxxx');
      });

      it('restarts queued runs whose execution never started, under the same name and input', async () => {
        const job = hourly();
        await planScheduled(store, job, at('2026-03-01T03:00:00Z'));
        const crashed = new RecordingStarter();
        crashed.failWith = new Error('process died before StartExecution');
        await expect(dispatch(store, job, crashed)).rejects.toThrow('process died');
        const starter = new RecordingStarter();

        const repaired = await dispatch(store, job, starter);

        expect(repaired.started).toEqual([]);
        expect(repaired.restarted).toHaveLength(1);
        expect(starter.started).toHaveLength(1);
        expect(starter.started[0]?.runs.map((run) => run.interval.start)).toEqual([
          '2026-03-01T00:00:00.000Z',
          '2026-03-01T01:00:00.000Z',
          '2026-03-01T02:00:00.000Z',
        ]);
      });

      it('re-arms runs left queued by an execution that ended, under a new name', async () => {
        const job = hourly();
        await planScheduled(store, job, at('2026-03-01T02:00:00Z'));
        const starter = new RecordingStarter();
        const first = await dispatch(store, job, starter);
        starter.endAll();

        storeNow = at('2026-03-01T02:00:00Z');
        const second = await dispatch(store, job, starter);
        storeNow = new Date(storeNow.getTime() + store.requeuePolicy.baseDelayMs);
        const third = await dispatch(store, job, starter);

        // Requeued with a delay: not started again in the same call (no hot loop), only once it is over.
        expect(second.requeued).toBe(2);
        expect(second.started).toEqual([]);
        expect(third.requeued).toBe(0);
        expect(third.started).toHaveLength(1);
        expect(third.started[0]?.executionName).not.toBe(first.started[0]?.executionName);
        expect((await store.listRuns(job.id)).map((run) => run.generation)).toEqual([1, 1]);
      });

      it('starts nothing for a paused job, in either lane, and goes on after resume', async () => {
        const job = hourly();
        await planScheduled(store, job, at('2026-03-01T03:00:00Z'));
        const backfill = await planBackfill(
          store,
          job,
          { jobId: job.id, from: at('2026-02-28T00:00:00Z'), to: at('2026-02-28T02:00:00Z') },
          at('2026-03-01T03:00:00Z'),
        );
        const backfillLane = { kind: 'backfill', backfillId: backfill.backfillId } as const;
        const starter = new RecordingStarter();
        await store.setPaused(job, true);

        const scheduled = await dispatch(store, job, starter);
        const backfilled = await dispatch(store, job, starter, {
          lane: backfillLane,
          maxExecutions: 2,
        });
        const whilePaused = await store.countRuns(job.id);
        await store.setPaused(job, false);
        const resumed = await dispatch(store, job, starter);

        expect(scheduled).toEqual({
          started: [],
          restarted: [],
          requeued: 0,
          failed: 0,
          live: [],
          paused: true,
        });
        expect(backfilled).toEqual({
          started: [],
          restarted: [],
          requeued: 0,
          failed: 0,
          live: [],
          paused: true,
        });
        expect(starter.startCalls).toBe(1);
        expect(whilePaused).toMatchObject({ pending: 5, queued: 0 });
        expect(resumed).toMatchObject({ paused: false, started: [{ runs: expect.any(Array) }] });
        expect(resumed.started[0]?.runs).toHaveLength(3);
      });

      it('races: 20 concurrent planners and dispatchers create each interval once', async () => {
        for (let round = 0; round < 5; round++) {
          const job = hourly();
          const now = at('2026-03-03T00:00:00Z');
          const starter = new RecordingStarter();

          await Promise.all(
            Array.from({ length: 20 }, async () => {
              await planScheduled(store, job, now);
              await dispatch(store, job, starter, { maxRunsPerExecution: 1000 });
            }),
          );

          expect(await store.listRuns(job.id)).toHaveLength(48);
          expect((await store.getJob(job.id))?.watermark).toEqual(now);
          expect(starter.started).toHaveLength(1);
          expect(starter.started[0]?.runs).toHaveLength(48);
        }
      });

      it('races: 10 dispatchers of planned runs start one batch, never one each', async () => {
        for (let round = 0; round < 3; round++) {
          // Arrange: 48 pending runs, batches of 10, one live scheduled execution allowed
          const job = hourly();
          await planScheduled(store, job, at('2026-03-03T00:00:00Z'));
          const starter = new RecordingStarter();

          // Act: every dispatcher reads "nothing live" before any has queued
          const results = await Promise.all(
            Array.from({ length: 10 }, () => dispatch(store, job, starter, { maxRunsPerExecution: 10 })),
          );

          // Assert
          expect(starter.started).toHaveLength(1);
          expect(results.flatMap((result) => result.started)).toHaveLength(1);
          expect(await store.countRuns(job.id)).toMatchObject({ pending: 38, queued: 10 });
        }
      });
    });

    describe('pause in the stage runner', () => {
      const twoStages = () =>
        defineJob({
          id: `stages_${++sequence}`,
          schedule: { cron: '0 * * * *' },
          start: T0.toISOString(),
          stages: [lambda('extract', async () => ({ rows: 1 })), lambda('load', async () => null)],
        });
      const payload = (
        job: JobDefinition,
        executionName: string,
        item: RunItem,
        stageIndex: number,
      ): StagePayload => ({
        action: 'run',
        stage: job.stages[stageIndex]!.name,
        stageIndex,
        lastStage: stageIndex === job.stages.length - 1,
        run: { jobId: job.id, runId: item.runId, executionName, generation: item.generation },
      });

      it('does not start a queued run of a paused job, nor its later stage after resume; attempts stay 0', async () => {
        const job = twoStages();
        await planScheduled(store, job, at('2026-03-01T01:00:00Z'));
        const starter = new RecordingStarter();
        const [input] = (await dispatch(store, job, starter)).started;
        const item = input!.runs[0]!;
        const deps = { store, jobs: new JobRegistry([job]), resources: new ResourceRegistry() };
        await store.setPaused(job, true);

        const first = await runStage(deps, payload(job, input!.executionName, item, 0));
        await store.setPaused(job, false);
        const second = await runStage(deps, payload(job, input!.executionName, item, 1));

        const interval = { start: item.interval.start, end: item.interval.end };
        expect(first).toEqual({ interval, notStarted: 'paused' });
        expect(second).toEqual({ interval, notStarted: 'paused' });
        // Its last stage refused too, the run is back to pending, neither counted nor delayed (the
        // pause caught it; nothing failed), and is dispatched at once now that the job runs again.
        expect(await store.getRun(item.runId)).toMatchObject({
          status: 'pending',
          attempts: 0,
          stage: null,
          executionName: null,
          generation: item.generation + 1,
          requeues: 0,
          notBefore: null,
        });
        starter.endAll();
        storeNow = at('2026-03-01T02:00:00Z');
        const again = await dispatch(store, job, starter);
        expect(again).toMatchObject({ requeued: 0, started: [{ runs: [{ runId: item.runId }] }] });
      });

      it('leaves a queued run of a paused job queued when a later stage is to come, then puts it back uncounted', async () => {
        const job = twoStages();
        await planScheduled(store, job, at('2026-03-01T01:00:00Z'));
        const starter = new RecordingStarter();
        const [input] = (await dispatch(store, job, starter)).started;
        const item = input!.runs[0]!;
        const deps = { store, jobs: new JobRegistry([job]), resources: new ResourceRegistry() };
        await store.setPaused(job, true);

        const first = await runStage(deps, payload(job, input!.executionName, item, 0));
        const afterFirst = await store.getRun(item.runId);
        starter.endAll();
        const repaired = await dispatch(store, job, starter);

        expect(first).toMatchObject({ notStarted: 'paused' });
        expect(afterFirst).toMatchObject({
          status: 'queued',
          attempts: 0,
          executionName: input!.executionName,
        });
        expect(repaired).toMatchObject({ paused: true, requeued: 1, started: [] });
        expect(await store.getRun(item.runId)).toMatchObject({
          status: 'pending',
          requeues: 0,
          notBefore: null,
        });
      });

      it('lets a running run of a paused job go on to its next stage and succeed', async () => {
        const job = twoStages();
        await planScheduled(store, job, at('2026-03-01T01:00:00Z'));
        const [input] = (await dispatch(store, job, new RecordingStarter())).started;
        const item = input!.runs[0]!;
        const deps = { store, jobs: new JobRegistry([job]), resources: new ResourceRegistry() };
        const first = await runStage(deps, payload(job, input!.executionName, item, 0));
        const afterFirst = await store.getRun(item.runId);
        await store.setPaused(job, true);

        const second = await runStage(deps, payload(job, input!.executionName, item, 1));

        const interval = { start: item.interval.start, end: item.interval.end };
        expect(first).toEqual({ interval });
        expect(afterFirst).toMatchObject({ status: 'running', output: { rows: 1 } });
        expect(second).toEqual({ interval });
        expect(await store.getRun(item.runId)).toMatchObject({
          status: 'succeeded',
          stage: 'load',
          attempts: 1,
        });
      });
    });

    describe('backfill', () => {
      it('refuses bad ranges with a message that says which, writing nothing', async () => {
        const job = hourly();
        const now = at('2026-03-10T00:00:00Z');
        const cases: [Date, Date, string][] = [
          [
            at('2026-03-02T00:00:00Z'),
            at('2026-03-02T00:00:00Z'),
            'Backfill refused: from (2026-03-02T00:00:00.000Z) must be before to (2026-03-02T00:00:00.000Z)',
          ],
          [
            at('2026-03-02T00:00:00Z'),
            at('2026-03-10T00:00:00.001Z'),
            'Backfill refused: to (2026-03-10T00:00:00.001Z) is in the future (now is 2026-03-10T00:00:00.000Z); only intervals that have ended can be backfilled',
          ],
          [
            at('2026-03-01T00:00:00Z'),
            at('2026-03-02T00:00:00Z'),
            'Backfill refused: 2026-03-01T00:00:00.000Z..2026-03-02T00:00:00.000Z holds more than 10 intervals of "0 * * * *"; split the range or raise piko.max_backfill_intervals (PIKO_MAX_BACKFILL_INTERVALS)',
          ],
        ];

        for (const [from, to, message] of cases) {
          await expect(
            planBackfill(store, job, { jobId: job.id, from, to }, now, { maxBackfillIntervals: 10 }),
          ).rejects.toThrow(message);
        }
        await expect(
          planBackfill(
            store,
            job,
            { jobId: job.id, from: T0, to: at('2026-03-01T05:00:00Z'), config: { region: 7 } },
            now,
          ),
        ).rejects.toThrow(
          `Invalid config for job "${job.id}": region: Invalid input: expected string, received number`,
        );
        expect(await store.getJob(job.id)).toBeUndefined();
        expect(await store.listRuns(job.id)).toEqual([]);
      });

      it('creates missing runs in its own lane, in chunks, with its config', async () => {
        const job = hourly();
        const request = {
          jobId: job.id,
          from: T0,
          to: at('2026-03-01T10:00:00Z'),
          config: { region: 'us' },
        };

        const result = await planBackfill(store, job, request, at('2026-03-05T00:00:00Z'), { chunkSize: 3 });

        expect(result.counts.create).toBe(10);
        expect(result.done).toBe(true);
        const runs = await store.listRuns(job.id);
        expect(runs).toHaveLength(10);
        expect(
          runs.every((run) => run.trigger === 'backfill' && run.backfillId === backfillId(request)),
        ).toBe(true);
        expect(runs[0]?.config).toEqual({ region: 'us' });
        expect((await store.getBackfill(result.backfillId))?.status).toBe('planned');
        const starter = new RecordingStarter();
        const dispatched = await dispatch(store, job, starter, {
          lane: { kind: 'backfill', backfillId: result.backfillId },
          maxRunsPerExecution: 4,
          maxExecutions: 2,
        });
        expect(dispatched.started.map((input) => input.runs.length)).toEqual([4, 4]);
        expect(dispatched.started[0]?.executionName).toMatch(new RegExp(`^${job.id}-b20260301T000000Z-`));
      });

      it('stores the config override once: 2,000 runs of the largest one hold no copy, and the handler gets it', async () => {
        const seen: unknown[] = [];
        const job = defineJob({
          id: `minutely_${++sequence}`,
          schedule: { cron: '* * * * *' },
          start: T0.toISOString(),
          handler: async ({ config }) => {
            seen.push(config);
          },
          config: z.object({ blob: z.string().default('') }),
        });
        const config = { blob: 'x'.repeat(MAX_CONFIG_OVERRIDE_BYTES - JSON.stringify({ blob: '' }).length) };
        expect(Buffer.byteLength(JSON.stringify(config))).toBe(MAX_CONFIG_OVERRIDE_BYTES);
        const request = { jobId: job.id, from: T0, to: new Date(T0.getTime() + 2_000 * 60_000), config };
        const before = await factory.databaseBytes(store);

        const result = await planBackfill(store, job, request, at('2026-03-05T00:00:00Z'));

        const after = await factory.databaseBytes(store);
        console.info(
          `${name}: backfill of 2,000 runs with an ${MAX_CONFIG_OVERRIDE_BYTES}-byte override: ` +
            `${before} → ${after} bytes (+${after - before})`,
        );
        expect(result).toMatchObject({ counts: { create: 2_000 }, done: true });
        // One copy, in the backfill's row; the runs' own config column stays empty.
        const stored = await store.database.query(
          'SELECT COUNT(*) AS runs, COUNT(config) AS copies FROM piko_runs WHERE job_id = ?',
          [job.id],
        );
        expect(stored.rows.map((row) => ({ runs: Number(row.runs), copies: Number(row.copies) }))).toEqual([
          { runs: 2_000, copies: 0 },
        ]);
        const backfillRow = await store.database.query(
          'SELECT config FROM piko_backfills WHERE backfill_id = ?',
          [result.backfillId],
        );
        expect(backfillRow.rows.map((row) => String(row.config))).toEqual([JSON.stringify(config)]);
        // 2,000 copies would be 16 MB; one copy and 2,000 small rows stay far under a tenth of it.
        expect(after - before).toBeLessThan((2_000 * MAX_CONFIG_OVERRIDE_BYTES) / 10);
        const runs = await store.listRuns(job.id);
        expect(runs.every((run) => JSON.stringify(run.config) === JSON.stringify(config))).toBe(true);

        const [input] = (
          await dispatch(store, job, new RecordingStarter(), {
            lane: { kind: 'backfill', backfillId: result.backfillId },
            maxRunsPerExecution: 1,
          })
        ).started;
        const item = input!.runs[0]!;
        const deps = { store, jobs: new JobRegistry([job]), resources: new ResourceRegistry() };
        const ran = await runStage(deps, {
          action: 'run',
          stage: job.stages[0]!.name,
          stageIndex: 0,
          lastStage: true,
          run: { jobId: job.id, runId: item.runId, executionName: input!.executionName, generation: 0 },
        });

        expect(ran).toEqual({ interval: { start: item.interval.start, end: item.interval.end } });
        expect(seen).toEqual([config]);
        expect(JSON.stringify(input)).not.toContain('xxxx');
      });

      it('marks a backfill failed with the error when planning fails, and resumes it from its cursor', async () => {
        const job = hourly();
        const now = at('2026-03-05T00:00:00Z');
        const request = { jobId: job.id, from: T0, to: at('2026-03-01T10:00:00Z'), config: { region: 'us' } };
        const first = await planBackfill(store, job, request, now, { chunkSize: 3 }, () => true);
        expect(first).toMatchObject({ counts: { create: 3 }, done: false });

        await expect(
          planBackfill(failAt(store, 'insertRuns'), job, request, now, { chunkSize: 3 }),
        ).rejects.toThrow('injected at insertRuns');

        expect(await store.getBackfill(first.backfillId)).toMatchObject({
          status: 'failed',
          error: 'injected at insertRuns',
          cursor: at('2026-03-01T03:00:00Z'),
          created: 3,
        });
        expect(await store.listRuns(job.id)).toHaveLength(3);
        const resumed = await planBackfill(store, job, request, now, { chunkSize: 3 });
        expect(resumed).toMatchObject({ counts: { create: 7 }, done: true });
        expect(await store.getBackfill(first.backfillId)).toMatchObject({
          status: 'planned',
          error: null,
          cursor: at('2026-03-01T10:00:00Z'),
          created: 10,
        });
        const runs = await store.listRuns(job.id);
        expect(runs).toHaveLength(10);
        expect(runs.every((run) => run.backfillId === first.backfillId && run.config !== null)).toBe(true);
      });

      it('reprocesses missing, failed or all, never touching in-flight runs', async () => {
        const job = hourly();
        const now = at('2026-03-05T00:00:00Z');
        await planScheduled(store, job, at('2026-03-01T06:00:00Z'));
        const runs = await store.listRuns(job.id);
        await store.markSucceeded(runs[0]!.runId, null, T0);
        await store.markFailed(runs[1]!.runId, 'boom', 3, T0);
        await store.markRunning(runs[2]!.runId, 'main', T0);
        const to = at('2026-03-01T08:00:00Z');
        const plan = async (reprocess: 'missing' | 'failed' | 'all') => {
          const lines: string[] = [];
          for await (const line of previewBackfill(store, job, { jobId: job.id, from: T0, to, reprocess })) {
            lines.push(`${line.start.toISOString().slice(11, 16)} ${line.action}`);
          }
          return lines;
        };

        expect(await plan('missing')).toEqual([
          '00:00 skip-succeeded',
          '01:00 skip-failed',
          '02:00 skip-in-flight',
          '03:00 skip-in-flight',
          '04:00 skip-in-flight',
          '05:00 skip-in-flight',
          '06:00 create',
          '07:00 create',
        ]);
        expect((await plan('failed')).slice(0, 2)).toEqual(['00:00 skip-succeeded', '01:00 rerun']);
        expect((await plan('all')).slice(0, 2)).toEqual(['00:00 rerun', '01:00 rerun']);

        const dry = await planBackfill(
          store,
          job,
          { jobId: job.id, from: T0, to, reprocess: 'all', dryRun: true },
          now,
        );
        expect(dry.counts).toEqual({
          create: 2,
          rerun: 2,
          'skip-in-flight': 4,
          'skip-succeeded': 0,
          'skip-failed': 0,
        });
        expect(await store.listRuns(job.id)).toEqual(runs.map((run, i) => (i < 3 ? expect.anything() : run)));
        expect(await store.getBackfill(dry.backfillId)).toBeUndefined();

        const real = await planBackfill(
          store,
          job,
          { jobId: job.id, from: T0, to, reprocess: 'failed' },
          now,
        );
        expect(real.counts).toEqual({
          create: 2,
          rerun: 1,
          'skip-in-flight': 4,
          'skip-succeeded': 1,
          'skip-failed': 0,
        });
        const rerun = await store.getRun(runs[1]!.runId);
        expect(rerun).toMatchObject({
          status: 'pending',
          attempts: 0,
          error: null,
          generation: 1,
          trigger: 'backfill',
        });
      });

      it('continues where it stopped after an interruption, in reverse too', async () => {
        const job = hourly();
        const request = { jobId: job.id, from: T0, to: at('2026-03-01T10:00:00Z'), reverse: true };
        let calls = 0;

        const interrupted = await planBackfill(
          store,
          job,
          request,
          at('2026-03-05T00:00:00Z'),
          { chunkSize: 4 },
          () => ++calls >= 1,
        );
        const afterFirstChunk = await store.listRuns(job.id);
        const resumed = await planBackfill(store, job, request, at('2026-03-05T00:00:00Z'), { chunkSize: 4 });

        expect(interrupted).toMatchObject({ done: false, counts: { create: 4 } });
        expect(afterFirstChunk.map((run) => run.interval.start.toISOString().slice(11, 13))).toEqual([
          '06',
          '07',
          '08',
          '09',
        ]);
        expect(resumed).toMatchObject({ done: true, counts: { create: 6 } });
        expect(await store.listRuns(job.id)).toHaveLength(10);
        const starter = new RecordingStarter();
        const dispatched = await dispatch(store, job, starter, {
          lane: { kind: 'backfill', backfillId: interrupted.backfillId },
          maxRunsPerExecution: 3,
          newestFirst: true,
        });
        expect(dispatched.started[0]?.runs.map((run) => run.interval.start.slice(11, 13))).toEqual([
          '09',
          '08',
          '07',
        ]);
      });

      it('plans a year of hourly intervals without holding them at once', async () => {
        const job = hourly();
        const to = at('2027-03-01T00:00:00Z');

        const result = await planBackfill(
          store,
          job,
          { jobId: job.id, from: T0, to },
          at('2027-03-02T00:00:00Z'),
        );

        expect(result.counts.create).toBe(8760);
        expect((await store.countRuns(job.id)).pending).toBe(8760);
        expect((await store.getBackfill(result.backfillId))?.created).toBe(8760);
      });
    });

    describe('requeues when the store is unavailable', () => {
      it('fails a run whose stage always loses the store after exactly the cap, the delays growing', async () => {
        const job = hourly();
        await planScheduled(store, job, at('2026-03-01T01:00:00Z'));
        const starter = new RecordingStarter();
        const deps = { store, jobs: new JobRegistry([job]), resources: new ResourceRegistry() };
        const { maxRequeues } = store.requeuePolicy;
        storeNow = at('2026-03-01T01:00:00Z');
        const delays: number[] = [];
        let outcome: unknown;
        for (let round = 0; round <= maxRequeues; round++) {
          const started = (await dispatch(store, job, starter)).started;
          expect(started).toHaveLength(1);
          const item = started[0]!.runs[0]!;
          const run = {
            jobId: job.id,
            runId: item.runId,
            executionName: started[0]!.executionName,
            generation: item.generation,
          };
          outcome = await runStage(deps, {
            action: 'fail',
            run,
            error: { Error: 'StoreUnavailableError', Cause: `connection lost (${round + 1})` },
          });
          starter.endAll();
          const after = await store.getRun(item.runId);
          if (after?.status !== 'pending') break;
          delays.push(after.notBefore!.getTime() - storeNow.getTime());
          // Nothing to start before the delay is over (what a "Continue dispatch" meets)…
          expect((await dispatch(store, job, starter)).started).toEqual([]);
          storeNow = after.notBefore!;
        }

        const run = (await store.listRuns(job.id))[0]!;
        expect(delays).toEqual([10_000, 20_000, 40_000, 80_000, 160_000]);
        expect(outcome).toMatchObject({ requeueLimit: true });
        expect(run).toMatchObject({ status: 'failed', requeues: 5, generation: 5 });
        expect(run.error).toBe(
          "Failed after 5 requeues (the state store was unavailable, or the run's execution ended without recording its outcome, each time); " +
            'last error: connection lost (6). Fix the cause, then rerun it with piko backfill --reprocess failed.',
        );
        expect(starter.started).toHaveLength(maxRequeues + 1);
      });

      it('fails runs of executions that keep ending without recording them after the cap, with their last error', async () => {
        const job = hourly();
        await planScheduled(store, job, at('2026-03-01T01:00:00Z'));
        const starter = new RecordingStarter();
        storeNow = at('2026-03-01T01:00:00Z');
        let failed = 0;
        for (let round = 0; round < 20 && failed === 0; round++) {
          await dispatch(store, job, starter);
          starter.endAll();
          const result = await dispatch(store, job, starter);
          failed = result.failed;
          const [run] = await store.listRuns(job.id);
          if (run?.notBefore) storeNow = run.notBefore;
        }

        expect(failed).toBe(1);
        expect(starter.started).toHaveLength(store.requeuePolicy.maxRequeues + 1);
        expect((await store.listRuns(job.id))[0]).toMatchObject({ status: 'failed', requeues: 5 });
      });
    });

    describe('clock skew', () => {
      const month = at('2026-04-01T00:00:30Z');
      const real = at('2026-03-01T05:00:30Z');

      it('stops planning after a clock that ran a month ahead is corrected, and recovers with resetWatermark', async () => {
        const job = hourly();
        await planScheduled(store, job, month);

        const planning = planScheduled(store, job, real);

        await expect(planning).rejects.toThrow(
          `Clock skew: this machine's clock says 2026-03-01T05:00:30.000Z but job "${job.id}" was planned up to 2026-04-01T00:00:00.000Z ` +
            `(30 days later). Planning of "${job.id}" is stopped so that no interval is planned from a wrong time. ` +
            'If this clock is behind, fix it (NTP): planning resumes by itself. If it is right and an earlier clock ran ahead, ' +
            `move the watermark back: piko reset-watermark ${job.id} --to <ISO time> --dry-run shows what changes, then run it without --dry-run.`,
        );
        await expect(planning).rejects.toBeInstanceOf(ClockSkewError);
        const succeededId = (await store.listRuns(job.id))[100]!.runId;
        await store.withJob(job, (tx) => tx.markQueued([succeededId], 'exec-ahead'));
        await store.markRunning(succeededId, 'main', month);
        await store.markSucceeded(succeededId, null, month);
        const dry = await resetWatermark(store, job, at('2026-03-01T05:00:00Z'), real, true);
        const unchanged = await store.countRuns(job.id);
        const reset = await resetWatermark(store, job, at('2026-03-01T05:00:00Z'), real, false);
        const replanned = await planScheduled(store, job, real);

        expect(dry.removed).toHaveLength(31 * 24 - 5 - 1);
        expect(dry.kept.map((run) => [run.runId, run.status])).toEqual([[succeededId, 'succeeded']]);
        expect(unchanged).toMatchObject({ pending: 31 * 24 - 1, succeeded: 1 });
        expect({ removed: reset.removed.length, kept: reset.kept.length }).toEqual({
          removed: 31 * 24 - 6,
          kept: 1,
        });
        expect(await store.countRuns(job.id)).toMatchObject({ pending: 5, succeeded: 1 });
        expect(replanned).toMatchObject({ planned: 0, watermark: at('2026-03-01T05:00:00Z') });
        await expect(resetWatermark(store, job, at('2026-03-01T05:30:00Z'), real, true)).rejects.toThrow(
          `Cannot reset the watermark of "${job.id}": --to 2026-03-01T05:30:00.000Z is after now (2026-03-01T05:00:30.000Z); the watermark never passes now; ` +
            '--to 2026-03-01T05:30:00.000Z is not a tick of "0 * * * *"; the nearest one at or after it is 2026-03-01T06:00:00.000Z.',
        );
      });

      it('says why nothing is planned when the clock is 11 months behind', async () => {
        const job = hourly();
        await planScheduled(store, job, real);

        await expect(planScheduled(store, job, at('2025-04-01T05:00:30Z'))).rejects.toThrow(
          `Clock skew: this machine's clock says 2025-04-01T05:00:30.000Z but job "${job.id}" was planned up to 2026-03-01T05:00:00.000Z (333 days later).`,
        );
      });

      // SQLite has no server clock: the case exists on MySQL only (registered there, not skipped here).
      const onMysql = factory.kind === 'mysql' ? it : () => undefined;
      onMysql('stops planning when this clock is far from the MySQL server', async () => {
        const job = hourly();
        storeNow = new Date(Date.now() - 3_600_000);

        await expect(planScheduled(store, job, real)).rejects.toThrow(
          /^Clock skew: this machine's clock says \S+ but the database server's says \S+ \(1 hour apart, more than the 300 s tolerated\)\./,
        );
      });
    });
  });
}

/** Wraps a store so that the planning transaction throws at one step; everything else passes through. */
function failAt(store: StateStore, step: keyof JobTransaction | 'commit'): StateStore {
  return new Proxy(store, {
    get(target, property) {
      const value = Reflect.get(target, property);
      if (property !== 'withJob') return typeof value === 'function' ? value.bind(target) : value;
      return <T>(job: StoredJob, work: (tx: JobTransaction) => Promise<T>) =>
        target.withJob(job, async (tx) => {
          const failing = new Proxy(tx, {
            get(inner, name) {
              // The transaction keeps private fields: read and call on the real object, not the proxy.
              const value = Reflect.get(inner, name);
              if (typeof value !== 'function') return value;
              if (name !== step) return value.bind(inner);
              return async (...args: unknown[]) => {
                await (value as (...a: unknown[]) => Promise<unknown>).apply(inner, args);
                throw new Error(`injected at ${step}`);
              };
            },
          });
          const result = await work(failing);
          if (step === 'commit') throw new Error('injected at commit');
          return result;
        });
    },
  });
}
