/**
 * The operator actions Cancel and Mark on an interval's page, in a real browser (headless Chromium,
 * playwright-core) against `piko ui` in a child process under faketime, over a SQLite state store:
 * a running handler's `ctx.signal` aborts when it is cancelled, marking needs a reason, and neither
 * action is done without the token.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadJobs } from '../../shared/registry.ts';
import { createE2eState, type E2eState, runPiko, tempDir, waitFor } from '../e2e/support.ts';
import { GATE_DIR_ENV } from '../fixtures/ui-jobs/defs/gated.ts';
import { SELECT_ENV } from '../fixtures/ui-jobs/index.ts';
import {
  intervalsOf,
  launchBrowser,
  type SeededRun,
  screenshotPath,
  seedRuns,
  startUiProcess,
  UI_JOBS_DIR,
  type UiProcess,
} from './support.ts';

/** The UI's clock (faketime, UTC). */
const FAKE_NOW = '2026-03-02 12:30:00';
const at = (iso: string) => new Date(iso);
/** Rerun from the page, then cancelled while its handler waits at the (never opened) gate. */
const CANCEL_START = '2026-03-02T06:00:00.000Z';
/** Without a run: marked skipped from the page. */
const MARK_START = '2026-03-02T03:00:00.000Z';
/** Without a run: a token-less mark must leave it so. */
const UNTOUCHED_START = '2026-03-02T04:00:00.000Z';
const CANCEL_REASON = 'upstream export is being rebuilt';
const MARK_REASON = 'no data was delivered for this hour';
const intervalUrl = (ui: UiProcess, start: string) =>
  `${ui.url}jobs/ui_gated/intervals/${encodeURIComponent(start)}`;

