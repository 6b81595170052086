/**
 * Database faults at full size: the scenarios of `test/faults/db-faults.test.ts` (support/db-faults.ts)
 * as `npm test` ran them before it kept one lean case of each: 12 connection drops, 3 stalls, refusals,
 * cuts mid-transaction, an outage of the first planning, and a 30-second outage in the middle of a
 * catch-up on the default 30-second execution lease and 10-second requeue delay. `--trials N` runs the
 * whole set N times (the random fault moments differ per trial, from the seed).
 *
 * Run: `npx tsx bench/db-faults.ts [--trials N] [--seed S] [--outage-seconds 30] [--lean]` (`--lean`:
 * the scale of `npm test`). MariaDB from `PIKO_TEST_MYSQL_DSN` (default mysql://root@127.0.0.1:3306).
 * The same checks as the test; exits 1 on any problem. The last line printed is one JSON object.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { openMysqlStore, parseMysqlDsn } from '../shared/store/mysql/index.ts';
import { FaultHarness, type FaultScale, FULL_FAULTS, LEAN_FAULTS } from '../support/db-faults.ts';
import { startFaultProxy } from '../support/fault-proxy.ts';
import { createTestDatabase, mysqlAvailable, mysqlTestDsn } from '../support/mysql.ts';

const { values } = parseArgs({
  options: {
    trials: { type: 'string', default: '1' },
    seed: { type: 'string', default: '5' },
    'outage-seconds': { type: 'string' },
    lean: { type: 'boolean', default: false },
  },
});
const trials = Number(values.trials);
if (!Number.isInteger(trials) || trials < 1)
  throw new Error(`--trials must be a whole number >= 1, got ${values.trials}`);
const seed = Number(values.seed);
const base = values.lean ? LEAN_FAULTS : FULL_FAULTS;
const scale: FaultScale =
  values['outage-seconds'] === undefined
    ? base
    : { ...base, outageMs: Number(values['outage-seconds']) * 1_000 };
if (!(scale.outageMs > 0))
  throw new Error(`--outage-seconds must be a number > 0, got ${values['outage-seconds']}`);

const probe = await mysqlAvailable();
if (!probe.available) throw new Error(probe.reason);
console.log(`db-faults bench: ${trials} trials, seed ${seed}, scale ${JSON.stringify(scale)}`);
const database = await createTestDatabase('faults_bench');
const target = parseMysqlDsn(mysqlTestDsn());
const proxy = await startFaultProxy({ targetHost: target.host, targetPort: target.port });
const store = await openMysqlStore({ dsn: database.dsn, poolSize: 2 });
const dataDir = await mkdtemp(path.join(tmpdir(), 'piko-faults-bench-'));
const harness = new FaultHarness({ dsn: database.dsn, proxy, store, dataDir, seed, log: console.log });
const seconds: Record<string, number[]> = {};
const started = performance.now();
try {
  for (let trial = 0; trial < trials; trial++) {
    for (const outcome of [
      await harness.drops(scale),
      await harness.midTransaction(),
      await harness.planningOutage(),
      await harness.stalls(scale),
      await harness.refusals(scale),
      await harness.outage(scale),
    ]) {
      seconds[outcome.name] = [...(seconds[outcome.name] ?? []), Math.round(outcome.durationMs / 100) / 10];
    }
  }
} finally {
  await store.close();
  await proxy.close();
  await database.drop();
  await rm(dataDir, { recursive: true, force: true });
}
const totals = harness.totals;
console.log(harness.describe('total', performance.now() - started));
for (const problem of totals.problems.slice(0, 20)) console.log(`PROBLEM ${problem}`);
console.log(
  JSON.stringify({
    bench: 'db-faults',
    trials,
    scenarios: totals.trials,
    intervals: totals.intervals,
    faults: totals.faults,
    reported: totals.reported,
    repaired: totals.repaired,
    duplicates: totals.duplicates,
    lost: totals.lost,
    problems: totals.problems.length,
    outage_s: scale.outageMs / 1000,
    seconds,
  }),
);
process.exitCode = totals.problems.length > 0 || totals.duplicates + totals.lost > 0 ? 1 : 0;
