import { html } from 'hono/html';
import type { JobDefinition } from '../../job.ts';
import { type BackfillCommand, REPROCESS } from '../../planner/index.ts';
import { shortInstant } from '../../schedule/index.ts';
import type { BackfillForm, BackfillPreviewView, BackfillRow } from '../backfills.ts';
import { formatDuration } from '../time.ts';
import { type Html, tokenField } from './html.ts';
import { layout } from './layout.ts';

/** What the Backfills page shows. */
export interface BackfillsPageOptions {
  readonly rows: readonly BackfillRow[];
  readonly jobs: readonly JobDefinition[];
  /** The action token, when this browser holds it; without it no form is offered. */
  readonly token: string | undefined;
  /** Whether a runtime serves this UI and runs backfills (`piko start`); else they wait for one. */
  readonly runsBackfills: boolean;
  /** Whether this UI can start and steer backfills (a local store). */
  readonly canAct: boolean;
  /** The form as last submitted (after a refused preview or start). @default empty */
  readonly form?: BackfillForm;
  readonly notice?: string;
  readonly problem?: string;
}

/** Which commands each status offers (as `changeBackfill` allows them). */
const OFFERED: Readonly<Record<BackfillCommand, readonly string[]>> = {
  pause: ['planning', 'planned', 'failed'],
  resume: ['paused', 'cancelled'],
  cancel: ['planning', 'planned', 'failed', 'paused'],
};

/**
 * Every backfill, newest first (job, range, mode, status, progress, concurrency, created, the last
 * action and who did it, who runs it), with pause / resume / cancel, and the form that starts one
 * after its dry run. The list follows the state live; without JavaScript it reads the same.
 */
export function backfillsPage(options: BackfillsPageOptions): Html {
  return layout({
    title: 'Backfills',
    crumbs: [
      ['Jobs', '/'],
      ['Backfills', undefined],
    ],
    notice: options.notice,
    problem: options.problem,
    body: html`<h1>Backfills</h1>
${
  options.runsBackfills
    ? html`<p class="muted">This runtime runs the backfills recorded here (so does any <code>piko start</code> on the same store, one at a time).</p>`
    : html`<p class="muted">Nothing runs jobs in this process (<code>piko ui</code>): a backfill recorded here waits for a runtime, a <code>piko start</code> on the same store.</p>`
}
<section data-live-id="backfills" aria-label="Backfills">
${backfillTable(options)}
</section>
${startForm(options)}`,
  });
}

function backfillTable(options: BackfillsPageOptions): Html {
  if (options.rows.length === 0) return html`<p class="muted" id="no-backfills">No backfills yet.</p>`;
  return html`<table class="backfills">
<caption class="sr">Backfills, newest first</caption>
<thead><tr><th scope="col">Backfill</th><th scope="col">Job</th><th scope="col">Range (UTC)</th><th scope="col">Mode</th><th scope="col">Status</th><th scope="col">Progress</th><th scope="col">Concurrency</th><th scope="col">Created</th><th scope="col">Last action</th><th scope="col">Actions</th></tr></thead>
<tbody>${options.rows.map((row) => backfillRow(row, options))}</tbody>
</table>`;
}

function backfillRow(row: BackfillRow, options: BackfillsPageOptions): Html {
  const { backfill, concurrency, lastAction } = row.summary;
  const id = backfill.backfillId;
  const driver =
    row.driver.kind === 'runtime'
      ? html`<span class="small muted">run by ${row.driver.holder}</span>`
      : row.driver.kind === 'waiting'
        ? html`<span class="small waits">waits for a runtime: start <code>piko start</code> on this store</span>`
        : row.driver.kind === 'job-paused'
          ? html`<span class="small waits">waits: its job is paused (<code>piko resume ${backfill.jobId}</code>)</span>`
          : '';
  return html`<tr id="backfill-${id}" data-backfill="${id}" data-status="${backfill.status}">
<th scope="row"><code>${id}</code></th>
<td>${backfill.jobId}</td>
<td>${backfill.range.start.toISOString()} → ${backfill.range.end.toISOString()}</td>
<td>${backfill.reprocess}${backfill.reverse ? ', reverse' : ''}${backfill.config === null ? '' : ', config override'}</td>
<td><span class="chip b-${backfill.status}">${backfill.status}</span> ${driver}${backfill.error ? html`<br><span class="small problem-text">${backfill.error}</span>` : ''}</td>
<td class="num"><progress max="${Math.max(row.total, 1)}" value="${row.done}" aria-label="${id}: ${row.done} of ${row.total} runs ended"></progress>
<span class="progress-text">${row.done}/${row.total}${row.failed > 0 ? html`, <b>${row.failed} failed</b>` : ''}</span></td>
<td class="num">${concurrency ?? 'the job’s'}</td>
<td><time datetime="${backfill.createdAt.toISOString()}">${backfill.createdAt.toISOString()}</time></td>
<td>${lastAction ? html`${lastAction.kind} by ${lastAction.actor}${lastAction.reason ? html` <span class="muted">(${lastAction.reason})</span>` : ''}` : html`<span class="muted">—</span>`}</td>
<td>${rowActions(row, options)}</td>
</tr>`;
}

