/**
 * The interval grid's model, pure: the store's spans (adjacent runs of one status, merged in SQL) or
 * time buckets become the cells a page draws, with the intervals that have no run (`missing`, when
 * due) or have not happened yet (`future`) told from the schedule, over the gaps only.
 */
import type { CompiledSchedule } from '../schedule/index.ts';
import { RUN_STATUSES, type RunBucket, type RunSpan, type RunStatus } from '../store/types.ts';
import type { TimeRange } from './time.ts';

/** What a cell stands for: runs of one status, due intervals without a run, or intervals to come. */
export type CellKind = RunStatus | 'missing' | 'future';

/**
 * Kinds from the most to the least urgent: a cell that mixes several is coloured by the first, so a
 * zoomed-out grid never hides a failure behind a success.
 */
export const KIND_URGENCY: readonly CellKind[] = [
  'failed',
  'running',
  'queued',
  'pending',
  'missing',
  ...RUN_STATUSES.filter(
    (status) => !['failed', 'running', 'queued', 'pending', 'succeeded'].includes(status),
  ),
  'succeeded',
  'future',
];

/** One cell of the grid: a span of intervals of one kind, or (zoomed out) a bucket that mixes kinds. */
export interface GridCell {
  /** The cell's colour: its one kind, or the most urgent of a mixed bucket's. */
  readonly kind: CellKind;
  /** True for a bucket holding intervals of more than one kind. */
  readonly mixed: boolean;
  readonly start: Date;
  readonly end: Date;
  /** Intervals per kind; a kind is left out when it has none. */
  readonly counts: Readonly<Partial<Record<CellKind, number>>>;
  /** False when the schedule was not walked to the end (see {@link TickBudget}): counts of missing and future intervals are lower bounds. */
  readonly exact: boolean;
}

/**
 * How the cells were made: one per interval (a short range), one per span of adjacent intervals of
 * one status, or one per time bucket (a range with more spans than a page shows).
 */
export type GridMode = 'intervals' | 'spans' | 'buckets';

/** The grid of one job over one range. */
export interface GridModel {
  readonly range: TimeRange;
  readonly mode: GridMode;
  readonly cells: readonly GridCell[];
  /** Intervals per kind over the range. */
  readonly totals: Readonly<Partial<Record<CellKind, number>>>;
  /** False when some counts are lower bounds (the tick budget ran out). */
  readonly exact: boolean;
  /** The length of a time bucket, in buckets mode. */
  readonly bucketMs?: number;
}

/**
 * How many intervals a grid may walk on the schedule to count missing and future ones: walking is
 * fast (millions a second) but not free, and a page must stay fast over any range.
 */
