import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import {
  type Alert,
  alertBody,
  alertMessage,
  deadlineHorizon,
  mergeIntervals,
} from '../../../shared/alerts/alert.ts';
import { WebhookSender, webhookDelayMs } from '../../../shared/alerts/webhook.ts';
import { defineJob } from '../../../shared/job.ts';
import { addJobMetric, createMetrics, IntervalsLate } from '../../../shared/telemetry.ts';

const at = (iso: string) => new Date(iso);
const interval = (start: string, end: string) => ({ start: at(start), end: at(end) });

describe('deadlineHorizon', () => {
  const hourly = defineJob({ id: 'h', schedule: { cron: '0 * * * *' }, deadline: '2h', handler: () => null });
  const berlin = defineJob({
    id: 'b',
    schedule: { cron: '0 0 * * *', timezone: 'Europe/Berlin' },
    deadline: '90m',
    handler: () => null,
  });

  it('is the end of the last interval whose deadline has passed, to the millisecond', () => {
    // [02:00, 03:00) is late from 05:00:00.000 on, not 1 ms before.
    expect(deadlineHorizon(hourly, at('2026-05-01T04:59:59.999Z'))).toEqual(at('2026-05-01T02:00:00Z'));
    expect(deadlineHorizon(hourly, at('2026-05-01T05:00:00.000Z'))).toEqual(at('2026-05-01T03:00:00Z'));
  });

  it('follows the job’s ticks in its timezone across a DST change', () => {
    // The 23-hour day 2026-03-29 in Berlin ends at 22:00Z; its deadline passes at 23:30Z.
    expect(deadlineHorizon(berlin, at('2026-03-29T23:29:59.999Z'))).toEqual(at('2026-03-28T23:00:00Z'));
    expect(deadlineHorizon(berlin, at('2026-03-29T23:30:00Z'))).toEqual(at('2026-03-29T22:00:00Z'));
  });

  it('is undefined for a job without a deadline', () => {
    const none = defineJob({ id: 'n', schedule: { cron: '0 * * * *' }, handler: () => null });
    expect(deadlineHorizon(none, at('2026-05-01T05:00:00Z'))).toBeUndefined();
  });
});

describe('mergeIntervals', () => {
  it('merges adjacent intervals into ranges, breaks at a gap and counts a repeated interval once', () => {
    const merged = mergeIntervals([
      interval('2026-05-01T00:00:00Z', '2026-05-01T01:00:00Z'),
      interval('2026-05-01T01:00:00Z', '2026-05-01T02:00:00Z'),
      interval('2026-05-01T01:00:00Z', '2026-05-01T02:00:00Z'),
      interval('2026-05-01T04:00:00Z', '2026-05-01T05:00:00Z'),
    ]);

    expect(merged).toEqual([
      { ...interval('2026-05-01T00:00:00Z', '2026-05-01T02:00:00Z'), intervals: 2 },
      { ...interval('2026-05-01T04:00:00Z', '2026-05-01T05:00:00Z'), intervals: 1 },
    ]);
    expect(mergeIntervals([])).toEqual([]);
  });
});

describe('alert message and body', () => {
  const late: Alert = {
    kind: 'late',
    jobId: 'daily_sales',
    ranges: [
      { ...interval('2026-05-01T00:00:00Z', '2026-05-01T02:00:00Z'), intervals: 2 },
      { ...interval('2026-05-01T04:00:00Z', '2026-05-01T05:00:00Z'), intervals: 1 },
    ],
    deadlineMs: 7_200_000,
    raisedAt: at('2026-05-01T07:00:00Z'),
  };

  it('names the job, the count, the deadline and every range', () => {
    expect(alertMessage(late)).toBe(
      'job "daily_sales": 3 intervals late (not succeeded 2 h after they ended): ' +
        '2026-05-01T00:00:00.000Z → 2026-05-01T02:00:00.000Z (2), 2026-05-01T04:00:00.000Z → 2026-05-01T05:00:00.000Z (1)',
    );
    expect(
      alertMessage({ kind: 'skipped', jobId: 'x', ranges: [late.ranges[1]!], raisedAt: late.raisedAt }),
    ).toBe(
      'job "x": 1 interval skipped by the catch-up rules (never run; piko backfill --reprocess missing runs them): ' +
        '2026-05-01T04:00:00.000Z → 2026-05-01T05:00:00.000Z (1)',
    );
  });

  it('gives the webhook a body with a stable id and the intervals in ISO 8601', () => {
    expect(alertBody(late)).toEqual({
      id: 'daily_sales:late:2026-05-01T00:00:00.000Z',
      source: 'piko',
      kind: 'late',
      jobId: 'daily_sales',
      count: 3,
      intervals: [
        { start: '2026-05-01T00:00:00.000Z', end: '2026-05-01T02:00:00.000Z', count: 2 },
        { start: '2026-05-01T04:00:00.000Z', end: '2026-05-01T05:00:00.000Z', count: 1 },
      ],
      deadlineMs: 7_200_000,
      raisedAt: '2026-05-01T07:00:00.000Z',
      message: alertMessage(late),
    });
  });
});

