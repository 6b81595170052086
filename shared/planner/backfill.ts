import { createHash } from 'node:crypto';
import { BackfillRefusedError } from '../errors.ts';
import type { Interval } from '../interval.ts';
import { type JobDefinition, parseConfigOverride } from '../job.ts';
import type { BackfillChain, BackfillRecord, RunRecord, StateStore } from '../store/types.ts';
import { errorMessage } from '../telemetry.ts';
import { isBackfillHeld } from './backfill-control.ts';
import { newRunStatus } from './dependencies.ts';

/**
 * Which existing runs a backfill re-runs: `missing` creates absent ones only; `failed` also re-runs
 * failed ones; `outdated` also succeeded ones run by another version of the job's code than its
 * current `version` (or by none); `all` also every other succeeded one.
 */
export type Reprocess = 'missing' | 'failed' | 'outdated' | 'all';

/** Every {@link Reprocess}, from the fewest re-runs to the most. */
export const REPROCESS: readonly Reprocess[] = ['missing', 'failed', 'outdated', 'all'];

/** A backfill request (the backfill state machine's input, `piko backfill`'s flags). */
export interface BackfillRequest {
  readonly jobId: string;
  readonly from: Date;
  readonly to: Date;
  /** @default 'missing' */
  readonly reprocess?: Reprocess;
  /** Return the plan and write nothing. @default false */
  readonly dryRun?: boolean;
  /** Plan and run the newest intervals first. @default false */
  readonly reverse?: boolean;
  /** Config override for the backfilled runs, validated against the job's schema. @default null */
  readonly config?: unknown;
  /**
   * Runs of the backfill at once, at most the job's `concurrency` (the MaxConcurrency of its
   * workflow's Map); not part of the backfill's id, so the same request with another concurrency
   * resumes the same backfill at the new one. @default the job's concurrency
   */
  readonly concurrency?: number;
  /**
   * On AWS: re-run too the overlapping intervals of the downstream jobs, each job's backfill once
   * its upstream ones are done (`backfill-chain.ts`); not part of the backfill's id. Locally
   * `piko backfill --downstream` plans them itself. @default false
   */
  readonly downstream?: boolean;
}

/** What a backfill does with one interval. */
export type BackfillAction = 'create' | 'rerun' | 'skip-in-flight' | 'skip-succeeded' | 'skip-failed';

/** One line of a backfill plan. */
export interface PlannedInterval extends Interval {
  readonly action: BackfillAction;
}

/** Counts of a backfill plan, by action. */
export type BackfillCounts = Record<BackfillAction, number>;

/** Limits of backfill planning. */
export interface BackfillLimits {
  /** A range holding more intervals is refused. @default 1_000_000 */
  readonly maxBackfillIntervals?: number;
  /** Intervals per planning transaction. @default the job's maxIntervalsPerDispatch */
  readonly chunkSize?: number;
}

/** The result of one call of {@link planBackfill}. */
export interface BackfillPlanResult {
  readonly backfillId: string;
  readonly counts: BackfillCounts;
  /** True when the whole range is planned (always true for a dry run). */
  readonly done: boolean;
}

/** What a dry run of a backfill finds ({@link countBackfill}). */
export interface BackfillPreview {
  /** What the backfill would do, by action. */
  readonly counts: BackfillCounts;
  /** The first intervals of the plan, in the order they would run. */
  readonly sample: readonly PlannedInterval[];
  /** Intervals in the plan beyond `sample`. */
  readonly notShown: number;
}

/** Counts of a backfill plan before anything is counted: 0 for every action. */
export function emptyBackfillCounts(): BackfillCounts {
  return { create: 0, rerun: 0, 'skip-in-flight': 0, 'skip-succeeded': 0, 'skip-failed': 0 };
}

/**
 * Checks a backfill request against DESIGN.md §4 and returns the validated config override.
 * @throws BackfillRefusedError for `from >= to`, a range ending in the future, or too many intervals;
 *   InputError for a config the job's schema rejects.
 */
