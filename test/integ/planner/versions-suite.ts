/**
 * Code versions (issue 12 item 4) on a real store: each run records the version of the code that ran
 * it (the stage runner writes the job's `version` when a stage starts and when the run succeeds), a
 * re-armed run forgets it, the status counts the succeeded intervals another version (or none) ran,
 * and `reprocess: 'outdated'` re-runs exactly those, besides what `failed` re-runs. Run on the SQLite
 * file and on MariaDB by the planner test files.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { jobStatuses } from '../../../shared/control/status.ts';
import { defineJob, type JobDefinition, lambda } from '../../../shared/job.ts';
import {
  backfillId,
  dispatch,
  planBackfill,
  planScheduled,
  previewBackfill,
  type Reprocess,
} from '../../../shared/planner/index.ts';
import { JobRegistry } from '../../../shared/registry.ts';
import { ResourceRegistry } from '../../../shared/resources/lending.ts';
import { runStage } from '../../../shared/runner/stage-runner.ts';
import type { RunRecord, StateStore } from '../../../shared/store/types.ts';
import type { ExecutionInput } from '../../../shared/workflow/starter.ts';
import { RecordingStarter } from '../../helpers/recording-starter.ts';
import { jobAt } from '../../helpers/stored-job.ts';
import type { PlannerStoreFactory } from './planner-suite.ts';

const T0 = new Date('2026-03-01T00:00:00.000Z');
const HOUR_MS = 3_600_000;
/** `count` hours after T0. */
const hour = (count: number) => new Date(T0.getTime() + count * HOUR_MS);

let sequence = 0;
/** An hourly job from T0 with two stages, at `version` (none when undefined). */
function hourlyJob(version: string | undefined, id = `versioned_${++sequence}`): JobDefinition {
  return defineJob({
    id,
    version,
    schedule: { cron: '0 * * * *' },
    start: T0.toISOString(),
    stages: [lambda('extract', async () => ({ rows: 1 })), lambda('load', async () => null)],
  });
}

