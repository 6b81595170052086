/**
 * Live pages: the UI tells open pages when something may have changed (server-sent events on
 * `/events`), and the page fetches itself again and swaps the parts marked `data-live-id`. What
 * happens in this process (the runtime's progress, the UI's own actions) is told at once; what
 * other processes do is found by the page's slow poll.
 */

/**
 * A line of progress of the runtime beside the UI (the local runtime's `ProgressEvent`, by shape:
 * the UI reads the store and the planner, not the runtime).
 */
export interface RuntimeProgress {
  readonly event: string;
  readonly fields: Readonly<Record<string, unknown>>;
}

/** How soon after a change listeners hear of it: a burst of progress events is one notice. */
export const CHANGE_COALESCE_MS = 150;

/** Tells listeners that the state may have changed, coalescing bursts. */
export class ChangeFeed {
  readonly #listeners = new Set<() => void>();
  #timer: NodeJS.Timeout | undefined;
  #version = 0;

  /** How many changes were told so far (the SSE event id). */
  get version(): number {
    return this.#version;
  }

  /** Calls `listener` after each (coalesced) change; returns how to stop. */
  subscribe(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Something changed: listeners hear of it within {@link CHANGE_COALESCE_MS}. */
  notify(): void {
    if (this.#timer) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#version++;
      for (const listener of [...this.#listeners]) listener();
    }, CHANGE_COALESCE_MS);
    this.#timer.unref();
  }

  /** Drops every listener and a pending notice. */
  close(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#listeners.clear();
  }
}
