/**
 * Pause under load, with handlers running freely (the tests hold them with gates; this measures what
 * happens when nothing is held): a job drains 100 due intervals at concurrency 5, each handler taking
 * 10 ms; once `pauseAt` handlers have started, the job is paused through a second connection to the
 * store (what `piko pause` does from another process), and the handler starts after that call
 * returned are counted. Then the job is resumed and drained; every interval must have run exactly once.
 *
 *   npx tsx bench/pause-under-load.ts
 *
 * Paths: the local runtime (`LocalRuntime`: planner, workflow in aws-local-stepfunctions, stage runner
 * in process) and the AWS control events (`handleControlEvent` with `dispatch`, `pause`, `continue`,
 * `resume`, driving the same workflow). Stores: a SQLite file and MariaDB at 127.0.0.1:3306
 * (`PIKO_BENCH_MYSQL_URL`, a server URL without database; a fresh `piko_bench_<random>` per trial,
 * dropped after). Pause points are fixed (a seeded list), so runs differ only by timing.
 * Exits 1 when more than `concurrency` handlers started after a pause returned, or an interval ran
 * other than once. The last line printed is one JSON object:
 * `{"bench":"pause-under-load","intervals":100,"concurrency":5,"trials":…,"max_starts_after_pause":…,"starts_after_pause":{…},"duplicates":…,"lost":…}`.
 */
import './quiet-metrics.ts';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import mysql from 'mysql2/promise';
import { jobStateMachines } from '../shared/aws/sfn-starter.ts';
import { loadConfig } from '../shared/config.ts';
import { parseControlEvent } from '../shared/control/events.ts';
import { type ControlDeps, handleControlEvent } from '../shared/control/handlers.ts';
import { defineJob } from '../shared/job.ts';
import { LocalRuntime } from '../shared/local/runtime.ts';
import { LocalWorkflowStarter } from '../shared/local/workflow/local-starter.ts';
import { renderJobWorkflow } from '../shared/local/workflow/render.ts';
import { JobRegistry } from '../shared/registry.ts';
import { openProcessServices, type ProcessServices } from '../shared/runner/process.ts';
import { runStage } from '../shared/runner/stage-runner.ts';
import type { StateStore } from '../shared/store/index.ts';
import { LOCAL_DRIVERS, openStore } from '../shared/store/local.ts';

const MYSQL_SERVER = process.env.PIKO_BENCH_MYSQL_URL ?? 'mysql://root@127.0.0.1:3306';
const INTERVALS = 100;
const CONCURRENCY = 5;
const HANDLER_MS = 10;
const START = Date.parse('2026-05-01T00:00:00.000Z');
const NOW = new Date(START + INTERVALS * 60_000 + 30_000);
/** After how many handler starts each trial pauses (fixed, spread over the drain). */
const PAUSE_POINTS = [3, 17, 38, 61, 89];

const starts: string[] = [];
let onStart: (() => void) | undefined;
const job = defineJob({
  id: 'bench_pause',
  schedule: { cron: '* * * * *' },
  start: new Date(START).toISOString(),
  concurrency: CONCURRENCY,
  retry: { attempts: 3, backoff: '1s' },
  handler: async (ctx) => {
    starts.push(ctx.interval.start.toISOString());
    onStart?.();
    await new Promise((resolve) => setTimeout(resolve, HANDLER_MS));
    return null;
  },
});
const jobs = new JobRegistry([job]);

type Kind = 'sqlite' | 'mysql';
type Path = 'local' | 'aws';

/** Resolves once `count` handlers have started. */
function startsReach(count: number): Promise<void> {
  return new Promise((resolve) => {
    const check = () => {
      if (starts.length >= count) {
        onStart = undefined;
        resolve();
      }
    };
    onStart = check;
    check();
  });
}

