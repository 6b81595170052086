/**
 * What the UI's pages show, read from the state store: a job's overview, its interval grid over a
 * range, one interval with its run. Reads only; the actions live in `actions.ts`.
 */
import { secretConfigValues } from '../config-secrets.ts';
import { type JobStatus, jobStatuses } from '../control/status.ts';
import { InputError } from '../errors.ts';
import type { Interval } from '../interval.ts';
import { type JobDefinition, parseIsoInstant } from '../job.ts';
import { describeWait, type UpstreamJob, upstreamWaits } from '../planner/dependencies.ts';
import type { JobRegistry } from '../registry.ts';
import type { BackfillRecord, JobState, RunRecord, StateReader } from '../store/types.ts';
import { redact } from '../telemetry.ts';
import { type LateIntervals, readLateIntervals } from './deadlines.ts';
import {
  type CellKind,
  cellsFromBuckets,
  cellsFromSpans,
  countIntervals,
  DEFAULT_TICK_BUDGET,
  type GridBounds,
  type GridModel,
  MAX_SPAN_INTERVALS,
  TickBudget,
} from './grid.ts';
import type { TimeRange } from './time.ts';

/** What the pages read from: the store (the UI's own connection), the jobs, the clock. */
export interface UiReadContext {
  readonly store: StateReader;
  readonly jobs: JobRegistry;
  readonly now: () => Date;
}

/** Spans a grid draws at most; a range with more is drawn from time buckets. */
export const MAX_GRID_SPANS = 2_000;
/** Buckets of a zoomed-out grid (about two pixels each on a wide screen). */
export const GRID_BUCKETS = 600;
/** Intervals shown in the overview's strip of each job's latest intervals. */
export const RECENT_INTERVALS = 12;

/** How far behind a job's scheduled work is. */
export interface Lateness {
  /** When the oldest due interval that has not finished (or not even been planned) ended. */
  readonly since: Date;
  readonly ms: number;
  /** `unfinished`: a scheduled run waits or runs; `unplanned`: due intervals have no run yet. */
  readonly reason: 'unfinished' | 'unplanned';
}

/** One of the latest intervals of a job, with its run's status (`missing` without one). */
export interface RecentInterval {
  readonly interval: Interval;
  readonly kind: CellKind;
}

/** One job on the overview. */
export interface JobOverview {
  readonly job: JobDefinition;
  /** What `piko status` reports of the job: the one job-status model (`shared/control/status.ts`). */
  readonly status: JobStatus;
  /** The job's row; undefined before the planner first saw the job. */
  readonly state: JobState | undefined;
  readonly nextTick: Date | undefined;
  readonly lateness: Lateness | undefined;
  /** The latest due intervals, oldest first. */
  readonly recent: readonly RecentInterval[];
  /** Its intervals late now; undefined when it has no deadline. */
  readonly late: LateIntervals | undefined;
}

/** Every job's overview, by job id. */
export async function readOverview(context: UiReadContext): Promise<JobOverview[]> {
  const now = context.now();
  const jobs = context.jobs.list();
  const [statuses, rows] = await Promise.all([jobStatuses(context.store, jobs), context.store.listJobs()]);
  const states = new Map(rows.map((row) => [row.jobId, row]));
  return Promise.all(
    jobs.map(async (job, i) => {
      const state = states.get(job.id);
      const [lateness, recent, late] = await Promise.all([
        readLateness(context.store, job, state, now),
        readRecent(context.store, job, state, now),
        readLateIntervals(context.store, job, state, now),
      ]);
      return {
        job,
        status: statuses[i]!,
        state,
        nextTick: job.schedule.nextTick(now),
        lateness,
        recent,
        late,
      };
    }),
  );
}

/**
 * How late the job's scheduled work is at `now`: since the end of its oldest scheduled run still
 * pending, queued or running, or of its first due interval the planner has not reached; undefined
 * when neither exists. Backfills are not lateness: they rework the past on purpose.
 */
