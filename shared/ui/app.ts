/**
 * The web UI's routes (hono): pages rendered on the server, `/events` for live pages, `/healthz`,
 * `/metrics`, and the actions, each behind the token. Handlers parse, call the model or an action,
 * and render; known errors become pages that say what to fix.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { type Context, Hono } from 'hono';
import { getCookie, setCookie } from 'hono/cookie';
import { streamSSE } from 'hono/streaming';
import { localActor } from '../control/actor.ts';
import {
  BackfillRefusedError,
  InputError,
  PikoError,
  RuntimeStoppingError,
  UnknownJobError,
} from '../errors.ts';
import type { JobDefinition } from '../job.ts';
import { type BackfillCommand, changeBackfill, recordBackfill, targetHolds } from '../planner/index.ts';
import type { JobRegistry } from '../registry.ts';
import type { StateReader, StateStore } from '../store/types.ts';
import { errorMessage, redact } from '../telemetry.ts';
import {
  confirmRangeMark,
  DEFAULT_INTERVAL_ACTIONS,
  type IntervalAction,
  parseRangeMarkForm,
  previewRangeMark,
  type UiRunner,
} from './actions.ts';
import {
  type BackfillForm,
  backfillFormOf,
  backfillRequestOfForm,
  previewBackfillRequest,
  readBackfills,
} from './backfills.ts';
import { readLateIntervals, readRecentAlerts } from './deadlines.ts';
import { checkHealth, type RuntimeHealth } from './health.ts';
import type { ChangeFeed } from './live.ts';
import type { UiMetrics } from './metrics.ts';
import { firstIntervalStart, lastTickAtOrBefore, readGrid, readInterval, readOverview } from './model.ts';
import { storeOperator, type UiOperator } from './operator.ts';
import { backfillPreviewPage, backfillsPage } from './pages/backfills.ts';
import { gridPage } from './pages/grid.ts';
import { gridPath, type Html } from './pages/html.ts';
import { intervalPage, seenRun } from './pages/interval.ts';
import { errorPage } from './pages/layout.ts';
import type { MarkFormValues, MarkPanel } from './pages/mark.ts';
import { overviewPage } from './pages/overview.ts';
import type { RunLogSource } from './run-logs.ts';
import { isAllowedHost, isSameOrigin, isToken, SECURITY_HEADERS, tokenCookieName } from './security.ts';
import { parseRange, type TimeRange } from './time.ts';

/** What the routes work with. */
export interface UiAppOptions {
  /** The UI's own store connection (reads; actions write through `runner`). */
  readonly store: StateReader;
  /**
   * The store of a self-hosted runtime, where backfills are recorded and steered (and, unless
   * `operator` is given, cancel and mark carried out). @default none (a deployed stack)
   */
  readonly operatorStore?: StateStore;
  /**
   * Where cancel and mark are carried out and their record and the alerts read.
   * @default storeOperator(operatorStore) with an `operatorStore`, else none (not offered)
   */
  readonly operator?: UiOperator;
  readonly jobs: JobRegistry;
  readonly runner: UiRunner;
  /** The token every action must carry. */
  readonly token: string;
  /** The host the server is bound to (a loopback UI answers loopback `Host` names only). */
  readonly boundHost: string;
  /** The port, naming the token's cookie. */
  readonly port: number;
  readonly feed: ChangeFeed;
  readonly metrics: UiMetrics;
  /** The runtime beside the UI, for `/healthz`. @default none (`piko ui`) */
  readonly runtime?: () => RuntimeHealth;
  /** The actions offered on an interval's page. @default DEFAULT_INTERVAL_ACTIONS */
  readonly intervalActions?: readonly IntervalAction[];
  /** Where an interval's page reads its run's logs. @default none (no logs section) */
  readonly runLogs?: RunLogSource;
  /** @default () => new Date() */
  readonly now?: () => Date;
  /** How often an open page looks for changes made by other processes, in ms. @default 5000 */
  readonly pollMs?: number;
  /**
   * The runtime beside the UI that runs backfills (`piko start`): told at once of a backfill the
   * page records or resumes. @default none: recorded backfills wait for a runtime on the store
   */
  readonly backfillRunner?: BackfillRunner;
  /** Intervals a backfill may hold (`[piko] max_backfill_intervals`). @default the planner's */
  readonly maxBackfillIntervals?: number;
}