function rowActions(row: BackfillRow, options: BackfillsPageOptions): Html {
  if (!options.canAct || options.token === undefined) return html`<span class="muted">—</span>`;
  const { backfill } = row.summary;
  const commands = (['pause', 'resume', 'cancel'] as const).filter((command) =>
    OFFERED[command].includes(backfill.status),
  );
  if (commands.length === 0) return html`<span class="muted">—</span>`;
  const id = backfill.backfillId;
  // One form per backfill: its reason is recorded with whichever command is pressed.
  return html`<form method="post" action="/backfills/${encodeURIComponent(id)}" class="inline-action">
${tokenField(options.token)}
<label class="sr" for="reason-${id}">Reason for backfill ${id} (recorded)</label>
<input id="reason-${id}" name="reason" maxlength="1000" placeholder="reason (recorded)" autocomplete="off">
${commands.map(
  (command) =>
    html`<button type="submit" name="command" value="${command}" data-command="${command}" aria-label="${LABELS[command]} backfill ${id}">${LABELS[command]}</button>`,
)}
</form>`;
}

const LABELS: Readonly<Record<BackfillCommand, string>> = {
  pause: 'Pause',
  resume: 'Resume',
  cancel: 'Cancel',
};

function startForm(options: BackfillsPageOptions): Html {
  if (!options.canAct) {
    return html`<section class="actions" aria-label="Start a backfill"><h2>Start a backfill</h2>
<p class="muted">Start backfills of a deployed stack from the CLI: <code>piko backfill … --aws</code>.</p></section>`;
  }
  if (options.token === undefined) {
    return html`<section class="actions" aria-label="Start a backfill"><h2>Start a backfill</h2>
<p class="muted">Starting, pausing, resuming and cancelling need the token piko printed at start: open the address it printed (with <code>?token=…</code>) in this browser.</p></section>`;
  }
  const form = options.form;
  return html`<section class="actions" aria-label="Start a backfill"><h2>Start a backfill</h2>
<form method="post" action="/backfills/preview" class="action" id="backfill-form">
${tokenField(options.token)}
<label for="bf-job">Job</label>
<select id="bf-job" name="job">${options.jobs.map(
    (job) => html`<option value="${job.id}"${form?.job === job.id ? html` selected` : ''}>${job.id}</option>`,
  )}</select>
<label for="bf-from">From (ISO 8601, inclusive)</label>
<input id="bf-from" name="from" required placeholder="2026-03-01T00:00:00Z" value="${form?.from ?? ''}" autocomplete="off">
<label for="bf-to">To (ISO 8601, exclusive, not in the future)</label>
<input id="bf-to" name="to" required placeholder="2026-03-02T00:00:00Z" value="${form?.to ?? ''}" autocomplete="off">
<label for="bf-reprocess">Reprocess</label>
<select id="bf-reprocess" name="reprocess">${REPROCESS.map(
    (mode) =>
      html`<option value="${mode}"${(form?.reprocess ?? 'missing') === mode ? html` selected` : ''}>${mode}</option>`,
  )}</select>
<p class="muted small">missing: create absent runs; failed: also re-run failed ones; outdated: also succeeded ones of another code version; all: also every succeeded one. Queued or running intervals are never touched.</p>
<label><input type="checkbox" name="reverse"${form?.reverse === 'on' ? html` checked` : ''}> Newest intervals first</label>
<label for="bf-concurrency">Concurrency (empty: the job’s)</label>
<input id="bf-concurrency" name="concurrency" inputmode="numeric" value="${form?.concurrency ?? ''}" autocomplete="off">
<label for="bf-config">Config override (JSON, empty for none; checked against the job’s schema)</label>
<textarea id="bf-config" name="config" rows="3" spellcheck="false" placeholder='{"key": "value"}'>${form?.config ?? ''}</textarea>
<label for="bf-reason">Reason (recorded)</label>
<input id="bf-reason" name="reason" maxlength="1000" value="${form?.reason ?? ''}" autocomplete="off">
<button type="submit">Preview (dry run)</button>
<p class="muted small">The preview writes nothing; the backfill is recorded only when you confirm it there.</p>
</form></section>`;
}

