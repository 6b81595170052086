import { describe, expect, it } from 'vitest';
import * as progress from '../../../shared/local/progress.ts';

const RUN_WITHOUT_INTERVAL: progress.ProgressRun = { jobId: 'daily_sales', runId: 7, interval: undefined };
const RUN: progress.ProgressRun = {
  jobId: 'daily_sales',
  runId: 7,
  interval: { start: '2026-03-01T00:00:00.000Z', end: '2026-03-02T00:00:00.000Z' },
};

describe('progress lines', () => {
  it('say how many intervals were planned and skipped, and where the watermark is', () => {
    // Arrange
    const watermark = new Date('2026-03-02T00:00:00.000Z');

    // Act
    const one = progress.planned('daily_sales', { planned: 1, skipped: 0, watermark });
    const many = progress.planned('daily_sales', { planned: 3, skipped: 2, watermark });

    // Assert
    expect(one.text).toBe('daily_sales: planned 1 interval (watermark 2026-03-02T00:00:00.000Z)');
    expect(many).toEqual({
      event: 'planned',
      text: 'daily_sales: planned 3 intervals, skipped 2 (watermark 2026-03-02T00:00:00.000Z)',
      fields: { jobId: 'daily_sales', planned: 3, skipped: 2, watermark: '2026-03-02T00:00:00.000Z' },
    });
  });

  it('show a run by its interval once known, else by its id', () => {
    // Act
    const known = progress.succeeded(RUN);
    const unknown = progress.attemptFailed(RUN_WITHOUT_INTERVAL, 'main', 'boom');

    // Assert
    expect(known.text).toBe('daily_sales 2026-03-01T00:00:00.000Z → 2026-03-02T00:00:00.000Z succeeded');
    expect(unknown).toEqual({
      event: 'attempt-failed',
      text: 'daily_sales run 7 stage main attempt failed: boom',
      fields: { jobId: 'daily_sales', runId: 7, stage: 'main', error: 'boom' },
    });
  });

  it('give the retry wait of a failed planning only when it is tried again', () => {
    // Act
    const retried = progress.planOrDispatchError('plan', 'daily_sales', 'locked', 2, 2_000);
    const given = progress.planOrDispatchError('dispatch', 'daily_sales', 'locked', 3, undefined);

    // Assert
    expect(retried).toEqual({
      event: 'plan-error',
      text: 'daily_sales: planning failed (2× in a row), trying again in 2 s: locked',
      fields: { jobId: 'daily_sales', error: 'locked', failures: 2, retryInMs: 2_000 },
    });
    expect(given).toEqual({
      event: 'dispatch-error',
      text: 'daily_sales: dispatch failed: locked',
      fields: { jobId: 'daily_sales', error: 'locked', failures: 3 },
    });
    expect(Object.keys(given.fields)).not.toContain('retryInMs');
  });

  it('print an empty error of a failed run as nothing, and record it as null', () => {
    // Act
    const line = progress.failed(RUN, null);

    // Assert
    expect(line.text).toBe('daily_sales 2026-03-01T00:00:00.000Z → 2026-03-02T00:00:00.000Z failed: ');
    expect(line.fields).toEqual({
      jobId: 'daily_sales',
      runId: 7,
      start: '2026-03-01T00:00:00.000Z',
      end: '2026-03-02T00:00:00.000Z',
      error: null,
    });
  });
});
