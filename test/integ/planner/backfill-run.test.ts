/**
 * A backfill run to its end by one process (`runBackfill`), its dry run (`countBackfill`) and the
 * target of a manual run (`manualRunTarget`): the real local runtime (workflow definition in
 * aws-local-stepfunctions, in-process stage runner) on a SQLite store in a temp file.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { loadConfig } from '../../../shared/config.ts';
import { BackfillRefusedError, InputError, NonRetryableError } from '../../../shared/errors.ts';
import { defineJob } from '../../../shared/job.ts';
import { LocalRuntime } from '../../../shared/local/runtime.ts';
import {
  type BackfillProgress,
  backfillId,
  changeBackfill,
  countBackfill,
  manualRunTarget,
  planBackfill,
  runBackfill,
} from '../../../shared/planner/index.ts';
import { JobRegistry } from '../../../shared/registry.ts';
import { openProcessServices, type ProcessServices } from '../../../shared/runner/process.ts';
import { LOCAL_DRIVERS } from '../../../shared/store/local.ts';

const NOW = new Date('2026-03-02T00:00:30.000Z');
/** The interval of {@link hourly} that always fails. */
const FAILING_START = '2026-03-01T02:00:00.000Z';

const hourly = defineJob({
  id: 'backfill_run_hourly',
  schedule: { cron: '0 * * * *' },
  start: '2026-03-01T00:00:00Z',
  concurrency: 2,
  retry: { attempts: 1 },
  config: z.object({ region: z.enum(['eu', 'us']).default('eu') }),
  handler: (ctx) => {
    if (ctx.interval.start.toISOString() === FAILING_START) throw new NonRetryableError('bad interval');
    return null;
  },
});

const range = (from: string, to: string) => ({ jobId: hourly.id, from: new Date(from), to: new Date(to) });