export function validateBackfill(
  job: JobDefinition,
  request: BackfillRequest,
  now: Date,
  limits: BackfillLimits = {},
): unknown {
  const { from, to } = request;
  if (
    !(from instanceof Date) ||
    Number.isNaN(from.getTime()) ||
    !(to instanceof Date) ||
    Number.isNaN(to.getTime())
  ) {
    throw new BackfillRefusedError('Backfill refused: from and to must be valid instants');
  }
  if (from >= to) {
    throw new BackfillRefusedError(
      `Backfill refused: from (${from.toISOString()}) must be before to (${to.toISOString()})`,
    );
  }
  if (to > now) {
    throw new BackfillRefusedError(
      `Backfill refused: to (${to.toISOString()}) is in the future (now is ${now.toISOString()}); only intervals that have ended can be backfilled`,
    );
  }
  const max = limits.maxBackfillIntervals ?? 1_000_000;
  let count = 0;
  for (const _ of job.schedule.intervals(from, to)) {
    if (++count > max) {
      throw new BackfillRefusedError(
        `Backfill refused: ${from.toISOString()}..${to.toISOString()} holds more than ${max} intervals of "${job.schedule.cron}"; split the range or raise piko.max_backfill_intervals (PIKO_MAX_BACKFILL_INTERVALS)`,
      );
    }
  }
  const concurrency = request.concurrency;
  if (
    concurrency !== undefined &&
    (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > job.concurrency)
  ) {
    throw new BackfillRefusedError(
      `Backfill refused: concurrency must be an integer from 1 to ${job.concurrency} (the concurrency of job "${job.id}", the MaxConcurrency of its workflow), got ${concurrency}; raise the job's concurrency to backfill faster`,
    );
  }
  if (request.config === undefined || request.config === null) return null;
  parseConfigOverride(job, request.config);
  return request.config;
}

/** The deterministic id of a backfill request: the same request resumes the same backfill. */
export function backfillId(request: BackfillRequest): string {
  const key = JSON.stringify([
    request.jobId,
    request.from.toISOString(),
    request.to.toISOString(),
    request.reprocess ?? 'missing',
    request.reverse ?? false,
    request.config ?? null,
  ]);
  return `bf-${createHash('sha256').update(key).digest('hex').slice(0, 20)}`;
}

/**
 * What a backfill does with an interval, given its existing run (if any) and, for `outdated`, the
 * job's current code version (`version` in defineJob; null when it declares none).
 */
export function backfillAction(
  run: RunRecord | undefined,
  reprocess: Reprocess,
  version: string | null,
): BackfillAction {
  if (!run) return 'create';
  switch (run.status) {
    // Waiting for its upstream: it runs once the upstream is ready, as a pending run would.
    case 'waiting':
    case 'pending':
    case 'queued':
    case 'running':
      return 'skip-in-flight';
    case 'failed':
    case 'cancelled':
      // A cancelled run is treated as a failed one: present for `missing`, re-run from `failed` on.
      return reprocess === 'missing' ? 'skip-failed' : 'rerun';
    case 'skipped':
      // Marked skipped by an operator: done, as far as a backfill is concerned, unless `all`.
      return reprocess === 'all' ? 'rerun' : 'skip-succeeded';
    case 'succeeded':
      if (reprocess === 'all') return 'rerun';
      return reprocess === 'outdated' && run.version !== version ? 'rerun' : 'skip-succeeded';
  }
}

/**
 * Lists what a backfill would do, chunk by chunk, writing nothing (a dry run). Lazy: a year of
 * minutely intervals is never held in memory at once.
 */
export async function* previewBackfill(
  store: StateStore,
  job: JobDefinition,
  request: BackfillRequest,
  chunkSize = job.maxIntervalsPerDispatch,
): AsyncGenerator<PlannedInterval> {
  for (const chunk of chunks(job, request.from, request.to, request.reverse ?? false, chunkSize)) {
    const byStart = await existingRuns(store, job.id, chunk);
    for (const interval of chunk) {
      const run = byStart.get(interval.start.getTime());
      yield { ...interval, action: backfillAction(run, request.reprocess ?? 'missing', job.version ?? null) };
    }
  }
}

/**
 * Counts what a backfill would do, writing nothing (a dry run), and keeps its first `sampleSize`
 * intervals; reads the runs chunk by chunk, as {@link previewBackfill} does. `each` sees every
 * interval of the plan, in the order it would run (`piko backfill --dry-run` prints them all).
 * @param options.chunkSize @default the job's maxIntervalsPerDispatch
 * @param options.sampleSize @default 0
 * @param options.each @default nothing
 */