describe('operator actions in Chromium', () => {
  let state: E2eState;
  let gate: Awaited<ReturnType<typeof tempDir>>;
  let ui: UiProcess;
  let browser: Awaited<ReturnType<typeof launchBrowser>>;
  let page: Page;

  beforeAll(async () => {
    state = await createE2eState('sqlite', 'ui-actions');
    gate = await tempDir('ui-actions-gate');
    const jobs = await loadJobs(UI_JOBS_DIR);
    const store = await state.store();
    await store.migrate();
    const gated = jobs.get('ui_gated');
    const seeded: SeededRun[] = intervalsOf(gated, at('2026-03-02T00:00:00Z'), 12)
      .filter((interval) => ![MARK_START, UNTOUCHED_START].includes(interval.start.toISOString()))
      .map((interval) =>
        interval.start.toISOString() === CANCEL_START
          ? { interval, status: 'failed', error: 'seeded failure', attempts: 1 }
          : { interval, status: 'succeeded', output: { region: 'eu', rows: 42 } },
      );
    await seedRuns(store, gated, seeded, at('2026-03-02T12:00:00Z'));
    // A short cancel poll, so the runner notices the cancel soon after the click.
    ui = await startUiProcess(
      ['ui'],
      { ...state.env, [GATE_DIR_ENV]: gate.dir, [SELECT_ENV]: 'ui_gated', PIKO_CANCEL_POLL_SECONDS: '0.2' },
      FAKE_NOW,
    );
    browser = await launchBrowser();
    page = await browser.context.newPage();
    await page.goto(ui.urlWithToken);
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    const code = await ui?.stop();
    await state?.cleanup();
    await gate?.remove();
    expect(code).toBe(0);
  });

  async function runAt(start: string) {
    const [run] = await (await state.store()).listRuns('ui_gated', {
      from: at(start),
      to: new Date(at(start).getTime() + 1),
    });
    return run;
  }
  const actions = async () => (await state.store()).listActions({ jobId: 'ui_gated', limit: 50 });

  it('cancels a running run with a reason: its handler’s signal aborts and the run stays cancelled', async () => {
    await page.goto(intervalUrl(ui, CANCEL_START));
    await page.locator('form[data-action="rerun"] button').click();
    await page.waitForURL(/flash=/);
    // The run goes from queued to running while the page stays (live update, no navigation).
    await page.evaluate(() => {
      (globalThis as unknown as { pikoMarker: string }).pikoMarker = 'no reload';
    });
    let navigations = 0;
    const onNavigate = (frame: unknown) => {
      if (frame === page.mainFrame()) navigations++;
    };
    page.on('framenavigated', onNavigate);
    await page.locator('.status-line .chip.s-running').waitFor({ timeout: 60_000 });
    expect(navigations).toBe(0);
    expect(await page.evaluate(() => (globalThis as unknown as { pikoMarker?: string }).pikoMarker)).toBe(
      'no reload',
    );
    page.off('framenavigated', onNavigate);
    // Running: Cancel is offered, Mark (never for a run in flight) is not.
    expect(await page.locator('form[data-action="mark"]').count()).toBe(0);
    // Nor is it done when asked anyway, with the token.
    const token = new URL(ui.urlWithToken).searchParams.get('token')!;
    const markRunning = await fetch(`${intervalUrl(ui, CANCEL_START)}/mark`, {
      method: 'POST',
      body: new URLSearchParams({ token, as: 'skipped', reason: 'while it runs' }),
      redirect: 'manual',
    });
    expect(markRunning.status).toBe(409);
    expect((await runAt(CANCEL_START))?.status).toBe('running');

    await page.locator('#cancel-reason').fill(CANCEL_REASON);
    await page.locator('form[data-action="cancel"] button').click();
    await page.waitForURL(/flash=/);
    expect(await page.locator('.notice').textContent()).toBe('Cancelled this run.');
    expect(await page.locator('.status-line .chip').textContent()).toContain('cancelled');

    // The runner's poll aborts the handler's signal; the handler says so in the gate directory.
    const aborted = path.join(gate.dir, `aborted-${at(CANCEL_START).getTime()}`);
    await waitFor('the handler to see its signal abort', async () => existsSync(aborted) || undefined, {
      everyMs: 50,
      timeoutMs: 60_000,
    });
    expect(await readFile(aborted, 'utf8')).toMatch(/cancel/i);
    // The handler's end (it threw the abort's reason) does not turn the run into failed: the
    // runner says it stays cancelled, and so do the store and the page (which updates itself on
    // the runtime's progress).
    await waitFor(
      'the runner to end the cancelled run',
      // The stage runner's log line, on stderr (standard output carries the --json events only).
      async () => ui.piko.stderr().includes('run cancelled') || undefined,
      { everyMs: 50, timeoutMs: 60_000 },
    );
    expect((await runAt(CANCEL_START))?.status).toBe('cancelled');
    expect(await page.locator('.status-line .chip').textContent()).toContain('cancelled');
    expect(await page.locator('form[data-action="cancel"]').count()).toBe(0);
    await page.screenshot({ path: await screenshotPath('interval-cancelled'), fullPage: true });

    const [action] = await actions();
    expect(action).toMatchObject({ jobId: 'ui_gated', kind: 'cancel', reason: CANCEL_REASON });
    // The interval itself, not a millisecond of it.
    expect(action?.target).toBe(`${CANCEL_START}/2026-03-02T07:00:00.000Z`);
  });

  it('marks an interval skipped with a reason, and refuses to without one', async () => {
    await page.goto(intervalUrl(ui, MARK_START));
    expect(await page.locator('.status-line .chip').textContent()).toContain('missing');
    const recorded = (await actions()).length;

    await page.locator('#mark-as').selectOption('succeeded');
    const refused = page.waitForResponse((response) => response.request().method() === 'POST');
    await page.locator('form[data-action="mark"] button').click();
    expect((await refused).status()).toBe(400);
    await page.locator('.problem').waitFor();
    expect(await page.locator('.problem').textContent()).toBe(
      'Mark refused: Say why in the reason field: it is recorded with the action.',
    );
    // What was chosen is still chosen.
    expect(await page.locator('#mark-as').inputValue()).toBe('succeeded');
    expect(await runAt(MARK_START)).toBeUndefined();
    expect(await actions()).toHaveLength(recorded);

    await page.locator('#mark-as').selectOption('skipped');
    await page.locator('#mark-reason').fill(MARK_REASON);
    await page.locator('form[data-action="mark"] button').click();
    await page.waitForURL(/flash=/);
    expect(await page.locator('.notice').textContent()).toBe('Marked this interval skipped.');
    expect(await page.locator('.status-line .chip').textContent()).toContain('skipped');
    await page.screenshot({ path: await screenshotPath('interval-marked-skipped'), fullPage: true });

    expect((await runAt(MARK_START))?.status).toBe('skipped');
    const [action] = await actions();
    expect(action).toMatchObject({ jobId: 'ui_gated', kind: 'mark', reason: MARK_REASON });
    expect(await actions()).toHaveLength(recorded + 1);
  });

  it('keeps what was typed when Run now is refused', async () => {
    await page.goto(intervalUrl(ui, UNTOUCHED_START));
    const recorded = (await actions()).length;

    await page.locator('#config').fill('{"region":');
    await page.locator('#run-reason').fill('re-export after the <fix> & "all"');
    const refused = page.waitForResponse((response) => response.request().method() === 'POST');
    await page.locator('form[data-action="run"] button').click();
    expect((await refused).status()).toBe(400);
    await page.locator('.problem').waitFor();

    expect(await page.locator('.problem').textContent()).toBe(
      'Run now refused: The config override must be JSON, for example {"region":"eu"}',
    );
    expect(await page.locator('#config').inputValue()).toBe('{"region":');
    expect(await page.locator('#run-reason').inputValue()).toBe('re-export after the <fix> & "all"');
    // The other forms start empty.
    expect(await page.locator('#mark-reason').inputValue()).toBe('');
    expect(await runAt(UNTOUCHED_START)).toBeUndefined();
    expect(await actions()).toHaveLength(recorded);
  });

  it('refuses cancel and mark without the token (403) and changes nothing', async () => {
    await page.goto(intervalUrl(ui, UNTOUCHED_START));
    const recorded = await actions();
    const base = intervalUrl(ui, UNTOUCHED_START);
    const fields = { as: 'skipped', reason: 'no token' };
    // From the UI's own page, with its cookie, but without the token in the form.
    const fromPage = await page.evaluate(
      async ({ base, fields }) =>
        Promise.all(
          ['mark', 'cancel'].map(
            async (action) =>
              (await fetch(`${base}/${action}`, { method: 'POST', body: new URLSearchParams(fields) }))
                .status,
          ),
        ),
      { base, fields },
    );
    expect(fromPage).toEqual([403, 403]);
    // From outside, without the cookie and the token, or with a wrong token.
    for (const action of ['mark', 'cancel']) {
      expect(
        (await fetch(`${base}/${action}`, { method: 'POST', body: new URLSearchParams(fields) })).status,
      ).toBe(403);
      expect(
        (
          await fetch(`${base}/${action}`, {
            method: 'POST',
            body: new URLSearchParams({ ...fields, token: 'guess' }),
          })
        ).status,
      ).toBe(403);
    }
    expect(await runAt(UNTOUCHED_START)).toBeUndefined();
    expect((await runAt(CANCEL_START))?.status).toBe('cancelled');
    expect(await actions()).toEqual(recorded);
  });

  it('says a paused job is paused on its pages and offers no run until it is resumed', async () => {
    const env = { ...state.env, PIKO_JOBS_DIR: UI_JOBS_DIR, [SELECT_ENV]: 'ui_gated' };
    expect((await runPiko(['pause', 'ui_gated'], { env })).code).toBe(0);
    try {
      await page.goto(intervalUrl(ui, UNTOUCHED_START));
      const banner = await page.locator('.paused-banner').textContent();
      const offered = await page
        .locator('form.action')
        .evaluateAll((forms) => forms.map((form) => form.getAttribute('data-action')));
      await page.goto(`${ui.url}jobs/ui_gated`);
      const gridBanner = await page.locator('.paused-banner').textContent();

      expect(banner).toContain(
        'Paused: nothing of this job starts until it is resumed (piko resume ui_gated).',
      );
      expect(offered).toEqual(['mark']);
      expect(gridBanner).toContain('Paused: nothing of this job starts until it is resumed');
    } finally {
      expect((await runPiko(['resume', 'ui_gated'], { env })).code).toBe(0);
    }
    await page.goto(intervalUrl(ui, UNTOUCHED_START));
    expect(await page.locator('.paused-banner').count()).toBe(0);
    expect(await page.locator('form[data-action="run"]').count()).toBe(1);
  });

  it('says an interval before the job’s start is before it, not skipped by the planner', async () => {
    await page.goto(intervalUrl(ui, '2026-02-28T23:00:00.000Z'));
    expect(await page.locator('section[aria-label="Run"]').textContent()).toContain(
      'This interval is before the job’s start (2026-03-01T00:00:00.000Z): the planner never plans it.',
    );
  });
});
