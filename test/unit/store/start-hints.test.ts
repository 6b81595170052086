import { describe, expect, it } from 'vitest';
import { MAX_START_HINTS, StartHints } from '../../../shared/store/sql/start-hints.ts';
import type { RunRecord } from '../../../shared/store/types.ts';

const T0 = new Date('2026-03-01T00:00:00.000Z');

function queued(runId: number, executionName = 'exec-1', generation = 0): RunRecord {
  return {
    runId,
    jobId: 'job-a',
    interval: { start: T0, end: new Date(T0.getTime() + 3_600_000) },
    status: 'queued',
    trigger: 'schedule',
    stage: null,
    attempts: 0,
    generation,
    executionName,
    backfillId: null,
    config: null,
    error: null,
    output: null,
    createdAt: T0,
    updatedAt: T0,
    startedAt: null,
    finishedAt: null,
    requeues: 0,
    notBefore: null,
    version: null,
    taskArn: null,
  };
}

const owner = { jobId: 'job-a', executionName: 'exec-1', generation: 0 };

describe('StartHints', () => {
  it('gives a run’s record to its owner once', () => {
    const hints = new StartHints();
    hints.add([queued(1), queued(2)]);
    expect(hints.take(1, owner)).toEqual(queued(1));
    expect(hints.take(1, owner)).toBeUndefined();
    expect(hints.take(2, owner)?.runId).toBe(2);
  });

  it('gives nothing to another execution, generation or job, and drops that hint', () => {
    const hints = new StartHints();
    hints.add([queued(1), queued(2), queued(3)]);
    expect(hints.take(1, { ...owner, executionName: 'exec-2' })).toBeUndefined();
    expect(hints.take(2, { ...owner, generation: 1 })).toBeUndefined();
    expect(hints.take(3, { ...owner, jobId: 'job-b' })).toBeUndefined();
    expect([1, 2, 3].map((runId) => hints.take(runId, owner))).toEqual([undefined, undefined, undefined]);
  });

  it('keeps the newest record of a run queued again, and at most MAX_START_HINTS, dropping the oldest', () => {
    const hints = new StartHints();
    hints.add([queued(1, 'exec-1', 0)]);
    hints.add([queued(1, 'exec-2', 1)]);
    expect(hints.take(1, { ...owner, executionName: 'exec-2', generation: 1 })?.generation).toBe(1);

    const many = Array.from({ length: MAX_START_HINTS + 2 }, (_, index) => queued(index + 10));
    hints.add(many);
    expect(hints.take(10, owner)).toBeUndefined();
    expect(hints.take(11, owner)).toBeUndefined();
    expect(hints.take(12, owner)?.runId).toBe(12);
    expect(hints.take(MAX_START_HINTS + 11, owner)?.runId).toBe(MAX_START_HINTS + 11);
  });
});