export async function countBackfill(
  store: StateStore,
  job: JobDefinition,
  request: BackfillRequest,
  options: {
    readonly chunkSize?: number;
    readonly sampleSize?: number;
    readonly each?: (planned: PlannedInterval) => void;
  } = {},
): Promise<BackfillPreview> {
  const counts = emptyBackfillCounts();
  const sample: PlannedInterval[] = [];
  let notShown = 0;
  for await (const planned of previewBackfill(store, job, request, options.chunkSize)) {
    counts[planned.action]++;
    options.each?.(planned);
    if (sample.length < (options.sampleSize ?? 0)) sample.push(planned);
    else notShown++;
  }
  return { counts, sample, notShown };
}

/**
 * Plans a backfill (DESIGN.md §4): records the request, then in chunks of `chunkSize` intervals, one
 * transaction each, creates absent runs and re-arms failed (or succeeded) ones in the backfill's own
 * lane, never touching in-flight runs, and moves the backfill's cursor with them. Run again with the
 * same request after an interruption, it continues from the cursor; once done, it starts over.
 * Refusals throw before anything is written. `options.chain` is recorded with the backfill before
 * any run is planned, in the transaction that starts a done backfill over (`backfill-chain.ts`).
 * @param options.chain @default none: the backfill's chain is left as it is
 */
export async function planBackfill(
  store: StateStore,
  job: JobDefinition,
  request: BackfillRequest,
  now: Date,
  limits: BackfillLimits = {},
  shouldStop: () => boolean = () => false,
  options: { readonly chain?: BackfillChain } = {},
): Promise<BackfillPlanResult> {
  const config = validateBackfill(job, request, now, limits);
  const id = backfillId(request);
  const reprocess = request.reprocess ?? 'missing';
  const reverse = request.reverse ?? false;
  if (request.dryRun) {
    const { counts } = await countBackfill(store, job, request, { chunkSize: limits.chunkSize });
    return { backfillId: id, counts, done: true };
  }
  const counts = emptyBackfillCounts();

  const rangeStart = reverse ? request.to : request.from;
  let record: BackfillRecord = await store.openBackfill({
    backfillId: id,
    jobId: job.id,
    range: { start: request.from, end: request.to },
    reprocess,
    reverse,
    config,
    ...freshProgress(rangeStart),
    concurrency: request.concurrency ?? null,
  });
  const { chain } = options;
  if (record.status === 'done' || chain) {
    const restart = record.status === 'done';
    // One transaction: a chain is never seen on a done backfill it does not belong to.
    await store.withJob(job, async (tx) => {
      if (restart) await tx.updateBackfill(id, freshProgress(rangeStart));
      if (chain) await tx.setBackfillChain(id, chain);
    });
    if (restart) record = { ...record, ...freshProgress(rangeStart) };
  }
  if (record.status === 'planned') return { backfillId: id, counts, done: true };
  // Paused or cancelled by an operator: planning waits at the cursor (resume sets `planning`).
  if (isBackfillHeld(record.status)) return { backfillId: id, counts, done: false };

  // A backfill that failed before resumes from its cursor, like one that was interrupted.
  let cursor = record.cursor;
  try {
    const [from, to] = reverse ? [request.from, cursor] : [cursor, request.to];
    const pending = chunks(job, from, to, reverse, limits.chunkSize ?? job.maxIntervalsPerDispatch);
    let current = pending.next();
    if (current.done) {
      await store.withJob(job, (tx) =>
        tx.updateBackfill(id, { cursor, status: 'planned', created: 0, rerun: 0, skipped: 0 }),
      );
    }
    while (!current.done) {
      const chunk = current.value;
      // Peeking is pure schedule math, so the last chunk can mark the backfill planned in its own commit.
      const next = pending.next();
      const chunkCursor = reverse ? chunk[chunk.length - 1]!.start : chunk[chunk.length - 1]!.end;
      const chunkCounts = await planChunk(store, job, id, chunk, {
        reprocess,
        cursor: chunkCursor,
        last: next.done === true,
      });
      if (!chunkCounts) return { backfillId: id, counts, done: false };
      cursor = chunkCursor;
      for (const action of Object.keys(counts) as BackfillAction[]) counts[action] += chunkCounts[action];
      if (!next.done && shouldStop()) return { backfillId: id, counts, done: false };
      current = next;
    }
  } catch (error) {
    await markFailed(store, job, id, cursor, error);
    throw error;
  }
  return { backfillId: id, counts, done: true };
}

/**
 * Records why planning stopped, so the backfill never shows `planning` with nobody planning it. When
 * even that fails (the store is down), the backfill stays `planning` at its last committed chunk:
 * the same request resumes it either way.
 */
