/**
 * The scheduled lane of a job above a concurrency of 40 (a Distributed Map) whose concurrency one
 * batch cannot hold: several executions live at once, their runs never above the concurrency.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { defineJob } from '../../../shared/job.ts';
import { dispatch } from '../../../shared/planner/dispatch.ts';
import { planScheduled } from '../../../shared/planner/index.ts';
import type { StateStore } from '../../../shared/store/types.ts';
import { RecordingStarter } from '../../helpers/recording-starter.ts';
import { createTempSqliteStore } from '../../helpers/sqlite.ts';

describe('dispatch of a distributed job', () => {
  let store: StateStore;
  let cleanup: () => Promise<void>;
  beforeEach(async () => {
    ({ store, cleanup } = await createTempSqliteStore());
    await store.migrate();
  });
  afterEach(async () => {
    await cleanup();
  });

  it('starts as many scheduled executions as its concurrency needs, then one per execution that ends', async () => {
    // Arrange: 1,000 due minutely intervals of a job at concurrency 250, batches of 100.
    const T0 = new Date('2026-03-01T00:00:00Z');
    const job = defineJob({
      id: 'wide',
      schedule: { cron: '* * * * *' },
      start: T0,
      concurrency: 250,
      handler: () => null,
    });
    await planScheduled(store, job, new Date(T0.getTime() + 1_000 * 60_000));
    const starter = new RecordingStarter();
    const options = { maxRunsPerExecution: 100, concurrency: job.concurrency };

    // Act
    const first = await dispatch(store, job, starter, options);
    const whileLive = await dispatch(store, job, starter, options);
    starter.statuses.set(first.started[0]!.executionName, 'ended');
    const afterOneEnded = await dispatch(store, job, starter, options);

    // Assert: ⌈250/100⌉ = 3 executions of ⌊250/3⌋ = 83 runs, 249 in flight at most.
    expect(first.started.map((input) => input.runs.length)).toEqual([83, 83, 83]);
    expect(new Set(first.started.map((input) => input.executionName)).size).toBe(3);
    expect(whileLive.started).toEqual([]);
    expect(whileLive.live).toHaveLength(3);
    // The ended execution's runs are requeued (never recorded); one new execution takes its place.
    expect(afterOneEnded.requeued).toBe(83);
    expect(afterOneEnded.started.map((input) => input.runs.length)).toEqual([83]);
    const inFlight = (await store.listRuns(job.id)).filter((run) => run.status === 'queued');
    expect(inFlight).toHaveLength(3 * 83);
  });

  it('keeps one live scheduled execution without the job’s concurrency (as before)', async () => {
    const T0 = new Date('2026-03-01T00:00:00Z');
    const job = defineJob({
      id: 'wide',
      schedule: { cron: '* * * * *' },
      start: T0,
      concurrency: 250,
      handler: () => null,
    });
    await planScheduled(store, job, new Date(T0.getTime() + 1_000 * 60_000));
    const result = await dispatch(store, job, new RecordingStarter(), { maxRunsPerExecution: 100 });
    expect(result.started.map((input) => input.runs.length)).toEqual([100]);
  });
});
