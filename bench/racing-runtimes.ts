/**
 * Racing runtimes (issue 10, item 3): N `piko start --once` processes (N = 2, 4, 8) as child
 * processes on one MariaDB database and on one SQLite file catch up one job of 300 due intervals at
 * the same time; N/2 of them are killed with `kill -9` mid-way (each while running handlers, when
 * one is) and started again. Each handler execution is recorded in a ledger. Prints the handler
 * executions per interval for each race, and the intervals each kill interrupted and that ran again.
 *
 *   npx tsx bench/racing-runtimes.ts [--processes 2,4,8] [--intervals 300] [--store mysql|sqlite|both] [--seed S]
 *
 * MariaDB at 127.0.0.1:3306 as root (`PIKO_BENCH_MYSQL_URL`, a server URL without database): a fresh
 * `piko_bench_<random>` per race, dropped after. Exits 1 unless every interval ran exactly once and
 * succeeded, where a repeat counts apart (`duplicates_after_kill`) only when it is an interval that
 * was running in the killed process. The last line printed is one JSON object:
 * `{"bench":"racing-runtimes","intervals":…,"handler_runs":…,"duplicates":…,"duplicates_after_kill":…,"lost":…}`
 * (sums over every race), with the races listed under `"races"`.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import mysql from 'mysql2/promise';
import { describeRace, type RaceResult, type RaceStore, raceRuntimes } from '../support/racing-runtimes.ts';

const MYSQL_SERVER = process.env.PIKO_BENCH_MYSQL_URL ?? 'mysql://root@127.0.0.1:3306';

const { values } = parseArgs({
  options: {
    processes: { type: 'string', default: '2,4,8' },
    intervals: { type: 'string', default: '300' },
    store: { type: 'string', default: 'both' },
    seed: { type: 'string', default: '1' },
  },
});
const counts = values.processes.split(',').map(Number);
const intervals = Number(values.intervals);
const seed = Number(values.seed);
if (counts.some((n) => !Number.isInteger(n) || n < 1) || !Number.isInteger(intervals) || intervals < 1) {
  throw new Error(
    `--processes must list whole numbers >= 1 and --intervals be one, got ${values.processes} and ${values.intervals}`,
  );
}
if (!['mysql', 'sqlite', 'both'].includes(values.store)) {
  throw new Error(`--store must be mysql, sqlite or both, got ${values.store}`);
}
const kinds =
  values.store === 'both' ? (['mysql', 'sqlite'] as const) : ([values.store] as ('mysql' | 'sqlite')[]);

/** A fresh MariaDB database for one race, dropped by the returned function. */
async function freshDatabase(): Promise<{ dsn: string; drop(): Promise<void> }> {
  const name = `piko_bench_${randomBytes(4).toString('hex')}`;
  const admin = await mysql.createConnection(MYSQL_SERVER);
  try {
    await admin.query(`CREATE DATABASE \`${name}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin`);
  } finally {
    await admin.end();
  }
  const url = new URL(MYSQL_SERVER);
  url.pathname = `/${name}`;
  return {
    dsn: url.toString(),
    async drop() {
      const connection = await mysql.createConnection(MYSQL_SERVER);
      try {
        await connection.query(`DROP DATABASE IF EXISTS \`${name}\``);
      } finally {
        await connection.end();
      }
    },
  };
}

const races: { store: string; result: RaceResult }[] = [];
for (const kind of kinds) {
  for (const processes of counts) {
    const dataDir = await mkdtemp(path.join(tmpdir(), 'piko-bench-race-'));
    const database = kind === 'mysql' ? await freshDatabase() : undefined;
    try {
      const store: RaceStore = database
        ? { kind: 'mysql', dsn: database.dsn }
        : { kind: 'sqlite', file: path.join(dataDir, 'piko.db') };
      const result = await raceRuntimes({
        store,
        dataDir,
        processes,
        intervals,
        kills: Math.max(1, Math.floor(processes / 2)),
        seed: seed + processes,
        jobId: `race_${kind}_${processes}`,
        timeoutMs: 600_000,
      });
      races.push({ store: kind, result });
      const label = kind === 'mysql' ? 'MariaDB' : 'SQLite';
      console.log(describeRace(`${label}, N=${processes}`, result));
      for (const kill of result.kills) {
        console.log(
          `  kill -9 of pid ${kill.pid}: in flight ${kill.inFlight.join(' ') || '-'}; ran again ${kill.repeated.join(' ') || '-'}`,
        );
      }
      for (const problem of result.problems) console.log(`  ${problem}`);
    } finally {
      await database?.drop();
      await rm(dataDir, { recursive: true, force: true });
    }
  }
}

const sum = (pick: (result: RaceResult) => number) =>
  races.reduce((total, race) => total + pick(race.result), 0);
const failed = races.filter((race) => !race.result.ok).length;
console.log(
  failed === 0
    ? `every interval of ${races.length} races ran exactly once and succeeded, but for ${sum((r) => r.duplicatesAfterKill)} repeats of intervals running in killed processes`
    : `${failed} of ${races.length} races FAILED`,
);
console.log(
  JSON.stringify({
    bench: 'racing-runtimes',
    intervals: sum((r) => r.intervals),
    handler_runs: sum((r) => r.handlerRuns),
    duplicates: sum((r) => r.duplicates),
    duplicates_after_kill: sum((r) => r.duplicatesAfterKill),
    lost: sum((r) => r.lost),
    races: races.map(({ store, result }) => ({
      store,
      processes: result.processes,
      started: result.started,
      intervals: result.intervals,
      handler_runs: result.handlerRuns,
      duplicates: result.duplicates,
      duplicates_after_kill: result.duplicatesAfterKill,
      lost: result.lost,
      executions_per_interval: result.executionsPerInterval,
      seconds: Math.round(result.durationMs / 100) / 10,
    })),
  }),
);
process.exitCode = failed === 0 ? 0 : 1;
