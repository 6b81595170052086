/**
 * The operator actions the UI offers. Each is one object: where it is offered, the form fields it
 * adds, and what it does through the planner and runtime (never SQL of its own). The server renders
 * every offered action as a form and routes `POST /jobs/:job/intervals/:start/:action` to it, with
 * the token checked before; more actions plug in by adding to the list given to the server.
 */
import { html } from 'hono/html';
import { localActor } from '../control/actor.ts';
import { InputError } from '../errors.ts';
import type { Interval } from '../interval.ts';
import { type JobDefinition, parseIsoInstant } from '../job.ts';
import {
  type IntervalRunner,
  type MarkOutcome,
  type MarkPreview,
  type OperatorRequest,
  validateBackfill,
} from '../planner/index.ts';
import type { JobRegistry } from '../registry.ts';
import type { StateReader } from '../store/types.ts';
import type { IntervalView } from './model.ts';
import type { UiOperator } from './operator.ts';
import type { Html } from './pages/html.ts';

/**
 * Runs an interval now, as a manual run (`LocalRuntime.runInterval`, over the planner's
 * `dispatchManualRun`): `runInterval` resolves once the run is queued (it runs in the background),
 * and throws JobPausedError for a paused job, InputError when the interval is already in flight.
 */
export interface UiRunner extends Pick<IntervalRunner, 'runInterval'> {
  /**
   * Reruns the interval with the config its run has, where the runner reads that config itself
   * (`piko ui --aws`: pages only see it redacted). @default - runInterval with the run's config
   */
  rerunInterval?(job: JobDefinition, interval: Interval, request?: OperatorRequest): Promise<void>;
}

/** What an action works with. */
export interface ActionContext {
  /** The store actions read from (runs start through the runner). */
  readonly store: StateReader;
  /**
   * Where the operator actions (cancel, mark) are carried out: the UI's own store locally, the
   * dispatcher for `piko ui --aws`. @default none: neither is offered
   */
  readonly operator?: UiOperator;
  readonly jobs: JobRegistry;
  readonly runner: UiRunner;
  readonly now: () => Date;
}

/** What an action did, said on the page it returns to. */
export interface ActionResult {
  readonly notice: string;
}

/** An action on one interval, offered on the interval's page. */
export interface IntervalAction {
  /** The last segment of its path: `[a-z-]+`. */
  readonly name: string;
  /** The button's text. */
  readonly label: string;
  /** One sentence beside the button: what it does. */
  readonly description: string;
  /** Whether the interval's page offers it. */
  offered(view: IntervalView): boolean;
  /**
   * Form fields besides the token, with what was `submitted` when the page shows the action's
   * refusal (so nothing typed is lost). @default none
   */
  fields?(view: IntervalView, submitted?: Readonly<Record<string, string>>): Html;
  /**
   * Does it. Throws an InputError (or another PikoError) to refuse, with a message for the page.
   * @param form the submitted fields, the token removed.
   */
  perform(
    context: ActionContext,
    view: IntervalView,
    form: Readonly<Record<string, string>>,
  ): Promise<ActionResult>;
}

/**
 * Run now: a manual run of the interval with an optional config override, validated by the job's
 * schema (as `piko run --config`). Offered for any interval that has ended and is not in flight.
 */
export const runNowAction: IntervalAction = {
  name: 'run',
  label: 'Run now',
  description:
    'Run this interval now as a manual run; the config override (JSON) is checked against the job’s schema.',
  // Not while the job is paused: the run would be refused (the page says why).
  offered: (view) => view.kind !== 'future' && !isInFlight(view) && !view.paused,
  // Never prefilled from the run: a config shown redacted and sent back would replace its secrets
  // with the mask. What the operator typed comes back as typed when the run was refused.
  fields: (_view, submitted) =>
    html`<label for="config">Config override (JSON, empty for none)</label>
<textarea id="config" name="config" rows="3" spellcheck="false" placeholder='{"key": "value"}'>${submitted?.config ?? ''}</textarea>
${reasonField('run-reason', submitted)}`,
  async perform(context, view, form) {
    const text = (form.config ?? '').trim();
    let override: unknown = null;
    if (text !== '') {
      try {
        override = JSON.parse(text);
      } catch {
        throw new InputError('The config override must be JSON, for example {"region":"eu"}');
      }
    }
    const config = startManualRun(context, view, override);
    await context.runner.runInterval(view.job, view.interval, config, requestOf(form));
    return {
      notice: `Started a manual run of this interval${config === null ? '' : ' with the config override'}.`,
    };
  },
};

