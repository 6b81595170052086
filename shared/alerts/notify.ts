/**
 * Raising a claimed alert: one log line, the `IntervalsLate` or `IntervalsSkipped` count with the
 * job as a dimension (on AWS the job's alarm turns it into an SNS notification), then its record as
 * announced in the store; and, locally with `[alerts] webhook_url`, one POST to the webhook in the
 * background, its outcome recorded with the alert. At least once: a claim whose raising a crash
 * (or a store error) cut short is raised again by the sweep (`raiseUnannounced`, watchdog.ts).
 */
import type { AlertStore } from '../store/alerts.ts';
import { addJobMetric, errorMessage, IntervalsLate, IntervalsSkipped, logger } from '../telemetry.ts';
import { type Alert, alertBody, alertCount, alertMessage } from './alert.ts';
import type { WebhookDelivery, WebhookSender } from './webhook.ts';

/** Where {@link AlertRaiser} sends alerts. */
export interface AlertOutlets {
  /** Where deliveries are recorded. */
  readonly store: AlertStore;
  /** Writes the alert's line. @default logger.warn with the alert's fields */
  readonly log?: (alert: Alert, message: string) => void;
  /** POSTs each alert. @default - no webhook */
  readonly webhook?: WebhookSender;
  /** Told of each webhook outcome (after it is recorded). @default nothing */
  readonly onDelivery?: (alert: Alert, delivery: WebhookDelivery) => void;
  /** @default () => new Date() */
  readonly clock?: () => Date;
}

/** Raises alerts: the line and the metric at once, the webhook in the background. */
export class AlertRaiser {
  readonly #outlets: AlertOutlets;
  readonly #sending = new Set<Promise<void>>();

  constructor(outlets: AlertOutlets) {
    this.#outlets = outlets;
  }

  /**
   * Raises one claimed alert; never throws, never waits: its record as announced and the webhook
   * run in the background ({@link whenIdle} waits for them).
   */
  raise(alert: Alert): void {
    const message = alertMessage(alert);
    const log =
      this.#outlets.log ??
      ((raised: Alert, line: string) => logger.warn(line, { jobId: raised.jobId, alert: alertBody(raised) }));
    log(alert, message);
    addJobMetric(alert.kind === 'late' ? IntervalsLate : IntervalsSkipped, alert.jobId, alertCount(alert));
    // Written (the line and the metric are on stdout): not to be raised again by the sweep.
    this.#track(
      this.#outlets.store
        .markAnnounced(
          alert.jobId,
          alert.kind,
          alert.ranges.map((range) => range.start),
          this.#now(),
        )
        .catch((error: unknown) =>
          logger.error('alert raised, not recorded as raised: the sweep raises it again', {
            jobId: alert.jobId,
            error: errorMessage(error),
          }),
        ),
    );
    const webhook = this.#outlets.webhook;
    if (!webhook) return;
    this.#track(
      webhook
        .send(alertBody(alert))
        .then((delivery) => this.#record(alert, delivery))
        .catch((error: unknown) =>
          logger.error('alert delivery not recorded', { error: errorMessage(error) }),
        ),
    );
  }

  /**
   * Resolves when every record of an alert raised and every webhook POST started so far have ended
   * (delivered, or out of tries). A Lambda waits for it before it answers.
   */
  async whenIdle(): Promise<void> {
    while (this.#sending.size > 0) await Promise.allSettled([...this.#sending]);
  }

  #track(work: Promise<void>): void {
    this.#sending.add(work);
    void work.finally(() => this.#sending.delete(work));
  }

  #now(): Date {
    return (this.#outlets.clock ?? (() => new Date()))();
  }

  async #record(alert: Alert, delivery: WebhookDelivery): Promise<void> {
    const starts = alert.ranges.map((range) => range.start);
    const now = this.#now();
    await this.#outlets.store.recordDelivery(
      alert.jobId,
      alert.kind,
      starts,
      delivery.delivered ? { deliveredAt: now } : { error: delivery.error ?? 'not delivered' },
    );
    this.#outlets.onDelivery?.(alert, delivery);
  }
}