describe('running a backfill in one process (SQLite)', () => {
  let dir: string;
  let opened: ProcessServices;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'piko-backfill-run-'));
    const config = loadConfig({ env: { PIKO_DATA_DIR: dir, PIKO_SQLITE__FILE: path.join(dir, 'piko.db') } });
    opened = await openProcessServices(config, new JobRegistry([hourly]), { drivers: LOCAL_DRIVERS });
  });

  afterAll(async () => {
    await opened?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('runs every interval once, reporting the plan and each round, and marks the backfill done', async () => {
    // Arrange
    const request = range('2026-03-01T00:00:00Z', '2026-03-01T04:00:00Z');
    const runtime = new LocalRuntime({ process: opened, clock: () => NOW, noRetryWaits: true });
    const progress: BackfillProgress[] = [];

    // Act
    const outcome = await runBackfill(opened.store, hourly, request, runtime, {
      clock: () => NOW,
      onProgress: (event) => progress.push(event),
    });

    // Assert
    const id = backfillId(request);
    expect(outcome).toEqual({ backfillId: id, succeeded: 3, failed: 1, waiting: 0 });
    const counts = { create: 4, rerun: 0, 'skip-in-flight': 0, 'skip-succeeded': 0, 'skip-failed': 0 };
    expect(progress[0]).toEqual({ kind: 'planned', plan: { backfillId: id, counts, done: true } });
    expect(progress.at(-1)).toEqual({ kind: 'batch', done: 4, total: 4, failed: 1 });
    expect(progress.slice(1).every((event) => event.kind === 'batch')).toBe(true);
    const runs = await opened.store.listRuns(hourly.id);
    expect(runs.map((run) => [run.interval.start.toISOString(), run.status, run.trigger])).toEqual([
      ['2026-03-01T00:00:00.000Z', 'succeeded', 'backfill'],
      ['2026-03-01T01:00:00.000Z', 'succeeded', 'backfill'],
      [FAILING_START, 'failed', 'backfill'],
      ['2026-03-01T03:00:00.000Z', 'succeeded', 'backfill'],
    ]);
    expect((await opened.store.getBackfill(id))?.status).toBe('done');
  });

  it('waits for a run requeued with a delay and runs it before calling the backfill done', async () => {
    // Arrange: 10:00–13:00; once planned, 11:00 is requeued as a lost store connection leaves it
    // (not before 2 s after now), on a clock that moves with real time from NOW
    const request = range('2026-03-01T10:00:00Z', '2026-03-01T13:00:00Z');
    const began = Date.now();
    const clock = () => new Date(NOW.getTime() + (Date.now() - began));
    const runtime = new LocalRuntime({ process: opened, clock, noRetryWaits: true });
    const requeueOne = () => {
      const database = new Database(path.join(dir, 'piko.db'));
      try {
        const update = database
          .prepare(
            'UPDATE piko_runs SET requeues = 1, not_before = ? WHERE job_id = ? AND interval_start = ?',
          )
          .run(clock().getTime() + 2_000, hourly.id, Date.parse('2026-03-01T11:00:00Z'));
        expect(update.changes).toBe(1);
      } finally {
        database.close();
      }
    };

    // Act
    const outcome = await runBackfill(opened.store, hourly, request, runtime, {
      clock,
      onProgress: (event) => {
        if (event.kind === 'planned') requeueOne();
      },
    });

    // Assert: all three ran, the delayed one too, and the backfill is done
    expect(outcome).toEqual({ backfillId: backfillId(request), succeeded: 3, failed: 0, waiting: 0 });
    const runs = (await opened.store.listRuns(hourly.id)).filter(
      (run) => run.interval.start >= request.from && run.interval.start < request.to,
    );
    expect(runs.map((run) => [run.interval.start.toISOString(), run.status, run.requeues])).toEqual([
      ['2026-03-01T10:00:00.000Z', 'succeeded', 0],
      ['2026-03-01T11:00:00.000Z', 'succeeded', 1],
      ['2026-03-01T12:00:00.000Z', 'succeeded', 0],
    ]);
    expect((await opened.store.getBackfill(backfillId(request)))?.status).toBe('done');
  });

  it('dry-runs a range, handing over each interval in the order it would run, writing nothing', async () => {
    // Arrange: 00:00–04:00 ran above (02:00 failed); 04:00–06:00 is planned and left pending
    await planBackfill(opened.store, hourly, range('2026-03-01T04:00:00Z', '2026-03-01T06:00:00Z'), NOW);
    const before = await opened.store.listRuns(hourly.id);
    const seen: string[] = [];

    // Act
    const { counts } = await countBackfill(
      opened.store,
      hourly,
      { ...range('2026-03-01T01:00:00Z', '2026-03-01T07:00:00Z'), reprocess: 'failed', reverse: true },
      { each: (interval) => seen.push(`${interval.start.toISOString().slice(11, 16)} ${interval.action}`) },
    );

    // Assert
    expect(seen).toEqual([
      '06:00 create',
      '05:00 skip-in-flight',
      '04:00 skip-in-flight',
      '03:00 skip-succeeded',
      '02:00 rerun',
      '01:00 skip-succeeded',
    ]);
    expect(counts).toEqual({
      create: 1,
      'skip-in-flight': 2,
      'skip-succeeded': 2,
      rerun: 1,
      'skip-failed': 0,
    });
    expect(await opened.store.listRuns(hourly.id)).toEqual(before);
  });
});

/** What the handlers of {@link batched} saw, for the test running it. */
const seen = {
  inFlight: 0,
  maxInFlight: 0,
  calls: [] as string[],
  /** The most executions seen holding runs of the backfill at once (one running, one queued ahead). */
  maxHolders: 0,
  /** Handlers of a batch after the first that started while their backfill was paused. */
  whilePaused: 0,
  /** Called by the first handler once a batch is queued ahead (the pause test pauses there). */
  onAhead: async () => {},
  store: undefined as ProcessServices['store'] | undefined,
};

/** Executions holding queued or running runs of the job's backfills, by name. */
async function holders(): Promise<Set<string>> {
  const runs = await seen.store!.findRuns('backfill_run_batched', {
    statuses: ['queued', 'running'],
    limit: 1_000,
  });
  return new Set(runs.map((run) => run.executionName ?? ''));
}

