/**
 * Holds handlers until the test lets them go, so a test decides what is running when, without
 * sleeping: each handler calls {@link HandlerGate.enter}, which records it and waits while the gate
 * is closed.
 */
export class HandlerGate {
  /** Every handler start, in order (keys as the handlers gave them). */
  readonly entered: string[] = [];
  #open = false;
  #held: (() => void)[] = [];
  #watchers: { count: number; resolve: () => void }[] = [];

  /** Records a handler start; resolves at once when the gate is open, else when it opens. */
  enter(key: string): Promise<void> {
    this.entered.push(key);
    this.#watchers = this.#watchers.filter((watcher) => {
      if (this.entered.length < watcher.count) return true;
      watcher.resolve();
      return false;
    });
    if (this.#open) return Promise.resolve();
    return new Promise((resolve) => this.#held.push(resolve));
  }

  /** Resolves once `count` handlers have started; rejects after `timeoutMs` (a generous bound). */
  whenEntered(count: number, timeoutMs = 60_000): Promise<void> {
    if (this.entered.length >= count) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () =>
          reject(
            new Error(`only ${this.entered.length} of ${count} handlers started within ${timeoutMs} ms`),
          ),
        timeoutMs,
      );
      this.#watchers.push({
        count,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
      });
    });
  }

  /** Lets every held handler go on, and every later one through at once. */
  open(): void {
    this.#open = true;
    for (const release of this.#held.splice(0)) release();
  }

  /** Holds later handlers again (those already let go run on). */
  close(): void {
    this.#open = false;
  }
}

/** How many times each key was entered. */
export function countsByKey(keys: readonly string[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const key of keys) counts.set(key, (counts.get(key) ?? 0) + 1);
  return counts;
}
