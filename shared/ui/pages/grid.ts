import { html, raw } from 'hono/html';
import type { JobDefinition } from '../../job.ts';
import type { AlertRecord } from '../../store/alerts.ts';
import type { LateIntervals } from '../deadlines.ts';
import { type CellKind, cellIntervals, type GridCell, type GridModel, KIND_URGENCY } from '../grid.ts';
import { lastTickAtOrBefore } from '../model.ts';
import {
  formatDuration,
  formatInZone,
  formatUtc,
  PRESET_RANGES,
  panRange,
  rangeEndingAt,
  type TimeRange,
  zoomRange,
} from '../time.ts';
import { deadlineSection } from './deadline.ts';
import {
  gridPath,
  type Html,
  intervalPath,
  isUtc,
  KIND_LABELS,
  pausedBanner,
  statusChip,
  timePair,
} from './html.ts';
import { layout } from './layout.ts';
import { type MarkPanel, markSection } from './mark.ts';

/** Width of the grid's drawing, in SVG units (it stretches to the page's width). */
const WIDTH = 1_000;
const HEIGHT = 40;
/** The narrowest a cell is drawn, in SVG units. */
const MIN_CELL_WIDTH = 0.4;
/**
 * The narrowest a cell that needs attention (failed, running, waiting to run, missing) shows, in SVG
 * units (0.3 % of the width: 4 px on a page 1,400 px wide): a lone failure among a year of successes
 * is drawn again this wide, on top of its neighbours, never hidden behind them.
 */
const MIN_MARK_WIDTH = 3;
/** The kinds drawn again on top when narrow, least urgent first (the most urgent ends on top). */
const MARKED_KINDS = KIND_URGENCY.slice(0, KIND_URGENCY.indexOf('missing') + 1).reverse();
/** Rows of the span table at most. */
export const MAX_TABLE_ROWS = 500;
/** The table starts open up to this many rows (it is one keypress away beyond). */
const OPEN_TABLE_ROWS = 40;
/** Instants labelled on the time axis. */
const AXIS_LABELS = 6;

/** What the grid page shows besides the model. */
export interface GridPageOptions {
  readonly job: JobDefinition;
  readonly grid: GridModel;
  readonly now: Date;
  /** The start of the job's first interval, for the "all" range. */
  readonly firstStart: Date | undefined;
  readonly notice?: string;
  /** The mark section: its form, and a dry run's outcome or a refusal. */
  readonly mark: MarkPanel;
  /** The job's intervals late now; undefined when it has no deadline. @default none */
  readonly late?: LateIntervals;
  /** The latest alerts raised for the job; undefined when this UI cannot read them. @default none */
  readonly alerts?: readonly AlertRecord[];
  /** The job is paused. @default false */
  readonly paused?: boolean;
}

/**
 * A job's interval grid: a cell per interval, or per span of adjacent intervals of one status, over
 * the range in the URL; links zoom and pan; the job's local time and UTC side by side; the same
 * spans as a table for keyboards and screen readers.
 */
export function gridPage(options: GridPageOptions): Html {
  const { job, grid, now } = options;
  const range = grid.range;
  const tz = job.schedule.timezone;
  return layout({
    title: `${job.id}: intervals`,
    crumbs: [
      ['Jobs', '/'],
      [job.id, undefined],
    ],
    notice: options.notice,
    body: html`<h1>${job.id} <span class="muted">intervals</span></h1>
<p class="muted"><code>${job.schedule.cron}</code> in ${tz}. ${job.description}</p>
${controls(job, range, now, options.firstStart)}
<section data-live-id="grid" aria-label="Interval grid">
${options.paused ? pausedBanner(job.id, 'Its due intervals wait; backfills of it wait too.') : ''}
<h2 class="range">${timePair(range.from, tz)} → ${timePair(range.to, tz)} <span class="muted">(${formatDuration(range.to.getTime() - range.from.getTime())})</span></h2>
<p class="chips">${KIND_URGENCY.filter((kind) => (grid.totals[kind] ?? 0) > 0).map((kind) => statusChip(kind, grid.totals[kind]))}
${grid.exact ? '' : html`<span class="muted">(counts of missing intervals are lower bounds: zoom in for exact ones)</span>`}</p>
${timeline(job, grid)}
${axis(range, tz)}
<p class="muted small">${modeNote(grid)}</p>
${spanTable(job, grid, options.mark, now)}
</section>
${deadlineSection(job, options.late, options.alerts)}
${markSection(job, options.mark)}`,
  });
}

function modeNote(grid: GridModel): Html {
  switch (grid.mode) {
    case 'intervals':
      return html`A cell per interval; select one to open it.`;
    case 'spans':
      return html`${grid.cells.length.toLocaleString('en-US')} cells: adjacent intervals of one status are merged. Select a cell of one interval to open it, a longer one to zoom in.`;
    case 'buckets':
      return html`Zoomed out: each cell is a time bucket of ${formatDuration(grid.bucketMs ?? 0)} (or several of one status), coloured by its most urgent status; select one to zoom in.`;
  }
}

