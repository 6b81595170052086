/**
 * How the local runtime waits before trying a failed planning or dispatch again, and before
 * re-dispatching requeued runs: the backoff schedule (pure) and keyed timers it can cut short.
 */

// The schedule is the store's (shared/store/retry.ts): the stage runner retries recording by it too.
export { RETRY_FIRST_MS, RETRY_MAX_MS, retryDelayMs, retryDelaysTotalMs } from '../store/retry.ts';

/** At most one wait per key (a job id); every wait can be ended at once, early. */
export class KeyedWaits {
  readonly #waits = new Map<string, { timer: NodeJS.Timeout; end: () => void }>();

  /** Whether a wait for `key` is under way. */
  has(key: string): boolean {
    return this.#waits.has(key);
  }

  /** Resolves after `delayMs`, or as soon as {@link KeyedWaits.endAll} is called. Replaces no wait: check {@link KeyedWaits.has} first. */
  wait(key: string, delayMs: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.#waits.delete(key);
        resolve();
      }, delayMs);
      this.#waits.set(key, { timer, end: resolve });
    });
  }

  /** Ends every wait now: what waited goes on at once (and finds the runtime stopping). */
  endAll(): void {
    for (const { timer, end } of this.#waits.values()) {
      clearTimeout(timer);
      end();
    }
    this.#waits.clear();
  }
}