/** What runs backfills beside the UI (the local runtime's backfill drivers, by shape). */
export interface BackfillRunner {
  /** Looks for unfinished backfills nobody drives, and runs them. */
  adopt(): Promise<unknown>;
}

/** Intervals shown by a job's grid when the URL names no range. */
export const DEFAULT_GRID_INTERVALS = 120;
/** Heartbeat of `/events`, so proxies and browsers keep the stream open. */
const SSE_HEARTBEAT_MS = 15_000;
/** How often an open `/events` stream looks whether the runtime beside the UI is stopping. */
const STOPPING_CHECK_MS = 500;
/** A job's latest recorded actions an interval's page looks through for its own (as `piko runs`). */
const ACTIONS_READ = 500;
/** Notices kept for the page an action redirects to. */
const MAX_FLASHES = 100;

/** The files under `/assets/`, read once. */
const ASSETS: Readonly<Record<string, { readonly type: string; readonly body: string }>> = Object.fromEntries(
  [
    ['piko.css', 'text/css; charset=utf-8'],
    ['live.js', 'text/javascript; charset=utf-8'],
    ['favicon.svg', 'image/svg+xml'],
  ].map(([name, type]) => [
    name,
    { type: type!, body: readFileSync(new URL(`./assets/${name}`, import.meta.url), 'utf8') },
  ]),
);

/** A route handler. */
type Handler = (c: Context) => Promise<Response> | Response;