/** Minutely, concurrency 2; batches of 3 runs (PIKO_MAX_RUNS_PER_EXECUTION below). */
const batched = defineJob({
  id: 'backfill_run_batched',
  schedule: { cron: '* * * * *' },
  start: '2026-03-01T00:00:00Z',
  concurrency: 2,
  handler: async (ctx) => {
    // The first batch (minutes 0–2 of the hour) runs on through a pause; a later one must not start.
    const run = (
      await seen.store!.findRuns('backfill_run_batched', { from: ctx.interval.start, limit: 1 })
    )[0];
    const status = (await seen.store!.getBackfill(run!.backfillId!))?.status;
    if (ctx.interval.start.getUTCMinutes() >= 3 && status === 'paused') seen.whilePaused += 1;
    seen.calls.push(ctx.interval.start.toISOString());
    seen.inFlight += 1;
    seen.maxInFlight = Math.max(seen.maxInFlight, seen.inFlight);
    try {
      if (ctx.interval.start.getUTCMinutes() === 0) {
        // The first interval waits (bounded) until the next batch is queued while its own runs.
        for (let polls = 0; polls < 2_000 && (await holders()).size < 2; polls++) {
          await new Promise((resolve) => setTimeout(resolve, 5));
        }
        await seen.onAhead();
      }
      seen.maxHolders = Math.max(seen.maxHolders, (await holders()).size);
      await new Promise((resolve) => setTimeout(resolve, 2));
    } finally {
      seen.inFlight -= 1;
    }
    return null;
  },
});

describe('a backfill of several batches (SQLite)', () => {
  let dir: string;
  let opened: ProcessServices;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'piko-backfill-batches-'));
    const config = loadConfig({
      env: {
        PIKO_DATA_DIR: dir,
        PIKO_SQLITE__FILE: path.join(dir, 'piko.db'),
        PIKO_MAX_RUNS_PER_EXECUTION: '3',
      },
    });
    opened = await openProcessServices(config, new JobRegistry([batched]), { drivers: LOCAL_DRIVERS });
    seen.store = opened.store;
  });

  afterAll(async () => {
    await opened?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const minutes = (from: string, count: number) => ({
    jobId: batched.id,
    from: new Date(from),
    to: new Date(Date.parse(from) + count * 60_000),
  });
  const reset = () => {
    Object.assign(seen, { inFlight: 0, maxInFlight: 0, calls: [], maxHolders: 0, whilePaused: 0 });
    seen.onAhead = async () => {};
  };

  it('queues the next batch while one runs, never above the job concurrency, each interval once', async () => {
    // Arrange: 12 minutes, 4 batches of 3
    reset();
    const request = minutes('2026-03-01T00:00:00Z', 12);
    const runtime = new LocalRuntime({ process: opened, clock: () => NOW, noRetryWaits: true });

    // Act
    const outcome = await runBackfill(opened.store, batched, request, runtime, { clock: () => NOW });

    // Assert
    expect(outcome).toEqual({ backfillId: backfillId(request), succeeded: 12, failed: 0, waiting: 0 });
    expect(seen.maxHolders).toBe(2);
    expect(seen.maxInFlight).toBeLessThanOrEqual(2);
    expect([...seen.calls].sort()).toEqual(
      Array.from({ length: 12 }, (_, minute) =>
        new Date(Date.parse('2026-03-01T00:00:00Z') + minute * 60_000).toISOString(),
      ),
    );
    expect((await opened.store.getBackfill(backfillId(request)))?.status).toBe('done');
  });

  it('does not start the batch queued ahead once its backfill is paused; after resume it runs', async () => {
    // Arrange: 01:00–01:09, 3 batches; the first handler pauses the backfill once the second
    // batch is queued ahead; the test resumes it once the backfill says it waits
    reset();
    const request = minutes('2026-03-01T01:00:00Z', 9);
    const id = backfillId(request);
    const runtime = new LocalRuntime({ process: opened, clock: () => NOW, noRetryWaits: true });
    seen.onAhead = async () => {
      await changeBackfill(opened.store, batched, id, 'pause', { actor: 'test@host' });
    };
    const progress: BackfillProgress['kind'][] = [];
    // Every execution started takes a lease: how many this backfill's had when it saw the pause.
    const leases = () => {
      const database = new Database(path.join(dir, 'piko.db'), { readonly: true });
      try {
        const row = database
          .prepare('SELECT COUNT(*) AS n FROM piko_leases WHERE job_id = ?')
          .get(batched.id);
        return (row as { n: number }).n;
      } finally {
        database.close();
      }
    };
    const leasesBefore = leases();
    let startedByThePause: number | undefined;

    // Act
    const outcome = await runBackfill(opened.store, batched, request, runtime, {
      clock: () => NOW,
      pausedPollMs: 10,
      onProgress: (event) => {
        progress.push(event.kind);
        if (event.kind === 'backfill-paused') {
          startedByThePause = leases() - leasesBefore;
          void changeBackfill(opened.store, batched, id, 'resume', { actor: 'test@host' });
        }
      },
    });

    // Assert: the batch queued ahead waited through the pause (only the first execution had started
    // when the backfill saw it); nothing ran twice or was lost
    expect(seen.maxHolders).toBe(2);
    expect(progress).toContain('backfill-paused');
    expect(startedByThePause).toBe(1);
    expect(seen.whilePaused).toBe(0);
    expect(outcome).toEqual({ backfillId: id, succeeded: 9, failed: 0, waiting: 0 });
    expect(new Set(seen.calls).size).toBe(9);
    expect(seen.calls).toHaveLength(9);
    expect(seen.maxInFlight).toBeLessThanOrEqual(2);
  });
});

