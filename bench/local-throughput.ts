/**
 * 10,000 no-op intervals through the local runtime with its state in MariaDB and on the default
 * embedded SQLite, against the same 10,000 no-op jobs through BullMQ on Redis and graphile-worker on
 * PostgreSQL, in one run, every peer at concurrency 40.
 *
 *   npx tsx bench/local-throughput.ts [--analyze]
 *
 * Piko: a no-op job (concurrency 40) and a backfill of 10,000 minutely intervals, planned with
 * `planBackfill` (timed on its own) and then run as `piko backfill` runs it: `LocalRuntime.dispatchLane`
 * (batches of `maxRunsPerExecution` = 500 runs, each an execution of the job's workflow in
 * aws-local-stepfunctions, Map concurrency 40, the next batch queued while one runs) and `whenIdle`,
 * until nothing is left. The figure is
 * from the first dispatch to the last run `succeeded`, checked in the state table.
 * The same again on the default store (SQLite in a fresh data directory, `[sqlite]` as `piko` opens it).
 * BullMQ: `addBulk` in 1,000s, then one Worker at concurrency 40 with a no-op processor; from the
 * first `addBulk` to the 10,000th `completed`.
 * graphile-worker (durable, like Piko): `addJobs` in 1,000s, then `run` at concurrency 40 with its
 * defaults and a no-op task; from the first `addJobs` to the 10,000th `job:success`.
 * Both first run a small warm-up (200) so that module loading, the workflow's rendering and JIT are
 * not counted.
 *
 * `--analyze` adds figures that show where Piko's time goes: the workflow interpreter alone, the
 * interpreter with the stage runner on an in-memory store, the same on MariaDB, the stage runner's
 * store calls alone (and a what-if: with a pool of 40). Every Piko run also reports its CPU per run
 * (this process, and the MySQL server's from /proc where it can be read): a figure the machine's
 * load moves far less than the rates.
 *
 * MariaDB at 127.0.0.1:3306 as root (`PIKO_BENCH_MYSQL_URL`, a server URL without database): a fresh
 * database `piko_bench_<random>`, dropped at the end. Redis at 127.0.0.1:6379
 * (`PIKO_BENCH_REDIS_URL`): a fresh queue `piko-bench-<random>`, obliterated before and after.
 * PostgreSQL at 127.0.0.1:5432, database `test` (`PIKO_BENCH_PG_URL`): a fresh schema
 * `piko_bench_<random>` for graphile-worker, dropped at the end.
 * The last line printed is one JSON object for scripts.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { Queue, Worker } from 'bullmq';
import { Logger, makeWorkerUtils, run as runGraphileWorker } from 'graphile-worker';
import mysql from 'mysql2/promise';
import pg from 'pg';
import { loadConfig } from '../shared/config.ts';
import { intervalToJson } from '../shared/interval.ts';
import { defineJob } from '../shared/job.ts';
import { LocalRuntime } from '../shared/local/runtime.ts';
import { runWorkflow, type WorkflowBindings } from '../shared/local/workflow/executor.ts';
import { renderJobWorkflow } from '../shared/local/workflow/render.ts';
import { type ExecutionInput, planBackfill } from '../shared/planner/index.ts';
import { JobRegistry } from '../shared/registry.ts';
import { openProcessServices, type ProcessServices } from '../shared/runner/process.ts';
import { runStage } from '../shared/runner/stage-runner.ts';
import { openMysqlStore, type RunRecord, type StateStore } from '../shared/store/index.ts';
import { LOCAL_DRIVERS } from '../shared/store/local.ts';

const MYSQL_SERVER = process.env.PIKO_BENCH_MYSQL_URL ?? 'mysql://root@127.0.0.1:3306';
const REDIS = new URL(process.env.PIKO_BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379');
const POSTGRES = process.env.PIKO_BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const ANALYZE = process.argv.includes('--analyze');
const N = 10_000;
const WARMUP = 200;
const CONCURRENCY = 40;
const MINUTE_MS = 60_000;
/** The measured backfill's first interval; the warm-up takes the 200 minutes before it. */
const FROM = new Date('2026-01-01T00:00:00.000Z');

