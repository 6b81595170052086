import { html } from 'hono/html';
import type { IntervalAction } from '../actions.ts';
import { type IntervalView, redactedJson } from '../model.ts';
import { formatDuration, zoomRange } from '../time.ts';
import {
  gridPath,
  type Html,
  intervalLabel,
  intervalPath,
  statusChip,
  timePair,
  tokenField,
} from './html.ts';
import { layout } from './layout.ts';

/** What the interval page shows besides the interval. */
export interface IntervalPageOptions {
  readonly view: IntervalView;
  readonly actions: readonly IntervalAction[];
  /** The action token, when this browser has been given it; without it the actions are not offered. */
  readonly token: string | undefined;
  readonly notice?: string;
  readonly problem?: string;
}

/**
 * One interval: everything about its run (what `piko runs` prints: attempts, timings, error,
 * output, trigger, execution, backfill, config with its secrets redacted) and the actions on it.
 */
export function intervalPage(options: IntervalPageOptions): Html {
  const { view } = options;
  const { job, interval } = view;
  const tz = job.schedule.timezone;
  const around = zoomRange({ from: interval.start, to: interval.end }, 40);
  return layout({
    title: `${job.id} ${interval.start.toISOString()}`,
    crumbs: [
      ['Jobs', '/'],
      [job.id, gridPath(job.id, around)],
      [interval.start.toISOString(), undefined],
    ],
    notice: options.notice,
    problem: options.problem,
    body: html`<h1>${job.id} <span class="muted">${intervalLabel(job, interval)}</span></h1>
<p class="utc-line">UTC ${interval.start.toISOString()} → ${interval.end.toISOString()}</p>
<nav class="controls" aria-label="Neighbouring intervals"><ul>
  ${view.previous ? html`<li><a rel="prev" href="${intervalPath(job.id, view.previous.start)}">← previous interval</a></li>` : ''}
  ${view.next ? html`<li><a rel="next" href="${intervalPath(job.id, view.next.start)}">next interval →</a></li>` : ''}
  <li><a href="${gridPath(job.id, around)}">grid around it</a></li>
</ul></nav>
<section data-live-id="run" aria-label="Run">
<p class="status-line">Status: ${statusChip(view.kind)}</p>
${view.waitingFor.length > 0 ? html`<ul class="waiting-for" aria-label="Upstream intervals it waits for">${view.waitingFor.map((line) => html`<li>Waiting for ${line}</li>`)}</ul>` : ''}
${details(view, tz)}
</section>
${actionForms(options)}`,
  });
}

function details(view: IntervalView, tz: string): Html {
  const { run, backfill, job } = view;
  if (!run) {
    return html`<p>${
      view.kind === 'future'
        ? 'This interval has not ended yet: it is due at its end.'
        : 'This interval has no run: the planner skipped it (catch-up rules), has not reached it yet, or it was never planned. Run it now, or backfill the range.'
    }</p>`;
  }
  const duration =
    run.startedAt && run.finishedAt
      ? formatDuration(run.finishedAt.getTime() - run.startedAt.getTime())
      : undefined;
  const row = (label: string, value: Html | string) => html`<div><dt>${label}</dt><dd>${value}</dd></div>`;
  const config = redactedJson(job, run.config, run.config);
  const output = redactedJson(job, run.output, run.config);
  return html`<dl class="facts run">
${row('Run', `${run.runId} (generation ${run.generation})`)}
${row('Trigger', run.trigger)}
${row('Attempts', `${run.attempts}${run.stage ? ` of stage ${run.stage}` : ''} (at most ${job.retry.attempts})`)}
${row('Requeues', String(run.requeues))}
${row('Version', run.version ?? '—')}
${run.notBefore ? row('Not before', timePair(run.notBefore, tz)) : ''}
${row('Execution', run.executionName ?? '—')}
${row(
  'Backfill',
  backfill
    ? html`${backfill.backfillId}: ${backfill.range.start.toISOString()} → ${backfill.range.end.toISOString()}, reprocess ${backfill.reprocess}, ${backfill.status}`
    : (run.backfillId ?? '—'),
)}
${row('Created', timePair(run.createdAt, tz))}
${row('Started', timePair(run.startedAt, tz))}
${row('Finished', timePair(run.finishedAt, tz))}
${row('Duration', duration ?? '—')}
${row('Updated', timePair(run.updatedAt, tz))}
${row('Config', config ? html`<pre>${config}</pre>` : html`<span class="muted">none: the job’s defaults</span>`)}
${row('Error', run.error ? html`<pre class="error">${run.error}</pre>` : '—')}
${row('Output', output ? html`<pre>${output}</pre>` : '—')}
</dl>`;
}

function actionForms(options: IntervalPageOptions): Html {
  const { view, token } = options;
  const offered = options.actions.filter((action) => action.offered(view));
  if (offered.length === 0)
    return html`<section class="actions" aria-label="Actions" data-live-id="actions"></section>`;
  if (token === undefined) {
    return html`<section class="actions" aria-label="Actions" data-live-id="actions"><h2>Actions</h2>
<p class="muted">Actions need the token piko printed at start: open the address it printed (with <code>?token=…</code>) in this browser.</p></section>`;
  }
  const base = intervalPath(view.job.id, view.interval.start);
  return html`<section class="actions" aria-label="Actions" data-live-id="actions"><h2>Actions</h2>
${offered.map(
  (
    action,
  ) => html`<form method="post" action="${base}/${action.name}" class="action" data-action="${action.name}">
${tokenField(token)}
${action.fields ? action.fields(view) : ''}
<button type="submit">${action.label}</button>
<p class="muted small">${action.description}</p>
</form>`,
)}
</section>`;
}
