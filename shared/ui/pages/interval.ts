import { html } from 'hono/html';
import { generationStarts } from '../../store/run-logs.ts';
import type { OperatorAction } from '../../store/types.ts';
import type { IntervalAction } from '../actions.ts';
import { type IntervalView, redactedJson } from '../model.ts';
import type { RunLogsView } from '../run-logs.ts';
import { formatDuration, zoomRange } from '../time.ts';
import {
  gridPath,
  type Html,
  intervalLabel,
  intervalPath,
  pausedBanner,
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
  /** The run's logs; undefined when the interval has no run or the UI has no source of logs. */
  readonly logs?: RunLogsView;
  /**
   * The operator actions recorded on a range holding the interval, newest first (as `piko runs`
   * shows them); undefined when this UI cannot read them (a deployed stack). @default none
   */
  readonly recorded?: readonly OperatorAction[];
  /** The action refused (its `problem`) and the fields it was submitted with, shown again. @default none */
  readonly submitted?: { readonly action: string; readonly form: Readonly<Record<string, string>> };
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
${view.paused ? pausedBanner(job.id, 'Run now and Rerun are offered again after the resume.') : ''}
<p class="status-line">Status: ${statusChip(view.kind)}</p>
${view.waitingFor.length > 0 ? html`<ul class="waiting-for" aria-label="Upstream intervals it waits for">${view.waitingFor.map((line) => html`<li>Waiting for ${line}</li>`)}</ul>` : ''}
${details(view, tz)}
</section>
${recordedSection(options.recorded, tz)}
${actionForms(options)}
${logsSection(options.logs)}`,
  });
}

function details(view: IntervalView, tz: string): Html {
  const { run, backfill, job } = view;
  if (!run) {
    const beforeStart = job.start !== undefined && view.interval.start.getTime() < job.start.getTime();
    return html`<p>${
      view.kind === 'future'
        ? 'This interval has not ended yet: it is due at its end.'
        : beforeStart
          ? `This interval is before the job’s start (${job.start?.toISOString()}): the planner never plans it. Run it now, or backfill the range, to run it anyway.`
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

/** The operator actions recorded on the interval: when, what, who, why. */
function recordedSection(recorded: readonly OperatorAction[] | undefined, tz: string): Html {
  if (recorded === undefined) return html``;
  return html`<section class="recorded" aria-labelledby="recorded-title" data-live-id="recorded"><h2 id="recorded-title">Operator actions</h2>
${
  recorded.length === 0
    ? html`<p class="muted">None recorded on this interval.</p>`
    : html`<table class="recorded-actions">
<thead><tr><th scope="col">When</th><th scope="col">What</th><th scope="col">Who</th><th scope="col">Why</th></tr></thead>
<tbody>${recorded.map(
        (action) => html`<tr data-action-id="${action.actionId}">
<td>${timePair(action.at, tz)}</td>
<td>${actionWhat(action)}</td>
<td>${action.actor}</td>
<td>${action.reason ?? html`<span class="muted">—</span>`}</td>
</tr>`,
      )}</tbody>
</table>`
}
</section>`;
}

/** An action as one phrase: its kind, a mark's status, and the range it covered. */
function actionWhat(action: OperatorAction): Html {
  const details = action.details as { readonly as?: unknown; readonly intervals?: unknown } | null;
  const as = typeof details?.as === 'string' ? ` ${details.as}` : '';
  const count =
    typeof details?.intervals === 'number' && details.intervals > 1
      ? `, ${details.intervals.toLocaleString('en-US')} intervals`
      : '';
  const [from, to] = action.target.split('/');
  return html`<b>${action.kind}${as}</b> <span class="utc">${from} → ${to}</span>${count}`;
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
<input type="hidden" name="seen" value="${seenRun(view.run)}">
${action.fields ? action.fields(view, options.submitted?.action === action.name ? options.submitted.form : undefined) : ''}
<button type="submit">${action.label}</button>
<p class="muted small">${action.description}</p>
</form>`,
)}
</section>`;
}

/** The run's `ctx.log` lines (every attempt), or where they are on AWS; refreshed live with the page. */
function logsSection(logs: RunLogsView | undefined): Html {
  if (!logs) return html``;
  if (logs.kind === 'aws') {
    const { links } = logs;
    return html`<section class="logs" aria-label="Logs" data-live-id="logs"><h2>Logs</h2>
<p>Execution: ${links.executionUrl ? html`<a href="${links.executionUrl}" rel="noreferrer" target="_blank">${links.executionArn}</a>` : html`<span class="muted">none yet (not dispatched)</span>`}</p>
<p>CloudWatch <a href="${links.insightsUrl}" rel="noreferrer" target="_blank">Logs Insights</a> over ${links.logGroups.length > 0 ? html`<code>${links.logGroups.join(', ')}</code>` : html`the job’s function and Fargate log groups (the stack lists none)`}, from <time datetime="${links.from}">${links.from}</time> to ${links.to ? html`<time datetime="${links.to}">${links.to}</time>` : 'now'}:</p>
<pre class="log-query">${links.query}</pre>
</section>`;
  }
  if (!logs.lines || logs.lines.length === 0) {
    return html`<section class="logs" aria-label="Logs" data-live-id="logs"><h2>Logs</h2>
<p class="muted">No log lines in <code>${logs.path}</code>: the run wrote none yet, its file was removed by <code>[logs] max_total_bytes</code>, or a runtime on another machine ran it (its lines are in that machine’s data directory).</p></section>`;
  }
  const starts = generationStarts(logs.lines);
  return html`<section class="logs" aria-label="Logs" data-live-id="logs"><h2>Logs <span class="muted small">${logs.lines.length} line${logs.lines.length === 1 ? '' : 's'}, every attempt${logs.truncated ? ', truncated at [logs] max_run_bytes' : ''}</span></h2>
<pre class="log-lines">${logs.lines.map((line, index) => {
    // A rerun or a requeue writes to the same file: where each generation of the run begins.
    const generation = starts.get(index);
    return html`${
      generation === undefined
        ? ''
        : html`<span class="log-generation">── generation ${generation}${generation === 0 ? '' : ': run again (a rerun or a requeue)'} ──</span>
`
    }<span class="log-line l-${line.level}">${line.time} ${line.level.toUpperCase().padEnd(5)} [attempt ${line.attempt} ${line.stage}] ${line.message}${fieldsText(line.fields)}</span>
`;
  })}</pre>
</section>`;
}

function fieldsText(fields: Readonly<Record<string, unknown>> | undefined): string {
  if (!fields) return '';
  return Object.entries(fields)
    .map(
      ([key, value]) =>
        ` ${key}=${typeof value === 'string' && /^[^\s"=]+$/.test(value) ? value : JSON.stringify(value)}`,
    )
    .join('');
}

/**
 * The run an action's form was shown for (`<run id>:<generation>`, `none` without a run): the action
 * is refused when the interval's run has changed since (a rerun from another tab, say), so that a
 * page left open does not act on a run its reader has not seen.
 */
export function seenRun(run: { readonly runId: number; readonly generation: number } | undefined): string {
  return run ? `${run.runId}:${run.generation}` : 'none';
}
