/**
 * The pieces that make the runtime recover from a state store that goes away (see db-faults.test.ts for
 * the whole runtime under faults): connection failures are told apart as StoreUnavailableError, a run
 * that failed only because the store was out of reach is put back to pending instead of failed, and the
 * local runtime plans and dispatches again with backoff instead of waiting for the job's next tick.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../shared/config.ts';
import { StoreError, StoreUnavailableError } from '../../shared/errors.ts';
import { RETRY_FIRST_MS } from '../../shared/local/backoff.ts';
import { LocalRuntime, type ProgressEvent } from '../../shared/local/runtime.ts';
import { JobRegistry } from '../../shared/registry.ts';
import { ResourceRegistry } from '../../shared/resources/lending.ts';
import { openProcessServices, type ProcessServices } from '../../shared/runner/process.ts';
import { runStage } from '../../shared/runner/stage-runner.ts';
import { LOCAL_DRIVERS } from '../../shared/store/local.ts';
import { openMysqlStore, parseMysqlDsn } from '../../shared/store/mysql/index.ts';
import type { StateStore } from '../../shared/store/types.ts';
import { CHAOS_TABLE, defineChaosJob } from '../../support/chaos-jobs/chaos-upsert.ts';
import { type FaultProxy, startFaultProxy } from '../../support/fault-proxy.ts';
import { createTestDatabase, mysqlGate, mysqlTestDsn, type TestDatabase } from '../../support/mysql.ts';
import { checkJobState, plannedRange } from '../../support/state-checks.ts';
import { createTempSqliteStore } from '../helpers/sqlite.ts';
import { jobAt } from '../helpers/stored-job.ts';

const MINUTE_MS = 60_000;
const gate = await mysqlGate('state store unavailability tests');

describe.skipIf(gate.skip)('MySQL state store out of reach', () => {
  let database: TestDatabase;
  let proxy: FaultProxy;
  let store: StateStore;

  beforeAll(async () => {
    if (!gate.probe.available) throw new Error(gate.probe.reason);
    database = await createTestDatabase('unavailable');
    const target = parseMysqlDsn(mysqlTestDsn());
    proxy = await startFaultProxy({ targetHost: target.host, targetPort: target.port });
    store = await openMysqlStore({ dsn: proxy.rewrite(database.dsn), poolSize: 2 });
    await store.migrate();
  });

  afterAll(async () => {
    await store?.close();
    await proxy?.close();
    await database?.drop();
  });

  it('reports a refused connection as StoreUnavailableError', async () => {
    // Arrange
    await proxy.outage();

    // Act
    const attempt = store.getJob('anything');

    // Assert
    await expect(attempt).rejects.toBeInstanceOf(StoreUnavailableError);
    await proxy.restore();
  });

  it('reports a connection cut mid-transaction as StoreUnavailableError', async () => {
    // Arrange
    proxy.failOn({ match: 'FOR UPDATE', action: 'drop' });

    // Act
    const attempt = store.withJob(jobAt('cut', new Date(0)), async () => 1);

    // Assert
    await expect(attempt).rejects.toBeInstanceOf(StoreUnavailableError);
    proxy.clearTriggers();
    await expect(store.withJob(jobAt('cut', new Date(0)), async () => 2)).resolves.toBe(2);
  });

  it('reports a statement the server refuses as a StoreError that is not StoreUnavailableError', async () => {
    // Act
    const error = await store.database
      .query('SELECT * FROM no_such_table')
      .catch((caught: unknown) => caught);

    // Assert
    expect(error).toBeInstanceOf(StoreError);
    expect(error).not.toBeInstanceOf(StoreUnavailableError);
  });
});

describe('a run whose failure is the state store being out of reach', () => {
  let temp: Awaited<ReturnType<typeof createTempSqliteStore>>;
  const job = defineChaosJob({ id: 'unreachable', start: '2026-01-01T00:00:00Z' });

  beforeAll(async () => {
    temp = await createTempSqliteStore();
    await temp.store.migrate();
  });

  afterAll(async () => {
    await temp?.cleanup();
  });

  /** A run of `job` that is running under an execution, as when its stage failed. */
  async function runningRun(minute: number) {
    const start = new Date(Date.parse('2026-01-01T00:00:00Z') + minute * MINUTE_MS);
    const interval = { start, end: new Date(start.getTime() + MINUTE_MS) };
    const runId = await temp.store.withJob(job, async (tx) => {
      await tx.insertRuns([{ interval, trigger: 'schedule' }]);
      const [run] = await tx.runsInRange(interval.start, interval.end);
      await tx.markQueued([run!.runId], 'unreachable-s1');
      return run!.runId;
    });
    await temp.store.markRunning(runId, 'main', new Date());
    return { jobId: job.id, runId, executionName: 'unreachable-s1', generation: 0 };
  }

  function deps() {
    return { store: temp.store, jobs: new JobRegistry([job]), resources: new ResourceRegistry() };
  }

  it('is put back to pending under a new generation, not failed', async () => {
    // Arrange
    const run = await runningRun(0);
    const cause = JSON.stringify({
      errorType: 'StoreUnavailableError',
      errorMessage: 'Cannot use MySQL at db: connect ECONNREFUSED',
    });

    // Act
    const result = await runStage(deps(), {
      action: 'fail',
      run,
      error: { Error: 'StoreUnavailableError', Cause: cause },
    });

    // Assert
    expect(result).toEqual({
      interval: { start: '2026-01-01T00:00:00.000Z', end: '2026-01-01T00:01:00.000Z' },
      requeued: true,
    });
    const record = await temp.store.getRun(run.runId);
    expect({
      status: record?.status,
      generation: record?.generation,
      executionName: record?.executionName,
    }).toEqual({
      status: 'pending',
      generation: 1,
      executionName: null,
    });
  });

  it('is still recorded as failed when the job itself failed', async () => {
    // Arrange
    const run = await runningRun(1);
    const cause = JSON.stringify({ errorType: 'Error', errorMessage: 'the source is corrupt' });

    // Act
    const result = await runStage(deps(), { action: 'fail', run, error: { Error: 'Error', Cause: cause } });

    // Assert
    expect(result).toEqual({
      interval: { start: '2026-01-01T00:01:00.000Z', end: '2026-01-01T00:02:00.000Z' },
    });
    const record = await temp.store.getRun(run.runId);
    expect({ status: record?.status, error: record?.error }).toEqual({
      status: 'failed',
      error: 'the source is corrupt',
    });
  });
});

