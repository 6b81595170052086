/**
 * Plans a one-year minutely backfill (cron `* * * * *`, America/New_York, 2026-01-01T00:00 to
 * 2027-01-01T00:00 local) into MariaDB through the real planner (`planBackfill`, chunks of the job's
 * maxIntervalsPerDispatch = 1,000, one transaction each), and in the same run measures the raw
 * multi-row INSERT rate of the same rows into a bare table with the same columns and unique key
 * (`query` with `VALUES ?`, batches of 1,000, autocommit). Both tables come from the migrations: the
 * bare one is `piko_runs` without its secondary indexes.
 *
 *   npx tsx bench/plan-backfill.ts [--sequential] [--full-schema]
 *
 * By default the two are interleaved: after each planner transaction one raw batch runs, timed apart
 * and left out of the planner's time, so that load from other processes on a shared machine weighs
 * on both alike (nine runs on a busy 2-core machine gave ratios 0.67–0.73; the whole raw insert
 * followed by the whole planner gave 0.49–1.07). Both tables then share the buffer pool, so both
 * rates are lower than each one alone. `--sequential` runs the whole raw insert first, then the whole
 * planner. `--full-schema` also times the raw insert into a copy of `piko_runs` with its secondary
 * indexes, to show what they cost.
 *
 * Uses the MariaDB at 127.0.0.1:3306 as root (override with `PIKO_BENCH_MYSQL_URL`, a server URL
 * without database): a fresh database `piko_bench_<random>` per run, dropped at the end.
 * The last line printed is one JSON object for scripts.
 */
import { randomBytes } from 'node:crypto';
import mysql from 'mysql2/promise';
import { defineJob } from '../shared/job.ts';
import { backfillId, planBackfill } from '../shared/planner/index.ts';
import { openMysqlStore, type StateStore } from '../shared/store/index.ts';

const SERVER = process.env.PIKO_BENCH_MYSQL_URL ?? 'mysql://root@127.0.0.1:3306';
const SEQUENTIAL = process.argv.includes('--sequential');
const FULL_SCHEMA = process.argv.includes('--full-schema');
const CRON = '* * * * *';
const TIMEZONE = 'America/New_York';
/** 2026-01-01T00:00 and 2027-01-01T00:00 in New York (EST, UTC-5). */
const FROM = new Date('2026-01-01T05:00:00.000Z');
const TO = new Date('2027-01-01T05:00:00.000Z');
/** The workload's name in the JSON: minutes in a year. DST removes 60 of them in New York. */
const YEAR_MINUTES = 525_600;
const BATCH = 1_000;

const INSERT_COLUMNS =
  'job_id, interval_start, interval_end, status, trigger_kind, backfill_id, config, created_at, updated_at';

const format = (n: number) => Math.round(n).toLocaleString('en-US');
const url = new URL(SERVER);

/** A connection set up as the store's: UTC, READ COMMITTED, autocommit. */
async function connect(database?: string): Promise<mysql.Connection> {
  const connection = await mysql.createConnection({
    host: url.hostname,
    port: Number(url.port || 3306),
    user: decodeURIComponent(url.username),
    password: url.password ? decodeURIComponent(url.password) : undefined,
    database,
    timezone: 'Z',
    charset: 'utf8mb4',
  });
  await connection.query("SET time_zone = '+00:00'");
  await connection.query('SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED');
  return connection;
}

/**
 * Creates `bare_runs`: `piko_runs` as the migrations made it (columns, primary and unique key), without
 * its secondary indexes.
 */
async function createBareTable(connection: mysql.Connection): Promise<void> {
  await connection.query('CREATE TABLE bare_runs LIKE piko_runs');
  const [indexes] = (await connection.query(
    'SELECT DISTINCT INDEX_NAME AS name FROM information_schema.STATISTICS ' +
      "WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'bare_runs' AND NON_UNIQUE = 1",
  )) as unknown as [{ name: string }[]];
  if (indexes.length === 0) return;
  await connection.query(
    `ALTER TABLE bare_runs ${indexes.map(({ name }) => `DROP INDEX \`${name}\``).join(', ')}`,
  );
}

/** Inserts `rows` into `table` in batches of {@link BATCH}, one batch per call; returns seconds spent. */
function rawInserter(connection: mysql.Connection, table: string, rows: readonly unknown[][]) {
  let next = 0;
  let seconds = 0;
  return {
    get done() {
      return next >= rows.length;
    },
    get seconds() {
      return seconds;
    },
    async batch(): Promise<void> {
      if (next >= rows.length) return;
      const started = performance.now();
      await connection.query(`INSERT INTO ${table} (${INSERT_COLUMNS}) VALUES ?`, [
        rows.slice(next, next + BATCH),
      ]);
      seconds += (performance.now() - started) / 1000;
      next += BATCH;
    },
  };
}

/** The store, with `after` run (and its time taken out of the planner's) after each planning transaction. */
function interleaved(store: StateStore, after: () => Promise<void>): StateStore {
  const withJob: StateStore['withJob'] = async (job, work) => {
    const result = await store.withJob(job, work);
    await after();
    return result;
  };
  return new Proxy(store, {
    get(target, property) {
      if (property === 'withJob') return withJob;
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

const job = defineJob({
  id: 'bench-minutely',
  schedule: { cron: CRON, timezone: TIMEZONE },
  catchup: false,
  handler: async () => undefined,
});

const database = `piko_bench_${randomBytes(6).toString('hex')}`;
const admin = await connect();
const [[{ version }]] = (await admin.query('SELECT VERSION() AS version')) as unknown as [
  { version: string }[],
];
await admin.query(`CREATE DATABASE \`${database}\``);

