/**
 * Pieces every page uses. Pages are rendered on the server with hono's `html` tag, which escapes
 * every interpolated value; `raw` is used only for markup built here.
 */
import { html } from 'hono/html';
import type { HtmlEscapedString } from 'hono/utils/html';
import type { Interval } from '../../interval.ts';
import type { JobDefinition } from '../../job.ts';
import type { CellKind } from '../grid.ts';
import { formatInZone, formatUtc, type TimeRange } from '../time.ts';

/** What `html` gives back: a string already escaped, or a promise of one. */
export type Html = HtmlEscapedString | Promise<HtmlEscapedString>;

/** The words shown for each kind of cell. */
export const KIND_LABELS: Readonly<Record<CellKind, string>> = {
  waiting: 'waiting for upstream',
  pending: 'pending',
  queued: 'queued',
  running: 'running',
  succeeded: 'succeeded',
  failed: 'failed',
  cancelled: 'cancelled',
  skipped: 'skipped',
  missing: 'missing',
  future: 'not due yet',
};

/** A status as a coloured chip with its name (colour is never the only cue). */
export function statusChip(kind: CellKind, count?: number): Html {
  return html`<span class="chip s-${kind}">${KIND_LABELS[kind] ?? kind}${count === undefined ? '' : html` <b>${count.toLocaleString('en-US')}</b>`}</span>`;
}

/** An instant in the job's timezone with UTC beside it. */
export function timePair(instant: Date | undefined | null, timezone: string): Html {
  if (!instant) return html`<span class="muted">—</span>`;
  return html`<time datetime="${instant.toISOString()}"><span class="local">${formatInZone(instant, timezone)}</span> <span class="utc">${formatUtc(instant)}</span></time>`;
}

/** The path of a job's grid, optionally over a range. */
export function gridPath(jobId: string, range?: TimeRange): string {
  const base = `/jobs/${encodeURIComponent(jobId)}`;
  if (!range) return base;
  return `${base}?from=${encodeURIComponent(range.from.toISOString())}&to=${encodeURIComponent(range.to.toISOString())}`;
}

/** The path of one interval's page. */
export function intervalPath(jobId: string, start: Date): string {
  return `/jobs/${encodeURIComponent(jobId)}/intervals/${encodeURIComponent(start.toISOString())}`;
}

/** An interval as `local → local` in the job's timezone, for headings and link text. */
export function intervalLabel(job: JobDefinition, interval: Interval): string {
  return `${formatInZone(interval.start, job.schedule.timezone)} → ${formatInZone(interval.end, job.schedule.timezone)}`;
}

/** A hidden form field with the action token, or nothing when this browser has not shown it. */
export function tokenField(token: string | undefined): Html {
  return token === undefined ? html`` : html`<input type="hidden" name="token" value="${token}">`;
}

/** A paused job's banner: nothing of it starts until it is resumed, and how. */
export function pausedBanner(jobId: string, more: string): Html {
  return html`<p class="paused-banner" role="status"><b>Paused:</b> nothing of this job starts until it is resumed (<code>piko resume ${jobId}</code>). ${more}</p>`;
}

/** Whether a job's timezone is UTC: its time and UTC are the same, and a table shows them once. */
export function isUtc(timezone: string): boolean {
  return timezone === 'UTC' || timezone === 'Etc/UTC';
}