/** Presets, pan, zoom and an exact-range form; plain links, so they work without JavaScript. */
function controls(job: JobDefinition, range: TimeRange, now: Date, firstStart: Date | undefined): Html {
  const link = (label: string, target: TimeRange, rel?: string) =>
    html`<a href="${gridPath(job.id, target)}"${rel ? raw(` rel="${rel}"`) : ''}>${label}</a>`;
  const length = range.to.getTime() - range.from.getTime();
  return html`<nav class="controls" aria-label="Range">
<ul>
  <li>${link('← earlier', panRange(range, -0.5), 'prev')}</li>
  <li>${link('zoom in', zoomRange(range, 0.5))}</li>
  <li>${link('zoom out', zoomRange(range, 2))}</li>
  <li>${link('later →', panRange(range, 0.5), 'next')}</li>
  <li>${link('up to now', rangeEndingAt(now, length))}</li>
</ul>
<ul>
  ${PRESET_RANGES.map((preset) => html`<li>${link(`last ${preset.label}`, rangeEndingAt(now, preset.ms))}</li>`)}
  ${firstStart && firstStart.getTime() < now.getTime() ? html`<li>${link('all', { from: firstStart, to: now })}</li>` : ''}
</ul>
<form method="get" action="${gridPath(job.id)}" class="range-form">
  <label>from <input name="from" value="${range.from.toISOString()}" size="24"></label>
  <label>to <input name="to" value="${range.to.toISOString()}" size="24"></label>
  <button type="submit">Show</button>
</form>
</nav>`;
}

/** The cells as one stretched SVG: each a link, with its description as a tooltip and for screen readers. */
function timeline(job: JobDefinition, grid: GridModel): Html {
  const from = grid.range.from.getTime();
  const length = grid.range.to.getTime() - from;
  const cells: string[] = [];
  /** Per kind that needs attention, its narrow cells drawn again on top, wider. */
  const marks = new Map<CellKind, string[]>();
  for (const cell of grid.cells) {
    const start = Math.max(cell.start.getTime(), from);
    const end = Math.min(cell.end.getTime(), from + length);
    if (end <= start) continue;
    const x = ((start - from) / length) * WIDTH;
    const width = Math.max(MIN_CELL_WIDTH, ((end - start) / length) * WIDTH);
    // Built as a string: a year of cells through the html tag would cost more than the query.
    cells.push(
      `<a href="${escapeAttribute(cellHref(job, cell))}" class="cell s-${cell.kind}${cell.mixed ? ' mixed' : ''}" data-start="${cell.start.toISOString()}" data-end="${cell.end.toISOString()}">` +
        `<rect x="${x.toFixed(3)}" y="0" width="${width.toFixed(3)}" height="${HEIGHT}"/>` +
        `<title>${escapeText(cellTitle(job, cell))}</title></a>`,
    );
    if (width < MIN_MARK_WIDTH && MARKED_KINDS.includes(cell.kind)) {
      const markX = Math.min(Math.max(x + width / 2 - MIN_MARK_WIDTH / 2, 0), WIDTH - MIN_MARK_WIDTH);
      const list = marks.get(cell.kind) ?? [];
      list.push(
        `<rect class="s-${cell.kind}" x="${markX.toFixed(3)}" y="0" width="${MIN_MARK_WIDTH}" height="${HEIGHT}"/>`,
      );
      marks.set(cell.kind, list);
    }
  }
  // Decoration only: the cell under it stays the link (and the table lists every span).
  const marked = MARKED_KINDS.flatMap((kind) => marks.get(kind) ?? []);
  const overlay = marked.length > 0 ? `<g class="marks" aria-hidden="true">${marked.join('')}</g>` : '';
  return html`<div class="timeline mode-${grid.mode}"><svg viewBox="0 0 ${WIDTH} ${HEIGHT}" preserveAspectRatio="none" role="group" aria-label="Intervals from ${grid.range.from.toISOString()} to ${grid.range.to.toISOString()}">${raw(cells.join(''))}${raw(overlay)}</svg></div>`;
}

/** Evenly spaced instants of the range, in the job's time above and UTC below. */
function axis(range: TimeRange, timezone: string): Html {
  const from = range.from.getTime();
  const step = (range.to.getTime() - from) / (AXIS_LABELS - 1);
  const instants = Array.from({ length: AXIS_LABELS }, (_, i) => new Date(Math.round(from + i * step)));
  return html`<ol class="axis" aria-hidden="true">${instants.map(
    (instant) =>
      html`<li><span class="local">${formatInZone(instant, timezone)}</span><span class="utc">${formatUtc(instant)}</span></li>`,
  )}</ol>`;
}