/** Rerun: the interval's finished run again, with the config it ran with. */
export const rerunAction: IntervalAction = {
  name: 'rerun',
  label: 'Rerun',
  description: 'Run this interval again with the config its run had.',
  offered: (view) => view.run !== undefined && !isInFlight(view) && !view.paused,
  fields: (_view, submitted) => reasonField('rerun-reason', submitted),
  async perform(context, view, form) {
    if (!view.run) throw new InputError('This interval has no run to rerun; use Run now.');
    const request = requestOf(form);
    if (context.runner.rerunInterval) await context.runner.rerunInterval(view.job, view.interval, request);
    else {
      const config = startManualRun(context, view, view.run.config);
      await context.runner.runInterval(view.job, view.interval, config, request);
    }
    return { notice: 'Started a rerun of this interval.' };
  },
};

/** Who asks (the UI's caller) and why (the form's optional reason), as a run now or rerun is recorded. */
function requestOf(form: Readonly<Record<string, string>>): OperatorRequest {
  return { actor: localActor('ui'), reason: form.reason?.trim() || null };
}

/** The reason field of an operator action (recorded with who and when), with the reason `submitted`. */
const reasonField = (id: string, submitted?: Readonly<Record<string, string>>) =>
  html`<label for="${id}">Reason (recorded)</label>
<input id="${id}" name="reason" maxlength="1000" autocomplete="off" value="${submitted?.reason ?? ''}">`;

/** Where cancel and mark are carried out, or a refusal that says where to do them instead. */
function operatorOf(context: ActionContext): UiOperator {
  if (context.operator) return context.operator;
  throw new InputError('This UI carries out no operator actions: use piko cancel and piko mark.');
}

/** Cancel: a pending or queued run never starts; a running one's `ctx.signal` aborts (planner's `cancelRuns`). */
export const cancelAction: IntervalAction = {
  name: 'cancel',
  label: 'Cancel',
  description: 'Cancel this run: if it is running, its handler is stopped; it is recorded as cancelled.',
  offered: (view) => isInFlight(view),
  fields: (_view, submitted) => reasonField('cancel-reason', submitted),
  async perform(context, view, form) {
    // The interval itself, as its record in piko_actions then shows it.
    const range = { from: view.interval.start, to: view.interval.end };
    const outcome = await operatorOf(context).cancel(view.job, range, {
      actor: localActor('ui'),
      reason: form.reason?.trim() || null,
    });
    return {
      notice: outcome.cancelled.length
        ? 'Cancelled this run.'
        : 'This run had finished already; nothing was cancelled.',
    };
  },
};

/** Mark succeeded or skipped: without running it (planner's `markRange`); never a queued or running run. */
export const markAction: IntervalAction = {
  name: 'mark',
  label: 'Mark',
  description: 'Mark this interval succeeded or skipped without running it (a reason is required).',
  offered: (view) => view.kind !== 'future' && !isInFlight(view),
  fields: (_view, submitted) =>
    html`<label for="mark-as">Mark as</label>
<select id="mark-as" name="as"><option value="skipped">skipped</option><option value="succeeded"${submitted?.as === 'succeeded' ? ' selected' : ''}>succeeded</option></select>
${reasonField('mark-reason', submitted)}`,
  async perform(context, view, form) {
    const as = form.as === 'succeeded' ? 'succeeded' : form.as === 'skipped' ? 'skipped' : undefined;
    if (!as) throw new InputError('Mark as succeeded or skipped.');
    const reason = form.reason?.trim();
    if (!reason) throw new InputError('Say why in the reason field: it is recorded with the action.');
    const outcome = await operatorOf(context).mark(
      view.job,
      { from: view.interval.start, to: view.interval.end, as },
      { actor: localActor('ui'), reason },
      context.now(),
    );
    return {
      notice:
        outcome.created + outcome.updated > 0
          ? `Marked this interval ${as}.`
          : outcome.leftAlone.length
            ? 'This interval is queued or running: cancel it first.'
            : `This interval is already ${as === 'skipped' ? 'succeeded or skipped' : as}.`,
    };
  },
};

