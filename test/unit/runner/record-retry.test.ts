/**
 * The bounded retry the stage runner records a stage's result with once its handler has run
 * (`shared/store/retry.ts`): again on StoreUnavailableError within the budget, never on anything else.
 */
import { describe, expect, it } from 'vitest';
import { StoreError, StoreUnavailableError } from '../../../shared/errors.ts';
import { retryDelayMs, retryWhileUnavailable } from '../../../shared/store/retry.ts';

/** An operation that fails with `errors` in turn, then returns 'recorded'; counts its calls. */
function failing(...errors: Error[]): { calls: () => number; operation: () => Promise<string> } {
  let calls = 0;
  return {
    calls: () => calls,
    operation: async () => {
      const error = errors[calls++];
      if (error) throw error;
      return 'recorded';
    },
  };
}

describe('retryWhileUnavailable', () => {
  it('tries again while the store is unavailable, and returns once it answers', async () => {
    const { calls, operation } = failing(
      new StoreUnavailableError('full'),
      new StoreUnavailableError('full'),
    );
    const waits: number[] = [];
    const result = await retryWhileUnavailable(operation, {
      delayMs: () => 1,
      onRetry: (_error, failures) => waits.push(failures),
    });
    expect(result).toBe('recorded');
    expect(calls()).toBe(3);
    expect(waits).toEqual([1, 2]);
  });

  it('gives up with the last error once the next wait would pass the budget', async () => {
    const down = new StoreUnavailableError('still full');
    const { calls, operation } = failing(down, down, down, down, down);
    await expect(retryWhileUnavailable(operation, { budgetMs: 3, delayMs: () => 1 })).rejects.toBe(down);
    expect(calls()).toBe(4);
  });

  it('throws any other error at once', async () => {
    const other = new StoreError('constraint');
    const { calls, operation } = failing(other);
    await expect(retryWhileUnavailable(operation, { delayMs: () => 1 })).rejects.toBe(other);
    expect(calls()).toBe(1);
  });

  it('by default waits 1, 2, 4 and 8 s: the 15 s budget fits the job function’s 30 s timeout margin', () => {
    expect([1, 2, 3, 4, 5].map(retryDelayMs)).toEqual([1_000, 2_000, 4_000, 8_000, 16_000]);
  });
});