/** What the handlers of {@link oneBatch} saw. */
const oneBatchSeen = {
  calls: [] as string[],
  /** Handlers that began after the pause had returned, while the backfill was still paused. */
  startedAfterPause: 0,
  paused: false,
  pause: async () => {},
};

/** Minutely, concurrency 2; a backfill's runs all in one execution (the default batch of 500). */
const oneBatch = defineJob({
  id: 'backfill_run_one_batch',
  schedule: { cron: '* * * * *' },
  start: '2026-03-01T00:00:00Z',
  concurrency: 2,
  handler: async (ctx) => {
    if (oneBatchSeen.paused) oneBatchSeen.startedAfterPause += 1;
    oneBatchSeen.calls.push(ctx.interval.start.toISOString());
    if (ctx.interval.start.getUTCMinutes() === 0) {
      await oneBatchSeen.pause();
      oneBatchSeen.paused = true;
    }
    await new Promise((resolve) => setTimeout(resolve, 2));
    return null;
  },
});

describe('pausing a backfill whose batch is in flight (SQLite)', () => {
  let dir: string;
  let opened: ProcessServices;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'piko-backfill-one-batch-'));
    const config = loadConfig({ env: { PIKO_DATA_DIR: dir, PIKO_SQLITE__FILE: path.join(dir, 'piko.db') } });
    opened = await openProcessServices(config, new JobRegistry([oneBatch]), { drivers: LOCAL_DRIVERS });
  });

  afterAll(async () => {
    await opened?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("starts none of its batch's queued runs once paused; they wait as pending and run after resume", async () => {
    // Arrange: 20 minutes in one execution; the first handler pauses the backfill
    const request = {
      jobId: oneBatch.id,
      from: new Date('2026-03-01T00:00:00Z'),
      to: new Date('2026-03-01T00:20:00Z'),
    };
    const id = backfillId(request);
    const runtime = new LocalRuntime({ process: opened, clock: () => NOW, noRetryWaits: true });
    oneBatchSeen.pause = async () => {
      await changeBackfill(opened.store, oneBatch, id, 'pause', { actor: 'test@host' });
    };
    let whilePaused: Record<string, number> | undefined;
    let attemptsWhilePaused: number[] = [];

    // Act: once the backfill says it waits, and its execution has put the runs it did not start
    // back to pending, resume it
    const outcome = await runBackfill(opened.store, oneBatch, request, runtime, {
      clock: () => NOW,
      pausedPollMs: 10,
      onProgress: (event) => {
        if (event.kind !== 'backfill-paused' || whilePaused) return;
        whilePaused = {};
        void (async () => {
          let runs = await opened.store.listRuns(oneBatch.id);
          for (let polls = 0; polls < 2_000 && runs.some((run) => run.status === 'queued'); polls++) {
            await new Promise((resolve) => setTimeout(resolve, 5));
            runs = await opened.store.listRuns(oneBatch.id);
          }
          for (const run of runs) whilePaused![run.status] = (whilePaused![run.status] ?? 0) + 1;
          attemptsWhilePaused = runs.filter((run) => run.status === 'pending').map((run) => run.attempts);
          oneBatchSeen.paused = false;
          await changeBackfill(opened.store, oneBatch, id, 'resume', { actor: 'test@host' });
        })();
      },
    });

    // Assert: at the pause only the two runs already started ran; the rest went back to pending,
    // their attempts untouched, and ran once after the resume
    expect(oneBatchSeen.startedAfterPause).toBe(0);
    expect(whilePaused).toEqual({ succeeded: 2, pending: 18 });
    expect(attemptsWhilePaused).toEqual(Array(18).fill(0));
    expect(outcome).toEqual({ backfillId: id, succeeded: 20, failed: 0, waiting: 0 });
    expect([...oneBatchSeen.calls].sort()).toEqual(
      Array.from({ length: 20 }, (_, minute) =>
        new Date(Date.parse('2026-03-01T00:00:00Z') + minute * 60_000).toISOString(),
      ),
    );
    const runs = await opened.store.listRuns(oneBatch.id);
    expect(runs.every((run) => run.attempts === 1 && run.requeues === 0)).toBe(true);
  });

  it('counts the runs its cancel caught as neither succeeded nor failed', async () => {
    // Arrange: 20 minutes of another day in one execution; the first handler cancels the backfill
    Object.assign(oneBatchSeen, { calls: [], startedAfterPause: 0, paused: false });
    const request = {
      jobId: oneBatch.id,
      from: new Date('2026-03-01T02:00:00Z'),
      to: new Date('2026-03-01T02:20:00Z'),
    };
    const id = backfillId(request);
    const runtime = new LocalRuntime({ process: opened, clock: () => NOW, noRetryWaits: true });
    oneBatchSeen.pause = async () => {
      await changeBackfill(opened.store, oneBatch, id, 'cancel', { actor: 'test@host' });
    };

    // Act
    const outcome = await runBackfill(opened.store, oneBatch, request, runtime, { clock: () => NOW });

    // Assert: what the store says, the outcome says
    const counts = await opened.store.backfillRunCounts(oneBatch.id, id);
    expect(counts.cancelled).toBeGreaterThan(0);
    expect(outcome).toEqual({
      backfillId: id,
      succeeded: counts.succeeded,
      failed: 0,
      waiting: 0,
      cancelled: true,
    });
    expect(oneBatchSeen.calls).toHaveLength(counts.succeeded ?? 0);
    expect((counts.succeeded ?? 0) + (counts.cancelled ?? 0)).toBe(20);
  });
});

