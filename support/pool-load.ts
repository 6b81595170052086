/**
 * The pool-bound load: thousands of runs of one job started at once through one process's services (one
 * `ResourceRegistry`), each borrowing a connection of a `mysqlPool({ max })` and holding it for a few
 * milliseconds with a real query, on MariaDB. Shared by `test/load/pool-bound.test.ts`,
 * `test/load/pool-bound-workflow.test.ts` and `bench/pool-load.ts`.
 *
 * Two ways in. Without `concurrency`, every run's stage is started at once, straight through the
 * stage runner. With `concurrency`, the seed's scenario end to end: a job at that concurrency (above
 * 40: a Distributed Map, run locally as the inline Map it translates to) with `runs` due minutely
 * intervals, planned, dispatched and run by the local runtime through the job's workflow definition.
 *
 * Two dedicated MariaDB users, so the server can count each side apart: the job's pool connects as
 * `piko_lp_<id>` (created `WITH MAX_USER_CONNECTIONS max`, so the server itself refuses a connection
 * beyond the bound and a run would fail), the runtime's state store as `piko_ls_<id>`. An observer
 * connection (the test's own, root) resets `Max_used_connections` with `FLUSH STATUS` and samples
 * `information_schema.PROCESSLIST` per user and database while the runs go.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import mysql from 'mysql2/promise';
import { loadConfig } from '../shared/config.ts';
import { defineJob } from '../shared/job.ts';
import { LocalRuntime } from '../shared/local/runtime.ts';
import { renderJobWorkflow } from '../shared/local/workflow/render.ts';
import { JobRegistry } from '../shared/registry.ts';
import { mysqlPool } from '../shared/resources/mysql-pool.ts';
import type { Resource } from '../shared/resources/types.ts';
import type { WaitStats } from '../shared/resources/wait-stats.ts';
import { openProcessServices } from '../shared/runner/process.ts';
import { runStage } from '../shared/runner/stage-runner.ts';
import { LOCAL_DRIVERS } from '../shared/store/local.ts';

/** Connections of the test's own observer (FLUSH STATUS, PROCESSLIST sampling). */
export const OBSERVER_CONNECTIONS = 1;

/** What to run. */
export interface PoolLoadOptions {
  /** A server URL without database, as a user who may create databases and users. */
  readonly serverUrl: string;
  /** Runs started at once. @default 5000 */
  readonly runs?: number;
  /** The job's pool: `mysqlPool({ max })`. @default 50 */
  readonly pool?: number;
  /** The runtime's state store pool (`PIKO_MYSQL__POOL_SIZE`). @default 10 */
  readonly storePoolSize?: number;
  /** How long each run holds its connection, in a `SELECT SLEEP(…)`. @default 5 */
  readonly holdMs?: number;
  /**
   * Run the due intervals of a job at this concurrency through the local runtime (planner, dispatch,
   * the job's workflow definition). @default - every stage started at once through the stage runner
   */
  readonly concurrency?: number;
}

/** Peak connections seen in PROCESSLIST, by user and database. */
export interface ConnectionPeak {
  readonly user: string;
  readonly db: string | null;
  readonly max: number;
}

/** What a load run measured. */
export interface PoolLoadResult {
  /** Connections of either user still open after the runtime closed: a pool left open. */
  readonly leftOpen: number;
  readonly runs: number;
  readonly pool: number;
  readonly storePoolSize: number;
  readonly holdMs: number;
  /** Runs recorded as succeeded in the state table afterwards. */
  readonly succeeded: number;
  readonly durationMs: number;
  /** PROCESSLIST samples taken while the runs went. */
  readonly samples: number;
  /** Peak connections of the job's pool user (all databases). */
  readonly maxPoolConnections: number;
  /** Peak connections of the state store's user: what the runtime itself holds. */
  readonly maxRuntimeConnections: number;
  /** Peak connections of every other user (the observer included; other test files too). */
  readonly maxOtherConnections: number;
  /** Peaks per user and database. */
  readonly peaks: readonly ConnectionPeak[];
  /** Distinct connection ids the handlers ran on. */
  readonly distinctHandlerConnections: number;
  /** The server's `Max_used_connections` since `FLUSH STATUS` (server-wide). */
  readonly maxUsedConnections: number;
  /** `Threads_connected` just after `FLUSH STATUS`, the observer included. */
  readonly connectedAtFlush: number;
  /** The pool's waits from `acquire` to a connection (`poolWaitStats()`). */
  readonly wait: WaitStats;
  /** The job's concurrency, when the runs went through the local runtime. */
  readonly concurrency?: number;
  /** Most runs waiting for or holding a pool connection at once (from `acquire` to `release`). */
  readonly maxInFlight: number;
  /** Handler calls in all: one per interval when every interval ran once. */
  readonly handlerCalls: number;
  /** Intervals whose handler ran more than once. */
  readonly repeatedIntervals: number;
  /** Runs of the job whose attempts are not exactly 1. */
  readonly runsNotOneAttempt: number;
  /** Workflow executions the local runtime started (the runs went through the local runtime). */
  readonly executions?: number;
  /**
   * Most runs in flight at once, sampled from the state table (queued under a live execution, or
   * running): with the Map's MaxConcurrency at the job's concurrency, each one's iteration has
   * started (through the local runtime).
   */
  readonly maxInExecutions?: number;
}