async function markFailed(
  store: StateStore,
  job: JobDefinition,
  id: string,
  cursor: Date,
  error: unknown,
): Promise<void> {
  const message = errorMessage(error);
  try {
    await store.withJob(job, (tx) =>
      tx.updateBackfill(id, { cursor, status: 'failed', created: 0, rerun: 0, skipped: 0, error: message }),
    );
  } catch {
    // The caller throws the error that stopped planning; this one would only hide it.
  }
}

/**
 * Plans one chunk of a backfill in one transaction, with the cursor that follows it; undefined when
 * an operator paused or cancelled the backfill (nothing written: planning stops at the cursor).
 */
async function planChunk(
  store: StateStore,
  job: JobDefinition,
  id: string,
  chunk: readonly Interval[],
  options: { reprocess: Reprocess; cursor: Date; last: boolean },
): Promise<BackfillCounts | undefined> {
  const from = new Date(Math.min(...chunk.map((interval) => interval.start.getTime())));
  const to = new Date(Math.max(...chunk.map((interval) => interval.end.getTime())));
  return store.withJob(job, async (tx) => {
    // Read under the job's row lock, which a pause or cancel takes too: a cancel either is seen
    // here or comes after this commit and cancels the runs it creates.
    if (isBackfillHeld((await store.getBackfill(id))?.status)) return undefined;
    const byStart = new Map(
      (await tx.runsInRange(from, to)).map((run) => [run.interval.start.getTime(), run]),
    );
    const counts = emptyBackfillCounts();
    const toCreate: Interval[] = [];
    const toRerun: number[] = [];
    for (const interval of chunk) {
      const run = byStart.get(interval.start.getTime());
      const action = backfillAction(run, options.reprocess, job.version ?? null);
      counts[action]++;
      if (action === 'create') toCreate.push(interval);
      if (action === 'rerun' && run) toRerun.push(run.runId);
    }
    // No config of their own: the runs read the backfill's, stored once with the backfill.
    // A job with upstream jobs: its runs wait for their upstream intervals (re-run first, say).
    const rearm = { trigger: 'backfill' as const, backfillId: id, config: null, status: newRunStatus(job) };
    if (toCreate.length > 0) await tx.insertRuns(toCreate.map((interval) => ({ interval, ...rearm })));
    if (toRerun.length > 0) await tx.rearmRuns(toRerun, rearm);
    await tx.updateBackfill(id, {
      cursor: options.cursor,
      status: options.last ? 'planned' : 'planning',
      created: counts.create,
      rerun: counts.rerun,
      skipped: counts['skip-in-flight'] + counts['skip-succeeded'] + counts['skip-failed'],
    });
    return counts;
  });
}

/**
 * Marks a backfill done once its lane has nothing pending or in flight (a paused or cancelled one
 * keeps its status: see JobTransaction.updateBackfill).
 */
export async function finishBackfill(store: StateStore, job: JobDefinition, id: string): Promise<void> {
  const record = await store.getBackfill(id);
  if (!record) return;
  await store.withJob(job, (tx) =>
    tx.updateBackfill(id, { cursor: record.cursor, status: 'done', created: 0, rerun: 0, skipped: 0 }),
  );
}

function* chunks(
  job: JobDefinition,
  from: Date,
  to: Date,
  reverse: boolean,
  size: number,
): Generator<Interval[]> {
  const intervals = reverse ? job.schedule.intervalsReverse(from, to) : job.schedule.intervals(from, to);
  let chunk: Interval[] = [];
  for (const interval of intervals) {
    chunk.push(interval);
    if (chunk.length === size) {
      yield chunk;
      chunk = [];
    }
  }
  if (chunk.length > 0) yield chunk;
}

async function existingRuns(store: StateStore, jobId: string, chunk: readonly Interval[]) {
  const starts = chunk.map((interval) => interval.start.getTime());
  const from = new Date(Math.min(...starts));
  const to = new Date(Math.max(...starts) + 1);
  const runs = await store.listRuns(jobId, { from, to });
  return new Map(runs.map((run) => [run.interval.start.getTime(), run]));
}

/**
 * A backfill's progress when it starts, or starts over: the cursor at the first interval it plans
 * (`cursor`), status `planning`, nothing counted yet.
 */
export function freshProgress(cursor: Date) {
  return { cursor, status: 'planning', created: 0, rerun: 0, skipped: 0 } as const;
}
