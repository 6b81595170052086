/**
 * Work another runtime left (DESIGN.md §8): a manual run whose runtime stopped on a signal before it
 * ended (its handler aborted at the end of the grace period, its lease given up) is taken over by a
 * live `piko start` on the same store within a third of the lease, not at the job's next tick (an
 * hour away here), and succeeds, its handler run once more.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../shared/config.ts';
import { defineJob } from '../../../shared/job.ts';
import { LocalRuntime } from '../../../shared/local/runtime.ts';
import { JobRegistry } from '../../../shared/registry.ts';
import { openProcessServices, type ProcessServices } from '../../../shared/runner/process.ts';
import { LOCAL_DRIVERS } from '../../../shared/store/local.ts';
import type { RunRecord } from '../../../shared/store/types.ts';
import { waitFor } from '../../e2e/support.ts';

const NOW = new Date('2026-03-02T12:30:00.000Z');
const INTERVAL = { start: new Date('2026-03-02T10:00:00Z'), end: new Date('2026-03-02T11:00:00Z') };
/** Handlers of the first runtime wait until aborted; the second's return at once. */
const calls: { runtime: string; aborted: boolean }[] = [];

const hourly = defineJob({
  id: 'left_work_hourly',
  description: 'hourly; in the first runtime its handler waits for the shutdown',
  schedule: { cron: '0 * * * *', timezone: 'UTC' },
  start: '2026-03-02T00:00:00Z',
  catchup: false,
  retry: { attempts: 1 },
  handler: async (ctx) => {
    const call = { runtime: process.env.LEFT_WORK_RUNTIME ?? '?', aborted: false };
    calls.push(call);
    if (call.runtime !== 'first') return;
    await new Promise<void>((_, reject) => {
      ctx.signal.addEventListener('abort', () => {
        call.aborted = true;
        reject(ctx.signal.reason);
      });
    });
  },
});

describe('work a stopped runtime left', () => {
  let dir: string;
  const opened: ProcessServices[] = [];
  const open = async (shutdown: AbortSignal) => {
    const config = loadConfig({
      env: {
        PIKO_DATA_DIR: dir,
        PIKO_SQLITE__FILE: path.join(dir, 'piko.db'),
        // A sweep every second.
        PIKO_RUNTIME__LEASE_SECONDS: '3',
      },
    });
    const services = await openProcessServices(config, new JobRegistry([hourly]), {
      drivers: LOCAL_DRIVERS,
      shutdown,
    });
    opened.push(services);
    return services;
  };
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'piko-left-work-'));
  });
  afterAll(async () => {
    for (const services of opened) await services.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('is taken over by a live runtime within a third of the lease, not at the next tick', async () => {
    // Arrange: a live runtime as piko start runs it (planned, ticking), at a fixed instant
    const standbyAbort = new AbortController();
    const standby = new LocalRuntime({ process: await open(standbyAbort.signal), clock: () => NOW });
    await standby.planAll();
    standby.scheduleTicks();
    // Another runtime (piko ui's) runs the interval by hand and is stopped while its handler runs.
    const firstAbort = new AbortController();
    const firstServices = await open(firstAbort.signal);
    const first = new LocalRuntime({ process: firstServices, clock: () => NOW, noRetryWaits: true });
    const runOf = async (): Promise<RunRecord | undefined> =>
      (await firstServices.store.listRuns(hourly.id, { from: INTERVAL.start, to: INTERVAL.end }))[0];
    process.env.LEFT_WORK_RUNTIME = 'first';
    await first.runInterval(hourly, INTERVAL, null);
    await waitFor('the manual run to start', async () =>
      (await runOf())?.status === 'running' ? true : undefined,
    );

    // Act: the first runtime stops (its grace period over, the handler aborted); the other goes on
    await first.stop(100, firstAbort);
    const left = await runOf();
    process.env.LEFT_WORK_RUNTIME = 'standby';
    const succeeded = await waitFor(
      'the standby to take the run over',
      async () => {
        const run = await runOf();
        return run?.status === 'succeeded' ? run : undefined;
      },
      { timeoutMs: 30_000 },
    );
    await standby.stop(1_000, standbyAbort);

    // Assert: left in flight, nobody's; then run once more by the standby, and succeeded
    expect(left?.status).toMatch(/^(queued|running)$/);
    expect(calls).toEqual([
      { runtime: 'first', aborted: true },
      { runtime: 'standby', aborted: false },
    ]);
    expect(succeeded).toMatchObject({ runId: left!.runId, status: 'succeeded', trigger: 'manual' });
  });
});
