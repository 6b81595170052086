import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StageEventRefusedError, StoreError, StoreUnavailableError } from '../../../shared/errors.ts';
import type { Interval } from '../../../shared/interval.ts';
import { compileSchedule } from '../../../shared/schedule/index.ts';
import { type AlertRecord, alertStoreOf } from '../../../shared/store/alerts.ts';
import type { StoreConfig } from '../../../shared/store/index.ts';
import { openStore } from '../../../shared/store/local.ts';
import { applyMigrations, MIGRATIONS } from '../../../shared/store/migrations.ts';
import type {
  JobTransaction,
  NewRun,
  RunRecord,
  RunTrigger,
  StateStore,
} from '../../../shared/store/types.ts';
import { jobAt } from '../../helpers/stored-job.ts';

/** A migrated-or-not store on a fresh database, and how to close and remove it. */
export interface StoreUnderTest {
  readonly store: StateStore;
  /** Closes the store and removes the database; throws when a connection was left open. */
  cleanup(): Promise<void>;
}

/** Opens the store of one test file on a fresh, empty database, with the given clock. */
export type StoreFactory = (options: { clock: () => Date }) => Promise<StoreUnderTest>;

/** Another fresh, empty database, for tests that open their own stores (in this process or others). */
export interface FreshTarget {
  readonly config: StoreConfig;
  cleanup(): Promise<void>;
}

export interface ConformanceOptions {
  freshTarget(): Promise<FreshTarget>;
}

const MIGRATE_CHILD = fileURLToPath(new URL('./migrate-child.ts', import.meta.url));
const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const HOUR_MS = 3_600_000;
const at = (iso: string) => new Date(iso);
const T0 = at('2026-03-01T00:00:00.000Z');
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** `count` consecutive hourly intervals from `start`. */
function hours(start: Date, count: number): Interval[] {
  return Array.from({ length: count }, (_, i) => ({
    start: new Date(start.getTime() + i * HOUR_MS),
    end: new Date(start.getTime() + (i + 1) * HOUR_MS),
  }));
}

function runsOf(
  intervals: readonly Interval[],
  trigger: RunTrigger = 'schedule',
  extra: Partial<NewRun> = {},
): NewRun[] {
  return intervals.map((interval) => ({ interval, trigger, ...extra }));
}

const starts = (runs: readonly RunRecord[]) => runs.map((run) => run.interval.start.toISOString());

/**
 * The StateStore conformance suite: every method, against one real database per test file.
 * Test data is kept apart by job id, so tests never see each other's rows.
 */
