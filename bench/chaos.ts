/**
 * Crash trials at scale: the test/chaos trials (a `piko start --once` child catching up 100–200 minutely
 * intervals, killed with SIGKILL at random moments and restarted until a run exits 0, then every due
 * interval checked: one run, succeeded, plausible attempts, one sink row) many times, on MariaDB and on
 * SQLite, half each.
 *
 * Run: `npx tsx bench/chaos.ts [--trials N] [--seed S] [--store mysql|sqlite|both]`. MariaDB from
 * `PIKO_TEST_MYSQL_DSN` (default mysql://root@127.0.0.1:3306). The last line printed is one JSON object.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { CrashSuite, type CrashTotals, describeTotals } from '../support/crash-trials.ts';
import { createTestDatabase, mysqlAvailable } from '../support/mysql.ts';

const { values } = parseArgs({
  options: {
    trials: { type: 'string', default: '200' },
    seed: { type: 'string' },
    store: { type: 'string', default: 'both' },
    quiet: { type: 'boolean', default: false },
  },
});
const trials = Number(values.trials);
if (!Number.isInteger(trials) || trials < 1)
  throw new Error(`--trials must be a whole number >= 1, got ${values.trials}`);
const seed = values.seed === undefined ? Date.now() % 1_000_000 : Number(values.seed);
const kinds =
  values.store === 'both' ? (['mysql', 'sqlite'] as const) : ([values.store] as ('mysql' | 'sqlite')[]);
if (!kinds.every((kind) => kind === 'mysql' || kind === 'sqlite'))
  throw new Error('--store must be mysql, sqlite or both');

const log = values.quiet ? () => {} : (line: string) => console.log(line);
const started = performance.now();
const all: CrashTotals[] = [];
const perStore: string[] = [];
console.log(
  `chaos bench: ${trials} trials, seed ${seed}, stores ${kinds.join(' and ')}, ${cpus().length} cores`,
);

for (const [index, kind] of kinds.entries()) {
  const count = Math.floor(trials / kinds.length) + (index < trials % kinds.length ? 1 : 0);
  if (count === 0) continue;
  const dataDir = await mkdtemp(path.join(tmpdir(), `piko-chaos-bench-${kind}-`));
  let database: Awaited<ReturnType<typeof createTestDatabase>> | undefined;
  if (kind === 'mysql') {
    const probe = await mysqlAvailable();
    if (!probe.available) throw new Error(probe.reason);
    database = await createTestDatabase('chaos_bench');
  }
  const suite = new CrashSuite({
    store: database ? { kind: 'mysql', dsn: database.dsn } : { kind: 'sqlite' },
    dataDir,
    seed: seed + index,
    log: (line) => log(`${kind} ${line}`),
  });
  const suiteStarted = performance.now();
  try {
    for (let trial = 0; trial < count; trial++) await suite.run(trial);
  } finally {
    await suite.close();
    await database?.drop();
    await rm(dataDir, { recursive: true, force: true });
  }
  perStore.push(
    describeTotals(kind === 'mysql' ? 'MariaDB' : 'SQLite', suite.totals, performance.now() - suiteStarted),
  );
  all.push(suite.totals);
}

const sum = (pick: (totals: CrashTotals) => number) => all.reduce((total, totals) => total + pick(totals), 0);
const errors = all.flatMap((totals) => totals.errors);
for (const line of perStore) console.log(line);
for (const error of errors.slice(0, 20)) console.log(`ERROR ${error}`);
const seconds = (performance.now() - started) / 1000;
console.log(
  `total: ${sum((t) => t.trials)} trials, ${sum((t) => t.intervals)} intervals checked, ${sum((t) => t.kills)} kills, ` +
    `duplicates ${sum((t) => t.duplicates)}, lost ${sum((t) => t.lost)}, other problems ${errors.length}, in ${seconds.toFixed(1)} s`,
);
console.log(
  JSON.stringify({
    bench: 'chaos',
    trials: sum((t) => t.trials),
    intervals: sum((t) => t.intervals),
    duplicates: sum((t) => t.duplicates),
    lost: sum((t) => t.lost),
    kills: sum((t) => t.kills),
    errors: errors.length,
    seed,
    seconds: Math.round(seconds),
  }),
);
process.exitCode = errors.length > 0 || sum((t) => t.duplicates + t.lost) > 0 ? 1 : 0;