/** The cells as a table, the first {@link MAX_TABLE_ROWS}. */
function spanTable(job: JobDefinition, grid: GridModel, mark: MarkPanel, now: Date): Html {
  const tz = job.schedule.timezone;
  const rows = grid.cells.slice(0, MAX_TABLE_ROWS);
  return html`<details class="spans"${grid.cells.length <= OPEN_TABLE_ROWS ? raw(' open') : ''}>
<summary>${grid.cells.length.toLocaleString('en-US')} ${{ intervals: 'intervals', spans: 'spans', buckets: 'buckets' }[grid.mode]} as a table</summary>
<table>
<thead><tr><th scope="col">Status</th><th scope="col">Intervals</th>${isUtc(tz) ? '' : html`<th scope="col">From (${tz})</th><th scope="col">To (${tz})</th>`}<th scope="col">From (UTC)</th><th scope="col">To (UTC)</th><th scope="col"><span class="sr">Link</span></th></tr></thead>
<tbody>${rows.map(
    (cell) => html`<tr>
<td>${cell.mixed ? html`<span class="chips">${KIND_URGENCY.filter((kind) => (cell.counts[kind] ?? 0) > 0).map((kind) => statusChip(kind, cell.counts[kind]))}</span>` : statusChip(cell.kind)}</td>
<td class="num">${countText(cell)}</td>
${isUtc(tz) ? '' : html`<td>${formatInZone(cell.start, tz)}</td><td>${formatInZone(cell.end, tz)}</td>`}
<td>${formatUtc(cell.start)}</td><td>${formatUtc(cell.end)}</td>
<td><a href="${cellHref(job, cell)}">${isSingle(cell) ? 'open' : 'zoom in'}</a>${markLink(job, grid, cell, mark, now)}</td>
</tr>`,
  )}</tbody>
</table>
${grid.cells.length > MAX_TABLE_ROWS ? html`<p class="muted">The first ${MAX_TABLE_ROWS} of ${grid.cells.length.toLocaleString('en-US')}; zoom in for the rest.</p>` : ''}
</details>`;
}

/**
 * A link that fills the mark form with the cell's range (what is due of it): a plain link with the
 * range in the URL, which live.js turns into filling the form in place.
 */
function markLink(job: JobDefinition, grid: GridModel, cell: GridCell, mark: MarkPanel, now: Date): Html {
  if (!mark.offered || mark.token === undefined || cell.kind === 'future') return html``;
  const due = lastTickAtOrBefore(job, now);
  const end = due && cell.end.getTime() > due.getTime() ? due : cell.end;
  if (end.getTime() <= cell.start.getTime()) return html``;
  const from = cell.start.toISOString();
  const to = end.toISOString();
  const href = `${gridPath(job.id, grid.range)}&mark-from=${encodeURIComponent(from)}&mark-to=${encodeURIComponent(to)}#mark`;
  return html` <a href="${href}" class="mark-link" data-mark-from="${from}" data-mark-to="${to}">mark…</a>`;
}

function isSingle(cell: GridCell): boolean {
  return !cell.mixed && cell.exact && cellIntervals(cell) === 1;
}

/** One interval opens its page; more zoom in on them, with a little margin. */
function cellHref(job: JobDefinition, cell: GridCell): string {
  if (isSingle(cell)) return intervalPath(job.id, cell.start);
  const start = cell.start.getTime();
  const length = cell.end.getTime() - start;
  const margin = Math.round(length * 0.05);
  return gridPath(job.id, zoomIntoCell(start - margin, start + length + margin));
}

function zoomIntoCell(from: number, to: number): TimeRange {
  // Never below the shortest range the grid shows.
  return to - from < 60_000
    ? zoomRange({ from: new Date(from), to: new Date(to) }, 60_000 / (to - from))
    : { from: new Date(from), to: new Date(to) };
}

function cellTitle(job: JobDefinition, cell: GridCell): string {
  const tz = job.schedule.timezone;
  const kinds = (Object.entries(cell.counts) as [CellKind, number][])
    .map(([kind, count]) => `${count.toLocaleString('en-US')}${cell.exact ? '' : '+'} ${KIND_LABELS[kind]}`)
    .join(', ');
  return `${kinds}: ${formatInZone(cell.start, tz)} → ${formatInZone(cell.end, tz)} (${formatUtc(cell.start)} → ${formatUtc(cell.end)})`;
}

function countText(cell: GridCell): string {
  return `${cellIntervals(cell).toLocaleString('en-US')}${cell.exact ? '' : '+'}`;
}

function escapeText(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function escapeAttribute(text: string): string {
  return escapeText(text).replace(/"/g, '&quot;');
}
