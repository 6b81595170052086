/**
 * The one check of the chaos, fault and race suites: after whatever happened, every due interval of a
 * job ran exactly once to success, and its sink holds exactly one row per interval.
 */
import type { Interval } from '../shared/interval.ts';
import type { JobDefinition } from '../shared/job.ts';
import type { SqlDatabase } from '../shared/sql.ts';
import type { RunRecord, StateStore } from '../shared/store/types.ts';

/** Where a job's sink writes one row per interval. */
export interface SinkTable {
  /** The table, in the state database. */
  readonly table: string;
  /** The column holding the interval start (ISO text, DATETIME or epoch ms). */
  readonly intervalColumn: string;
  /** A column that tells this job's rows from other jobs' (for example `job_id`). @default - every row is the job's */
  readonly jobColumn?: string;
  /** A column holding the run id that wrote the row: checked against the interval's run. @default - not checked */
  readonly runIdColumn?: string;
}

/** What {@link checkJobState} is given. */
export interface StateCheckInput {
  readonly store: StateStore;
  readonly job: JobDefinition;
  /** The due intervals: those of the job's schedule with `from <= start` and `end <= to`. */
  readonly due: { readonly from: Date; readonly to: Date };
  /** How many times the runtime was started again (after a crash or a stop); widens the attempts bound. @default 0 */
  readonly restarts?: number;
  /** The sink table to count rows in. @default - not checked */
  readonly sink?: SinkTable;
  /** At most this many problems are described in `problems`. @default 20 */
  readonly maxProblems?: number;
}

/** Counts of one check. `duplicates` and `lost` must be 0; `ok` says whether everything held. */
export interface StateCheck {
  /** Due intervals checked. */
  readonly intervals: number;
  /** Runs of the job in the state table. */
  readonly runs: number;
  /** Due intervals with exactly one `succeeded` run. */
  readonly succeeded: number;
  /** Extra runs of an interval, plus sink rows beyond one per interval. */
  readonly duplicates: number;
  /** Due intervals without a succeeded run, or without a sink row. */
  readonly lost: number;
  /** Runs of due intervals that are not `succeeded` (pending, queued, running, failed). */
  readonly notSucceeded: number;
  /** Runs whose interval is not due. */
  readonly unexpected: number;
  /** Runs whose attempts are outside [1, retry attempts + restarts]. */
  readonly badAttempts: number;
  /** The highest attempts count seen. */
  readonly maxAttempts: number;
  /** Rows of the job in the sink table (0 when no sink was given). */
  readonly sinkRows: number;
  /** Sink rows written by another run than the interval's (only with `runIdColumn`). */
  readonly foreignWrites: number;
  /** Runs per status. */
  readonly statuses: Readonly<Record<string, number>>;
  /** Up to `maxProblems` descriptions, one per problem. */
  readonly problems: readonly string[];
  readonly ok: boolean;
}

/**
 * Checks a job's state after a trial: every due interval has exactly one run, `succeeded`, with plausible
 * attempts (at least 1, at most the job's retry attempts plus the restarts); no run lies outside the due
 * set; the sink table holds exactly one row per due interval and none for other intervals.
 */
export async function checkJobState(input: StateCheckInput): Promise<StateCheck> {
  const { store, job, due } = input;
  const maxAllowed = job.retry.attempts + (input.restarts ?? 0);
  const maxProblems = input.maxProblems ?? 20;
  const problems: string[] = [];
  const problem = (text: string) => {
    if (problems.length < maxProblems) problems.push(text);
  };

  const dueIntervals: Interval[] = [...job.schedule.intervals(due.from, due.to)];
  const dueKeys = new Set(dueIntervals.map((interval) => interval.start.getTime()));
  const runs = await store.listRuns(job.id);
  const runsByStart = new Map<number, RunRecord[]>();
  const statuses: Record<string, number> = {};
  let unexpected = 0;
  let badAttempts = 0;
  let maxAttempts = 0;
  for (const run of runs) {
    statuses[run.status] = (statuses[run.status] ?? 0) + 1;
    const key = run.interval.start.getTime();
    const group = runsByStart.get(key) ?? [];
    group.push(run);
    runsByStart.set(key, group);
    if (!dueKeys.has(key)) {
      unexpected++;
      problem(`run ${run.runId} of ${iso(key)} is not a due interval (${run.status})`);
    }
    maxAttempts = Math.max(maxAttempts, run.attempts);
    if (run.status === 'succeeded' && (run.attempts < 1 || run.attempts > maxAllowed)) {
      badAttempts++;
      problem(
        `run ${run.runId} of ${iso(key)} succeeded with ${run.attempts} attempts (allowed 1..${maxAllowed})`,
      );
    }
  }

  let duplicates = 0;
  let lost = 0;
  let succeeded = 0;
  let notSucceeded = 0;
  const runIdOf = new Map<number, number>();
  for (const interval of dueIntervals) {
    const key = interval.start.getTime();
    const group = runsByStart.get(key) ?? [];
    if (group.length > 1) {
      duplicates += group.length - 1;
      problem(`${iso(key)} has ${group.length} runs: ${group.map((run) => run.runId).join(', ')}`);
    }
    const done = group.filter((run) => run.status === 'succeeded');
    notSucceeded += group.length - done.length;
    if (group.length === 0) {
      lost++;
      problem(`${iso(key)} has no run`);
    } else if (done.length === 0) {
      lost++;
      const run = group[0]!;
      problem(
        `${iso(key)} run ${run.runId} is ${run.status} (attempts ${run.attempts}, error ${run.error ?? '-'})`,
      );
    } else {
      succeeded++;
      runIdOf.set(key, done[0]!.runId);
    }
  }

  let sinkRows = 0;
  let foreignWrites = 0;
  if (input.sink) {
    const rows = await sinkRowsOf(store.database, input.sink, job.id);
    sinkRows = rows.length;
    const rowsByStart = new Map<number, number>();
    for (const row of rows) {
      const key = row.start;
      rowsByStart.set(key, (rowsByStart.get(key) ?? 0) + 1);
      if (!dueKeys.has(key)) {
        duplicates++;
        problem(`sink row for ${Number.isNaN(key) ? 'an unreadable interval' : iso(key)}, which is not due`);
      } else if (row.runId !== undefined && runIdOf.has(key) && runIdOf.get(key) !== row.runId) {
        foreignWrites++;
        problem(`sink row of ${iso(key)} written by run ${row.runId}, not by run ${runIdOf.get(key)}`);
      }
    }
    for (const interval of dueIntervals) {
      const key = interval.start.getTime();
      const count = rowsByStart.get(key) ?? 0;
      if (count > 1) {
        duplicates += count - 1;
        problem(`sink holds ${count} rows for ${iso(key)}`);
      } else if (count === 0 && runIdOf.has(key)) {
        // An interval without a succeeded run is counted lost once, above.
        lost++;
        problem(`sink holds no row for ${iso(key)}, whose run succeeded`);
      }
    }
  }

  return {
    intervals: dueIntervals.length,
    runs: runs.length,
    succeeded,
    duplicates,
    lost,
    notSucceeded,
    unexpected,
    badAttempts,
    maxAttempts,
    sinkRows,
    foreignWrites,
    statuses,
    problems,
    ok:
      duplicates === 0 &&
      lost === 0 &&
      notSucceeded === 0 &&
      unexpected === 0 &&
      badAttempts === 0 &&
      foreignWrites === 0,
  };
}

