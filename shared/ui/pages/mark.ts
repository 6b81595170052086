/**
 * The grid page's mark of a range: a form (from, to, as, reason) whose first step is a dry run that
 * says what would happen to each interval, and a confirm form carrying the same fields. Plain forms:
 * without JavaScript each step is a page; with it (assets/live.js, `data-inline`) the steps swap this
 * section in place and the grid follows.
 */
import { html } from 'hono/html';
import type { JobDefinition } from '../../job.ts';
import type { MarkEffect, MarkPreview, MarkSpan } from '../../planner/index.ts';
import { formatInZone, formatUtc, type TimeRange } from '../time.ts';
import { gridPath, type Html, intervalPath, isUtc, statusChip, tokenField } from './html.ts';

/** Spans of a dry run listed at most (the counts cover all of them). */
export const MAX_PREVIEW_ROWS = 200;

/** The form's fields as shown (what the operator typed, or the prefill). */
export interface MarkFormValues {
  readonly from: string;
  readonly to: string;
  readonly as: string;
  readonly reason: string;
}

/** What the mark section shows. */
export interface MarkPanel {
  /** The grid's range, where the page returns after the mark. */
  readonly view: TimeRange;
  /** The action token, when this browser holds it; without it the form is not offered. */
  readonly token: string | undefined;
  /** False where marks are not made from the UI (a deployed stack: `piko mark --aws`). */
  readonly offered: boolean;
  readonly values: MarkFormValues;
  /** The dry run of the values, after its step. @default none */
  readonly preview?: MarkPreview;
  /** Why the last step was refused. @default none */
  readonly problem?: string;
}

/** The words of each effect in the dry run's table. */
const EFFECT_LABELS: Readonly<Record<MarkEffect, string>> = {
  create: 'marked (a run is created)',
  update: 'marked (its run changes)',
  unchanged: 'unchanged',
  refused: 'refused: queued or running (cancel it first)',
};

/** The path the mark's forms post to. */
export function markPath(jobId: string): string {
  return `/jobs/${encodeURIComponent(jobId)}/mark`;
}

/** The mark section of a job's grid page. */
export function markSection(job: JobDefinition, panel: MarkPanel): Html {
  const head = html`<h2 id="mark-title">Mark a range</h2>`;
  if (!panel.offered) {
    return html`<section id="mark" class="mark-range" aria-labelledby="mark-title" data-inline-id="mark">${head}
<p class="muted">Mark a deployed stack’s intervals from the CLI: <code>piko mark ${job.id} --aws --from … --to … --as skipped --reason … --dry-run</code>.</p></section>`;
  }
  if (panel.token === undefined) {
    return html`<section id="mark" class="mark-range" aria-labelledby="mark-title" data-inline-id="mark">${head}
<p class="muted">Marking needs the token piko printed at start: open the address it printed (with <code>?token=…</code>) in this browser.</p></section>`;
  }
  const { values } = panel;
  return html`<section id="mark" class="mark-range" aria-labelledby="mark-title" data-inline-id="mark">${head}
<p class="muted small">Mark the intervals that start at or after <i>from</i> and end at or before <i>to</i> succeeded or skipped without running them. Queued and running ones are refused (cancel them first); succeeded ones stay. A dry run shows what would change before anything does. Shift-select two cells of the grid, or a row’s “mark…” link, to fill in a range.</p>
${panel.problem ? html`<p class="problem" role="alert" data-focus>${panel.problem}</p>` : ''}
<form method="post" action="${markPath(job.id)}" class="action mark-form" data-inline>
${tokenField(panel.token)}
${viewFields(panel.view)}
<div class="fields">
<label for="mark-from">From (ISO 8601)</label><input id="mark-from" name="from" value="${values.from}" size="26" autocomplete="off" required>
<label for="mark-to">To (ISO 8601)</label><input id="mark-to" name="to" value="${values.to}" size="26" autocomplete="off" required>
<label for="mark-range-as">Mark as</label><select id="mark-range-as" name="as">${(
    ['skipped', 'succeeded'] as const
  ).map(
    (as) => html`<option value="${as}"${values.as === as ? html` selected` : ''}>${as}</option>`,
  )}</select>
<label for="mark-range-reason">Reason (recorded, required)</label><input id="mark-range-reason" name="reason" value="${values.reason}" maxlength="1000" autocomplete="off" required>
</div>
<button type="submit" name="step" value="preview">Preview (dry run)</button>
</form>
${panel.preview ? previewBlock(job, panel) : ''}
</section>`;
}