/** The actions on an interval that every UI offers. */
export const DEFAULT_INTERVAL_ACTIONS: readonly IntervalAction[] = [
  runNowAction,
  rerunAction,
  cancelAction,
  markAction,
];

/** Checks a manual run as `piko run` does (an interval that has ended, a config the schema takes). */
function startManualRun(context: ActionContext, view: IntervalView, override: unknown): unknown {
  return validateBackfill(
    view.job,
    { jobId: view.job.id, from: view.interval.start, to: view.interval.end, config: override },
    context.now(),
  );
}

function isInFlight(view: IntervalView): boolean {
  const status = view.run?.status;
  return status === 'pending' || status === 'queued' || status === 'running';
}

/** A mark of a range from a job's grid, as its form gives it. */
export interface RangeMarkForm {
  readonly from: Date;
  readonly to: Date;
  readonly as: 'succeeded' | 'skipped';
  /** Why (required: it is recorded with the action). */
  readonly reason: string;
}

/**
 * The fields of the grid's mark form: `from`, `to` (ISO 8601), `as` and a `reason`.
 * @throws InputError naming every field that is wrong.
 */
export function parseRangeMarkForm(form: Readonly<Record<string, string>>): RangeMarkForm {
  const problems: string[] = [];
  const instant = (name: 'from' | 'to') => {
    const text = (form[name] ?? '').trim();
    const parsed = parseIsoInstant(text);
    if (!parsed)
      problems.push(
        `${name} ${JSON.stringify(text)} is not an ISO 8601 instant with an offset, such as 2026-03-01T00:00:00Z`,
      );
    return parsed;
  };
  const from = instant('from');
  const to = instant('to');
  const as = form.as === 'succeeded' || form.as === 'skipped' ? form.as : undefined;
  if (!as) problems.push('mark as succeeded or skipped');
  const reason = (form.reason ?? '').trim();
  if (!reason) problems.push('say why in the reason field: it is recorded with the action');
  if (problems.length || !from || !to || !as) throw new InputError(`${capitalise(problems.join('; '))}.`);
  return { from, to, as, reason };
}

/** The dry run of a grid's mark: what it would do to each interval; writes nothing. */
export function previewRangeMark(
  context: ActionContext,
  job: JobDefinition,
  form: RangeMarkForm,
): Promise<MarkPreview> {
  return operatorOf(context).previewMark(job, form, context.now());
}

/** A grid's mark, confirmed after its dry run: recorded as a `mark` action with who and why. */
export async function confirmRangeMark(
  context: ActionContext,
  job: JobDefinition,
  form: RangeMarkForm,
): Promise<ActionResult & { readonly outcome: MarkOutcome }> {
  const outcome = await operatorOf(context).mark(
    job,
    { from: form.from, to: form.to, as: form.as },
    { actor: localActor('ui'), reason: form.reason },
    context.now(),
  );
  const marked = outcome.created + outcome.updated;
  const refused = outcome.leftAlone.length;
  const notice = `Marked ${marked} interval${marked === 1 ? '' : 's'} ${outcome.as}${
    outcome.unchanged
      ? `; ${outcome.unchanged} already ${outcome.as === 'skipped' ? 'skipped or succeeded' : 'succeeded'}`
      : ''
  }${refused ? `; ${refused} queued or running left alone (cancel them first)` : ''}.`;
  return { notice, outcome };
}

function capitalise(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}