export async function readLateness(
  store: StateReader,
  job: JobDefinition,
  state: JobState | undefined,
  now: Date,
): Promise<Lateness | undefined> {
  const oldest = await Promise.all(
    (['pending', 'queued', 'running'] as const).map((status) =>
      store.findRuns(job.id, { statuses: [status], backfillId: null, limit: 1 }),
    ),
  );
  const candidates: { since: Date; reason: Lateness['reason'] }[] = oldest
    .flat()
    .map((run) => ({ since: run.interval.end, reason: 'unfinished' }));
  if (state) {
    const firstUnplannedEnd = job.schedule.nextTick(state.watermark);
    if (firstUnplannedEnd) candidates.push({ since: firstUnplannedEnd, reason: 'unplanned' });
  }
  const due = candidates.filter((candidate) => candidate.since.getTime() <= now.getTime());
  if (due.length === 0) return undefined;
  const earliest = due.reduce((a, b) => (b.since.getTime() < a.since.getTime() ? b : a));
  return { ...earliest, ms: now.getTime() - earliest.since.getTime() };
}

/** The job's latest due intervals, oldest first, with their runs' statuses. */
async function readRecent(
  store: StateReader,
  job: JobDefinition,
  state: JobState | undefined,
  now: Date,
): Promise<RecentInterval[]> {
  const intervals: Interval[] = [];
  let end = lastTickAtOrBefore(job, now);
  while (end && intervals.length < RECENT_INTERVALS) {
    const start = job.schedule.previousTick(end);
    if (!start) break;
    intervals.unshift({ start, end });
    end = start;
  }
  const first = await firstIntervalStart(store, job, state);
  const shown = intervals.filter((interval) => first && interval.start.getTime() >= first.getTime());
  if (shown.length === 0) return [];
  const runs = await store.findRuns(job.id, {
    from: shown[0]!.start,
    to: new Date(shown[shown.length - 1]!.start.getTime() + 1),
    limit: RECENT_INTERVALS,
  });
  const byStart = new Map(runs.map((run) => [run.interval.start.getTime(), run]));
  return shown.map((interval) => ({
    interval,
    kind: byStart.get(interval.start.getTime())?.status ?? 'missing',
  }));
}

/** The latest tick at or before `now`: the end of the latest due interval. */
export function lastTickAtOrBefore(job: JobDefinition, now: Date): Date | undefined {
  const tick = job.schedule.tickAtOrAfter(now);
  return tick && tick.getTime() === now.getTime() ? tick : job.schedule.previousTick(now);
}

/**
 * Where the job's intervals begin, for telling missing ones: its `start`'s first tick; without one,
 * its first run, else the watermark the planner gave it; undefined when nothing tells.
 */
export async function firstIntervalStart(
  store: StateReader,
  job: JobDefinition,
  state: JobState | undefined,
): Promise<Date | undefined> {
  if (job.start) return job.schedule.tickAtOrAfter(job.start);
  const [first] = await store.findRuns(job.id, { limit: 1 });
  if (first && (!state || first.interval.start.getTime() < state.watermark.getTime())) {
    return first.interval.start;
  }
  return state?.watermark;
}

/**
 * The grid of `job` over `range`: spans of adjacent runs of one status merged in SQL over a range of
 * at most {@link MAX_SPAN_INTERVALS} intervals; beyond that, or when the range holds more than
 * {@link MAX_GRID_SPANS} spans, counts per time bucket and status (a bucket is then a couple of
 * pixels, finer than any span could be drawn), read from an index alone.
 */
export async function readGrid(
  store: StateReader,
  job: JobDefinition,
  range: TimeRange,
  now: Date,
  tickBudget = DEFAULT_TICK_BUDGET,
): Promise<GridModel> {
  const state = await store.getJob(job.id);
  const bounds: GridBounds = { firstStart: await firstIntervalStart(store, job, state), now };
  const budget = new TickBudget(tickBudget);
  if (countIntervals(job.schedule, range, MAX_SPAN_INTERVALS) <= MAX_SPAN_INTERVALS) {
    const spans = await store.intervalSpans(job.id, range, MAX_GRID_SPANS + 1);
    if (spans.length <= MAX_GRID_SPANS) return cellsFromSpans(spans, range, job.schedule, bounds, budget);
  }
  const bucketMs = Math.max(1, Math.ceil((range.to.getTime() - range.from.getTime()) / GRID_BUCKETS));
  const buckets = await store.intervalBuckets(job.id, range, bucketMs);
  return cellsFromBuckets(buckets, bucketMs, range, job.schedule, bounds, budget);
}

