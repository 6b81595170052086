/**
 * Marking a range from a job's interval grid, the actions recorded on an interval, and deadlines
 * (issues 12 and 13), in a real browser (headless Chromium, playwright-core) against `piko ui` in a
 * child process under faketime, over a SQLite state store seeded through the StateStore: the mark's
 * dry run says what would change and what is refused, its confirmation turns the cells skipped
 * without a reload, the interval's page lists the action with its reason, the overview and the grid
 * show the intervals late now, and a mark without the token is refused.
 */
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadJobs } from '../../shared/registry.ts';
import { alertStoreOf } from '../../shared/store/alerts.ts';
import { createE2eState, type E2eState } from '../e2e/support.ts';
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

/** The UI's clock (faketime, UTC): with the 1 h deadline, intervals that ended by 11:00 are due. */
const FAKE_NOW = '2026-03-02 12:30:00';
const at = (iso: string) => new Date(iso);
const hour = (h: number) => `2026-03-02T${String(h).padStart(2, '0')}:00:00.000Z`;
/** Failed: late. */
const FAILED = hour(6);
/** 07:00 to 10:00 have no run: marked skipped from the grid. */
const MISSING = [hour(7), hour(8), hour(9)];
/** Running: late, and refused by the mark. */
const RUNNING = hour(10);
const REASON = 'the supplier sent no file for these hours';
const JOB = 'ui_deadline';
const GRID = `jobs/${JOB}?from=${encodeURIComponent(hour(0))}&to=${encodeURIComponent(hour(13))}`;