export function describeStateStore(name: string, factory: StoreFactory, options: ConformanceOptions): void {
  describe(`StateStore on ${name}`, () => {
    let clockNow = at('2026-04-01T12:00:00.000Z');
    const clock = () => new Date(clockNow.getTime());
    const setClock = (iso: string) => {
      clockNow = at(iso);
      return clockNow;
    };
    let underTest: StoreUnderTest | undefined;
    let store: StateStore;
    let firstMigration: { applied: number[] };
    let jobSequence = 0;
    const newJobId = (label: string) => `${label}_${++jobSequence}`;

    /** Inserts scheduled runs for a new job and returns them, oldest first. */
    async function seedRuns(jobId: string, newRuns: readonly NewRun[]): Promise<RunRecord[]> {
      await store.withJob(jobAt(jobId, T0), (tx) => tx.insertRuns(newRuns));
      return store.listRuns(jobId);
    }

    beforeAll(async () => {
      underTest = await factory({ clock });
      store = underTest.store;
      firstMigration = await store.migrate();
    });

    afterAll(async () => {
      await underTest?.cleanup();
    });

    describe('migrations', () => {
      it('numbers migrations 1, 2, 3… with SQL for both dialects', () => {
        // 4: execution leases; 5: the runs' code version; 6: operator actions; 8: alerts and the deadline watch;
        // 9: the ECS task of runs; 10: backfill concurrency; 11: the backfill chain (--downstream on AWS);
        // 12: when each alert was announced (raised at least once).
        expect(MIGRATIONS.map((migration) => migration.version)).toEqual([
          1, 2, 3, 4, 5, 6, 8, 9, 10, 11, 12,
        ]);
        for (const migration of MIGRATIONS) {
          expect(migration.mysql.length).toBeGreaterThan(0);
          expect(migration.sqlite.length).toBeGreaterThan(0);
        }
      });

      it('applies every migration to an empty database, in order', () => {
        expect(firstMigration).toEqual({ applied: MIGRATIONS.map((migration) => migration.version) });
      });

      it('applies nothing the second time and records each version once', async () => {
        const second = await store.migrate();

        expect(second).toEqual({ applied: [] });
        const { rows } = await store.database.query(
          'SELECT version, name FROM piko_migrations ORDER BY version',
        );
        expect(rows.map((row) => ({ version: Number(row.version), name: row.name }))).toEqual(
          MIGRATIONS.map(({ version, name }) => ({ version, name })),
        );
      });

      it('lets two processes migrate one database at once: one applies, the other waits and applies nothing', async () => {
        const target = await options.freshTarget();
        const children = [startMigrateChild(target.config), startMigrateChild(target.config)];
        let passed = false;
        try {
          await Promise.all(children.map((child) => child.ready));
          for (const child of children) child.go();

          const results = await Promise.all(children.map((child) => child.done));

          expect(results.map(({ code, stderr }) => ({ code, stderr: code === 0 ? '' : stderr }))).toEqual([
            { code: 0, stderr: '' },
            { code: 0, stderr: '' },
          ]);
          const applied = results.map((result) => result.applied ?? []).sort((a, b) => a.length - b.length);
          expect(applied).toEqual([[], MIGRATIONS.map((migration) => migration.version)]);
          const check = await openStore(target.config);
          try {
            const { rows } = await check.database.query('SELECT COUNT(*) AS n FROM piko_migrations');
            expect(Number(rows[0]?.n)).toBe(MIGRATIONS.length);
            expect(await check.migrate()).toEqual({ applied: [] });
          } finally {
            await check.close();
          }
          passed = true;
        } finally {
          // A child that failed (say, before ready) leaves the other one waiting with its store open:
          // stop it, and let the cleanup's own complaint (an open connection) not hide the failure.
          for (const child of children) child.kill();
          await Promise.all(children.map((child) => child.done));
          if (!passed) await target.cleanup().catch(() => undefined);
        }
        await target.cleanup();
      });

      it('migration 3 drops the copies of a backfill’s config from its runs, keeping every config as read', async () => {
        const target = await options.freshTarget();
        const old = await openStore(target.config);
        try {
          const now = T0;
          await applyMigrations(
            old.database,
            now,
            MIGRATIONS.filter((migration) => migration.version < 3),
          );
          const config = JSON.stringify({ region: 'us', ids: [1, 2] });
          await old.database.query(
            'INSERT INTO piko_backfills (backfill_id, job_id, range_start, range_end, reprocess, reverse_order, config, ' +
              "cursor_at, status, created_count, rerun_count, skipped_count, created_at, updated_at) VALUES (?, ?, ?, ?, 'missing', 0, ?, ?, 'planned', 3, 0, 0, ?, ?)",
            [
              'bf-old',
              'old_job',
              T0,
              at('2026-03-01T04:00:00Z'),
              config,
              at('2026-03-01T04:00:00Z'),
              now,
              now,
            ],
          );
          const run = (
            hour: number,
            trigger: RunTrigger,
            backfillId: string | null,
            runConfig: string | null,
          ) => [
            'old_job',
            at(`2026-03-01T0${hour}:00:00Z`),
            at(`2026-03-01T0${hour + 1}:00:00Z`),
            trigger,
            backfillId,
            runConfig,
            now,
            now,
          ];
          await old.database.query(
            'INSERT INTO piko_runs (job_id, interval_start, interval_end, status, trigger_kind, backfill_id, config, created_at, updated_at) VALUES ' +
              Array(4).fill("(?, ?, ?, 'pending', ?, ?, ?, ?, ?)").join(', '),
            [
              ...run(0, 'backfill', 'bf-old', config),
              ...run(1, 'backfill', 'bf-old', config),
              // Not its backfill's config (never written by Piko): kept.
              ...run(2, 'backfill', 'bf-old', JSON.stringify({ region: 'eu' })),
              ...run(3, 'manual', null, JSON.stringify({ by: 'ops' })),
            ],
          );

          expect(await old.migrate()).toEqual({
            applied: MIGRATIONS.filter((migration) => migration.version >= 3).map(({ version }) => version),
          });

          const { rows } = await old.database.query(
            'SELECT config FROM piko_runs WHERE job_id = ? ORDER BY interval_start',
            ['old_job'],
          );
          expect(rows.map((row) => row.config)).toEqual([
            null,
            null,
            JSON.stringify({ region: 'eu' }),
            JSON.stringify({ by: 'ops' }),
          ]);
          expect((await old.listRuns('old_job')).map((record) => record.config)).toEqual([
            { region: 'us', ids: [1, 2] },
            { region: 'us', ids: [1, 2] },
            { region: 'eu' },
            { by: 'ops' },
          ]);
          expect(await old.getBackfill('bf-old')).toMatchObject({ status: 'planned', error: null });
        } finally {
          await old.close();
          await target.cleanup();
        }
      });

      it('migration 5 gives existing runs no code version: outdated for a job that has one', async () => {
        const target = await options.freshTarget();
        const old = await openStore(target.config);
        try {
          await applyMigrations(
            old.database,
            T0,
            MIGRATIONS.filter((migration) => migration.version < 5),
          );
          await old.database.query(
            'INSERT INTO piko_runs (job_id, interval_start, interval_end, status, trigger_kind, created_at, updated_at) ' +
              "VALUES (?, ?, ?, 'succeeded', 'schedule', ?, ?)",
            ['old_job', T0, at('2026-03-01T01:00:00Z'), T0, T0],
          );

          // 5, and every later migration.
          expect(await old.migrate()).toEqual({
            applied: MIGRATIONS.filter((migration) => migration.version >= 5).map(({ version }) => version),
          });

          expect((await old.listRuns('old_job')).map((run) => run.version)).toEqual([null]);
          expect(await old.countOutdated('old_job', '1')).toBe(1);
          expect(await old.countOutdated('old_job', null)).toBe(0);
        } finally {
          await old.close();
          await target.cleanup();
        }
      });
    });

    describe('jobs and the job lock', () => {
      it('creates the job row with the initial watermark on first use', async () => {
        const jobId = newJobId('create');
        const now = setClock('2026-04-01T12:00:00.123Z');

        const seen = await store.withJob(jobAt(jobId, at('2026-03-08T06:59:59.999Z')), async (tx) => tx.job);

        const expected = {
          jobId,
          watermark: at('2026-03-08T06:59:59.999Z'),
          paused: false,
          skippedTotal: 0,
          updatedAt: now,
        };
        expect(seen).toEqual(expected);
        expect(await store.getJob(jobId)).toEqual(expected);
      });

      it('creates the row of a job without a start at its first tick at or after the store’s clock', async () => {
        const jobId = newJobId('no_start');
        const now = setClock('2026-04-01T12:20:00.000Z');

        const seen = await store.withJob(
          { id: jobId, schedule: compileSchedule('0 * * * *') },
          async (tx) => tx.job,
        );

        expect(seen).toEqual({
          jobId,
          watermark: at('2026-04-01T13:00:00.000Z'),
          paused: false,
          skippedTotal: 0,
          updatedAt: now,
        });
      });

      it('keeps the stored watermark when the row exists', async () => {
        const jobId = newJobId('existing');
        await store.withJob(jobAt(jobId, T0), async () => undefined);

        const seen = await store.withJob(
          jobAt(jobId, at('2030-01-01T00:00:00Z')),
          async (tx) => tx.job.watermark,
        );

        expect(seen).toEqual(T0);
      });

      it('returns what the work returns', async () => {
        const result = await store.withJob(jobAt(newJobId('result'), T0), async () => ({ answer: 42 }));

        expect(result).toEqual({ answer: 42 });
      });

      it('advances the watermark and adds to the skipped counter; tx.job stays the row as locked', async () => {
        const jobId = newJobId('advance');
        await store.withJob(jobAt(jobId, T0), async () => undefined);
        const now = setClock('2026-04-02T00:00:00.000Z');

        const seen = await store.withJob(jobAt(jobId, T0), async (tx) => {
          await tx.advanceWatermark(at('2026-03-01T05:00:00Z'), 3);
          await tx.advanceWatermark(at('2026-03-01T09:00:00Z'), 4);
          return tx.job;
        });

        expect(seen.watermark).toEqual(T0);
        expect(seen.skippedTotal).toBe(0);
        expect(await store.getJob(jobId)).toEqual({
          jobId,
          watermark: at('2026-03-01T09:00:00Z'),
          paused: false,
          skippedTotal: 7,
          updatedAt: now,
        });
      });

      it('returns undefined for a job it never saw', async () => {
        expect(await store.getJob('never_seen')).toBeUndefined();
      });

      it('rolls back everything when the work throws, creating nothing for a new job', async () => {
        const jobId = newJobId('rollback_new');
        const failure = new Error('planner failed');

        const attempt = store.withJob(jobAt(jobId, T0), async (tx) => {
          await tx.insertRuns(runsOf(hours(T0, 3)));
          await tx.advanceWatermark(at('2026-03-01T03:00:00Z'), 5);
          throw failure;
        });

        await expect(attempt).rejects.toBe(failure);
        expect(await store.getJob(jobId)).toBeUndefined();
        expect(await store.listRuns(jobId)).toEqual([]);
      });

      it('rolls back everything when the work throws, leaving an existing job as it was', async () => {
        const jobId = newJobId('rollback_existing');
        const before = await store.withJob(jobAt(jobId, T0), async (tx) => {
          await tx.insertRuns(runsOf(hours(T0, 1)));
          return tx.job;
        });
        await store.openBackfill({
          backfillId: `${jobId}-bf`,
          jobId,
          range: { start: T0, end: at('2026-03-02T00:00:00Z') },
          reprocess: 'missing',
          reverse: false,
          config: null,
          cursor: T0,
          status: 'planning',
          created: 0,
          rerun: 0,
          skipped: 0,
        });
        const backfillBefore = await store.getBackfill(`${jobId}-bf`);

        const attempt = store.withJob(jobAt(jobId, T0), async (tx) => {
          await tx.insertRuns(runsOf(hours(at('2026-03-01T01:00:00Z'), 2)));
          await tx.advanceWatermark(at('2026-03-01T03:00:00Z'), 5);
          await tx.updateBackfill(`${jobId}-bf`, {
            cursor: at('2026-03-01T03:00:00Z'),
            status: 'planned',
            created: 2,
            rerun: 0,
            skipped: 0,
          });
          throw new Error('late failure');
        });

        await expect(attempt).rejects.toThrow('late failure');
        expect(await store.getJob(jobId)).toEqual(before);
        expect(starts(await store.listRuns(jobId))).toEqual(['2026-03-01T00:00:00.000Z']);
        expect(await store.getBackfill(`${jobId}-bf`)).toEqual(backfillBefore);
      });

      it('serialises two transactions on one existing job: the second sees the first one’s watermark', async () => {
        const jobId = newJobId('serial');
        await store.withJob(jobAt(jobId, T0), async () => undefined);
        const events: string[] = [];
        let firstHasLock!: () => void;
        const locked = new Promise<void>((resolve) => {
          firstHasLock = resolve;
        });

        const first = store.withJob(jobAt(jobId, T0), async (tx) => {
          events.push('first locked');
          firstHasLock();
          await sleep(300);
          await tx.advanceWatermark(at('2026-03-01T01:00:00Z'), 1);
          events.push('first done');
        });
        await locked;
        const second = store.withJob(jobAt(jobId, T0), async (tx) => {
          events.push('second locked');
          return tx.job;
        });
        const [, seen] = await Promise.all([first, second]);

        expect(events).toEqual(['first locked', 'first done', 'second locked']);
        expect(seen.watermark).toEqual(at('2026-03-01T01:00:00Z'));
        expect(seen.skippedTotal).toBe(1);
      });

      it('serialises two transactions on a job whose row the first one creates', async () => {
        const jobId = newJobId('serial_new');
        const events: string[] = [];
        let firstHasLock!: () => void;
        const locked = new Promise<void>((resolve) => {
          firstHasLock = resolve;
        });

        const first = store.withJob(jobAt(jobId, T0), async (tx) => {
          events.push('first locked');
          firstHasLock();
          await sleep(300);
          await tx.advanceWatermark(at('2026-03-01T02:00:00Z'), 0);
          events.push('first done');
        });
        await locked;
        const second = store.withJob(jobAt(jobId, at('2030-01-01T00:00:00Z')), async (tx) => {
          events.push('second locked');
          return tx.job.watermark;
        });
        const [, seen] = await Promise.all([first, second]);

        expect(events).toEqual(['first locked', 'first done', 'second locked']);
        expect(seen).toEqual(at('2026-03-01T02:00:00Z'));
      });

      it('loses no update when eight transactions race on a new job', async () => {
        const jobId = newJobId('race');

        await Promise.all(
          Array.from({ length: 8 }, () =>
            store.withJob(jobAt(jobId, T0), async (tx) => {
              const next = new Date(tx.job.watermark.getTime() + HOUR_MS);
              await sleep(5);
              await tx.advanceWatermark(next, 1);
            }),
          ),
        );

        const job = await store.getJob(jobId);
        expect(job?.watermark).toEqual(at('2026-03-01T08:00:00Z'));
        expect(job?.skippedTotal).toBe(8);
      });

      it('refuses a JobTransaction used after its transaction ended', async () => {
        const jobId = newJobId('ended');
        let kept: JobTransaction | undefined;
        await store.withJob(jobAt(jobId, T0), async (tx) => {
          kept = tx;
        });

        await expect(kept!.insertRuns(runsOf(hours(T0, 1)))).rejects.toThrow(
          `The transaction on job "${jobId}" has ended; use the JobTransaction only inside withJob's callback.`,
        );
        expect(await store.listRuns(jobId)).toEqual([]);
      });

      it('pauses and resumes a job, creating its row with the initial watermark', async () => {
        const jobId = newJobId('pause');
        const pausedAt = setClock('2026-04-03T00:00:00.000Z');

        await store.setPaused(jobAt(jobId, at('2026-03-05T00:00:00Z')), true);
        const paused = await store.getJob(jobId);
        const resumedAt = setClock('2026-04-04T00:00:00.000Z');
        await store.setPaused(jobAt(jobId, at('2030-01-01T00:00:00Z')), false);

        expect(paused).toEqual({
          jobId,
          watermark: at('2026-03-05T00:00:00Z'),
          paused: true,
          skippedTotal: 0,
          updatedAt: pausedAt,
        });
        expect(await store.getJob(jobId)).toEqual({
          jobId,
          watermark: at('2026-03-05T00:00:00Z'),
          paused: false,
          skippedTotal: 0,
          updatedAt: resumedAt,
        });
        expect((await store.withJob(jobAt(jobId, T0), async (tx) => tx.job)).paused).toBe(false);
      });

      it('lists every job by id', async () => {
        const ids = ['list_c', 'list_a', 'list_b'];
        for (const id of ids) await store.withJob(jobAt(id, T0), async () => undefined);

        const jobs = await store.listJobs();

        const listed = jobs.map((job) => job.jobId);
        expect(listed).toEqual([...listed].sort());
        expect(listed.filter((id) => id.startsWith('list_'))).toEqual(['list_a', 'list_b', 'list_c']);
        expect(jobs.find((job) => job.jobId === 'list_b')?.watermark).toEqual(T0);
      });
    });

    describe('runs', () => {
      it('inserts pending runs with every field at its default', async () => {
        const jobId = newJobId('insert');
        const now = setClock('2026-04-05T10:11:12.013Z');

        const inserted = await store.withJob(jobAt(jobId, T0), (tx) => tx.insertRuns(runsOf(hours(T0, 2))));
        const runs = await store.listRuns(jobId);

        expect(inserted).toBe(2);
        expect(runs).toEqual(
          hours(T0, 2).map((interval) => ({
            runId: expect.any(Number),
            jobId,
            interval,
            status: 'pending',
            trigger: 'schedule',
            stage: null,
            attempts: 0,
            generation: 0,
            executionName: null,
            backfillId: null,
            config: null,
            error: null,
            output: null,
            createdAt: now,
            updatedAt: now,
            startedAt: null,
            finishedAt: null,
            requeues: 0,
            notBefore: null,
            version: null,
            taskArn: null,
          })),
        );
        expect(runs[1]!.runId).toBeGreaterThan(runs[0]!.runId);
        expect(await store.getRun(runs[0]!.runId)).toEqual(runs[0]);
      });

      it('ignores intervals that already have a run, in the same call or an earlier one', async () => {
        const jobId = newJobId('duplicates');
        const [a, b, c] = hours(T0, 3) as [Interval, Interval, Interval];
        await store.withJob(jobAt(jobId, T0), (tx) =>
          tx.insertRuns(runsOf([a, b], 'manual', { config: { v: 1 } })),
        );

        const inserted = await store.withJob(jobAt(jobId, T0), (tx) =>
          tx.insertRuns(runsOf([b, c, c], 'backfill', { backfillId: 'bf-dup', config: { v: 2 } })),
        );

        expect(inserted).toBe(1);
        const runs = await store.listRuns(jobId);
        expect(
          runs.map((run) => [run.interval.start.toISOString(), run.trigger, run.backfillId, run.config]),
        ).toEqual([
          ['2026-03-01T00:00:00.000Z', 'manual', null, { v: 1 }],
          ['2026-03-01T01:00:00.000Z', 'manual', null, { v: 1 }],
          ['2026-03-01T02:00:00.000Z', 'backfill', 'bf-dup', { v: 2 }],
        ]);
      });

      it('inserts 5,000 runs in one call, and none of them twice', async () => {
        const jobId = newJobId('bulk');
        const intervals = hours(T0, 5_000);

        const first = await store.withJob(jobAt(jobId, T0), (tx) => tx.insertRuns(runsOf(intervals)));
        const again = await store.withJob(jobAt(jobId, T0), (tx) =>
          tx.insertRuns(runsOf([...intervals, ...hours(new Date(T0.getTime() + 5_000 * HOUR_MS), 1)])),
        );

        expect(first).toBe(5_000);
        expect(again).toBe(1);
        const runs = await store.listRuns(jobId);
        expect(runs).toHaveLength(5_001);
        expect(new Set(runs.map((run) => run.runId)).size).toBe(5_001);
        expect(runs[0]!.interval.start).toEqual(T0);
        expect(runs[5_000]!.interval).toEqual({
          start: at('2026-09-25T08:00:00.000Z'),
          end: at('2026-09-25T09:00:00.000Z'),
        });
        expect((await store.countRuns(jobId)).pending).toBe(5_001);
      });

      it('inserts nothing for no runs', async () => {
        expect(await store.withJob(jobAt(newJobId('none'), T0), (tx) => tx.insertRuns([]))).toBe(0);
      });

      it('refuses an empty interval, naming it', async () => {
        const attempt = store.withJob(jobAt(newJobId('empty'), T0), (tx) =>
          tx.insertRuns(runsOf([{ start: T0, end: T0 }])),
        );

        await expect(attempt).rejects.toThrow(
          'Interval [2026-03-01T00:00:00.000Z, 2026-03-01T00:00:00.000Z) is empty: start must be before end.',
        );
      });

      it('round-trips times at millisecond precision, from 1969 to 2105', async () => {
        const jobId = newJobId('dates');
        const intervals = [
          { start: at('1969-12-31T23:59:59.999Z'), end: at('1970-01-01T00:00:00.000Z') },
          { start: at('2026-03-08T06:59:59.999Z'), end: at('2026-03-08T07:00:00.001Z') },
          { start: at('2105-12-31T23:59:59.998Z'), end: at('2105-12-31T23:59:59.999Z') },
        ];
        await store.withJob(jobAt(jobId, at('1969-07-20T20:17:40.001Z')), (tx) =>
          tx.insertRuns(runsOf(intervals)),
        );
        const runs = await store.listRuns(jobId);

        await store.markRunning(runs[0]!.runId, 'main', at('1969-12-31T23:59:59.999Z'));
        await store.markFailed(runs[0]!.runId, 'x', 1, at('2105-06-30T12:34:56.789Z'));
        await store.withJob(jobAt(jobId, T0), (tx) => tx.advanceWatermark(at('2105-12-31T23:59:59.999Z'), 0));

        expect(runs.map((run) => run.interval)).toEqual(intervals);
        const first = await store.getRun(runs[0]!.runId);
        expect(first?.startedAt?.toISOString()).toBe('1969-12-31T23:59:59.999Z');
        expect(first?.finishedAt?.toISOString()).toBe('2105-06-30T12:34:56.789Z');
        expect((await store.getJob(jobId))?.watermark.toISOString()).toBe('2105-12-31T23:59:59.999Z');
      });

      it('round-trips JSON config values; undefined and null read back as null', async () => {
        const jobId = newJobId('json');
        const configs: unknown[] = [
          {
            region: 'eu',
            nested: { list: [1, 2.5, 'three', null, false] },
            text: 'ünïcödé 😀 "quoted" \\ back',
          },
          [1, 'two', null],
          'just a string',
          42,
          true,
          null,
          undefined,
        ];
        const intervals = hours(T0, configs.length);

        await store.withJob(jobAt(jobId, T0), (tx) =>
          tx.insertRuns(
            intervals.map((interval, i) => ({ interval, trigger: 'manual', config: configs[i] })),
          ),
        );

        expect((await store.listRuns(jobId)).map((run) => run.config)).toEqual([
          configs[0],
          configs[1],
          'just a string',
          42,
          true,
          null,
          null,
        ]);
      });

      it('lists a job’s runs oldest first, over a half-open range', async () => {
        const jobId = newJobId('range');
        const intervals = hours(T0, 5);
        await store.withJob(jobAt(jobId, T0), (tx) => tx.insertRuns(runsOf([...intervals].reverse())));
        await seedRuns(newJobId('range_other'), runsOf(intervals));
        const oneAm = at('2026-03-01T01:00:00.000Z');

        const all = await store.listRuns(jobId);
        const middle = await store.listRuns(jobId, { from: oneAm, to: at('2026-03-01T03:00:00.000Z') });
        const justBefore = await store.listRuns(jobId, { from: at('2026-03-01T00:59:59.999Z'), to: oneAm });
        const exactly = await store.listRuns(jobId, { from: oneAm, to: at('2026-03-01T01:00:00.001Z') });
        const inTx = await store.withJob(jobAt(jobId, T0), (tx) =>
          tx.runsInRange(at('2026-03-01T00:00:00.001Z'), at('2026-03-01T02:00:00.001Z')),
        );

        expect(starts(all)).toEqual(intervals.map((interval) => interval.start.toISOString()));
        expect(starts(middle)).toEqual(['2026-03-01T01:00:00.000Z', '2026-03-01T02:00:00.000Z']);
        expect(justBefore).toEqual([]);
        expect(starts(exactly)).toEqual(['2026-03-01T01:00:00.000Z']);
        expect(starts(inTx)).toEqual(['2026-03-01T01:00:00.000Z', '2026-03-01T02:00:00.000Z']);
        expect(new Set(all.map((run) => run.jobId))).toEqual(new Set([jobId]));
      });

      it('returns undefined for an unknown run id', async () => {
        expect(await store.getRun(987_654_321)).toBeUndefined();
      });

      it('returns undefined for an id no run can have (not a whole number), on both dialects', async () => {
        for (const id of [Number.NaN, 1.5, -1, Number.POSITIVE_INFINITY]) {
          expect(await store.getRun(id)).toBeUndefined();
        }
      });
    });

    describe('dispatch lanes', () => {
      it('takes pending runs of the scheduled lane (schedule and manual) or of one backfill, oldest or newest first', async () => {
        const jobId = newJobId('lanes');
        const intervals = hours(T0, 8);
        await store.withJob(jobAt(jobId, T0), (tx) =>
          tx.insertRuns([
            ...runsOf([intervals[0]!, intervals[2]!], 'schedule'),
            ...runsOf([intervals[1]!, intervals[3]!], 'manual', { config: { by: 'ops' } }),
            ...runsOf([intervals[4]!, intervals[5]!], 'backfill', { backfillId: 'bf-a' }),
            ...runsOf([intervals[6]!, intervals[7]!], 'backfill', { backfillId: 'bf-b' }),
          ]),
        );
        const queued = (await store.listRuns(jobId))[0]!;
        await store.withJob(jobAt(jobId, T0), (tx) => tx.markQueued([queued.runId], 'exec-lanes'));

        const result = await store.withJob(jobAt(jobId, T0), async (tx) => ({
          scheduled: starts(await tx.pendingRuns({ kind: 'scheduled' }, 10)),
          scheduledTwo: starts(await tx.pendingRuns({ kind: 'scheduled' }, 2)),
          scheduledNewest: starts(await tx.pendingRuns({ kind: 'scheduled' }, 2, true)),
          backfillA: starts(await tx.pendingRuns({ kind: 'backfill', backfillId: 'bf-a' }, 10)),
          backfillBNewest: starts(await tx.pendingRuns({ kind: 'backfill', backfillId: 'bf-b' }, 1, true)),
          unknown: await tx.pendingRuns({ kind: 'backfill', backfillId: 'bf-none' }, 10),
          none: await tx.pendingRuns({ kind: 'scheduled' }, 0),
        }));

        expect(result).toEqual({
          scheduled: ['2026-03-01T01:00:00.000Z', '2026-03-01T02:00:00.000Z', '2026-03-01T03:00:00.000Z'],
          scheduledTwo: ['2026-03-01T01:00:00.000Z', '2026-03-01T02:00:00.000Z'],
          scheduledNewest: ['2026-03-01T03:00:00.000Z', '2026-03-01T02:00:00.000Z'],
          backfillA: ['2026-03-01T04:00:00.000Z', '2026-03-01T05:00:00.000Z'],
          backfillBNewest: ['2026-03-01T07:00:00.000Z'],
          unknown: [],
          none: [],
        });
      });

      it('queues only pending runs of the job, with the execution name', async () => {
        const jobId = newJobId('queue');
        const runs = await seedRuns(jobId, runsOf(hours(T0, 3)));
        const other = await seedRuns(newJobId('queue_other'), runsOf(hours(T0, 1)));
        await store.markRunning(runs[2]!.runId, 'main', T0);
        const now = setClock('2026-04-06T00:00:00.000Z');

        await store.withJob(jobAt(jobId, T0), (tx) =>
          tx.markQueued(
            [...runs, ...other].map((run) => run.runId),
            'exec-1',
          ),
        );

        const after = await store.listRuns(jobId);
        expect(after.map((run) => [run.status, run.executionName])).toEqual([
          ['queued', 'exec-1'],
          ['queued', 'exec-1'],
          ['running', null],
        ]);
        expect(after[0]!.updatedAt).toEqual(now);
        expect(await store.getRun(other[0]!.runId)).toEqual(other[0]);
      });

      it('queues nothing while the job is paused, returning how many it queued', async () => {
        const jobId = newJobId('queue_paused');
        const runs = await seedRuns(jobId, runsOf(hours(T0, 3)));
        const ids = runs.map((run) => run.runId);
        await store.setPaused(jobAt(jobId, T0), true);

        const whilePaused = await store.withJob(jobAt(jobId, T0), (tx) => tx.markQueued(ids, 'exec-paused'));
        await store.setPaused(jobAt(jobId, T0), false);
        const resumed = await store.withJob(jobAt(jobId, T0), (tx) => tx.markQueued(ids, 'exec-resumed'));

        expect(whilePaused).toBe(0);
        expect(resumed).toBe(3);
        expect((await store.listRuns(jobId)).map((run) => [run.status, run.executionName])).toEqual([
          ['queued', 'exec-resumed'],
          ['queued', 'exec-resumed'],
          ['queued', 'exec-resumed'],
        ]);
      });

      it('lists in-flight (queued and running) runs of a lane, oldest first, and the executions that hold them', async () => {
        const jobId = newJobId('inflight');
        const intervals = hours(T0, 6);
        const runs = await seedRuns(jobId, [
          ...runsOf(intervals.slice(0, 4)),
          ...runsOf(intervals.slice(4), 'backfill', { backfillId: 'bf-inflight' }),
        ]);
        const ids = runs.map((run) => run.runId);
        await store.withJob(jobAt(jobId, T0), async (tx) => {
          await tx.markQueued([ids[3]!, ids[1]!, ids[4]!], 'exec-a');
          await tx.markQueued([ids[2]!], 'exec-b');
        });
        // The older run running, the newer queued: the order is the intervals', not the statuses'.
        await store.markRunning(ids[1]!, 'main', T0);
        await store.markRunning(ids[2]!, 'main', T0);
        await store.markSucceeded(ids[2]!, null, T0);

        const result = await store.withJob(jobAt(jobId, T0), async (tx) => ({
          scheduled: (await tx.inFlightRuns({ kind: 'scheduled' })).map((run) => [run.runId, run.status]),
          backfill: (await tx.inFlightRuns({ kind: 'backfill', backfillId: 'bf-inflight' })).map(
            (run) => run.runId,
          ),
          scheduledHolders: await tx.inFlightExecutions({ kind: 'scheduled' }),
          backfillHolders: await tx.inFlightExecutions({ kind: 'backfill', backfillId: 'bf-inflight' }),
          otherBackfill: await tx.inFlightExecutions({ kind: 'backfill', backfillId: 'bf-other' }),
        }));

        expect(result).toEqual({
          scheduled: [
            [ids[1], 'running'],
            [ids[3], 'queued'],
          ],
          backfill: [ids[4]],
          // exec-b's only run succeeded: it holds nothing any more
          scheduledHolders: ['exec-a'],
          backfillHolders: ['exec-a'],
          otherBackfill: [],
        });
      });
    });

    describe('run life cycle', () => {
      it('counts attempts per stage: +1 on the same stage, 1 on a new one', async () => {
        const jobId = newJobId('running');
        const [run] = await seedRuns(jobId, runsOf(hours(T0, 1)));

        const first = await store.markRunning(run!.runId, 'extract', at('2026-04-07T00:00:00.000Z'));
        const retry = await store.markRunning(run!.runId, 'extract', at('2026-04-07T00:00:01.000Z'));
        const next = await store.markRunning(run!.runId, 'load', at('2026-04-07T00:00:02.000Z'));

        expect(first).toEqual({
          ...run,
          status: 'running',
          stage: 'extract',
          attempts: 1,
          startedAt: at('2026-04-07T00:00:00.000Z'),
          updatedAt: at('2026-04-07T00:00:00.000Z'),
        });
        expect(retry).toMatchObject({
          stage: 'extract',
          attempts: 2,
          startedAt: at('2026-04-07T00:00:01.000Z'),
        });
        expect(next).toMatchObject({ stage: 'load', attempts: 1 });
      });

      it('marks a run from the record just read as from its id; a stale record as from its id too', async () => {
        const jobId = newJobId('running_from');
        const [run, done] = await seedRuns(jobId, runsOf(hours(T0, 2)));
        const read = (await store.getRun(run!.runId))!;

        const first = await store.markRunning(
          read,
          'extract',
          at('2026-04-07T00:00:00.000Z'),
          undefined,
          '1',
        );
        expect(first).toEqual(await store.getRun(run!.runId));
        expect(first).toEqual({
          ...run,
          status: 'running',
          stage: 'extract',
          attempts: 1,
          version: '1',
          startedAt: at('2026-04-07T00:00:00.000Z'),
          updatedAt: at('2026-04-07T00:00:00.000Z'),
        });
        const retry = await store.markRunning(
          first!,
          'extract',
          at('2026-04-07T00:00:01.000Z'),
          undefined,
          '2',
        );
        expect(retry).toEqual(await store.getRun(run!.runId));
        expect(retry).toMatchObject({ stage: 'extract', attempts: 2, version: '2' });

        // `first` is stale now (attempts 2 in the row): still one attempt more, counted from the row.
        const again = await store.markRunning(first!, 'extract', at('2026-04-07T00:00:02.000Z'));
        expect(again).toEqual(await store.getRun(run!.runId));
        expect(again).toMatchObject({ stage: 'extract', attempts: 3, version: null });

        // A succeeded run is refused from its record as from its id, and stays as it is.
        await store.markRunning(done!.runId, 'main', T0);
        await store.markSucceeded(done!.runId, null, at('2026-04-07T00:00:03.000Z'));
        const succeeded = (await store.getRun(done!.runId))!;
        expect(await store.markRunning(succeeded, 'main', at('2026-04-07T00:00:04.000Z'))).toBeUndefined();
        expect(await store.getRun(done!.runId)).toEqual(succeeded);
      });

      it('records a stage output while the run keeps running', async () => {
        const jobId = newJobId('output');
        const [run] = await seedRuns(jobId, runsOf(hours(T0, 1)));
        await store.markRunning(run!.runId, 'extract', T0);

        await store.recordOutput(run!.runId, { file: 'a.gz' }, at('2026-03-01T00:01:00Z'));

        expect(await store.getRun(run!.runId)).toMatchObject({ status: 'running', output: { file: 'a.gz' } });
        await expect(store.recordOutput(987_654_321, null, T0)).rejects.toThrow();
      });

      it('refuses to mark a succeeded or unknown run running', async () => {
        const jobId = newJobId('refuse');
        const [run] = await seedRuns(jobId, runsOf(hours(T0, 1)));
        await store.markRunning(run!.runId, 'main', T0);
        await store.markSucceeded(run!.runId, { rows: 3 }, at('2026-03-01T00:05:00Z'));
        const succeeded = await store.getRun(run!.runId);

        expect(await store.markRunning(run!.runId, 'main', at('2026-03-01T00:06:00Z'))).toBeUndefined();
        expect(await store.markRunning(987_654_321, 'main', T0)).toBeUndefined();
        expect(await store.getRun(run!.runId)).toEqual(succeeded);
      });

      it('refuses to start a queued run of a paused job, leaving it as it was; a running run goes on', async () => {
        const jobId = newJobId('refuse_paused');
        const [queued, running] = await seedRuns(jobId, runsOf(hours(T0, 2)));
        await store.withJob(jobAt(jobId, T0), (tx) =>
          tx.markQueued([queued!.runId, running!.runId], 'exec-p'),
        );
        await store.markRunning(running!.runId, 'extract', T0);
        const before = await store.getRun(queued!.runId);
        await store.setPaused(jobAt(jobId, T0), true);

        const refused = await store.markRunning(queued!.runId, 'extract', at('2026-03-01T00:01:00Z'));
        const refusedFromRecord = await store.markRunning(before!, 'extract', at('2026-03-01T00:01:00Z'));
        const afterRefusal = await store.getRun(queued!.runId);
        const nextStage = await store.markRunning(running!.runId, 'load', at('2026-03-01T00:02:00Z'));
        await store.setPaused(jobAt(jobId, T0), false);
        const resumed = await store.markRunning(queued!.runId, 'extract', at('2026-03-01T00:03:00Z'));

        expect(refused).toBeUndefined();
        expect(refusedFromRecord).toBeUndefined();
        expect(before).toMatchObject({ status: 'queued', attempts: 0, executionName: 'exec-p' });
        expect(afterRefusal).toEqual(before);
        expect(nextStage).toMatchObject({ status: 'running', stage: 'load', attempts: 1 });
        expect(resumed).toMatchObject({
          status: 'running',
          stage: 'extract',
          attempts: 1,
          startedAt: at('2026-03-01T00:03:00Z'),
        });
      });

      it('records success with the output, clearing the last error', async () => {
        const jobId = newJobId('succeed');
        const [run] = await seedRuns(jobId, runsOf(hours(T0, 1)));
        await store.markRunning(run!.runId, 'main', at('2026-03-01T01:00:00Z'));
        await store.markFailed(run!.runId, 'first try failed', 1, at('2026-03-01T01:01:00Z'));
        await store.markRunning(run!.runId, 'main', at('2026-03-01T01:02:00Z'));

        await store.markSucceeded(
          run!.runId,
          { files: ['a.csv'], bytes: 1024 },
          at('2026-03-01T01:03:00.500Z'),
        );

        expect(await store.getRun(run!.runId)).toEqual({
          ...run,
          status: 'succeeded',
          stage: 'main',
          attempts: 2,
          error: null,
          output: { files: ['a.csv'], bytes: 1024 },
          startedAt: at('2026-03-01T01:02:00Z'),
          finishedAt: at('2026-03-01T01:03:00.500Z'),
          updatedAt: at('2026-03-01T01:03:00.500Z'),
        });
      });

      it('refuses to record success of an unknown run', async () => {
        await expect(store.markSucceeded(987_654_321, null, T0)).rejects.toThrow(
          'Run 987654321 does not exist.',
        );
      });

      it('records failure with its message and attempts', async () => {
        const jobId = newJobId('fail');
        const [run] = await seedRuns(jobId, runsOf(hours(T0, 1)));
        await store.markRunning(run!.runId, 'main', at('2026-03-01T01:00:00Z'));

        await store.markFailed(run!.runId, 'connection reset', 3, at('2026-03-01T01:00:09.999Z'));

        expect(await store.getRun(run!.runId)).toEqual({
          ...run,
          status: 'failed',
          stage: 'main',
          attempts: 3,
          error: 'connection reset',
          startedAt: at('2026-03-01T01:00:00Z'),
          finishedAt: at('2026-03-01T01:00:09.999Z'),
          updatedAt: at('2026-03-01T01:00:09.999Z'),
        });
      });

      it('truncates error messages to 1,000 characters, never splitting one', async () => {
        const jobId = newJobId('truncate');
        const runs = await seedRuns(jobId, runsOf(hours(T0, 3)));

        await store.markFailed(runs[0]!.runId, 'x'.repeat(1_500), 1, T0);
        await store.markFailed(runs[1]!.runId, `${'é'.repeat(999)}😀😀`, 1, T0);
        await store.markFailed(runs[2]!.runId, '😀'.repeat(1_000), 1, T0);

        const errors = (await store.listRuns(jobId)).map((run) => run.error);
        expect(errors).toEqual(['x'.repeat(1_000), `${'é'.repeat(999)}😀`, '😀'.repeat(1_000)]);
      });

      it('never turns a succeeded run into a failed one', async () => {
        const jobId = newJobId('late_failure');
        const [run] = await seedRuns(jobId, runsOf(hours(T0, 1)));
        await store.markSucceeded(run!.runId, 'ok', at('2026-03-01T02:00:00Z'));
        const succeeded = await store.getRun(run!.runId);

        await store.markFailed(run!.runId, 'duplicate delivery failed', 4, at('2026-03-01T02:00:01Z'));

        expect(await store.getRun(run!.runId)).toEqual(succeeded);
        await expect(store.markFailed(987_654_321, 'x', 1, T0)).rejects.toThrow(
          'Run 987654321 does not exist.',
        );
      });

      it('requeues queued and running runs of a lost execution: pending, next generation, attempts reset', async () => {
        const jobId = newJobId('requeue');
        const runs = await seedRuns(jobId, runsOf(hours(T0, 4)));
        const ids = runs.map((run) => run.runId);
        await store.withJob(jobAt(jobId, T0), (tx) => tx.markQueued(ids.slice(0, 3), 'exec-lost'));
        await store.markRunning(ids[1]!, 'main', at('2026-03-01T05:00:00Z'));
        await store.markFailed(ids[1]!, 'attempt 2 failed', 2, at('2026-03-01T05:00:01Z'));
        await store.markRunning(ids[1]!, 'main', at('2026-03-01T05:00:02Z'));
        await store.markRunning(ids[2]!, 'main', at('2026-03-01T05:00:00Z'));
        await store.markSucceeded(ids[2]!, null, at('2026-03-01T05:00:03Z'));
        const before = await store.listRuns(jobId);
        const now = setClock('2026-04-08T00:00:00.000Z');

        const outcome = await store.requeueRuns(ids);

        expect(outcome).toEqual({ requeued: 2, failed: 0 });
        const after = await store.listRuns(jobId);
        // The first requeue of each: counted, dispatchable after the policy's base delay.
        const notBefore = new Date(now.getTime() + store.requeuePolicy.baseDelayMs);
        expect(after[0]).toEqual({
          ...before[0],
          status: 'pending',
          generation: 1,
          executionName: null,
          updatedAt: now,
          requeues: 1,
          notBefore,
        });
        expect(after[1]).toEqual({
          ...before[1],
          status: 'pending',
          generation: 1,
          stage: null,
          attempts: 0,
          executionName: null,
          startedAt: null,
          error: 'attempt 2 failed',
          updatedAt: now,
          requeues: 1,
          notBefore,
        });
        expect(after[2]).toEqual(before[2]);
        expect(after[3]).toEqual(before[3]);
      });

      it('tells when the first delayed pending run of a lane becomes dispatchable (delayedUntil)', async () => {
        // Arrange: two runs of a lost execution requeued 5 s apart, one pending run never delayed
        const jobId = newJobId('delayed');
        const job = jobAt(jobId, T0);
        const runs = await seedRuns(jobId, runsOf(hours(T0, 3)));
        const ids = runs.map((run) => run.runId);
        await store.withJob(job, (tx) => tx.markQueued(ids.slice(0, 2), 'exec-delayed'));
        const first = setClock('2026-04-10T00:00:00.000Z');
        await store.requeueRuns([ids[0]!]);
        const second = setClock('2026-04-10T00:00:05.000Z');
        await store.requeueRuns([ids[1]!]);
        const delay = store.requeuePolicy.baseDelayMs;
        const delayedUntil = () => store.withJob(job, (tx) => tx.delayedUntil({ kind: 'scheduled' }));

        // Act / Assert: the earliest delay still ahead of the store's clock, ±1 ms at its end
        expect(await delayedUntil()).toEqual(new Date(first.getTime() + delay));
        setClock(new Date(first.getTime() + delay - 1).toISOString());
        expect(await delayedUntil()).toEqual(new Date(first.getTime() + delay));
        setClock(new Date(first.getTime() + delay).toISOString());
        expect(await delayedUntil()).toEqual(new Date(second.getTime() + delay));
        setClock(new Date(second.getTime() + delay).toISOString());
        expect(await delayedUntil()).toBeUndefined();
        // Another lane's runs are not this lane's.
        setClock(first.toISOString());
        expect(
          await store.withJob(job, (tx) => tx.delayedUntil({ kind: 'backfill', backfillId: 'bf-none' })),
        ).toBeUndefined();
      });

      it('re-arms runs for a rerun: pending, next generation, everything of the last attempt cleared', async () => {
        const jobId = newJobId('rearm');
        const runs = await seedRuns(jobId, runsOf(hours(T0, 3), 'schedule', { config: { old: true } }));
        const other = await seedRuns(newJobId('rearm_other'), runsOf(hours(T0, 1)));
        const ids = runs.map((run) => run.runId);
        await store.withJob(jobAt(jobId, T0), (tx) => tx.markQueued(ids, 'exec-old'));
        await store.markRunning(ids[0]!, 'main', at('2026-03-01T05:00:00Z'));
        await store.markFailed(ids[0]!, 'boom', 3, at('2026-03-01T05:01:00Z'));
        await store.markRunning(ids[1]!, 'main', at('2026-03-01T05:00:00Z'));
        await store.markSucceeded(ids[1]!, { rows: 1 }, at('2026-03-01T05:02:00Z'));
        const now = setClock('2026-04-09T00:00:00.000Z');

        await store.withJob(jobAt(jobId, T0), (tx) =>
          tx.rearmRuns([ids[0]!, ids[1]!, other[0]!.runId], {
            trigger: 'backfill',
            backfillId: 'bf-rerun',
            config: { region: 'us' },
          }),
        );

        const after = await store.listRuns(jobId);
        for (const index of [0, 1]) {
          expect(after[index]).toEqual({
            ...runs[index],
            status: 'pending',
            trigger: 'backfill',
            attempts: 0,
            generation: 1,
            executionName: null,
            backfillId: 'bf-rerun',
            config: { region: 'us' },
            error: null,
            output: null,
            startedAt: null,
            finishedAt: null,
            updatedAt: now,
          });
        }
        expect(after[2]).toMatchObject({ status: 'queued', generation: 0, executionName: 'exec-old' });
        expect(await store.getRun(other[0]!.runId)).toEqual(other[0]);

        await store.withJob(jobAt(jobId, T0), (tx) => tx.rearmRuns([ids[0]!], { trigger: 'manual' }));
        expect(await store.getRun(ids[0]!)).toMatchObject({
          generation: 2,
          trigger: 'manual',
          backfillId: null,
          config: null,
        });
      });

      it('counts a job’s runs per status, with zeros', async () => {
        const jobId = newJobId('counts');
        const runs = await seedRuns(jobId, runsOf(hours(T0, 6)));
        const ids = runs.map((run) => run.runId);
        await store.withJob(jobAt(jobId, T0), (tx) => tx.markQueued(ids.slice(0, 4), 'exec-counts'));
        await store.markRunning(ids[1]!, 'main', T0);
        await store.markRunning(ids[2]!, 'main', T0);
        await store.markSucceeded(ids[2]!, null, T0);
        await store.markFailed(ids[3]!, 'x', 1, T0);

        expect(await store.countRuns(jobId)).toEqual({
          waiting: 0,
          pending: 2,
          queued: 1,
          running: 1,
          succeeded: 1,
          failed: 1,
          cancelled: 0,
          skipped: 0,
        });
        expect(await store.countRuns('never_seen')).toEqual({
          waiting: 0,
          pending: 0,
          queued: 0,
          running: 0,
          succeeded: 0,
          failed: 0,
          cancelled: 0,
          skipped: 0,
        });
      });

      it('lists a job’s most recent failures, newest first', async () => {
        const jobId = newJobId('failures');
        const runs = await seedRuns(jobId, runsOf(hours(T0, 5)));
        const otherRuns = await seedRuns(newJobId('failures_other'), runsOf(hours(T0, 1)));
        const ids = runs.map((run) => run.runId);
        await store.markFailed(ids[0]!, 'third', 1, at('2026-03-02T03:00:00Z'));
        await store.markFailed(ids[1]!, 'first', 1, at('2026-03-02T01:00:00Z'));
        await store.markFailed(ids[2]!, 'second', 1, at('2026-03-02T02:00:00Z'));
        await store.markFailed(ids[3]!, 'rerun and succeeded', 1, at('2026-03-02T04:00:00Z'));
        await store.markSucceeded(ids[3]!, null, at('2026-03-02T05:00:00Z'));
        await store.markFailed(otherRuns[0]!.runId, 'other job', 1, at('2026-03-02T06:00:00Z'));

        const two = await store.recentFailures(jobId, 2);
        const all = await store.recentFailures(jobId, 10);

        expect(two.map((run) => run.error)).toEqual(['third', 'second']);
        expect(all.map((run) => [run.runId, run.error])).toEqual([
          [ids[0], 'third'],
          [ids[2], 'second'],
          [ids[1], 'first'],
        ]);
        expect(await store.recentFailures(jobId, 0)).toEqual([]);
      });
    });

    describe("updates conditional on the run's owner", () => {
      /** One run of a fresh job, queued under `executionName` (generation 0). */
      async function queuedRun(label: string, executionName = `${label}-s1`) {
        const jobId = newJobId(label);
        const [run] = await seedRuns(jobId, runsOf(hours(T0, 1)));
        await store.withJob(jobAt(jobId, T0), (tx) => tx.markQueued([run!.runId], executionName));
        const owner = { jobId, executionName, generation: 0 };
        return { run: (await store.getRun(run!.runId))!, owner };
      }

      it('applies every stage update when job, execution name and generation match', async () => {
        const { run, owner } = await queuedRun('own-ok');

        const running = await store.markRunning(run.runId, 'extract', at('2026-03-01T00:01:00Z'), owner);
        await store.recordOutput(run.runId, { file: 'a.gz' }, at('2026-03-01T00:02:00Z'), owner);
        await store.markSucceeded(run.runId, { rows: 1 }, at('2026-03-01T00:03:00Z'), owner);

        expect(running).toMatchObject({ status: 'running', stage: 'extract', attempts: 1 });
        expect(await store.getRun(run.runId)).toMatchObject({ status: 'succeeded', output: { rows: 1 } });
      });

      it('changes nothing for another job, another execution or another generation, and says why', async () => {
        const { run, owner } = await queuedRun('own-stale');
        await store.markRunning(run.runId, 'main', T0, owner);
        const before = await store.getRun(run.runId);
        const strangers = [
          [
            { ...owner, jobId: 'someone_else' },
            `run ${run.runId} belongs to job "${owner.jobId}", not "someone_else"`,
          ],
          [
            { ...owner, executionName: 'forged-s1' },
            `run ${run.runId} is held by execution "${owner.executionName}" (status running), not by "forged-s1"`,
          ],
          [
            { ...owner, generation: 1 },
            `run ${run.runId} is in generation 0, not 1 (it was re-armed or requeued since)`,
          ],
        ] as const;

        for (const [stranger, reason] of strangers) {
          const message = `Stage event refused: ${reason}; nothing was written. Only the execution that holds a run, in its current generation, may update it.`;
          expect(
            await store.markRunning(run.runId, 'main', at('2026-03-01T00:09:00Z'), stranger),
          ).toBeUndefined();
          await expect(store.recordOutput(run.runId, 'forged', T0, stranger)).rejects.toThrow(message);
          await expect(store.markSucceeded(run.runId, 'forged', T0, stranger)).rejects.toThrow(message);
          await expect(store.markFailed(run.runId, 'forged', 1, T0, stranger)).rejects.toThrow(message);
          await expect(store.requeueRuns([run.runId], stranger)).rejects.toThrow(message);
          await expect(store.markFailed(run.runId, 'forged', 1, T0, stranger)).rejects.toBeInstanceOf(
            StageEventRefusedError,
          );
        }

        expect(await store.getRun(run.runId)).toEqual(before);
      });

      it('refuses the old owner once the run was requeued under a new generation', async () => {
        const { run, owner } = await queuedRun('own-requeued');
        await store.markRunning(run.runId, 'main', T0, owner);
        await store.requeueRuns([run.runId], owner);
        const requeued = await store.getRun(run.runId);

        await expect(store.markSucceeded(run.runId, 'late', T0, owner)).rejects.toThrow(
          `run ${run.runId} is held by no execution (status pending), not by "${owner.executionName}"`,
        );

        expect(requeued).toMatchObject({ status: 'pending', generation: 1, executionName: null });
        expect(await store.getRun(run.runId)).toEqual(requeued);
      });

      it('leaves a succeeded run succeeded when its owner reports a late failure', async () => {
        const { run, owner } = await queuedRun('own-late');
        await store.markRunning(run.runId, 'main', T0, owner);
        await store.markSucceeded(run.runId, null, at('2026-03-01T00:05:00Z'), owner);
        const succeeded = await store.getRun(run.runId);

        await store.markFailed(run.runId, 'duplicate delivery failed', 2, at('2026-03-01T00:06:00Z'), owner);
        await store.requeueRuns([run.runId], owner);

        expect(await store.getRun(run.runId)).toEqual(succeeded);
        await expect(store.markSucceeded(987_654_321, null, T0, owner)).rejects.toThrow(
          'Run 987654321 does not exist.',
        );
      });
    });

    describe('calls made in one turn of the event loop (grouped)', () => {
      it('gives each call its own outcome when some in the group are refused or unknown', async () => {
        const jobId = newJobId('group-mixed');
        const runs = await seedRuns(jobId, runsOf(hours(T0, 4)));
        const ids = runs.map((run) => run.runId);
        await store.withJob(jobAt(jobId, T0), (tx) => tx.markQueued(ids, 'group-s1'));
        const owner = { jobId, executionName: 'group-s1', generation: 0 };
        const stranger = { ...owner, generation: 3 };

        // One turn: starts owned and forged, an unknown run, reads.
        const started = await Promise.all([
          store.markRunning(ids[0]!, 'main', T0, owner),
          store.markRunning(ids[1]!, 'main', T0, stranger),
          store.markRunning(ids[2]!, 'main', T0, owner),
          store.markRunning(987_654_321, 'main', T0, owner),
          store.getRun(ids[3]!),
          store.getRun(987_654_322),
        ]);
        expect(started.map((record) => record?.status)).toEqual([
          'running',
          undefined,
          'running',
          undefined,
          'queued',
          undefined,
        ]);

        // One turn: successes, a forged one and an unknown run.
        const finished = await Promise.allSettled([
          store.markSucceeded(ids[0]!, { n: 0 }, at('2026-03-01T00:01:00Z'), owner),
          store.markSucceeded(ids[2]!, stranger.generation, T0, stranger),
          store.markSucceeded(987_654_321, null, T0, owner),
          store.markSucceeded(ids[2]!, { n: 2 }, at('2026-03-01T00:02:00Z'), owner),
        ]);
        expect(finished.map((outcome) => outcome.status)).toEqual([
          'fulfilled',
          'rejected',
          'rejected',
          'fulfilled',
        ]);
        expect((finished[1] as PromiseRejectedResult).reason).toBeInstanceOf(StageEventRefusedError);
        expect(String((finished[2] as PromiseRejectedResult).reason)).toContain(
          'Run 987654321 does not exist.',
        );

        const after = await store.listRuns(jobId);
        expect(after.map((run) => [run.status, run.attempts, run.output])).toEqual([
          ['succeeded', 1, { n: 0 }],
          ['queued', 0, null],
          ['succeeded', 1, { n: 2 }],
          ['queued', 0, null],
        ]);
      });

      it('starts runs from their records in one turn when one changed since it was read, and one is paused out', async () => {
        const jobId = newJobId('group-records');
        const runs = await seedRuns(jobId, runsOf(hours(T0, 5)));
        const ids = runs.map((run) => run.runId);
        await store.withJob(jobAt(jobId, T0), (tx) => tx.markQueued(ids, 'group-r1'));
        const owner = { jobId, executionName: 'group-r1', generation: 0 };
        const read = await Promise.all(ids.map((id) => store.getRun(id)));
        // Run 1 changes after the read (started and finished by someone holding it): its stale
        // record matches no row, so the merged start of the group matches fewer rows than it merged.
        await store.markRunning(ids[1]!, 'main', T0, owner);
        await store.markSucceeded(ids[1]!, null, T0, owner);

        const started = await Promise.all(
          read.map((record) => store.markRunning(record!, 'main', at('2026-03-01T00:05:00Z'), owner, 'v2')),
        );
        expect(started.map((record) => [record?.status, record?.attempts, record?.version])).toEqual([
          ['running', 1, 'v2'],
          [undefined, undefined, undefined],
          ['running', 1, 'v2'],
          ['running', 1, 'v2'],
          ['running', 1, 'v2'],
        ]);
        await Promise.all(
          [0, 2, 3, 4].map((index) =>
            store.markSucceeded(ids[index]!, { index }, at('2026-03-01T00:06:00Z'), owner, 'v2'),
          ),
        );
        const after = await store.listRuns(jobId);
        expect(after.map((run) => [run.status, run.attempts, run.output, run.version])).toEqual([
          ['succeeded', 1, { index: 0 }, 'v2'],
          ['succeeded', 1, null, null],
          ['succeeded', 1, { index: 2 }, 'v2'],
          ['succeeded', 1, { index: 3 }, 'v2'],
          ['succeeded', 1, { index: 4 }, 'v2'],
        ]);
        expect(after[0]!.finishedAt).toEqual(at('2026-03-01T00:06:00Z'));
      });

      it('counts a start once when its group committed and the answer was lost', async () => {
        const jobId = newJobId('group-lost');
        const runs = await seedRuns(jobId, runsOf(hours(T0, 5)));
        const ids = runs.map((run) => run.runId);
        await store.withJob(jobAt(jobId, T0), (tx) => tx.markQueued(ids, 'group-l1'));
        const owner = { jobId, executionName: 'group-l1', generation: 0 };
        const read = await Promise.all(ids.slice(0, 3).map((id) => store.getRun(id)));
        // The group commits; its answer is lost on the way back (a connection dropped after COMMIT).
        const db = store.database as { writeBatch?: (...args: unknown[]) => Promise<unknown> };
        const writeBatch = db.writeBatch!;
        let lost = false;
        db.writeBatch = async function (this: unknown, ...args: unknown[]) {
          const results = await writeBatch.apply(this, args);
          if (lost) return results;
          lost = true;
          throw new StoreUnavailableError('Lost connection to the state store (the answer of a COMMIT)');
        };
        const now = at('2026-03-01T00:05:00Z');
        let started: (RunRecord | undefined)[];
        try {
          started = await Promise.all([
            ...read.map((record) => store.markRunning(record!, 'main', now, owner, 'v3')),
            store.markRunning(ids[3]!, 'main', now, owner, 'v3'),
            store.markRunning(ids[4]!, 'main', now, owner, 'v3'),
          ]);
        } finally {
          db.writeBatch = writeBatch;
        }

        expect(lost).toBe(true);
        expect(started.map((record) => [record?.status, record?.attempts, record?.version])).toEqual(
          ids.map(() => ['running', 1, 'v3']),
        );
        expect(started.map((record) => record?.startedAt)).toEqual(ids.map(() => now));
        const after = await store.listRuns(jobId);
        expect(after.map((run) => [run.status, run.attempts])).toEqual(ids.map(() => ['running', 1]));
      });

      it('counts a start alone once when its answer was lost, and fails it when it never arrived', async () => {
        const jobId = newJobId('alone-lost');
        const runs = await seedRuns(jobId, runsOf(hours(T0, 2)));
        const ids = runs.map((run) => run.runId);
        await store.withJob(jobAt(jobId, T0), (tx) => tx.markQueued(ids, 'alone-l1'));
        const owner = { jobId, executionName: 'alone-l1', generation: 0 };
        const db = store.database as { query: typeof store.database.query };
        const query = db.query;
        const lostUpdates: string[] = [];
        /** The next start's UPDATE: run and its answer lost (`after`), or never sent (`before`). */
        const loseNextStart = (when: 'before' | 'after') => {
          db.query = async function (this: unknown, sql, params) {
            if (!sql.startsWith('UPDATE')) return query.call(this, sql, params);
            db.query = query;
            lostUpdates.push(when);
            if (when === 'after') await query.call(this, sql, params);
            throw new StoreUnavailableError('Lost connection to the state store (simulated)');
          };
        };
        const now = at('2026-03-01T00:07:00Z');
        try {
          loseNextStart('after');
          const started = await store.markRunning((await store.getRun(ids[0]!))!, 'main', now, owner);
          expect([started?.status, started?.attempts]).toEqual(['running', 1]);
          loseNextStart('before');
          await expect(store.markRunning(ids[1]!, 'main', now, owner)).rejects.toThrow(StoreUnavailableError);
        } finally {
          db.query = query;
        }

        expect(lostUpdates).toEqual(['after', 'before']);
        const after = await store.listRuns(jobId);
        expect(after.map((run) => [run.status, run.attempts])).toEqual([
          ['running', 1],
          ['queued', 0],
        ]);
      });

      it('starts and finishes 120 runs at once, more than one round trip of statements carries', async () => {
        const jobId = newJobId('group-large');
        const runs = await seedRuns(jobId, runsOf(hours(T0, 120)));
        const ids = runs.map((run) => run.runId);
        await store.withJob(jobAt(jobId, T0), (tx) =>
          tx.markQueued(ids, `${'long-execution-name-'.repeat(3)}s1`),
        );
        const owner = { jobId, executionName: `${'long-execution-name-'.repeat(3)}s1`, generation: 0 };

        const started = await Promise.all(ids.map((id) => store.markRunning(id, 'main', T0, owner, 'v1')));
        expect(started.map((record) => [record?.runId, record?.status, record?.attempts])).toEqual(
          ids.map((id) => [id, 'running', 1]),
        );
        await Promise.all(
          ids.map((id) => store.markSucceeded(id, { id }, at('2026-03-01T00:01:00Z'), owner, 'v1')),
        );

        const after = await store.listRuns(jobId);
        expect(after.every((run) => run.status === 'succeeded' && run.attempts === 1)).toBe(true);
        expect(after.map((run) => run.output)).toEqual(ids.map((id) => ({ id })));
      });
    });

    describe('the record a run was queued with (runToStart)', () => {
      /** Queues the job's pending runs as a dispatcher does (read, then queue, in one transaction). */
      async function queuePending(jobId: string, executionName: string, fail = false): Promise<void> {
        await store.withJob(jobAt(jobId, T0), async (tx) => {
          const pending = await tx.pendingRuns({ kind: 'scheduled' }, 100);
          await tx.markQueued(
            pending.map((run) => run.runId),
            executionName,
          );
          if (fail) throw new Error('rolled back after queuing');
        });
      }

      /** Counts the statements the store's database is given while `work` runs. */
      async function countingStatements<T>(
        work: () => Promise<T>,
      ): Promise<{ value: T; statements: string[] }> {
        const db = store.database as { query: typeof store.database.query };
        const query = db.query;
        const statements: string[] = [];
        db.query = function (this: unknown, sql, params) {
          statements.push(sql);
          return query.call(this, sql, params);
        };
        try {
          return { value: await work(), statements };
        } finally {
          db.query = query;
        }
      }

      it('answers with the queued record, without a read, once; it is the record the database holds', async () => {
        const jobId = newJobId('hint-queued');
        const [seeded] = await seedRuns(jobId, runsOf(hours(T0, 1)));
        await queuePending(jobId, 'hint-q1');
        const owner = { jobId, executionName: 'hint-q1', generation: 0 };
        const { value: hinted, statements } = await countingStatements(() =>
          store.runToStart(seeded!.runId, owner),
        );
        expect(statements).toEqual([]);
        expect(hinted).toEqual(await store.getRun(seeded!.runId));
        const started = await store.markRunning(hinted!, 'main', T0, owner);
        expect(started).toEqual(await store.getRun(seeded!.runId));
        expect(started?.status).toBe('running');
        // Taken: asked again, it is read.
        const again = await countingStatements(() => store.runToStart(seeded!.runId, owner));
        expect(again.statements.length).toBeGreaterThan(0);
        expect(again.value?.status).toBe('running');
      });

      it('keeps nothing from a queuing that rolled back, nor for another owner', async () => {
        const jobId = newJobId('hint-rollback');
        const [seeded] = await seedRuns(jobId, runsOf(hours(T0, 1)));
        await expect(queuePending(jobId, 'hint-rb1', true)).rejects.toThrow('rolled back after queuing');
        const owner = { jobId, executionName: 'hint-rb1', generation: 0 };
        expect((await store.runToStart(seeded!.runId, owner))?.status).toBe('pending');
        await queuePending(jobId, 'hint-rb2');
        const stranger = { jobId, executionName: 'hint-rb-forged', generation: 0 };
        const read = await countingStatements(() => store.runToStart(seeded!.runId, stranger));
        expect(read.statements.length).toBeGreaterThan(0);
        expect(read.value?.executionName).toBe('hint-rb2');
      });

      it('starts nothing from a stale record: cancelled, paused or re-armed since it was queued', async () => {
        const jobId = newJobId('hint-stale');
        const runs = await seedRuns(jobId, runsOf(hours(T0, 3)));
        const ids = runs.map((run) => run.runId);
        await queuePending(jobId, 'hint-s1');
        const owner = { jobId, executionName: 'hint-s1', generation: 0 };
        // Since the queuing: run 0 cancelled by an operator, run 1 re-armed (a new generation).
        await store.withJob(jobAt(jobId, T0), async (tx) => {
          await tx.cancelRuns([ids[0]!]);
          await tx.rearmRuns([ids[1]!], { trigger: 'schedule', backfillId: null, config: null });
        });
        const hints = await Promise.all(ids.map((id) => store.runToStart(id, owner)));
        expect(hints.map((hint) => hint?.status)).toEqual(['queued', 'queued', 'queued']);
        const started = await Promise.all(hints.map((hint) => store.markRunning(hint!, 'main', T0, owner)));
        expect(started.map((record) => record?.status)).toEqual([undefined, undefined, 'running']);
        const after = await store.listRuns(jobId);
        expect(after.map((run) => [run.status, run.generation, run.attempts])).toEqual([
          ['cancelled', 0, 0],
          ['pending', 1, 0],
          ['running', 0, 1],
        ]);

        // A pause after the queuing: the queued record starts nothing either.
        const pausedJob = newJobId('hint-paused');
        const [paused] = await seedRuns(pausedJob, runsOf(hours(T0, 1)));
        await queuePending(pausedJob, 'hint-p1');
        await store.setPaused(jobAt(pausedJob, T0), true);
        const pausedOwner = { jobId: pausedJob, executionName: 'hint-p1', generation: 0 };
        const hint = await store.runToStart(paused!.runId, pausedOwner);
        expect(await store.markRunning(hint!, 'main', T0, pausedOwner)).toBeUndefined();
        expect((await store.getRun(paused!.runId))?.status).toBe('queued');
      });
    });

    describe('backfills', () => {
      const request = (backfillId: string, jobId: string) => ({
        backfillId,
        jobId,
        range: { start: at('1969-12-01T00:00:00.000Z'), end: at('2105-01-01T00:00:00.001Z') },
        reprocess: 'failed' as const,
        reverse: true,
        config: { region: 'us', ids: [1, 2] },
        cursor: at('2105-01-01T00:00:00.001Z'),
        status: 'planning' as const,
        created: 0,
        rerun: 0,
        skipped: 0,
      });

      it('opens a backfill, then returns the existing one for the same id', async () => {
        const jobId = newJobId('backfill');
        const createdAt = setClock('2026-04-10T00:00:00.000Z');

        const opened = await store.openBackfill(request(`${jobId}-1`, jobId));
        setClock('2026-04-11T00:00:00.000Z');
        const reopened = await store.openBackfill({
          ...request(`${jobId}-1`, jobId),
          reprocess: 'all',
          reverse: false,
        });

        const expected = {
          ...request(`${jobId}-1`, jobId),
          error: null,
          concurrency: null,
          createdAt,
          updatedAt: createdAt,
        };
        expect(opened).toEqual(expected);
        expect(reopened).toEqual(expected);
        expect(await store.getBackfill(`${jobId}-1`)).toEqual(expected);
        expect(await store.getBackfill('bf-never')).toBeUndefined();
      });

      it('keeps a backfill’s chain (a --downstream backfill on AWS): set, read back, replaced, cleared', async () => {
        const jobId = newJobId('backfill_chain');
        const root = `${jobId}-root`;
        const member = `${jobId}-member`;
        await store.openBackfill({ ...request(root, jobId), reverse: false, cursor: T0 });
        await store.openBackfill({ ...request(member, jobId), reverse: false, cursor: T0 });
        const chain = {
          kind: 'root' as const,
          downstream: [
            { jobId: 'mid', from: at('2026-01-01T00:00:00.000Z'), to: at('2026-01-01T06:00:00.000Z') },
            { jobId: 'leaf', from: at('2026-01-01T00:00:00.000Z'), to: at('2026-01-02T00:00:00.000Z') },
          ],
          current: -1,
        };
        const job = jobAt(jobId, T0);

        const before = await store.getBackfillChain(root);
        await store.withJob(job, async (tx) => {
          await tx.setBackfillChain(root, chain);
          await tx.setBackfillChain(member, { kind: 'member', root });
        });
        const set = await store.getBackfillChain(root);
        await store.withJob(job, (tx) => tx.setBackfillChain(root, { ...chain, current: 1 }));
        const moved = await store.getBackfillChain(root);

        expect(before).toBeNull();
        expect(set).toEqual(chain);
        expect(moved).toEqual({ ...chain, current: 1 });
        expect(await store.getBackfillChain(member)).toEqual({ kind: 'member', root });
        expect(await store.getBackfillChain('bf-never')).toBeNull();
        await expect(
          store.withJob(job, (tx) => tx.setBackfillChain(root, { ...chain, current: 2 })),
        ).rejects.toThrow('Backfill chain position must be -1 to 1, got 2.');
        await expect(store.withJob(job, (tx) => tx.setBackfillChain('bf-never', null))).rejects.toThrow(
          `Backfill "bf-never" of job "${jobId}" does not exist; create it with openBackfill first.`,
        );
        await store.withJob(job, (tx) => tx.setBackfillChain(root, null));
        expect(await store.getBackfillChain(root)).toBeNull();
      });

      it('moves the cursor and status and adds to the counts, with the runs of the same transaction', async () => {
        const jobId = newJobId('backfill_update');
        const backfillId = `${jobId}-1`;
        await store.openBackfill({ ...request(backfillId, jobId), reverse: false, cursor: T0 });
        const now = setClock('2026-04-12T00:00:00.000Z');

        await store.withJob(jobAt(jobId, T0), async (tx) => {
          await tx.insertRuns(runsOf(hours(T0, 2), 'backfill', { backfillId }));
          await tx.updateBackfill(backfillId, {
            cursor: at('2026-03-01T02:00:00Z'),
            status: 'planning',
            created: 2,
            rerun: 1,
            skipped: 3,
          });
        });
        await store.withJob(jobAt(jobId, T0), (tx) =>
          tx.updateBackfill(backfillId, {
            cursor: at('2026-03-01T04:00:00Z'),
            status: 'planned',
            created: 2,
            rerun: 0,
            skipped: 1,
          }),
        );

        expect(await store.getBackfill(backfillId)).toMatchObject({
          cursor: at('2026-03-01T04:00:00Z'),
          status: 'planned',
          created: 4,
          rerun: 1,
          skipped: 4,
          updatedAt: now,
        });
        expect((await store.countRuns(jobId)).pending).toBe(2);
      });

      it('lists backfills newest first with run counts; a paused one queues nothing, a cancel and resume move its runs', async () => {
        // Arrange: two backfills of one job, three runs of the second
        const jobId = newJobId('backfill_held');
        const [older, newer] = [`${jobId}-a`, `${jobId}-b`];
        setClock('2026-04-12T00:00:00.000Z');
        await store.openBackfill({ ...request(older, jobId), reverse: false, cursor: T0 });
        setClock('2026-04-12T00:00:01.000Z');
        await store.openBackfill({ ...request(newer, jobId), reverse: false, cursor: T0, concurrency: 3 });
        await store.withJob(jobAt(jobId, T0), (tx) =>
          tx.insertRuns(runsOf(hours(T0, 3), 'backfill', { backfillId: newer })),
        );

        // Act
        const pendingWhilePaused = await store.withJob(jobAt(jobId, T0), async (tx) => {
          await tx.setBackfillStatus(newer, 'paused');
          // A planner that had not seen the pause keeps it.
          await tx.updateBackfill(newer, {
            cursor: T0,
            status: 'planning',
            created: 3,
            rerun: 0,
            skipped: 0,
          });
          const lane = { kind: 'backfill', backfillId: newer } as const;
          const runs = await store.listRuns(jobId);
          return {
            pending: await tx.pendingRuns(lane, 10),
            queued: await tx.markQueued(
              runs.map((run) => run.runId),
              'exec-held',
            ),
          };
        });
        const listed = await store.listBackfills({ jobId, limit: 10 });
        const cancelled = await store.withJob(jobAt(jobId, T0), (tx) => tx.cancelBackfillRuns(newer, 'stop'));
        const afterCancel = await store.backfillRunCounts(jobId, newer);
        const resumed = await store.withJob(jobAt(jobId, T0), (tx) =>
          tx.resumeCancelledRuns(newer, 'pending'),
        );

        // Assert
        expect(pendingWhilePaused).toEqual({ pending: [], queued: 0 });
        expect(
          listed.map((backfill) => [backfill.backfillId, backfill.status, backfill.concurrency]),
        ).toEqual([
          [newer, 'paused', 3],
          [older, 'planning', null],
        ]);
        expect(await store.listBackfills({ limit: 1 })).toHaveLength(1);
        // What a runtime adopts: only the unfinished ones (the paused one waits for its resume).
        expect(
          (await store.listBackfills({ jobId, statuses: ['planning', 'planned'], limit: 10 })).map(
            (backfill) => backfill.backfillId,
          ),
        ).toEqual([older]);
        expect(await store.listBackfills({ jobId, statuses: [], limit: 10 })).toEqual([]);
        expect(cancelled).toBe(3);
        expect(afterCancel).toEqual({
          waiting: 0,
          pending: 0,
          queued: 0,
          running: 0,
          succeeded: 0,
          failed: 0,
          cancelled: 3,
          skipped: 0,
        });
        expect(resumed).toBe(3);
        const runs = await store.listRuns(jobId);
        expect(runs.map((run) => [run.status, run.generation, run.error])).toEqual([
          ['pending', 2, null],
          ['pending', 2, null],
          ['pending', 2, null],
        ]);
      });

      it('cancels a downstream backfill’s waiting runs too, and resumes them waiting', async () => {
        // Arrange: a backfill of a job with upstream jobs: its runs wait for their upstream intervals
        const jobId = 'bf_waiting';
        const id = 'bf-00000000000000000077';
        await store.openBackfill({ ...request(id, jobId), reverse: false, cursor: T0 });
        await store.withJob(jobAt(jobId, T0), (tx) =>
          tx.insertRuns(runsOf(hours(T0, 2), 'backfill', { backfillId: id, status: 'waiting' })),
        );

        // Act
        const cancelled = await store.withJob(jobAt(jobId, T0), (tx) => tx.cancelBackfillRuns(id, 'stop'));
        const afterCancel = (await store.listRuns(jobId)).map((run) => run.status);
        const resumed = await store.withJob(jobAt(jobId, T0), (tx) => tx.resumeCancelledRuns(id, 'waiting'));

        // Assert: none left waiting for ever after the cancel; after the resume they wait again
        expect(cancelled).toBe(2);
        expect(afterCancel).toEqual(['cancelled', 'cancelled']);
        expect(resumed).toBe(2);
        expect((await store.listRuns(jobId)).map((run) => [run.status, run.generation])).toEqual([
          ['waiting', 2],
          ['waiting', 2],
        ]);
      });

      it('refuses to update a backfill the job does not have, rolling the transaction back', async () => {
        const jobId = newJobId('backfill_unknown');
        await store.openBackfill(request(`${jobId}-other-job`, 'someone_else'));

        const attempt = store.withJob(jobAt(jobId, T0), async (tx) => {
          await tx.insertRuns(runsOf(hours(T0, 1)));
          await tx.updateBackfill(`${jobId}-other-job`, {
            cursor: T0,
            status: 'done',
            created: 1,
            rerun: 0,
            skipped: 0,
          });
        });

        await expect(attempt).rejects.toThrow(
          `Backfill "${jobId}-other-job" of job "${jobId}" does not exist; create it with openBackfill first.`,
        );
        await expect(attempt).rejects.toBeInstanceOf(StoreError);
        expect(await store.listRuns(jobId)).toEqual([]);
      });
    });

    describe('operator actions', () => {
      it('records actions with who, why and when, and lists them newest first, per job and in pages', async () => {
        const jobId = newJobId('actions');
        const other = newJobId('actions_other');
        const now = setClock('2026-04-02T08:00:00.000Z');
        await store.recordAction({
          jobId,
          kind: 'pause',
          target: jobId,
          actor: 'ana@laptop',
          reason: 'upstream late',
        });
        await store.withJob(jobAt(jobId, T0), (tx) =>
          tx.recordAction({
            kind: 'mark',
            target: '2026-03-01T00:00:00.000Z/2026-03-02T00:00:00.000Z',
            actor: 'ana@laptop',
            reason: 'loaded by hand',
            details: { marked: 24 },
          }),
        );
        await store.recordAction({ jobId: other, kind: 'resume', target: other, actor: 'bo@ci' });

        const mine = await store.listActions({ jobId, limit: 10 });
        expect(mine.map((action) => [action.kind, action.reason, action.details])).toEqual([
          ['mark', 'loaded by hand', { marked: 24 }],
          ['pause', 'upstream late', null],
        ]);
        expect(mine[0]).toMatchObject({ jobId, actor: 'ana@laptop', at: now });
        const firstPage = await store.listActions({ jobId, limit: 1 });
        const nextPage = await store.listActions({ jobId, limit: 1, beforeId: firstPage[0]?.actionId });
        expect([...firstPage, ...nextPage].map((action) => action.kind)).toEqual(['mark', 'pause']);
        const all = await store.listActions({ limit: 1_000 });
        expect(all.filter((action) => action.jobId === other).map((action) => action.kind)).toEqual([
          'resume',
        ]);
      });

      it("rolls an action back with its job transaction's effect", async () => {
        const jobId = newJobId('actions_rollback');
        await expect(
          store.withJob(jobAt(jobId, T0), async (tx) => {
            await tx.recordAction({ kind: 'cancel', target: 'x', actor: 'ana@laptop' });
            throw new Error('the effect failed');
          }),
        ).rejects.toThrow('the effect failed');
        expect(await store.listActions({ jobId, limit: 10 })).toEqual([]);
      });

      it('refuses an action with every problem listed, and truncates a long reason', async () => {
        const jobId = newJobId('actions_bad');
        await expect(
          store.recordAction({ jobId, kind: 'explode' as never, target: 'x'.repeat(201), actor: '' }),
        ).rejects.toThrow(/kind "explode".*target must be.*actor must be/);
        await store.recordAction({
          jobId,
          kind: 'mark',
          target: 'x',
          actor: 'ana',
          reason: 'r'.repeat(5_000),
        });
        const [action] = await store.listActions({ jobId, limit: 1 });
        expect(action?.reason).toHaveLength(1_000);
      });
    });

    describe('alerts', () => {
      it('claims a planning’s skip alert in its transaction: kept with its commit, gone with its rollback', async () => {
        const alerts = alertStoreOf(store);
        const skipped = {
          start: T0,
          end: new Date(T0.getTime() + 3 * HOUR_MS),
          intervals: 3,
        };
        const raisedAt = at('2026-03-02T09:00:00.000Z');
        const rolledBack = newJobId('skip_rollback');
        await expect(
          store.withJob(jobAt(rolledBack, T0), async (tx) => {
            expect(await tx.claimSkippedAlert(skipped, raisedAt)).toEqual([skipped]);
            throw new Error('the planning failed after its claim');
          }),
        ).rejects.toThrow('the planning failed after its claim');
        expect(await alerts.list(rolledBack)).toEqual([]);

        const committed = newJobId('skip_commit');
        const first = await store.withJob(jobAt(committed, T0), (tx) =>
          tx.claimSkippedAlert(skipped, raisedAt),
        );
        const again = await store.withJob(jobAt(committed, T0), (tx) =>
          tx.claimSkippedAlert(skipped, raisedAt),
        );
        expect([first, again]).toEqual([[skipped], []]);
        expect((await alerts.list(committed)).map((alert) => [alert.kind, alert.announcedAt])).toEqual([
          ['skipped', null],
        ]);
      });

      it('lists the claims never announced, across jobs, oldest claim first, until each is marked', async () => {
        const alerts = alertStoreOf(store);
        const jobA = newJobId('unannounced_a');
        const jobB = newJobId('unannounced_b');
        const range = (hour: number) => ({
          start: new Date(T0.getTime() + hour * HOUR_MS),
          end: new Date(T0.getTime() + (hour + 1) * HOUR_MS),
          intervals: 1,
        });
        await alerts.claim(jobA, 'late', [range(1), range(3)], at('2026-03-02T09:00:00.000Z'));
        await alerts.claim(jobB, 'skipped', [range(0)], at('2026-03-02T08:00:00.000Z'));
        await alerts.claim(jobA, 'skipped', [range(5)], at('2026-03-02T10:00:00.000Z'));
        const mine = async (before: string) =>
          (await alerts.unannounced(at(before), 100))
            .filter((alert) => alert.jobId === jobA || alert.jobId === jobB)
            .map((alert) => [alert.jobId, alert.kind, alert.start.getTime() - T0.getTime()]);

        expect(await mine('2026-03-02T09:30:00.000Z')).toEqual([
          [jobB, 'skipped', 0],
          [jobA, 'late', HOUR_MS],
          [jobA, 'late', 3 * HOUR_MS],
        ]);
        await alerts.markAnnounced(jobA, 'late', [range(1).start], at('2026-03-02T09:31:00.000Z'));
        await alerts.markAnnounced(jobB, 'skipped', [range(0).start], at('2026-03-02T09:31:00.000Z'));
        expect(await mine('2026-03-02T11:00:00.000Z')).toEqual([
          [jobA, 'late', 3 * HOUR_MS],
          [jobA, 'skipped', 5 * HOUR_MS],
        ]);
        expect((await alerts.list(jobA))[0]?.announcedAt).toEqual(at('2026-03-02T09:31:00.000Z'));
        await expect(alerts.unannounced(at('2026-03-02T11:00:00.000Z'), -1)).rejects.toThrow(
          'limit must be a whole number >= 0, got -1.',
        );
      });

      it('lists a job’s alerts oldest first, or the latest ones newest first, kinds interleaved', async () => {
        // Arrange: three late ranges and one skipped range of a job, and an alert of another job.
        const jobId = newJobId('alerts');
        const other = newJobId('alerts_other');
        const alerts = alertStoreOf(store);
        const raisedAt = at('2026-03-02T09:00:00.000Z');
        const range = (hour: number, intervals: number) => ({
          start: new Date(T0.getTime() + hour * HOUR_MS),
          end: new Date(T0.getTime() + (hour + intervals) * HOUR_MS),
          intervals,
        });
        await alerts.claim(jobId, 'late', [range(2, 1), range(5, 2), range(9, 1)], raisedAt);
        await alerts.claim(jobId, 'skipped', [range(0, 2)], raisedAt);
        await alerts.claim(other, 'late', [range(20, 1)], raisedAt);
        await alerts.recordDelivery(jobId, 'late', [range(9, 1).start], { error: 'webhook answered 500' });
        const summary = (records: readonly AlertRecord[]) =>
          records.map((record) => [record.kind, record.start.toISOString(), record.intervals]);

        // Act
        const all = await alerts.list(jobId);
        const latest = await alerts.list(jobId, { newestFirst: true, limit: 2 });
        const oldestTwo = await alerts.list(jobId, { limit: 2 });

        // Assert
        expect(summary(all)).toEqual([
          ['skipped', '2026-03-01T00:00:00.000Z', 2],
          ['late', '2026-03-01T02:00:00.000Z', 1],
          ['late', '2026-03-01T05:00:00.000Z', 2],
          ['late', '2026-03-01T09:00:00.000Z', 1],
        ]);
        expect(summary(latest)).toEqual([
          ['late', '2026-03-01T09:00:00.000Z', 1],
          ['late', '2026-03-01T05:00:00.000Z', 2],
        ]);
        expect(latest[0]).toEqual({
          jobId,
          kind: 'late',
          ...range(9, 1),
          raisedAt,
          deliveredAt: null,
          error: 'webhook answered 500',
          announcedAt: null,
        });
        expect(summary(oldestTwo)).toEqual(summary(all).slice(0, 2));
        await expect(alerts.list(jobId, { limit: -1 })).rejects.toThrow(
          'limit must be a whole number >= 0, got -1.',
        );
      });
    });

    describe('database', () => {
      it('speaks the store’s dialect', () => {
        expect(store.database.dialect).toBe(store.kind);
      });

      it('runs statements with bound parameters, returning rows and affected rows', async () => {
        const db = store.database;

        const inserted = await db.query(
          'INSERT INTO piko_jobs (job_id, watermark, paused, skipped_total, updated_at) VALUES (?, ?, ?, ?, ?)',
          ['db_query', at('2026-03-08T06:59:59.999Z'), false, 2, T0],
        );
        const selected = await db.query('SELECT job_id, skipped_total FROM piko_jobs WHERE job_id = ?', [
          'db_query',
        ]);
        const updated = await db.query(
          'UPDATE piko_jobs SET skipped_total = skipped_total + 1 WHERE job_id LIKE ?',
          ['db_query%'],
        );

        expect(inserted.affectedRows).toBe(1);
        expect(
          selected.rows.map((row) => ({ job_id: row.job_id, skipped_total: Number(row.skipped_total) })),
        ).toEqual([{ job_id: 'db_query', skipped_total: 2 }]);
        expect(updated).toEqual({ rows: [], affectedRows: 1 });
        expect((await store.getJob('db_query'))?.watermark).toEqual(at('2026-03-08T06:59:59.999Z'));
      });

      it('commits a transaction that resolves and rolls back one that throws', async () => {
        const db = store.database;
        const failure = new Error('sink failed');
        const insert = (id: string) =>
          'INSERT INTO piko_jobs (job_id, watermark, paused, skipped_total, updated_at) ' +
          `VALUES ('${id}', ?, 0, 0, ?)`;

        const committed = await db.transaction(
          async (tx) => (await tx.query(insert('db_commit'), [T0, T0])).affectedRows,
        );
        const rolledBack = db.transaction(async (tx) => {
          await tx.query(insert('db_rollback'), [T0, T0]);
          throw failure;
        });

        expect(committed).toBe(1);
        await expect(rolledBack).rejects.toBe(failure);
        expect(await store.getJob('db_commit')).toBeDefined();
        expect(await store.getJob('db_rollback')).toBeUndefined();
        await expect(db.transaction((tx) => tx.transaction(async () => 1))).rejects.toThrow(
          'Nested transactions are not supported: use the database given to the outer transaction.',
        );
      });

      it('reports a failing statement as a StoreError', async () => {
        await expect(store.database.query('SELECT * FROM piko_no_such_table')).rejects.toBeInstanceOf(
          StoreError,
        );
      });
    });

    describe('closing', () => {
      it('opens through openStore, closes every connection, and refuses use afterwards', async () => {
        const target = await options.freshTarget();
        try {
          const other = await openStore(target.config);
          expect(other.kind).toBe(store.kind);
          expect(await other.migrate()).toEqual({
            applied: MIGRATIONS.map((migration) => migration.version),
          });
          await other.withJob(jobAt('closing', T0), async () => undefined);

          await other.close();
          await other.close();

          await expect(other.getJob('closing')).rejects.toThrow(/state store .* is closed\.$/);
          await expect(other.withJob(jobAt('closing', T0), async () => 1)).rejects.toBeInstanceOf(StoreError);
        } finally {
          await target.cleanup();
        }
      });
    });
  });
}

/** A `migrate-child.ts` process: ready once it has opened the store, migrates when told to go. */
function startMigrateChild(config: StoreConfig): {
  ready: Promise<void>;
  go(): void;
  /** Stops the child if it still runs. */
  kill(): void;
  done: Promise<{ code: number | null; applied: number[] | undefined; stderr: string }>;
} {
  const child: ChildProcessWithoutNullStreams = spawn('npx', ['tsx', MIGRATE_CHILD, JSON.stringify(config)], {
    cwd: REPO_ROOT,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const ready = new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      if (stdout.includes('ready\n')) resolve();
    });
    child.on('exit', (code) => reject(new Error(`migrate child exited (${code}) before ready: ${stderr}`)));
  });
  const done = new Promise<{ code: number | null; applied: number[] | undefined; stderr: string }>(
    (resolve) => {
      child.on('exit', (code) => {
        const last = stdout.trim().split('\n').pop() ?? '';
        let applied: number[] | undefined;
        try {
          applied = (JSON.parse(last) as { applied: number[] }).applied;
        } catch {
          applied = undefined;
        }
        resolve({ code, applied, stderr });
      });
    },
  );
  return {
    ready,
    go: () => child.stdin.end('go\n'),
    kill: () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    },
    done,
  };
}
