/**
 * Repro of a former defect (not part of `npm test`; `test/race/racing-runtimes.test.ts` is the test):
 * several `piko start --once` processes on one MariaDB database. Before execution leases the state
 * stayed right but intervals ran more than once: each local runtime's workflow starter only knew its
 * own executions, so a batch queued by another live process looked "absent" and was started again
 * (the repair meant for a crash between commit and start): 4 processes, 300 intervals, 580–820
 * handler runs. With leases it prints 300.
 *
 * Run: `npx tsx test/race/concurrent-local-runtimes.ts [processes]` (default 4). Prints the counts; exits
 * 1 when some interval's handler ran more than once.
 */
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { openMysqlStore } from '../../shared/store/mysql/index.ts';
import { CHAOS_TABLE, defineChaosJob } from '../../support/chaos-jobs/chaos-upsert.ts';
import { createTestDatabase } from '../../support/mysql.ts';
import { spawnPiko } from '../../support/piko-process.ts';
import { checkJobState, plannedRange } from '../../support/state-checks.ts';

const MINUTE_MS = 60_000;
const processes = Number(process.argv[2] ?? 4);
const database = await createTestDatabase('local_runtimes');
const dataDir = await mkdtemp(path.join(tmpdir(), 'piko-local-runtimes-'));
const ledger = path.join(dataDir, 'ledger');
const job = {
  id: 'shared_job',
  start: new Date(Math.floor(Date.now() / MINUTE_MS) * MINUTE_MS - 300 * MINUTE_MS),
  ledger,
};
try {
  const children = Array.from({ length: processes }, () =>
    spawnPiko({ store: { kind: 'mysql', dsn: database.dsn }, dataDir, job }),
  );
  const exits = await Promise.all(children.map((child) => child.exited));
  const executions = new Map<string, number>();
  for (const line of readFileSync(ledger, 'utf8').split('\n').filter(Boolean)) {
    const start = line.split(' ')[1]!;
    executions.set(start, (executions.get(start) ?? 0) + 1);
  }
  const store = await openMysqlStore({ dsn: database.dsn, poolSize: 1 });
  const definition = defineChaosJob(job);
  const check = await checkJobState({
    store,
    job: definition,
    due: await plannedRange(store, definition),
    restarts: processes,
    sink: { table: CHAOS_TABLE, intervalColumn: 'interval_start', jobColumn: 'job_id' },
  });
  await store.close();
  const twice = [...executions.values()].filter((count) => count > 1).length;
  console.log(
    `${processes} local runtimes: exits ${exits.map((exit) => exit.code).join(', ')}; ` +
      `succeeded per process ${children.map((child) => child.count('succeeded')).join(', ')}; ` +
      `batches restarted ${children.reduce((sum, child) => sum + child.count('restarted'), 0)}`,
  );
  console.log(
    `state: ${check.intervals} intervals, duplicates ${check.duplicates}, lost ${check.lost}, max attempts ${check.maxAttempts}; ` +
      `handler runs ${[...executions.values()].reduce((a, b) => a + b, 0)}, intervals run more than once ${twice}`,
  );
  process.exitCode = twice > 0 ? 1 : 0;
} finally {
  await database.drop();
  await rm(dataDir, { recursive: true, force: true });
}
