/**
 * The interval page's logs and `piko ui --aws`, in headless Chromium against the UI server in this
 * process: a run's `ctx.log` lines from the local run log files (escaped, redacted), and the UI over
 * a "deployed stack" whose dispatcher (aws-sdk-client-mock Lambda Invoke) answers the control
 * events with the real handlers on a SQLite store; its Rerun goes through the `run` event, Cancel
 * through `cancel`, a range marked from the grid through `mark`, and the actions recorded and the
 * alerts raised are read with `history`.
 */
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { InvokeCommand, type InvokeCommandOutput, LambdaClient } from '@aws-sdk/client-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jobStateMachines } from '../../shared/aws/sfn-starter.ts';
import { AwsSession } from '../../shared/cli/aws/session.ts';
import { startAwsUi } from '../../shared/cli/aws/ui.ts';
import { parseControlEvent } from '../../shared/control/events.ts';
import { handleControlEvent } from '../../shared/control/handlers.ts';
import { defineJob } from '../../shared/job.ts';
import { JobRegistry } from '../../shared/registry.ts';
import { alertStoreOf } from '../../shared/store/alerts.ts';
import { RunLogFiles } from '../../shared/store/run-logs.ts';
import type { StateStore } from '../../shared/store/types.ts';
import { withoutSecrets } from '../../shared/telemetry.ts';
import { localRunLogs } from '../../shared/ui/run-logs.ts';
import { resolveUiAddress } from '../../shared/ui/security.ts';
import { startUiServer, type UiServer } from '../../shared/ui/server.ts';
import { tempDir } from '../e2e/support.ts';
import { RecordingStarter } from '../helpers/recording-starter.ts';
import { createTempSqliteStore } from '../helpers/sqlite.ts';
import { intervalsOf, launchBrowser, screenshotPath, seedRuns } from './support.ts';

Object.assign(process.env, {
  AWS_ACCESS_KEY_ID: 'test',
  AWS_SECRET_ACCESS_KEY: 'test',
  AWS_ENDPOINT_URL: 'http://127.0.0.1:9',
  AWS_EC2_METADATA_DISABLED: 'true',
});
const lambda = mockClient(LambdaClient);
const cfn = mockClient(CloudFormationClient);

const NOW = new Date('2026-03-02T06:30:00Z');
const REGION = 'eu-west-1';
const ACCOUNT = '123456789012';
const hourly = defineJob({
  id: 'ui_logs',
  schedule: { cron: '0 * * * *' },
  start: '2026-03-02T00:00:00Z',
  retry: { attempts: 2 },
  handler: async () => null,
});
const jobs = new JobRegistry([hourly]);
const FAILED_START = '2026-03-02T04:00:00.000Z';
const intervalUrl = (base: string, start: string) =>
  `${base}jobs/ui_logs/intervals/${encodeURIComponent(start)}`;

