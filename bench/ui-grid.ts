/**
 * The web UI's interval grid over a year of a job with 500,000 runs (issue 13): a minutely job
 * (`* * * * *`, UTC) whose runs of 2025 come in blocks of one status: succeeded ones of 100 to 1,000
 * intervals, each followed by 5 to 100 intervals failed, pending, queued, running or without a run
 * (missing),
 * from a fixed seed, in MariaDB and in SQLite. For each store the UI server runs in this process on
 * its own store connection, and the full-year grid page
 * (`/jobs/bench_grid?from=2025-01-01T00:00:00Z&to=2026-01-01T00:00:00Z`) is measured:
 *
 * - server: a GET until the whole page has arrived: over a year of minutes the grid is drawn from
 *   counts per time bucket (600 of 14.6 h) and status, read from `piko_runs_lane` alone, each bucket's
 *   missing intervals told from the schedule (counted once per range, then kept), the page rendered;
 * - page: headless Chromium (`/usr/bin/chromium`, playwright-core) from navigation to the load event.
 *
 *   npx tsx bench/ui-grid.ts
 *
 * - stall: the longest the server's event loop stood still during those GETs (the runtime beside the
 *   UI, in `piko start`, stands still as long).
 *
 * Each figure is the median of 5 after one warm-up (the first GET, printed as `cold`). The seeding (500,000 inserts through the store,
 * then one UPDATE per block) takes a while and is not measured. Uses the MariaDB at 127.0.0.1:3306
 * as root (`PIKO_BENCH_MYSQL_URL` to override): a fresh database `piko_bench_<random>`, dropped at
 * the end. Goal: both pages under 1,000 ms. The last line is one JSON object:
 * `{"bench":"ui-grid","intervals":500000,"mysql_ms":…,"sqlite_ms":…}` (page times), with the server
 * times and the span counts after them.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import mysql from 'mysql2/promise';
import { chromium } from 'playwright-core';
import { defineJob } from '../shared/job.ts';
import { JobRegistry } from '../shared/registry.ts';
import { openMysqlStore, type RunStatus, type StateStore } from '../shared/store/index.ts';
import { openSqliteStore } from '../shared/store/local.ts';
import { readGrid } from '../shared/ui/model.ts';
import { resolveUiAddress } from '../shared/ui/security.ts';
import { startUiServer } from '../shared/ui/server.ts';

const SERVER = process.env.PIKO_BENCH_MYSQL_URL ?? 'mysql://root@127.0.0.1:3306';
const RUNS = 500_000;
const FROM = new Date('2025-01-01T00:00:00.000Z');
const TO = new Date('2026-01-01T00:00:00.000Z');
const MINUTE_MS = 60_000;
const INSERT_CHUNK = 10_000;
const TIMED = 5;
const GOAL_MS = 1_000;

const job = defineJob({
  id: 'bench_grid',
  description: 'a year of minutely runs in blocks of one status',
  schedule: { cron: '* * * * *' },
  start: FROM.toISOString(),
  handler: () => undefined,
});
const jobs = new JobRegistry([job]);
const PAGE = `/jobs/${job.id}?from=${encodeURIComponent(FROM.toISOString())}&to=${encodeURIComponent(TO.toISOString())}`;

/** A block of consecutive minutes with one status; `missing` has no runs. */
interface Block {
  readonly first: number;
  readonly length: number;
  readonly status: RunStatus | 'missing';
}

/** mulberry32: a small PRNG with a fixed seed, so every run seeds the same blocks. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/** The other statuses, by weight; between two of them comes a block of succeeded runs. */
const WEIGHTS: readonly [Exclude<Block['status'], 'succeeded'>, number][] = [
  ['failed', 0.4],
  ['missing', 0.25],
  ['pending', 0.15],
  ['queued', 0.1],
  ['running', 0.1],
];

/** The status whose share of the weights holds `draw` (0 ≤ draw < 1). */
function weighted(draw: number): Exclude<Block['status'], 'succeeded'> {
  let left = draw;
  for (const [status, weight] of WEIGHTS) {
    if (left < weight) return status;
    left -= weight;
  }
  return 'failed';
}

/**
 * Blocks until {@link RUNS} runs: succeeded ones of 100 to 1,000 intervals, each followed by a
 * block of another status of 5 to 100 intervals (failures come in bursts).
 */
