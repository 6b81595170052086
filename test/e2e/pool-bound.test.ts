/**
 * Pool bound, asserted by MariaDB itself: 150 runs of a job like example (b) started at once through
 * one process's services (one ResourceRegistry, so one sqlPool of 10) never hold more than 10 connections.
 *
 * The pool connects as a user of its own, created with MAX_USER_CONNECTIONS 10 (the server refuses an
 * 11th connection, which would fail a run), and information_schema.PROCESSLIST is sampled for that
 * user every few milliseconds while the runs go. The state store connects as the test user, so its
 * connections are not counted.
 */
import './quiet-metrics.ts';
import { randomBytes } from 'node:crypto';
import { type Connection, createConnection, type RowDataPacket } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../shared/config.ts';
import { JobRegistry } from '../../shared/registry.ts';
import { openProcessServices, type ProcessServices } from '../../shared/runner/process.ts';
import { runStage } from '../../shared/runner/stage-runner.ts';
import { LOCAL_DRIVERS } from '../../shared/store/local.ts';
import { createTestDatabase, mysqlGate, mysqlTestDsn, type TestDatabase } from '../../support/mysql.ts';
import { POOL_MAX, POOL_STORES, pool, poolDb } from '../fixtures/jobs/defs/pool.ts';
import { sleep, tempDir } from './support.ts';

/** 15 times the pool; `npx tsx bench/pool-load.ts --concurrency 0` runs 5,000 on a pool of 50 with the same checks. */
const RUNS = 150;
const gate = await mysqlGate('pool-bound end-to-end test');

describe.skipIf(gate.skip)(`${RUNS} concurrent runs sharing a sqlPool of 10 (MySQL)`, () => {
  let database: TestDatabase;
  let temp: Awaited<ReturnType<typeof tempDir>>;
  let admin: Connection;
  let opened: ProcessServices | undefined;
  const poolUser = `piko_pool_${randomBytes(4).toString('hex')}`;

  beforeAll(async () => {
    if (!gate.probe.available) throw new Error(gate.probe.reason);
    database = await createTestDatabase('e2e_pool');
    temp = await tempDir('pool');
    admin = await createConnection({ uri: mysqlTestDsn() });
    const password = randomBytes(12).toString('hex');
    await admin.query(`CREATE USER ?@'%' IDENTIFIED BY ? WITH MAX_USER_CONNECTIONS ${POOL_MAX}`, [
      poolUser,
      password,
    ]);
    await admin.query(`GRANT ALL PRIVILEGES ON \`${database.name}\`.* TO ?@'%'`, [poolUser]);
    const poolDsn = new URL(database.dsn);
    poolDsn.username = poolUser;
    poolDsn.password = password;
    // sqlPool() reads the process's configuration: the pool connects as its own user…
    process.env.PIKO_MYSQL__DSN = poolDsn.toString();
    // … while the state store (and the upsert sink writing through it) connects as the test user.
    const config = loadConfig({ env: { PIKO_MYSQL__DSN: database.dsn, PIKO_DATA_DIR: temp.dir } });
    opened = await openProcessServices(config, new JobRegistry([pool]), { drivers: LOCAL_DRIVERS });
  });

  afterAll(async () => {
    await opened?.close();
    delete process.env.PIKO_MYSQL__DSN;
    if (admin) {
      await admin.query(`DROP USER IF EXISTS ?@'%'`, [poolUser]);
      await admin.end();
    }
    await database?.drop();
    await temp?.remove();
  });

  /** Samples the pool user's connections on the server until `stop` is called. */
  function sampleConnections() {
    let running = true;
    let max = 0;
    let samples = 0;
    const done = (async () => {
      while (running) {
        const [rows] = await admin.query<RowDataPacket[]>(
          'SELECT COUNT(*) AS n FROM information_schema.PROCESSLIST WHERE USER = ?',
          [poolUser],
        );
        max = Math.max(max, Number(rows[0]?.n ?? 0));
        samples++;
        await sleep(2);
      }
    })();
    return {
      async stop() {
        running = false;
        await done;
        return { max, samples };
      },
    };
  }

  it('never holds more than 10 connections, as counted by the server', async () => {
    // Arrange: RUNS pending runs of the job
    if (!opened) throw new Error('not opened');
    const runtime = opened;
    const from = new Date('2026-01-01T00:00:00.000Z');
    const to = new Date(from.getTime() + RUNS * 5 * 60_000);
    const intervals = [...pool.schedule.intervals(from, to)];
    const executionName = 'pool-b20260101T000000Z-0123456789abcdef';
    await runtime.store.withJob(pool, async (tx) => {
      await tx.insertRuns(intervals.map((interval) => ({ interval, trigger: 'backfill' as const })));
      const inserted = await tx.runsInRange(from, to);
      await tx.markQueued(
        inserted.map((run) => run.runId),
        executionName,
      );
    });
    const runs = await runtime.store.listRuns(pool.id);
    expect(runs).toHaveLength(RUNS);
    const sampler = sampleConnections();

    // Act: every run at once, as RUNS stage invocations in one process
    const results = await Promise.allSettled(
      runs.map((run) =>
        runStage(runtime, {
          action: 'run',
          stage: 'main',
          stageIndex: 0,
          lastStage: true,
          run: { jobId: pool.id, runId: run.runId, executionName, generation: run.generation },
        }),
      ),
    );
    const observed = await sampler.stop();
    const waits = poolDb.poolWaitStats();
    console.log(
      `pool bound: max ${observed.max} connections of the pool user over ${observed.samples} PROCESSLIST samples; ` +
        `pool waits ms: p50 ${waits.p50Ms.toFixed(1)}, p95 ${waits.p95Ms.toFixed(1)}, p99 ${waits.p99Ms.toFixed(1)}, ` +
        `max ${waits.maxMs.toFixed(1)}, mean ${waits.meanMs.toFixed(1)} (${waits.count} acquisitions)`,
    );

    // Assert: every run succeeded, the server never saw more than the pool's 10 connections
    expect(results.filter((result) => result.status === 'rejected')).toEqual([]);
    expect(await runtime.store.countRuns(pool.id)).toEqual({
      waiting: 0,
      pending: 0,
      queued: 0,
      running: 0,
      succeeded: RUNS,
      failed: 0,
      cancelled: 0,
      skipped: 0,
    });
    expect(observed.max).toBe(POOL_MAX);
    expect(waits.count).toBe(RUNS);
    const [rows] = await admin.query<RowDataPacket[]>(
      `SELECT COUNT(*) AS n, COUNT(DISTINCT interval_start) AS intervals FROM \`${database.name}\`.e2e_pool_totals`,
    );
    expect({ n: Number(rows[0]?.n), intervals: Number(rows[0]?.intervals) }).toEqual({
      n: RUNS * POOL_STORES.length,
      intervals: RUNS,
    });
  });
});
