/**
 * The web UI in a real browser (headless Chromium, playwright-core) against `piko ui` in a child
 * process under faketime, over a SQLite state store seeded through the StateStore.
 */
import { writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import path from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jobs as exampleJobs } from '../../functions/jobs/index.ts';
import type { JobRegistry } from '../../shared/registry.ts';
import { loadJobs } from '../../shared/registry.ts';
import { createE2eState, type E2eState, tempDir } from '../e2e/support.ts';
import { GATE_DIR_ENV } from '../fixtures/ui-jobs/defs/gated.ts';
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
const FAILED_START = '2026-03-02T06:00:00.000Z';
const SUCCEEDED_START = '2026-03-02T05:00:00.000Z';
const MANUAL_START = '2026-03-02T08:00:00.000Z';
const SECRET = 'sk-live-UiSecret-12345';
const SEEDED_ERROR = 'seeded failure: the upstream API timed out';

describe('web UI in Chromium', () => {
  let state: E2eState;
  let gate: Awaited<ReturnType<typeof tempDir>>;
  let ui: UiProcess;
  let browser: Awaited<ReturnType<typeof launchBrowser>>;
  let context: BrowserContext;
  let page: Page;
  let jobs: JobRegistry;

  beforeAll(async () => {
    state = await createE2eState('sqlite', 'ui-browser');
    gate = await tempDir('ui-gate');
    jobs = await loadJobs(UI_JOBS_DIR);
    const store = await state.store();
    await store.migrate();
    await seedExamples(store);
    ui = await startUiProcess(['ui'], { ...state.env, [GATE_DIR_ENV]: gate.dir }, FAKE_NOW);
    browser = await launchBrowser();
    context = browser.context;
    page = await context.newPage();
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    const code = await ui?.stop();
    await state?.cleanup();
    await gate?.remove();
    expect(code).toBe(0);
  });

  /** Seeds each example job and the gated one with a morning of runs. */
  async function seedExamples(store: Awaited<ReturnType<E2eState['store']>>) {
    const gated = jobs.get('ui_gated');
    const gatedRuns: SeededRun[] = intervalsOf(gated, at('2026-03-02T00:00:00Z'), 12)
      .filter((interval) => interval.start.toISOString() !== '2026-03-02T03:00:00.000Z') // missing
      .map((interval) => {
        const start = interval.start.toISOString();
        if (start === FAILED_START) return { interval, status: 'failed', error: SEEDED_ERROR, attempts: 1 };
        if (start === MANUAL_START) {
          return {
            interval,
            status: 'succeeded',
            trigger: 'manual',
            config: { region: 'us', apiKey: SECRET },
            output: { region: 'us', rows: 7 },
          };
        }
        return { interval, status: 'succeeded', output: { region: 'eu', rows: 42 } };
      });
    await seedRuns(store, gated, gatedRuns, at('2026-03-02T12:00:00Z'));

    const storeTotals = jobs.get('store_totals');
    await seedRuns(
      store,
      storeTotals,
      intervalsOf(storeTotals, at('2026-03-02T10:00:00Z'), 30)
        .filter((interval) => !['10:40', '10:45'].includes(interval.start.toISOString().slice(11, 16)))
        .map((interval, i, all) => {
          const time = interval.start.toISOString().slice(11, 16);
          if (time === '11:15' || time === '11:20')
            return { interval, status: 'failed', error: 'pool exhausted', attempts: 3 };
          if (i === all.length - 1) return { interval, status: 'running' };
          return { interval, status: 'succeeded', output: { stores: 4, currency: 'EUR' } };
        }),
      at('2026-03-02T12:30:00Z'),
    );
    const prices = jobs.get('price_fanout');
    await seedRuns(
      store,
      prices,
      intervalsOf(prices, at('2026-03-02T12:00:00Z'), 30).map((interval) =>
        interval.start.toISOString().slice(11, 16) === '12:17'
          ? { interval, status: 'failed', error: 'price API answered 503 for item 17', attempts: 3 }
          : { interval, status: 'succeeded', output: { items: 300 } },
      ),
      at('2026-03-02T12:30:00Z'),
    );
    const archive = jobs.get('nightly_archive');
    await seedRuns(
      store,
      archive,
      intervalsOf(archive, at('2026-03-02T08:00:00Z'), 4).map((interval) => ({
        interval,
        status: 'succeeded',
      })),
      at('2026-03-02T12:00:00Z'),
    );
  }

  it('shows every example job on the overview, with its schedule in its own timezone', async () => {
    // The printed address hands the browser the token, then drops it from the URL.
    await page.goto(ui.urlWithToken);
    expect(new URL(page.url()).search).toBe('');
    await expect.poll(() => page.locator('article.job h2').allTextContents()).toEqual(jobs.ids());
    for (const job of exampleJobs) {
      const card = page.locator(`article#job-${job.id}`);
      await expect.poll(() => card.locator('code').first().textContent()).toBe(job.schedule.cron);
    }
    // ui_gated runs in Asia/Shanghai: its next tick (13:00 UTC) reads 21:00 there.
    const gatedNext = page.locator('article#job-ui_gated dd').nth(1);
    expect(await gatedNext.textContent()).toContain('2026-03-02 21:00 GMT+8');
    expect(await gatedNext.textContent()).toContain('2026-03-02 13:00:00Z');
    expect(await page.locator('article#job-store_totals .chip.s-failed b').textContent()).toBe('2');
    await page.screenshot({ path: await screenshotPath('overview-all'), fullPage: true });
    // The picture in the docs shows the example jobs only, as a new project has them.
    for (const id of jobs.ids().filter((id) => !exampleJobs.some((job) => job.id === id))) {
      await page.locator(`article#job-${id}`).evaluate((card) => card.remove());
    }
    await page.screenshot({ path: await screenshotPath('overview'), fullPage: true });
  });

  it('draws a grid of spans coloured by status, missing ones included, and zooms in to a cell per interval', async () => {
    // 36.5 hours of 5-minute intervals: more than a cell each, so adjacent ones of a status merge.
    await page.goto(`${ui.url}jobs/store_totals?from=2026-03-01T00:00:00Z&to=2026-03-02T12:35:00Z`);
    const kinds = await page
      .locator('.timeline a.cell')
      .evaluateAll((cells) => cells.map((cell) => cell.getAttribute('class')));
    expect(kinds).toEqual([
      'cell s-missing', // 2026-03-01 00:00 to 03-02 10:00: 408 intervals without a run
      'cell s-succeeded',
      'cell s-missing', // 10:40 and 10:45
      'cell s-succeeded',
      'cell s-failed', // 11:15 and 11:20
      'cell s-succeeded',
      'cell s-running', // 12:25
      'cell s-future', // 12:30, due at 12:35
    ]);
    expect(await page.locator('.timeline a.cell.s-missing title').first().textContent()).toBe(
      '408 missing: 2026-03-01 00:00 UTC → 2026-03-02 10:00 UTC (2026-03-01 00:00:00Z → 2026-03-02 10:00:00Z)',
    );
    expect(await page.locator('.timeline a.cell.s-failed title').textContent()).toBe(
      '2 failed: 2026-03-02 11:15 UTC → 2026-03-02 11:25 UTC (2026-03-02 11:15:00Z → 2026-03-02 11:25:00Z)',
    );
    await page.screenshot({ path: await screenshotPath('grid-store_totals'), fullPage: true });

    // Selecting the span zooms in on it, where each interval has its own cell.
    await page.locator('.timeline a.cell.s-failed').click();
    await page.waitForURL(/from=2026-03-02T11%3A14%3A30/);
    const failed = page.locator('.timeline a.cell.s-failed');
    expect(await failed.count()).toBe(2);
    expect(await failed.first().getAttribute('href')).toBe(
      `/jobs/store_totals/intervals/${encodeURIComponent('2026-03-02T11:15:00.000Z')}`,
    );
  });

  it('never hides a failure behind successes over a long range: narrow cells that need attention are drawn wider, on top', async () => {
    // A week of 5-minute intervals: the two failed ones are a thousandth of the width.
    await page.goto(`${ui.url}jobs/store_totals?from=2026-02-23T12:35:00Z&to=2026-03-02T12:35:00Z`);
    const failedCell = await page.locator('.timeline a.cell.s-failed rect').boundingBox();
    const mark = page.locator('.timeline svg > g.marks > rect.s-failed');
    const box = await mark.boundingBox();
    const drawnLast = await page
      .locator('.timeline svg')
      .evaluate((svg) => svg.lastElementChild?.lastElementChild?.getAttribute('class'));
    // The page's computed style (this TypeScript has no DOM types).
    const [fill, pointerEvents] = await mark.evaluate((rect) => {
      const style = (
        globalThis as unknown as {
          getComputedStyle(element: unknown): { fill: string; pointerEvents: string };
        }
      ).getComputedStyle(rect);
      return [style.fill, style.pointerEvents];
    });

    expect(failedCell!.width).toBeLessThan(3);
    expect(box!.width).toBeGreaterThanOrEqual(3);
    // Over the failed cell, on top of everything (the most urgent kind is drawn last), in red.
    expect(Math.abs(box!.x + box!.width / 2 - (failedCell!.x + failedCell!.width / 2))).toBeLessThan(1);
    expect(drawnLast).toBe('s-failed');
    expect(fill).toBe('rgb(224, 49, 49)');
    // Decoration only: the cell beneath stays the link.
    expect(pointerEvents).toBe('none');
  });

  it('wraps a description without spaces (a URL) instead of widening the page', async () => {
    // The job's description replaced in the page by 600 characters without a space, as a job may have.
    const long = `https://example.com/${'a'.repeat(580)}`;
    for (const address of [ui.url, `${ui.url}jobs/store_totals`]) {
      await page.goto(address);
      const widths = await page.evaluate((text) => {
        const doc = (globalThis as unknown as { document: PageDocument }).document;
        for (const element of doc.querySelectorAll('p.description, h1 + p.muted')) element.textContent = text;
        return { page: doc.documentElement.scrollWidth, viewport: doc.documentElement.clientWidth };
      }, long);
      expect(widths.page, address).toBeLessThanOrEqual(widths.viewport);
    }
  });

  it('opens a failed interval, reruns it, and shows it succeed without a reload', async () => {
    await page.goto(`${ui.url}jobs/ui_gated`);
    // Job-local time and UTC side by side.
    expect(await page.locator('.axis li').first().textContent()).toMatch(/GMT\+8.*Z/);
    await page.screenshot({ path: await screenshotPath('grid-ui_gated'), fullPage: true });
    await page.locator('.timeline a.cell.s-failed').click();
    await page.waitForURL(`**/jobs/ui_gated/intervals/${encodeURIComponent(FAILED_START)}`);
    expect(await page.locator('.status-line').textContent()).toContain('failed');
    expect(await page.locator('pre.error').textContent()).toBe(SEEDED_ERROR);
    expect(await page.locator('h1').textContent()).toContain(
      '2026-03-02 14:00 GMT+8 → 2026-03-02 15:00 GMT+8',
    );

    await page.locator('form[data-action="rerun"] input[name="reason"]').fill('upstream API fixed');
    await page.locator('form[data-action="rerun"] button').click();
    await page.waitForURL(/flash=/);
    expect(await page.locator('.notice').textContent()).toBe('Started a rerun of this interval.');
    // Recorded as an operator action, with who and why (DESIGN.md §8).
    const [recorded] = await (await state.store()).listActions({ jobId: 'ui_gated', limit: 1 });
    expect(recorded).toMatchObject({ kind: 'rerun', target: FAILED_START, reason: 'upstream API fixed' });
    expect(recorded?.actor).toMatch(/^ui: /);
    // The gate is closed: the run waits in its handler.
    expect(await page.locator('.status-line .chip').textContent()).toMatch(/queued|running/);
    await page.evaluate(() => {
      (globalThis as unknown as { pikoMarker: string }).pikoMarker = 'no reload';
    });
    let navigations = 0;
    page.on('framenavigated', (frame) => {
      if (frame === page.mainFrame()) navigations++;
    });

    await writeFile(path.join(gate.dir, 'open'), '');
    await page.locator('.status-line .chip.s-succeeded').waitFor({ timeout: 60_000 });
    expect(navigations).toBe(0);
    expect(await page.evaluate(() => (globalThis as unknown as { pikoMarker?: string }).pikoMarker)).toBe(
      'no reload',
    );
    expect(await page.locator('.run').textContent()).toContain('"rows": 42');
    await page.screenshot({ path: await screenshotPath('interval-rerun'), fullPage: true });

    const [run] = await (await state.store()).listRuns('ui_gated', {
      from: at(FAILED_START),
      to: new Date(at(FAILED_START).getTime() + 1),
    });
    expect(run).toMatchObject({
      status: 'succeeded',
      trigger: 'manual',
      error: null,
      output: { region: 'eu', rows: 42 },
    });
  });

  it('shows a run’s config with its secret fields redacted', async () => {
    await page.goto(`${ui.url}jobs/ui_gated/intervals/${encodeURIComponent(MANUAL_START)}`);
    const html = await page.content();
    expect(html).not.toContain(SECRET);
    expect(await page.locator('.run').textContent()).toContain('"apiKey": "<redacted>"');
    expect(await page.locator('.run').textContent()).toContain('"region": "us"');
  });

  it('refuses an action without the token (403) and changes nothing', async () => {
    const target = `${ui.url}jobs/ui_gated/intervals/${encodeURIComponent(SUCCEEDED_START)}/rerun`;
    const before = await runAt(SUCCEEDED_START);
    // From the UI's own page, with its cookie, but without the token in the form.
    const fromPage = await page.evaluate(
      async (url) => (await fetch(url, { method: 'POST', body: new URLSearchParams({ config: '' }) })).status,
      target,
    );
    expect(fromPage).toBe(403);
    // From outside: no token, a wrong one, the right one from another site, another Host name.
    expect((await fetch(target, { method: 'POST' })).status).toBe(403);
    expect(
      (await fetch(target, { method: 'POST', body: new URLSearchParams({ token: 'guess' }) })).status,
    ).toBe(403);
    const token = new URL(ui.urlWithToken).searchParams.get('token')!;
    expect(
      (
        await fetch(target, {
          method: 'POST',
          headers: { Origin: 'http://attacker.example' },
          body: new URLSearchParams({ token }),
        })
      ).status,
    ).toBe(403);
    expect(await statusWithHost(ui.url, 'attacker.example')).toBe(403);
    expect(await runAt(SUCCEEDED_START)).toEqual(before);
    // The same request with the token is accepted (a redirect to the interval's page).
    const accepted = await fetch(target, {
      method: 'POST',
      body: new URLSearchParams({ token }),
      redirect: 'manual',
    });
    expect(accepted.status).toBe(303);
  });

  it('keeps ten pages open and live at once, over one stream of changes (a browser opens six connections to a host)', async () => {
    const pages: Page[] = [];
    try {
      for (let index = 0; index < 10; index++) {
        const tab = await context.newPage();
        pages.push(tab);
        await tab.goto(`${ui.url}jobs/ui_gated`, { timeout: 20_000 });
        await expect.poll(() => tab.locator('#live').textContent(), { timeout: 20_000 }).toBe('live');
      }
      // An action from the last one goes through, and the first one sees its effect without a reload.
      const last = pages[pages.length - 1]!;
      await last.goto(`${ui.url}jobs/ui_gated/intervals/${encodeURIComponent(SUCCEEDED_START)}`, {
        timeout: 20_000,
      });
      const first = pages[0]!;
      await first.goto(`${ui.url}jobs/ui_gated/intervals/${encodeURIComponent(SUCCEEDED_START)}`, {
        timeout: 20_000,
      });
      await first.evaluate(() => {
        (globalThis as unknown as { pikoMarker: string }).pikoMarker = 'no reload';
      });
      const before = await first.locator('main').innerHTML();
      const generation = (await runAt(SUCCEEDED_START))?.generation ?? 0;
      await last.locator('form[data-action="rerun"] button').click();
      await last.waitForURL(/flash=/, { timeout: 20_000 });
      expect((await runAt(SUCCEEDED_START))?.generation).toBe(generation + 1);
      await expect.poll(() => first.locator('main').innerHTML(), { timeout: 20_000 }).not.toBe(before);
      expect(await first.evaluate(() => (globalThis as unknown as { pikoMarker?: string }).pikoMarker)).toBe(
        'no reload',
      );
    } finally {
      for (const tab of pages) await tab.close();
    }
  });

  it('shows a refused action on its interval’s own address, which the live refresh reads', async () => {
    const intervalPath = `/jobs/ui_gated/intervals/${encodeURIComponent(SUCCEEDED_START)}`;
    await page.goto(`${ui.url}${intervalPath.slice(1)}`);
    await page.locator('.status-line .chip.s-succeeded').waitFor({ timeout: 60_000 });

    // Act: an action the interval does not offer, posted as its form would be
    const token = await page.locator('input[name="token"]').first().inputValue();
    await Promise.all([
      page.waitForLoadState('load'),
      page.evaluate(`(() => {
        const form = document.createElement('form');
        form.method = 'post';
        form.action = ${JSON.stringify(`${intervalPath}/cancel`)};
        const token = document.createElement('input');
        token.name = 'token';
        token.value = ${JSON.stringify(token)};
        form.append(token);
        document.body.append(form);
        form.submit();
      })()`),
    ]);
    await page.locator('.problem').waitFor();

    // Assert: refused, shown on the interval's own address, which the live refresh reads
    expect(await page.locator('.problem').textContent()).toContain(
      'Cancel is not offered for this interval now',
    );
    await expect.poll(() => new URL(page.url()).pathname).toBe(intervalPath);
    expect(
      await page.evaluate(`fetch(location.href, { headers: { 'X-Piko-Live': '1' } }).then((r) => r.status)`),
    ).toBe(200);
  });

  it('refuses an action from a page that showed an older run of the interval (a tab left open)', async () => {
    const intervalPath = `/jobs/ui_gated/intervals/${encodeURIComponent(SUCCEEDED_START)}`;
    await page.goto(`${ui.url}${intervalPath.slice(1)}`);
    await page.locator('.status-line .chip.s-succeeded').waitFor({ timeout: 60_000 });
    const rerunForm = page.locator('form[data-action="rerun"]');
    const shownSeen = await rerunForm.locator('input[name="seen"]').inputValue();
    const token = await rerunForm.locator('input[name="token"]').inputValue();
    const before = await runAt(SUCCEEDED_START);
    expect(shownSeen).toBe(`${before!.runId}:${before!.generation}`);

    // Act: another tab reruns it; then the first one's form is sent as it was shown
    await rerunForm.locator('button').click();
    await page.waitForURL(/flash=/);
    await expect
      .poll(async () => (await runAt(SUCCEEDED_START))?.status, { timeout: 60_000 })
      .toBe('succeeded');
    const stale = await fetch(`${ui.url}${intervalPath.slice(1)}/rerun`, {
      method: 'POST',
      body: new URLSearchParams({ token, seen: shownSeen, config: '' }),
      redirect: 'manual',
    });

    // Assert: refused, saying what changed; nothing started
    expect(stale.status).toBe(409);
    expect(await stale.text()).toContain('refused: the interval changed since the page showed it');
    expect((await runAt(SUCCEEDED_START))?.generation).toBe(before!.generation + 1);
  });

  async function runAt(start: string) {
    const [run] = await (await state.store()).listRuns('ui_gated', {
      from: at(start),
      to: new Date(at(start).getTime() + 1),
    });
    return run;
  }
});

/** The status of a GET with another `Host` header (what a DNS-rebinding page would send). */
function statusWithHost(url: string, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers: { Host: host } }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
    req.end();
  });
}

/** What the page tests read of the browser's document (this TypeScript has no DOM types). */
interface PageDocument {
  querySelectorAll(selector: string): Iterable<{ textContent: string | null }>;
  documentElement: { scrollWidth: number; clientWidth: number };
}