/** The suite of code versions, run against each store implementation. */
export function describeCodeVersions(name: string, factory: PlannerStoreFactory): void {
  describe(`code versions on ${name}`, () => {
    let store: StateStore;
    beforeAll(async () => {
      store = await factory.open(() => new Date());
      await store.migrate();
    });
    beforeEach(async () => {
      await factory.wipe(store);
    });
    afterAll(async () => {
      await store.close();
      await factory.cleanup();
    });

    /** Runs every stage of every run of a started execution through the stage runner, as `job` is now. */
    async function runExecution(job: JobDefinition, input: ExecutionInput): Promise<void> {
      const deps = { store, jobs: new JobRegistry([job]), resources: new ResourceRegistry() };
      for (const item of input.runs) {
        for (const [stageIndex, stage] of job.stages.entries()) {
          await runStage(deps, {
            action: 'run',
            stage: stage.name,
            stageIndex,
            lastStage: stageIndex === job.stages.length - 1,
            run: {
              jobId: job.id,
              runId: item.runId,
              executionName: input.executionName,
              generation: item.generation,
            },
          });
        }
      }
    }

    /** Plans the job up to `now` and runs what is due, through the stage runner. */
    async function runDue(job: JobDefinition, now: Date): Promise<void> {
      await planScheduled(store, job, now);
      const starter = new RecordingStarter();
      for (const input of (await dispatch(store, job, starter)).started) await runExecution(job, input);
    }

    /** Succeeded runs of `jobId` at hours 0, 1, 2…, each under the version given for it. */
    async function seedSucceeded(jobId: string, versions: readonly (string | null)[]): Promise<RunRecord[]> {
      const intervals = versions.map((_, index) => ({ start: hour(index), end: hour(index + 1) }));
      await store.withJob(jobAt(jobId, T0), (tx) =>
        tx.insertRuns(intervals.map((interval) => ({ interval, trigger: 'schedule' as const }))),
      );
      const runs = await store.listRuns(jobId);
      for (const [index, version] of versions.entries()) {
        await store.markRunning(runs[index]!.runId, 'main', T0, undefined, version);
        await store.markSucceeded(runs[index]!.runId, null, T0, undefined, version);
      }
      return store.listRuns(jobId);
    }

    describe('the version each run records', () => {
      it('records the job’s version when a stage starts and when the run succeeds, through the stage runner', async () => {
        const seen: (string | null)[] = [];
        const watching = defineJob({
          id: `watched_${++sequence}`,
          version: '2026.03-a',
          schedule: { cron: '0 * * * *' },
          start: T0.toISOString(),
          stages: [
            lambda('extract', async (ctx) => {
              seen.push((await store.getRun(ctx.runId))?.version ?? null);
              return { rows: 1 };
            }),
            lambda('load', async () => null),
          ],
        });

        await runDue(watching, hour(2));

        expect(seen).toEqual(['2026.03-a', '2026.03-a']);
        expect((await store.listRuns(watching.id)).map((run) => [run.status, run.version])).toEqual([
          ['succeeded', '2026.03-a'],
          ['succeeded', '2026.03-a'],
        ]);
      });

      it('records no version for a job that declares none', async () => {
        const job = hourlyJob(undefined);

        await runDue(job, hour(1));

        expect((await store.listRuns(job.id)).map((run) => [run.status, run.version])).toEqual([
          ['succeeded', null],
        ]);
      });

      it('keeps the version that started a failed run, the last stage’s on success, and none once re-armed', async () => {
        const jobId = `lifecycle_${++sequence}`;
        await store.withJob(jobAt(jobId, T0), (tx) =>
          tx.insertRuns([{ interval: { start: hour(0), end: hour(1) }, trigger: 'schedule' }]),
        );
        const [run] = await store.listRuns(jobId);
        const id = run!.runId;

        const started = await store.markRunning(id, 'extract', T0, undefined, '1');
        await store.markFailed(id, 'boom', 1, T0);
        const failed = await store.getRun(id);
        await store.markRunning(id, 'extract', T0, undefined, '1');
        await store.markRunning(id, 'load', T0, undefined, '2');
        await store.markSucceeded(id, null, T0, undefined, '2');
        const succeeded = await store.getRun(id);
        await store.withJob(jobAt(jobId, T0), (tx) =>
          tx.rearmRuns([id], { trigger: 'backfill', backfillId: 'bf-v' }),
        );
        const rearmed = await store.getRun(id);
        await store.markRunning(id, 'extract', T0);
        const unversioned = await store.getRun(id);

        expect(started?.version).toBe('1');
        expect(failed).toMatchObject({ status: 'failed', version: '1' });
        expect(succeeded).toMatchObject({ status: 'succeeded', version: '2' });
        expect(rearmed).toMatchObject({ status: 'pending', version: null });
        expect(unversioned).toMatchObject({ status: 'running', version: null });
      });

      it('refuses an empty version', async () => {
        const [run] = await seedSucceeded(`empty_${++sequence}`, [null]);

        await expect(store.markSucceeded(run!.runId, null, T0, undefined, '')).rejects.toThrow(
          'A code version must be a non-empty string or null, got "".',
        );
        await expect(store.countOutdated(run!.jobId, '')).rejects.toThrow(
          'A code version must be a non-empty string or null, got "".',
        );
      });
    });

    describe('outdated intervals', () => {
      it('counts the succeeded runs another version, or none, ran; never other statuses or jobs', async () => {
        const jobId = `count_${++sequence}`;
        await seedSucceeded(jobId, [null, '1', '2', '2', '10']);
        await seedSucceeded(`other_${sequence}`, ['1', '1']);
        // A failed and a running run of another version: not succeeded, so not outdated.
        await store.withJob(jobAt(jobId, T0), (tx) =>
          tx.insertRuns([
            { interval: { start: hour(5), end: hour(6) }, trigger: 'schedule' },
            { interval: { start: hour(6), end: hour(7) }, trigger: 'schedule' },
          ]),
        );
        const [failed, running] = (await store.listRuns(jobId)).slice(5);
        await store.markRunning(failed!.runId, 'main', T0, undefined, '1');
        await store.markFailed(failed!.runId, 'boom', 1, T0);
        await store.markRunning(running!.runId, 'main', T0, undefined, '1');

        expect(await store.countOutdated(jobId, '2')).toBe(3);
        expect(await store.countOutdated(jobId, '1')).toBe(4);
        expect(await store.countOutdated(jobId, '3')).toBe(5);
        expect(await store.countOutdated(jobId, null)).toBe(4);
        expect(await store.countOutdated(`never_${sequence}`, '2')).toBe(0);
      });

      it('shows each job’s current version and its outdated count in the status', async () => {
        const current = hourlyJob('2');
        const unversioned = hourlyJob(undefined);
        await seedSucceeded(current.id, [null, '1', '2']);
        await seedSucceeded(unversioned.id, [null, '1']);

        const statuses = await jobStatuses(store, [current, unversioned]);

        expect(statuses.map(({ jobId, version, outdated }) => ({ jobId, version, outdated }))).toEqual([
          { jobId: current.id, version: '2', outdated: 2 },
          { jobId: unversioned.id, version: null, outdated: 1 },
        ]);
      });
    });

    describe("backfill with reprocess 'outdated'", () => {
      /**
       * Six hours of a job at version '2': 0 succeeded under none, 1 under '1', 2 under '2', 3 failed,
       * 4 queued (in flight), 5 missing.
       */
      async function mixed(job: JobDefinition): Promise<void> {
        await seedSucceeded(job.id, [null, '1', '2']);
        await store.withJob(job, (tx) =>
          tx.insertRuns([
            { interval: { start: hour(3), end: hour(4) }, trigger: 'schedule' },
            { interval: { start: hour(4), end: hour(5) }, trigger: 'schedule' },
          ]),
        );
        const [failed, queued] = (await store.listRuns(job.id)).slice(3);
        await store.markRunning(failed!.runId, 'main', T0, undefined, '2');
        await store.markFailed(failed!.runId, 'boom', 3, T0);
        await store.withJob(job, (tx) => tx.markQueued([queued!.runId], 'exec-in-flight'));
      }

      const request = (job: JobDefinition, reprocess: Reprocess) => ({
        jobId: job.id,
        from: hour(0),
        to: hour(6),
        reprocess,
      });

      async function previewed(job: JobDefinition, reprocess: Reprocess): Promise<string[]> {
        const lines: string[] = [];
        for await (const line of previewBackfill(store, job, request(job, reprocess))) {
          lines.push(`${line.start.toISOString().slice(11, 16)} ${line.action}`);
        }
        return lines;
      }

      it('re-runs what failed re-runs, and the succeeded intervals another version or none ran', async () => {
        const job = hourlyJob('2');
        await mixed(job);

        expect(await previewed(job, 'outdated')).toEqual([
          '00:00 rerun',
          '01:00 rerun',
          '02:00 skip-succeeded',
          '03:00 rerun',
          '04:00 skip-in-flight',
          '05:00 create',
        ]);
        // Beside the other choices, over the same runs.
        expect(await previewed(job, 'failed')).toEqual([
          '00:00 skip-succeeded',
          '01:00 skip-succeeded',
          '02:00 skip-succeeded',
          '03:00 rerun',
          '04:00 skip-in-flight',
          '05:00 create',
        ]);
        expect((await previewed(job, 'all')).filter((line) => line.endsWith('rerun'))).toHaveLength(4);
      });

      it('plans those re-runs in the backfill’s lane, leaving the current and the in-flight runs alone', async () => {
        const job = hourlyJob('2');
        await mixed(job);
        const before = await store.listRuns(job.id);

        const plan = await planBackfill(store, job, request(job, 'outdated'), hour(10));

        expect(plan).toMatchObject({
          backfillId: backfillId(request(job, 'outdated')),
          counts: { create: 1, rerun: 3, 'skip-in-flight': 1, 'skip-succeeded': 1, 'skip-failed': 0 },
          done: true,
        });
        expect(plan.backfillId).not.toBe(backfillId(request(job, 'all')));
        const after = await store.listRuns(job.id);
        expect(after.map((run) => [run.status, run.trigger, run.version, run.generation])).toEqual([
          ['pending', 'backfill', null, before[0]!.generation + 1],
          ['pending', 'backfill', null, before[1]!.generation + 1],
          ['succeeded', 'schedule', '2', before[2]!.generation],
          ['pending', 'backfill', null, before[3]!.generation + 1],
          ['queued', 'schedule', null, before[4]!.generation],
          ['pending', 'backfill', null, 0],
        ]);
        expect(
          after.filter((run) => run.status === 'pending').every((run) => run.backfillId === plan.backfillId),
        ).toBe(true);
        expect((await store.getBackfill(plan.backfillId))?.reprocess).toBe('outdated');
      });

      it('for a job without a version, re-runs the intervals a version ran', async () => {
        const job = hourlyJob(undefined);
        await seedSucceeded(job.id, [null, '1', null]);

        expect((await previewed(job, 'outdated')).slice(0, 3)).toEqual([
          '00:00 skip-succeeded',
          '01:00 rerun',
          '02:00 skip-succeeded',
        ]);
      });

      it('leaves nothing outdated once the re-runs have run under the current version', async () => {
        const v1 = hourlyJob('1', `upgrade_${++sequence}`);
        const v2 = hourlyJob('2', v1.id);
        await runDue(v1, hour(3));
        expect(await store.countOutdated(v2.id, '2')).toBe(3);

        const plan = await planBackfill(store, v2, { ...request(v2, 'outdated'), to: hour(3) }, hour(3));
        const starter = new RecordingStarter();
        const lane = { kind: 'backfill', backfillId: plan.backfillId } as const;
        for (const input of (await dispatch(store, v2, starter, { lane })).started) {
          await runExecution(v2, input);
        }

        expect(plan.counts.rerun).toBe(3);
        expect((await store.listRuns(v2.id)).map((run) => [run.status, run.version])).toEqual([
          ['succeeded', '2'],
          ['succeeded', '2'],
          ['succeeded', '2'],
        ]);
        expect(await store.countOutdated(v2.id, '2')).toBe(0);
        expect(await store.countOutdated(v2.id, '1')).toBe(3);
        const again = await planBackfill(
          store,
          v2,
          { ...request(v2, 'outdated'), to: hour(3), reverse: true },
          hour(3),
        );
        expect(again.counts).toMatchObject({ rerun: 0, 'skip-succeeded': 3 });
      });
    });
  });
}