/** Builds the UI's routes. `closeStreams()` ends every open `/events` stream (before the server closes). */
export function createUiApp(options: UiAppOptions): { app: Hono; closeStreams(): void } {
  const now = options.now ?? (() => new Date());
  const operator =
    options.operator ?? (options.operatorStore ? storeOperator(options.operatorStore) : undefined);
  const actions = options.intervalActions ?? DEFAULT_INTERVAL_ACTIONS;
  const cookie = tokenCookieName(options.port);
  const flashes = new Map<string, string>();
  const streams = new Set<() => void>();
  const app = new Hono();

  /** The token, when this browser holds it (its cookie): pages then include it in their forms. */
  const tokenOf = (c: Context) => (isToken(options.token, getCookie(c, cookie)) ? options.token : undefined);
  /** When each request arrived, for the Server-Timing header (reads and rendering). */
  const arrivals = new WeakMap<Request, number>();
  const render = async (c: Context, page: Html, status: 200 | 400 | 403 | 404 | 409 | 500 | 503 = 200) => {
    const body = withCanonical(await page, c.req.method, c.req.path);
    const arrived = arrivals.get(c.req.raw) ?? performance.now();
    c.header('Server-Timing', `page;dur=${(performance.now() - arrived).toFixed(1)}`);
    return c.html(body, status);
  };
  const flash = (notice: string) => {
    const id = randomBytes(8).toString('hex');
    flashes.set(id, notice);
    if (flashes.size > MAX_FLASHES) flashes.delete(flashes.keys().next().value!);
    return id;
  };
  const takeFlash = (c: Context) => {
    const id = c.req.query('flash');
    if (!id) return undefined;
    const notice = flashes.get(id);
    flashes.delete(id);
    return notice;
  };

  app.use('*', async (c, next) => {
    arrivals.set(c.req.raw, performance.now());
    for (const [name, value] of Object.entries(SECURITY_HEADERS)) c.header(name, value);
    if (!isAllowedHost(options.boundHost, c.req.header('host'))) {
      return c.text('This Piko UI answers loopback host names only (localhost, 127.0.0.1, [::1]).', 403);
    }
    if (c.req.method !== 'GET' && c.req.method !== 'HEAD') {
      if (!isSameOrigin(c.req.header('origin'), c.req.header('host'))) {
        return c.text('Refused: the request comes from another site.', 403);
      }
      const form = await formOf(c);
      if (!isToken(options.token, c.req.header('x-piko-token') ?? form.token)) {
        return render(
          c,
          errorPage(
            'Token needed',
            'Every action needs the token piko printed at start; this request has none or another one.',
          ),
          403,
        );
      }
      // Stopping (a signal) or given up: its actions would start work as it ends, or not at all.
      const runtime = options.runtime?.();
      if (runtime && runtime.state !== 'running') return render(c, stoppedPage(runtime), 503);
      return next();
    }
    const given = c.req.query('token');
    if (given !== undefined) {
      if (!isToken(options.token, given)) {
        return render(c, errorPage('Wrong token', 'This is not the token piko printed at start.'), 403);
      }
      // The token goes from the URL (history, screenshots) into a cookie no other site's request carries.
      setCookie(c, cookie, options.token, { httpOnly: true, sameSite: 'Strict', path: '/' });
      const url = new URL(c.req.url);
      url.searchParams.delete('token');
      return c.redirect(`${url.pathname}${url.search}`, 303);
    }
    return next();
  });

  /** The operator actions recorded on a range holding the interval starting at `start`, newest first. */
  const recordedOn = async (start: Date, job: JobDefinition) => {
    if (!operator) return undefined;
    const recent = await operator.actions(job.id, ACTIONS_READ);
    return recent.filter((action) => targetHolds(action.target, start));
  };

  const page =
    (handler: Handler): Handler =>
    async (c) => {
      try {
        return await handler(c);
      } catch (error) {
        if (error instanceof UnknownJobError) return render(c, errorPage('Unknown job', error.message), 404);
        if (error instanceof InputError) return render(c, errorPage('Cannot show this', error.message), 400);
        throw error;
      }
    };

  app.get(
    '/',
    page(async (c) =>
      render(c, overviewPage(await readOverview({ store: options.store, jobs: options.jobs, now }))),
    ),
  );

  /** The range of a grid: the URL's (or the mark form's `view-from`/`view-to`), else the default. */
  const viewOf = (job: JobDefinition, from: string | undefined, to: string | undefined, at: Date) =>
    from !== undefined || to !== undefined ? parseRange(from ?? '', to ?? '') : defaultRange(job, at);
  /** A job's grid page, its mark section in the state given. */
  const renderGrid = async (
    c: Context,
    job: JobDefinition,
    view: TimeRange,
    at: Date,
    mark: Pick<MarkPanel, 'values' | 'preview' | 'problem' | 'token'>,
    status: 200 | 400 | 409 = 200,
  ) => {
    const state = await options.store.getJob(job.id);
    const [firstStart, grid, late, recentAlerts] = await Promise.all([
      firstIntervalStart(options.store, job, state),
      readGrid(options.store, job, view, at),
      readLateIntervals(options.store, job, state, at),
      operator ? readRecentAlerts(operator, job) : undefined,
    ]);
    const panel: MarkPanel = {
      ...mark,
      view,
      offered: operator !== undefined,
    };
    return render(
      c,
      gridPage({
        job,
        grid,
        now: at,
        firstStart,
        notice: takeFlash(c),
        mark: panel,
        late,
        alerts: recentAlerts,
        paused: state?.paused ?? false,
      }),
      status,
    );
  };

  app.get(
    '/jobs/:job',
    page(async (c) => {
      const job = options.jobs.get(param(c, 'job'));
      const at = now();
      const view = viewOf(job, c.req.query('from'), c.req.query('to'), at);
      const due = lastTickAtOrBefore(job, at);
      const prefillTo = due && view.to.getTime() > due.getTime() ? due : view.to;
      const values: MarkFormValues = {
        from: c.req.query('mark-from') ?? view.from.toISOString(),
        to: c.req.query('mark-to') ?? prefillTo.toISOString(),
        as: 'skipped',
        reason: '',
      };
      return renderGrid(c, job, view, at, { values, token: tokenOf(c) });
    }),
  );

  app.post(
    '/jobs/:job/mark',
    page(async (c) => {
      const job = options.jobs.get(param(c, 'job'));
      const at = now();
      const { token: _token, ...form } = await formOf(c);
      const view = viewOf(job, form['view-from'], form['view-to'], at);
      const values: MarkFormValues = {
        from: form.from ?? '',
        to: form.to ?? '',
        as: form.as ?? 'skipped',
        reason: form.reason ?? '',
      };
      const context = {
        store: options.store,
        operator,
        jobs: options.jobs,
        runner: options.runner,
        now: () => at,
      };
      try {
        const request = parseRangeMarkForm(form);
        if (form.step !== 'confirm') {
          const preview = await previewRangeMark(context, job, request);
          return renderGrid(c, job, view, at, { values, preview, token: options.token });
        }
        const result = await confirmRangeMark(context, job, request);
        options.feed.notify();
        return c.redirect(`${gridPath(job.id, view)}&flash=${flash(result.notice)}`, 303);
      } catch (error) {
        if (!(error instanceof PikoError) || error instanceof UnknownJobError) throw error;
        return renderGrid(
          c,
          job,
          view,
          at,
          { values, problem: `Mark refused: ${error.message}`, token: options.token },
          error instanceof InputError ? 400 : 409,
        );
      }
    }),
  );

  app.get(
    '/jobs/:job/intervals/:start',
    page(async (c) => {
      const job = options.jobs.get(param(c, 'job'));
      const view = await readInterval(
        options.store,
        job,
        param(c, 'start'),
        now(),
        options.jobs.upstreams(job.id),
      );
      const [logs, recorded] = await Promise.all([
        view.run && options.runLogs ? options.runLogs.read(job, view.run) : undefined,
        recordedOn(view.interval.start, job),
      ]);
      return render(
        c,
        intervalPage({ view, actions, token: tokenOf(c), notice: takeFlash(c), logs, recorded }),
      );
    }),
  );

  app.post(
    '/jobs/:job/intervals/:start/:action',
    page(async (c) => {
      const job = options.jobs.get(param(c, 'job'));
      const action = actions.find((candidate) => candidate.name === param(c, 'action'));
      if (!action)
        return render(c, errorPage('Unknown action', `There is no action "${param(c, 'action')}".`), 404);
      const view = await readInterval(
        options.store,
        job,
        param(c, 'start'),
        now(),
        options.jobs.upstreams(job.id),
      );
      const token = options.token;
      const { token: _token, seen, ...form } = await formOf(c);
      if (seen !== undefined && seen !== seenRun(view.run)) {
        return render(
          c,
          intervalPage({
            view,
            actions,
            token,
            problem: `${action.label} refused: the interval changed since the page showed it (its run was ${seen === 'none' ? 'none' : `run ${seen.replace(':', ', generation ')}`}; it is ${view.run ? `run ${view.run.runId}, generation ${view.run.generation}, ${view.run.status}` : 'none'}). Look at it as it is now, then act again.`,
            recorded: await recordedOn(view.interval.start, job),
          }),
          409,
        );
      }
      if (!action.offered(view)) {
        return render(
          c,
          intervalPage({
            view,
            actions,
            token,
            problem: `${action.label} is not offered for this interval now (it is ${view.kind}).`,
            recorded: await recordedOn(view.interval.start, job),
          }),
          409,
        );
      }
      try {
        const result = await action.perform(
          {
            store: options.store,
            operator,
            jobs: options.jobs,
            runner: options.runner,
            now,
          },
          view,
          form,
        );
        options.feed.notify();
        return c.redirect(
          `${c.req.path.slice(0, c.req.path.lastIndexOf('/'))}?flash=${flash(result.notice)}`,
          303,
        );
      } catch (error) {
        if (!(error instanceof PikoError) || error instanceof UnknownJobError) throw error;
        const again = await readInterval(
          options.store,
          job,
          param(c, 'start'),
          now(),
          options.jobs.upstreams(job.id),
        );
        return render(
          c,
          intervalPage({
            view: again,
            actions,
            token,
            problem: `${action.label} refused: ${error.message}`,
            recorded: await recordedOn(again.interval.start, job),
            submitted: { action: action.name, form },
          }),
          error instanceof RuntimeStoppingError ? 503 : error instanceof InputError ? 400 : 409,
        );
      }
    }),
  );

  const backfillCommands: readonly BackfillCommand[] = ['pause', 'resume', 'cancel'];
  /** The Backfills page, with a problem (a refused preview, start or command) and the form as it was. */
  const backfillsView = async (
    c: Context,
    extra: { notice?: string; problem?: string; form?: BackfillForm } = {},
  ) =>
    backfillsPage({
      rows: options.operatorStore ? await readBackfills(options.operatorStore, options.jobs, now()) : [],
      jobs: options.jobs.list(),
      token: tokenOf(c) ?? (c.req.method === 'POST' ? options.token : undefined),
      runsBackfills: options.backfillRunner !== undefined,
      canAct: options.operatorStore !== undefined,
      ...extra,
    });
  /** A refusal the page explains: a bad field (400) or a state the request does not fit (409). */
  const refusal = (error: unknown): 400 | 409 => {
    if (!(error instanceof PikoError) || error instanceof UnknownJobError) throw error;
    return error instanceof InputError || error instanceof BackfillRefusedError ? 400 : 409;
  };
  /** Starts what a runtime beside the UI runs at once (else its next round finds it). */
  const adoptNow = () => void options.backfillRunner?.adopt().catch(() => undefined);

  app.get(
    '/backfills',
    page(async (c) => render(c, backfillsView(c, { notice: takeFlash(c) }))),
  );

  app.post(
    '/backfills/preview',
    page(async (c) => {
      const form = backfillFormOf(await formOf(c));
      const store = options.operatorStore;
      if (!store) throw new InputError('Backfill a deployed stack from the CLI: piko backfill … --aws.');
      try {
        const { job, request } = backfillRequestOfForm(
          form,
          options.jobs,
          now(),
          options.maxBackfillIntervals,
        );
        const preview = await previewBackfillRequest(store, options.jobs, job, request, now());
        return render(
          c,
          backfillPreviewPage({
            preview,
            form,
            token: options.token,
            runsBackfills: options.backfillRunner !== undefined,
          }),
        );
      } catch (error) {
        const status = refusal(error);
        return render(
          c,
          backfillsView(c, { form, problem: `Preview refused: ${refusalMessage(error)}` }),
          status,
        );
      }
    }),
  );

  app.post(
    '/backfills',
    page(async (c) => {
      const form = backfillFormOf(await formOf(c));
      const store = options.operatorStore;
      if (!store) throw new InputError('Backfill a deployed stack from the CLI: piko backfill … --aws.');
      try {
        const { job, request } = backfillRequestOfForm(
          form,
          options.jobs,
          now(),
          options.maxBackfillIntervals,
        );
        const { backfill, recorded } = await recordBackfill(
          store,
          job,
          request,
          now(),
          { actor: localActor('ui'), reason: form.reason || null },
          { maxBackfillIntervals: options.maxBackfillIntervals },
        );
        adoptNow();
        options.feed.notify();
        const runs = (await store.getJob(job.id))?.paused
          ? `its job is paused: it runs after piko resume ${job.id}`
          : options.backfillRunner
            ? 'this runtime plans and runs it'
            : 'it waits for a runtime: start piko start on this store';
        return c.redirect(
          `/backfills?flash=${flash(`Backfill ${backfill.backfillId} of ${job.id} recorded${recorded === 'again' ? ' again (it had run before: it starts over)' : ''}; ${runs}.`)}`,
          303,
        );
      } catch (error) {
        const status = refusal(error);
        return render(
          c,
          backfillsView(c, { form, problem: `Backfill refused: ${refusalMessage(error)}` }),
          status,
        );
      }
    }),
  );

  app.post(
    '/backfills/:id',
    page(async (c) => {
      const fields = await formOf(c);
      const store = options.operatorStore;
      if (!store)
        throw new InputError(
          'Steer backfills of a deployed stack from the CLI: piko backfill pause|resume|cancel --aws.',
        );
      const command = backfillCommands.find((candidate) => candidate === fields.command);
      if (!command) {
        return render(
          c,
          errorPage(
            'Unknown command',
            `A backfill can be paused, resumed or cancelled, not "${fields.command ?? ''}".`,
          ),
          404,
        );
      }
      const id = param(c, 'id');
      try {
        const record = await store.getBackfill(id);
        if (!record) throw new InputError(`No backfill "${id}"; the list below shows them all.`);
        const job = options.jobs.get(record.jobId);
        const change = await changeBackfill(store, job, id, command, {
          actor: localActor('ui'),
          reason: fields.reason?.trim() || null,
        });
        if (command === 'resume') adoptNow();
        options.feed.notify();
        const what =
          command === 'pause'
            ? 'paused: none of its runs starts until it is resumed; running runs finish'
            : command === 'cancel'
              ? `cancelled: ${change.runs} pending or queued run(s) cancelled; running runs finish`
              : `resumed${change.runs > 0 ? `: ${change.runs} cancelled run(s) pending again` : ''}`;
        return c.redirect(`/backfills?flash=${flash(`Backfill ${id} ${what}.`)}`, 303);
      } catch (error) {
        const status = refusal(error);
        return render(
          c,
          backfillsView(c, { problem: `${command} refused: ${refusalMessage(error)}` }),
          status,
        );
      }
    }),
  );

  app.get('/events', (c) =>
    streamSSE(c, async (stream) => {
      let done: () => void = () => {};
      const ended = new Promise<void>((resolve) => {
        done = resolve;
      });
      streams.add(done);
      // Open pages say when the runtime beside the UI stops (its actions are refused from then on).
      let told = false;
      const tellStopped = () => {
        const runtime = options.runtime?.();
        if (told || !runtime || runtime.state === 'running') return;
        told = true;
        void stream.writeSSE({ event: 'stopping', data: runtime.state });
      };
      const watchStopping = setInterval(tellStopped, STOPPING_CHECK_MS);
      const unsubscribe = options.feed.subscribe(() => {
        void stream.writeSSE({
          event: 'change',
          data: String(options.feed.version),
          id: String(options.feed.version),
        });
      });
      const heartbeat = setInterval(() => void stream.write(': keep-alive\n\n'), SSE_HEARTBEAT_MS);
      stream.onAbort(done);
      await stream.writeSSE({ event: 'hello', data: String(options.pollMs ?? 5_000) });
      tellStopped();
      await ended;
      clearInterval(heartbeat);
      clearInterval(watchStopping);
      unsubscribe();
      streams.delete(done);
    }),
  );

  app.get('/healthz', async (c) => {
    const report = await checkHealth(options.store, options.runtime);
    return c.json(report, report.ok ? 200 : 503);
  });

  app.get('/metrics', async (c) => {
    const text = await options.metrics.text();
    return c.body(text, 200, { 'Content-Type': options.metrics.contentType });
  });

  app.get('/assets/:file', (c) => {
    const asset = ASSETS[param(c, 'file')];
    if (!asset) return c.notFound();
    c.header('Cache-Control', 'no-cache');
    return c.body(asset.body, 200, { 'Content-Type': asset.type });
  });
  app.get('/favicon.ico', (c) => c.redirect('/assets/favicon.svg', 301));

  app.notFound((c) => render(c, errorPage('Not found', `Nothing at ${c.req.path}.`), 404));
  app.onError((error, c) => render(c, errorPage('Something went wrong', errorMessage(error)), 500));

  return {
    app,
    closeStreams: () => {
      for (const close of [...streams]) close();
    },
  };
}