describe('local runtime when planning or dispatching fails', () => {
  let dir: string;
  let opened: ProcessServices;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'piko-recovery-'));
  });

  afterAll(async () => {
    await opened?.close();
    await rm(dir, { recursive: true, force: true });
  });

  /** The store, with the `withJob` calls numbered in `failing` (1-based) failing as if the server were gone. */
  function failingWithJob(store: StateStore, failing: ReadonlySet<number>): StateStore {
    let calls = 0;
    return new Proxy(store, {
      get(target, property) {
        if (property === 'withJob') {
          return (...args: Parameters<StateStore['withJob']>) => {
            calls++;
            if (failing.has(calls)) {
              return Promise.reject(
                new StoreUnavailableError(`Cannot use MySQL at db: withJob call ${calls} refused`),
              );
            }
            return target.withJob(...args);
          };
        }
        const value = Reflect.get(target, property, target) as unknown;
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
  }

  it('plans again after 1 s, then 2 s, and runs everything before runOnce resolves', async () => {
    // Arrange: 12 minutely intervals due, 5 runs per execution; withJob calls: 1 planning, 2 and 3 the
    // first dispatch, 4 the dispatch that goes on after the first execution, 5 its retry's planning
    const now = Date.now();
    const job = defineChaosJob({
      id: 'retried',
      start: new Date(Math.floor(now / MINUTE_MS) * MINUTE_MS - 12 * MINUTE_MS),
    });
    const config = loadConfig({
      env: {
        PIKO_DATA_DIR: dir,
        PIKO_SQLITE__FILE: path.join(dir, 'piko.db'),
        PIKO_MAX_RUNS_PER_EXECUTION: '5',
      },
    });
    opened = await openProcessServices(config, new JobRegistry([job]), { drivers: LOCAL_DRIVERS });
    const events: ProgressEvent[] = [];
    const runtime = new LocalRuntime({
      process: { ...opened, store: failingWithJob(opened.store, new Set([4, 5])) },
      onProgress: (event) => events.push(event),
    });

    // Act
    const totals = await runtime.runOnce();

    // Assert: reported with its retry delay, retried, and nothing lost or doubled
    expect(
      events.filter((event) => event.event === 'dispatch-error').map((event) => event.fields.retryInMs),
    ).toEqual([RETRY_FIRST_MS, 2 * RETRY_FIRST_MS]);
    const due = await plannedRange(opened.store, job);
    const check = await checkJobState({
      store: opened.store,
      job,
      due,
      sink: {
        table: CHAOS_TABLE,
        intervalColumn: 'interval_start',
        jobColumn: 'job_id',
        runIdColumn: 'run_id',
      },
    });
    expect(check.problems).toEqual([]);
    expect(check.intervals).toBeGreaterThanOrEqual(12);
    expect(totals.succeeded).toBe(check.intervals);
  });
});