/** Totals over many checks, as the suites and `bench/chaos.ts` print them. */
export interface StateTotals {
  trials: number;
  intervals: number;
  duplicates: number;
  lost: number;
  notSucceeded: number;
  unexpected: number;
  badAttempts: number;
  maxAttempts: number;
}

export function emptyTotals(): StateTotals {
  return {
    trials: 0,
    intervals: 0,
    duplicates: 0,
    lost: 0,
    notSucceeded: 0,
    unexpected: 0,
    badAttempts: 0,
    maxAttempts: 0,
  };
}

/** Adds one trial's check to the totals. */
export function addCheck(totals: StateTotals, check: StateCheck): void {
  totals.trials++;
  totals.intervals += check.intervals;
  totals.duplicates += check.duplicates;
  totals.lost += check.lost;
  totals.notSucceeded += check.notSucceeded;
  totals.unexpected += check.unexpected;
  totals.badAttempts += check.badAttempts;
  totals.maxAttempts = Math.max(totals.maxAttempts, check.maxAttempts);
}

/**
 * The due range of a job as the store sees it: from the job's first tick to its watermark (the end of the
 * last interval planned). The caller checks that the watermark itself is plausible (see {@link plausibleWatermark}).
 */
export async function plannedRange(store: StateStore, job: JobDefinition): Promise<{ from: Date; to: Date }> {
  const state = await store.getJob(job.id);
  if (!job.start)
    throw new Error(`Job "${job.id}" has no start: its due range depends on when it was first seen.`);
  const from = job.schedule.tickAtOrAfter(job.start) ?? job.start;
  return { from, to: state?.watermark ?? from };
}

/**
 * Whether a watermark is the last tick at or before some instant between `earliest` and `latest` (the
 * moments just before the last runtime started and just after it exited): no due interval was left out.
 */
export function plausibleWatermark(
  job: JobDefinition,
  watermark: Date,
  earliest: Date,
  latest: Date,
): boolean {
  const low = job.schedule.previousTick(new Date(earliest.getTime() + 1));
  const high = job.schedule.previousTick(new Date(latest.getTime() + 1));
  return low !== undefined && high !== undefined && watermark >= low && watermark <= high;
}

async function sinkRowsOf(
  db: SqlDatabase,
  sink: SinkTable,
  jobId: string,
): Promise<{ start: number; runId: number | undefined }[]> {
  const columns = [sink.intervalColumn, ...(sink.runIdColumn ? [sink.runIdColumn] : [])].join(', ');
  const where = sink.jobColumn ? ` WHERE ${sink.jobColumn} = ?` : '';
  const { rows } = await db.query(
    `SELECT ${columns} FROM ${sink.table}${where}`,
    sink.jobColumn ? [jobId] : [],
  );
  return rows.map((row) => ({
    start: toMillis(row[sink.intervalColumn]),
    runId: sink.runIdColumn ? Number(row[sink.runIdColumn]) : undefined,
  }));
}

function toMillis(value: unknown): number {
  if (value instanceof Date) return value.getTime();
  if (typeof value === 'number' || typeof value === 'bigint') return Number(value);
  return new Date(String(value)).getTime();
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}