/** Drives one trial through one path; `pause`/`resume` go through the second store. */
async function drain(
  opened: ProcessServices,
  operator: StateStore,
  pathKind: Path,
  pauseAt: number,
): Promise<number> {
  let idle: () => Promise<void>;
  let go: () => Promise<void>;
  if (pathKind === 'local') {
    const runtime = new LocalRuntime({ process: opened, clock: () => NOW, noRetryWaits: true });
    idle = () => runtime.whenIdle();
    go = () => runtime.planAll();
  } else {
    const asl = await renderJobWorkflow(job, { dataDir: opened.config.piko.dataDir });
    let deps: ControlDeps | undefined;
    const send = (event: unknown) => handleControlEvent(deps!, parseControlEvent(event));
    const starter = new LocalWorkflowStarter({
      workflowOf: () => asl,
      noRetryWaits: true,
      bindings: {
        invokeStage: (payload) => runStage(opened, payload),
        runFargateTask: async () => {
          throw new Error('no Fargate stage');
        },
        continueDispatch: async (jobId) => {
          await send({ action: 'continue', jobId });
        },
      },
    });
    deps = {
      store: opened.store,
      jobs,
      starter,
      machines: jobStateMachines({ partition: 'aws', region: 'eu-west-1', account: '1', prefix: 'Piko' }),
      now: () => NOW,
    };
    idle = () => starter.whenIdle();
    go = async () => {
      await send({ action: 'dispatch', jobId: job.id });
    };
  }
  const reached = startsReach(pauseAt);
  await go();
  await reached;
  await operator.setPaused(job, true);
  const atPause = starts.length;
  await idle();
  const after = starts.length - atPause;
  await operator.setPaused(job, false);
  await go();
  await idle();
  return after;
}

interface Trial {
  readonly store: Kind;
  readonly path: Path;
  readonly pauseAt: number;
  readonly startsAfterPause: number;
  readonly duplicates: number;
  readonly lost: number;
}

async function trial(kind: Kind, pathKind: Path, pauseAt: number): Promise<Trial> {
  starts.length = 0;
  const dataDir = await mkdtemp(path.join(tmpdir(), 'piko-bench-pause-'));
  const database = `piko_bench_${randomBytes(4).toString('hex')}`;
  const admin = kind === 'mysql' ? await mysql.createConnection(MYSQL_SERVER) : undefined;
  const dsn = `${MYSQL_SERVER.replace(/\/$/, '')}/${database}`;
  const sqliteFile = path.join(dataDir, 'piko.db');
  try {
    await admin?.query(`CREATE DATABASE \`${database}\``);
    const env: Record<string, string> = { PIKO_DATA_DIR: dataDir, PIKO_SQLITE__FILE: sqliteFile };
    if (kind === 'mysql') env.PIKO_MYSQL__DSN = dsn;
    const opened = await openProcessServices(loadConfig({ cwd: dataDir, env }), jobs, {
      drivers: LOCAL_DRIVERS,
    });
    const operator = await openStore(kind === 'mysql' ? { mysqlDsn: dsn, poolSize: 1 } : { sqliteFile });
    try {
      const startsAfterPause = await drain(opened, operator, pathKind, pauseAt);
      const counts = new Map<string, number>();
      for (const start of starts) counts.set(start, (counts.get(start) ?? 0) + 1);
      const runs = await opened.store.listRuns(job.id);
      const succeeded = runs.filter((run) => run.status === 'succeeded').length;
      return {
        store: kind,
        path: pathKind,
        pauseAt,
        startsAfterPause,
        duplicates: [...counts.values()].filter((n) => n > 1).length,
        lost: INTERVALS - Math.min(succeeded, counts.size),
      };
    } finally {
      await operator.close();
      await opened.close();
    }
  } finally {
    await admin?.query(`DROP DATABASE IF EXISTS \`${database}\``);
    await admin?.end();
    await rm(dataDir, { recursive: true, force: true });
  }
}

const trials: Trial[] = [];
for (const kind of ['sqlite', 'mysql'] as const) {
  for (const pathKind of ['local', 'aws'] as const) {
    for (const pauseAt of PAUSE_POINTS) {
      const result = await trial(kind, pathKind, pauseAt);
      trials.push(result);
      console.log(
        `${kind.padEnd(6)} ${pathKind.padEnd(5)} pause after ${String(pauseAt).padStart(2)} starts: ${result.startsAfterPause} started after pause returned; duplicates ${result.duplicates}, lost ${result.lost}`,
      );
    }
  }
}

const byPath: Record<string, number[]> = {};
for (const t of trials) {
  const key = `${t.store}/${t.path}`;
  byPath[key] = [...(byPath[key] ?? []), t.startsAfterPause];
}
const max = Math.max(...trials.map((t) => t.startsAfterPause));
const duplicates = trials.reduce((sum, t) => sum + t.duplicates, 0);
const lost = trials.reduce((sum, t) => sum + t.lost, 0);
const ok = max <= CONCURRENCY && duplicates === 0 && lost === 0;
console.log(
  JSON.stringify({
    bench: 'pause-under-load',
    intervals: INTERVALS,
    concurrency: CONCURRENCY,
    trials: trials.length,
    max_starts_after_pause: max,
    starts_after_pause: byPath,
    duplicates,
    lost,
  }),
);
if (!ok) process.exitCode = 1;
