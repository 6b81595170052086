/**
 * A UI whose process is stopping (SIGTERM) in a real browser (headless Chromium, playwright-core),
 * against `piko ui` in a child process under faketime, over a SQLite state store: the open page says
 * so instead of "live", an action is refused (503) and starts nothing, and the run started before
 * the signal still ends within the grace period, succeeded.
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadJobs } from '../../shared/registry.ts';
import { createE2eState, type E2eState, tempDir } from '../e2e/support.ts';
import { GATE_DIR_ENV } from '../fixtures/ui-jobs/defs/gated.ts';
import { SELECT_ENV } from '../fixtures/ui-jobs/index.ts';
import {
  intervalsOf,
  launchBrowser,
  seedRuns,
  startUiProcess,
  UI_JOBS_DIR,
  type UiProcess,
} from './support.ts';

const FAKE_NOW = '2026-03-02 12:30:00';
const at = (iso: string) => new Date(iso);
/** Failed: rerun from the page before the signal, held at the gate while the process stops. */
const HELD_START = '2026-03-02T06:00:00.000Z';
/** Succeeded: its Rerun is pressed after the signal. */
const LATE_START = '2026-03-02T07:00:00.000Z';
const intervalUrl = (ui: UiProcess, start: string) =>
  `${ui.url}jobs/ui_gated/intervals/${encodeURIComponent(start)}`;

describe('the UI of a process that is stopping, in Chromium', () => {
  let state: E2eState;
  let gate: Awaited<ReturnType<typeof tempDir>>;
  let ui: UiProcess;
  let browser: Awaited<ReturnType<typeof launchBrowser>>;
  let page: Page;

  beforeAll(async () => {
    state = await createE2eState('sqlite', 'ui-stopping');
    gate = await tempDir('ui-stopping-gate');
    const jobs = await loadJobs(UI_JOBS_DIR);
    const store = await state.store();
    await store.migrate();
    const gated = jobs.get('ui_gated');
    await seedRuns(
      store,
      gated,
      intervalsOf(gated, at('2026-03-02T00:00:00Z'), 12).map((interval) =>
        interval.start.toISOString() === HELD_START
          ? { interval, status: 'failed', error: 'seeded failure', attempts: 1 }
          : { interval, status: 'succeeded', output: { region: 'eu', rows: 42 } },
      ),
      at('2026-03-02T12:00:00Z'),
    );
    // A grace period long enough for the test to act while the process stops.
    ui = await startUiProcess(
      ['ui'],
      {
        ...state.env,
        [GATE_DIR_ENV]: gate.dir,
        [SELECT_ENV]: 'ui_gated',
        PIKO_SHUTDOWN_GRACE_SECONDS: '120',
      },
      FAKE_NOW,
    );
    browser = await launchBrowser();
    page = await browser.context.newPage();
    await page.goto(ui.urlWithToken);
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await writeFile(path.join(gate.dir, 'open'), '').catch(() => undefined);
    await ui?.piko.kill('SIGKILL').catch(() => undefined);
    await state?.cleanup();
    await gate?.remove();
  });

  const runAt = async (start: string) =>
    (
      await (
        await state.store()
      ).listRuns('ui_gated', { from: at(start), to: new Date(at(start).getTime() + 1) })
    )[0];

  it('says it is stopping, refuses actions, and lets the run it started finish', async () => {
    // Arrange: a rerun held at the gate, then the page of another interval, live
    await page.goto(intervalUrl(ui, HELD_START));
    await page.locator('form[data-action="rerun"] button').click();
    await page.waitForURL(/flash=/);
    await page.locator('.status-line .chip.s-running').waitFor({ timeout: 60_000 });
    await page.goto(intervalUrl(ui, LATE_START));
    await page.locator('#live', { hasText: 'live' }).waitFor({ timeout: 30_000 });
    const before = await runAt(LATE_START);

    // Act: SIGTERM, then Rerun from the page that was open
    await ui.piko.kill('SIGTERM');
    await page
      .locator('#live', { hasText: 'piko is stopping: actions are refused' })
      .waitFor({ timeout: 30_000 });
    const [refusal] = await Promise.all([
      page.waitForResponse((response) => response.request().method() === 'POST'),
      page.locator('form[data-action="rerun"] button').click(),
    ]);
    await page.locator('h1', { hasText: 'Piko is stopping' }).waitFor({ timeout: 30_000 });
    const refusedText = await page.locator('main').textContent();
    await writeFile(path.join(gate.dir, 'open'), '');
    const exit = await ui.piko.done;

    // Assert: refused, nothing written; the held run ended succeeded within the grace period
    expect(refusal.status()).toBe(503);
    expect(refusedText).toContain(
      'This piko process is stopping (SIGINT or SIGTERM): it starts no new work.',
    );
    const after = await runAt(LATE_START);
    expect(after).toMatchObject({
      runId: before!.runId,
      generation: before!.generation,
      status: 'succeeded',
    });
    expect(await runAt(HELD_START)).toMatchObject({ status: 'succeeded', error: null });
    expect(exit.code).toBe(0);
    const lines = exit.stdout.split('\n').filter((line) => line.startsWith('{'));
    const stoppingAt = lines.findIndex((line) => line.includes('"event":"stopping"'));
    expect(stoppingAt).toBeGreaterThan(-1);
    expect(lines.slice(stoppingAt).filter((line) => line.includes('"event":"dispatched"'))).toEqual([]);
  });
});