const format = (n: number) => Math.round(n).toLocaleString('en-US');
const minutes = (from: Date, count: number) => ({ from, to: new Date(from.getTime() + count * MINUTE_MS) });

const job = defineJob({
  id: 'bench-noop',
  description: 'does nothing, as fast as it can',
  schedule: { cron: '* * * * *', timezone: 'UTC' },
  concurrency: CONCURRENCY,
  handler: async () => undefined,
});
const jobs = new JobRegistry([job]);

// ---------------------------------------------------------------------------------------------- Piko

/** Plans a backfill of [from, to) and runs it as `piko backfill` does; returns the seconds of each part. */
async function pikoBackfill(opened: ProcessServices, range: { from: Date; to: Date }) {
  const now = new Date(Math.max(Date.now(), range.to.getTime()));
  const planStarted = performance.now();
  const plan = await planBackfill(opened.store, job, { jobId: job.id, ...range }, now);
  const planSeconds = (performance.now() - planStarted) / 1000;

  const runtime = new LocalRuntime({ process: opened });
  const lane = { kind: 'backfill', backfillId: plan.backfillId } as const;
  const cpuBefore = process.cpuUsage();
  const serverBefore = mysqldCpuMs();
  const runStarted = performance.now();
  let executions = 0;
  for (;;) {
    const dispatched = await runtime.dispatchLane(job, lane);
    // As runBackfill: a round that started a batch goes on at once (the next batch is queued while
    // this one runs); one that started nothing waits for the lane to be idle.
    if (dispatched.started.length === 0) await runtime.whenIdle();
    executions += dispatched.started.length;
    // As `piko backfill`: done when nothing was started, resumed or still running.
    if (dispatched.started.length + dispatched.restarted.length + dispatched.live.length === 0) break;
  }
  const runSeconds = (performance.now() - runStarted) / 1000;
  const cpu = process.cpuUsage(cpuBefore);
  const serverMs = serverBefore === undefined ? undefined : (mysqldCpuMs() ?? serverBefore) - serverBefore;

  const runs = await opened.store.listRuns(job.id, range);
  const succeeded = runs.filter((run) => run.status === 'succeeded' && run.backfillId === plan.backfillId);
  const expected = (range.to.getTime() - range.from.getTime()) / MINUTE_MS;
  if (succeeded.length !== expected || runtime.totals.failed !== 0) {
    throw new Error(
      `Piko: ${succeeded.length} of ${expected} runs succeeded (${runtime.totals.failed} failed) in the state table`,
    );
  }
  const count = succeeded.length;
  return {
    planSeconds,
    runSeconds,
    executions,
    runs: succeeded,
    /** This process's CPU per run, in µs: unlike the rate, barely moved by other processes' load. */
    cpuMicrosPerRun: (cpu.user + cpu.system) / count,
    /** The MySQL server's CPU per run, in µs (all its clients: other load on the server counts too). */
    serverMicrosPerRun: serverMs === undefined ? undefined : (serverMs * 1000) / count,
  };
}

/**
 * The local MySQL server's CPU time so far, in ms (user + system, from /proc); undefined where it
 * cannot be read (another machine, no /proc).
 */
function mysqldCpuMs(): number | undefined {
  try {
    const pid = readFileSync(
      process.env.PIKO_BENCH_MYSQLD_PID_FILE ?? '/run/mysqld/mysqld.pid',
      'utf8',
    ).trim();
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    // utime and stime are fields 14 and 15 of stat, 12 and 13 after "pid (comm) ", in clock ticks (100/s).
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return undefined;
  }
}

// -------------------------------------------------------------------------------------------- BullMQ

const connection = {
  host: REDIS.hostname,
  port: Number(REDIS.port || 6379),
  maxRetriesPerRequest: null,
};

