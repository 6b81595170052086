import { describe, expect, it } from 'vitest';
import { WaitHistogram } from '../../../shared/resources/wait-stats.ts';

describe('WaitHistogram', () => {
  it('reports zeros before anything is recorded', () => {
    expect(new WaitHistogram().snapshot()).toEqual({
      count: 0,
      meanMs: 0,
      p50Ms: 0,
      p95Ms: 0,
      p99Ms: 0,
      maxMs: 0,
    });
  });

  it('reports percentiles within 2% and exact count, mean and max', () => {
    const histogram = new WaitHistogram();
    for (let ms = 1; ms <= 1_000; ms++) histogram.record(ms);

    const stats = histogram.snapshot();

    expect(stats.count).toBe(1_000);
    expect(stats.meanMs).toBe(500.5);
    expect(stats.maxMs).toBe(1_000);
    expect(stats.p50Ms).toBeGreaterThanOrEqual(500);
    expect(stats.p50Ms).toBeLessThanOrEqual(510);
    expect(stats.p95Ms).toBeGreaterThanOrEqual(950);
    expect(stats.p95Ms).toBeLessThanOrEqual(969);
    expect(stats.p99Ms).toBeGreaterThanOrEqual(990);
    expect(stats.p99Ms).toBeLessThanOrEqual(1_000);
  });

  it('counts zero and negative waits as 0 ms and forgets everything on reset', () => {
    const histogram = new WaitHistogram();
    histogram.record(0);
    histogram.record(-3);

    expect(histogram.snapshot()).toMatchObject({ count: 2, p99Ms: 0, maxMs: 0 });
    histogram.reset();
    expect(histogram.snapshot().count).toBe(0);
  });
});