const MINUTE_MS = 60_000;
/** Intervals of the load job start here; 5,000 minutely intervals end long before now. */
const START = new Date('2026-01-01T00:00:00.000Z');
/** The execution the load's runs are queued under. */
const LOAD_EXECUTION = 'load-s20260101T000000Z-0123456789abcdef';

/** Runs the load and cleans up (database, users, temp dir) whatever happens. */
export async function runPoolLoad(options: PoolLoadOptions): Promise<PoolLoadResult> {
  const runs = options.runs ?? 5000;
  const pool = options.pool ?? 50;
  const storePoolSize = options.storePoolSize ?? 10;
  const holdMs = options.holdMs ?? 5;
  const id = randomBytes(4).toString('hex');
  const database = `piko_t_poolload_${id}`;
  const poolUser = `piko_lp_${id}`;
  const storeUser = `piko_ls_${id}`;
  const password = randomBytes(12).toString('hex');
  const server = new URL(options.serverUrl);
  const host = server.hostname;
  const port = Number(server.port || 3306);
  const dsnOf = (user: string) => `mysql://${user}:${password}@${host}:${port}/${database}`;

  const observer = await mysql.createConnection({
    host,
    port,
    user: decodeURIComponent(server.username),
    password: decodeURIComponent(server.password),
  });
  const dataDir = await mkdtemp(path.join(tmpdir(), 'piko-pool-load-'));
  try {
    await observer.query(`CREATE DATABASE \`${database}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin`);
    await observer.query(`CREATE USER ?@'%' IDENTIFIED BY ? WITH MAX_USER_CONNECTIONS ${pool}`, [
      poolUser,
      password,
    ]);
    await observer.query(`CREATE USER ?@'%' IDENTIFIED BY ?`, [storeUser, password]);
    await observer.query(`GRANT ALL ON \`${database}\`.* TO ?@'%'`, [poolUser]);
    await observer.query(`GRANT ALL ON \`${database}\`.* TO ?@'%'`, [storeUser]);

    const db = mysqlPool({ max: pool, dsn: dsnOf(poolUser) });
    const counted = countingBorrowers(db);
    const handlerConnections = new Set<number>();
    const handlerCallsByInterval = new Map<number, number>();
    // Through the local runtime the intervals end just before the runtime's (fixed) clock, so all are due.
    const now = new Date(Math.floor(Date.now() / MINUTE_MS) * MINUTE_MS);
    const start = options.concurrency === undefined ? START : new Date(now.getTime() - runs * MINUTE_MS);
    const job = defineJob({
      id: 'pool_load',
      schedule: { cron: '* * * * *' },
      start,
      concurrency: options.concurrency ?? 1,
      retry: { attempts: 1 },
      timeout: '2m',
      resources: { db: counted.resource },
      handler: async (ctx, { db: connection }) => {
        const key = ctx.interval.start.getTime();
        handlerCallsByInterval.set(key, (handlerCallsByInterval.get(key) ?? 0) + 1);
        const [rows] = await connection.query<mysql.RowDataPacket[]>(
          'SELECT SLEEP(?) AS slept, CONNECTION_ID() AS id',
          [holdMs / 1000],
        );
        handlerConnections.add(Number(rows[0]!.id));
      },
    });
    const config = loadConfig({
      cwd: dataDir,
      env: {
        PIKO_MYSQL__DSN: dsnOf(storeUser),
        PIKO_MYSQL__POOL_SIZE: String(storePoolSize),
        PIKO_DATA_DIR: dataDir,
      },
    });
    const runtime = await openProcessServices(config, new JobRegistry([job]), {
      drivers: LOCAL_DRIVERS,
      migrate: true,
    });
    let closed = false;
    try {
      let records: Awaited<ReturnType<typeof runtime.store.listRuns>> = [];
      if (options.concurrency === undefined) {
        // Arrange: one pending run per interval, as the planner would leave them.
        const intervals = Array.from({ length: runs }, (_, k) => ({
          start: new Date(START.getTime() + k * MINUTE_MS),
          end: new Date(START.getTime() + (k + 1) * MINUTE_MS),
        }));
        await runtime.store.withJob(job, async (tx) => {
          await tx.insertRuns(intervals.map((interval) => ({ interval, trigger: 'schedule' as const })));
          const inserted = await tx.runsInRange(START, new Date(START.getTime() + runs * MINUTE_MS));
          // Queued under one execution, as a dispatch leaves them: the stage runner checks the owner.
          await tx.markQueued(
            inserted.map((run) => run.runId),
            LOAD_EXECUTION,
          );
        });
        records = await runtime.store.listRuns(job.id);
      }
      // The local runtime renders the workflow (aws-cdk-lib) before the clock starts.
      let executions = 0;
      const local =
        options.concurrency === undefined
          ? undefined
          : new LocalRuntime({
              process: runtime,
              clock: () => now,
              onProgress: (event) => {
                if (event.event === 'dispatched') executions++;
              },
            });
      if (local) await renderJobWorkflow(job, { dataDir });
      // Connections left from migrating are gone before the counters are reset.
      await waitForUser(observer, storeUser, storePoolSize);
      await observer.query('FLUSH STATUS');
      const connectedAtFlush = await status(observer, 'Threads_connected');

      // Act: every run at once (or every due interval of the job, planned and dispatched), sampled
      // from the side.
      // In flight: queued under a live execution (its Map iteration started) or running.
      const sampler = sample(
        observer,
        [poolUser, storeUser],
        local
          ? mysql.format(
              `SELECT COUNT(*) AS n FROM \`${database}\`.piko_runs WHERE job_id = ? AND status IN ('queued', 'running')`,
              [job.id],
            )
          : undefined,
      );
      const started = performance.now();
      if (local) {
        await local.planAll();
        await local.whenIdle();
      } else {
        await Promise.all(
          records.map((run) =>
            runStage(runtime, {
              action: 'run',
              stage: 'main',
              stageIndex: 0,
              lastStage: true,
              run: {
                jobId: job.id,
                runId: run.runId,
                executionName: LOAD_EXECUTION,
                generation: run.generation,
              },
            }),
          ),
        );
      }
      const durationMs = performance.now() - started;
      const peaks = await sampler.stop();
      const maxUsedConnections = await status(observer, 'Max_used_connections');
      const counts = await runtime.store.countRuns(job.id);
      const finalRuns = await runtime.store.listRuns(job.id);

      const peakOf = (user: string) => Math.max(0, ...peaks.filter((p) => p.user === user).map((p) => p.max));
      await runtime.close();
      closed = true;
      // The runtime closed its store and destroyed the job's pool: neither user may hold a connection.
      await waitForUser(observer, poolUser, 0);
      await waitForUser(observer, storeUser, 0);
      const leftOpen = (await connectionsOf(observer, poolUser)) + (await connectionsOf(observer, storeUser));
      return {
        leftOpen,
        runs,
        pool,
        storePoolSize,
        holdMs,
        succeeded: counts.succeeded,
        durationMs,
        samples: sampler.count(),
        maxPoolConnections: peakOf(poolUser),
        maxRuntimeConnections: peakOf(storeUser),
        maxOtherConnections: peakOf('(others)'),
        peaks: peaks.map((p) => ({
          ...p,
          user: p.user === poolUser ? 'pool user' : p.user === storeUser ? 'store user' : p.user,
        })),
        distinctHandlerConnections: handlerConnections.size,
        maxUsedConnections,
        connectedAtFlush,
        wait: db.poolWaitStats(),
        concurrency: options.concurrency,
        maxInFlight: counted.maxInFlight(),
        handlerCalls: [...handlerCallsByInterval.values()].reduce((sum, calls) => sum + calls, 0),
        repeatedIntervals: [...handlerCallsByInterval.values()].filter((calls) => calls > 1).length,
        runsNotOneAttempt: finalRuns.filter((run) => run.attempts !== 1).length,
        ...(local ? { executions, maxInExecutions: sampler.maxInFlight() } : {}),
      };
    } finally {
      if (!closed) await runtime.close();
    }
  } finally {
    await observer.query(`DROP DATABASE IF EXISTS \`${database}\``).catch(() => undefined);
    await observer.query(`DROP USER IF EXISTS ?@'%'`, [poolUser]).catch(() => undefined);
    await observer.query(`DROP USER IF EXISTS ?@'%'`, [storeUser]).catch(() => undefined);
    await observer.end();
    await rm(dataDir, { recursive: true, force: true });
  }
}

