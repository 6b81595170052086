import { describe, expect, it } from 'vitest';
import { INLINE_MAP_MAX_CONCURRENCY } from '../../shared/workflow/map-mode.ts';
import { mysqlGate, mysqlTestDsn } from '../../support/mysql.ts';
import { runPoolLoad } from '../../support/pool-load.ts';

const gate = await mysqlGate('pool-bound workflow test');

/** The seed's scenario at a smaller scale: a job above 40 (a Distributed Map) sharing one pool. */
const RUNS = 300;
const CONCURRENCY = 300;
const POOL = 10;

describe.skipIf(gate.skip)('a job at concurrency 300 through the local runtime, on a pool of 10', () => {
  it(`runs ${RUNS} due intervals once each, more than 40 at once, never over ${POOL} connections on MariaDB`, async () => {
    // Arrange, Act: planned, dispatched and run through the job's (distributed, translated) workflow.
    const server = new URL(mysqlTestDsn());
    server.pathname = '/';
    const result = await runPoolLoad({
      serverUrl: server.toString(),
      runs: RUNS,
      pool: POOL,
      concurrency: CONCURRENCY,
      holdMs: 5,
    });
    const { wait } = result;
    console.log(
      `[load] ${result.succeeded}/${RUNS} runs in ${result.executions} execution(s), ${result.maxInExecutions} in flight at most, ` +
        `${result.maxInFlight} at the pool at most, its user's peak ${result.maxPoolConnections} connections; ` +
        `wait ms p50 ${wait.p50Ms.toFixed(1)}, p95 ${wait.p95Ms.toFixed(1)}, p99 ${wait.p99Ms.toFixed(1)}, max ${wait.maxMs.toFixed(1)}`,
    );

    // Assert: every interval's handler ran exactly once and succeeded at its first attempt …
    expect(result.succeeded).toBe(RUNS);
    expect(result.handlerCalls).toBe(RUNS);
    expect(result.repeatedIntervals).toBe(0);
    expect(result.runsNotOneAttempt).toBe(0);
    expect(wait.count).toBe(RUNS);
    // … in one execution whose Map ran more runs at once than an inline Map's 40 (sampled from the
    // state table; counted in process at the pool, from acquire to release) …
    expect(result.executions).toBe(1);
    expect(result.maxInExecutions).toBeGreaterThan(INLINE_MAP_MAX_CONCURRENCY);
    expect(result.maxInExecutions).toBeLessThanOrEqual(CONCURRENCY);
    expect(result.maxInFlight).toBeGreaterThan(INLINE_MAP_MAX_CONCURRENCY);
    expect(result.maxInFlight).toBeLessThanOrEqual(CONCURRENCY);
    // … with the pool full but never over (the server refuses the pool user an 11th connection).
    expect(result.maxPoolConnections).toBeLessThanOrEqual(POOL);
    expect(result.distinctHandlerConnections).toBeLessThanOrEqual(POOL);
    expect(result.leftOpen).toBe(0);
  });
});