function blocks(): Block[] {
  const next = random(20261202);
  const result: Block[] = [];
  let minute = 0;
  let runs = 0;
  const push = (status: Block['status'], length: number) => {
    const kept = status === 'missing' ? length : Math.min(length, RUNS - runs);
    if (kept <= 0) return;
    result.push({ first: minute, length: kept, status });
    minute += kept;
    if (status !== 'missing') runs += kept;
  };
  while (runs < RUNS) {
    push('succeeded', 100 + Math.floor(next() * 900));
    if (runs >= RUNS) break;
    push(weighted(next()), 5 + Math.floor(next() * 95));
  }
  if (minute * MINUTE_MS > TO.getTime() - FROM.getTime()) {
    throw new Error(`the blocks take ${minute} minutes: more than a year`);
  }
  return result;
}

const at = (minute: number) => new Date(FROM.getTime() + minute * MINUTE_MS);

/** Inserts every run through the store (as the planner does), then sets each block's status. */
async function seed(store: StateStore, plan: readonly Block[]): Promise<void> {
  await store.migrate();
  const minutes = plan
    .filter((block) => block.status !== 'missing')
    .flatMap((block) => Array.from({ length: block.length }, (_, i) => block.first + i));
  for (let i = 0; i < minutes.length; i += INSERT_CHUNK) {
    const chunk = minutes.slice(i, i + INSERT_CHUNK);
    await store.withJob(job, async (tx) => {
      await tx.insertRuns(
        chunk.map((minute) => ({
          interval: { start: at(minute), end: at(minute + 1) },
          trigger: 'schedule',
        })),
      );
      await tx.advanceWatermark(at(chunk[chunk.length - 1]! + 1), 0);
    });
  }
  const sqlite = store.kind === 'sqlite';
  // Started one second after the interval's end; finished runs took 0.5 to 1.5 s.
  const startedAt = sqlite ? 'interval_end + 1000' : 'interval_end + INTERVAL 1 SECOND';
  const finishedAt = sqlite
    ? 'interval_end + 1500 + (run_id % 1000)'
    : 'interval_end + INTERVAL (1500 + run_id % 1000) * 1000 MICROSECOND';
  for (const block of plan) {
    if (block.status === 'missing' || block.status === 'pending') continue;
    const finished = block.status === 'succeeded' || block.status === 'failed';
    await store.database.query(
      `UPDATE piko_runs SET status = ?, stage = 'main', attempts = 1, execution_name = ?, started_at = ${startedAt}, ` +
        `finished_at = ${finished ? finishedAt : 'NULL'}, error = ? WHERE job_id = ? AND interval_start >= ? AND interval_start < ?`,
      [
        block.status,
        `bench_grid-${block.first}`,
        block.status === 'failed' ? 'the source table was locked' : null,
        job.id,
        at(block.first),
        at(block.first + block.length),
      ],
    );
  }
}