/**
 * The resource, counting the runs that borrow from it at once: from `acquire` (waiting for a
 * connection) to `release`. Above the pool's size, runs are queueing for it.
 */
function countingBorrowers<T, H>(resource: Resource<T, H>) {
  let inFlight = 0;
  let max = 0;
  const counted: Resource<T, H> = {
    ...resource,
    kind: resource.kind,
    create: (context) => resource.create(context),
    async acquire(handle, signal) {
      inFlight++;
      max = Math.max(max, inFlight);
      try {
        return await resource.acquire(handle, signal);
      } catch (error) {
        inFlight--;
        throw error;
      }
    },
    async release(handle, value) {
      inFlight--;
      await resource.release(handle, value);
    },
    destroy: (handle) => resource.destroy(handle),
  };
  return { resource: counted, maxInFlight: () => max };
}

async function status(connection: mysql.Connection, name: string): Promise<number> {
  const [rows] = await connection.query<mysql.RowDataPacket[]>('SHOW GLOBAL STATUS LIKE ?', [name]);
  return Number(rows[0]?.Value ?? Number.NaN);
}

/** Connections `user` holds now. */
async function connectionsOf(connection: mysql.Connection, user: string): Promise<number> {
  const [rows] = await connection.query<mysql.RowDataPacket[]>(
    'SELECT COUNT(*) AS n FROM information_schema.PROCESSLIST WHERE USER = ?',
    [user],
  );
  return Number(rows[0]!.n);
}

