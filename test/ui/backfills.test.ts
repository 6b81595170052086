/**
 * The Backfills page in a real browser (headless Chromium, playwright-core), over a SQLite state
 * store, with the UI in a child process under faketime: a backfill recorded from `piko ui` alone
 * waits for a runtime (the page says so); a `piko start` on the store adopts it and finishes it. On
 * `piko start`'s own page a backfill is started from its dry-run preview, paused, resumed and seen
 * to progress to done without a reload; another is cancelled; none of these actions is done
 * without the token (403).
 */
import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backfillId } from '../../shared/planner/index.ts';
import { createE2eState, type E2eState, runPiko, tempDir, waitFor } from '../e2e/support.ts';
import { GATE_DIR_ENV } from '../fixtures/ui-jobs/defs/gated.ts';
import { SELECT_ENV } from '../fixtures/ui-jobs/index.ts';
import { launchBrowser, screenshotPath, startUiProcess, UI_JOBS_DIR, type UiProcess } from './support.ts';

/** The UI's clock (faketime, UTC). */
const FAKE_NOW = '2026-03-02 12:30:00';
const JOB = 'ui_gated';
/** Recorded from `piko ui` alone, run by the `piko start` that follows. */
const WAITING = { from: '2026-03-01T10:00:00Z', to: '2026-03-01T12:00:00Z' };
/** Started from the preview, paused, resumed, done. */
const STEERED = { from: '2026-03-01T00:00:00Z', to: '2026-03-01T04:00:00Z' };
/** Cancelled while its first run is held. */
const CANCELLED = { from: '2026-03-01T06:00:00Z', to: '2026-03-01T09:00:00Z' };
const idOf = (range: { from: string; to: string }) =>
  backfillId({ jobId: JOB, from: new Date(range.from), to: new Date(range.to), reprocess: 'missing' });