/** Adds `count` no-op jobs in bulks of 1,000, then runs them with one Worker; returns the seconds. */
async function bullmq(queueName: string, count: number): Promise<number> {
  const queue = new Queue(queueName, { connection });
  try {
    await queue.obliterate({ force: true });
    const started = performance.now();
    for (let i = 0; i < count; i += 1_000) {
      const size = Math.min(1_000, count - i);
      await queue.addBulk(Array.from({ length: size }, (_, j) => ({ name: 'noop', data: { i: i + j } })));
    }
    let completed = 0;
    let worker: Worker | undefined;
    await new Promise<void>((resolve, reject) => {
      worker = new Worker(queueName, async () => undefined, { connection, concurrency: CONCURRENCY });
      worker.on('completed', () => {
        if (++completed === count) resolve();
      });
      worker.on('failed', (_job, error) => reject(error));
      worker.on('error', reject);
    });
    const seconds = (performance.now() - started) / 1000;
    await worker?.close();
    return seconds;
  } finally {
    await queue.obliterate({ force: true });
    await queue.close();
  }
}

// ----------------------------------------------------------------------------------- graphile-worker

/**
 * Adds `count` no-op jobs in bulks of 1,000 to a schema of its own, then runs them with one worker
 * at the same concurrency (graphile-worker's defaults otherwise); returns the seconds.
 */
async function graphileWorker(schema: string, count: number): Promise<number> {
  const utils = await makeWorkerUtils({ connectionString: POSTGRES, schema });
  try {
    await utils.migrate();
    const started = performance.now();
    for (let i = 0; i < count; i += 1_000) {
      const size = Math.min(1_000, count - i);
      await utils.addJobs(
        Array.from({ length: size }, (_, j) => ({ identifier: 'noop', payload: { i: i + j } })),
      );
    }
    const runner = await runGraphileWorker({
      connectionString: POSTGRES,
      schema,
      concurrency: CONCURRENCY,
      noHandleSignals: true,
      logger: quietLogger,
      taskList: { noop: async () => undefined },
    });
    try {
      await new Promise<void>((resolve, reject) => {
        let completed = 0;
        runner.events.on('job:success', () => {
          if (++completed === count) resolve();
        });
        runner.events.on('job:failed', ({ error }) => reject(error));
      });
      return (performance.now() - started) / 1000;
    } finally {
      await runner.stop();
    }
  } finally {
    await utils.release();
  }
}

/** graphile-worker's log lines (worker started, stopped) would interleave with the figures. */
const quietLogger = new Logger(() => () => undefined);

// ------------------------------------------------------------------------------------------ analysis

/** What each run's execution is, as `executionInputs` queued it: the in-memory store answers from here. */
const queuedUnder = new Map<number, RunRecord>();

/**
 * The executions a backfill of these runs is split into (500 runs each), queued under their names
 * in the store as a dispatch does (the stage runner refuses a run its execution does not hold).
 */
async function executionInputs(
  opened: ProcessServices,
  runs: readonly RunRecord[],
  batch: number,
  tag: string,
): Promise<ExecutionInput[]> {
  const inputs: ExecutionInput[] = [];
  for (let i = 0; i < runs.length; i += batch) {
    const slice = runs.slice(i, i + batch);
    const executionName = `${tag}-${i}`;
    await opened.store.withJob(job, (tx) =>
      tx.markQueued(
        slice.map((run) => run.runId),
        executionName,
      ),
    );
    for (const run of slice) queuedUnder.set(run.runId, { ...run, status: 'queued', executionName });
    inputs.push({
      jobId: job.id,
      executionName,
      lane: 'backfill',
      backfillId: 'bench',
      runs: slice.map((run) => ({
        runId: run.runId,
        generation: run.generation,
        interval: intervalToJson(run.interval),
      })),
    });
  }
  return inputs;
}

/** Runs the inputs one execution after another (as the backfill lane does); returns runs per second. */
async function interpreterRate(asl: string, inputs: readonly ExecutionInput[], bindings: WorkflowBindings) {
  const started = performance.now();
  let items = 0;
  for (const input of inputs) {
    await runWorkflow(asl, input, bindings);
    items += input.runs.length;
  }
  return items / ((performance.now() - started) / 1000);
}

const noBinding = async () => undefined;