/** A path parameter of the route (always present where the route names it). */
function param(c: Context, name: string): string {
  return c.req.param(name) ?? '';
}

/** The submitted form's text fields (files are ignored); empty for a body that is not a form. */
async function formOf(c: Context): Promise<Record<string, string>> {
  const type = c.req.header('content-type') ?? '';
  if (!type.startsWith('application/x-www-form-urlencoded') && !type.startsWith('multipart/form-data'))
    return {};
  const body = await c.req.parseBody();
  const fields: Record<string, string> = {};
  for (const [name, value] of Object.entries(body)) if (typeof value === 'string') fields[name] = value;
  return fields;
}

/** The range a grid shows by default: the job's latest {@link DEFAULT_GRID_INTERVALS} intervals and the one under way. */
export function defaultRange(job: JobDefinition, now: Date): TimeRange {
  const lastEnd = lastTickAtOrBefore(job, now) ?? now;
  let from = lastEnd;
  for (let i = 0; i < DEFAULT_GRID_INTERVALS; i++) {
    const previous = job.schedule.previousTick(from);
    if (!previous) break;
    from = previous;
  }
  const to = job.schedule.nextTick(now) ?? new Date(now.getTime() + 60_000);
  return from.getTime() < to.getTime() ? { from, to } : { from: new Date(to.getTime() - 60_000), to };
}