describe('marking a range from the grid, and deadlines, in Chromium', () => {
  let state: E2eState;
  let ui: UiProcess;
  let browser: Awaited<ReturnType<typeof launchBrowser>>;
  let page: Page;

  beforeAll(async () => {
    state = await createE2eState('sqlite', 'ui-grid-mark');
    const jobs = await loadJobs(UI_JOBS_DIR);
    const store = await state.store();
    await store.migrate();
    const job = jobs.get(JOB);
    const seeded: SeededRun[] = intervalsOf(job, at(hour(0)), 12)
      .filter((interval) => !MISSING.includes(interval.start.toISOString()))
      .map((interval) => {
        const start = interval.start.toISOString();
        if (start === FAILED) return { interval, status: 'failed', error: 'supplier API 503' };
        if (start === RUNNING) return { interval, status: 'running' };
        return { interval, status: 'succeeded', output: { rows: 1 } };
      });
    await seedRuns(store, job, seeded, at(hour(12)));
    // The watchdog raised the failed hour's alert at 08:00 (its webhook answered 500).
    const alerts = alertStoreOf(store);
    await alerts.claim(JOB, 'late', [{ start: at(FAILED), end: at(hour(7)), intervals: 1 }], at(hour(8)));
    await alerts.recordDelivery(JOB, 'late', [at(FAILED)], { error: 'webhook answered 500' });
    ui = await startUiProcess(['ui'], { ...state.env, [SELECT_ENV]: `ui_gated,${JOB}` }, FAKE_NOW);
    browser = await launchBrowser();
    page = await browser.context.newPage();
    await page.goto(ui.urlWithToken);
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    const code = await ui?.stop();
    await state?.cleanup();
    expect(code).toBe(0);
  });

  const runsOf = async () =>
    new Map(
      (await (await state.store()).listRuns(JOB)).map((run) => [
        run.interval.start.toISOString(),
        run.status,
      ]),
    );
  const actions = async () => (await state.store()).listActions({ jobId: JOB, limit: 50 });

  it('shows the intervals late now on the overview, and on the grid with the recent alerts', async () => {
    await page.goto(ui.url);
    const card = page.locator(`article#job-${JOB}`);
    // 06:00 failed and 10:00 still running: both ended by 11:00 and have not succeeded.
    expect(await card.locator('.chip.late-intervals').textContent()).toBe('2 intervals late');
    expect(await card.locator('dd', { hasText: 'after each interval' }).textContent()).toBe(
      '1 h after each interval’s end: 2 intervals late now',
    );
    // A job without a deadline shows none.
    expect(await page.locator('article#job-ui_gated .chip.late-intervals').count()).toBe(0);

    await card.locator('.chip.late-intervals').click();
    await page.waitForURL(`**/jobs/${JOB}#late`);
    const late = page.locator('#late');
    expect(await late.locator('.late-summary .chip').textContent()).toBe('2 intervals late');
    expect(
      await late.locator('.late-ranges a').evaluateAll((links) => links.map((a) => a.getAttribute('href'))),
    ).toEqual([FAILED, RUNNING].map((start) => `/jobs/${JOB}/intervals/${encodeURIComponent(start)}`));
    const alertRow = late.locator('table.alerts tbody tr');
    expect(await alertRow.count()).toBe(1);
    expect(await alertRow.locator('td').first().textContent()).toBe('late');
    expect(await alertRow.textContent()).toContain('webhook answered 500');
    await page.screenshot({ path: await screenshotPath('overview-late-grid'), fullPage: true });
  });

  it('marks a shift-selected range skipped after its dry run, and the cells turn skipped without a reload', async () => {
    await page.goto(`${ui.url}${GRID}`);
    await page.evaluate(() => {
      (globalThis as unknown as { pikoMarker: string }).pikoMarker = 'no reload';
    });
    let navigations = 0;
    const onNavigate = (frame: unknown) => {
      if (frame === page.mainFrame()) navigations++;
    };
    page.on('framenavigated', onNavigate);
    const cell = (start: string) => page.locator(`.timeline a.cell[data-start="${start}"]`);

    // Select the cells from 07:00 to 10:00 (shift-click both ends): the form takes their range.
    await cell(MISSING[0]!).click({ modifiers: ['Shift'] });
    await cell(RUNNING).click({ modifiers: ['Shift'] });
    expect(await page.locator('#mark-from').inputValue()).toBe(MISSING[0]);
    expect(await page.locator('#mark-to').inputValue()).toBe(hour(11));
    await page.locator('#mark-range-as').selectOption('skipped');
    await page.locator('#mark-range-reason').fill(REASON);
    await page.locator('.mark-form button[value="preview"]').click();

    // The dry run: three intervals would be marked, the running one is refused; nothing written yet.
    const preview = page.locator('#mark-preview');
    await preview.waitFor();
    expect(await preview.locator('h3').textContent()).toBe(
      'Dry run: 3 of 4 intervals would be marked skipped',
    );
    const count = (name: string) => preview.locator(`[data-count="${name}"]`).textContent();
    expect([
      await count('created'),
      await count('updated'),
      await count('unchanged'),
      await count('refused'),
    ]).toEqual(['3', '0', '0', '1']);
    expect(
      await preview
        .locator('tbody tr')
        .evaluateAll((rows) =>
          rows.map((row) => [row.className, row.querySelectorAll('td')[2]?.textContent]),
        ),
    ).toEqual([
      ['effect-create', '3'],
      ['effect-refused', '1'],
    ]);
    // A job in UTC: its time is UTC, in two columns, not four headed alike.
    expect(await preview.locator('thead th').allTextContents()).toEqual([
      'Effect',
      'Status now',
      'Intervals',
      'From (UTC)',
      'To (UTC)',
    ]);
    // Focus moves to the dry run, so a keyboard or screen reader user is taken to it.
    expect(await preview.evaluate((element) => element === element.ownerDocument.activeElement)).toBe(true);
    expect((await runsOf()).get(MISSING[0]!)).toBeUndefined();
    expect(await actions()).toEqual([]);
    await page.screenshot({ path: await screenshotPath('grid-mark-preview'), fullPage: true });

    await preview.locator('button[value="confirm"]').click();
    await page.locator('main > .notice').waitFor();
    expect(await page.locator('main > .notice').textContent()).toBe(
      'Marked 3 intervals skipped; 1 queued or running left alone (cancel them first).',
    );
    // The cells of 07:00 to 10:00 are skipped now, 10:00 still runs; the page never reloaded.
    for (const start of MISSING) expect(await cell(start).getAttribute('class')).toContain('s-skipped');
    expect(await cell(RUNNING).getAttribute('class')).toContain('s-running');
    expect(navigations).toBe(0);
    expect(await page.evaluate(() => (globalThis as unknown as { pikoMarker?: string }).pikoMarker)).toBe(
      'no reload',
    );
    page.off('framenavigated', onNavigate);
    await page.screenshot({ path: await screenshotPath('grid-marked-skipped'), fullPage: true });

    const runs = await runsOf();
    expect(MISSING.map((start) => runs.get(start))).toEqual(['skipped', 'skipped', 'skipped']);
    expect(runs.get(RUNNING)).toBe('running');
    const recorded = await actions();
    expect(recorded).toHaveLength(1);
    expect(recorded[0]).toMatchObject({
      kind: 'mark',
      reason: REASON,
      target: `${MISSING[0]}/${hour(11)}`,
      details: { as: 'skipped', created: 3, leftAlone: 1 },
    });
    expect(recorded[0]?.actor).toMatch(/^ui: /);
  });

  it('lists the actions recorded on an interval, with who, why and when', async () => {
    await page.goto(`${ui.url}jobs/${JOB}/intervals/${encodeURIComponent(MISSING[1]!)}`);
    const rows = page.locator('.recorded-actions tbody tr');
    expect(await rows.count()).toBe(1);
    const cells = await rows.locator('td').allTextContents();
    expect(cells[1]).toBe(`mark skipped ${MISSING[0]} → ${hour(11)}, 4 intervals`);
    expect(cells[2]).toMatch(/^ui: /);
    expect(cells[3]).toBe(REASON);
    // An interval outside the range has none.
    await page.goto(`${ui.url}jobs/${JOB}/intervals/${encodeURIComponent(FAILED)}`);
    expect(await page.locator('.recorded p').textContent()).toBe('None recorded on this interval.');
  });

  it('refuses a mark without the token (403) and changes nothing; with it, a dry run without JavaScript writes nothing', async () => {
    await page.goto(`${ui.url}${GRID}`);
    const before = await runsOf();
    const recorded = await actions();
    const target = `${ui.url}jobs/${JOB}/mark`;
    const fields = { from: hour(4), to: hour(6), as: 'skipped', reason: 'no token', step: 'confirm' };
    // From the UI's own page, with its cookie, but without the token in the form.
    const fromPage = await page.evaluate(
      async ({ target, fields }) =>
        (await fetch(target, { method: 'POST', body: new URLSearchParams(fields) })).status,
      { target, fields },
    );
    expect(fromPage).toBe(403);
    // From outside: no token, or a wrong one.
    expect((await fetch(target, { method: 'POST', body: new URLSearchParams(fields) })).status).toBe(403);
    expect(
      (await fetch(target, { method: 'POST', body: new URLSearchParams({ ...fields, token: 'guess' }) }))
        .status,
    ).toBe(403);
    expect(await runsOf()).toEqual(before);
    expect(await actions()).toEqual(recorded);

    // The same form with the token, as a browser without JavaScript posts it: the dry run's page.
    const token = new URL(ui.urlWithToken).searchParams.get('token')!;
    const dryRun = await fetch(target, {
      method: 'POST',
      body: new URLSearchParams({ ...fields, token, step: 'preview' }),
    });
    expect(dryRun.status).toBe(200);
    const body = await dryRun.text();
    expect(body).toContain('Dry run: 0 of 2 intervals would be marked skipped');
    expect(body).toContain('Nothing to mark in this range.');
    expect(await runsOf()).toEqual(before);
    expect(await actions()).toEqual(recorded);
    // A row's "mark…" link fills the form: in place with JavaScript, through its URL without.
    const link = page.locator(`.spans a.mark-link[data-mark-from="${FAILED}"]`);
    await link.click();
    expect([
      await page.locator('#mark-from').inputValue(),
      await page.locator('#mark-to').inputValue(),
    ]).toEqual([FAILED, hour(7)]);
    const reason = page.locator('#mark-range-reason');
    expect(await reason.evaluate((element) => element === element.ownerDocument.activeElement)).toBe(true);
    // This browser's cookie (the token) with the request, as a browser without JavaScript sends it.
    const withoutScript = await (
      await page.context().request.get(new URL(String(await link.getAttribute('href')), ui.url).href)
    ).text();
    expect(withoutScript).toContain(`id="mark-from" name="from" value="${FAILED}"`);
    expect(withoutScript).toContain(`id="mark-to" name="to" value="${hour(7)}"`);
  });
});
