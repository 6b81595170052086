/**
 * What `piko backfill` says at its end when an operator cancelled some of its runs meanwhile
 * (`piko cancel` from another process): they ended too, and the summary counts them, in text and
 * in JSON, rather than leaving them out (the bar stopped at 1/4, the line said only "1 succeeded").
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { GATE_DIR_ENV } from '../fixtures/ui-jobs/defs/gated.ts';
import { SELECT_ENV } from '../fixtures/ui-jobs/index.ts';
import { UI_JOBS_DIR } from '../ui/support.ts';
import { createE2eState, type E2eState, jsonLines, runPiko, startPiko, tempDir, waitFor } from './support.ts';

/** Four hourly intervals of the gated job, run one at a time. */
const FROM = '2026-03-02T00:00:00Z';
const TO = '2026-03-02T04:00:00Z';

describe('piko backfill with runs cancelled meanwhile', () => {
  let state: E2eState | undefined;
  let gate: Awaited<ReturnType<typeof tempDir>> | undefined;
  afterEach(async () => {
    await state?.cleanup();
    await gate?.remove();
  });

  it('counts the cancelled runs in its summary', async () => {
    // Arrange: the first run held at the gate
    const s = await createE2eState('sqlite', 'backfill_cancelled');
    state = s;
    await (await s.store()).migrate();
    gate = await tempDir('backfill-summary-gate');
    const options = {
      env: { ...s.env, PIKO_JOBS_DIR: UI_JOBS_DIR, [SELECT_ENV]: 'ui_gated', [GATE_DIR_ENV]: gate.dir },
      timeoutMs: 120_000,
    };
    const backfill = startPiko(
      ['backfill', 'ui_gated', '--from', FROM, '--to', TO, '--concurrency', '1', '--json'],
      options,
    );
    await waitFor('the first run to start', async () => {
      const runs = await (await s.store()).listRuns('ui_gated');
      return runs.some((run) => run.status === 'running') ? true : undefined;
    });

    // The same range with another config: every interval is in flight in the first backfill.
    const second = await runPiko(
      ['backfill', 'ui_gated', '--from', FROM, '--to', TO, '--config', '{"region":"us"}'],
      options,
    );

    // Act: cancel the three others from another process, then let the first finish
    const cancel = await runPiko(
      ['cancel', 'ui_gated', '--from', '2026-03-02T01:00:00Z', '--to', TO, '--reason', 'wrong range'],
      options,
    );
    await writeFile(path.join(gate.dir, 'open'), '');
    const result = await backfill.done;

    // Assert
    expect(second.code).toBe(0);
    expect(second.stdout).toContain(
      "0 created, 0 re-armed, 4 skipped (4 of them in flight in another run: another backfill's or the schedule's; piko runs ui_gated --status pending,queued,running shows them, piko backfills the backfills)",
    );
    expect(cancel.code).toBe(0);
    expect(result.code).toBe(0);
    expect(jsonLines(result.stdout).at(-1)).toMatchObject({
      event: 'backfill-done',
      succeeded: 1,
      failed: 0,
      cancelled: 3,
      waiting: 0,
    });
    const text = await runPiko(['backfill', 'ui_gated', '--from', FROM, '--to', TO], options);
    expect(text.stdout).toContain('ui_gated: backfill done: 0 succeeded, 0 failed, 3 cancelled');
  });

  it('piko cancel --interval of an instant that starts no interval names the one holding it', async () => {
    const s = await createE2eState('sqlite', 'cancel_not_tick');
    state = s;
    gate = undefined;

    const result = await runPiko(['cancel', 'ui_gated', '--interval', '2026-03-02T00:30:00Z'], {
      env: { ...s.env, PIKO_JOBS_DIR: UI_JOBS_DIR, [SELECT_ENV]: 'ui_gated' },
    });

    expect(result.code).toBe(2);
    expect(result.stderr.trim()).toBe(
      'error: --interval 2026-03-02T00:30:00.000Z is not the start of an interval of "ui_gated" (0 * * * * in Asia/Shanghai): the interval holding it starts at 2026-03-02T00:00:00.000Z; give that, or --from and --to for a range',
    );
  });
});
