/**
 * `/healthz` and `/metrics` of the UI that `piko start` serves, scraped while its runtime works under
 * faketime, with every figure checked against the state table; and a second `piko start` whose port
 * is taken, which says so and runs without its UI. On both state stores.
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { RUN_STATUSES, type RunRecord } from '../../shared/store/types.ts';
import { mysqlGate } from '../../support/mysql.ts';
import {
  createE2eState,
  type E2eState,
  runPiko,
  type StoreKind,
  startPiko,
  tempDir,
  waitFor,
} from '../e2e/support.ts';
import { GATE_DIR_ENV } from '../fixtures/ui-jobs/defs/gated.ts';
import { SELECT_ENV } from '../fixtures/ui-jobs/index.ts';
import { parsePrometheusText, sampleValue } from './prometheus-text.ts';
import { startUiProcess, UI_JOBS_DIR, type UiProcess } from './support.ts';

/** 30 s after 06:00: store_totals has six 5-minute intervals in its 30-minute catch-up window; ui_gated its 05:00 hour. */
const FAKE_NOW = '2026-03-02 06:00:30';
const JOBS = ['store_totals', 'ui_gated'];

const gate = await mysqlGate('web UI metrics tests on MySQL');
const stores: { kind: StoreKind; skip: boolean }[] = [
  { kind: 'sqlite', skip: false },
  { kind: 'mysql', skip: gate.skip },
];

