/**
 * A lambda → fargate → lambda job through the local runtime: the Fargate stage runs the container
 * entry point (shared/local/fargate-child.ts) in a child process, and its output reaches the last stage
 * through the state store, on both stores.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../shared/config.ts';
import { LocalRuntime } from '../../shared/local/runtime.ts';
import { JobRegistry } from '../../shared/registry.ts';
import { openProcessServices, type ProcessServices } from '../../shared/runner/process.ts';
import { LOCAL_DRIVERS } from '../../shared/store/local.ts';
import { mysqlGate } from '../../support/mysql.ts';
import { readLog } from '../fixtures/jobs/defs/log.ts';
import { FARGATE_BAD_INPUT_MESSAGE, fargateBadInput, stages } from '../fixtures/jobs/defs/stages.ts';
import { createE2eState, type E2eState, FIXTURE_JOBS_DIR, type StoreKind } from './support.ts';

/** One hourly interval is due: 00:00 → 01:00. */
const NOW = new Date('2026-03-01T01:00:30.000Z');
const START = '2026-03-01T00:00:00.000Z';

const gate = await mysqlGate('Fargate stage end-to-end tests on MySQL');
const stores: { kind: StoreKind; skip: boolean }[] = [
  { kind: 'sqlite', skip: false },
  { kind: 'mysql', skip: gate.skip },
];

describe.each(stores)('a Fargate stage between two Lambda stages ($kind)', ({ kind, skip }) => {
  let state: E2eState | undefined;
  let opened: ProcessServices | undefined;
  const saved = { ...process.env };

  afterEach(async () => {
    // The child process inherits process.env: put it back as it was.
    for (const name of Object.keys(process.env)) if (!(name in saved)) delete process.env[name];
    Object.assign(process.env, saved);
    await opened?.close();
    opened = undefined;
    await state?.cleanup();
    state = undefined;
  });

  it.skipIf(skip)(
    'runs the Fargate stage in another process and hands its output to the next stage',
    async () => {
      // Arrange: what the Fargate child needs to find the jobs and the same store
      if (kind === 'mysql' && !gate.probe.available) throw new Error(gate.probe.reason);
      state = await createE2eState(kind, 'fargate');
      const env = { ...state.env, PIKO_JOBS_DIR: FIXTURE_JOBS_DIR, PIKO_TEST_JOBS: stages.id };
      Object.assign(process.env, env);
      opened = await openProcessServices(loadConfig({ env }), new JobRegistry([stages]), {
        drivers: LOCAL_DRIVERS,
      });
      const runtime = new LocalRuntime({ process: opened, clock: () => NOW, noRetryWaits: true });

      // Act
      await runtime.planJob(stages);
      await runtime.whenIdle();

      // Assert
      const [run, ...others] = await opened.store.listRuns(stages.id);
      expect(others).toEqual([]);
      expect(run?.interval.start.toISOString()).toBe(START);
      expect(run?.status).toBe('succeeded');
      expect(run?.error).toBeNull();
      const output = run?.output as { crunched: { pid: number; ppid: number }; publishPid: number };
      const fargatePid = output.crunched.pid;
      expect(fargatePid).not.toBe(process.pid);
      expect(output).toEqual({
        crunched: {
          token: `plan-${START}`,
          doubled: 42,
          planPid: process.pid,
          pid: fargatePid,
          ppid: process.pid,
        },
        publishPid: process.pid,
      });
      const rows = await state.rows<Record<string, unknown>>(
        'SELECT interval_start, token, crunch_pid, crunch_ppid, publish_pid FROM e2e_stage_pids',
      );
      expect(rows).toEqual([
        {
          interval_start: START,
          token: `plan-${START}`,
          crunch_pid: fargatePid,
          crunch_ppid: process.pid,
          publish_pid: process.pid,
        },
      ]);
      expect(runtime.totals).toEqual({ planned: 1, skipped: 0, succeeded: 1, failed: 0 });
    },
  );

  it.skipIf(skip)(
    'runs a Fargate stage that throws a NonRetryableError once, fails the run, and runs no later stage',
    async () => {
      // Arrange: the stages log each execution to an evidence file, from either process
      if (kind === 'mysql' && !gate.probe.available) throw new Error(gate.probe.reason);
      state = await createE2eState(kind, 'fargate-bad');
      const logDir = await mkdtemp(path.join(tmpdir(), 'piko-fargate-bad-'));
      try {
        const env = {
          ...state.env,
          PIKO_JOBS_DIR: FIXTURE_JOBS_DIR,
          PIKO_TEST_JOBS: fargateBadInput.id,
          PIKO_TEST_LOG_DIR: logDir,
        };
        Object.assign(process.env, env);
        opened = await openProcessServices(loadConfig({ env }), new JobRegistry([fargateBadInput]), {
          drivers: LOCAL_DRIVERS,
        });
        const runtime = new LocalRuntime({ process: opened, clock: () => NOW, noRetryWaits: true });

        // Act
        await runtime.planJob(fargateBadInput);
        await runtime.whenIdle();

        // Assert: one task start, though the policy allows three attempts; no success, no later stage
        expect(await readLog(logDir, fargateBadInput.id)).toEqual([`plan ${START}`, `crunch ${START}`]);
        const [run, ...others] = await opened.store.listRuns(fargateBadInput.id);
        expect(others).toEqual([]);
        expect(run).toMatchObject({ status: 'failed', attempts: 1 });
        expect(run?.error).toBe(FARGATE_BAD_INPUT_MESSAGE);
        expect(runtime.totals).toEqual({ planned: 1, skipped: 0, succeeded: 0, failed: 1 });
      } finally {
        await rm(logDir, { recursive: true, force: true });
      }
    },
  );
});
