/**
 * Deadline alerts through the real CLI (DESIGN.md §9), under faketime: `piko start --once` at 12:00:05
 * starts watching e2e_late (2 s deadline); `piko start` at 12:03:05, after three minutely intervals
 * failed while it was down, POSTs one alert naming them to a local webhook, which fails the first try
 * and takes the retry; a restart sends nothing again.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { AlertBody } from '../../shared/alerts/alert.ts';
import { alertStoreOf } from '../../shared/store/alerts.ts';
import {
  createE2eState,
  type E2eState,
  FIXTURE_JOBS_DIR,
  jsonLines,
  runPiko,
  sleep,
  startPiko,
  waitFor,
} from './support.ts';

const JOB = 'e2e_late';

/** A webhook on 127.0.0.1 (an ephemeral port) that answers 500 to the first POST, 200 to the others. */
async function startReceiver(): Promise<{
  url: string;
  bodies: AlertBody[];
  statuses: number[];
  server: Server;
}> {
  const bodies: AlertBody[] = [];
  const statuses: number[] = [];
  const server = createServer((request: IncomingMessage, response) => {
    let text = '';
    request.on('data', (chunk: Buffer) => {
      text += chunk.toString();
    });
    request.on('end', () => {
      bodies.push(JSON.parse(text) as AlertBody);
      const status = bodies.length === 1 ? 500 : 200;
      statuses.push(status);
      response.writeHead(status).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}/alerts`, bodies, statuses, server };
}

describe('deadline alerts through piko start', () => {
  let state: E2eState | undefined;
  let server: Server | undefined;
  afterEach(async () => {
    await new Promise((resolve) => (server ? server.close(resolve) : resolve(undefined)));
    await state?.cleanup();
    state = undefined;
    server = undefined;
  });

  it('POSTs each late interval to the webhook once, retrying a failed POST, and never again after a restart', {
    timeout: 420_000,
  }, async () => {
    // Arrange
    state = await createE2eState('sqlite', 'alerts');
    const receiver = await startReceiver();
    server = receiver.server;
    const env = {
      ...state.env,
      PIKO_JOBS_DIR: FIXTURE_JOBS_DIR,
      PIKO_TEST_JOBS: JOB,
      PIKO_SHUTDOWN_GRACE_SECONDS: '5',
      PIKO_ALERTS__WEBHOOK_URL: receiver.url,
      PIKO_ALERTS__CHECK_SECONDS: '1',
    };
    // Fake times leave ~55 s before the next deadline passes: start-up takes seconds on a busy machine.
    const timeoutMs = 180_000;
    const watching = await runPiko(['start', '--once', '--json'], {
      env,
      fakeTime: '2026-03-10 12:00:05',
      timeoutMs,
    });
    expect(watching.code).toBe(0);

    // Act: down from 12:00:05 to 12:03:05: 12:00, 12:01 and 12:02 run (and fail) late.
    const piko = startPiko(['start', '--no-ui', '--json'], {
      env,
      fakeTime: '2026-03-10 12:03:05',
      timeoutMs,
    });
    await waitFor('the retried alert POST', async () => (receiver.statuses.length >= 2 ? true : undefined), {
      everyMs: 50,
      timeoutMs: 120_000,
    });
    // A few more checks (1 s apart) find nothing new.
    await sleep(2_500);
    await piko.kill('SIGINT');
    const result = await piko.done;
    const restarted = await runPiko(['start', '--once', '--json'], {
      env,
      fakeTime: '2026-03-10 12:03:10',
      timeoutMs,
    });

    // Assert: one alert, POSTed twice (500, then 200), naming the three intervals.
    // Runs failed in it (every run of e2e_late does): exit code 1. The restart ran nothing.
    expect(result.code).toBe(1);
    expect(restarted.code).toBe(0);
    expect(jsonLines(restarted.stdout).filter((line) => line.event === 'alert')).toEqual([]);
    expect(receiver.statuses).toEqual([500, 200]);
    expect(receiver.bodies[1]).toEqual(receiver.bodies[0]);
    expect(receiver.bodies[0]).toMatchObject({
      id: 'e2e_late:late:2026-03-10T12:00:00.000Z',
      source: 'piko',
      kind: 'late',
      jobId: JOB,
      count: 3,
      intervals: [{ start: '2026-03-10T12:00:00.000Z', end: '2026-03-10T12:03:00.000Z', count: 3 }],
      deadlineMs: 2_000,
      message:
        'job "e2e_late": 3 intervals late (not succeeded 2 s after they ended): 2026-03-10T12:00:00.000Z → 2026-03-10T12:03:00.000Z (3)',
    });
    const alertLines = jsonLines(result.stdout).filter((line) => line.event === 'alert');
    expect(alertLines.map((line) => line.id)).toEqual(['e2e_late:late:2026-03-10T12:00:00.000Z']);
    const rows = await state.rows<{ kind: string; delivered_at: unknown; error: unknown }>(
      'SELECT kind, delivered_at, error FROM piko_alerts WHERE job_id = ?',
      [JOB],
    );
    expect(rows.map((row) => [row.kind, row.delivered_at !== null, row.error])).toEqual([
      ['late', true, null],
    ]);
  });

  it('raises an alert a crash left claimed and unraised at the next start, once', {
    timeout: 240_000,
  }, async () => {
    // Arrange: a store where a late range was claimed at 12:00:00 and never raised (the process that
    // claimed it died before its log line, metric and POST)
    state = await createE2eState('sqlite', 'alerts_sweep');
    const receiver = await startReceiver();
    server = receiver.server;
    const env = {
      ...state.env,
      PIKO_JOBS_DIR: FIXTURE_JOBS_DIR,
      PIKO_TEST_JOBS: JOB,
      PIKO_ALERTS__WEBHOOK_URL: receiver.url,
    };
    const timeoutMs = 180_000;
    const migrated = await runPiko(['start', '--once', '--json'], {
      env,
      fakeTime: '2026-03-10 11:59:30',
      timeoutMs,
    });
    expect(migrated.code).toBe(0);
    const start = new Date('2026-03-10T11:50:00.000Z');
    await alertStoreOf(await state.store()).claim(
      JOB,
      'late',
      [{ start, end: new Date('2026-03-10T11:52:00.000Z'), intervals: 2 }],
      new Date('2026-03-10T12:00:00.000Z'),
    );

    // Act: a start past the sweep's grace (5 min), and one more
    const swept = await runPiko(['start', '--once', '--json'], {
      env,
      fakeTime: '2026-03-10 12:06:00',
      timeoutMs,
    });
    const again = await runPiko(['start', '--once', '--json'], {
      env,
      fakeTime: '2026-03-10 12:06:10',
      timeoutMs,
    });

    // Assert: raised once (its line, and its POST, retried after a 500), recorded as raised and delivered
    const sweptAlerts = jsonLines(swept.stdout).filter((line) => line.event === 'alert');
    expect(sweptAlerts.map((line) => line.id)).toContain('e2e_late:late:2026-03-10T11:50:00.000Z');
    expect(
      jsonLines(again.stdout).filter((line) => line.id === 'e2e_late:late:2026-03-10T11:50:00.000Z'),
    ).toEqual([]);
    expect(
      receiver.bodies.filter((body) => body.id === 'e2e_late:late:2026-03-10T11:50:00.000Z'),
    ).toHaveLength(2);
    const rows = await state.rows<{ announced_at: unknown; delivered_at: unknown }>(
      'SELECT announced_at, delivered_at FROM piko_alerts WHERE job_id = ? AND interval_start = ?',
      [JOB, start.getTime()],
    );
    expect(rows.map((row) => [row.announced_at !== null, row.delivered_at !== null])).toEqual([[true, true]]);
  });
});
