/**
 * The local alert webhook (`[alerts] webhook_url`): one JSON POST per alert, retried with bounded
 * exponential backoff. A webhook that fails never blocks or fails a run: sending happens beside the
 * runtime's work, and every outcome is an answer, never a rejection.
 */
import { errorMessage } from '../telemetry.ts';
import type { AlertBody } from './alert.ts';

/** Options of {@link WebhookSender}. */
export interface WebhookOptions {
  /** Where alerts are POSTed (http or https). */
  readonly url: string;
  /** Tries per alert, the first included. @default 5 */
  readonly attempts?: number;
  /** Wait before the second try, doubled after each (1 s, 2 s, 4 s, 8 s). @default 1000 */
  readonly baseDelayMs?: number;
  /** Longest wait between tries. @default 30000 */
  readonly maxDelayMs?: number;
  /** How long one POST may take before it counts as failed. @default 10000 */
  readonly timeoutMs?: number;
  /** @default globalThis.fetch */
  readonly fetch?: typeof fetch;
}

/** What became of one alert's POST. */
export interface WebhookDelivery {
  /** True when the webhook answered 2xx. */
  readonly delivered: boolean;
  /** POSTs made. */
  readonly attempts: number;
  /** Why the last try failed (an HTTP status or a network error); undefined once delivered. */
  readonly error?: string;
}

/** Statuses worth another try: the receiver may be busy or restarting. Other 4xx will not change. */
const RETRYABLE_STATUSES = new Set([408, 425, 429, 500, 502, 503, 504]);

/** The wait before try `attempt + 1` (attempt ≥ 1): `base × 2^(attempt − 1)`, at most `max`. */
export function webhookDelayMs(attempt: number, baseDelayMs: number, maxDelayMs: number): number {
  return Math.min(baseDelayMs * 2 ** Math.min(attempt - 1, 30), maxDelayMs);
}

/** POSTs alert bodies to a webhook, with retries; {@link WebhookSender.stop} ends every wait and request. */
export class WebhookSender {
  readonly #url: string;
  readonly #attempts: number;
  readonly #baseDelayMs: number;
  readonly #maxDelayMs: number;
  readonly #timeoutMs: number;
  readonly #fetch: typeof fetch;
  readonly #stopped = new AbortController();

  constructor(options: WebhookOptions) {
    this.#url = options.url;
    this.#attempts = Math.max(1, options.attempts ?? 5);
    this.#baseDelayMs = options.baseDelayMs ?? 1_000;
    this.#maxDelayMs = options.maxDelayMs ?? 30_000;
    this.#timeoutMs = options.timeoutMs ?? 10_000;
    this.#fetch = options.fetch ?? globalThis.fetch;
  }

  /** POSTs `body` until the webhook answers 2xx, a status not worth retrying, or the tries run out. Never rejects. */
  async send(body: AlertBody): Promise<WebhookDelivery> {
    const text = JSON.stringify(body);
    let error = 'not sent: the sender was stopped';
    for (let attempt = 1; attempt <= this.#attempts; attempt++) {
      if (this.#stopped.signal.aborted) return { delivered: false, attempts: attempt - 1, error };
      let retryable = true;
      try {
        const response = await this.#fetch(this.#url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'user-agent': 'piko-alerts' },
          body: text,
          signal: AbortSignal.any([this.#stopped.signal, AbortSignal.timeout(this.#timeoutMs)]),
        });
        // The body is not read: drain it so the connection is freed.
        await response.body?.cancel().catch(() => undefined);
        if (response.ok) return { delivered: true, attempts: attempt };
        error = `HTTP ${response.status}`;
        retryable = RETRYABLE_STATUSES.has(response.status);
      } catch (caught) {
        // The URL may hold a token (Slack, Teams): the message of a failed fetch never shows it.
        error = errorMessage(caught, [this.#url]);
      }
      if (!retryable || attempt === this.#attempts) return { delivered: false, attempts: attempt, error };
      await this.#wait(webhookDelayMs(attempt, this.#baseDelayMs, this.#maxDelayMs));
    }
    return { delivered: false, attempts: this.#attempts, error };
  }

  /** Ends waits and requests in flight: their sends answer undelivered at once. */
  stop(): void {
    this.#stopped.abort();
  }

  #wait(ms: number): Promise<void> {
    const signal = this.#stopped.signal;
    return new Promise((resolve) => {
      if (signal.aborted) return resolve();
      const done = () => {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      signal.addEventListener('abort', done, { once: true });
    });
  }
}
