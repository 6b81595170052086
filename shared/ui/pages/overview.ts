import { html } from 'hono/html';
import { RUN_STATUSES } from '../../store/types.ts';
import type { JobOverview } from '../model.ts';
import { formatDuration } from '../time.ts';
import { lateCountText } from './deadline.ts';
import {
  gridPath,
  type Html,
  intervalLabel,
  intervalPath,
  KIND_LABELS,
  statusChip,
  timePair,
} from './html.ts';
import { layout } from './layout.ts';

/** Lateness shown as "late" from this much on: an interval that ended seconds ago is being run, not late. */
export const LATE_AFTER_MS = 60_000;

/** The jobs overview: each job's schedule in its own timezone, next tick, state, runs and lateness. */
export function overviewPage(jobs: readonly JobOverview[]): Html {
  return layout({
    title: 'Jobs',
    body: html`<h1>Jobs</h1>
<p class="muted">Times in each job’s own timezone, UTC beside them.</p>
<section data-live-id="overview" aria-label="Jobs">
${jobs.map(jobCard)}
</section>`,
  });
}

function jobCard(overview: JobOverview): Html {
  const { job, status, state, nextTick, lateness, recent, late } = overview;
  const tz = job.schedule.timezone;
  return html`<article class="job" id="job-${job.id}" aria-labelledby="title-${job.id}">
<header class="job-head">
  <h2 id="title-${job.id}"><a href="${gridPath(job.id)}">${job.id}</a></h2>
  ${status.paused ? html`<span class="chip paused">paused</span>` : ''}
  ${
    lateness && lateness.ms >= LATE_AFTER_MS
      ? html`<span class="chip late" title="since ${lateness.since.toISOString()}">late ${formatDuration(lateness.ms)}${lateness.reason === 'unplanned' ? ' (not planned)' : ''}</span>`
      : // Nothing left to run, but the latest interval failed: its data is not there either.
        recent.at(-1)?.kind === 'failed'
        ? html`<span class="chip s-failed latest-failed">latest failed</span>`
        : html`<span class="chip on-time">on time</span>`
  }
  ${late && late.count > 0 ? html`<a class="chip late late-intervals" href="${gridPath(job.id)}#late">${lateCountText(late)}</a>` : ''}
</header>
${job.description ? html`<p class="description">${job.description}</p>` : ''}
<dl class="facts">
  <div><dt>Schedule</dt><dd><code>${job.schedule.cron}</code> in ${tz}</dd></div>
  <div><dt>Next tick</dt><dd>${timePair(nextTick, tz)}</dd></div>
  ${
    late
      ? html`<div><dt>Deadline</dt><dd>${formatDuration(late.deadlineMs)} after each interval’s end: ${
          late.count > 0
            ? html`<a href="${gridPath(job.id)}#late">${lateCountText(late)}</a> now`
            : 'no interval late now'
        }</dd></div>`
      : ''
  }
  <div><dt>Watermark</dt><dd>${state ? timePair(state.watermark, tz) : html`<span class="muted">not planned yet</span>`}</dd></div>
  <div><dt>Runs</dt><dd class="chips">${RUN_STATUSES.map((name) => statusChip(name, status.counts[name]))}<span class="chip s-future" title="intervals the catch-up rules passed over, never run">passed over <b>${status.skippedTotal.toLocaleString('en-US')}</b></span></dd></div>
  ${
    status.version === null
      ? ''
      : html`<div><dt>Version</dt><dd><code>${status.version}</code>${status.outdated > 0 ? html`; ${status.outdated.toLocaleString('en-US')} succeeded intervals ran another version (<code>piko backfill --reprocess outdated</code>)` : ''}</dd></div>`
  }
</dl>
<div class="recent">
  <h3>Latest intervals</h3>
  ${
    recent.length === 0
      ? html`<p class="muted">None due yet.</p>`
      : html`<ol class="strip">${recent.map(
          ({ interval, kind }) =>
            html`<li><a class="cell s-${kind}" href="${intervalPath(job.id, interval.start)}" title="${intervalLabel(job, interval)}: ${KIND_LABELS[kind]}"><span class="sr">${intervalLabel(job, interval)}: </span>${KIND_LABELS[kind]}</a></li>`,
        )}</ol>`
  }
  <p><a href="${gridPath(job.id)}">Interval grid of ${job.id}</a></p>
</div>
</article>`;
}