/** The dry run of a backfill with the button that records it (its fields carried along). */
export function backfillPreviewPage(options: {
  readonly preview: BackfillPreviewView;
  readonly form: BackfillForm;
  readonly token: string;
  readonly runsBackfills: boolean;
}): Html {
  const { preview, form } = options;
  const { counts, request, job } = preview;
  const planned = (Object.keys(counts) as (keyof typeof counts)[]).filter((action) => counts[action] > 0);
  const runs = counts.create + counts.rerun;
  return layout({
    title: `Backfill ${job.id}: preview`,
    crumbs: [
      ['Jobs', '/'],
      ['Backfills', '/backfills'],
      ['Preview', undefined],
    ],
    body: html`<h1>Backfill ${job.id} <span class="muted">dry run</span></h1>
<p class="utc-line">UTC ${request.from.toISOString()} → ${request.to.toISOString()}, reprocess ${request.reprocess ?? 'missing'}${request.reverse ? ', newest first' : ''}, concurrency ${request.concurrency ?? `${job.concurrency} (the job’s)`}${request.config === null || request.config === undefined ? '' : ', with a config override'}; backfill <code>${preview.backfillId}</code></p>
<section aria-label="Plan" id="plan">
<h2>Plan</h2>
<p id="plan-summary">plan: ${planned.length === 0 ? 'nothing' : planned.map((action) => `${action} ${counts[action]}`).join(', ')}</p>
<p>${runs} interval${runs === 1 ? '' : 's'} would run.</p>
${
  preview.sample.length === 0
    ? ''
    : html`<table class="plan"><caption>The first intervals, in the order they would run</caption>
<thead><tr><th scope="col">Interval (UTC)</th><th scope="col">Action</th></tr></thead>
<tbody>${preview.sample.map(
        (line) =>
          html`<tr><td>${line.start.toISOString()} → ${line.end.toISOString()}</td><td>${line.action}</td></tr>`,
      )}</tbody></table>
${preview.notShown > 0 ? html`<p class="muted">and ${preview.notShown} more.</p>` : ''}`
}
${preview.downstream.map(
  (
    stale,
  ) => html`<p class="downstream">downstream ${stale.job.id} (dependsOn ${stale.job.dependsOn.join(', ')}): ${stale.intervals} interval${stale.intervals === 1 ? '' : 's'} become stale, ${
    stale.averageRunMs === undefined
      ? 'no past run to estimate from'
      : `about ${formatDuration(stale.estimateMs ?? 0)} to re-run (${stale.intervals} × ${formatDuration(Math.round(stale.averageRunMs))} average, concurrency ${stale.job.concurrency})`
  }</p>
<ul>${stale.ranges.map((range) => html`<li>${shortInstant(range.start)} → ${shortInstant(range.end)}: ${range.count} interval${range.count === 1 ? '' : 's'}</li>`)}</ul>`,
)}
${preview.downstream.length > 0 ? html`<p class="muted">This page does not re-run downstream intervals: <code>piko backfill ${job.id} … --downstream</code> does.</p>` : ''}
</section>
<section class="actions" aria-label="Confirm">
<form method="post" action="/backfills" class="action" id="confirm-form">
${tokenField(options.token)}
${(Object.entries(form) as [keyof BackfillForm, string][]).map(
  ([name, value]) => html`<input type="hidden" name="${name}" value="${value}">`,
)}
<button type="submit">Start backfill</button>
<p class="muted small">${
      options.runsBackfills
        ? 'Records the backfill; this runtime plans and runs it, and the Backfills page shows its progress.'
        : 'Records the backfill; it waits for a runtime (piko start on this store) to plan and run it.'
    }</p>
</form>
<p><a href="/backfills">Back to the backfills</a> (nothing recorded)</p>
</section>`,
  });
}
