/**
 * A backfill recorded while its job is paused (from the UI, `piko backfill` from another process)
 * and adopted by a runtime (`piko start`): planned at once, its runs waiting for the resume, then
 * run (README: "planned, and only its runs wait"). It stayed `planning 0/0`, its adoption failing
 * again every round.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalRuntime, type ProgressEvent } from '../../../shared/local/runtime.ts';
import { recordBackfill, setJobPaused } from '../../../shared/planner/index.ts';
import type { ProcessServices } from '../../../shared/runner/process.ts';
import { waitFor } from '../../e2e/support.ts';
import { hourlyEvents } from '../../fixtures/dependency-jobs/index.ts';
import { tempServices } from './support.ts';

const NOW = new Date('2026-04-02T12:00:00.000Z');
const REQUEST = {
  jobId: hourlyEvents.id,
  from: new Date('2026-03-30T00:00:00.000Z'),
  to: new Date('2026-03-30T04:00:00.000Z'),
};
const OPERATOR = { actor: 'test@host', reason: null };

describe('a backfill recorded while its job is paused, adopted by a runtime', () => {
  let services: Awaited<ReturnType<typeof tempServices>>;
  let opened: ProcessServices;
  beforeAll(async () => {
    services = await tempServices('piko-paused-backfill-', [hourlyEvents]);
    opened = services.opened;
  });
  afterAll(() => services?.cleanup());

  it('is planned at once, waits for the resume, then runs', async () => {
    // Arrange: the job paused, the backfill recorded (not planned), a runtime adopting backfills
    await setJobPaused(opened.store, hourlyEvents, true, OPERATOR);
    const { backfillId } = (await recordBackfill(opened.store, hourlyEvents, REQUEST, NOW, OPERATOR))
      .backfill;
    const events: ProgressEvent[] = [];
    const runtime = new LocalRuntime({
      process: opened,
      clock: () => NOW,
      onProgress: (event) => events.push(event),
    });

    // Act
    runtime.watchBackfills();
    const planned = await waitFor('the backfill planned while paused', async () => {
      const record = await opened.store.getBackfill(backfillId);
      return record?.status === 'planned' ? record : undefined;
    });
    const whilePaused = await opened.store.backfillRunCounts(hourlyEvents.id, backfillId);
    await setJobPaused(opened.store, hourlyEvents, false, OPERATOR);
    const done = await waitFor(
      'the backfill done after the resume',
      async () => {
        const record = await opened.store.getBackfill(backfillId);
        return record?.status === 'done' ? record : undefined;
      },
      { timeoutMs: 60_000 },
    );
    await runtime.stop(1_000, new AbortController());

    // Assert
    expect(planned.status).toBe('planned');
    expect(whilePaused).toMatchObject({ pending: 4, succeeded: 0 });
    expect(done.status).toBe('done');
    expect(await opened.store.backfillRunCounts(hourlyEvents.id, backfillId)).toMatchObject({ succeeded: 4 });
    expect(events.filter((event) => event.event === 'backfill-error')).toEqual([]);
  });
});