/** An interval action's address (`…/intervals/<start>/<action>`), answered by its interval's page. */
const INTERVAL_ACTION_PATH = /^(\/jobs\/[^/]+\/intervals\/[^/]+)\/[^/]+$/;

/**
 * The page a POST answered in place (an interval action refused, its form and problem shown) names
 * its interval's address as canonical: live.js puts it in the address bar, so that the live refresh
 * and a reload read that page, not the action's address (which only takes POSTs).
 */
function withCanonical(body: string, method: string, path: string): string {
  const match = method === 'POST' ? INTERVAL_ACTION_PATH.exec(path) : null;
  if (!match) return body;
  return body.replace('<head>', `<head>\n<link rel="canonical" href="${match[1]}">`);
}

/** The refusal of an action while the runtime beside the UI is stopping, or gave up. */
function stoppedPage(runtime: RuntimeHealth): Html {
  return runtime.state === 'stopping'
    ? errorPage('Piko is stopping', new RuntimeStoppingError().message)
    : errorPage(
        'Piko has stopped running',
        `The runtime beside this UI gave up${runtime.detail ? `: ${runtime.detail}` : ''}. Restart piko, then act again.`,
      );
}

/**
 * What a refused action says: a Piko error's own message (it says what to fix; its class name is
 * for code, not for the page), any other error described in full.
 */
function refusalMessage(error: unknown): string {
  return error instanceof PikoError ? redact(error.message) : errorMessage(error);
}