export class TickBudget {
  #left: number;
  constructor(intervals: number) {
    this.#left = intervals;
  }
  /** Takes one interval from the budget; false once it is spent. */
  take(): boolean {
    if (this.#left <= 0) return false;
    this.#left--;
    return true;
  }
}

/**
 * Intervals a grid walks at most: four years of minutely ticks. A short range (spans) walks only
 * its gaps; a long one (buckets) walks all of them once, then keeps the counts.
 */
export const DEFAULT_TICK_BUDGET = 2_200_000;

/** Ranges with more intervals than this are drawn from time buckets, whatever their runs. */
export const MAX_SPAN_INTERVALS = 20_000;

/** How many intervals start in the range (until `cap` + 1: enough to tell whether it holds more). */
export function countIntervals(schedule: CompiledSchedule, range: TimeRange, cap: number): number {
  let count = 0;
  for (const _ of schedule.intervals(range.from, endOfLastInterval(schedule, range.to))) {
    if (++count > cap) break;
  }
  return count;
}

/** Where intervals can be missing: after the job's first interval, up to the last due tick. */
export interface GridBounds {
  /** The start of the job's first interval; undefined when nothing tells (no start, never planned): no interval is missing then. */
  readonly firstStart: Date | undefined;
  /** Now: intervals ending after it are `future`, not missing. */
  readonly now: Date;
}

/**
 * The cells of a range from the store's spans: each span is a cell, and each gap between spans (and
 * before the first, after the last) becomes a `missing` cell for its due intervals and a `future`
 * cell for those to come, counted on the schedule.
 */
export function cellsFromSpans(
  spans: readonly RunSpan[],
  range: TimeRange,
  schedule: CompiledSchedule,
  bounds: GridBounds,
  budget: TickBudget,
): GridModel {
  const cells: GridCell[] = [];
  let cursor = range.from;
  for (const span of spans) {
    cells.push(...gapCells(cursor, span.start, schedule, bounds, budget));
    cells.push({
      kind: span.status,
      mixed: false,
      start: span.start,
      end: span.end,
      counts: { [span.status]: span.runs },
      exact: true,
    });
    cursor = span.end;
  }
  cells.push(...gapCells(cursor, range.to, schedule, bounds, budget));
  if (!fitsCellPerInterval(schedule, range)) return model(range, 'spans', cells);
  return model(
    range,
    'intervals',
    cells.flatMap((cell) => splitCell(cell, schedule, range)),
  );
}

/**
 * Ranges of at most this many intervals get a cell per interval (each one selectable); longer ones
 * a cell per span of adjacent intervals of one status.
 */
export const MAX_CELLS_PER_INTERVAL = 300;

/** True when the range holds at most {@link MAX_CELLS_PER_INTERVAL} intervals. */
function fitsCellPerInterval(schedule: CompiledSchedule, range: TimeRange): boolean {
  let count = 0;
  for (const _ of schedule.intervals(range.from, endOfLastInterval(schedule, range.to))) {
    if (++count > MAX_CELLS_PER_INTERVAL) return false;
  }
  return true;
}

/** A span's cell as one cell per interval, within the range (a span may reach far outside it). */
function splitCell(cell: GridCell, schedule: CompiledSchedule, range: TimeRange): GridCell[] {
  if (!cell.exact) return [cell];
  const from = new Date(Math.max(cell.start.getTime(), range.from.getTime()));
  const to = new Date(Math.min(cell.end.getTime(), endOfLastInterval(schedule, range.to).getTime()));
  return [...schedule.intervals(from, to)].map((interval) => ({
    kind: cell.kind,
    mixed: false,
    start: interval.start,
    end: interval.end,
    counts: { [cell.kind]: 1 },
    exact: true,
  }));
}

/**
 * The cells of a range from the store's time buckets (a range with more spans than a page can
 * show): a bucket of one kind is merged with its neighbours of that kind; a bucket of several kinds
 * is one mixed cell, coloured by its most urgent kind.
 */
export function cellsFromBuckets(
  buckets: readonly RunBucket[],
  bucketMs: number,
  range: TimeRange,
  schedule: CompiledSchedule,
  bounds: GridBounds,
  budget: TickBudget,
): GridModel {
  const from = range.from.getTime();
  const bucketCount = Math.ceil((range.to.getTime() - from) / bucketMs);
  const counts: Partial<Record<CellKind, number>>[] = Array.from({ length: bucketCount }, () => ({}));
  const runsIn = new Array<number>(bucketCount).fill(0);
  for (const bucket of buckets) {
    const slot = counts[bucket.index];
    if (!slot) continue;
    slot[bucket.status] = (slot[bucket.status] ?? 0) + bucket.runs;
    runsIn[bucket.index] = (runsIn[bucket.index] ?? 0) + bucket.runs;
  }
  // Every interval of the range, by the bucket of its start: due ones not matched by runs are missing.
  const ticks = bucketTicks(schedule, range, bucketMs, bounds.firstStart, budget);
  const exact = ticks?.exact ?? true;
  const due = new Array<number>(bucketCount).fill(0);
  const future = new Array<number>(bucketCount).fill(0);
  const now = bounds.now.getTime();
  for (let index = 0; ticks && index < bucketCount; index++) {
    const count = ticks.counts[index] ?? 0;
    if (count === 0) continue;
    if ((ticks.lastEnds[index] ?? 0) <= now) due[index] = count;
    else if ((ticks.firstEnds[index] ?? 0) > now) future[index] = count;
    else {
      // The bucket that holds now: its intervals one by one.
      const start = new Date(Math.max(from + index * bucketMs, ticks.first));
      const end = endOfLastInterval(
        schedule,
        new Date(Math.min(from + (index + 1) * bucketMs, range.to.getTime())),
      );
      for (const interval of schedule.intervals(start, end)) {
        if (interval.start.getTime() >= from + (index + 1) * bucketMs) break;
        if (interval.end.getTime() <= now) due[index] = (due[index] ?? 0) + 1;
        else future[index] = (future[index] ?? 0) + 1;
      }
    }
  }
  const cells: GridCell[] = [];
  for (let index = 0; index < bucketCount; index++) {
    const slot = counts[index]!;
    const missing = Math.max(0, (due[index] ?? 0) - (runsIn[index] ?? 0));
    if (missing > 0) slot.missing = missing;
    if ((future[index] ?? 0) > 0) slot.future = future[index];
    const kinds = KIND_URGENCY.filter((kind) => (slot[kind] ?? 0) > 0);
    if (kinds.length === 0) continue;
    const start = new Date(from + index * bucketMs);
    const end = new Date(Math.min(from + (index + 1) * bucketMs, range.to.getTime()));
    const previous = cells[cells.length - 1];
    const kind = kinds[0]!;
    if (
      kinds.length === 1 &&
      previous &&
      !previous.mixed &&
      previous.kind === kind &&
      previous.end.getTime() === start.getTime()
    ) {
      cells[cells.length - 1] = {
        ...previous,
        end,
        counts: { [kind]: (previous.counts[kind] ?? 0) + (slot[kind] ?? 0) },
        exact: previous.exact && exact,
      };
      continue;
    }
    cells.push({ kind, mixed: kinds.length > 1, start, end, counts: slot, exact });
  }
  return { ...model(range, 'buckets', cells), bucketMs };
}

/** Per bucket: the intervals that start in it, and the first and last of their ends (epoch ms). */
interface BucketTicks {
  readonly counts: readonly number[];
  readonly firstEnds: readonly number[];
  readonly lastEnds: readonly number[];
  /** Where counting began: the range's start or the job's first interval, whichever is later. */
  readonly first: number;
  /** False when the budget ran out: the counts are lower bounds. */
  readonly exact: boolean;
}

/** Bucket ticks of the ranges viewed last: a schedule's ticks never change, and a page is viewed again and again. */
const bucketTicksCache = new Map<string, BucketTicks>();
/** Ranges whose bucket ticks are kept. */
const BUCKET_TICKS_CACHE_SIZE = 16;

/**
 * The intervals of each bucket, counted on the schedule once per schedule, range and bucket size
 * (then kept: only complete counts are). Undefined when nothing tells where the job begins.
 */
function bucketTicks(
  schedule: CompiledSchedule,
  range: TimeRange,
  bucketMs: number,
  firstStart: Date | undefined,
  budget: TickBudget,
): BucketTicks | undefined {
  if (!firstStart) return undefined;
  const from = range.from.getTime();
  const first = Math.max(from, firstStart.getTime());
  const key = [schedule.cron, schedule.timezone, from, range.to.getTime(), bucketMs, first].join('\u0000');
  const cached = bucketTicksCache.get(key);
  if (cached) {
    bucketTicksCache.delete(key);
    bucketTicksCache.set(key, cached);
    return cached;
  }
  const length = Math.ceil((range.to.getTime() - from) / bucketMs);
  const counts = new Array<number>(length).fill(0);
  const firstEnds = new Array<number>(length).fill(0);
  const lastEnds = new Array<number>(length).fill(0);
  let exact = true;
  for (const interval of schedule.intervals(new Date(first), endOfLastInterval(schedule, range.to))) {
    if (!budget.take()) {
      exact = false;
      break;
    }
    const index = Math.floor((interval.start.getTime() - from) / bucketMs);
    if (counts[index] === 0) firstEnds[index] = interval.end.getTime();
    counts[index] = (counts[index] ?? 0) + 1;
    lastEnds[index] = interval.end.getTime();
  }
  const ticks = { counts, firstEnds, lastEnds, first, exact };
  if (exact) {
    bucketTicksCache.set(key, ticks);
    if (bucketTicksCache.size > BUCKET_TICKS_CACHE_SIZE)
      bucketTicksCache.delete(bucketTicksCache.keys().next().value!);
  }
  return ticks;
}

/** The missing and future cells of a gap `[from, to)` between runs. */
function gapCells(
  from: Date,
  to: Date,
  schedule: CompiledSchedule,
  bounds: GridBounds,
  budget: TickBudget,
): GridCell[] {
  if (from.getTime() >= to.getTime() || !bounds.firstStart) return [];
  const lower = new Date(Math.max(from.getTime(), bounds.firstStart.getTime()));
  const cells: GridCell[] = [];
  let open: { kind: 'missing' | 'future'; start: Date; end: Date; count: number } | undefined;
  let exact = true;
  const close = () => {
    if (open) {
      cells.push({
        kind: open.kind,
        mixed: false,
        start: open.start,
        end: open.end,
        counts: { [open.kind]: open.count },
        exact,
      });
    }
    open = undefined;
  };
  let last: Date | undefined;
  for (const interval of schedule.intervals(lower, endOfLastInterval(schedule, to))) {
    if (!budget.take()) {
      exact = false;
      last = interval.start;
      break;
    }
    const kind = interval.end.getTime() <= bounds.now.getTime() ? 'missing' : 'future';
    if (open && open.kind !== kind) close();
    if (open) {
      open.end = interval.end;
      open.count++;
    } else {
      open = { kind, start: interval.start, end: interval.end, count: 1 };
    }
  }
  if (!exact && last) {
    // Out of budget: the rest of the gap is drawn without counting it, as what it is at its end.
    const endKind = to.getTime() <= bounds.now.getTime() ? 'missing' : 'future';
    if (open && open.kind !== endKind) close();
    const lastTick = schedule.tickAtOrAfter(to)?.getTime() === to.getTime() ? to : schedule.previousTick(to);
    if (lastTick && lastTick.getTime() > last.getTime()) {
      if (open) open.end = lastTick;
      else open = { kind: endKind, start: last, end: lastTick, count: 0 };
    }
  }
  close();
  return cells;
}

/** The end of the last interval that starts before `to`: intervals cut by the range's edge count. */
function endOfLastInterval(schedule: CompiledSchedule, to: Date): Date {
  return schedule.tickAtOrAfter(to) ?? to;
}

function model(range: TimeRange, mode: GridMode, cells: GridCell[]): GridModel {
  const totals: Partial<Record<CellKind, number>> = {};
  for (const cell of cells) {
    for (const [kind, count] of Object.entries(cell.counts) as [CellKind, number][]) {
      totals[kind] = (totals[kind] ?? 0) + count;
    }
  }
  return { range, mode, cells, totals, exact: cells.every((cell) => cell.exact) };
}

/** The intervals a cell stands for, all kinds together. */
export function cellIntervals(cell: GridCell): number {
  return Object.values(cell.counts).reduce((sum, count) => sum + (count ?? 0), 0);
}
