import { describe, expect, it } from 'vitest';
import { mysqlGate, mysqlTestDsn } from '../../support/mysql.ts';
import { OBSERVER_CONNECTIONS, runPoolLoad } from '../../support/pool-load.ts';

const gate = await mysqlGate('pool-bound load test');

/**
 * DESIGN.md §2: a pool bounds how many runs hold a connection at once. 1,000 runs fill a pool of 50
 * twenty times over; `npx tsx bench/pool-load.ts --concurrency 0` runs 5,000 with the same checks.
 */
const RUNS = 1000;
const POOL = 50;
/** The runtime's own state store pool (`PIKO_MYSQL__POOL_SIZE`). */
const STORE_POOL_SIZE = 10;

describe.skipIf(gate.skip)('pool bound under load', () => {
  it(`runs ${RUNS} concurrent runs on a pool of ${POOL} connections, never holding more on MariaDB`, async () => {
    // Arrange, Act
    const server = new URL(mysqlTestDsn());
    server.pathname = '/';
    const result = await runPoolLoad({
      serverUrl: server.toString(),
      runs: RUNS,
      pool: POOL,
      storePoolSize: STORE_POOL_SIZE,
      holdMs: 5,
    });
    const { wait } = result;
    console.log(
      [
        `[load] ${result.succeeded}/${RUNS} runs on mysqlPool({ max: ${POOL} }) in ${Math.round(result.durationMs)} ms`,
        `[load] peak connections per user/db (${result.samples} PROCESSLIST samples): ${result.peaks
          .map((p) => `${p.user}${p.db ? `@${p.db}` : ''}=${p.max}`)
          .join(', ')}`,
        `[load] handlers ran on ${result.distinctHandlerConnections} distinct connections`,
        `[load] Max_used_connections ${result.maxUsedConnections} (server-wide; ${result.connectedAtFlush} connected at FLUSH STATUS)`,
        `[load] pool wait ms: p50 ${wait.p50Ms.toFixed(1)}, p95 ${wait.p95Ms.toFixed(1)}, p99 ${wait.p99Ms.toFixed(1)}, max ${wait.maxMs.toFixed(1)}, mean ${wait.meanMs.toFixed(1)} (${wait.count} waits)`,
      ].join('\n'),
    );

    // Assert: every run went through, the pool was full but never over (the pool user is also capped
    // by the server at POOL connections, so one more would have failed a run).
    expect(result.succeeded).toBe(RUNS);
    expect(result.leftOpen).toBe(0);
    expect(wait.count).toBe(RUNS);
    expect(result.samples).toBeGreaterThan(10);
    expect(result.maxPoolConnections).toBeLessThanOrEqual(POOL);
    expect(result.distinctHandlerConnections).toBeLessThanOrEqual(POOL);
    expect(result.distinctHandlerConnections).toBeGreaterThan(POOL / 2);
    expect(result.maxRuntimeConnections).toBeLessThanOrEqual(STORE_POOL_SIZE);
    // Server-wide, other test files' connections count too: exact only when nobody else was connected.
    const bound = POOL + STORE_POOL_SIZE + OBSERVER_CONNECTIONS;
    if (
      result.connectedAtFlush <= OBSERVER_CONNECTIONS &&
      result.maxOtherConnections <= OBSERVER_CONNECTIONS
    ) {
      expect(result.maxUsedConnections).toBeLessThanOrEqual(bound);
    } else {
      expect(result.maxUsedConnections).toBeLessThanOrEqual(
        bound + result.connectedAtFlush + result.maxOtherConnections,
      );
    }
  });
});