/** The dry run's outcome: counts, the spans with what happens to each, and the confirm form. */
function previewBlock(job: JobDefinition, panel: MarkPanel): Html {
  const preview = panel.preview!;
  const tz = job.schedule.timezone;
  const marked = preview.created + preview.updated;
  const refused = preview.leftAlone.length;
  const rows = preview.spans.slice(0, MAX_PREVIEW_ROWS);
  const range = `${formatUtc(preview.spans[0]!.start)} → ${formatUtc(preview.spans.at(-1)!.end)}`;
  return html`<div class="mark-preview" id="mark-preview" tabindex="-1" data-focus>
<h3>Dry run: ${marked} of ${preview.intervals.toLocaleString('en-US')} interval${preview.intervals === 1 ? '' : 's'} would be marked ${preview.as}</h3>
<ul class="mark-counts">
<li><b data-count="created">${preview.created.toLocaleString('en-US')}</b> without a run get one, ${preview.as}</li>
<li><b data-count="updated">${preview.updated.toLocaleString('en-US')}</b> run${preview.updated === 1 ? '' : 's'} change to ${preview.as}</li>
<li><b data-count="unchanged">${preview.unchanged.toLocaleString('en-US')}</b> already ${preview.as === 'skipped' ? 'skipped or succeeded' : 'succeeded'} stay as they are</li>
<li><b data-count="refused">${refused.toLocaleString('en-US')}</b> queued or running ${refused === 1 ? 'is' : 'are'} refused (cancel ${refused === 1 ? 'it' : 'them'} first)</li>
</ul>
<table class="mark-spans">
<caption class="sr">What the mark does to the intervals of ${range}</caption>
<thead><tr><th scope="col">Effect</th><th scope="col">Status now</th><th scope="col">Intervals</th>${isUtc(tz) ? '' : html`<th scope="col">From (${tz})</th><th scope="col">To (${tz})</th>`}<th scope="col">From (UTC)</th><th scope="col">To (UTC)</th></tr></thead>
<tbody>${rows.map((span) => spanRow(job, span))}</tbody>
</table>
${preview.spans.length > MAX_PREVIEW_ROWS ? html`<p class="muted">The first ${MAX_PREVIEW_ROWS} of ${preview.spans.length.toLocaleString('en-US')} spans; the counts above are of all of them.</p>` : ''}
${
  marked === 0
    ? html`<p class="muted">Nothing to mark in this range.</p>`
    : html`<form method="post" action="${markPath(job.id)}" class="mark-confirm" data-inline>
${tokenField(panel.token)}
${viewFields(panel.view)}
<input type="hidden" name="from" value="${panel.values.from}">
<input type="hidden" name="to" value="${panel.values.to}">
<input type="hidden" name="as" value="${preview.as}">
<input type="hidden" name="reason" value="${panel.values.reason}">
<button type="submit" name="step" value="confirm">Mark ${marked} interval${marked === 1 ? '' : 's'} ${preview.as}</button>
<a href="${gridPath(job.id, panel.view)}">Cancel</a>
</form>`
}
</div>`;
}

function spanRow(job: JobDefinition, span: MarkSpan): Html {
  const tz = job.schedule.timezone;
  const kind = span.status;
  const utc = isUtc(tz);
  const start = utc ? formatUtc(span.start) : formatInZone(span.start, tz);
  const link =
    span.intervals === 1 ? html`<a href="${intervalPath(job.id, span.start)}">${start}</a>` : start;
  // A job in UTC: its time is the UTC time, shown once.
  return html`<tr class="effect-${span.effect}">
<td>${EFFECT_LABELS[span.effect]}</td><td>${statusChip(kind)}</td><td class="num">${span.intervals.toLocaleString('en-US')}</td>
<td>${link}</td><td>${utc ? formatUtc(span.end) : formatInZone(span.end, tz)}</td>${utc ? '' : html`<td>${formatUtc(span.start)}</td><td>${formatUtc(span.end)}</td>`}
</tr>`;
}

/** The grid's range, carried by the mark's forms so the page returns to it. */
function viewFields(view: TimeRange): Html {
  return html`<input type="hidden" name="view-from" value="${view.from.toISOString()}">
<input type="hidden" name="view-to" value="${view.to.toISOString()}">`;
}
