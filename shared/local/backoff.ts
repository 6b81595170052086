/**
 * How the local runtime waits before trying a failed planning or dispatch again, and before
 * re-dispatching requeued runs: the backoff schedule (pure) and keyed timers it can cut short.
 */

/** After a failed planning or dispatch, the first wait before trying again; it doubles per failure. */
export const RETRY_FIRST_MS = 1_000;
/** The longest wait between two tries of a failed planning or dispatch. */
export const RETRY_MAX_MS = 30_000;

/** The wait after `failures` failures in a row (1 or more): 1 s, 2 s, 4 s … at most {@link RETRY_MAX_MS}. */
export function retryDelayMs(failures: number): number {
  return Math.min(RETRY_FIRST_MS * 2 ** Math.min(failures - 1, 20), RETRY_MAX_MS);
}

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
