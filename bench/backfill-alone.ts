/**
 * The Piko half of `bench/local-throughput.ts` in a process of its own: a warm-up of 200 and a
 * backfill of 10,000 no-op minutely intervals (concurrency 40) run as `piko backfill` runs them,
 * on MariaDB or on the default SQLite store, with nothing else in the process. In the full bench the
 * same backfill costs 20–40 % more CPU per run (BENCHMARKS.md): this tells the two apart.
 *
 *   npx tsx bench/backfill-alone.ts [--store mysql|sqlite] [--intervals N] [--profile FILE]
 *
 * MariaDB at 127.0.0.1:3306 as root (`PIKO_BENCH_MYSQL_URL`): a fresh database, dropped at the end.
 * Prints runs/s, this process's CPU per run and (MariaDB, where /proc shows it) the server's; the
 * last line is one JSON object. `--profile FILE` writes a CPU profile (`.cpuprofile`, for Chrome's
 * DevTools) of the measured backfill's dispatch and runs only: not the planning, the check of the
 * state table or the start-up, which a whole-process `--cpu-prof` mixes in.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { Session } from 'node:inspector/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import mysql from 'mysql2/promise';
import { loadConfig } from '../shared/config.ts';
import { defineJob } from '../shared/job.ts';
import { LocalRuntime } from '../shared/local/runtime.ts';
import { planBackfill } from '../shared/planner/index.ts';
import { JobRegistry } from '../shared/registry.ts';
import { openProcessServices, type ProcessServices } from '../shared/runner/process.ts';
import { LOCAL_DRIVERS } from '../shared/store/local.ts';

const { values } = parseArgs({
  options: {
    store: { type: 'string', default: 'mysql' },
    intervals: { type: 'string', default: '10000' },
    profile: { type: 'string' },
  },
});
if (values.store !== 'mysql' && values.store !== 'sqlite') throw new Error('--store is mysql or sqlite');
const intervals = Number(values.intervals);
const MYSQL_SERVER = process.env.PIKO_BENCH_MYSQL_URL ?? 'mysql://root@127.0.0.1:3306';
const MINUTE_MS = 60_000;
const FROM = new Date('2026-01-01T00:00:00.000Z');

const job = defineJob({
  id: 'bench-noop',
  description: 'does nothing, as fast as it can',
  schedule: { cron: '* * * * *', timezone: 'UTC' },
  concurrency: 40,
  handler: async () => undefined,
});

/** The MySQL server's CPU so far in ms, from /proc; undefined where it cannot be read. */
function mysqldCpuMs(): number | undefined {
  try {
    const pid = readFileSync(
      process.env.PIKO_BENCH_MYSQLD_PID_FILE ?? '/run/mysqld/mysqld.pid',
      'utf8',
    ).trim();
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return undefined;
  }
}

/** A CPU profile of what runs between `start` and `stop`, written to `file`. */
async function profiler(file: string) {
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  return {
    start: () => session.post('Profiler.start'),
    async stop() {
      const { profile } = await session.post('Profiler.stop');
      await writeFile(file, JSON.stringify(profile));
      session.disconnect();
    },
  };
}

/**
 * Plans [from, from + count minutes) and runs it to the end as `piko backfill` does (profiled, when
 * `profile` is given, from the first dispatch to the last run).
 */
async function backfill(opened: ProcessServices, from: Date, count: number, profile?: string) {
  const to = new Date(from.getTime() + count * MINUTE_MS);
  const plan = await planBackfill(opened.store, job, { jobId: job.id, from, to }, to);
  const runtime = new LocalRuntime({ process: opened });
  const lane = { kind: 'backfill', backfillId: plan.backfillId } as const;
  const profiling = profile === undefined ? undefined : await profiler(profile);
  await profiling?.start();
  const serverBefore = mysqldCpuMs();
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  for (;;) {
    const dispatched = await runtime.dispatchLane(job, lane);
    // As runBackfill: a round that started a batch goes on at once (the next batch is queued while
    // this one runs); one that started nothing waits for the lane to be idle.
    if (dispatched.started.length === 0) await runtime.whenIdle();
    if (dispatched.started.length + dispatched.restarted.length + dispatched.live.length === 0) break;
  }
  const seconds = (performance.now() - started) / 1000;
  const cpu = process.cpuUsage(cpuBefore);
  await profiling?.stop();
  const succeeded = (await opened.store.listRuns(job.id, { from, to })).filter(
    (run) => run.status === 'succeeded',
  );
  if (succeeded.length !== count) throw new Error(`${succeeded.length} of ${count} runs succeeded`);
  const serverAfter = mysqldCpuMs();
  return {
    perSecond: Math.round(count / seconds),
    cpuMicrosPerRun: Math.round((cpu.user + cpu.system) / count),
    serverMicrosPerRun:
      values.store === 'mysql' && serverBefore !== undefined && serverAfter !== undefined
        ? Math.round(((serverAfter - serverBefore) * 1000) / count)
        : undefined,
  };
}

const database = `piko_bench_${randomBytes(6).toString('hex')}`;
const dataDir = await mkdtemp(path.join(tmpdir(), 'piko-bench-alone-'));
const admin = values.store === 'mysql' ? await mysql.createConnection(MYSQL_SERVER) : undefined;
try {
  await admin?.query(`CREATE DATABASE \`${database}\``);
  const env: Record<string, string> = { PIKO_DATA_DIR: dataDir };
  if (admin) env.PIKO_MYSQL__DSN = `${MYSQL_SERVER}/${database}`;
  const opened = await openProcessServices(loadConfig({ cwd: dataDir, env }), new JobRegistry([job]), {
    drivers: LOCAL_DRIVERS,
  });
  try {
    await backfill(opened, new Date(FROM.getTime() - 200 * MINUTE_MS), 200);
    const result = await backfill(opened, FROM, intervals, values.profile);
    console.log(
      `backfill-alone: ${intervals.toLocaleString('en-US')} no-op intervals on ${values.store}: ` +
        `${result.perSecond.toLocaleString('en-US')} runs/s, CPU per run ${result.cpuMicrosPerRun} µs` +
        (result.serverMicrosPerRun === undefined ? '' : `, server ${result.serverMicrosPerRun} µs`),
    );
    console.log(
      JSON.stringify({
        bench: 'backfill-alone',
        store: values.store,
        intervals,
        per_s: result.perSecond,
        cpu_us_per_run: result.cpuMicrosPerRun,
        server_cpu_us_per_run: result.serverMicrosPerRun,
      }),
    );
  } finally {
    await opened.close();
  }
} finally {
  await admin?.query(`DROP DATABASE IF EXISTS \`${database}\``);
  await admin?.end();
  await rm(dataDir, { recursive: true, force: true });
}