/** Waits up to 2 s until `user` holds at most `limit` connections (closed ones take a moment to go). */
async function waitForUser(connection: mysql.Connection, user: string, limit: number): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if ((await connectionsOf(connection, user)) <= limit) return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/**
 * Samples PROCESSLIST, grouped by user and database, as often as the observer's connection allows,
 * until `stop()`; users outside `users` count together as `(others)`.
 */
function sample(connection: mysql.Connection, users: readonly string[], inFlightSql?: string) {
  const peaks = new Map<string, ConnectionPeak>();
  let samples = 0;
  let maxInFlight = 0;
  let running = true;
  const loop = (async () => {
    while (running) {
      // Every fifth sample also counts the runs in flight, so the connections are still sampled often.
      if (inFlightSql !== undefined && samples % 5 === 0) {
        const [counted] = await connection.query<mysql.RowDataPacket[]>(inFlightSql);
        maxInFlight = Math.max(maxInFlight, Number(counted[0]?.n ?? 0));
      }
      const [rows] = await connection.query<mysql.RowDataPacket[]>(
        'SELECT USER AS user, DB AS db, COUNT(*) AS n FROM information_schema.PROCESSLIST GROUP BY USER, DB',
      );
      samples++;
      const others = new Map<string, number>();
      for (const row of rows) {
        const user = users.includes(String(row.user)) ? String(row.user) : '(others)';
        const db = row.db === null ? null : String(row.db);
        if (user === '(others)') {
          others.set('(others)', (others.get('(others)') ?? 0) + Number(row.n));
          continue;
        }
        const key = `${user}\u0000${db}`;
        const max = Math.max(peaks.get(key)?.max ?? 0, Number(row.n));
        peaks.set(key, { user, db, max });
      }
      const otherMax = Math.max(peaks.get('(others)')?.max ?? 0, others.get('(others)') ?? 0);
      peaks.set('(others)', { user: '(others)', db: null, max: otherMax });
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
  })();
  return {
    count: () => samples,
    maxInFlight: () => maxInFlight,
    async stop(): Promise<ConnectionPeak[]> {
      running = false;
      await loop;
      return [...peaks.values()];
    },
  };
}