describe.each(stores)('the UI of piko start: /healthz and /metrics ($kind)', ({ kind, skip }) => {
  const cleanups: (() => Promise<unknown>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  async function started(label: string, gateFiles: readonly string[], port = '0') {
    const state = await createE2eState(kind, label);
    cleanups.push(() => state.cleanup());
    const gateDir = await tempDir(`${label}-gate`);
    cleanups.push(() => gateDir.remove());
    for (const file of gateFiles) await writeFile(path.join(gateDir.dir, file), '');
    const env = { ...state.env, [SELECT_ENV]: JOBS.join(','), [GATE_DIR_ENV]: gateDir.dir };
    return { state, env, portArgs: port === '0' ? [] : ['--port', port] };
  }

  async function finishedRuns(state: E2eState): Promise<Map<string, RunRecord[]>> {
    const store = await state.store();
    return new Map(await Promise.all(JOBS.map(async (job) => [job, await store.listRuns(job)] as const)));
  }

  async function scrape(ui: UiProcess) {
    const response = await fetch(`${ui.url}metrics`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
    return parsePrometheusText(await response.text());
  }

  it.skipIf(skip)('reports what the state table holds, and the store going away', async () => {
    // Arrange: store_totals succeeds, ui_gated's gate is open and says fail.
    if (kind === 'mysql' && !gate.probe.available) throw new Error(gate.probe.reason);
    const { state, env } = await started('ui-metrics', ['open', 'fail']);
    const ui = await startUiProcess(['start'], env, FAKE_NOW);
    cleanups.push(() => ui.stop());
    await waitFor(
      'the catch-up to finish',
      async () => {
        const runs = await finishedRuns(state).catch(() => undefined);
        const done = runs && [...runs.values()].flat().every((run) => run.finishedAt !== null);
        return done && runs.get('store_totals')!.length === 6 && runs.get('ui_gated')!.length === 1
          ? runs
          : undefined;
      },
      { everyMs: 100, timeoutMs: 120_000 },
    );

    // Act
    const samples = await scrape(ui);

    // Assert: every figure against the state table.
    const store = await state.store();
    const runs = await finishedRuns(state);
    for (const job of JOBS) {
      const counts = await store.countRuns(job);
      for (const status of RUN_STATUSES) {
        expect(sampleValue(samples, 'piko_runs', { job, status })).toBe(counts[status]);
      }
      const row = (await store.getJob(job))!;
      expect(sampleValue(samples, 'piko_intervals_skipped_total', { job })).toBe(row.skippedTotal);
      const scheduled = runs.get(job)!.filter((run) => run.trigger === 'schedule').length;
      expect(sampleValue(samples, 'piko_intervals_planned_total', { job })).toBe(scheduled);
      expect(sampleValue(samples, 'piko_job_paused', { job })).toBe(0);
      expect(sampleValue(samples, 'piko_job_lateness_seconds', { job })).toBe(0);
      for (const status of ['succeeded', 'failed'] as const) {
        const finished = runs.get(job)!.filter((run) => run.status === status);
        const labels = { job, status };
        expect(sampleValue(samples, 'piko_run_duration_seconds_count', labels) ?? 0).toBe(finished.length);
        const seconds = finished.reduce(
          (sum, run) => sum + (run.finishedAt!.getTime() - run.startedAt!.getTime()) / 1_000,
          0,
        );
        expect(sampleValue(samples, 'piko_run_duration_seconds_sum', labels) ?? 0).toBeCloseTo(seconds, 6);
        const infBucket = sampleValue(samples, 'piko_run_duration_seconds_bucket', { ...labels, le: '+Inf' });
        expect(infBucket ?? 0).toBe(finished.length);
      }
    }
    expect(runs.get('store_totals')!.map((run) => run.status)).toEqual(Array(6).fill('succeeded'));
    expect(runs.get('ui_gated')!.map((run) => run.status)).toEqual(['failed']);
    expect((await store.getJob('store_totals'))!.skippedTotal).toBeGreaterThan(10_000);
    // Each store_totals run borrowed one connection of its pool, in this process.
    expect(sampleValue(samples, 'piko_pool_waits_total', { job: 'store_totals', resource: 'db' })).toBe(6);
    expect(
      sampleValue(samples, 'piko_pool_wait_seconds', {
        job: 'store_totals',
        resource: 'db',
        quantile: '0.99',
      }),
    ).toBeGreaterThanOrEqual(0);

    // A pause from another process shows at the next scrape.
    const paused = await runPiko(['pause', 'store_totals'], {
      env: { ...env, PIKO_JOBS_DIR: UI_JOBS_DIR },
      fakeTime: FAKE_NOW,
    });
    expect(paused.stdout).toBe('store_totals paused\n');
    expect(sampleValue(await scrape(ui), 'piko_job_paused', { job: 'store_totals' })).toBe(1);

    // /healthz: 200 while the store answers, 503 while its tables are gone, 200 again after.
    const health = async () => {
      const response = await fetch(`${ui.url}healthz`);
      return { status: response.status, body: (await response.json()) as Record<string, unknown> };
    };
    expect(await health()).toEqual({
      status: 200,
      body: { ok: true, runtime: 'running', store: 'reachable', problems: [] },
    });
    await store.database.query(
      kind === 'mysql'
        ? 'RENAME TABLE piko_jobs TO piko_jobs_away'
        : 'ALTER TABLE piko_jobs RENAME TO piko_jobs_away',
    );
    const down = await health();
    expect(down.status).toBe(503);
    expect(down.body).toMatchObject({ ok: false, runtime: 'running', store: 'unreachable' });
    expect(String((down.body.problems as string[])[0])).toMatch(/^state store unreachable: .*piko_jobs/);
    await store.database.query(
      kind === 'mysql'
        ? 'RENAME TABLE piko_jobs_away TO piko_jobs'
        : 'ALTER TABLE piko_jobs_away RENAME TO piko_jobs',
    );
    expect((await health()).status).toBe(200);

    // ui_gated's run failed: the long-running start ends with exit code 1 after SIGINT.
    expect(await ui.stop()).toBe(1);
  });

  it.skipIf(skip)('goes on without its UI when the port is taken, and says so', async () => {
    if (kind === 'mysql' && !gate.probe.available) throw new Error(gate.probe.reason);
    const first = await started('ui-port-first', ['open']);
    const ui = await startUiProcess(['start'], first.env, FAKE_NOW);
    cleanups.push(() => ui.stop());
    const port = new URL(ui.url).port;

    const second = await started('ui-port-second', ['open']);
    const other = startPiko(['start', '--json', '--port', port], {
      env: { ...second.env, PIKO_JOBS_DIR: UI_JOBS_DIR, PIKO_SHUTDOWN_GRACE_SECONDS: '2' },
      fakeTime: FAKE_NOW,
      timeoutMs: 120_000,
    });
    cleanups.push(async () => {
      await other.kill('SIGINT');
      await other.done;
    });
    const events = () =>
      other
        .stdout()
        .split('\n')
        .filter((line) => line.startsWith('{'))
        .map((line) => JSON.parse(line) as { event: string; error?: string; jobId?: string });
    const unavailable = await waitFor(
      'the ui-unavailable line',
      async () => events().find((e) => e.event === 'ui-unavailable'),
      {
        timeoutMs: 60_000,
      },
    );
    expect(unavailable.error).toBe(
      `The web UI cannot listen on 127.0.0.1:${port}: the port is in use (another piko runtime or UI?). Choose another with --port or [ui] port (PIKO_UI__PORT).`,
    );
    // The runtime goes on: it catches up store_totals, as the first one did.
    await waitFor(
      'store_totals to run there',
      async () => {
        const runs = await (await second.state.store()).listRuns('store_totals').catch(() => []);
        return runs.length === 6 && runs.every((run) => run.status === 'succeeded') ? runs : undefined;
      },
      { everyMs: 100, timeoutMs: 120_000 },
    );
    expect(events().some((e) => e.event === 'ui-started')).toBe(false);
    await other.kill('SIGINT');
    expect((await other.done).code).toBe(0);
  });
});