describe('run logs and piko ui --aws in Chromium', () => {
  let store: StateStore;
  let cleanup: () => Promise<void>;
  let data: Awaited<ReturnType<typeof tempDir>>;
  let browser: Awaited<ReturnType<typeof launchBrowser>>;
  let page: Page;
  let starter: RecordingStarter;
  const servers: UiServer[] = [];
  let failedRunId = 0;

  beforeAll(async () => {
    ({ store, cleanup } = await createTempSqliteStore({ clock: () => NOW }));
    await store.migrate();
    data = await tempDir('logs-ui');
    const runs = await seedRuns(
      store,
      hourly,
      intervalsOf(hourly, new Date('2026-03-02T00:00:00Z'), 6).map((interval) =>
        interval.start.toISOString() === FAILED_START
          ? { interval, status: 'failed', error: 'upstream timed out', attempts: 2 }
          : { interval, status: 'succeeded' },
      ),
      new Date('2026-03-02T06:00:00Z'),
    );
    failedRunId = runs.find((run) => run.status === 'failed')!.runId;
    browser = await launchBrowser();
    page = await browser.context.newPage();
  }, 120_000);

  afterAll(async () => {
    for (const server of servers) await server.close();
    await browser?.close();
    await cleanup?.();
    await data?.remove();
    lambda.restore();
    cfn.restore();
  });

  it("shows a run's log lines, every attempt's, escaped and redacted, on its interval page", async () => {
    // Arrange: what the stage runner kept of the run's two attempts
    const files = new RunLogFiles(data.dir, { maxRunBytes: 65_536, maxTotalBytes: 1_000_000 });
    for (const attempt of [1, 2]) {
      const writer = files.open('ui_logs', failedRunId);
      writer.write({
        level: 'info',
        attempt,
        stage: 'main',
        message: 'fetching <script>window.pwned=1</script>',
      });
      writer.write({
        level: 'error',
        attempt,
        stage: 'main',
        message: 'gave up',
        fields: { password: 'opensesame-77' },
      });
      await writer.close();
    }
    const server = await startUiServer({
      address: resolveUiAddress({ host: '127.0.0.1', port: 0 }),
      store,
      jobs,
      runner: { runInterval: async () => {} },
      runLogs: localRunLogs(data.dir),
      now: () => NOW,
    });
    servers.push(server);

    // Act
    await page.goto(intervalUrl(server.url, FAILED_START));

    // Assert
    const lines = await page.locator('.logs .log-line').allTextContents();
    expect(lines.map((line) => line.replace(/^\S+ /, ''))).toEqual([
      'INFO  [attempt 1 main] fetching <script>window.pwned=1</script>',
      'ERROR [attempt 1 main] gave up password=<redacted>',
      'INFO  [attempt 2 main] fetching <script>window.pwned=1</script>',
      'ERROR [attempt 2 main] gave up password=<redacted>',
    ]);
    expect(await page.locator('.logs script').count()).toBe(0);
    expect(await page.evaluate(() => (globalThis as { pwned?: number }).pwned)).toBeUndefined();
    expect(await page.content()).not.toContain('opensesame-77');
    await page.screenshot({ path: await screenshotPath('interval-logs'), fullPage: true });
  });

  it('reads a deployed stack through its control events: overview, interval page with its AWS links, rerun', async () => {
    // Arrange: the stack's outputs, and a dispatcher that runs the real handlers on the store
    cfn.on(DescribeStacksCommand).resolves({
      Stacks: [
        {
          StackName: 'Piko',
          StackStatus: 'UPDATE_COMPLETE',
          CreationTime: new Date('2026-03-01T00:00:00Z'),
          Outputs: Object.entries({
            DispatcherFunctionName: 'Piko-Dispatcher',
            BackfillStateMachineArn: `arn:aws:states:${REGION}:${ACCOUNT}:stateMachine:Piko--backfill`,
            ScheduleGroupName: 'Piko',
            JobStateMachinePrefix: 'Piko',
            Region: REGION,
            JobLogGroups: JSON.stringify({ ui_logs: ['Piko-JobFunctionsuilogsLogs-1'] }),
          }).map(([OutputKey, OutputValue]) => ({ OutputKey, OutputValue })),
        },
      ],
    });
    starter = new RecordingStarter();
    const machines = jobStateMachines({ partition: 'aws', region: REGION, account: ACCOUNT, prefix: 'Piko' });
    const events: string[] = [];
    lambda.on(InvokeCommand).callsFake(async (input: { Payload?: Uint8Array | string }) => {
      const event = parseControlEvent(JSON.parse(String(input.Payload)));
      events.push(event.action);
      try {
        const answer = await handleControlEvent({ store, jobs, starter, machines, now: () => NOW }, event);
        return invokeAnswer(answer);
      } catch (error) {
        const safe = withoutSecrets(error, { described: true });
        return invokeAnswer({ errorType: safe.name, errorMessage: safe.message }, 'Unhandled');
      }
    });
    const server = await startAwsUi({
      session: new AwsSession({ region: REGION, stackName: 'Piko' }),
      jobs,
      address: resolveUiAddress({ host: '127.0.0.1', port: 0 }),
      now: () => NOW,
    });
    servers.push(server);

    // Act & Assert: the overview, from `status` and `runs`
    await page.goto(server.urlWithToken);
    expect(await page.locator('article#job-ui_logs .chip.s-failed b').textContent()).toBe('1');
    expect(await page.locator('article#job-ui_logs .chip.s-succeeded b').textContent()).toBe('5');
    await page.screenshot({ path: await screenshotPath('aws-overview'), fullPage: true });

    // The failed interval's page: its run, and where its logs and execution are on AWS.
    await page.goto(intervalUrl(server.url, FAILED_START));
    expect(await page.locator('pre.error').textContent()).toBe('upstream timed out');
    const execution = `arn:aws:states:${REGION}:${ACCOUNT}:execution:Piko-ui_logs:ui_logs-seeded`;
    expect(await page.locator('.logs a').first().getAttribute('href')).toBe(
      `https://${REGION}.console.aws.amazon.com/states/home?region=${REGION}#/v2/executions/details/${execution}`,
    );
    expect(await page.locator('.logs code').textContent()).toBe('Piko-JobFunctionsuilogsLogs-1');
    expect(await page.locator('.logs pre.log-query').textContent()).toContain(
      `| filter (jobId = "ui_logs" and runId = ${failedRunId})`,
    );
    await page.screenshot({ path: await screenshotPath('aws-interval'), fullPage: true });

    // Rerun: through the dispatcher's `run`, which starts the interval's execution.
    await page.locator('form[data-action="rerun"] button').click();
    await page.waitForURL(/flash=/);
    expect(await page.locator('.notice').textContent()).toBe('Started a rerun of this interval.');
    expect(await page.locator('.status-line .chip').textContent()).toBe('queued');
    expect(starter.started.map((input) => input.runs.map((run) => run.interval.start))).toEqual([
      [FAILED_START],
    ]);
    expect(events).toEqual(expect.arrayContaining(['status', 'runs', 'run']));

    // Cancel the queued rerun, with a reason: through `cancel`; the page lists it (`history`).
    await page.locator('#cancel-reason').fill('started by mistake');
    await page.locator('form[data-action="cancel"] button').click();
    await page.waitForURL(/flash=/);
    expect(await page.locator('.notice').textContent()).toBe('Cancelled this run.');
    expect(await page.locator('.status-line .chip').textContent()).toContain('cancelled');
    const recorded = await page.locator('.recorded-actions tbody tr td').allTextContents();
    expect(recorded[1]).toMatch(/^cancel /);
    expect(recorded[2]).toMatch(/^ui: /);
    expect(recorded[3]).toBe('started by mistake');

    // The grid: an alert raised on the stack, and a range marked skipped after its dry run.
    await alertStoreOf(store).claim(
      'ui_logs',
      'skipped',
      [{ start: new Date('2026-03-02T00:00:00Z'), end: new Date('2026-03-02T01:00:00Z'), intervals: 1 }],
      NOW,
    );
    events.length = 0;
    await page.goto(`${server.url}jobs/ui_logs?from=2026-03-02T00:00:00Z&to=2026-03-02T06:00:00Z`);
    const alertRow = page.locator('#late table.alerts tbody tr');
    expect(await alertRow.count()).toBe(1);
    expect(await alertRow.locator('td').first().textContent()).toBe('skipped');
    await page.locator('#mark-from').fill(FAILED_START);
    await page.locator('#mark-to').fill('2026-03-02T06:00:00.000Z');
    await page.locator('#mark-range-as').selectOption('skipped');
    await page.locator('#mark-range-reason').fill('replayed by hand');
    await page.locator('.mark-form button[value="preview"]').click();
    const preview = page.locator('#mark-preview');
    await preview.waitFor();
    expect(await preview.locator('h3').textContent()).toBe(
      'Dry run: 1 of 2 intervals would be marked skipped',
    );
    expect(events).not.toContain('mark');
    await preview.locator('button[value="confirm"]').click();
    await page.locator('main > .notice').waitFor();
    expect(await page.locator('main > .notice').textContent()).toBe(
      'Marked 1 interval skipped; 1 already skipped or succeeded.',
    );
    expect(events).toEqual(expect.arrayContaining(['history', 'mark']));
    const [failedRun] = await store.listRuns('ui_logs', {
      from: new Date(FAILED_START),
      to: new Date('2026-03-02T05:00:00Z'),
    });
    expect(failedRun?.status).toBe('skipped');
    const actions = await store.listActions({ jobId: 'ui_logs', limit: 10 });
    // The rerun above is recorded too, by the dispatcher, with the actor the UI named.
    expect(actions.map((action) => [action.kind, action.reason])).toEqual([
      ['mark', 'replayed by hand'],
      ['cancel', 'started by mistake'],
      ['rerun', null],
    ]);
    expect(actions.every((action) => action.actor.startsWith('ui: '))).toBe(true);
    await page.screenshot({ path: await screenshotPath('aws-grid-marked'), fullPage: true });
  });
});

function invokeAnswer(payload: unknown, functionError?: string): InvokeCommandOutput {
  return {
    $metadata: {},
    StatusCode: 200,
    ...(functionError === undefined ? {} : { FunctionError: functionError }),
    Payload: new TextEncoder().encode(JSON.stringify(payload)) as InvokeCommandOutput['Payload'],
  };
}
