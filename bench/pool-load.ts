/**
 * The seed's scenario: one job at concurrency 5,000 with 5,000 due intervals, sharing a
 * `mysqlPool({ max: 50 })`, planned, dispatched and run by the local runtime on MariaDB through the
 * job's workflow definition (a Distributed Map, run locally as the inline Map it translates to); each
 * run holds its connection for a `SELECT SLEEP(0.005)`. Prints: every interval run once, the runs in
 * flight at once (state table) and at the pool, the peak connections per database user (sampled from
 * PROCESSLIST; the pool's user is also capped by the server at 50), the server's
 * `Max_used_connections` after `FLUSH STATUS`, and the pool's wait percentiles.
 * `--concurrency 0` starts every run's stage at once straight through the stage runner instead (the
 * earlier form of this benchmark).
 * Run: `npx tsx bench/pool-load.ts [--runs 5000] [--concurrency 5000] [--pool 50] [--hold-ms 5] [--store-pool 10]`.
 *
 * Uses the MariaDB at 127.0.0.1:3306 as root (override with `PIKO_BENCH_MYSQL_URL`, a server URL
 * without database): a fresh database and two users per run, dropped at the end.
 * The last line printed is one JSON object for scripts. Exits 1 when a run did not succeed, a
 * connection was left open, or the pool's user (or the runtime's store) held more connections than
 * its pool: the assertions of `test/load/pool-bound.test.ts` (`--concurrency 0`, which runs 1,000 of
 * these 5,000 in `npm test`) and `test/load/pool-bound-workflow.test.ts`.
 */
import { parseArgs } from 'node:util';
import { OBSERVER_CONNECTIONS, runPoolLoad } from '../support/pool-load.ts';

const SERVER = process.env.PIKO_BENCH_MYSQL_URL ?? 'mysql://root@127.0.0.1:3306';
const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '5000' },
    pool: { type: 'string', default: '50' },
    'hold-ms': { type: 'string', default: '5' },
    'store-pool': { type: 'string', default: '10' },
    concurrency: { type: 'string', default: '5000' },
  },
});
const runs = Number(values.runs);
const pool = Number(values.pool);
const storePoolSize = Number(values['store-pool']);
const holdMs = Number(values['hold-ms']);
const concurrency = Number(values.concurrency) || undefined;

const result = await runPoolLoad({ serverUrl: SERVER, runs, pool, storePoolSize, holdMs, concurrency });
const ms = (value: number) => Number(value.toFixed(1));
const bound = pool + storePoolSize + OBSERVER_CONNECTIONS;

console.log(
  concurrency === undefined
    ? `pool-load: ${runs} concurrent runs (stage runner), mysqlPool({ max: ${pool} }), each holding its connection ${holdMs} ms`
    : `pool-load: one job at concurrency ${concurrency}, ${runs} due intervals through the local runtime, mysqlPool({ max: ${pool} }), each holding its connection ${holdMs} ms`,
);
console.log(
  `  succeeded                ${result.succeeded}/${runs} in ${Math.round(result.durationMs)} ms (${Math.round((runs / result.durationMs) * 1000)} runs/s)`,
);
console.log(
  `  handler calls            ${result.handlerCalls} (${result.repeatedIntervals} intervals more than once; ${result.runsNotOneAttempt} runs not at attempt 1)`,
);
if (result.executions !== undefined) {
  console.log(
    `  executions               ${result.executions}; runs in flight at once ${result.maxInExecutions} (state table, sampled)`,
  );
}
console.log(`  at the pool at once      ${result.maxInFlight} runs waiting for or holding a connection`);
console.log(
  `  pool user, peak          ${result.maxPoolConnections} connections (goal <= ${pool}; ${result.samples} PROCESSLIST samples)`,
);
console.log(`  handler connections      ${result.distinctHandlerConnections} distinct connection ids`);
console.log(
  `  runtime (store) peak     ${result.maxRuntimeConnections} connections (its pool: ${storePoolSize})`,
);
console.log(
  `  other users, peak        ${result.maxOtherConnections} (the observer: ${OBSERVER_CONNECTIONS}; the rest are other clients of the server)`,
);
console.log(
  `  Max_used_connections     ${result.maxUsedConnections} server-wide (bound alone: ${pool} + ${storePoolSize} + ${OBSERVER_CONNECTIONS} = ${bound}; ${result.connectedAtFlush} connected at FLUSH STATUS)`,
);
console.log(
  `  pool wait                p50 ${ms(result.wait.p50Ms)} ms, p95 ${ms(result.wait.p95Ms)} ms, p99 ${ms(result.wait.p99Ms)} ms, max ${ms(result.wait.maxMs)} ms, mean ${ms(result.wait.meanMs)} ms`,
);
console.log(
  JSON.stringify({
    bench: 'pool-load',
    runs,
    pool,
    ...(concurrency === undefined ? {} : { concurrency }),
    max_used_connections: result.maxUsedConnections,
    runtime_connections: result.maxRuntimeConnections,
    wait_p50_ms: ms(result.wait.p50Ms),
    wait_p95_ms: ms(result.wait.p95Ms),
    wait_p99_ms: ms(result.wait.p99Ms),
    wait_max_ms: ms(result.wait.maxMs),
    pool_user_max_connections: result.maxPoolConnections,
    other_connections_max: result.maxOtherConnections,
    hold_ms: holdMs,
    duration_ms: Math.round(result.durationMs),
    succeeded: result.succeeded,
    handler_calls: result.handlerCalls,
    max_in_flight: result.maxInExecutions ?? result.maxInFlight,
    max_at_pool: result.maxInFlight,
    ...(result.executions === undefined ? {} : { executions: result.executions }),
  }),
);

// The assertions of the tests, on any size (times are printed, never judged).
const violations = [
  ...(result.succeeded === runs ? [] : [`${result.succeeded} of ${runs} runs succeeded`]),
  ...(result.wait.count === runs ? [] : [`${result.wait.count} pool acquisitions for ${runs} runs`]),
  ...(result.leftOpen === 0 ? [] : [`${result.leftOpen} connections left open`]),
  ...(result.maxPoolConnections <= pool
    ? []
    : [`the pool's user held ${result.maxPoolConnections} connections, more than ${pool}`]),
  ...(result.distinctHandlerConnections <= pool
    ? []
    : [`handlers ran on ${result.distinctHandlerConnections} connections, more than ${pool}`]),
  ...(concurrency === undefined && result.maxRuntimeConnections > storePoolSize
    ? [`the runtime held ${result.maxRuntimeConnections} connections, more than ${storePoolSize}`]
    : []),
  ...(concurrency === undefined || (result.handlerCalls === runs && result.repeatedIntervals === 0)
    ? []
    : [`${result.handlerCalls} handler calls for ${runs} intervals, ${result.repeatedIntervals} repeated`]),
];
for (const violation of violations) console.error(`VIOLATION ${violation}`);
if (violations.length > 0) process.exitCode = 1;
