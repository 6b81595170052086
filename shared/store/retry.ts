/**
 * The one backoff schedule for a state store that is out of reach (a full disk, an I/O error, a lost
 * connection: {@link StoreUnavailableError}), pure, and a bounded retry of one store write on it. The
 * local runtime waits by it before planning or dispatching again (`shared/local/backoff.ts`); the
 * stage runner retries recording a stage's result by it rather than running the handler again.
 */
import { StoreUnavailableError } from '../errors.ts';

/** After a store failure, the first wait before trying again; it doubles per failure. */
export const RETRY_FIRST_MS = 1_000;
/** The longest wait between two tries. */
export const RETRY_MAX_MS = 30_000;

/** The wait after `failures` failures in a row (1 or more): 1 s, 2 s, 4 s … at most {@link RETRY_MAX_MS}. */
export function retryDelayMs(failures: number): number {
  return Math.min(RETRY_FIRST_MS * 2 ** Math.min(failures - 1, 20), RETRY_MAX_MS);
}

/**
 * The waits before the try after `failures` failures in a row, added up: what a retry by
 * {@link retryDelayMs} has waited when it gives up at that many (7: 1 + 2 + 4 + 8 + 16 + 30 = 61 s).
 */
export function retryDelaysTotalMs(failures: number): number {
  let total = 0;
  for (let failure = 1; failure < failures; failure++) total += retryDelayMs(failure);
  return total;
}

/** How {@link retryWhileUnavailable} waits and when it gives up. */
export interface UnavailableRetryOptions {
  /**
   * The most it waits in all, over every retry: it gives up (throwing the last error) rather than
   * start a wait that would take it past this. @default 15_000 (tries after 1, 2, 4 and 8 s)
   */
  readonly budgetMs?: number;
  /** The wait after `failures` failures in a row. @default {@link retryDelayMs} */
  readonly delayMs?: (failures: number) => number;
  /** Aborted: no further wait starts, and a wait under way ends with the last error. @default never */
  readonly signal?: AbortSignal;
  /** Called before each wait. @default nothing */
  readonly onRetry?: (error: StoreUnavailableError, failures: number, delayMs: number) => void;
}

/** Default of {@link UnavailableRetryOptions.budgetMs}: the runtime's five tries of `start --once`. */
export const UNAVAILABLE_RETRY_BUDGET_MS = 15_000;

/**
 * Runs `operation`, and again after a backoff each time it throws a {@link StoreUnavailableError},
 * until it succeeds or the waits would exceed the budget. Only for an operation that is safe to
 * repeat (an owner-conditional update, a sink's upsert): any other error is thrown at once.
 * @throws the operation's last StoreUnavailableError once the budget is spent (or `signal` aborted);
 *   any other error it throws, at once.
 */
export async function retryWhileUnavailable<T>(
  operation: () => Promise<T>,
  options: UnavailableRetryOptions = {},
): Promise<T> {
  const budgetMs = options.budgetMs ?? UNAVAILABLE_RETRY_BUDGET_MS;
  const delayOf = options.delayMs ?? retryDelayMs;
  let waited = 0;
  for (let failures = 1; ; failures++) {
    try {
      return await operation();
    } catch (error) {
      if (!(error instanceof StoreUnavailableError)) throw error;
      const delayMs = delayOf(failures);
      if (waited + delayMs > budgetMs || options.signal?.aborted) throw error;
      options.onRetry?.(error, failures, delayMs);
      waited += delayMs;
      if (!(await sleep(delayMs, options.signal))) throw error;
    }
  }
}

/** Resolves true after `ms`, or false as soon as `signal` aborts. */
function sleep(ms: number, signal: AbortSignal | undefined): Promise<boolean> {
  return new Promise((resolve) => {
    const onAbort = () => {
      clearTimeout(timer);
      resolve(false);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve(true);
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
