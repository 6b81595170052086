/**
 * Operator actions (issue 13 item 1) on a real store: cancel a pending, queued or running run (its
 * handler's `ctx.signal` aborts, the run ends `cancelled`, not failed and not retried, and can be run
 * again), and mark a range succeeded or skipped without running it. Each is recorded with who and
 * why. Run on the SQLite file and on MariaDB by the planner test files.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { RunCancelledError } from '../../../shared/errors.ts';
import { defineJob, type JobDefinition } from '../../../shared/job.ts';
import {
  cancelRuns,
  dispatch,
  dispatchManualRun,
  markRange,
  planScheduled,
  previewBackfill,
  previewMark,
} from '../../../shared/planner/index.ts';
import { JobRegistry } from '../../../shared/registry.ts';
import { ResourceRegistry } from '../../../shared/resources/lending.ts';
import { runStage } from '../../../shared/runner/stage-runner.ts';
import type { StateStore } from '../../../shared/store/types.ts';
import type { ExecutionInput } from '../../../shared/workflow/starter.ts';
import { RecordingStarter } from '../../helpers/recording-starter.ts';
import type { PlannerStoreFactory } from './planner-suite.ts';

const T0 = new Date('2026-03-01T00:00:00.000Z');
const HOUR_MS = 3_600_000;
const hour = (count: number) => new Date(T0.getTime() + count * HOUR_MS);
const CALL = { actor: 'ops@test', reason: 'upstream outage' };

let sequence = 0;
/** An hourly job from T0 whose handler waits for its signal when `block` is set. */
function hourlyJob(block: { started?: () => void } = {}): JobDefinition {
  return defineJob({
    id: `operator_${++sequence}`,
    schedule: { cron: '0 * * * *' },
    start: T0.toISOString(),
    timeout: '1m',
    handler: async (ctx) => {
      if (!block.started) return { ok: true };
      block.started();
      return new Promise((_, reject) => {
        ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason), { once: true });
      });
    },
  });
}

