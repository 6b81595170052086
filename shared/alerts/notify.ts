/**
 * Raising a claimed alert: one log line, the `IntervalsLate` or `IntervalsSkipped` count with the
 * job as a dimension (on AWS the job's alarm turns it into an SNS notification), and, locally with
 * `[alerts] webhook_url`, one POST to the webhook in the background, its outcome recorded with the
 * alert in the store.
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

  /** Raises one claimed alert; never throws, never waits for the webhook. */
  raise(alert: Alert): void {
    const message = alertMessage(alert);
    const log =
      this.#outlets.log ??
      ((raised: Alert, line: string) => logger.warn(line, { jobId: raised.jobId, alert: alertBody(raised) }));
    log(alert, message);
    addJobMetric(alert.kind === 'late' ? IntervalsLate : IntervalsSkipped, alert.jobId, alertCount(alert));
    const webhook = this.#outlets.webhook;
    if (!webhook) return;
    const sending = webhook
      .send(alertBody(alert))
      .then((delivery) => this.#record(alert, delivery))
      .catch((error: unknown) => logger.error('alert delivery not recorded', { error: errorMessage(error) }));
    this.#sending.add(sending);
    void sending.finally(() => this.#sending.delete(sending));
  }

  /** Resolves when every webhook POST started so far has ended (delivered, or out of tries). */
  async whenIdle(): Promise<void> {
    while (this.#sending.size > 0) await Promise.allSettled([...this.#sending]);
  }

  async #record(alert: Alert, delivery: WebhookDelivery): Promise<void> {
    const starts = alert.ranges.map((range) => range.start);
    const now = (this.#outlets.clock ?? (() => new Date()))();
    await this.#outlets.store.recordDelivery(
      alert.jobId,
      alert.kind,
      starts,
      delivery.delivered ? { deliveredAt: now } : { error: delivery.error ?? 'not delivered' },
    );
    this.#outlets.onDelivery?.(alert, delivery);
  }
}