describe('the Backfills page in Chromium', () => {
  let state: E2eState;
  let gate: Awaited<ReturnType<typeof tempDir>>;
  let ui: UiProcess | undefined;
  let browser: Awaited<ReturnType<typeof launchBrowser>>;
  let page: Page;
  let env: Record<string, string>;

  const openGate = () => writeFile(path.join(gate.dir, 'open'), '');
  const closeGate = () => rm(path.join(gate.dir, 'open'), { force: true });
  const backfill = async (id: string) => (await state.store()).getBackfill(id);
  const row = (id: string) => page.locator(`tr[data-backfill="${id}"]`);

  beforeAll(async () => {
    state = await createE2eState('sqlite', 'ui-backfills');
    gate = await tempDir('ui-backfills-gate');
    await mkdir(gate.dir, { recursive: true });
    await (await state.store()).migrate();
    // A short lease: a runtime looks for unfinished backfills every second.
    env = { ...state.env, [GATE_DIR_ENV]: gate.dir, [SELECT_ENV]: JOB, PIKO_RUNTIME__LEASE_SECONDS: '3' };
    browser = await launchBrowser();
    page = await browser.context.newPage();
  }, 180_000);

  afterAll(async () => {
    await openGate().catch(() => undefined);
    await browser?.close();
    const code = await ui?.stop();
    await state?.cleanup();
    await gate?.remove();
    expect(code ?? 0).toBe(0);
  });

  /** Fills the start form and opens its dry-run preview. */
  async function preview(range: { from: string; to: string }, reason: string) {
    await page.locator('#bf-job').selectOption(JOB);
    await page.locator('#bf-from').fill(range.from);
    await page.locator('#bf-to').fill(range.to);
    await page.locator('#bf-reprocess').selectOption('missing');
    await page.locator('#bf-reason').fill(reason);
    await page.locator('#backfill-form button[type="submit"]').click();
    await page.locator('#plan-summary').waitFor();
  }

  it('records a backfill from piko ui alone, which waits for a runtime; piko start runs it', async () => {
    // Arrange: the UI alone, nobody running jobs
    ui = await startUiProcess(['ui'], env, FAKE_NOW);
    await page.goto(ui.urlWithToken);
    await page.goto(`${ui.url}backfills`);

    // Act: preview, then confirm
    await preview(WAITING, 'fill the gap');
    const summary = await page.locator('#plan-summary').textContent();
    await page.locator('#confirm-form button').click();
    await page.waitForURL(/flash=/);
    const notice = await page.locator('.notice').textContent();
    const waitingText = await row(idOf(WAITING)).locator('.waits').textContent();
    await page.screenshot({ path: await screenshotPath('backfills-waiting'), fullPage: true });
    expect(await ui.stop()).toBe(0);
    ui = undefined;
    await openGate();
    ui = await startUiProcess(['start'], env, FAKE_NOW);
    const done = await waitFor(
      'piko start to finish the recorded backfill',
      async () => ((await backfill(idOf(WAITING)))?.status === 'done' ? true : undefined),
      { everyMs: 100, timeoutMs: 60_000 },
    );

    // Assert
    expect(summary).toBe('plan: create 2');
    expect(notice).toContain(`Backfill ${idOf(WAITING)} of ${JOB} recorded; it waits for a runtime`);
    expect(waitingText).toContain('waits for a runtime');
    expect(done).toBe(true);
    const runs = (await (await state.store()).listRuns(JOB)).filter(
      (run) => run.backfillId === idOf(WAITING),
    );
    expect(runs.map((run) => run.status)).toEqual(['succeeded', 'succeeded']);
    const [start] = await (await state.store()).listActions({ jobId: JOB, limit: 10 });
    expect(start).toMatchObject({ kind: 'backfill', target: idOf(WAITING), reason: 'fill the gap' });
    expect(start?.actor).toMatch(/^ui: /);
  });

  it('starts a backfill from its preview, pauses and resumes it, and shows it done without a reload', async () => {
    // Arrange: piko start's own UI, the gate closed so the first run holds
    await closeGate();
    const id = idOf(STEERED);
    await page.goto(ui!.urlWithToken);
    await page.goto(`${ui!.url}backfills`);

    // Act: preview and start
    await preview(STEERED, 'reload after the fix');
    const summary = await page.locator('#plan-summary').textContent();
    const sample = await page.locator('table.plan tbody tr').count();
    await page.screenshot({ path: await screenshotPath('backfills-preview'), fullPage: true });
    await page.locator('#confirm-form button').click();
    await page.waitForURL(/flash=/);
    const notice = await page.locator('.notice').textContent();
    await row(id).locator('.progress-text').waitFor();
    await waitFor('a run of the backfill to hold at the gate', async () => {
      const runs = await (await state.store()).backfillRunCounts(JOB, id);
      return runs.running === 1 ? true : undefined;
    });
    await page.locator(`#reason-${id}`).fill('db maintenance');
    await row(id).locator('button[data-command="pause"]').click();
    await page.waitForURL(/flash=/);
    const paused = await row(id).getAttribute('data-status');
    await row(id).locator('button[data-command="resume"]').click();
    await page.waitForURL(/flash=/);
    // From here the page must follow the backfill by itself.
    await page.evaluate(() => {
      (globalThis as unknown as { pikoMarker: string }).pikoMarker = 'no reload';
    });
    let navigations = 0;
    page.on('framenavigated', (frame) => {
      if (frame === page.mainFrame()) navigations++;
    });
    await openGate();
    await page.locator(`tr[data-backfill="${id}"][data-status="done"]`).waitFor({ timeout: 60_000 });
    const progress = await row(id).locator('.progress-text').textContent();
    await page.screenshot({ path: await screenshotPath('backfills-done'), fullPage: true });

    // Assert
    expect(summary).toBe('plan: create 4');
    expect(sample).toBe(4);
    expect(notice).toContain(`Backfill ${id} of ${JOB} recorded; this runtime plans and runs it`);
    expect(paused).toBe('paused');
    expect(progress?.trim()).toBe('4/4');
    expect(navigations).toBe(0);
    expect(await page.evaluate(() => (globalThis as unknown as { pikoMarker?: string }).pikoMarker)).toBe(
      'no reload',
    );
    const kinds = (await (await state.store()).listActions({ jobId: JOB, limit: 10 }))
      .filter((action) => action.target === id)
      .map((action) => [action.kind, action.reason]);
    expect(kinds).toEqual([
      ['backfill-resume', null],
      ['backfill-pause', 'db maintenance'],
      ['backfill', 'reload after the fix'],
    ]);
  });

  it('cancels a backfill from the page: its waiting runs are cancelled', async () => {
    // Arrange: a backfill whose first run holds at the closed gate
    await closeGate();
    const id = idOf(CANCELLED);
    await page.goto(`${ui!.url}backfills`);
    await preview(CANCELLED, 'wrong range');
    await page.locator('#confirm-form button').click();
    await page.waitForURL(/flash=/);
    await waitFor('a run of the backfill to hold at the gate', async () => {
      const runs = await (await state.store()).backfillRunCounts(JOB, id);
      return runs.running === 1 ? true : undefined;
    });

    // Act
    await page.locator(`#reason-${id}`).fill('wrong range');
    await row(id).locator('button[data-command="cancel"]').click();
    await page.waitForURL(/flash=/);
    const notice = await page.locator('.notice').textContent();
    const status = await row(id).getAttribute('data-status');
    await openGate();
    const counts = await waitFor('the held run to finish', async () => {
      const runs = await (await state.store()).backfillRunCounts(JOB, id);
      return runs.running === 0 ? runs : undefined;
    });

    // Assert
    expect(notice).toBe(
      `Backfill ${id} cancelled: 2 pending or queued run(s) cancelled; running runs finish.`,
    );
    expect(status).toBe('cancelled');
    expect({ succeeded: counts.succeeded, cancelled: counts.cancelled }).toEqual({
      succeeded: 1,
      cancelled: 2,
    });
    expect((await backfill(id))?.status).toBe('cancelled');
  });

  it('says that a backfill of a paused job waits for its resume, not for a runtime', async () => {
    // Arrange: the job paused (piko pause), the UI alone
    await ui?.stop();
    const cli = { env: { ...env, PIKO_JOBS_DIR: UI_JOBS_DIR }, timeoutMs: 60_000 };
    expect((await runPiko(['pause', JOB], cli)).code).toBe(0);
    ui = await startUiProcess(['ui'], env, FAKE_NOW);
    const range = { from: '2026-03-01T20:00:00Z', to: '2026-03-01T21:00:00Z' };
    try {
      await page.goto(ui.urlWithToken);
      await page.goto(`${ui.url}backfills`);

      // Act
      await preview(range, 'while paused');
      await page.locator('#confirm-form button').click();
      await page.waitForURL(/flash=/);

      // Assert
      expect(await page.locator('.notice').textContent()).toContain(
        `recorded; its job is paused: it runs after piko resume ${JOB}`,
      );
      expect(await row(idOf(range)).locator('.waits').textContent()).toBe(
        `waits: its job is paused (piko resume ${JOB})`,
      );
    } finally {
      expect((await runPiko(['resume', JOB], cli)).code).toBe(0);
    }
  });

  it('refuses starting, pausing, resuming and cancelling without the token (403)', async () => {
    // Arrange
    await page.goto(`${ui!.url}backfills`);
    const before = await (await state.store()).listActions({ jobId: JOB, limit: 50 });
    const cancelled = idOf(CANCELLED);
    const start = {
      job: JOB,
      from: '2026-03-01T14:00:00Z',
      to: '2026-03-01T15:00:00Z',
      reprocess: 'missing',
    };

    // Act: from the UI's own page (its cookie, no token in the form), and from outside
    const fromPage = await page.evaluate(
      async ({ cancelled, start }) =>
        Promise.all([
          fetch('/backfills', { method: 'POST', body: new URLSearchParams(start) }),
          fetch('/backfills/preview', { method: 'POST', body: new URLSearchParams(start) }),
          ...['resume', 'pause', 'cancel'].map((command) =>
            fetch(`/backfills/${cancelled}`, { method: 'POST', body: new URLSearchParams({ command }) }),
          ),
        ]).then((responses) => responses.map((response) => response.status)),
      { cancelled, start },
    );
    const fromOutside = await fetch(`${ui!.url}backfills/${cancelled}`, {
      method: 'POST',
      body: new URLSearchParams({ command: 'resume', token: 'guess' }),
    });

    // Assert
    expect(fromPage).toEqual([403, 403, 403, 403, 403]);
    expect(fromOutside.status).toBe(403);
    expect((await backfill(cancelled))?.status).toBe('cancelled');
    expect(await backfill(idOf({ from: start.from, to: start.to }))).toBeUndefined();
    expect(await (await state.store()).listActions({ jobId: JOB, limit: 50 })).toEqual(before);
  });

  it('says why a command is refused in words, without the error class', async () => {
    // Pausing a cancelled backfill, with the token
    const token = new URL(ui!.urlWithToken).searchParams.get('token')!;
    const response = await fetch(`${ui!.url}backfills/${idOf(CANCELLED)}`, {
      method: 'POST',
      body: new URLSearchParams({ command: 'pause', token }),
    });
    const body = await response.text();

    expect(response.status).toBe(409);
    expect(body).toContain(`pause refused: Backfill &quot;${idOf(CANCELLED)}&quot; is cancelled`);
    expect(body).not.toContain('BackfillStateError');
  });
});