/** One interval of a job and everything about its run. */
export interface IntervalView {
  readonly job: JobDefinition;
  readonly interval: Interval;
  /** Its run; undefined when it has none. */
  readonly run: RunRecord | undefined;
  /** The backfill that created or re-armed the run, if any. */
  readonly backfill: BackfillRecord | undefined;
  /** Its status, `missing` when due without a run, `future` before its end. */
  readonly kind: CellKind;
  readonly previous: Interval | undefined;
  readonly next: Interval | undefined;
  /** A waiting run: what it waits for, one line per upstream job (DESIGN.md §9); else empty. */
  readonly waitingFor: readonly string[];
  /** The job is paused: nothing of it starts until it is resumed. @default false */
  readonly paused?: boolean;
}

/**
 * The interval of `job` that starts at `startText` (ISO 8601), with its run.
 * @throws InputError when the text is not an instant or not a tick of the job's schedule.
 */
export async function readInterval(
  store: StateReader,
  job: JobDefinition,
  startText: string,
  now: Date,
  upstreams: readonly UpstreamJob[] = [],
): Promise<IntervalView> {
  const start = parseIntervalStart(job, startText);
  const [run] = await store.listRuns(job.id, { from: start, to: new Date(start.getTime() + 1) });
  const end = run?.interval.end ?? job.schedule.nextTick(start);
  if (!end) throw new InputError(`Job "${job.id}" has no interval starting at ${start.toISOString()}`);
  const [backfill, state] = await Promise.all([
    run?.backfillId ? store.getBackfill(run.backfillId) : undefined,
    store.getJob(job.id),
  ]);
  const previousStart = job.schedule.previousTick(start);
  const nextEnd = job.schedule.nextTick(end);
  const kind: CellKind = run?.status ?? (end.getTime() <= now.getTime() ? 'missing' : 'future');
  const waitingFor =
    run?.status === 'waiting' ? (await upstreamWaits(store, upstreams, run.interval)).map(describeWait) : [];
  return {
    waitingFor,
    job,
    interval: { start, end },
    run,
    backfill,
    kind,
    paused: state?.paused ?? false,
    previous: previousStart ? { start: previousStart, end: start } : undefined,
    next: nextEnd ? { start: end, end: nextEnd } : undefined,
  };
}

/**
 * An interval's start as given in a URL or a form: an ISO 8601 instant that is a tick of the job's schedule.
 * @throws InputError saying which tick is nearest.
 */
export function parseIntervalStart(job: JobDefinition, text: string): Date {
  const start = parseIsoInstant(text);
  if (!start) {
    throw new InputError(
      `${JSON.stringify(text)} is not an ISO 8601 instant with an offset, such as 2026-03-01T00:00:00Z`,
    );
  }
  const tick = job.schedule.tickAtOrAfter(start);
  if (!tick || tick.getTime() !== start.getTime()) {
    throw new InputError(
      `${start.toISOString()} is not a tick of "${job.schedule.cron}" (${job.schedule.timezone}); the next one is ${tick?.toISOString() ?? '(none)'}`,
    );
  }
  return start;
}

/**
 * A run's config or output as indented JSON with every secret removed: the values of the fields
 * the job's config schema marks secret, and whatever the redactor recognises.
 */
export function redactedJson(job: JobDefinition, value: unknown, config: unknown): string {
  if (value === null || value === undefined) return '';
  const text = JSON.stringify(value, null, 2) ?? String(value);
  return redact(text, secretConfigValues(job.config, config));
}
