/**
 * A backfill left waiting for upstream intervals that never ran (DESIGN.md §9), in a runtime that
 * adopts unfinished backfills every round (`piko start`): adopted again each round, so that its
 * runs go as soon as their upstream is ready, but said once, not every round (a pair of lines every
 * 10 s, 17,000 a day, before).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalRuntime, type ProgressEvent } from '../../../shared/local/runtime.ts';
import { planBackfill } from '../../../shared/planner/index.ts';
import type { ProcessServices } from '../../../shared/runner/process.ts';
import type { StateStore } from '../../../shared/store/types.ts';
import { waitFor } from '../../e2e/support.ts';
import { dailyRollup, hourlyEvents } from '../../fixtures/dependency-jobs/index.ts';
import { tempServices } from './support.ts';

const NOW = new Date('2026-04-02T12:00:00.000Z');
/** Two Berlin days of the rollup, whose hourly intervals never ran. */
const REQUEST = {
  jobId: dailyRollup.id,
  from: new Date('2026-03-29T22:00:00.000Z'),
  to: new Date('2026-03-31T22:00:00.000Z'),
};

describe('a backfill left waiting for its upstream, in a runtime that adopts backfills', () => {
  let services: Awaited<ReturnType<typeof tempServices>>;
  let opened: ProcessServices;
  beforeAll(async () => {
    services = await tempServices('piko-waiting-backfill-', [hourlyEvents, dailyRollup]);
    opened = services.opened;
  });
  afterAll(() => services?.cleanup());

  it('is adopted every round but said once', async () => {
    // Arrange: the backfill recorded, its two runs waiting; rounds counted by their listing
    const plan = await planBackfill(opened.store, dailyRollup, REQUEST, NOW);
    let rounds = 0;
    const store = new Proxy(opened.store, {
      get(target, property) {
        if (property === 'listBackfills') {
          return (...args: Parameters<StateStore['listBackfills']>) => {
            rounds++;
            return target.listBackfills(...args);
          };
        }
        const value: unknown = Reflect.get(target, property, target);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
    const events: ProgressEvent[] = [];
    const runtime = new LocalRuntime({
      process: { ...opened, store },
      clock: () => NOW,
      onProgress: (event) => events.push(event),
    });

    // Act: five rounds
    runtime.watchBackfills();
    await waitFor('five adoption rounds', async () => (rounds >= 5 ? true : undefined), {
      timeoutMs: 60_000,
    });
    await runtime.stop(1_000, new AbortController());

    // Assert
    const about = events.filter((event) => event.fields.backfillId === plan.backfillId);
    expect(about.map((event) => event.event)).toEqual(['backfill-adopted', 'backfill-stopped']);
    expect(about[1]?.text).toContain('2 run(s) waiting for upstream intervals that did not succeed');
    expect(await opened.store.backfillRunCounts(dailyRollup.id, plan.backfillId)).toMatchObject({
      waiting: 2,
    });
  });
});
