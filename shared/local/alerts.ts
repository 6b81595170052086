/**
 * The local runtime's alerts (DESIGN.md §9): its watchdog, which checks every job's deadline each
 * `[alerts] check_seconds` whether or not anything runs, the skip alerts of its plannings, and the
 * optional webhook (`[alerts] webhook_url`). Alerts go out as progress lines; a webhook that fails is
 * retried in the background and never holds up a run.
 */
import { alertBody } from '../alerts/alert.ts';
import { AlertRaiser } from '../alerts/notify.ts';
import { checkDeadline, unannouncedAlerts } from '../alerts/watchdog.ts';
import { WebhookSender } from '../alerts/webhook.ts';
import type { ProcessServices } from '../runner/process.ts';
import { type AlertRange, type AlertStore, alertStoreOf } from '../store/alerts.ts';
import { errorMessage } from '../telemetry.ts';
import * as progress from './progress.ts';

/** Options of {@link LocalAlerts}. */
export interface LocalAlertsOptions {
  readonly process: ProcessServices;
  readonly clock: () => Date;
  readonly progress: (event: progress.ProgressEvent) => void;
}

/** The watchdog, skip alerts and webhook of one local runtime. */
export class LocalAlerts {
  readonly #process: ProcessServices;
  readonly #clock: () => Date;
  readonly #progress: (event: progress.ProgressEvent) => void;
  readonly #store: AlertStore;
  readonly #webhook: WebhookSender | undefined;
  readonly #raiser: AlertRaiser;
  #timer: NodeJS.Timeout | undefined;
  #checking: Promise<void> | undefined;
  #stopped = false;

  constructor(options: LocalAlertsOptions) {
    this.#process = options.process;
    this.#clock = options.clock;
    this.#progress = options.progress;
    this.#store = alertStoreOf(options.process.store);
    const { webhookUrl, webhookAttempts } = options.process.config.alerts;
    this.#webhook = webhookUrl
      ? new WebhookSender({ url: webhookUrl, attempts: webhookAttempts })
      : undefined;
    this.#raiser = new AlertRaiser({
      store: this.#store,
      webhook: this.#webhook,
      clock: this.#clock,
      log: (alert) => this.#progress(progress.alert(alertBody(alert))),
      onDelivery: (alert, delivery) => {
        if (!delivery.delivered) {
          this.#progress(
            progress.alertUndelivered(alertBody(alert), delivery.attempts, delivery.error ?? 'not delivered'),
          );
        }
      },
    });
  }

  /** Raises the alert of the ranges one planning of `jobId` skipped and claimed; never throws. */
  skipped(jobId: string, claimed: readonly AlertRange[]): void {
    if (claimed.length === 0) return;
    this.#raiser.raise({ kind: 'skipped', jobId, ranges: claimed, raisedAt: this.#clock() });
  }

  /** Checks every job's deadline once and raises what is newly late; never throws. */
  checkNow(): Promise<void> {
    this.#checking ??= this.#check().finally(() => {
      this.#checking = undefined;
    });
    return this.#checking;
  }

  /** Checks now, then every `[alerts] check_seconds`, until {@link LocalAlerts.stop}. */
  watch(): void {
    if (this.#stopped || this.#timer) return;
    const everyMs = this.#process.config.alerts.checkSeconds * 1_000;
    // One check at a time: the next is armed when the last one ends.
    const next = () => {
      if (this.#stopped) return;
      this.#timer = setTimeout(() => void this.checkNow().finally(next), everyMs);
    };
    void this.checkNow().finally(next);
  }

  /** Resolves when the check running, if any, and every webhook POST started have ended. */
  async whenIdle(): Promise<void> {
    await this.#checking;
    await this.#raiser.whenIdle();
  }

  /** Stops the watchdog; webhook POSTs get `graceMs` to finish, then are abandoned (their alerts stay recorded). */
  async stop(graceMs: number): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    const idle = this.whenIdle();
    let timer: NodeJS.Timeout | undefined;
    const over = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, graceMs);
    });
    await Promise.race([idle, over]);
    clearTimeout(timer);
    this.#webhook?.stop();
  }

  async #check(): Promise<void> {
    // First what a crash left claimed and unraised (here or in another process on this store).
    try {
      const jobs = this.#process.jobs;
      const deadlineOf = (jobId: string) => (jobs.has(jobId) ? jobs.get(jobId).deadlineMs : undefined);
      for (const alert of await unannouncedAlerts(this.#store, deadlineOf, this.#clock())) {
        this.#raiser.raise(alert);
      }
    } catch (error) {
      this.#progress(progress.alertSweepFailed(errorMessage(error)));
    }
    for (const job of this.#process.jobs.list()) {
      if (this.#stopped) return;
      if (job.deadlineMs === undefined) continue;
      try {
        const alert = await checkDeadline(this.#store, job, this.#clock());
        if (alert) this.#raiser.raise(alert);
      } catch (error) {
        this.#progress(progress.alertCheckFailed(job.id, errorMessage(error)));
      }
    }
  }
}
