/**
 * The grid page's deadline section (DESIGN.md §9): the job's intervals late now and the alerts
 * raised for it, live with the grid.
 */
import { html } from 'hono/html';
import type { JobDefinition } from '../../job.ts';
import type { AlertRange, AlertRecord } from '../../store/alerts.ts';
import type { LateIntervals } from '../deadlines.ts';
import { formatDuration, formatInZone, formatUtc } from '../time.ts';
import { gridPath, type Html, intervalPath, timePair } from './html.ts';

/** Late ranges listed at most (the count covers all). */
export const MAX_LATE_RANGES = 20;

/**
 * The deadline section, or nothing for a job with no deadline and no alert. `alerts` undefined:
 * this UI cannot read them (a deployed stack, whose alarm and log lines have them).
 */
export function deadlineSection(
  job: JobDefinition,
  late: LateIntervals | undefined,
  alerts: readonly AlertRecord[] | undefined,
): Html {
  if (!late && (alerts === undefined || alerts.length === 0)) return html``;
  return html`<section id="late" class="deadline" aria-labelledby="late-title" data-live-id="deadline">
<h2 id="late-title">Deadline and alerts</h2>
${late ? lateBlock(job, late) : html`<p class="muted">${job.id} has no deadline: only intervals the catch-up rules skipped raise alerts.</p>`}
${alertsBlock(job, alerts)}
</section>`;
}

/** How many intervals, as the overview and the grid say it. */
export function lateCountText(late: LateIntervals): string {
  const count = `${late.count.toLocaleString('en-US')}${late.exact ? '' : '+'}`;
  return `${count} interval${late.count === 1 && late.exact ? '' : 's'} late`;
}

function lateBlock(job: JobDefinition, late: LateIntervals): Html {
  const rule = `deadline ${formatDuration(late.deadlineMs)} after each interval’s end`;
  if (late.count === 0) {
    return html`<p class="late-summary"><span class="chip on-time">no interval late</span> <span class="muted">(${rule})</span></p>`;
  }
  const shown = late.ranges.slice(0, MAX_LATE_RANGES);
  return html`<p class="late-summary"><span class="chip late">${lateCountText(late)}</span> <span class="muted">now: their ${rule} has passed and they have not succeeded</span></p>
<ul class="late-ranges">${shown.map((range) => html`<li>${rangeLink(job, range)}</li>`)}</ul>
${late.ranges.length > shown.length ? html`<p class="muted">The first ${shown.length} of ${late.ranges.length.toLocaleString('en-US')} ranges.</p>` : ''}`;
}

function alertsBlock(job: JobDefinition, alerts: readonly AlertRecord[] | undefined): Html {
  if (alerts === undefined) {
    return html`<p class="muted">Alerts of a deployed stack are in its CloudWatch alarms and the dispatcher’s log lines.</p>`;
  }
  if (alerts.length === 0) return html`<h3>Recent alerts</h3><p class="muted">None raised.</p>`;
  const tz = job.schedule.timezone;
  return html`<h3>Recent alerts</h3>
<table class="alerts">
<thead><tr><th scope="col">Kind</th><th scope="col">Intervals</th><th scope="col">Range</th><th scope="col">Raised</th><th scope="col">Webhook</th></tr></thead>
<tbody>${alerts.map(
    (alert) => html`<tr class="alert-${alert.kind}">
<td>${alert.kind}</td><td class="num">${alert.intervals.toLocaleString('en-US')}</td><td>${rangeLink(job, alert)}</td>
<td>${timePair(alert.raisedAt, tz)}</td>
<td>${alert.deliveredAt ? html`delivered ${timePair(alert.deliveredAt, tz)}` : alert.error ? html`<span class="error">${alert.error}</span>` : html`<span class="muted">—</span>`}</td>
</tr>`,
  )}</tbody>
</table>`;
}

/** A range of intervals as a link: one interval opens its page, more zoom the grid onto them. */
function rangeLink(job: JobDefinition, range: AlertRange): Html {
  const tz = job.schedule.timezone;
  const label = `${formatInZone(range.start, tz)} → ${formatInZone(range.end, tz)}`;
  const utc = `${formatUtc(range.start)} → ${formatUtc(range.end)}`;
  const href =
    range.intervals === 1
      ? intervalPath(job.id, range.start)
      : gridPath(job.id, { from: range.start, to: range.end });
  return html`<a href="${href}">${label}</a> <span class="utc">${utc}</span>${range.intervals > 1 ? html` <span class="muted">(${range.intervals.toLocaleString('en-US')})</span>` : ''}`;
}
