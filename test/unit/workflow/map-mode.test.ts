import { describe, expect, it } from 'vitest';
import { runsPerExecution } from '../../../shared/planner/dispatch.ts';
import {
  INLINE_MAP_MAX_CONCURRENCY,
  mapModeOf,
  scheduledLaneShape,
} from '../../../shared/workflow/map-mode.ts';

describe('mapModeOf', () => {
  it('maps inline up to 40 and distributed above', () => {
    expect([1, 40, 41, 10_000].map(mapModeOf)).toEqual(['inline', 'inline', 'distributed', 'distributed']);
    expect(INLINE_MAP_MAX_CONCURRENCY).toBe(40);
  });
});

describe('scheduledLaneShape', () => {
  it('keeps one live execution of full batches for inline jobs, whatever the batch size', () => {
    expect(scheduledLaneShape(40, 500)).toEqual({ executions: 1, runsPerExecution: 500 });
    expect(scheduledLaneShape(20, 4)).toEqual({ executions: 1, runsPerExecution: 4 });
  });

  it('keeps one live execution when a distributed job’s concurrency fits one batch', () => {
    expect(scheduledLaneShape(41, 500)).toEqual({ executions: 1, runsPerExecution: 500 });
    expect(scheduledLaneShape(500, 500)).toEqual({ executions: 1, runsPerExecution: 500 });
  });

  it('splits a wider concurrency into whole batches that never exceed it together', () => {
    expect(scheduledLaneShape(5_000, 500)).toEqual({ executions: 10, runsPerExecution: 500 });
    expect(scheduledLaneShape(501, 500)).toEqual({ executions: 2, runsPerExecution: 250 });
    expect(scheduledLaneShape(10_000, runsPerExecution(5_000))).toEqual({
      executions: 12,
      runsPerExecution: 833,
    });
    for (const concurrency of [41, 99, 501, 999, 1_234, 5_000, 7_777, 10_000]) {
      for (const maxRuns of [1, 7, 100, 500, 907]) {
        const { executions, runsPerExecution: per } = scheduledLaneShape(concurrency, maxRuns);
        expect(per).toBeLessThanOrEqual(maxRuns);
        expect(per).toBeGreaterThanOrEqual(1);
        expect(executions * per).toBeLessThanOrEqual(Math.max(concurrency, maxRuns));
        // As close to the concurrency as whole batches allow: one more run per execution would exceed it.
        if (concurrency > maxRuns) expect(executions * (per + 1)).toBeGreaterThan(concurrency);
      }
    }
  });
});