const median = (values: readonly number[]) =>
  [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

/** Serves the UI over `store` and measures the full-year page: server (GET) and page (Chromium) times. */
async function measure(store: StateStore, browserPage: import('playwright-core').Page) {
  const model = await readGrid(store, job, { from: FROM, to: TO }, new Date());
  const server = await startUiServer({
    address: resolveUiAddress({ host: '127.0.0.1', port: 0 }),
    store,
    jobs,
    runner: {
      runInterval: () => Promise.reject(new Error('the benchmark runs nothing')),
    },
  });
  try {
    const url = `${server.url.replace(/\/$/, '')}${PAGE}`;
    const get = async () => {
      const started = performance.now();
      const response = await fetch(url);
      const body = await response.text();
      if (response.status !== 200) throw new Error(`GET ${url}: ${response.status} ${body.slice(0, 300)}`);
      return {
        ms: performance.now() - started,
        bytes: body.length,
        timing: response.headers.get('server-timing'),
      };
    };
    const load = async () => {
      await browserPage.goto(url, { waitUntil: 'load' });
      const ms = await browserPage.evaluate(() => {
        // The browser's Navigation Timing entry (Node's types do not know it).
        const timing = performance as unknown as {
          getEntriesByType(type: 'navigation'): { loadEventEnd: number; startTime: number }[];
        };
        const [entry] = timing.getEntriesByType('navigation');
        return entry!.loadEventEnd - entry!.startTime;
      });
      // Leave the page: its live updates would fetch it again while the next figure is taken.
      await browserPage.goto('about:blank');
      return ms;
    };
    const cold = await get();
    await load();
    const gets = [];
    const loads = [];
    const stalls = monitorEventLoopDelay({ resolution: 5 });
    for (let i = 0; i < TIMED; i++) {
      stalls.enable();
      gets.push(await get());
      stalls.disable();
      loads.push(await load());
    }
    await browserPage.goto(url, { waitUntil: 'load' });
    const cells = await browserPage.locator('.timeline a.cell').count();
    await browserPage.goto('about:blank');
    return {
      coldMs: Math.round(cold.ms),
      serverMs: Math.round(median(gets.map((result) => result.ms))),
      pageMs: Math.round(median(loads)),
      /** The event loop's longest stall during the GETs, in ms (the histogram's max, in ns). */
      stallMs: Math.round(stalls.max / 1e6),
      bytes: gets[0]!.bytes,
      timing: gets[0]!.timing,
      mode: model.mode,
      cells,
      totals: model.totals,
    };
  } finally {
    await server.close();
  }
}

async function main(): Promise<void> {
  const plan = blocks();
  const runs = plan
    .filter((block) => block.status !== 'missing')
    .reduce((sum, block) => sum + block.length, 0);
  console.log(
    `${runs.toLocaleString('en-US')} runs in ${plan.length.toLocaleString('en-US')} blocks of one status over ${at(
      plan[plan.length - 1]!.first + plan[plan.length - 1]!.length,
    )
      .toISOString()
      .slice(0, 10)}`,
  );
  const profile = await mkdtemp(path.join(tmpdir(), 'piko-bench-chromium-'));
  const sqliteDir = await mkdtemp(path.join(tmpdir(), 'piko-bench-ui-grid-'));
  const database = `piko_bench_${randomBytes(4).toString('hex')}`;
  const admin = await mysql.createConnection(SERVER);
  await admin.query(`CREATE DATABASE \`${database}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin`);
  const url = new URL(SERVER);
  url.pathname = `/${database}`;
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: '/usr/bin/chromium',
    headless: true,
    viewport: { width: 1400, height: 900 },
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
    ],
  });
  const results: Record<string, Awaited<ReturnType<typeof measure>>> = {};
  try {
    const browserPage = await context.newPage();
    const report = async (kind: string, store: StateStore) => {
      const result = await measure(store, browserPage);
      results[kind] = result;
      console.log(
        `${kind}: full-year grid: server ${result.serverMs} ms (${result.timing}; cold ${result.coldMs} ms), page ${result.pageMs} ms, ` +
          `event loop stalled ${result.stallMs} ms at most; ` +
          `${result.mode}, ${result.cells} cells, ${(result.bytes / 1024).toFixed(0)} KiB of HTML; ${JSON.stringify(result.totals)}`,
      );
    };
    for (const [kind, open] of [
      ['sqlite', () => openSqliteStore({ file: path.join(sqliteDir, 'piko.db') })],
      ['mysql', () => openMysqlStore({ dsn: url.toString(), poolSize: 3 })],
    ] as const) {
      const store = await open();
      try {
        const seeding = performance.now();
        await seed(store, plan);
        console.log(`${kind}: seeded in ${((performance.now() - seeding) / 1_000).toFixed(1)} s`);
        await report(kind, store);
      } finally {
        await store.close();
      }
    }
  } finally {
    await context.close();
    await admin.query(`DROP DATABASE \`${database}\``);
    await admin.end();
    await rm(profile, { recursive: true, force: true });
    await rm(sqliteDir, { recursive: true, force: true });
  }
  const mysqlResult = results.mysql!;
  const sqliteResult = results.sqlite!;
  const met = mysqlResult.pageMs < GOAL_MS && sqliteResult.pageMs < GOAL_MS;
  console.log(
    `goal (both pages under ${GOAL_MS} ms): ${met ? 'met' : 'missed'}; load average ${loadavg()
      .map((load) => load.toFixed(1))
      .join(' ')}`,
  );
  console.log(
    JSON.stringify({
      bench: 'ui-grid',
      intervals: runs,
      mysql_ms: mysqlResult.pageMs,
      sqlite_ms: sqliteResult.pageMs,
      mysql_server_ms: mysqlResult.serverMs,
      sqlite_server_ms: sqliteResult.serverMs,
      mysql_stall_ms: mysqlResult.stallMs,
      sqlite_stall_ms: sqliteResult.stallMs,
      cells: sqliteResult.cells,
      goal_ms: GOAL_MS,
    }),
  );
}

await main();
