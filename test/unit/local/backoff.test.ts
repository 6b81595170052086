import { afterEach, describe, expect, it, vi } from 'vitest';
import { KeyedWaits, RETRY_FIRST_MS, RETRY_MAX_MS, retryDelayMs } from '../../../shared/local/backoff.ts';

describe('retryDelayMs', () => {
  it('doubles from the first wait per failure in a row', () => {
    // Arrange
    const failures = [1, 2, 3, 4, 5];

    // Act
    const delays = failures.map(retryDelayMs);

    // Assert
    expect(delays).toEqual([1_000, 2_000, 4_000, 8_000, 16_000]);
    expect(delays[0]).toBe(RETRY_FIRST_MS);
  });

  it('never waits longer than the longest wait, however many failures', () => {
    // Arrange
    const failures = [6, 7, 50, 10_000];

    // Act
    const delays = failures.map(retryDelayMs);

    // Assert
    expect(delays).toEqual([RETRY_MAX_MS, RETRY_MAX_MS, RETRY_MAX_MS, RETRY_MAX_MS]);
  });
});

describe('KeyedWaits', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('resolves a wait after its delay and then forgets its key', async () => {
    // Arrange
    vi.useFakeTimers();
    const waits = new KeyedWaits();
    let done = false;

    // Act
    const waited = waits.wait('job_a', 2_000).then(() => {
      done = true;
    });
    await vi.advanceTimersByTimeAsync(1_999);
    const earlier = { done, held: waits.has('job_a') };
    await vi.advanceTimersByTimeAsync(1);
    await waited;

    // Assert
    expect(earlier).toEqual({ done: false, held: true });
    expect(done).toBe(true);
    expect(waits.has('job_a')).toBe(false);
  });

  it('ends every wait at once on endAll, long before its delay', async () => {
    // Arrange
    vi.useFakeTimers();
    const waits = new KeyedWaits();
    const ended: string[] = [];
    const both = Promise.all([
      waits.wait('job_a', 60_000).then(() => ended.push('job_a')),
      waits.wait('job_b', 30_000).then(() => ended.push('job_b')),
    ]);

    // Act
    waits.endAll();
    await both;

    // Assert
    expect(ended.sort()).toEqual(['job_a', 'job_b']);
    expect([waits.has('job_a'), waits.has('job_b')]).toEqual([false, false]);
    expect(vi.getTimerCount()).toBe(0);
  });
});