describe('addJobMetric', () => {
  it('publishes the count with the job as a dimension beside service and stack', () => {
    const source = createMetrics('PikoStaging');
    const lines: string[] = [];
    // What addJobMetric publishes, read as it is flushed (metrics print nothing outside AWS).
    const original = source.singleMetric.bind(source);
    source.singleMetric = () => {
      const metric = original();
      metric.publishStoredMetrics = () => {
        lines.push(JSON.stringify(metric.serializeMetrics()));
        metric.clearMetrics();
        return metric;
      };
      return metric;
    };

    addJobMetric(IntervalsLate, 'daily_sales', 3, source);

    const emf = JSON.parse(lines[0]!);
    expect(emf._aws.CloudWatchMetrics[0].Dimensions).toEqual([['service', 'stack', 'job']]);
    expect(emf).toMatchObject({
      service: 'piko',
      stack: 'PikoStaging',
      job: 'daily_sales',
      IntervalsLate: 3,
    });
  });
});

describe('WebhookSender', () => {
  let server: Server | undefined;
  afterEach(async () => {
    await new Promise((resolve) => (server ? server.close(resolve) : resolve(undefined)));
    server = undefined;
  });

  /** A webhook on 127.0.0.1 answering the given statuses in turn (the last one from then on). */
  async function receiver(statuses: number[]): Promise<{ url: string; received: string[] }> {
    const received: string[] = [];
    server = createServer((request, response) => {
      let text = '';
      request.on('data', (chunk: Buffer) => {
        text += chunk.toString();
      });
      request.on('end', () => {
        received.push(text);
        response.writeHead(statuses[Math.min(received.length, statuses.length) - 1]!).end();
      });
    });
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
    return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`, received };
  }
  const body = alertBody({
    kind: 'late',
    jobId: 'j',
    ranges: [{ ...interval('2026-05-01T00:00:00Z', '2026-05-01T01:00:00Z'), intervals: 1 }],
    deadlineMs: 1_000,
    raisedAt: at('2026-05-01T01:00:01Z'),
  });

  it('retries a 5xx with backoff until the webhook takes the alert', async () => {
    const hook = await receiver([503, 500, 200]);
    const sender = new WebhookSender({ url: hook.url, baseDelayMs: 1 });

    const delivery = await sender.send(body);

    expect(delivery).toEqual({ delivered: true, attempts: 3 });
    expect(hook.received.map((text) => JSON.parse(text))).toEqual([body, body, body]);
  });

  it('gives up after its attempts, and at once on a 4xx that will not change', async () => {
    const failing = await receiver([500]);
    expect(await new WebhookSender({ url: failing.url, attempts: 3, baseDelayMs: 1 }).send(body)).toEqual({
      delivered: false,
      attempts: 3,
      error: 'HTTP 500',
    });
    await new Promise((resolve) => server!.close(resolve));
    const refusing = await receiver([404]);
    expect(await new WebhookSender({ url: refusing.url, baseDelayMs: 1 }).send(body)).toEqual({
      delivered: false,
      attempts: 1,
      error: 'HTTP 404',
    });
  });

  it('doubles the wait between tries, up to its cap', () => {
    expect([1, 2, 3, 4, 5, 6].map((attempt) => webhookDelayMs(attempt, 1_000, 10_000))).toEqual([
      1_000, 2_000, 4_000, 8_000, 10_000, 10_000,
    ]);
  });
});
