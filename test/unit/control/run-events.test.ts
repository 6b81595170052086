/**
 * The `runs`, `intervals`, `history` and `run` control events (issue 13: `piko runs --aws`,
 * `piko ui --aws`): parsed strictly, answered from a real SQLite store with secrets redacted, and a
 * rerun taking the run's own config.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { jobStateMachines } from '../../../shared/aws/sfn-starter.ts';
import { secret } from '../../../shared/config-secrets.ts';
import { parseControlEvent } from '../../../shared/control/events.ts';
import { type ControlDeps, handleControlEvent } from '../../../shared/control/handlers.ts';
import {
  actionFromJson,
  alertFromJson,
  type HistoryResponse,
  type IntervalsResponse,
  type RunIntervalResponse,
  type RunsResponse,
} from '../../../shared/control/run-events.ts';
import { defineJob } from '../../../shared/job.ts';
import { dispatchManualRun, markRange } from '../../../shared/planner/index.ts';
import { JobRegistry } from '../../../shared/registry.ts';
import { alertStoreOf } from '../../../shared/store/alerts.ts';
import type { StateStore } from '../../../shared/store/types.ts';
import { RecordingStarter } from '../../helpers/recording-starter.ts';
import { createTempSqliteStore } from '../../helpers/sqlite.ts';

const HOUR = 3_600_000;
const T0 = Date.parse('2026-01-01T00:00:00Z');
const KEY = 'sk-live-run-events-0123';
const hourly = defineJob({
  id: 'hourly',
  schedule: { cron: '0 * * * *' },
  start: '2026-01-01T00:00:00Z',
  config: z.object({ region: z.string().default('eu'), apiKey: secret(z.string()).optional() }),
  handler: async () => null,
});

let store: StateStore;
let cleanup: () => Promise<void>;
let starter: RecordingStarter;
let deps: ControlDeps;
const now = new Date(T0 + 5 * HOUR);
const send = <T>(event: unknown) => handleControlEvent(deps, parseControlEvent(event)) as Promise<T>;
const range = (hour: number) => ({
  from: new Date(T0 + hour * HOUR),
  to: new Date(T0 + (hour + 1) * HOUR),
});
const interval = (hour: number) => ({
  start: new Date(T0 + hour * HOUR),
  end: new Date(T0 + (hour + 1) * HOUR),
});

beforeEach(async () => {
  ({ store, cleanup } = await createTempSqliteStore({ clock: () => now }));
  await store.migrate();
  starter = new RecordingStarter();
  deps = {
    store,
    jobs: new JobRegistry([hourly]),
    starter,
    machines: jobStateMachines({
      partition: 'aws',
      region: 'eu-west-1',
      account: '123456789012',
      prefix: 'Piko',
    }),
    now: () => now,
  };
});
afterEach(async () => {
  await cleanup();
});

describe('runs, intervals and run control events', () => {
  it('refuses unknown keys and a grid read that names both or neither of limit and bucketMs', () => {
    expect(() => parseControlEvent({ action: 'runs', jobId: 'hourly', limt: 5 })).toThrow(
      'Invalid dispatcher event (action "runs"):\n  - event has unknown key(s) "limt"; allowed: action, jobId, from, to, statuses, backfillId, limit, newestFirst',
    );
    expect(() =>
      parseControlEvent({ action: 'intervals', jobId: 'hourly', from: '2026-01-01T00:00:00Z', to: 'soon' }),
    ).toThrow(
      'Invalid dispatcher event (action "intervals"):\n  - give exactly one of limit (merged spans) and bucketMs (counts per time bucket)\n  - to must be an ISO 8601 instant with an offset, such as "2026-01-01T00:00:00Z", got "soon"',
    );
    expect(() =>
      parseControlEvent({ action: 'run', jobId: 'hourly', start: '2026-01-01T00:00:00Z', rerun: 'y' }),
    ).toThrow('Invalid dispatcher event (action "run"):\n  - rerun must be true or false, got "y"');
  });

  it('answers runs with their config redacted, and the grid as spans or buckets', async () => {
    // Arrange: two manual runs, one with a secret in its config
    await dispatchManualRun(store, hourly, interval(1), { region: 'us', apiKey: KEY }, starter);
    await dispatchManualRun(store, hourly, interval(2), null, starter);

    // Act
    const runs = await send<RunsResponse>({ action: 'runs', jobId: 'hourly', limit: 10 });
    const spans = await send<IntervalsResponse>({
      action: 'intervals',
      jobId: 'hourly',
      from: new Date(T0).toISOString(),
      to: new Date(T0 + 5 * HOUR).toISOString(),
      limit: 10,
    });
    const buckets = await send<IntervalsResponse>({
      action: 'intervals',
      jobId: 'hourly',
      from: new Date(T0).toISOString(),
      to: new Date(T0 + 4 * HOUR).toISOString(),
      bucketMs: 2 * HOUR,
    });

    // Assert
    expect(JSON.stringify(runs)).not.toContain(KEY);
    expect(runs.runs.map((run) => [run.interval.start, run.status, run.config])).toEqual([
      ['2026-01-01T01:00:00.000Z', 'queued', { region: 'us', apiKey: '<redacted>' }],
      ['2026-01-01T02:00:00.000Z', 'queued', null],
    ]);
    expect(spans.spans).toEqual([
      { status: 'queued', start: '2026-01-01T01:00:00.000Z', end: '2026-01-01T03:00:00.000Z', runs: 2 },
    ]);
    expect(buckets.buckets).toEqual([
      { index: 0, status: 'queued', runs: 1 },
      { index: 1, status: 'queued', runs: 1 },
    ]);
  });

  it('runs an interval now, and reruns a finished one with the config its run has', async () => {
    // Arrange: a failed run whose config holds a secret
    const first = await dispatchManualRun(store, hourly, interval(3), { region: 'us', apiKey: KEY }, starter);
    const [run] = await store.listRuns('hourly');
    await store.markRunning(run!.runId, 'main', now);
    await store.markFailed(run!.runId, 'boom', 1, now);

    // Act
    const rerun = await send<RunIntervalResponse>({
      action: 'run',
      jobId: 'hourly',
      start: '2026-01-01T03:00:00Z',
      rerun: true,
    });
    const fresh = await send<RunIntervalResponse>({
      action: 'run',
      jobId: 'hourly',
      start: '2026-01-01T00:00:00Z',
    });

    // Assert
    expect(rerun).toMatchObject({
      action: 'run',
      interval: { start: '2026-01-01T03:00:00.000Z', end: '2026-01-01T04:00:00.000Z' },
    });
    expect(rerun.executionName).not.toBe(first.executionName);
    expect((await store.getRun(run!.runId))?.config).toEqual({ region: 'us', apiKey: KEY });
    expect(fresh.interval.start).toBe('2026-01-01T00:00:00.000Z');
    expect(starter.started.map((input) => input.runs.map((item) => item.interval.start))).toEqual([
      ['2026-01-01T03:00:00.000Z'],
      ['2026-01-01T03:00:00.000Z'],
      ['2026-01-01T00:00:00.000Z'],
    ]);
    await expect(send({ action: 'run', jobId: 'hourly', start: '2026-01-01T00:30:00Z' })).rejects.toThrow(
      '2026-01-01T00:30:00.000Z is not the start of an interval of "hourly" (cron "0 * * * *" in UTC)',
    );
  });

  it('answers history: the job’s operator actions and alerts, the newest first, at most limit', async () => {
    // Arrange: two marks and two skip alerts
    for (const hour of [1, 2]) {
      await markRange(
        store,
        hourly,
        { ...range(hour), as: 'skipped' },
        { actor: 'ana@laptop', reason: 'source was down' },
        now,
      );
    }
    const alerts = alertStoreOf(store);
    for (const hour of [0, 3])
      await alerts.claim('hourly', 'skipped', [{ ...interval(hour), intervals: 1 }], now);

    // Act
    const all = await send<HistoryResponse>({ action: 'history', jobId: 'hourly' });
    const latest = await send<HistoryResponse>({ action: 'history', jobId: 'hourly', limit: 1 });

    // Assert: JSON that reads back to the store's records
    expect(all.actions.map((action) => [action.kind, action.target, action.actor])).toEqual([
      ['mark', `${interval(2).start.toISOString()}/${interval(2).end.toISOString()}`, 'ana@laptop'],
      ['mark', `${interval(1).start.toISOString()}/${interval(1).end.toISOString()}`, 'ana@laptop'],
    ]);
    expect(all.actions.map(actionFromJson)).toEqual(await store.listActions({ jobId: 'hourly', limit: 10 }));
    expect(all.alerts.map(alertFromJson)).toEqual(await alerts.list('hourly', { newestFirst: true }));
    expect(all.alerts.map((alert) => alert.start)).toEqual([
      interval(3).start.toISOString(),
      interval(0).start.toISOString(),
    ]);
    expect([latest.actions.length, latest.alerts.length]).toEqual([1, 1]);
    expect(() => parseControlEvent({ action: 'history', jobId: 'hourly', limit: 501 })).toThrow(
      'limit must be a whole number from 1 to 500, got 501',
    );
    expect(() => parseControlEvent({ action: 'history', jobId: 'hourly', from: 'x' })).toThrow('unknown key');
  });
});