/** A state store whose per-run calls cost nothing: what the stage runner does besides them. */
function memoryStore(store: StateStore): StateStore {
  const records = new Map<number, RunRecord>();
  const overrides: Partial<StateStore> = {
    async markRunning(run, stage, now) {
      const runId = typeof run === 'number' ? run : run.runId;
      const record = {
        runId,
        jobId: job.id,
        interval: { start: now, end: now },
        status: 'running',
        trigger: 'backfill',
        stage,
        attempts: 1,
        generation: 0,
        executionName: queuedUnder.get(runId)?.executionName ?? null,
        backfillId: null,
        config: null,
        error: null,
        output: null,
        createdAt: now,
        updatedAt: now,
        startedAt: now,
        finishedAt: null,
        requeues: 0,
        notBefore: null,
        version: null,
        taskArn: null,
      } satisfies RunRecord;
      records.set(runId, record);
      return record;
    },
    async getRun(runId) {
      return records.get(runId) ?? queuedUnder.get(runId);
    },
    async runToStart(runId) {
      return records.get(runId) ?? queuedUnder.get(runId);
    },
    async markSucceeded(runId) {
      records.delete(runId);
    },
  };
  return new Proxy(store, {
    get(target, property) {
      if (property in overrides) return overrides[property as keyof StateStore];
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

/** Calls `work` for every run id, `CONCURRENCY` at a time; returns runs per second. */
async function concurrently(runIds: readonly number[], work: (runId: number) => Promise<unknown>) {
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < runIds.length) await work(runIds[next++]!);
    }),
  );
  return runIds.length / ((performance.now() - started) / 1000);
}

/** Fresh pending runs for an experiment, in a range of their own. */
async function freshRuns(opened: ProcessServices, offset: number, count: number): Promise<RunRecord[]> {
  const range = minutes(new Date(FROM.getTime() + offset * MINUTE_MS), count);
  await planBackfill(
    opened.store,
    job,
    { jobId: job.id, ...range },
    new Date(Math.max(Date.now(), +range.to)),
  );
  return opened.store.listRuns(job.id, range);
}

interface Analysis {
  readonly lines: string[];
  readonly figures: Record<string, number>;
}

async function analyze(opened: ProcessServices, dsn: string, dataDir: string): Promise<Analysis> {
  const lines: string[] = [];
  const figures: Record<string, number> = {};
  const note = (key: string, rate: number, text: string) => {
    figures[key] = Math.round(rate);
    lines.push(`  ${text}: ${format(rate)} runs/s`);
  };
  const asl = await renderJobWorkflow(job, { dataDir });
  let offset = 2 * N;
  const take = async () => {
    const runs = await freshRuns(opened, offset, N);
    offset += N;
    return runs;
  };

  // 1. The interpreter alone: every Task returns at once.
  let runs = await take();
  const echo: WorkflowBindings = {
    invokeStage: async () => ({ output: null }),
    runFargateTask: noBinding,
    continueDispatch: noBinding,
  };
  note(
    'interpreter_per_s',
    await interpreterRate(asl, await executionInputs(opened, runs, 500, 'echo'), echo),
    'interpreter alone (no-op Task bindings, 20 executions of 500, Map concurrency 40)',
  );

  // 2. The interpreter and the stage runner, on a store whose per-run calls are free.
  const memory = { ...opened, store: memoryStore(opened.store) };
  const staged = (deps: typeof opened): WorkflowBindings => ({
    invokeStage: (payload) => runStage(deps, payload),
    runFargateTask: noBinding,
    continueDispatch: noBinding,
  });
  note(
    'stage_runner_memory_per_s',
    await interpreterRate(asl, await executionInputs(opened, runs, 500, 'memory'), staged(memory)),
    'interpreter + stage runner, in-memory store (no SQL)',
  );

  // 3. The same on MariaDB: the runtime minus planning and dispatch (fresh runs: step 2 left its queued).
  runs = await take();
  note(
    'stage_runner_mysql_per_s',
    await interpreterRate(asl, await executionInputs(opened, runs, 500, 'mysql'), staged(opened)),
    'interpreter + stage runner, MariaDB store (pool 10)',
  );

  // 4. The stage runner's store calls alone, 40 at a time: getRun, markRunning (UPDATE + the read
  // back), markSucceeded; calls of one turn grouped as the store groups them.
  runs = await take();
  const ids = (records: readonly RunRecord[]) => records.map((run) => run.runId);
  note(
    'store_calls_per_s',
    await concurrently(ids(runs), async (runId) => {
      await opened.store.getRun(runId);
      await opened.store.markRunning(runId, 'main', new Date());
      await opened.store.markSucceeded(runId, null, new Date());
    }),
    'store calls alone, 40 at a time (getRun, markRunning, markSucceeded; grouped per turn), pool 10',
  );

  // 6. What-if: a pool as big as the concurrency.
  runs = await take();
  const big = await openMysqlStore({ dsn, poolSize: CONCURRENCY });
  try {
    note(
      'store_calls_pool40_per_s',
      await concurrently(ids(runs), async (runId) => {
        await big.getRun(runId);
        await big.markRunning(runId, 'main', new Date());
        await big.markSucceeded(runId, null, new Date());
      }),
      'what-if: store calls with a pool of 40 connections',
    );
  } finally {
    await big.close();
  }

  return { lines, figures };
}

