/**
 * Retries, non-retryable errors and timeouts through the local runtime: the real workflow definition
 * in aws-local-stepfunctions, the in-process stage runner and a SQLite store on a temp file. Backoff
 * waits are skipped (`noRetryWaits`); the definition's Retry and Catch decide everything else.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../shared/config.ts';
import type { JobDefinition } from '../../shared/job.ts';
import { LocalRuntime, type ProgressEvent } from '../../shared/local/runtime.ts';
import { JobRegistry } from '../../shared/registry.ts';
import { openProcessServices, type ProcessServices } from '../../shared/runner/process.ts';
import { LOCAL_DRIVERS } from '../../shared/store/local.ts';
import { BAD_INPUT_MESSAGE, badInput, flaky, timesOut } from '../fixtures/jobs/defs/failing.ts';
import { LOG_DIR_ENV, readLog } from '../fixtures/jobs/defs/log.ts';
import { FIXTURE_JOBS_DIR, tempDir } from './support.ts';

/** Two hourly intervals of each job are due: 00:00 → 01:00 and 01:00 → 02:00. */
const NOW = new Date('2026-03-01T02:00:30.000Z');
const STARTS = ['2026-03-01T00:00:00.000Z', '2026-03-01T01:00:00.000Z'];

describe('retries, non-retryable errors and timeouts (local runtime, SQLite)', () => {
  let temp: Awaited<ReturnType<typeof tempDir>>;
  let opened: ProcessServices;
  let runtime: LocalRuntime;
  const events: ProgressEvent[] = [];

  beforeAll(async () => {
    temp = await tempDir('retries');
    process.env[LOG_DIR_ENV] = temp.dir;
    const config = loadConfig({
      env: {
        PIKO_DATA_DIR: temp.dir,
        PIKO_SQLITE__FILE: `${temp.dir}/piko.db`,
        PIKO_JOBS_DIR: FIXTURE_JOBS_DIR,
      },
    });
    opened = await openProcessServices(config, new JobRegistry([flaky, badInput, timesOut]), {
      drivers: LOCAL_DRIVERS,
    });
    runtime = new LocalRuntime({
      process: opened,
      clock: () => NOW,
      noRetryWaits: true,
      onProgress: (event) => events.push(event),
    });
  });

  afterAll(async () => {
    await opened?.close();
    delete process.env[LOG_DIR_ENV];
    await temp?.remove();
  });

  async function runJob(job: JobDefinition) {
    await runtime.planJob(job);
    await runtime.whenIdle();
    return opened.store.listRuns(job.id);
  }

  it('succeeds on the third attempt when the first two fail', async () => {
    // Act
    const runs = await runJob(flaky);

    // Assert
    expect(
      runs.map((run) => ({
        start: run.interval.start.toISOString(),
        status: run.status,
        attempts: run.attempts,
        error: run.error,
        output: run.output,
      })),
    ).toEqual(
      STARTS.map((start) => ({
        start,
        status: 'succeeded',
        attempts: 3,
        error: null,
        output: { attempt: 3 },
      })),
    );
    const failedAttempts = events
      .filter((event) => event.event === 'attempt-failed' && event.fields.jobId === flaky.id)
      .map((event) => event.fields.error)
      .toSorted();
    expect(failedAttempts).toEqual([
      `flaky: attempt 1 of ${STARTS[0]} fails`,
      `flaky: attempt 1 of ${STARTS[1]} fails`,
      `flaky: attempt 2 of ${STARTS[0]} fails`,
      `flaky: attempt 2 of ${STARTS[1]} fails`,
    ]);
  });

  it('fails a NonRetryableError after one attempt and records its message', async () => {
    // Act
    const runs = await runJob(badInput);

    // Assert
    expect(
      runs.map((run) => ({
        start: run.interval.start.toISOString(),
        status: run.status,
        attempts: run.attempts,
        error: run.error,
      })),
    ).toEqual(STARTS.map((start) => ({ start, status: 'failed', attempts: 1, error: BAD_INPUT_MESSAGE })));
    expect(await opened.store.recentFailures(badInput.id, 5)).toHaveLength(2);
  });

  it('fails a handler that outlives its timeout, and gives its resources back every time', async () => {
    // Act
    const runs = await runJob(timesOut);

    // Assert: both attempts of both intervals timed out; the run records the timeout
    expect(
      runs.map((run) => ({
        start: run.interval.start.toISOString(),
        status: run.status,
        attempts: run.attempts,
        error: run.error,
      })),
    ).toEqual(
      STARTS.map((start) => ({
        start,
        status: 'failed',
        attempts: 2,
        error: 'Stage "main" of job "e2e_timeout" timed out after 1000 ms',
      })),
    );
    // … and every lease the handlers never gave back was released by the runtime
    const ledger = await readLog(temp.dir, 'e2e_timeout-lease');
    const acquired = ledger.filter((line) => line.startsWith('acquire ')).map((line) => line.slice(8));
    const released = ledger.filter((line) => line.startsWith('release ')).map((line) => line.slice(8));
    expect(acquired.toSorted()).toEqual(['1', '2', '3', '4']);
    expect(released.toSorted()).toEqual(['1', '2', '3', '4']);
    for (const id of acquired) {
      expect(ledger.indexOf(`release ${id}`)).toBeGreaterThan(ledger.indexOf(`acquire ${id}`));
    }
  });
});