describe('the target of a manual run', () => {
  it('is the latest interval ending at or before the instant, with the config checked', () => {
    const at = new Date('2026-03-01T05:59:59.999Z');

    expect(manualRunTarget(hourly, at, { region: 'us' }, NOW)).toEqual({
      interval: { start: new Date('2026-03-01T04:00:00.000Z'), end: new Date('2026-03-01T05:00:00.000Z') },
      config: { region: 'us' },
    });
    expect(manualRunTarget(hourly, new Date('2026-03-01T06:00:00.000Z'), undefined, NOW).interval).toEqual({
      start: new Date('2026-03-01T05:00:00.000Z'),
      end: new Date('2026-03-01T06:00:00.000Z'),
    });
  });

  it('refuses an instant in the future (saying so of the instant), and a config the schema rejects', () => {
    const later = new Date('2026-03-02T02:00:00.000Z');

    expect(() => manualRunTarget(hourly, later, undefined, NOW)).toThrow(
      new BackfillRefusedError(
        'Run refused: 2026-03-02T02:00:00.000Z is in the future (now is 2026-03-02T00:00:30.000Z); a manual run takes the latest interval that has ended at or before it',
      ),
    );
    expect(() => manualRunTarget(hourly, NOW, { region: 'mars' }, NOW)).toThrow(
      new InputError(
        'Invalid config for job "backfill_run_hourly": region: Invalid option: expected one of "eu"|"us"',
      ),
    );
  });
});