// ------------------------------------------------------------------------------------------------ run

const suffix = randomBytes(6).toString('hex');
const database = `piko_bench_${suffix}`;
const dsn = `${MYSQL_SERVER}/${database}`;
const admin = await mysql.createConnection(MYSQL_SERVER);
const [[{ version }]] = (await admin.query('SELECT VERSION() AS version')) as unknown as [
  { version: string }[],
];
await admin.query(`CREATE DATABASE \`${database}\``);
const loadAtStart = loadavg()[0]!;
const dataDir = await mkdtemp(path.join(tmpdir(), 'piko-bench-'));
const sqliteDir = await mkdtemp(path.join(tmpdir(), 'piko-bench-sqlite-'));
const graphileSchema = `piko_bench_${suffix}`;
const postgres = new pg.Client({ connectionString: POSTGRES });
await postgres.connect();

try {
  const config = loadConfig({ cwd: dataDir, env: { PIKO_MYSQL__DSN: dsn, PIKO_DATA_DIR: dataDir } });
  const opened = await openProcessServices(config, jobs, { drivers: LOCAL_DRIVERS });
  let piko: Awaited<ReturnType<typeof pikoBackfill>>;
  let analysis: Analysis | undefined;
  try {
    await pikoBackfill(opened, minutes(new Date(FROM.getTime() - WARMUP * MINUTE_MS), WARMUP));
    piko = await pikoBackfill(opened, minutes(FROM, N));
    if (ANALYZE) analysis = await analyze(opened, dsn, dataDir);
  } finally {
    await opened.close();
  }

  // The default store: SQLite in a data directory of its own, as `piko` opens it without [mysql].
  const sqliteConfig = loadConfig({ cwd: sqliteDir, env: { PIKO_DATA_DIR: sqliteDir } });
  const sqliteOpened = await openProcessServices(sqliteConfig, jobs, { drivers: LOCAL_DRIVERS });
  let pikoSqlite: Awaited<ReturnType<typeof pikoBackfill>>;
  try {
    await pikoBackfill(sqliteOpened, minutes(new Date(FROM.getTime() - WARMUP * MINUTE_MS), WARMUP));
    pikoSqlite = await pikoBackfill(sqliteOpened, minutes(FROM, N));
  } finally {
    await sqliteOpened.close();
  }

  const queueName = `piko-bench-${suffix}`;
  await bullmq(queueName, WARMUP);
  const bullSeconds = await bullmq(queueName, N);

  await graphileWorker(`${graphileSchema}_warmup`, WARMUP);
  const graphileSeconds = await graphileWorker(graphileSchema, N);
  const [{ server_version: pgVersion }] = (await postgres.query('SHOW server_version')).rows as {
    server_version: string;
  }[];

  const pikoPerSecond = N / piko.runSeconds;
  const pikoSqlitePerSecond = N / pikoSqlite.runSeconds;
  const graphilePerSecond = N / graphileSeconds;
  const withPlanning = N / (piko.planSeconds + piko.runSeconds);
  const bullPerSecond = N / bullSeconds;
  const ratio = pikoPerSecond / bullPerSecond;
  console.log(
    `local-throughput: ${format(N)} no-op intervals, concurrency ${CONCURRENCY}; MariaDB ${version}, SQLite ` +
      `${sqliteConfig.sqlite.file}, Redis ${REDIS.host}, PostgreSQL ${pgVersion}`,
  );
  console.log(
    `  piko    planBackfill ${format(N)} runs: ${piko.planSeconds.toFixed(3)} s (${format(N / piko.planSeconds)} runs/s)`,
  );
  console.log(
    `  piko    dispatch → all succeeded: ${piko.runSeconds.toFixed(3)} s in ${piko.executions} executions of ` +
      `${config.piko.maxRunsPerExecution} = ${format(pikoPerSecond)} runs/s (${format(withPlanning)} runs/s with planning)`,
  );
  console.log(
    `  piko    on SQLite (default store) dispatch → all succeeded: ${pikoSqlite.runSeconds.toFixed(3)} s = ` +
      `${format(pikoSqlitePerSecond)} runs/s (planBackfill ${pikoSqlite.planSeconds.toFixed(3)} s)`,
  );
  const serverCpu =
    piko.serverMicrosPerRun === undefined ? '' : `, MariaDB server ${format(piko.serverMicrosPerRun)} µs`;
  console.log(
    `  piko    CPU per run: on MariaDB ${format(piko.cpuMicrosPerRun)} µs (this process)${serverCpu}; ` +
      `on SQLite ${format(pikoSqlite.cpuMicrosPerRun)} µs`,
  );
  console.log(
    `  bullmq  addBulk ×${N / 1_000} + Worker → all completed: ${bullSeconds.toFixed(3)} s = ${format(bullPerSecond)} jobs/s`,
  );
  console.log(
    `  graphile-worker addJobs ×${N / 1_000} + run → all succeeded: ${graphileSeconds.toFixed(3)} s = ` +
      `${format(graphilePerSecond)} jobs/s`,
  );
  if (analysis) {
    console.log('  where Piko’s time goes (each on fresh runs, 10,000 each):');
    for (const line of analysis.lines) console.log(`  ${line}`);
  }
  const ratioGraphile = pikoPerSecond / graphilePerSecond;
  const ratioSqlite = pikoSqlitePerSecond / bullPerSecond;
  const loadAtEnd = loadavg()[0]!;
  console.log(
    `  load average (1 min) ${loadAtStart.toFixed(1)} at the start, ${loadAtEnd.toFixed(1)} at the end`,
  );
  console.log(`  ratio (piko on MariaDB / bullmq): ${ratio.toFixed(2)} (goal >= 1)`);
  console.log(`  ratio (piko on MariaDB / graphile-worker): ${ratioGraphile.toFixed(2)} (goal >= 1)`);
  console.log(`  ratio (piko on SQLite / bullmq): ${ratioSqlite.toFixed(2)} (goal >= 1)`);
  console.log(
    JSON.stringify({
      bench: 'local-throughput',
      piko_per_s: Math.round(pikoPerSecond),
      bullmq_per_s: Math.round(bullPerSecond),
      ratio: Number(ratio.toFixed(2)),
      piko_sqlite_per_s: Math.round(pikoSqlitePerSecond),
      graphile_worker_per_s: Math.round(graphilePerSecond),
      ratio_graphile_worker: Number(ratioGraphile.toFixed(2)),
      ratio_sqlite: Number(ratioSqlite.toFixed(2)),
      ratio_sqlite_graphile_worker: Number((pikoSqlitePerSecond / graphilePerSecond).toFixed(2)),
      piko_plan_s: Number(piko.planSeconds.toFixed(3)),
      piko_cpu_us_per_run: Math.round(piko.cpuMicrosPerRun),
      piko_sqlite_cpu_us_per_run: Math.round(pikoSqlite.cpuMicrosPerRun),
      ...(piko.serverMicrosPerRun === undefined
        ? {}
        : { mysqld_cpu_us_per_run: Math.round(piko.serverMicrosPerRun) }),
      load_start: Number(loadAtStart.toFixed(1)),
      load_end: Number(loadAtEnd.toFixed(1)),
      piko_with_planning_per_s: Math.round(withPlanning),
      ...analysis?.figures,
    }),
  );
} finally {
  await admin.query(`DROP DATABASE IF EXISTS \`${database}\``);
  await admin.end();
  await rm(dataDir, { recursive: true, force: true });
  await rm(sqliteDir, { recursive: true, force: true });
  for (const schema of [graphileSchema, `${graphileSchema}_warmup`])
    await postgres.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  await postgres.end();
}