/** The operator-actions suite, run against each store implementation. */
export function describeOperatorActions(name: string, factory: PlannerStoreFactory): void {
  describe(`operator actions on ${name}`, () => {
    let store: StateStore;
    beforeAll(async () => {
      store = await factory.open(() => new Date());
      await store.migrate();
    });
    beforeEach(async () => {
      await factory.wipe(store);
      await store.database.query('DELETE FROM piko_actions');
    });
    afterAll(async () => {
      await store.close();
      await factory.cleanup();
    });

    const statuses = async (jobId: string) => (await store.listRuns(jobId)).map((run) => run.status);
    const payload = (job: JobDefinition, input: ExecutionInput, index: number) => {
      const item = input.runs[index];
      if (!item) throw new Error(`no run ${index}`);
      return {
        action: 'run' as const,
        stage: 'main',
        stageIndex: 0,
        lastStage: true,
        run: {
          jobId: job.id,
          runId: item.runId,
          executionName: input.executionName,
          generation: item.generation,
        },
      };
    };

    it('cancels a queued run: it never starts, the action is recorded, and it can be run again', async () => {
      const job = hourlyJob();
      await planScheduled(store, job, hour(3));
      const [input] = (await dispatch(store, job, new RecordingStarter())).started;
      if (!input) throw new Error('nothing dispatched');

      const outcome = await cancelRuns(
        store,
        job,
        { from: hour(1), to: new Date(hour(1).getTime() + 1) },
        CALL,
      );

      expect(outcome.cancelled.map((run) => [run.start, run.status])).toEqual([
        [hour(1).toISOString(), 'queued'],
      ]);
      expect(await statuses(job.id)).toEqual(['queued', 'cancelled', 'queued']);
      const deps = { store, jobs: new JobRegistry([job]), resources: new ResourceRegistry() };
      expect(await runStage(deps, payload(job, input, 1))).toMatchObject({ notStarted: 'cancelled' });
      expect(await statuses(job.id)).toEqual(['queued', 'cancelled', 'queued']);
      const [action] = await store.listActions({ jobId: job.id, limit: 5 });
      expect(action).toMatchObject({
        kind: 'cancel',
        actor: 'ops@test',
        reason: 'upstream outage',
        target: `${hour(1).toISOString()}/${new Date(hour(1).getTime() + 1).toISOString()}`,
        details: { cancelled: 1 },
      });
      // A pending (re-dispatched) cancelled run is not queued again; a manual run re-arms it.
      expect((await dispatch(store, job, new RecordingStarter())).started).toEqual([]);
      await dispatchManualRun(store, job, { start: hour(1), end: hour(2) }, null, new RecordingStarter());
      expect((await statuses(job.id))[1]).toBe('queued');
    });

    it('stops a running run: its signal aborts, it ends cancelled, not failed, and is not retried', async () => {
      let started!: () => void;
      const running = new Promise<void>((resolve) => {
        started = resolve;
      });
      const job = hourlyJob({ started });
      await planScheduled(store, job, hour(1));
      const [input] = (await dispatch(store, job, new RecordingStarter())).started;
      if (!input) throw new Error('nothing dispatched');
      const deps = {
        store,
        jobs: new JobRegistry([job]),
        resources: new ResourceRegistry(),
        cancelPollMs: 20,
      };

      const stage = runStage(deps, payload(job, input, 0));
      const settled = stage.catch((error: unknown) => error);
      await running;
      await cancelRuns(store, job, { from: T0, to: hour(1) }, { actor: 'ops@test' });

      expect(await settled).toBeInstanceOf(RunCancelledError);
      // The workflow catches it (a NonRetryableError) and sends 'fail': the run stays cancelled.
      const fail = {
        ...payload(job, input, 0),
        action: 'fail' as const,
        error: { Error: 'NonRetryableError', Cause: '{}' },
      };
      expect(await runStage(deps, fail)).toMatchObject({ cancelled: true });
      const [run] = await store.listRuns(job.id);
      expect(run).toMatchObject({ status: 'cancelled', error: null });
      // A late success is refused as well.
      await expect(store.markSucceeded(run?.runId ?? 0, null, new Date())).rejects.toBeInstanceOf(
        RunCancelledError,
      );
    });

    it('marks a range skipped: creates missing runs, leaves queued and succeeded ones, records counts', async () => {
      const job = hourlyJob();
      // Hours 0-1 planned and queued; hours 2-5 have no run.
      await planScheduled(store, job, hour(2));
      await dispatch(store, job, new RecordingStarter());
      const request = { from: T0, to: hour(6), as: 'skipped' as const };

      const dry = await markRange(store, job, { ...request, dryRun: true }, CALL, hour(7));
      expect(dry).toMatchObject({ dryRun: true, intervals: 6, created: 4, updated: 0, unchanged: 0 });
      expect(dry.leftAlone).toHaveLength(2);
      expect(await statuses(job.id)).toEqual(['queued', 'queued']);
      expect(await store.listActions({ jobId: job.id, limit: 5 })).toEqual([]);

      const done = await markRange(store, job, request, CALL, hour(7));

      expect(done).toMatchObject({ dryRun: false, created: 4, updated: 0, unchanged: 0 });
      expect(await statuses(job.id)).toEqual([
        'queued',
        'queued',
        'skipped',
        'skipped',
        'skipped',
        'skipped',
      ]);
      const [action] = await store.listActions({ jobId: job.id, limit: 5 });
      expect(action).toMatchObject({
        kind: 'mark',
        actor: 'ops@test',
        details: { as: 'skipped', created: 4, leftAlone: 2 },
      });
      // Planning does not plan them again, and a `missing` backfill counts them as present.
      await planScheduled(store, job, hour(7));
      expect(await statuses(job.id)).toHaveLength(7);
      const preview = [];
      for await (const line of previewBackfill(store, job, { jobId: job.id, from: hour(2), to: hour(6) }))
        preview.push(line.action);
      expect(preview).toEqual(['skip-succeeded', 'skip-succeeded', 'skip-succeeded', 'skip-succeeded']);
      // Marked succeeded next: the skipped ones change, nothing else.
      const again = await markRange(
        store,
        job,
        { from: hour(2), to: hour(6), as: 'succeeded' },
        CALL,
        hour(7),
      );
      expect(again).toMatchObject({ created: 0, updated: 4, unchanged: 0 });
      await expect(
        markRange(store, job, { from: hour(6), to: hour(9), as: 'skipped' }, CALL, hour(7)),
      ).rejects.toThrow(/after now/);
    });

    it('previews a mark interval by interval, in spans of one status, and writes nothing', async () => {
      // Arrange: hours 0-1 queued, hour 2 failed, hours 3-5 without a run, hour 4 succeeded.
      const job = hourlyJob();
      await planScheduled(store, job, hour(3));
      await dispatch(store, job, new RecordingStarter());
      await store.database.query('UPDATE piko_runs SET status = ? WHERE job_id = ? AND interval_start = ?', [
        'failed',
        job.id,
        hour(2),
      ]);
      await store.withJob(job, (tx) =>
        tx.insertRuns([{ interval: { start: hour(4), end: hour(5) }, trigger: 'manual' }]),
      );
      const [succeeded] = await store.listRuns(job.id, { from: hour(4), to: hour(5) });
      await store.markRunning(succeeded!.runId, 'main', hour(5));
      await store.markSucceeded(succeeded!.runId, null, hour(5));
      const before = await store.listRuns(job.id);

      // Act
      const preview = await previewMark(store, job, { from: T0, to: hour(6), as: 'skipped' }, hour(7));

      // Assert: the same counts as the dry run of markRange, and what happens to each interval.
      const { spans, ...counts } = preview;
      expect(counts).toEqual(
        await markRange(store, job, { from: T0, to: hour(6), as: 'skipped', dryRun: true }, CALL, hour(7)),
      );
      expect(counts).toMatchObject({ dryRun: true, intervals: 6, created: 2, updated: 1, unchanged: 1 });
      expect(
        spans.map((span) => [span.start.toISOString(), span.intervals, span.status, span.effect]),
      ).toEqual([
        [T0.toISOString(), 2, 'queued', 'refused'],
        [hour(2).toISOString(), 1, 'failed', 'update'],
        [hour(3).toISOString(), 1, 'missing', 'create'],
        [hour(4).toISOString(), 1, 'succeeded', 'unchanged'],
        [hour(5).toISOString(), 1, 'missing', 'create'],
      ]);
      expect(spans.at(-1)?.end).toEqual(hour(6));
      expect(await store.listRuns(job.id)).toEqual(before);
      expect(await store.listActions({ jobId: job.id, limit: 5 })).toEqual([]);
      await expect(
        previewMark(store, job, { from: hour(6), to: hour(9), as: 'skipped' }, hour(7)),
      ).rejects.toThrow(/after now/);
    });
  });
}