try {
  const request = { jobId: job.id, from: FROM, to: TO };
  const id = backfillId(request);

  // The rows the planner writes, built beforehand so the raw figure is the database's alone.
  const now = new Date();
  const rows: unknown[][] = [];
  for (const interval of job.schedule.intervals(FROM, TO)) {
    rows.push([job.id, interval.start, interval.end, 'pending', 'backfill', id, null, now, now]);
  }
  const realIntervals = rows.length;

  const store = await openMysqlStore({ dsn: `${SERVER}/${database}` });
  try {
    await store.migrate();
    const raw = await connect(database);
    await createBareTable(raw);
    const bare = rawInserter(raw, 'bare_runs', rows);
    if (SEQUENTIAL) while (!bare.done) await bare.batch();

    // The planner's clock: the end of the year, so the whole range has ended (today may be earlier).
    const planner = SEQUENTIAL ? store : interleaved(store, () => bare.batch());
    const planStarted = performance.now();
    const result = await planBackfill(planner, job, request, TO);
    while (!bare.done) await bare.batch();
    const seconds = (performance.now() - planStarted) / 1000 - (SEQUENTIAL ? 0 : bare.seconds);

    const counts = await store.countRuns(job.id);
    if (!result.done || result.counts.create !== realIntervals || counts.pending !== realIntervals) {
      throw new Error(
        `planBackfill created ${result.counts.create} runs (${counts.pending} pending in the table), expected ${realIntervals}`,
      );
    }
    const [[{ n: rawCount }]] = (await raw.query('SELECT COUNT(*) AS n FROM bare_runs')) as unknown as [
      { n: number }[],
    ];
    if (Number(rawCount) !== realIntervals) {
      throw new Error(`the raw insert left ${rawCount} rows, expected ${realIntervals}`);
    }

    let fullSchemaSeconds: number | undefined;
    if (FULL_SCHEMA) {
      await raw.query('DROP TABLE bare_runs');
      await raw.query('CREATE TABLE full_runs LIKE piko_runs');
      const full = rawInserter(raw, 'full_runs', rows);
      while (!full.done) await full.batch();
      fullSchemaSeconds = full.seconds;
    }
    await raw.end();

    const perSecond = realIntervals / seconds;
    const rawPerSecond = realIntervals / bare.seconds;
    const ratio = perSecond / rawPerSecond;
    console.log(
      `plan-backfill: ${CRON} in ${TIMEZONE}, ${FROM.toISOString()} to ${TO.toISOString()} (one local year), ` +
        `MariaDB ${version}, ${SEQUENTIAL ? 'sequential' : 'interleaved batch by batch'}`,
    );
    console.log(
      `  planBackfill  ${format(realIntervals)} intervals (${YEAR_MINUTES - realIntervals} minutes do not exist on 2026-03-08) ` +
        `in ${Math.ceil(realIntervals / job.maxIntervalsPerDispatch)} transactions of ${job.maxIntervalsPerDispatch}: ` +
        `${seconds.toFixed(3)} s = ${format(perSecond)} intervals/s`,
    );
    console.log(
      `  raw INSERT    the same rows in batches of ${BATCH} into a bare table (same columns, unique key): ` +
        `${bare.seconds.toFixed(3)} s = ${format(rawPerSecond)} rows/s`,
    );
    if (fullSchemaSeconds !== undefined) {
      console.log(
        `  raw INSERT    the same rows into a copy of piko_runs with its secondary indexes: ` +
          `${fullSchemaSeconds.toFixed(3)} s = ${format(realIntervals / fullSchemaSeconds)} rows/s`,
      );
    }
    console.log(`  ratio (planner / raw): ${ratio.toFixed(2)} (goal >= 0.5)`);
    console.log(
      JSON.stringify({
        bench: 'plan-backfill',
        intervals: YEAR_MINUTES,
        seconds: Number(seconds.toFixed(3)),
        intervals_per_s: Math.round(perSecond),
        raw_insert_rows_per_s: Math.round(rawPerSecond),
        ratio: Number(ratio.toFixed(2)),
        real_intervals: realIntervals,
      }),
    );
  } finally {
    await store.close();
  }
} finally {
  await admin.query(`DROP DATABASE IF EXISTS \`${database}\``);
  await admin.end();
}
